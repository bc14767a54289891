"""Fixtures the page tests share: a rep (signed in or not), another rep and today's date.

Some modules sign their own `rep` in (test_leads, test_sales, ...); a module's fixture of
the same name replaces this one there.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.factories import UserFactory


@pytest.fixture
def rep():
    return UserFactory(first_name="Robin", last_name="Rep")


@pytest.fixture
def other_rep():
    return UserFactory(first_name="Olive", last_name="Other")


@pytest.fixture
def signed_in(client, rep):
    client.force_login(rep)
    return client


@pytest.fixture
def today():
    return timezone.localdate()
