"""Settings read at start-up: DEALFLOW_HTTPS and `check --deploy`, and the modes of var/'s files.

Each test starts dealflow in a fresh process, because settings are read once, on import.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

STRONG_KEY = "Hq3-vX9_pL2zR7!mW4#tY8@cN1$bF6%kJ0^sD5&gA2*eU7(oI3)rT9=qZ4+xV8"
SHOW_SETTINGS = """
import django, json
django.setup()
from django.conf import settings
names = ["SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE",
         "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
         "SECURE_HSTS_PRELOAD"]
print(json.dumps({name: getattr(settings, name) for name in names}))
"""
OPEN_DATABASE = """
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS probe (x)")
    cursor.execute("INSERT INTO probe VALUES (1)")
"""


def dealflow(var_dir: Path, *arguments: str, **environment: str) -> subprocess.CompletedProcess:
    env = {
        name: value
        for name, value in os.environ.items()
        # The browser tests let Django's ORM run beside Playwright's event loop in this
        # process (tests/e2e/conftest.py); a deployment never does.
        if name not in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
        and not name.startswith("DEALFLOW_")
    }
    env.update(DJANGO_SETTINGS_MODULE="dealflow.settings", DEALFLOW_VAR_DIR=str(var_dir))
    env.update(environment)
    return subprocess.run(
        [sys.executable, *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        # A umask that leaves files group- and world-readable, as most systems have.
        preexec_fn=lambda: os.umask(0o022),
    )


def deploy_check(var_dir: Path, **environment: str) -> subprocess.CompletedProcess:
    production = {"DEALFLOW_SECRET_KEY": STRONG_KEY, "DEALFLOW_ALLOWED_HOSTS": "crm.example.com"}
    return dealflow(
        var_dir,
        "-m",
        "dealflow.cli",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **{**production, **environment},
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_check_deploy_is_clean_with_dealflow_https(tmp_path):
    result = deploy_check(tmp_path, DEALFLOW_HTTPS="1")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "System check identified no issues (1 silenced).\n"


def test_check_deploy_is_clean_with_preloading_too(tmp_path):
    result = deploy_check(tmp_path, DEALFLOW_HTTPS="1", DEALFLOW_HSTS_PRELOAD="1")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"


def test_check_deploy_warns_without_dealflow_https(tmp_path):
    result = deploy_check(tmp_path)

    assert result.returncode == 1
    for warning in ["W004", "W008", "W012", "W016"]:
        assert f"(security.{warning})" in result.stderr


def test_dealflow_https_turns_on_secure_cookies_hsts_and_the_redirect(tmp_path):
    off = dealflow(tmp_path, "-c", SHOW_SETTINGS)
    on = dealflow(tmp_path, "-c", SHOW_SETTINGS, DEALFLOW_HTTPS="1")

    assert json.loads(on.stdout) == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
    }
    assert json.loads(off.stdout) == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
    }


def test_a_new_install_keeps_var_and_its_files_private(tmp_path):
    var_dir = tmp_path / "var"

    result = dealflow(var_dir, "-c", OPEN_DATABASE)

    assert result.returncode == 0, result.stderr
    database = var_dir / "dealflow.sqlite3"
    assert mode(var_dir) == 0o700
    assert mode(var_dir / "secret_key") == 0o600
    assert mode(database) == 0o600
    for journal in ["dealflow.sqlite3-wal", "dealflow.sqlite3-shm"]:
        path = var_dir / journal
        if path.exists():  # gone when the last connection closed cleanly
            assert mode(path) == 0o600


def test_an_older_install_left_open_is_tightened(tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir(mode=0o755)
    var_dir.chmod(0o755)
    (var_dir / "secret_key").write_text(STRONG_KEY)
    database = var_dir / "dealflow.sqlite3"
    with sqlite3.connect(database) as older:
        older.execute("CREATE TABLE probe (x)")
    wal = var_dir / "dealflow.sqlite3-wal"
    wal.write_bytes(b"")
    for path in (var_dir / "secret_key", database, wal):
        path.chmod(0o644)

    result = dealflow(var_dir, "-c", OPEN_DATABASE)

    assert result.returncode == 0, result.stderr
    assert mode(var_dir) == 0o700
    assert (var_dir / "secret_key").read_text() == STRONG_KEY
    assert {path.name: mode(path) for path in var_dir.iterdir() if path.is_file()} == {
        name: 0o600
        for name in [
            "secret_key",
            "dealflow.sqlite3",
            "dealflow.sqlite3-wal",
            "dealflow.sqlite3-shm",
        ]
        if (var_dir / name).exists()
    }
    with sqlite3.connect(database) as reopened:
        assert reopened.execute("SELECT count(*) FROM probe").fetchone() == (1,)
