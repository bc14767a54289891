"""The duplicate scan: exact groups on a fixture, idempotent reruns, dismissed groups kept."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from dealflow.duplicates import scan
from dealflow.duplicates.models import DuplicateGroup, DuplicateGroupMember, DuplicateGroupStatus
from dealflow.duplicates.scan import duplicates_scan, group_signature
from dealflow.duplicates.services import duplicate_group_dismiss, duplicate_keys_refresh
from dealflow.duplicates.tasks import scan_duplicates
from dealflow.people.models import Role
from tests.factories import AccountFactory, ContactFactory, LeadFactory, UserFactory


def lead(first, last, company, email="", phone="", **extra):
    return LeadFactory(
        first_name=first, last_name=last, company=company, email=email, phone=phone, **extra
    )


@pytest.fixture
def base(db):
    """Leads with three duplicate groups among ten records, and look-alikes that are not."""
    leads = {
        # by name and phone, the phone spelled three ways
        "ana1": lead("Ana", "Lima", "Alpha", phone="+49 30 1234567"),
        "ana2": lead("ANA", "lima", "Beta", phone="+49 (30) 123 4567"),
        "ana3": lead("Ana", "Lima", "Gamma", mobile_phone="+49-30-1234567", email="a@x.example"),
        # by name and company (first name Jaro-Winkler, last name ratio, company key)
        "jon1": lead("Jonathan", "Snow", "Winterfell Ltd"),
        "jon2": lead("Jon", "Snow", "WINTERFELL", phone="+1 415 555 0100"),
        # joined to the same group by name and phone
        "jon3": lead("Jon", "Snow", "The Wall", phone="+1 415 555 0100"),
        "jon4": lead("jon", "SNOW", "Castle Black", phone="(415) 555-0100"),
        # by a last name spelled otherwise at the same company
        "kim1": lead("Kim", "Johnson", "Initech"),
        "kim2": lead("Kim", "Jonson", "Initech Inc."),
        # look-alikes: below a threshold, or converted
        "beth": lead("Beth", "Snow", "Winterfell"),  # Beth/Jonathan: not a first-name match
        "smith": lead("Ada", "Smith", "Hooli"),
        "smyth": lead("Ada", "Smyth", "Hooli"),  # ratio 80 < 90
        "gone": lead("Kim", "Johnson", "Initech", is_converted=True),
    }
    duplicate_keys_refresh(object_name="Lead")
    return leads


def groups(object_name="Lead"):
    return sorted(
        (
            sorted(group.members.values_list("record_id", flat=True)),
            group.rule,
            str(group.score),
            group.status,
        )
        for group in DuplicateGroup.objects.filter(object_type=object_name)
    )


def expected_groups(base):
    def ids(*names):
        return sorted(base[name].pk for name in names)

    return sorted(
        [
            (ids("ana1", "ana2", "ana3"), "Name and phone", "100.00", "open"),
            (ids("jon1", "jon2", "jon3", "jon4"), "Name and company", "85.42", "open"),
            (ids("kim1", "kim2"), "Name and company", "92.31", "open"),
        ]
    )


def test_scan_finds_exactly_the_groups(base):
    result = duplicates_scan(object_name="Lead")
    assert groups() == expected_groups(base)
    assert (result.groups, result.created, result.removed) == (3, 3, 0)
    assert DuplicateGroup.objects.get(rule="Name and phone").record_count == 3


def test_a_rerun_makes_no_second_group_and_keeps_dismissed_ones(base):
    duplicates_scan(object_name="Lead")
    first_ids = set(DuplicateGroup.objects.values_list("id", flat=True))
    admin = UserFactory(role=Role.ADMIN)
    email_group = DuplicateGroup.objects.get(rule="Name and phone")
    duplicate_group_dismiss(actor=admin, group_id=email_group.pk)

    result = duplicates_scan(object_name="Lead")

    assert (result.groups, result.created, result.removed) == (3, 0, 0)
    assert set(DuplicateGroup.objects.values_list("id", flat=True)) == first_ids
    assert DuplicateGroup.objects.get(pk=email_group.pk).status == DuplicateGroupStatus.DISMISSED
    assert DuplicateGroupMember.objects.count() == 9


def test_a_group_no_longer_found_is_removed_and_a_grown_one_replaces_it(base):
    duplicates_scan(object_name="Lead")
    kim = DuplicateGroup.objects.get(
        signature=group_signature("Lead", [base["kim1"].pk, base["kim2"].pk])
    )
    newcomer = lead("Kim", "Johnsonn", "Initech")
    duplicate_keys_refresh(object_name="Lead", record_ids=[newcomer.pk])

    result = duplicates_scan(object_name="Lead")

    assert (result.created, result.removed) == (1, 1)
    assert not DuplicateGroup.objects.filter(pk=kim.pk).exists()
    grown = DuplicateGroup.objects.get(
        signature=group_signature("Lead", [base["kim1"].pk, base["kim2"].pk, newcomer.pk])
    )
    assert grown.record_count == 3


@pytest.mark.parametrize(("window", "found"), [(500, 2), (4, 1)])
def test_a_block_beyond_max_block_is_compared_in_overlapping_windows(
    db, monkeypatch, window, found
):
    monkeypatch.setattr(scan, "MAX_BLOCK", window)
    companies = ["Initech", "Hooli", "Globex", "Umbrella", "Cyberdyne", "Soylent", "Tyrell",
                 "Vandelay", "Wonka", "Oscorp"]  # fmt: skip
    # one name block ("snow|j") of 12, ordered by id: the first pair is adjacent, the
    # second ten records apart
    initech = lead("Jon", "Snow", companies[0])
    near = lead("Jonathan", "Snow", "Initech Ltd")
    hooli = lead("Jon", "Snow", companies[1])
    for company in companies[2:]:
        lead("Jon", "Snow", company)
    far = lead("Jon", "Snow", "Hooli XYZ")  # no company key in common with "Hooli"
    duplicate_keys_refresh(object_name="Lead")
    duplicates_scan(object_name="Lead")
    expected = [
        (sorted([initech.pk, near.pk]), "Name and company", "85.42", "open"),
        (sorted([hooli.pk, far.pk]), "Name and company", "71.43", "open"),
    ]
    assert groups() == sorted(expected[:found])


def test_accounts_and_contacts_are_scanned(db):
    owner = UserFactory()
    acme = AccountFactory(name="Acme, Inc.", billing_city="Berlin", owner=owner)
    acme_gmbh = AccountFactory(name="ACME GmbH", owner=owner)
    wonka = AccountFactory(name="Wonka Bars", billing_city="Paris", owner=owner)
    wonkz = AccountFactory(name="Wonka Barz", billing_city="paris", owner=owner)
    AccountFactory(name="Wonka Barn", billing_city="Lyon", owner=owner)  # another city
    ContactFactory(first_name="Jon", last_name="Snow", account=acme, email="js@münchen.example")
    ContactFactory(
        first_name="J.", last_name="Stark", account=wonka, email="JS@xn--mnchen-3ya.example"
    )
    for object_name in ("Account", "Contact"):
        duplicate_keys_refresh(object_name=object_name)

    results = scan_duplicates.delay(["Account", "Contact"]).get()

    assert [result["groups"] for result in results] == [2, 1]
    assert [(g[0], g[1]) for g in groups("Account")] == sorted(
        [
            (sorted([acme.pk, acme_gmbh.pk]), "Company"),
            (sorted([wonka.pk, wonkz.pk]), "Company and city"),
        ]
    )
    assert [g[1] for g in groups("Contact")] == ["Email"]


def test_the_command_scans_and_refreshes(base, capsys):
    call_command("duplicates", "refresh-keys", "--object", "leads")
    call_command("duplicates", "scan", "--object", "leads")
    output = capsys.readouterr().out.splitlines()
    assert output[0] == "Lead: 31 keys written."
    assert output[1].startswith("Lead: 3 duplicate groups (3 new, 0 no longer found) from ")
    assert groups() == expected_groups(base)


def test_the_scan_matches_names_whatever_their_accents(db):
    diaz = lead("Lucy", "Díaz", "Acme")
    plain = lead("Lucy", "Diaz", "ACME Inc.")
    other = lead("Lucia", "Dias", "Acme")  # Jaro-Winkler and ratio below the thresholds
    duplicate_keys_refresh(object_name="Lead")

    duplicates_scan(object_name="Lead")

    assert groups() == [(sorted([diaz.pk, plain.pk]), "Name and company", "100.00", "open")]
    assert other.pk not in DuplicateGroupMember.objects.values_list("record_id", flat=True)
