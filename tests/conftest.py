"""Shared fixtures. The suite runs once on SQLite and once on PostgreSQL (see Makefile)."""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import UserFactory

REQUIRE_POSTGRES = os.environ.get("DEALFLOW_REQUIRE_POSTGRES") == "1"
# `make mutation` runs a short pytest session per mutant. Migrating a fresh SQLite test
# database costs ~3 s of each; with this set, the first session keeps its freshly
# migrated database as a template, and every later one starts from a copy of it.
DB_TEMPLATE = os.environ.get("DEALFLOW_TEST_DB_TEMPLATE")


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


def _uses_sqlite() -> bool:
    return connection.vendor == "sqlite"


def _own_database_copy() -> Path:
    """This process's test database file, next to the template (see DB_TEMPLATE)."""
    return Path(f"{DB_TEMPLATE}.{os.getpid()}")


def _remove_database_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings):
    """With DB_TEMPLATE: a test database file of this process's own, copied from it."""
    if not (DB_TEMPLATE and _uses_sqlite()):
        return
    from django.conf import settings

    own = _own_database_copy()
    _remove_database_files(own)
    if Path(DB_TEMPLATE).exists():
        shutil.copyfile(DB_TEMPLATE, own)
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = str(own)


@pytest.fixture(scope="session")
def django_db_keepdb(django_db_keepdb):
    """With DB_TEMPLATE the copy is used as it is: migrate finds nothing left to apply."""
    return django_db_keepdb or bool(DB_TEMPLATE)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """With DB_TEMPLATE: keep the first freshly migrated database as the template."""
    if not (DB_TEMPLATE and _uses_sqlite()):
        yield
        return
    template = Path(DB_TEMPLATE)
    if not template.exists():
        partial = Path(f"{template}.partial.{os.getpid()}")
        partial.unlink(missing_ok=True)
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("VACUUM INTO %s", [str(partial)])
        partial.replace(template)
    yield
    _remove_database_files(_own_database_copy())


@pytest.fixture
def actor(db):
    """A sales rep acting in the test."""
    return UserFactory(username="actor")


@pytest.fixture
def freeze_clock(monkeypatch):
    """freeze_clock(moment): from then on timezone.now() is `moment`, so localdate() too.

    Django's clock is one function, so patching it is enough; the database's own clock
    (defaults computed in SQL) is not used by the code under test.
    """

    def freeze(moment: datetime.datetime) -> datetime.datetime:
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return freeze


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


@pytest.fixture(autouse=True)
def fresh_django_cache():
    """Nothing an earlier test kept in the cache (web-to-lead's rate-limit counts) is read
    by this one: on SQLite a new test's rows reuse the earlier rows' ids."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
