"""Premature conversions: opportunities from leads converted without reaching Qualified,
or with their qualification gate overridden (DOMAIN.md section 6), through the services
that write the conversion and its audit trail."""

import datetime

import pytest

from dealflow.leads.qualification import qualification_settings_set
from dealflow.leads.services import lead_convert, lead_create, lead_update
from tests.reports.conftest import at, run, status

pytestmark = pytest.mark.django_db


def new_lead(owner, name, status_name=None, source="Web"):
    data = {"last_name": name, "company": f"{name} Ltd", "lead_source": source}
    if status_name:
        data["status"] = status_name
    return lead_create(actor=owner, data=data, assign=False)


def convert(actor, lead, **options):
    return lead_convert(actor=actor, lead=lead, **options).opportunity_id


@pytest.fixture
def conversions(team, freeze_clock):
    freeze_clock(at(2, 1))
    made = {}
    # Qualified on the way: not premature.
    lead = new_lead(team.alice, "Updated")
    freeze_clock(at(2, 2))
    lead_update(actor=team.alice, lead=lead, data={"status": status("Qualified")})
    freeze_clock(at(2, 3))
    made["updated"] = (lead, convert(team.alice, lead))
    # Created as Qualified: not premature.
    lead = new_lead(team.alice, "Born", "Qualified")
    made["born"] = (lead, convert(team.alice, lead))
    # Qualified once, then back to Working: it reached Qualified, not premature.
    lead = new_lead(team.alice, "Back")
    lead_update(actor=team.alice, lead=lead, data={"status": status("Qualified")})
    lead_update(actor=team.alice, lead=lead, data={"status": status("Working - Contacted")})
    made["back"] = (lead, convert(team.alice, lead))
    # Never qualified: premature.
    freeze_clock(at(2, 10))
    lead = new_lead(team.alice, "Early", "Working - Contacted")
    made["early"] = (lead, convert(team.alice, lead))
    # Never qualified, but no opportunity: not listed.
    lead = new_lead(team.alice, "NoDeal")
    made["no_deal"] = (lead, convert(team.alice, lead, create_opportunity=False))
    # Carol's, never qualified: premature, but only the admin sees it.
    freeze_clock(at(2, 12))
    lead = new_lead(team.carol, "Southern", source="Trade Show")
    made["southern"] = (lead, convert(team.carol, lead))
    # Qualified, but BANT required and overridden by the manager: premature.
    qualification_settings_set(actor=team.admin, required_framework="BANT")
    freeze_clock(at(3, 2))
    lead = new_lead(team.bob, "Pushed", "Qualified")
    made["pushed"] = (
        lead,
        convert(team.manny, lead, qualification_override_reason="Customer insists"),
    )
    freeze_clock(at(3, 31))
    return made


def test_premature_conversions_list_each_lead_with_its_reason(team, conversions):
    rows = run("premature_conversions", team.admin)
    from dealflow.core import ids

    def row(key, owner, converted_date, reason):
        lead, opportunity_id = conversions[key]
        return {
            "opportunity_id": ids.encode("Opportunity", opportunity_id),
            "opportunity": f"{lead.last_name} Ltd",
            "lead_id": lead.public_id,
            "lead": f"{lead.last_name} ({lead.last_name} Ltd)",
            "converted_date": converted_date,
            "owner": owner.get_full_name(),
            "owner_id": owner.public_id,
            "reason": reason,
        }

    assert rows == [
        row("pushed", team.bob, datetime.date(2026, 3, 2), "BANT gate overridden"),
        row(
            "southern",
            team.carol,
            datetime.date(2026, 2, 12),
            "Converted without reaching Qualified",
        ),
        row(
            "early", team.alice, datetime.date(2026, 2, 10), "Converted without reaching Qualified"
        ),
    ]


def test_premature_conversions_access_and_filters(team, conversions):
    def leads_of(user, **filters):
        return [row["lead"].split(" ")[0] for row in run("premature_conversions", user, **filters)]

    assert leads_of(team.alice) == ["Early"]
    assert leads_of(team.manny) == ["Pushed", "Early"]
    assert leads_of(team.admin, period_start="2026-02-11", period_end="2026-02-28") == ["Southern"]
    assert leads_of(team.admin, owner_id=team.bob.pk) == ["Pushed"]
    assert leads_of(team.admin, team_id="South") == ["Southern"]
    assert leads_of(team.admin, lead_source="Trade Show") == ["Southern"]
    assert leads_of(team.carol, period_start="2026-03-01") == []


def test_premature_conversions_name_leads_as_their_record_does(team, freeze_clock):
    """The lead's label ("First Last (Company)") is made by the database: the same words
    as Lead.__str__ with and without a first name, and with text that SQL would treat
    specially."""
    freeze_clock(at(2, 1))
    made = []
    for first, last in (("Ana", "Ortiz"), ("", "Single"), ("O'Brien %", "_Lee")):
        lead = lead_create(
            actor=team.alice,
            data={"first_name": first, "last_name": last, "company": f"{last} & Co"},
            assign=False,
        )
        convert(team.alice, lead)
        lead.refresh_from_db()
        made.append(lead)
    labels = {row["lead_id"]: row["lead"] for row in run("premature_conversions", team.admin)}
    assert labels == {lead.public_id: str(lead) for lead in made}
    assert labels[made[0].public_id] == "Ana Ortiz (Ortiz & Co)"
    assert labels[made[1].public_id] == "Single (Single & Co)"
