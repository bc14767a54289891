"""Django settings, read from environment variables with safe defaults (see docs/operations.md)."""

from __future__ import annotations

import datetime
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("DEALFLOW_VAR_DIR", Path.cwd() / "var"))


def _tighten(path: Path, mode: int) -> None:
    """Take group and other access off `path` when an older install left it open."""
    status = path.stat()
    # Only our own files: a folder the operator shares is theirs to set.
    if status.st_mode & 0o077 and status.st_uid == os.getuid():
        path.chmod(mode)


def _private_directory(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path, 0o700)


# It holds the database, the secret key and the generated passwords.
_private_directory(VAR_DIR)


def _env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """DEALFLOW_SECRET_KEY, or one generated once and kept under var/ (never logged)."""
    configured = os.environ.get("DEALFLOW_SECRET_KEY")
    if configured:
        return configured
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        _tighten(key_file, 0o600)
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(50)
    key_file.touch(mode=0o600)
    key_file.write_text(key)
    return key


SECRET_KEY = _secret_key()
DEBUG = _env_flag("DEALFLOW_DEBUG")
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("DEALFLOW_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if host.strip()
]
CSRF_TRUSTED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("DEALFLOW_CSRF_TRUSTED_ORIGINS", "").split(",")
    if origin.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves the API docs page's scripts from the package, not a CDN
    "axes",  # login throttling (see AXES_ below)
    "django_htmx",
    "csp",  # Content-Security-Policy (see CONTENT_SECURITY_POLICY below)
    "dealflow.core",
    "dealflow.people",
    "dealflow.accounts",
    "dealflow.leads",
    "dealflow.sales",
    "dealflow.automation",
    "dealflow.duplicates",
    "dealflow.dataio",
    "dealflow.reports",
    "dealflow.demo",
    "dealflow.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the body or answers an error in HTML (see there).
    "dealflow.api.middleware.ApiErrorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as axes asks: it turns a locked-out sign-in into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dealflow.urls"
WSGI_APPLICATION = "dealflow.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dealflow.web.navigation.navigation",
            ],
        },
    },
]


def _database() -> dict:
    url = os.environ.get("DATABASE_URL")
    if not url:
        url = f"sqlite:///{VAR_DIR / 'dealflow.sqlite3'}"
    config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.postgresql":
        # The same backend with a health check that needs no round trip (see there).
        config["ENGINE"] = "dealflow.core.postgresql"
        # The usual setting for SSDs and data that fits in memory. At the default (4),
        # the planner walks the created_at index past thousands of leads of other
        # statuses rather than read a status's newest leads off lead_status_created_idx.
        config.setdefault("OPTIONS", {}).setdefault("options", "-c random_page_cost=1.1")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # The same backend with decimals stored exactly (see there).
        config["ENGINE"] = "dealflow.core.sqlite"
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            # IMMEDIATE takes the write lock when a transaction starts, so two writers
            # queue instead of failing with "database is locked" half-way through.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        }
    return config


DATABASES = {"default": _database()}
# PostgreSQL plans the statements every request runs once per connection (see
# core/postgresql); "off" for a connection pooler that cannot keep prepared statements.
DEALFLOW_PREPARED_STATEMENTS = os.environ.get("DEALFLOW_PREPARED_STATEMENTS", "on") != "off"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "people.User"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# One password policy for every channel that sets a password: people.services, the
# `dealflow user` command, the API, the back office and `changepassword` (docs/security.md).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Failed sign-ins are counted per username and per client address on every login form
# (/login/ and /admin/login/); past the limit both are refused until the cool-off has
# passed since the last failure. API bearer tokens do not go through this.
AUTHENTICATION_BACKENDS = [
    "dealflow.web.throttling.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = _env_flag("DEALFLOW_LOGIN_THROTTLING", default=True)
AXES_FAILURE_LIMIT = int(os.environ.get("DEALFLOW_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = datetime.timedelta(
    minutes=int(os.environ.get("DEALFLOW_LOGIN_COOLOFF_MINUTES", "15"))
)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A lock lasts the cool-off from the failure that set it; attempts while locked are
# refused without being counted, so they neither extend it nor fill the log.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_CALLABLE = "dealflow.web.throttling.client_username"
AXES_CLIENT_IP_CALLABLE = "dealflow.web.throttling.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# A success does not wipe the failures: an attacker with one account of their own would
# sign in with it every few guesses to start their address's count again.
AXES_RESET_ON_SUCCESS = False
# Successful sign-ins are logged, not kept in a table that only grows.
AXES_DISABLE_ACCESS_LOG = True
# The username and address stay readable in the lock's log line; passwords are always masked.
AXES_SENSITIVE_PARAMETERS = ["csrfmiddlewaretoken"]
AXES_VERBOSE = False  # no banner on every command's start
# The proxies in front of dealflow that append the client's address to X-Forwarded-For;
# 0: the connection's own address is the client's.
DEALFLOW_PROXY_COUNT = int(os.environ.get("DEALFLOW_PROXY_COUNT", "0"))

# The cache (web-to-lead's per-address rate limit, django-ratelimit): Redis when REDIS_URL
# is set, so every web process counts together; else this process's memory.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("REDIS_URL"):
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
    }
# django-ratelimit's "ip" key: the client's address as login throttling reads it.
RATELIMIT_IP_META_KEY = "dealflow.web.throttling.client_address"
# Web-to-Lead (docs/web-to-lead.md): the organisation id a form's `oid` must equal (blank:
# derived from the secret key), and a callable (dotted path) that gets the request and
# answers whether its captcha was solved (blank: no captcha).
DEALFLOW_ORGANIZATION_ID = os.environ.get("DEALFLOW_ORGANIZATION_ID", "").strip()
DEALFLOW_WEB_TO_LEAD_CAPTCHA = os.environ.get("DEALFLOW_WEB_TO_LEAD_CAPTCHA", "").strip()

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DEALFLOW_TIME_ZONE", "UTC")
# Duplicate control (docs/duplicates.md): the country of phone numbers typed without one.
DEALFLOW_PHONE_REGION = os.environ.get("DEALFLOW_PHONE_REGION", "US")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing folder
# Serve straight from the apps' static folders: no collectstatic step on a laptop.
WHITENOISE_USE_FINDERS = True

# The largest request body, in bytes (default 2.5 MB, Django's): the API answers 413
# without reading a larger one, and Django refuses it everywhere else.
DEALFLOW_MAX_REQUEST_BYTES = int(os.environ.get("DEALFLOW_MAX_REQUEST_BYTES", "2621440"))
DATA_UPLOAD_MAX_MEMORY_SIZE = DEALFLOW_MAX_REQUEST_BYTES

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Pages run only the site's own scripts and styles (web/static): no inline script or style,
# nothing from another origin. Tabler's stylesheet draws its icons as data: images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True

# Served over TLS (by a proxy in front): secure cookies, HSTS for a year and a redirect
# from http. The proxy must set X-Forwarded-Proto itself, replacing any a client sent.
DEALFLOW_HTTPS = _env_flag("DEALFLOW_HTTPS")
if DEALFLOW_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True  # the subdomains of dealflow's own host only
    # Preloading commits the whole registrable domain to HTTPS in every browser, so it
    # is the operator's choice; without it check --deploy's W021 only says it is off.
    SECURE_HSTS_PRELOAD = _env_flag("DEALFLOW_HSTS_PRELOAD")
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# The first month of the fiscal year (1 = January); conversion's default close date is
# the last day of the current fiscal quarter.
DEALFLOW_FISCAL_YEAR_START_MONTH = int(os.environ.get("DEALFLOW_FISCAL_YEAR_START_MONTH", "1"))
# How long the dashboard shows its figures before a view computes them again, in seconds
# (reports/dashboard.py; 0 computes them on every view). Refresh recomputes at once.
DEALFLOW_DASHBOARD_MAX_AGE = int(os.environ.get("DEALFLOW_DASHBOARD_MAX_AGE", "600"))
DEALFLOW_IDEMPOTENCY_HOURS = int(os.environ.get("DEALFLOW_IDEMPOTENCY_HOURS", "24"))

# Email (the stalled-deal digests): printed on the console unless an SMTP server is named.
EMAIL_BACKEND = os.environ.get(
    "DEALFLOW_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = os.environ.get("DEALFLOW_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("DEALFLOW_EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("DEALFLOW_FROM_EMAIL", "dealflow@localhost")

# Background jobs: Celery with Redis in production; without a broker, run in-process.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# The beat schedule's hours (dealflow/celery.py) are the organisation's.
CELERY_TIMEZONE = TIME_ZONE
# Where `dealflow beat` remembers when each scheduled job last ran.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "beat-schedule")
# Leads created without an owner: "inline" runs the assignment rules in the create's own
# transaction (the answer shows the dealt owner); "worker" saves the lead with the rules'
# default owner (else the acting user) and a worker runs the rules right after commit.
DEALFLOW_ASSIGNMENT = os.environ.get(
    "DEALFLOW_ASSIGNMENT", "worker" if CELERY_BROKER_URL else "inline"
).strip()
if DEALFLOW_ASSIGNMENT not in ("inline", "worker"):
    raise ImproperlyConfigured(
        f"DEALFLOW_ASSIGNMENT: expected inline or worker, got {DEALFLOW_ASSIGNMENT!r}"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DEALFLOW_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Its INFO lines narrate every sign-in; failures and locks are warnings.
        "axes": {"level": "WARNING"},
    },
}
