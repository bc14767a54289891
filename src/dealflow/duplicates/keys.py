"""Matching keys of duplicate control (docs/duplicates.md, DOMAIN.md section 8).

A record's *profile* is its matched fields, normalised: the email key (core.matching),
its phones in E.164 (the phonenumbers library, `DEALFLOW_PHONE_REGION` for numbers typed
without a country code; the bare digits when the library cannot read one), folded first
and last names without accents ("Díaz" and "Diaz" are both "diaz"), the company name
folded without accents, punctuation or legal suffixes ("Acme, Inc." and "ACME GmbH" are
both "acme"), and the folded city without accents. Its *blocking keys* are a
few (kind, value) pairs from that profile, stored in DuplicateKey and looked up by index:
two records can only be compared when they share one.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

import phonenumbers
from django.conf import settings

from dealflow.core.matching import email_key, fold, phone_digits

# Legal-form words dropped from company names, folded and without punctuation
# ("L.L.C." -> "llc", "S.A.S." -> "sas"); only whole words, and only at the end of the
# name or before another such word ("Company" in "The Company Store" stays).
LEGAL_SUFFIXES = frozenset(
    [
        "inc",
        "incorporated",
        "ltd",
        "limited",
        "llc",
        "llp",
        "lp",
        "plc",
        "corp",
        "corporation",
        "co",
        "company",
        "gmbh",
        "ag",
        "kg",
        "ohg",
        "ug",
        "mbh",
        "ev",
        "sa",
        "sas",
        "sarl",
        "sasu",
        "sci",
        "spa",
        "srl",
        "snc",
        "sl",
        "slu",
        "bv",
        "nv",
        "bvba",
        "vof",
        "oy",
        "oyj",
        "ab",
        "as",
        "asa",
        "aps",
        "pty",
        "pte",
        "kk",
        "gk",
    ]
)
# Trailing words that join legal forms ("Co. & KG", "Pty Ltd", "S.p.A.").
_JOINERS = frozenset({"and", "&", "und", "et"})
_PUNCTUATION = re.compile(r"[^\w\s&]", re.UNICODE)
_SPACES = re.compile(r"\s+")
KEY_LENGTH = 255
# Characters of the company key in an account's company-and-city block, and of the last
# name in a person's block at the same company: short enough that a typo after them
# still meets the other record.
COMPANY_BLOCK_PREFIX = 3


_PLAIN = re.compile(r"^(?:\w+ )*\w+$", re.UNICODE)


def _strip_marks(text: str) -> str:
    """Dots and punctuation out, so that "S.A.S." and "SAS" read alike."""
    if _PLAIN.match(text):  # the common case: words and single spaces already
        return text
    text = text.replace(".", "")
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", text)).strip()


# The Combining Diacritical Marks block: the accents of Latin, Greek and Cyrillic
# letters once decomposed. Marks of other scripts (Devanagari's vowel signs, Hebrew and
# Arabic points) carry meaning and stay.
_DIACRITICS = re.compile("[\u0300-\u036f]")


@functools.lru_cache(maxsize=65_536)
def unaccented(text: str) -> str:
    """Folded text without its accents ("díaz" -> "diaz", "müller" -> "muller", "çelik"
    -> "celik"), so that a name typed with or without them has one key and compares
    equal; letters that are not a letter plus an accent stay ("ø", "ł"; fold already
    made "ß" "ss")."""
    if text.isascii():
        return text
    stripped = _DIACRITICS.sub("", unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFC", stripped)


def company_key(name: str) -> str:
    """A company name folded, accents and punctuation out, trailing legal forms dropped.

    "Acme, Inc." -> "acme"; "Müller GmbH & Co. KG" -> "muller"; "L'Oréal S.A." -> "l oreal".
    A name made only of legal words keeps them ("Company" -> "company"), so that it
    still has a key.
    """
    return company_key_of_folded(fold(name))


def company_key_of_folded(folded: str) -> str:
    """company_key of a name already folded (core.matching.fold; a record's name key)."""
    words = _strip_marks(unaccented(folded)).split(" ")
    words = [word for word in words if word]
    kept = list(words)
    while kept and (kept[-1] in LEGAL_SUFFIXES or kept[-1] in _JOINERS):
        kept.pop()
    return " ".join(kept or words)[:KEY_LENGTH]


def person_key(name: str) -> str:
    """A first or last name (or a city) folded, accents and punctuation out ("O'Brien" ->
    "o brien", "Díaz" -> "diaz")."""
    return person_key_of_folded(fold(name))


def person_key_of_folded(folded: str) -> str:
    """person_key of a name already folded (a record's name key)."""
    return _strip_marks(unaccented(folded))[:KEY_LENGTH]


def phone_key(value: str, region: str | None = None) -> str:
    """A phone number in E.164 ("+14155550100"), "" for none.

    Read with `region` (default: the DEALFLOW_PHONE_REGION setting) when it has no
    country code; a number the library cannot parse, or one that is not a possible
    number, keeps its digits ("12" -> "12"), so that two spellings of it still match.
    """
    value = unicodedata.normalize("NFKC", value or "").strip()
    if not value:
        return ""
    region = region or settings.DEALFLOW_PHONE_REGION
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return phone_digits(value)
    if not phonenumbers.is_possible_number(number):
        return phone_digits(value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class Profile:
    """The normalised fields one record is matched on ("" when blank).

    Phones are read through phonenumbers only when first asked for (`phones`): the scan
    compares most pairs without ever needing them.
    """

    __slots__ = ("_phones", "_raw_phones", "city", "company", "email", "first_name", "last_name")

    def __init__(
        self,
        *,
        email: str = "",
        first_name: str = "",
        last_name: str = "",
        company: str = "",
        city: str = "",
        raw_phones: Iterable[str] = (),
        phones: frozenset[str] | None = None,
    ) -> None:
        self.email = email
        self.first_name = first_name
        self.last_name = last_name
        self.company = company
        self.city = city
        self._raw_phones = tuple(raw_phones)
        self._phones = phones

    @property
    def phones(self) -> frozenset[str]:
        """The E.164 keys of the record's phones (phone_key)."""
        if self._phones is None:
            self._phones = frozenset(key for text in self._raw_phones if (key := phone_key(text)))
        return self._phones

    def __repr__(self) -> str:
        fields = ("email", "first_name", "last_name", "company", "city", "phones")
        return "Profile(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in fields) + ")"


# The source fields of each object's profile (Contact's company is its account's name).
PROFILE_SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "Lead": {
        "email": ("email",),
        "phones": ("phone", "mobile_phone"),
        "first_name": ("first_name",),
        "last_name": ("last_name",),
        "company": ("company",),
        "city": ("city",),
    },
    "Contact": {
        "email": ("email",),
        "phones": ("phone", "mobile_phone"),
        "first_name": ("first_name",),
        "last_name": ("last_name",),
        "company": ("account_name",),
        "city": ("mailing_city",),
    },
    "Account": {
        "phones": ("phone",),
        "company": ("name",),
        "city": ("billing_city",),
    },
}
OBJECT_NAMES = tuple(PROFILE_SOURCES)


def source_fields(object_name: str) -> list[str]:
    """The record fields a profile reads (for `.only()` and for the update hook)."""
    return [name for names in PROFILE_SOURCES[object_name].values() for name in names]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def profile_of(object_name: str, read: Callable[[str], Any]) -> Profile:
    """The profile of a record, reading each source field with `read(name)`."""
    sources = PROFILE_SOURCES[object_name]
    values: dict[str, Any] = {}
    for field, names in sources.items():
        texts = [_text(read(name)) for name in names]
        if field == "phones":
            values["raw_phones"] = texts
        elif field == "email":
            values[field] = email_key(texts[0])[:KEY_LENGTH]
        elif field == "company":
            values[field] = company_key(texts[0])
        else:
            values[field] = person_key(texts[0])
    return Profile(**values)


def profile_of_record(object_name: str, record: Any) -> Profile:
    """The profile of a saved (or unsaved) Lead, Contact or Account."""

    def read(name: str) -> Any:
        if name == "account_name":
            account = record.account if getattr(record, "account_id", None) else None
            return account.name if account is not None else ""
        return getattr(record, name, "")

    return profile_of(object_name, read)


def profile_of_values(object_name: str, values: Any) -> Profile:
    """The profile of field values ({"last_name": ..., "account": Account | None, ...})."""

    def read(name: str) -> Any:
        if name == "account_name":
            account = values.get("account")
            return getattr(account, "name", "") if account is not None else ""
        return values.get(name, "")

    return profile_of(object_name, read)


def blocking_keys(object_name: str, profile: Profile) -> set[tuple[str, str]]:
    """The (kind, value) pairs under which a record is filed and looked up.

    People: `email`; `phone` (each E.164); `name` (last name, first initial) for a
    first name spelled otherwise; `company_person` (company key, first initial) for a
    last name spelled otherwise at the same company. Accounts: `company` (the key);
    `phone`; `company_city` (the key's first three characters and the city) for a
    name spelled otherwise in the same city.
    """
    keys: set[tuple[str, str]] = {("phone", phone) for phone in profile.phones}
    initial = profile.first_name[:1]
    if object_name == "Account":
        if profile.company:
            keys.add(("company", profile.company))
            if profile.city:
                prefix = profile.company[:COMPANY_BLOCK_PREFIX]
                keys.add(("company_city", f"{prefix}|{profile.city}"[:KEY_LENGTH]))
        return keys
    if profile.email:
        keys.add(("email", profile.email))
    if profile.last_name:
        keys.add(("name", f"{profile.last_name}|{initial}"[:KEY_LENGTH]))
    if profile.company:
        keys.add(("company_person", f"{profile.company}|{initial}"[:KEY_LENGTH]))
    return keys


def keys_of_records(object_name: str, records: Iterable[Any]) -> list[tuple[int, str, str]]:
    """(record id, kind, value) of every blocking key of the records."""
    return [
        (record.pk, kind, value)
        for record in records
        for kind, value in sorted(
            blocking_keys(object_name, profile_of_record(object_name, record))
        )
    ]
