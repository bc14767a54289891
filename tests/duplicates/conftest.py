"""The API client fixtures of tests/api, for the duplicates' API tests."""

from tests.api.conftest import api, api_as  # noqa: F401 (pytest fixtures)
