"""Matching keys: the one way text is compared for search, filters and duplicates.

Both databases compare the keys made here byte for byte, so matching is the same on
SQLite and PostgreSQL whatever their collations and case rules: `fold` applies Unicode
normalisation (NFC) and full case folding (`"Straße"` and `"STRASSE"` match, as do
`"Ёлкин"` and `"ёлкин"`, a final and a middle Greek sigma), `email_key` does that and also reads the
domain through IDNA so that `ana@münchen.example`, `ana@xn--mnchen-3ya.example` and the
decomposed spelling are one mailbox.
"""

from __future__ import annotations

import contextlib
import functools
import unicodedata

import idna
from confusable_homoglyphs import categories

# The largest code point: every text that starts with a prefix sorts between the prefix
# and the prefix followed by this (byte-wise UTF-8 order, which is code point order).
PREFIX_END = "\U0010ffff"


def fold(text: str) -> str:
    """NFC and full case folding ("caseless matching" of Unicode section 3.13)."""
    if text.isascii():  # NFC leaves ASCII as it is, and folding it is lower-casing
        return text.lower().strip()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold()).strip()


@functools.lru_cache(maxsize=16_384)
def _domain_key(domain: str) -> str:
    """The domain in its Unicode form, folded; as typed (folded) when IDNA refuses it.

    Remembered (a pure function; a base's domains repeat: an import's email keys read
    each domain through IDNA once)."""
    with contextlib.suppress(idna.IDNAError, UnicodeError, ValueError):
        domain = idna.decode(domain, uts46=True)
    return fold(domain)


def email_key(email: str) -> str:
    """The key of an email address: one per mailbox however it is spelled ("" for none).

    The whole address is case folded (DOMAIN.md section 2: unique case-insensitively),
    the domain read through IDNA (UTS 46), so A-labels and U-labels give one key.
    """
    email = unicodedata.normalize("NFC", email).strip()
    local, at, domain = email.rpartition("@")
    if not at:
        return fold(email)
    return f"{fold(local)}@{_domain_key(domain)}"


_NOT_ASCII_DIGITS = {code: None for code in range(128) if not "0" <= chr(code) <= "9"}


def phone_digits(value: str) -> str:
    """The digits of a phone number, for matching ('+1 (555) 010-2000' -> '15550102000').

    Decimal digits of any script count, as ASCII digits ('٠١٢' -> '012').
    """
    if value.isascii():  # ASCII's decimal digits are 0-9: drop every other character
        return value.translate(_NOT_ASCII_DIGITS)
    return "".join(str(int(character)) for character in value if character.isdecimal())


NORMALISERS = {"text": fold, "email": email_key, "digits": phone_digits}


def prefix_range(text: str) -> tuple[str, str]:
    """(low, high) such that a key starts with `text` exactly when low <= key < high."""
    return text, text + PREFIX_END


# Scripts one domain label may mix: Unicode's "Highly Restrictive" level (UTS #39
# section 5.2): one script, or Latin with the scripts Japanese, Chinese or Korean use.
_SCRIPT_SETS = (
    {"LATIN", "HAN", "HIRAGANA", "KATAKANA"},
    {"LATIN", "HAN", "BOPOMOFO"},
    {"LATIN", "HAN", "HANGUL"},
)


def _scripts(text: str) -> set[str]:
    return {categories.alias(character) for character in text} - {"COMMON", "INHERITED"}


@functools.lru_cache(maxsize=16_384)
def mixed_script_label(domain: str) -> str | None:
    """The first label of a domain whose letters mix scripts ("fictive" spelled with a
    Cyrillic letter ie, a look-alike), read in its Unicode form; None when there is none.

    Remembered per domain (a pure function; domains repeat). An ASCII domain without an
    A-label (`xn--`) has Latin letters only: None without reading it through IDNA."""
    if domain.isascii() and "xn--" not in domain.lower():
        return None
    with contextlib.suppress(idna.IDNAError, UnicodeError, ValueError):
        domain = idna.decode(domain, uts46=True)
    for label in domain.split("."):
        scripts = _scripts(label)
        if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_SETS):
            return label
    return None


def label_scripts(label: str) -> list[str]:
    """The scripts of a label's letters, for an error message (`['CYRILLIC', 'LATIN']`)."""
    return sorted(_scripts(label))
