"""JSON errors for everything under /api/, including what Django answers outside the API's views.

Placed right after SecurityMiddleware, so its headers still apply and nothing has read
the body yet when an oversized one is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    DisallowedHost,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.http.multipartparser import MultiPartParserError

from dealflow.api.support import json_response
from dealflow.core.errors import ErrorCode

API_PREFIX = "/api/"
# A converted response keeps the original's headers (Allow, Vary, X-Frame-Options...)
# except those describing the old body.
BODY_HEADERS = {"content-type", "content-length", "content-language", "content-disposition"}


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
        """Client errors raised by a view as JSON without a traceback; the rest to Django."""
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
