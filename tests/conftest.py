"""Shared fixtures. The suite runs once on SQLite and once on PostgreSQL (see Makefile)."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from tests.factories import UserFactory

REQUIRE_POSTGRES = os.environ.get("DEALFLOW_REQUIRE_POSTGRES") == "1"


def pytest_collection_modifyitems(config, items):
    """postgres_only tests are skipped on SQLite runs, and the PostgreSQL run is mandatory."""
    from django.conf import settings

    vendor = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    if REQUIRE_POSTGRES and vendor != "postgresql":
        raise pytest.UsageError(
            "DEALFLOW_REQUIRE_POSTGRES=1 but DATABASE_URL does not point at PostgreSQL"
        )
    skip = pytest.mark.skip(reason="needs PostgreSQL; runs in the PostgreSQL pass of make test")
    for item in items:
        if "postgres_only" in item.keywords and vendor != "postgresql":
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    """In the mandatory PostgreSQL run nothing may be skipped silently."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if REQUIRE_POSTGRES and reporter and reporter.stats.get("skipped"):
        reporter.write_line("FAILED: tests were skipped in the required PostgreSQL run", red=True)
        session.exitstatus = 1


@pytest.fixture
def actor(db):
    """A sales rep acting in the test."""
    return UserFactory(username="actor")


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing costs ~0.5 s a user; tests check behaviour, not key stretching."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_configuration_caches():
    """Each test reads sharing defaults, statuses and stages from its own database."""
    from dealflow.core.cache import forget_all

    forget_all()
    yield
    forget_all()
