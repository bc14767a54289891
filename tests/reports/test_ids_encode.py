"""core.ids.encode, rewritten for speed (issue 9's list reports), gives the ids the
original digit-by-digit code gave: the reference below is that code, unchanged."""

from __future__ import annotations

import random
import string

import pytest

from dealflow.core import ids

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
CHECKSUMS = string.ascii_uppercase + "012345"


def reference_encode(object_name: str, primary_key: int) -> str:
    """ids.encode before the rewrite (divmod by 62, then the checksum chunk by chunk)."""
    if not 0 < primary_key <= 62**12 - 1:
        raise ValueError(f"primary key out of range: {primary_key}")
    digits = []
    number = primary_key
    while number:
        number, remainder = divmod(number, 62)
        digits.append(ALPHABET[remainder])
    id15 = ids.KEY_PREFIXES[object_name] + "".join(reversed(digits)).rjust(12, "0")
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for position, character in enumerate(id15[start : start + 5]):
            if "A" <= character <= "Z":
                bits |= 1 << position
        suffix.append(CHECKSUMS[bits])
    return id15 + "".join(suffix)


def primary_keys() -> list[int]:
    """Every key up to 20,000, each power of 62 and its neighbours, and random keys."""
    found = set(range(1, 20_001))
    for exponent in range(1, 13):
        for delta in (-1, 0, 1):
            found.add(62**exponent + delta)
    generator = random.Random(9)
    found.update(generator.randrange(1, 62**12) for _ in range(20_000))
    found.update(generator.randrange(1, 10**9) for _ in range(20_000))
    return sorted(key for key in found if 0 < key <= ids.MAX_PRIMARY_KEY)


@pytest.mark.parametrize("object_name", sorted(ids.KEY_PREFIXES))
def test_encode_gives_the_reference_ids(object_name):
    keys = primary_keys()
    assert [ids.encode(object_name, key) for key in keys] == [
        reference_encode(object_name, key) for key in keys
    ]


def test_known_ids_and_round_trip():
    assert ids.encode("Lead", 1) == "00Q000000000001EAA"
    assert ids.encode("Opportunity", ids.MAX_PRIMARY_KEY) == reference_encode(
        "Opportunity", ids.MAX_PRIMARY_KEY
    )
    for key in (1, 61, 62, 3843, 3844, 14_776_336, ids.MAX_PRIMARY_KEY):
        assert ids.decode(ids.encode("Account", key)) == ("Account", key)


@pytest.mark.parametrize("key", [0, -1, ids.MAX_PRIMARY_KEY + 1])
def test_out_of_range_keys_are_refused(key):
    with pytest.raises(ValueError, match="primary key out of range"):
        ids.encode("Lead", key)


def test_unknown_object_is_refused():
    with pytest.raises(KeyError):
        ids.encode("Widget", 1)


@pytest.mark.parametrize("object_name", sorted(ids.KEY_PREFIXES))
def test_encoder_gives_the_reference_ids(object_name):
    """The per-object encoder: its fast path (keys below 3844**2) and the keys above."""
    keys = [*primary_keys(), 3844**2 - 1, 3844**2, 3844**2 + 1]
    encode = ids.encoder(object_name)
    assert [encode(key) for key in keys] == [reference_encode(object_name, key) for key in keys]


@pytest.mark.parametrize("key", [0, -1, ids.MAX_PRIMARY_KEY + 1])
def test_encoder_refuses_out_of_range_keys(key):
    with pytest.raises(ValueError, match="primary key out of range"):
        ids.encoder("Lead")(key)


def test_encoder_refuses_an_unknown_object_at_once():
    with pytest.raises(KeyError):
        ids.encoder("Widget")
