"""An API client that sends a bearer token for a given user."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dealflow.people.services import token_create


class ApiClient:
    """Thin wrapper over Django's test client: JSON bodies, bearer token, /api/v1 prefix."""

    def __init__(self, user=None, token: str | None = None) -> None:
        self.client = Client()
        self.token = token
        if user is not None and token is None:
            _record, self.token = token_create(actor=user, user=user, name="test")

    def request(self, method: str, path: str, body=None, headers=None, **query):
        extra = {
            f"HTTP_{name.upper().replace('-', '_')}": value
            for name, value in (headers or {}).items()
        }
        if self.token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        url = f"/api/v1{path}"
        if method == "GET":
            return self.client.get(url, query, **extra)
        payload = body if isinstance(body, str | bytes) else json.dumps(body or {})
        return getattr(self.client, method.lower())(
            url, payload, content_type="application/json", **extra
        )

    def get(self, path, headers=None, **query):
        return self.request("GET", path, headers=headers, **query)

    def post(self, path, body=None, headers=None):
        return self.request("POST", path, body, headers)

    def patch(self, path, body=None, headers=None):
        return self.request("PATCH", path, body, headers)

    def delete(self, path, headers=None):
        return self.request("DELETE", path, None, headers)


@pytest.fixture
def api(actor):
    """The API as the `actor` fixture (a rep)."""
    return ApiClient(actor)


@pytest.fixture
def api_as():
    """api_as(user) -> an API client acting as that user."""
    return ApiClient
