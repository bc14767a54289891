"""The activity timeline (web/timeline.py): changes shown by name, money, access."""

import pytest

from dealflow.core.services import sharing_default_set
from dealflow.sales.services import opportunity_create, opportunity_update
from dealflow.web.timeline import HIDDEN_RECORD, record_timeline
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db


def _changes(entry):
    return {change.label: (change.before, change.after) for change in entry.changes}


def test_a_change_names_the_record_and_formats_money(actor):
    first = AccountFactory(owner=actor, name="First Corp")
    second = AccountFactory(owner=actor, name="Second Corp")
    deal = opportunity_create(
        actor=actor,
        data={
            "name": "Deal",
            "close_date": "2026-12-31",
            "stage": "Prospecting",
            "account": first,
            "amount": "1234567.5",
        },
    )
    opportunity_update(actor=actor, opportunity=deal, data={"account": second})

    changed, created = record_timeline(actor, deal)

    before, after = _changes(changed)["Account"]
    assert (before.text, before.url) == ("First Corp", f"/accounts/{first.public_id}/")
    assert (after.text, after.url) == ("Second Corp", f"/accounts/{second.public_id}/")
    assert _changes(created)["Amount"][1].text == "1,234,567.50"
    assert _changes(created)["Owner"][1].text == actor.get_full_name()


def test_a_record_the_reader_may_not_see_is_not_named(actor):
    sharing_default_set(actor=None, object_name="Account", access="private")
    sharing_default_set(actor=None, object_name="Opportunity", access="read")
    theirs = AccountFactory(owner=UserFactory(), name="Secret Corp")
    deal = opportunity_create(
        actor=None,
        data={
            "name": "Deal",
            "close_date": "2026-12-31",
            "stage": "Prospecting",
            "account": theirs,
            "owner": UserFactory(),
        },
    )
    (created,) = record_timeline(actor, deal)

    account = _changes(created)["Account"][1]
    assert (account.text, account.url) == (HIDDEN_RECORD, "")


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("qualification_bant_budget_met", "BANT budget: met"),
        ("qualification_meddic_economic_buyer_note", "MEDDIC economic buyer: note"),
        ("qualification_override_reason", "Qualification override reason"),
        ("qualification_bant_budget_other", None),
        ("last_name", None),
    ],
)
def test_qualification_changes_are_said_in_words(name, label):
    from dealflow.leads.qualification import change_label

    assert change_label(name) == label
