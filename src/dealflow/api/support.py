"""What every endpoint of the native API shares: JSON in and out, errors, ETags, idempotency."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from typing import Any

from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from dealflow.api.records import decode_id, dumps, etag, from_json, row_to_json, to_json
from dealflow.core import rows
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.idempotency import fingerprint, once
from dealflow.core.selectors import Page
from dealflow.core.validation import check_storable_text

STATUS_BY_CODE = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY: 403,
    ErrorCode.DUPLICATE_VALUE: 409,
    ErrorCode.DUPLICATES_DETECTED: 409,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 409,
    ErrorCode.PRECONDITION_FAILED: 412,
    ErrorCode.INVALID_SESSION_ID: 401,
    ErrorCode.INVALID_AUTH_HEADER: 401,
}


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None):
    return HttpResponse(
        dumps(payload), status=status, content_type="application/json", headers=headers
    )


def error_response(*errors: DomainError) -> HttpResponse:
    """{"errors": [...]} with the status of the first error's code."""
    status = STATUS_BY_CODE.get(errors[0].code, 400)
    return json_response({"errors": [error.as_dict() for error in errors]}, status=status)


def record_response(object_name: str, record: models.Model, status: int = 200) -> HttpResponse:
    return json_response(to_json(object_name, record), status, headers={"ETag": etag(record)})


def read_response(request: HttpRequest, object_name: str, record: models.Model) -> HttpResponse:
    """A record, or 304 when the client's If-None-Match still matches."""
    current = etag(record)
    if current in _listed_etags(request.headers.get("If-None-Match", "")):
        return HttpResponse(status=304, headers={"ETag": current})
    return record_response(object_name, record)


def page_response(object_name: str, page: Page) -> HttpResponse:
    payload: dict[str, Any] = {
        "records": [row_to_json(object_name, row) for row in page.records],
        "next_cursor": page.next_cursor,
    }
    if page.total is not None:
        payload["total"] = page.total
    return json_response(payload)


def _check_texts(name: str, value: Any) -> None:
    """check_storable_text on every key and string inside a JSON value, blaming `name`."""
    if isinstance(value, str):
        check_storable_text(name, value)
    elif isinstance(value, list):
        for item in value:
            _check_texts(name, item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_texts(name, key)
            _check_texts(name, item)


# How deeply a request body may nest arrays and objects. A record body is one flat
# object (depth 1), so 32 is generous; it keeps every recursive step after parsing
# (json.loads, text checks, field conversion) far from Python's recursion limit.
MAX_JSON_DEPTH = 32
# A complete JSON string: what lies inside cannot open or close anything.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(128) if byte not in b"[]{}") + bytes(range(128, 256))
_ONE_KIND = bytes.maketrans(b"{}", b"[]")


def check_json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON text nesting arrays and objects deeper than `limit`, without recursing.

    Counts brackets outside strings, so it can run before anything parses the text.
    """
    if text.count("[") + text.count("{") <= limit:  # the usual body: no deeper than that
        return
    # As UTF-8 bytes (no character but a bracket encodes to a bracket byte), which
    # translate() and replace() sift in C: a Python loop over megabytes is slow.
    outside_strings = _JSON_STRING.sub("", text).encode("utf-8", "surrogatepass")
    brackets = outside_strings.translate(_ONE_KIND, _NOT_BRACKETS)
    # Each pass drops the innermost pairs, so `limit` passes empty a body no deeper.
    rest = brackets
    for _ in range(limit):
        shorter = rest.replace(b"[]", b"")
        if len(shorter) == len(rest):
            break
        rest = shorter
    if not rest:
        return
    # Deeper, or brackets that do not match: count, so malformed text is called that.
    depth = 0
    for bracket in brackets:
        depth += 1 if bracket == ord("[") else -1
        if depth > limit:
            raise DomainError(
                ErrorCode.JSON_PARSER_ERROR,
                f"body nests arrays and objects deeper than {limit} levels",
            )
        if depth < 0:  # json.loads stops at this closer, before anything deeper
            return


def request_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object, or a JSON_PARSER_ERROR (INVALID_TYPE for unstorable text)."""
    raw = request.body or b"{}"
    try:
        # Decoded as json.loads would decode it, so the depth check sees the same text.
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        check_json_depth(text)
        body = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise DomainError(ErrorCode.JSON_PARSER_ERROR, f"body is not JSON: {error}") from None
    except RecursionError:  # check_json_depth refuses such bodies first; never answer 500
        raise DomainError(
            ErrorCode.JSON_PARSER_ERROR,
            f"body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels",
        ) from None
    if not isinstance(body, dict):
        raise DomainError(ErrorCode.JSON_PARSER_ERROR, "body must be a JSON object")
    for key, value in body.items():
        name = key.encode("utf-8", "backslashreplace").decode("utf-8")
        _check_texts(name, key)
        _check_texts(name, value)
    return body


def resolver(actor: Any) -> Callable[[str, str, str], models.Model]:
    """Loads referenced records through the selectors, so references obey access rules."""
    from dealflow.api import lookups

    def resolve(field: str, object_name: str, public_id: str) -> models.Model:
        try:
            return lookups.get_record(actor, object_name, public_id)
        except DomainError as error:
            raise DomainError(
                ErrorCode.NOT_FOUND, f"{field}: no {object_name} with id {public_id!r}", [field]
            ) from error

    return resolve


def body_data(request: HttpRequest, object_name: str, *, creating: bool) -> dict[str, Any]:
    """Service data from the request body (native names, references as records)."""
    return from_json(
        object_name, request_body(request), creating=creating, resolve=resolver(request.auth)
    )


def _listed_etags(header: str) -> list[str]:
    return [part.strip() for part in header.split(",") if part.strip()]


def check_if_match(request: HttpRequest, record: models.Model) -> None:
    """Refuse a write when If-Match names another version (call inside the transaction).

    The row is locked first, so no other write can slip in between the check and ours.
    """
    header = request.headers.get("If-Match")
    if not header or header.strip() == "*":
        return
    locked = type(record)._default_manager.select_for_update().get(pk=record.pk)
    current = etag(locked)
    if current not in _listed_etags(header):
        raise DomainError(
            ErrorCode.PRECONDITION_FAILED,
            f"If-Match: the record changed; its current ETag is {current}",
            ["If-Match"],
        )


def run(operation: Callable[[], HttpResponse], *, atomic: bool = True) -> HttpResponse:
    """Run a write in one transaction; a refused one answers with its errors.

    `atomic=False` is for an operation whose only write is one service call: the
    service's own transaction is enough, and a surrounding one would turn it into a
    savepoint (two more statements on every create).
    """
    try:
        if not atomic:
            return operation()
        with transaction.atomic():
            return operation()
    except DomainError as error:
        return error_response(*error.every())


def run_idempotent(
    request: HttpRequest, operation: Callable[[], HttpResponse], *, atomic: bool = True
) -> HttpResponse:
    """Honour Idempotency-Key on POST: the same key and body get the first response again.

    Keys are per user; see core/idempotency.py for how concurrent retries are kept to one.
    Without a key the operation runs as `run(operation, atomic=atomic)`.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return run(operation, atomic=atomic)

    def perform() -> dict[str, Any]:
        response = operation()
        return {
            "status": response.status_code,
            "body": json.loads(response.content),
            "etag": response.get("ETag"),
        }

    try:
        stored, replayed = once(
            scope=f"api:{request.auth.pk}",  # type: ignore[attr-defined]
            key=key,
            request_fingerprint=fingerprint(
                request.method.encode() + b" " + request.path.encode() + b"\n" + request.body
            ),
            actor=request.auth,
            perform=perform,
            key_field="Idempotency-Key",
        )
    except DomainError as error:
        return error_response(*error.every())
    headers = {"ETag": stored["etag"]} if stored.get("etag") else {}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(stored["body"], stored["status"], headers=headers)


def decode_filter_id(name: str, value: str | None, object_names: tuple[str, ...]) -> int | None:
    """A filter's public id as a primary key (INVALID_ID when malformed)."""
    if value is None:
        return None
    _object, primary_key = decode_id(name, value, object_names)
    if primary_key > rows.MAX_PRIMARY_KEY:  # no row has it, and SQLite cannot compare it
        raise DomainError(ErrorCode.INVALID_ID, f"{name}: {value!r} names no record", [name])
    return primary_key


def filter_value(name: str, value: Any) -> Any:
    """A list filter made safe for the database: text checked, datetimes in UTC.

    PostgreSQL refuses UTC offsets beyond 15:59 and SQLite stores UTC text, so datetimes
    are converted here (naive ones are in the current time zone, as Django takes them);
    a moment outside years 1 to 9999 in UTC is bad input.
    """
    if isinstance(value, str):
        return check_storable_text(name, value)
    if not isinstance(value, datetime.datetime):
        return value
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(datetime.UTC)
    except OverflowError:
        raise DomainError(
            ErrorCode.INVALID_TYPE, f"{name}: {value.isoformat()} is out of range", [name]
        ) from None
