import pytest
from hypothesis import given
from hypothesis import strategies as st

from dealflow.core import ids

object_names = st.sampled_from(sorted(ids.KEY_PREFIXES))
primary_keys = st.integers(min_value=1, max_value=ids.MAX_PRIMARY_KEY)


@given(object_names, primary_keys)
def test_encode_then_decode_returns_the_same_record(object_name, primary_key):
    public_id = ids.encode(object_name, primary_key)

    assert len(public_id) == 18
    assert public_id.startswith(ids.KEY_PREFIXES[object_name])
    assert ids.decode(public_id) == (object_name, primary_key)
    assert ids.decode(public_id[:15], object_name) == (object_name, primary_key)


@given(object_names, primary_keys)
def test_checksum_encodes_the_case_of_each_five_characters(object_name, primary_key):
    public_id = ids.encode(object_name, primary_key)
    for chunk, checksum_character in zip(range(3), public_id[15:], strict=True):
        bits = ids.CHECKSUM_ALPHABET.index(checksum_character)
        for position in range(5):
            character = public_id[chunk * 5 + position]
            assert bool(bits & (1 << position)) == character.isupper()


@given(object_names, primary_keys, st.integers(min_value=0, max_value=14))
def test_changing_the_case_of_a_letter_breaks_the_checksum(object_name, primary_key, position):
    public_id = ids.encode(object_name, primary_key)
    character = public_id[position]
    if not character.isalpha():
        return
    tampered = public_id[:position] + character.swapcase() + public_id[position + 1 :]
    with pytest.raises(ids.InvalidIdError, match="checksum"):
        ids.decode(tampered)


def test_known_ids_match_salesforce_shape():
    assert ids.encode("Lead", 1) == "00Q000000000001EAA"
    assert ids.encode("Account", 62) == "001000000000010AAA"
    assert ids.encode("Opportunity", 61) == "00600000000000zAAA"
    assert ids.encode("Contact", 36) == "00300000000000aAAA"
    assert ids.encode("Contact", 10) == "00300000000000AAAQ"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "15- or 18-character"),
        ("00Q00000000000", "15- or 18-character"),
        ("00Q00000000000!AAA", "characters outside"),
        ("XYZ000000000001HAA", "unknown key prefix"),
        ("00Q000000000000EAA", "does not name a record"),
        ("00Q000000000001AAB", "wrong checksum"),
    ],
)
def test_decode_refuses_malformed_ids(text, message):
    with pytest.raises(ids.InvalidIdError, match=message):
        ids.decode(text)


def test_decode_refuses_an_id_of_another_object():
    with pytest.raises(ids.InvalidIdError, match="is a Lead id, not a Account id"):
        ids.decode(ids.encode("Lead", 5), "Account")


def test_encode_refuses_primary_keys_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        ids.encode("Lead", 0)
    with pytest.raises(ValueError, match="out of range"):
        ids.encode("Lead", ids.MAX_PRIMARY_KEY + 1)
