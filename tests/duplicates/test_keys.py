"""Matching keys: emails, phones, company names without legal forms, person names."""

from __future__ import annotations

import pytest

from dealflow.core.matching import email_key
from dealflow.duplicates.keys import (
    Profile,
    blocking_keys,
    company_key,
    person_key,
    phone_key,
    profile_of_values,
    unaccented,
)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acme", "acme"),
        ("Acme Inc", "acme"),
        ("Acme, Inc.", "acme"),
        ("ACME INCORPORATED", "acme"),
        ("Acme Ltd", "acme"),
        ("Acme Limited", "acme"),
        ("Acme GmbH", "acme"),
        ("Müller GmbH & Co. KG", "muller"),
        ("Acme LLC", "acme"),
        ("Acme L.L.C.", "acme"),
        ("Acme S.A.", "acme"),
        ("Acme SA", "acme"),
        ("Acme S.A.S.", "acme"),
        ("Acme AG", "acme"),
        ("Acme B.V.", "acme"),
        ("Acme NV", "acme"),
        ("Acme Oy", "acme"),
        ("Acme AB", "acme"),
        ("Acme Pty Ltd", "acme"),
        ("Acme PLC", "acme"),
        ("Acme Corp.", "acme"),
        ("Acme Corporation", "acme"),
        ("Acme Co.", "acme"),
        ("Acme Company", "acme"),
        ("Acme SARL", "acme"),
        ("Acme S.p.A.", "acme"),
        ("Acme KK", "acme"),
        ("L'Oréal S.A.", "l oreal"),
        ("  Straße   GmbH ", "strasse"),
        ("The Company Store", "the company store"),  # only trailing legal words go
        ("Company", "company"),  # a name of legal words only keeps them
        ("Inc.", "inc"),
        ("", ""),
    ],
)
def test_company_key_drops_legal_forms_punctuation_and_case(name, key):
    assert company_key(name) == key


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("+1 (415) 555-0100", "+14155550100"),
        ("415-555-0100", "+14155550100"),  # no country code: DEALFLOW_PHONE_REGION (US)
        ("(415) 555 0100", "+14155550100"),
        ("011 49 30 1234567", "+49301234567"),  # the international prefix dialled from the US
        ("+49 30 1234567", "+49301234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 415 555 0100 ext. 12", "+14155550100"),  # the extension is not the number
        ("12", "12"),  # not a possible number: its digits
        ("call me", ""),  # unreadable, no digits
        ("", ""),
        (
            "\uff0b\uff11 \uff14\uff11\uff15 \uff15\uff15\uff15 \uff10\uff11\uff10\uff10",
            "+14155550100",
        ),  # full width
    ],
)
def test_phone_key_is_e164_with_a_default_region_else_digits(typed, key):
    assert phone_key(typed) == key


def test_phone_key_reads_national_numbers_in_the_region_given(settings):
    assert phone_key("030 1234567", region="DE") == "+49301234567"
    settings.DEALFLOW_PHONE_REGION = "GB"
    assert phone_key("020 7946 0958") == "+442079460958"


@pytest.mark.parametrize(
    "spelling",
    [
        "ana@münchen.example",
        "ANA@xn--mnchen-3ya.example",
        "Ana@Mu\u0308nchen.example",
        " ana@MÜNCHEN.example ",
    ],
)
def test_idn_emails_have_one_key(spelling):
    assert email_key(spelling) == "ana@münchen.example"
    profile = profile_of_values("Lead", {"email": spelling, "last_name": "X", "company": "Y"})
    assert profile.email == "ana@münchen.example"


@pytest.mark.parametrize(
    ("name", "key"),
    [("O'Brien", "o brien"), ("ÉLODIE", "elodie"), ("Jean-Luc", "jean luc"), ("  Ng ", "ng")],
)
def test_person_key_folds_and_drops_punctuation(name, key):
    assert person_key(name) == key


def test_blocking_keys_of_a_lead():
    profile = profile_of_values(
        "Lead",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company": "Analytical Engines Ltd",
            "email": "ADA@Engines.example",
            "phone": "415-555-0100",
            "mobile_phone": "+44 20 7946 0958",
        },
    )
    assert blocking_keys("Lead", profile) == {
        ("email", "ada@engines.example"),
        ("phone", "+14155550100"),
        ("phone", "+442079460958"),
        ("name", "lovelace|a"),
        ("company_person", "analytical engines|a"),
    }


def test_blocking_keys_of_a_contact_use_its_accounts_name():
    class Account:
        name = "Acme, Inc."

    profile = profile_of_values(
        "Contact", {"first_name": "", "last_name": "Ng", "account": Account()}
    )
    assert blocking_keys("Contact", profile) == {("name", "ng|"), ("company_person", "acme|")}


def test_blocking_keys_of_an_account():
    profile = profile_of_values(
        "Account", {"name": "Acme GmbH", "billing_city": "Berlin", "phone": "+49 30 1234567"}
    )
    assert blocking_keys("Account", profile) == {
        ("company", "acme"),
        ("company_city", "acm|berlin"),
        ("phone", "+49301234567"),
    }


def test_a_blank_record_has_no_keys():
    assert blocking_keys("Lead", Profile()) == set()
    assert blocking_keys("Account", Profile(city="berlin")) == set()


@pytest.mark.parametrize(
    ("folded", "plain"),
    [
        ("díaz", "diaz"),
        ("müller", "muller"),
        ("çelik", "celik"),
        ("nguyễn", "nguyen"),
        ("søren", "søren"),  # ø is a letter of its own
        ("łukasz", "łukasz"),
        ("ада", "ада"),
        ("कृष्ण", "कृष्ण"),  # Devanagari's vowel signs carry meaning and stay
        ("plain", "plain"),
    ],
)
def test_unaccented_drops_accents_only(folded, plain):
    assert unaccented(folded) == plain


@pytest.mark.django_db
def test_the_migration_refiles_the_records_whose_keys_had_accents():
    """duplicates 0003: old keys kept the accents; the records that had one are refiled,
    the others keep their keys untouched."""
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    from dealflow.duplicates.models import DuplicateKey
    from dealflow.duplicates.services import duplicate_keys_refresh
    from tests.factories import LeadFactory

    migration = importlib.import_module("dealflow.duplicates.migrations.0003_unaccented_keys")
    accented = LeadFactory(first_name="Lucy", last_name="Díaz", company="Müller", email="")
    plain = LeadFactory(first_name="Ada", last_name="Lovelace", company="Acme", email="")
    duplicate_keys_refresh(object_name="Lead")
    DuplicateKey.objects.filter(record_id=accented.pk, kind="name").update(value="díaz|l")
    DuplicateKey.objects.filter(record_id=accented.pk, kind="company_person").update(
        value="müller|l"
    )
    untouched = list(DuplicateKey.objects.filter(record_id=plain.pk).values_list("pk", "value"))

    migration.refile_accented_keys(apps, SimpleNamespace(connection=connection))

    assert sorted(
        DuplicateKey.objects.filter(record_id=accented.pk).values_list("kind", "value")
    ) == [("company_person", "muller|l"), ("name", "diaz|l")]
    assert list(DuplicateKey.objects.filter(record_id=plain.pk).values_list("pk", "value")) == (
        untouched
    )
