"""Matching rules: each default rule, with exact scores just above and below its thresholds."""

from __future__ import annotations

import pytest

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.duplicates.keys import profile_of_values
from dealflow.duplicates.rules import (
    DEFAULT_RULES,
    best_match,
    checked_rules,
    condition_score,
    default_rules,
)


def lead(**values):
    return profile_of_values("Lead", {"last_name": "", "company": "", **values})


def account(**values):
    return profile_of_values("Account", {"name": "", **values})


def match(first, second, object_name="Lead"):
    result = best_match(DEFAULT_RULES[object_name], first, second)
    return None if result is None else (result.rule, result.score, result.scores)


def test_email_rule_matches_one_mailbox_however_spelled():
    assert match(
        lead(email="Ana@München.example", last_name="Ng", company="A"),
        lead(email="ana@xn--mnchen-3ya.example", last_name="Other", company="B"),
    ) == ("Email", 100.0, {"email": 100.0})


def test_blank_emails_never_match():
    assert match(lead(last_name="Ng", company="A"), lead(last_name="Xu", company="B")) is None


# Name and company: first name Jaro-Winkler >= 85, last name ratio >= 90, company
# token sort ratio >= 70 (legal forms dropped first).
@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (
            ("Jonathan", "Jon"),
            (
                "Name and company",
                85.42,
                {"first_name": 85.42, "last_name": 100.0, "company": 100.0},
            ),
        ),
        (("Beth", "Betty"), None),  # 84.83
        (("Dwayne", "Duane"), None),  # 84.00
    ],
)
def test_first_name_threshold_85_jaro_winkler(first, expected):
    one = lead(first_name=first[0], last_name="Lovelace", company="Analytical Engines")
    other = lead(first_name=first[1], last_name="Lovelace", company="Analytical Engines Ltd")
    assert match(one, other) == expected


@pytest.mark.parametrize(
    ("last", "score"),
    [
        (("Johnson", "Jonson"), 92.31),
        (("Richardson", "Richardsen"), 90.0),  # exactly the threshold: matches
        (("Robertson", "Robertsen"), None),  # 88.89
        (("Smith", "Smyth"), None),  # 80.00
    ],
)
def test_last_name_threshold_90_ratio(last, score):
    one = lead(first_name="Ada", last_name=last[0], company="Acme")
    other = lead(first_name="Ada", last_name=last[1], company="ACME Inc.")
    result = match(one, other)
    if score is None:
        assert result is None
    else:
        assert result == (
            "Name and company",
            score,
            {"first_name": 100.0, "last_name": score, "company": 100.0},
        )


@pytest.mark.parametrize(
    ("company", "score"),
    [
        (("Hooli", "Hooli XYZ"), 71.43),
        (("Umbrella", "Umbrela Labs"), 70.0),  # exactly the threshold
        (("Wayne Enterprises", "Wayne Ent"), None),  # 69.23
        (("Initech", "Initrode"), None),  # 66.67
        (("Engines Analytical", "Analytical Engines GmbH"), 100.0),  # word order does not count
    ],
)
def test_company_threshold_70_token_sort_ratio(company, score):
    one = lead(first_name="Ada", last_name="Lovelace", company=company[0])
    other = lead(first_name="Ada", last_name="Lovelace", company=company[1])
    result = match(one, other)
    if score is None:
        assert result is None
    else:
        assert result == (
            "Name and company",
            score,
            {"first_name": 100.0, "last_name": 100.0, "company": score},
        )


def test_a_blank_first_name_does_not_match_by_name():
    one = lead(last_name="Lovelace", company="Acme")
    other = lead(last_name="Lovelace", company="Acme")
    assert match(one, other) is None


def test_name_and_phone_rule_needs_exact_names_and_one_number_in_common():
    one = lead(first_name="Ada", last_name="Lovelace", company="Acme", phone="(415) 555-0100")
    other = lead(
        first_name="ADA", last_name="lovelace", company="Other", mobile_phone="+1 415 555 0100"
    )
    assert match(one, other) == (
        "Name and phone",
        100.0,
        {"first_name": 100.0, "last_name": 100.0, "phone": 100.0},
    )
    assert (
        match(
            one, lead(first_name="Ada", last_name="Lovelace", company="Other", phone="415 555 0101")
        )
        is None
    )
    assert (
        match(
            one,
            lead(first_name="Adam", last_name="Lovelace", company="Other", phone="415 555 0100"),
        )
        is None
    )


def test_names_match_whatever_their_accents():
    at_acme = {"company": "Acme"}
    assert match(
        lead(first_name="Lucy", last_name="Díaz", **at_acme),
        lead(first_name="Lucy", last_name="Diaz", **at_acme),
    ) == ("Name and company", 100.0, {"first_name": 100.0, "last_name": 100.0, "company": 100.0})
    assert match(
        lead(first_name="José", last_name="Núñez", company="A", phone="(415) 555-0100"),
        lead(first_name="JOSE", last_name="nunez", company="B", phone="+1 415 555 0100"),
    ) == ("Name and phone", 100.0, {"first_name": 100.0, "last_name": 100.0, "phone": 100.0})
    # Letters that are not a letter plus an accent stay: "ø" is not "o".
    assert (
        match(
            lead(first_name="Søren", last_name="Kierkegaard", company="B", phone="415 555 0100"),
            lead(first_name="Soren", last_name="Kierkegaard", company="C", phone="415 555 0100"),
        )
        is None
    )


def test_the_best_rule_is_reported():
    one = lead(first_name="Ada", last_name="Lovelace", company="Acme", email="ada@x.example")
    other = lead(first_name="Ada", last_name="Lovelace", company="Acme", email="ada@x.example")
    assert match(one, other)[0] == "Email"  # every rule holds at 100: the first


def test_account_company_key_rule():
    assert match(account(name="Acme, Inc."), account(name="ACME GmbH"), "Account") == (
        "Company",
        100.0,
        {"company": 100.0},
    )


@pytest.mark.parametrize(
    ("names", "score"),
    [
        (("Globex Systems", "Globex Systemz"), 92.86),
        (("Wonka Bars", "Wonka Barz"), 90.0),  # exactly the threshold
        (("Robertson", "Robertsen"), None),  # 88.89
    ],
)
def test_account_fuzzy_name_needs_the_same_city_or_phone(names, score):
    one = account(name=names[0], billing_city="Berlin", phone="+49 30 1234567")
    same_city = account(name=names[1], billing_city="BERLIN")
    same_phone = account(name=names[1], billing_city="Hamburg", phone="030 1234567")
    elsewhere = account(name=names[1], billing_city="Hamburg")
    if score is None:
        assert match(one, same_city, "Account") is None
        assert match(one, same_phone, "Account") is None
    else:
        assert match(one, same_city, "Account") == (
            "Company and city",
            score,
            {"company": score, "city": 100.0},
        )
        # the phone is read in the default region (US) when typed without a country code
        assert match(one, same_phone, "Account") is None
        assert match(
            one, account(name=names[1], billing_city="Hamburg", phone="+49 30 1234567"), "Account"
        ) == ("Company and phone", score, {"company": score, "phone": 100.0})
    assert match(one, elsewhere, "Account") is None


def test_condition_scores_are_zero_for_a_blank_side():
    condition = {"field": "company", "method": "ratio", "threshold": 0}
    assert condition_score(condition, lead(company=""), lead(company="Acme")) == 0.0


def test_checked_rules_fill_defaults_and_refuse_bad_keys():
    rules = checked_rules({"Lead": {"active": False}})
    assert rules["Lead"] == {**DEFAULT_RULES["Lead"], "active": False}
    assert rules["Account"] == default_rules()["Account"]
    bad = [
        ({"Opportunity": {}}, "Opportunity"),
        ({"Lead": {"rules": [{"name": "x", "conditions": []}]}}, "Lead.rules[0].conditions"),
        (
            {
                "Lead": {
                    "rules": [{"name": "x", "conditions": [{"field": "city", "method": "ratio"}]}]
                }
            },
            "Lead.rules[0].conditions[0].threshold",
        ),
        (
            {
                "Lead": {
                    "rules": [
                        {
                            "name": "x",
                            "conditions": [{"field": "city", "method": "ratio", "threshold": 101}],
                        }
                    ]
                }
            },
            "Lead.rules[0].conditions[0].threshold",
        ),
        (
            {"Account": {"rules": [{"name": "x", "conditions": [{"field": "email"}]}]}},
            "Account.rules[0].conditions[0].field",
        ),
        (
            {
                "Lead": {
                    "rules": [
                        {
                            "name": "x",
                            "conditions": [{"field": "email", "method": "ratio", "threshold": 5}],
                        }
                    ]
                }
            },
            "Lead.rules[0].conditions[0].method",
        ),
        ({"Lead": {"record_level_security": "sometimes"}}, "Lead.record_level_security"),
        ({"Lead": {"colour": 1}}, "Lead.colour"),
    ]
    for value, field in bad:
        with pytest.raises(DomainError) as refused:
            checked_rules(value)
        assert (refused.value.code, refused.value.fields) == (ErrorCode.INVALID_FIELD, [field])
