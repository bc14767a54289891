"""The one error vocabulary every service raises and every adapter renders."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class ErrorCode(StrEnum):
    REQUIRED_FIELD_MISSING = "REQUIRED_FIELD_MISSING"
    DUPLICATE_VALUE = "DUPLICATE_VALUE"
    DUPLICATES_DETECTED = "DUPLICATES_DETECTED"
    NOT_FOUND = "NOT_FOUND"
    INVALID_FIELD = "INVALID_FIELD"
    INVALID_FIELD_FOR_INSERT_UPDATE = "INVALID_FIELD_FOR_INSERT_UPDATE"
    INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    STRING_TOO_LONG = "STRING_TOO_LONG"
    NUMBER_OUTSIDE_VALID_RANGE = "NUMBER_OUTSIDE_VALID_RANGE"
    INVALID_TYPE = "INVALID_TYPE"
    INVALID_ID = "INVALID_ID"
    INVALID_EMAIL_ADDRESS = "INVALID_EMAIL_ADDRESS"
    CANNOT_UPDATE_CONVERTED_LEAD = "CANNOT_UPDATE_CONVERTED_LEAD"
    INVALID_STATUS = "INVALID_STATUS"
    QUALIFICATION_REQUIRED = "QUALIFICATION_REQUIRED"
    FIELD_INTEGRITY_EXCEPTION = "FIELD_INTEGRITY_EXCEPTION"
    INSUFFICIENT_ACCESS_OR_READONLY = "INSUFFICIENT_ACCESS_OR_READONLY"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    MALFORMED_QUERY = "MALFORMED_QUERY"
    JSON_PARSER_ERROR = "JSON_PARSER_ERROR"
    INVALID_AUTH_HEADER = "INVALID_AUTH_HEADER"
    INVALID_SESSION_ID = "INVALID_SESSION_ID"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    LENGTH_REQUIRED = "LENGTH_REQUIRED"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
    UNKNOWN_EXCEPTION = "UNKNOWN_EXCEPTION"


class DomainError(Exception):
    """A refused operation: a code from ErrorCode, a message for people, the fields involved."""

    def __init__(self, code: ErrorCode, message: str, fields: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = list(fields)
        # Further refusals found by the same check (one per bad field of a record, as
        # Salesforce lists every error of a save); adapters show them all.
        self.also: list[DomainError] = []

    def every(self) -> list[DomainError]:
        """This refusal and those found with it, in the order they were found."""
        return [self, *self.also]

    def detail(self, *fields: str) -> str:
        """The message without the "field: " it starts with, for a place that names the
        field already (services word refusals "email: 'x' is not an email address" for
        API clients); the first of `fields` that prefixes it is removed, and the whole
        message is returned when none does."""
        for field in fields:
            if field and self.message.startswith(f"{field}: "):
                return self.message.removeprefix(f"{field}: ")
        return self.message

    def as_dict(self) -> dict[str, object]:
        return {"code": str(self.code), "message": self.message, "fields": self.fields}

    def __repr__(self) -> str:
        return f"DomainError({self.code!s}, {self.message!r}, {self.fields!r})"
