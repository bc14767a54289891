"""Input checking driven by the metadata registry, shared by every service.

`clean_values` turns what an adapter passed (native field names, JSON-ish values) into
model-ready values or raises one DomainError naming the field and what was expected.
"""

from __future__ import annotations

import datetime
import functools
import re
import unicodedata
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from django.apps import apps
from django.core.validators import validate_email

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.matching import label_scripts, mixed_script_label
from dealflow.core.metadata import (
    LEAD_STATUS_PICKLIST,
    OPPORTUNITY_STAGE_PICKLIST,
    FieldDef,
    ObjectDef,
)
from dealflow.core.models import PicklistValue

# The largest whole number an int field takes: a round limit below PostgreSQL's 32-bit
# integer column (2,147,483,647).
MAX_INTEGER = 2_000_000_000
_STRING_TYPES = {"string", "textarea", "email", "phone", "url", "picklist"}
_TABLE_PICKLISTS = {
    LEAD_STATUS_PICKLIST: "leads.LeadStatus",
    OPPORTUNITY_STAGE_PICKLIST: "sales.OpportunityStage",
}


def check_storable_text(name: str, value: str) -> str:
    """Refuse text no database can store: NUL characters (PostgreSQL) and lone surrogates."""
    if "\x00" in value:
        raise DomainError(
            ErrorCode.INVALID_TYPE, f"{name}: text cannot contain NUL (\\u0000) characters", [name]
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DomainError(
            ErrorCode.INVALID_TYPE, f"{name}: text is not valid Unicode (lone surrogate)", [name]
        ) from None
    return value


def _fail(code: ErrorCode, field_def: FieldDef, expected: str) -> DomainError:
    """An error naming the field by its public name (`stage_name`, not `stage`)."""
    name = field_def.public_name
    return DomainError(code, f"{name}: {expected}", [name])


# Characters that change how text reads without being seen: zero-width characters and
# the bidirectional controls (Unicode's Bidi_Control; U+202E turns `Smith<RLO>gnp.exe`
# into what reads as `Smithexe.png`). Refused in single-line text; free text keeps them.
# Zero-width joiners (U+200C, U+200D) spell Persian and Indic names and emoji, so names
# keep them; emails and phone numbers refuse every format character.
_HIDDEN = {
    *"\u200b\u2060\u2061\u2062\u2063\u2064\ufeff\u180e",  # zero-width space, joiners, BOM
    *"\u200e\u200f\u061c",  # left-to-right, right-to-left and Arabic letter marks
    *(chr(code) for code in range(0x202A, 0x202F)),  # embeddings and overrides
    *(chr(code) for code in range(0x2066, 0x206A)),  # isolates
}
_SINGLE_LINE_TYPES = {"string", "email", "phone", "url", "picklist"}


def _is_visible(character: str) -> bool:
    """A letter, digit, punctuation mark or symbol: something a reader sees."""
    return unicodedata.category(character)[0] in "LNPS"


def _check_hidden_characters(field_def: FieldDef, value: str) -> None:
    strict = field_def.type in ("email", "phone")
    for character in value:
        hidden = character in _HIDDEN or (strict and unicodedata.category(character) == "Cf")
        if hidden:
            name = unicodedata.name(character, "a control character")
            raise _fail(
                ErrorCode.INVALID_TYPE,
                field_def,
                f"contains an invisible character (U+{ord(character):04X} {name}); "
                "retype the value",
            )


@functools.cache
def _user_part_match() -> Any:
    """The `match` of EmailValidator's user_regex (a lazy object: resolved once here)."""
    return validate_email.user_regex.match


@functools.lru_cache(maxsize=16_384)
def _email_domain_valid(domain_part: str) -> bool:
    """Django's EmailValidator's domain check, remembered per domain (domains repeat)."""
    return domain_part in validate_email.domain_allowlist or bool(
        validate_email.validate_domain_part(domain_part)
    )


def is_email(value: str) -> bool:
    """Whether Django's `validate_email` accepts `value`: the same rules (its user_regex,
    its domain check, 320 characters at most), without building a ValidationError for a
    refusal, and with the domain's check remembered."""
    if not value or "@" not in value or len(value) > 320:
        return False
    user_part, domain_part = value.rsplit("@", 1)
    if not _user_part_match()(user_part):
        return False
    return _email_domain_valid(domain_part)


def _check_email_domain(field_def: FieldDef, email: str) -> None:
    label = mixed_script_label(email.rpartition("@")[2])
    if label is not None:
        scripts = " and ".join(script.title() for script in label_scripts(label))
        raise _fail(
            ErrorCode.INVALID_EMAIL_ADDRESS,
            field_def,
            f"the domain part {label!r} mixes {scripts} letters, as look-alike domains do",
        )


def _clean_string(field_def: FieldDef, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(ErrorCode.INVALID_TYPE, field_def, f"expected text, got {value!r}")
    if value.isascii() and "\x00" not in value and (stripped := value.strip()).isprintable():
        # The common case, the same result: printable ASCII is visible (letters, digits,
        # punctuation, symbols) once trimmed, and has no hidden or format character.
        if not stripped:
            return ""
        value = stripped
    else:
        value = check_storable_text(field_def.public_name, value).strip()
        if not any(_is_visible(character) for character in value):
            return ""  # only spaces, marks or format characters: blank ("required" says so)
        if field_def.type in _SINGLE_LINE_TYPES:
            _check_hidden_characters(field_def, value)
    if field_def.length and len(value) > field_def.length:
        raise _fail(
            ErrorCode.STRING_TOO_LONG,
            field_def,
            f"at most {field_def.length} characters, got {len(value)}",
        )
    # An email is stored as typed (trimmed); matching uses its key (core/matching.py).
    if field_def.type == "email" and value:
        if not is_email(value):
            raise _fail(
                ErrorCode.INVALID_EMAIL_ADDRESS, field_def, f"{value!r} is not an email address"
            )
        _check_email_domain(field_def, value)
    return value


def _clean_boolean(field_def: FieldDef, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _fail(ErrorCode.INVALID_TYPE, field_def, f"expected true or false, got {value!r}")


def _number(field_def: FieldDef, value: Any, expected: str) -> Decimal | None:
    """The exact decimal of a JSON-ish number or numeric text; None for blank."""
    if value is None or value == "":
        return None
    number = None
    if not isinstance(value, bool) and isinstance(value, int | float | str | Decimal):
        try:
            # str() of a float is its shortest repr: 0.125 stays 0.125, as the client wrote it.
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite():
        # "1,5" is a decimal comma (or a misplaced thousands separator): say how to write it.
        hint = (
            "; decimals take a point, as in 1.5" if isinstance(value, str) and "," in value else ""
        )
        raise _fail(ErrorCode.INVALID_TYPE, field_def, f"expected {expected}, got {value!r}{hint}")
    return number


def _rounded(number: Decimal, decimal_places: int) -> Decimal:
    """Rounded half up to `decimal_places` (Salesforce's rounding, not half-even); no -0."""
    exponent = Decimal(1).scaleb(-decimal_places)
    if number.adjusted() > 40:  # far out of range; quantize() would need that many digits
        return number
    rounded = number.quantize(exponent, ROUND_HALF_UP, Context(prec=60))
    return rounded if rounded else abs(rounded)


def _refuse_outside(field_def: FieldDef, number: Decimal, low: Decimal, high: Decimal) -> None:
    if not low <= number <= high:
        raise _fail(
            ErrorCode.NUMBER_OUTSIDE_VALID_RANGE,
            field_def,
            f"must be between {low} and {high}, got {number}",
        )


# An amount written with thousands separators as the pages show it ("1,679,000.50"), in
# a form or an imported file: the commas are dropped. Only well-placed groups of three,
# so "1,5" (a decimal comma) is still refused rather than read as 15.
GROUPED_AMOUNT = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


def _clean_decimal(field_def: FieldDef, value: Any) -> Decimal | None:
    """A currency value, rounded half up to the column's scale and checked against its
    range. Text may group thousands with commas (GROUPED_AMOUNT)."""
    if isinstance(value, str) and GROUPED_AMOUNT.match(value.strip()):
        value = value.strip().replace(",", "")
    number = _number(field_def, value, "a number")
    if number is None:
        return None
    places, digits = field_def.scale or 0, field_def.precision or 18
    number = _rounded(number, places)
    largest = Decimal(10) ** (digits - places) - Decimal(1).scaleb(-places)
    _refuse_outside(field_def, number, -largest, largest)
    return number


def _clean_integer(field_def: FieldDef, value: Any, maximum: int, *, rounds: bool) -> int | None:
    """A whole number from 0 to `maximum`; a percent's decimals round half up (`rounds`)."""
    number = _number(field_def, value, "a whole number")
    if number is None:
        return None
    if rounds:
        number = _rounded(number, 0)
    elif number != number.to_integral_value():
        raise _fail(ErrorCode.INVALID_TYPE, field_def, f"expected a whole number, got {value!r}")
    _refuse_outside(field_def, number, Decimal(0), Decimal(maximum))
    return int(number)


def _clean_date(field_def: FieldDef, value: Any) -> datetime.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        raise _fail(ErrorCode.INVALID_TYPE, field_def, "expected a date, got a date and time")
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _fail(ErrorCode.INVALID_TYPE, field_def, f"expected a date YYYY-MM-DD, got {value!r}")


def _clean_reference(field_def: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    if getattr(value, "object_name", None) in field_def.reference_to and value.pk:
        return value
    expected = " or ".join(field_def.reference_to)
    raise _fail(ErrorCode.INVALID_TYPE, field_def, f"expected a {expected}, got {value!r}")


def _clean_value(field_def: FieldDef, value: Any) -> Any:
    if field_def.picklist in _TABLE_PICKLISTS:
        return value  # resolved to a row by _resolve_table_picklists
    if field_def.type in _STRING_TYPES:
        return _clean_string(field_def, value)
    if field_def.type == "boolean":
        return _clean_boolean(field_def, value)
    if field_def.type == "currency":
        return _clean_decimal(field_def, value)
    if field_def.type == "int":
        return _clean_integer(field_def, value, maximum=MAX_INTEGER, rounds=False)
    if field_def.type == "percent":
        return _clean_integer(field_def, value, maximum=100, rounds=True)
    if field_def.type == "date":
        return _clean_date(field_def, value)
    if field_def.type == "reference":
        return _clean_reference(field_def, value)
    raise _fail(ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE, field_def, "cannot be written")


def _check_picklists(object_def: ObjectDef, cleaned: dict[str, Any]) -> None:
    """Every picklist value given must be an active value of its picklist (one query).

    Statuses and stages were already resolved to their rows; fixed choices (a task's
    type) come from the model; the rest are rows of PicklistValue.
    """
    given = [
        (field_def, value)
        for name, value in cleaned.items()
        if value
        and (field_def := object_def.field(name)) is not None
        and field_def.is_picklist
        and field_def.picklist not in _TABLE_PICKLISTS
    ]
    stored = {field_def.picklist for field_def, _value in given if not field_def.choices}
    allowed: dict[str | None, set[str]] = {}
    if stored:
        rows = PicklistValue.objects.filter(picklist__in=stored, is_active=True)
        for picklist, value in rows.values_list("picklist", "value"):
            allowed.setdefault(picklist, set()).add(value)
    for field_def, value in given:
        values = set(field_def.choices) or allowed.get(field_def.picklist, set())
        if value not in values:
            raise _fail(
                ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
                field_def,
                f"{value!r} is not one of {', '.join(sorted(values))}",
            )


def resolve_table_picklist(field_def: FieldDef, value: Any) -> Any:
    """The LeadStatus / OpportunityStage row named `value` (or the row itself)."""
    model = apps.get_model(_TABLE_PICKLISTS[field_def.picklist or ""])
    if isinstance(value, model) and value.is_active:  # type: ignore[attr-defined]
        return value
    if isinstance(value, model):
        value = value.name  # type: ignore[attr-defined]
    if not isinstance(value, str) or not value.strip():
        raise _fail(
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            field_def,
            f"expected the name of a {model._meta.verbose_name}, got {value!r}",
        )
    try:
        check_storable_text(field_def.public_name, value)
    except DomainError:
        row = None  # no status or stage can have such a name
    else:
        row = model.objects.filter(name=value.strip(), is_active=True).first()
    if row is None:
        names = ", ".join(model.objects.filter(is_active=True).values_list("name", flat=True))
        raise _fail(
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            field_def,
            f"{value!r} is not one of {names}",
        )
    return row


def clean_field_value(field_def: FieldDef, value: Any) -> Any:
    """One field's value as `clean_values` cleans it: its type, length and format, a
    status or stage resolved to its row. Not the rules of a whole record (required
    fields, writability, membership of a stored picklist: `clean_values` applies them).
    Raises DomainError naming the field."""
    cleaned = _clean_value(field_def, value)
    if field_def.picklist in _TABLE_PICKLISTS and value is not None:
        cleaned = resolve_table_picklist(field_def, value)
    return cleaned


def clean_values(
    object_def: ObjectDef, values: Mapping[str, Any], *, creating: bool
) -> dict[str, Any]:
    """Check and convert input values for a create (`creating`) or an update.

    Unknown names get INVALID_FIELD; read-only ones INVALID_FIELD_FOR_INSERT_UPDATE;
    missing or blanked required ones REQUIRED_FIELD_MISSING (all of them in one error).
    A field a service fills in on create (owner, probability) may be left out then, but
    an update cannot blank it. Every bad value is reported, not only the first: the
    error raised holds the others in `also` (DomainError.every()).
    """
    cleaned: dict[str, Any] = {}
    refused: list[DomainError] = []
    for name, value in values.items():
        field_def = object_def.field(name)
        if field_def is None:
            raise DomainError(
                ErrorCode.INVALID_FIELD, f"{object_def.name} has no field {name!r}", [name]
            )
        writable = field_def.createable if creating else field_def.updateable
        if not writable:
            verb = "set" if creating else "changed"
            raise DomainError(
                ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE,
                f"{object_def.name}.{field_def.public_name} cannot be {verb}",
                [field_def.public_name],
            )
        try:
            cleaned[name] = clean_field_value(field_def, value)
        except DomainError as error:
            refused.append(error)
            cleaned[name] = "refused"  # not missing: it was given, and is wrong
    missing = [
        field_def.public_name
        for field_def in object_def.fields
        if (field_def.required or not (creating or field_def.nullable))
        and (field_def.name in cleaned or creating)
        and cleaned.get(field_def.name) in (None, "")
    ]
    if missing:
        refused.append(
            DomainError(
                ErrorCode.REQUIRED_FIELD_MISSING,
                f"Required fields are missing: {', '.join(missing)}",
                missing,
            )
        )
    if refused:
        first, *others = refused
        first.also = others
        raise first
    _check_picklists(object_def, cleaned)
    return cleaned


def apply_values(instance: Any, cleaned: Mapping[str, Any]) -> None:
    """Set cleaned values on a model instance (nothing is saved)."""
    for name, value in cleaned.items():
        setattr(instance, name, value)
