"""Salesforce-shaped public record ids.

An id is a 3-character key prefix naming the object, the primary key in base 62 padded
to 12 characters, and a 3-character suffix that encodes which of the first 15
characters are upper case. The suffix lets a case-insensitive system (a spreadsheet,
a URL lower-cased by a proxy) still tell two ids apart, exactly as Salesforce's
18-character ids do.
"""

from __future__ import annotations

import string
from collections.abc import Callable

BASE62_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
CHECKSUM_ALPHABET = string.ascii_uppercase + "012345"
BODY_LENGTH = 12
MAX_PRIMARY_KEY = 62**BODY_LENGTH - 1

KEY_PREFIXES: dict[str, str] = {
    "Lead": "00Q",
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "User": "005",
    "Queue": "00G",
    "OpportunityContactRole": "00K",
    "Task": "00T",
}
OBJECTS_BY_PREFIX = {prefix: name for name, prefix in KEY_PREFIXES.items()}


class InvalidIdError(ValueError):
    """The text is not a well-formed id (of the expected object)."""


def _to_base62(number: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62_ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(BODY_LENGTH, "0")


def _from_base62(text: str) -> int:
    number = 0
    for character in text:
        number = number * 62 + BASE62_ALPHABET.index(character)
    return number


def checksum(id15: str) -> str:
    """The 3-character case checksum of a 15-character id."""
    suffix = []
    for chunk_start in (0, 5, 10):
        bits = 0
        for position, character in enumerate(id15[chunk_start : chunk_start + 5]):
            if "A" <= character <= "Z":
                bits |= 1 << position
        suffix.append(CHECKSUM_ALPHABET[bits])
    return "".join(suffix)


# encode()'s tables: base 62 two digits at a time ("pairs"), and which of a pair's two
# characters are upper case (bit 0 the first, bit 1 the second), for the checksum.
_PAIRS = [high + low for high in BASE62_ALPHABET for low in BASE62_ALPHABET]
_PAIR_BASE = 62 * 62
_PAIR_UPPER = [int(pair[0].isupper()) | int(pair[1].isupper()) << 1 for pair in _PAIRS]
# A key below 3844**3 (5.7 x 10**10) has "000000" at the head of its body, so the first
# 9 characters and the first checksum character depend on the object only; the second
# checksum character on the pair of digits at positions 10-11 only (its first character
# is the chunk's fifth); the third on that pair's second character and the last four.
_SMALL_HEAD = 3844**3
_SECOND_CHECK = [CHECKSUM_ALPHABET[(bits & 1) << 4] for bits in _PAIR_UPPER]
_THIRD_BIT = [bits >> 1 for bits in _PAIR_UPPER]
_SECOND_PAIR_BITS = [bits << 1 for bits in _PAIR_UPPER]
_LOW_PAIR_BITS = [bits << 3 for bits in _PAIR_UPPER]


def _object_start(prefix: str) -> tuple[str, str]:
    body = prefix + "000000"
    return body, checksum(body + "000000")[0]


_OBJECT_STARTS = {name: _object_start(prefix) for name, prefix in KEY_PREFIXES.items()}


def encode(object_name: str, primary_key: int) -> str:
    """The 18-character public id of a record: key prefix, base-62 body, checksum.

    Same output as `_to_base62` and `checksum` (tests/reports/test_ids_encode.py checks
    it), computed two digits at a time from tables: under 1 µs an id rather than 6 to 11
    (list reports and exports encode one or two ids a row). Raises ValueError for a
    primary key outside 1..62**12 - 1 and KeyError for an unknown object name.
    """
    if not 0 < primary_key <= MAX_PRIMARY_KEY:
        raise ValueError(f"primary key out of range: {primary_key}")
    if primary_key >= _SMALL_HEAD:
        id15 = KEY_PREFIXES[object_name] + _to_base62(primary_key)
        return id15 + checksum(id15)
    start, first_check = _OBJECT_STARTS[object_name]
    number, low = divmod(primary_key, _PAIR_BASE)
    third, second = divmod(number, _PAIR_BASE)
    pairs = _PAIRS
    return (
        start
        + pairs[third]
        + pairs[second]
        + pairs[low]
        + first_check
        + _SECOND_CHECK[third]
        + CHECKSUM_ALPHABET[_THIRD_BIT[third] | _SECOND_PAIR_BITS[second] | _LOW_PAIR_BITS[low]]
    )


def encoder(object_name: str) -> Callable[[int], str]:
    """`encode` for one object, as a function of the primary key: for the lists that
    encode an id or two on each of many rows (list reports, exports). A key below
    3844**2 (14.8 million) is three lookups and two joins of ready-made parts: the
    head (prefix, zeros and the key's upper two digits), the last two digits, and the
    checksum, in 0.5 to 0.7 of `encode`'s time; larger keys go through `encode`. Same ids and
    errors as `encode` (tests/reports/test_ids_encode.py); KeyError for an unknown
    object name at once."""
    start, first_check = _OBJECT_STARTS[object_name]
    # The upper of two pairs is below 3844 and the third pair "00": its checksum bits
    # are _THIRD_BIT[0] = 0 and _SECOND_CHECK[0].
    heads = [start + _PAIRS[0] + pair for pair in _PAIRS]
    checks = [first_check + _SECOND_CHECK[0] + CHECKSUM_ALPHABET[bits] for bits in range(32)]
    pairs, second_bits, low_bits = _PAIRS, _SECOND_PAIR_BITS, _LOW_PAIR_BITS
    limit = _PAIR_BASE * _PAIR_BASE

    def encode_one(primary_key: int) -> str:
        if 0 < primary_key < limit:
            second, low = divmod(primary_key, _PAIR_BASE)
            return heads[second] + pairs[low] + checks[second_bits[second] | low_bits[low]]
        return encode(object_name, primary_key)

    return encode_one


def decode(public_id: str, object_name: str | None = None) -> tuple[str, int]:
    """Return (object name, primary key) of a 15- or 18-character id.

    An 18-character id must carry the right checksum; when `object_name` is given the
    prefix must be that object's.
    """
    if not isinstance(public_id, str) or len(public_id) not in (15, 18):
        raise InvalidIdError(f"{public_id!r} is not a 15- or 18-character id")
    if any(character not in BASE62_ALPHABET for character in public_id[:15]):
        raise InvalidIdError(f"{public_id!r} contains characters outside 0-9, A-Z, a-z")
    id15 = public_id[:15]
    if len(public_id) == 18 and public_id[15:] != checksum(id15):
        raise InvalidIdError(f"{public_id!r} has a wrong checksum")
    prefix = id15[:3]
    found_object = OBJECTS_BY_PREFIX.get(prefix)
    if found_object is None:
        raise InvalidIdError(f"{public_id!r} has an unknown key prefix {prefix!r}")
    if object_name is not None and found_object != object_name:
        raise InvalidIdError(f"{public_id!r} is a {found_object} id, not a {object_name} id")
    primary_key = _from_base62(id15[3:])
    if primary_key == 0:
        raise InvalidIdError(f"{public_id!r} does not name a record")
    return found_object, primary_key
