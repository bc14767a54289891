"""JSON errors for everything under /api/, including what Django answers outside the API's views.

Placed right after SecurityMiddleware, so its headers still apply and nothing has read
the body yet when an oversized one is refused. A database that cannot be written or
reached answers 503 everywhere, JSON under /api/, with one log line for the operator.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    DisallowedHost,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.db import Error as DatabaseLibraryError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.http.multipartparser import MultiPartParserError
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string

from dealflow.api.support import json_response
from dealflow.core.errors import ErrorCode

API_PREFIX = "/api/"
# A converted response keeps the original's headers (Allow, Vary, X-Frame-Options...)
# except those describing the old body.
BODY_HEADERS = {"content-type", "content-length", "content-language", "content-disposition"}
STORAGE_LOG = logging.getLogger("dealflow.storage")
# A full disk fails every request: one line per cause at most this often keeps the log
# readable, and small.
STORAGE_LOG_INTERVAL = 60.0


def is_api_path(request: HttpRequest) -> bool:
    return request.path_info == API_PREFIX.rstrip("/") or request.path_info.startswith(API_PREFIX)


def api_error(
    status: int, code: ErrorCode, message: str, fields: list[str] | None = None
) -> HttpResponse:
    return json_response(
        {"errors": [{"code": str(code), "message": message, "fields": fields or []}]},
        status=status,
    )


def not_found(request: HttpRequest) -> HttpResponse:
    return api_error(404, ErrorCode.NOT_FOUND, f"no endpoint {request.path} (see docs/api.md)")


class ApiErrorsMiddleware:
    """Refuse bodies over DEALFLOW_MAX_REQUEST_BYTES unread, and answer every error as JSON."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not is_api_path(request):
            return self.get_response(request)
        response: HttpResponseBase | None = self.refusal(request)
        if response is None:
            response = self.get_response(request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return self.as_json(request, response)
        return response

    def refusal(self, request: HttpRequest) -> HttpResponse | None:
        """A 4xx for what must be refused before anything reads the request, else None."""
        try:
            request.get_host()
        except DisallowedHost as error:
            # Checked here, first: CommonMiddleware would log it with a traceback.
            return self.client_error(request, error)
        if "HTTP_TRANSFER_ENCODING" in request.META:
            # Django reads at most Content-Length bytes (none without it): a chunked body
            # would silently arrive empty.
            return api_error(
                411,
                ErrorCode.LENGTH_REQUIRED,
                "send the body with a Content-Length, not Transfer-Encoding",
                ["Transfer-Encoding"],
            )
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isascii() or not declared.isdigit():
            return api_error(
                400,
                ErrorCode.INVALID_FIELD,
                f"Content-Length: {declared!r} is not a number of bytes",
                ["Content-Length"],
            )
        limit = settings.DEALFLOW_MAX_REQUEST_BYTES
        if int(declared) > limit:
            return too_large(int(declared), limit)
        return None

    def process_exception(self, request: HttpRequest, error: Exception) -> HttpResponse | None:
        """Client errors raised by a view as JSON without a traceback, storage failures as
        503 (pages too); the rest to Django."""
        failure = storage_failure(error)
        if failure is not None:
            return storage_unavailable(request, failure, error)
        if not is_api_path(request):
            return None
        if isinstance(error, Http404):
            return not_found(request)
        if isinstance(error, PermissionDenied):
            return api_error(403, ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY, "permission denied")
        if isinstance(error, SuspiciousOperation | BadRequest | MultiPartParserError):
            return self.client_error(request, error)
        # A server fault: Django logs the traceback, signals it and renders a 500 that
        # __call__ turns into JSON.
        return None

    def client_error(self, request: HttpRequest, error: Exception) -> HttpResponse:
        if isinstance(error, SuspiciousOperation):
            # Django logs these at ERROR with a traceback; one line is enough for a
            # request the client got wrong.
            name = type(error).__name__
            logging.getLogger(f"django.security.{name}").warning("%s: %s", name, error)
        if isinstance(error, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return too_large(int(request.META.get("CONTENT_LENGTH") or 0), limit)
        if isinstance(error, DisallowedHost):
            return api_error(400, ErrorCode.INVALID_FIELD, "Host: not a host served here", ["Host"])
        return api_error(400, ErrorCode.INVALID_FIELD, f"bad request: {error}")

    def as_json(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponse:
        """The same status in the JSON error format; a 5xx says nothing about its cause."""
        status = response.status_code
        if status == 404:
            converted = not_found(request)
        elif status >= 500:
            converted = api_error(
                status, ErrorCode.UNKNOWN_EXCEPTION, "internal error; it has been logged"
            )
        else:
            code = {
                403: ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
                405: ErrorCode.METHOD_NOT_ALLOWED,
                411: ErrorCode.LENGTH_REQUIRED,
                413: ErrorCode.REQUEST_TOO_LARGE,
            }.get(status, ErrorCode.INVALID_FIELD)
            converted = api_error(status, code, f"{status} {response.reason_phrase}")
        for name, value in response.items():
            if name.lower() not in BODY_HEADERS:
                converted[name] = value
        converted.cookies = response.cookies
        # Django logs an error response once; the original may have been logged already.
        if getattr(response, "_has_been_logged", False):
            converted._has_been_logged = True  # type: ignore[attr-defined]
        response.close()
        return converted


def too_large(length: int, limit: int) -> HttpResponse:
    return api_error(
        413,
        ErrorCode.REQUEST_TOO_LARGE,
        f"the request body is {length} bytes; the limit is {limit} bytes",
    )


@dataclass(frozen=True)
class StorageFailure:
    """Why the database cannot be written or reached, and what an operator should check."""

    cause: str
    check: str


_READ_ONLY = StorageFailure(
    "the database is read-only",
    "that the dealflow user may write the SQLite database file and its directory, and that "
    "their file system is not mounted read-only",
)
_SQLITE_FAILURES = {  # by SQLite's primary result code
    8: _READ_ONLY,  # SQLITE_READONLY
    10: StorageFailure(  # SQLITE_IOERR
        "the disk failed to read or write the database (I/O error)",
        "the disk that holds the SQLite file, and the system log",
    ),
    13: StorageFailure(  # SQLITE_FULL
        "the disk that holds the database is full", "the free space on that disk"
    ),
    14: StorageFailure(  # SQLITE_CANTOPEN
        "the database file cannot be opened",
        "that the SQLite file and its directory exist and the dealflow user may read and "
        "write both",
    ),
}
_SQLITE_MESSAGES = {  # for errors without a result code
    "attempt to write a readonly database": 8,
    "disk i/o error": 10,
    "database or disk is full": 13,
    "unable to open database file": 14,
}
_POSTGRESQL_UNREACHABLE = StorageFailure(
    "the database server cannot be reached",
    "that PostgreSQL runs and accepts dealflow's connections (DATABASE_URL: host, port, "
    "user, password; max_connections)",
)
_POSTGRESQL_FAILURES = {  # by SQLSTATE
    "25006": StorageFailure(  # read_only_sql_transaction
        "the database is read-only (PostgreSQL refused a write in a read-only transaction)",
        "that DATABASE_URL names the primary server, not a standby, and that "
        "default_transaction_read_only is off for dealflow's database and user",
    ),
    "53100": StorageFailure(  # disk_full
        "the database server's disk is full", "the free space of PostgreSQL's data directory"
    ),
    "58030": StorageFailure(  # io_error
        "the database server failed to read or write its files (I/O error)",
        "PostgreSQL's log and its disk",
    ),
    "53300": _POSTGRESQL_UNREACHABLE,  # too_many_connections
    "57P01": _POSTGRESQL_UNREACHABLE,  # admin_shutdown
    "57P02": _POSTGRESQL_UNREACHABLE,  # crash_shutdown
    "57P03": _POSTGRESQL_UNREACHABLE,  # cannot_connect_now
}


def storage_failure(error: BaseException) -> StorageFailure | None:
    """Why `error` means the database cannot be written or reached; None for any other error."""
    if not isinstance(error, DatabaseLibraryError):
        return None
    driver_error = error.__cause__  # Django wraps the driver's exception
    if isinstance(driver_error, sqlite3.Error):
        code = getattr(driver_error, "sqlite_errorcode", None)
        if code is None:
            code = _SQLITE_MESSAGES.get(str(driver_error).strip().lower())
        return _SQLITE_FAILURES.get(code & 0xFF) if code is not None else None
    if type(driver_error).__module__.startswith("psycopg"):
        state = getattr(driver_error, "sqlstate", None) or getattr(driver_error, "pgcode", None)
        if state is None:
            # Errors the server did not send: the connection failed or was lost.
            unreachable = isinstance(error, OperationalError | InterfaceError)
            return _POSTGRESQL_UNREACHABLE if unreachable else None
        if state.startswith("08"):  # connection_exception
            return _POSTGRESQL_UNREACHABLE
        return _POSTGRESQL_FAILURES.get(state)
    if isinstance(error, InterfaceError):  # "connection already closed", from Django itself
        return _POSTGRESQL_UNREACHABLE
    return None


class _LogThrottle:
    """Lets one line per key through per interval and counts the ones held back."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held_back: dict[str, int] = {}

    def passes(self, key: str) -> int | None:
        """None to hold the line back, else how many were held back since the last one."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, float("-inf")) < self._seconds:
                self._held_back[key] = self._held_back.get(key, 0) + 1
                return None
            self._last[key] = now
            return self._held_back.pop(key, 0)


_throttle = _LogThrottle(STORAGE_LOG_INTERVAL)


def log_storage_problem(level: int, key: str, message: str, *args: object) -> None:
    """Log one line (no traceback), at most once per key per STORAGE_LOG_INTERVAL."""
    held_back = _throttle.passes(key)
    if held_back is None:
        return
    if held_back:
        message += f" ({held_back} more like it in the last {STORAGE_LOG_INTERVAL:.0f} s)"
    STORAGE_LOG.log(level, message, *args)


def storage_unavailable(
    request: HttpRequest, failure: StorageFailure, error: BaseException
) -> HttpResponse:
    """503: JSON STORAGE_UNAVAILABLE under /api/, a plain page elsewhere; one log line."""
    log_storage_problem(
        logging.ERROR,
        f"unavailable:{failure.cause}",
        "storage unavailable: %s (%s); check %s [%s %s answered 503]",
        failure.cause,
        error,
        failure.check,
        request.method,
        request.path,
    )
    response: HttpResponse
    if is_api_path(request):
        response = api_error(
            503,
            ErrorCode.STORAGE_UNAVAILABLE,
            "the database cannot be written or reached right now; try again later",
        )
    else:
        page: str
        try:
            page = render_to_string("503.html")
        except TemplateDoesNotExist:
            page = "Service unavailable: the database cannot be written or reached right now."
        response = HttpResponse(page, status=503)
    # The line above says it all; Django's own "Service Unavailable: /path" would repeat it.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
