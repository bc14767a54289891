"""Lead conversion and leads by status against figures worked out by hand on the
`leads` fixture (tests/reports/conftest.py):

| created | owner | source | status | converted |
|---|---|---|---|---|
| 10 Jan | Alice | Web | Closed - Converted | yes |
| 10 Jan | Alice | Web (x2) | Open - Not Contacted | |
| 10 Jan | Bob | Web | Closed - Converted | yes |
| 10 Jan | Alice | Phone Inquiry | Open - Not Contacted | |
| 10 Jan | Alice | Phone Inquiry | Working - Contacted | |
| 20 Jan | queue Inbound | Web | Open - Not Contacted | |
| 5 Feb | Carol | Web (x2) | Closed - Converted | yes |
| 5 Feb | Bob | Trade Show | Closed - Converted | yes |
| 1 Mar | Alice | Web | Open - Not Contacted | |
"""

from decimal import Decimal as D

import pytest

from dealflow.core import ids
from dealflow.people.models import Queue
from tests.factories import LeadFactory
from tests.reports.conftest import run

pytestmark = pytest.mark.django_db


def test_lead_conversion_by_source(team, leads):
    assert run("lead_conversion", team.admin) == [
        {
            "lead_source": "Phone Inquiry",
            "leads": 2,
            "converted": 0,
            "conversion_rate": D("0.0000"),
        },
        {"lead_source": "Trade Show", "leads": 1, "converted": 1, "conversion_rate": D("1.0000")},
        {"lead_source": "Web", "leads": 8, "converted": 4, "conversion_rate": D("0.5000")},
    ]


def test_lead_conversion_by_owner_names_users_and_queues(team, leads):
    inbound = Queue.objects.get(name="Inbound")
    assert run("lead_conversion", team.admin, group_by="owner") == [
        {
            "owner": "Alice Adams",
            "owner_id": team.alice.public_id,
            "leads": 6,
            "converted": 1,
            "conversion_rate": D("0.1667"),
        },
        {
            "owner": "Bob Brown",
            "owner_id": team.bob.public_id,
            "leads": 2,
            "converted": 2,
            "conversion_rate": D("1.0000"),
        },
        {
            "owner": "Carol Clark",
            "owner_id": team.carol.public_id,
            "leads": 2,
            "converted": 2,
            "conversion_rate": D("1.0000"),
        },
        {
            "owner": "Inbound",
            "owner_id": ids.encode("Queue", inbound.pk),
            "leads": 1,
            "converted": 0,
            "conversion_rate": D("0.0000"),
        },
    ]


def test_lead_conversion_by_month_created(team, leads):
    assert run("lead_conversion", team.admin, group_by="month") == [
        {"month": "2026-01", "leads": 7, "converted": 2, "conversion_rate": D("0.2857")},
        {"month": "2026-02", "leads": 3, "converted": 3, "conversion_rate": D("1.0000")},
        {"month": "2026-03", "leads": 1, "converted": 0, "conversion_rate": D("0.0000")},
    ]


def test_lead_conversion_counts_only_what_the_user_may_see(team, leads):
    assert run("lead_conversion", team.alice) == [
        {
            "lead_source": "Phone Inquiry",
            "leads": 2,
            "converted": 0,
            "conversion_rate": D("0.0000"),
        },
        {"lead_source": "Web", "leads": 4, "converted": 1, "conversion_rate": D("0.2500")},
    ]
    # The manager of North sees Alice's and Bob's leads, not the queue's nor Carol's.
    assert run("lead_conversion", team.manny) == [
        {
            "lead_source": "Phone Inquiry",
            "leads": 2,
            "converted": 0,
            "conversion_rate": D("0.0000"),
        },
        {"lead_source": "Trade Show", "leads": 1, "converted": 1, "conversion_rate": D("1.0000")},
        {"lead_source": "Web", "leads": 5, "converted": 2, "conversion_rate": D("0.4000")},
    ]


def test_lead_conversion_filters(team, leads):
    january = run("lead_conversion", team.admin, period_start="2026-01-01", period_end="2026-01-31")
    assert [(row["lead_source"], row["leads"], row["converted"]) for row in january] == [
        ("Phone Inquiry", 2, 0),
        ("Web", 5, 2),
    ]
    # The period's last day counts whole (created at noon on 1 March).
    assert (
        run("lead_conversion", team.admin, period_start="2026-03-01", period_end="2026-03-01")[0][
            "leads"
        ]
        == 1
    )
    assert [
        (row["lead_source"], row["leads"])
        for row in run("lead_conversion", team.admin, owner_id=team.bob.public_id)
    ] == [
        ("Trade Show", 1),
        ("Web", 1),
    ]
    assert [
        (row["lead_source"], row["leads"])
        for row in run("lead_conversion", team.admin, team_id=team.south.pk)
    ] == [("Web", 2)]
    # The source matches as the picklist spells it.
    assert [
        (row["lead_source"], row["leads"])
        for row in run("lead_conversion", team.admin, lead_source="web")
    ] == [("Web", 8)]


def test_lead_conversion_of_a_single_lead(team):
    LeadFactory(owner_user=team.alice, lead_source="Web")
    assert run("lead_conversion", team.alice) == [
        {"lead_source": "Web", "leads": 1, "converted": 0, "conversion_rate": D("0.0000")}
    ]
    assert run("lead_conversion", team.bob) == []


def test_leads_by_status(team, leads):
    assert run("leads_by_status", team.admin) == [
        {"lead_source": "Phone Inquiry", "status": "Open - Not Contacted", "leads": 1},
        {"lead_source": "Phone Inquiry", "status": "Working - Contacted", "leads": 1},
        {"lead_source": "Trade Show", "status": "Closed - Converted", "leads": 1},
        {"lead_source": "Web", "status": "Open - Not Contacted", "leads": 4},
        {"lead_source": "Web", "status": "Closed - Converted", "leads": 4},
    ]
    assert run("leads_by_status", team.carol) == [
        {"lead_source": "Web", "status": "Closed - Converted", "leads": 2}
    ]
    assert run("leads_by_status", team.admin, period_start="2026-02-01", lead_source="Web") == [
        {"lead_source": "Web", "status": "Open - Not Contacted", "leads": 1},
        {"lead_source": "Web", "status": "Closed - Converted", "leads": 2},
    ]


def test_a_row_lists_its_records_through_the_list_filters(team, leads):
    from dealflow.reports.definitions import report_filters_parse, report_run

    filters = report_filters_parse({"period_start": "2026-01-01", "owner_id": team.alice.public_id})
    rows = report_run("leads_by_status", user=team.admin, filters=filters).rows
    assert rows[0]["drilldown"] == {
        "object": "Lead",
        "filters": {
            "owner": team.alice.public_id,
            "lead_source": "Phone Inquiry",
            "status": "Open - Not Contacted",
            "created_after": "2026-01-01T00:00:00+00:00",
        },
    }


def test_a_month_lists_the_leads_created_that_month(team, leads):
    from dealflow.reports.definitions import report_filters_parse, report_run

    filters = report_filters_parse({"group_by": "month", "period_end": "2026-02-10"})
    rows = report_run("lead_conversion", user=team.admin, filters=filters).rows
    assert [(row["month"], row["drilldown"]["filters"]) for row in rows] == [
        (
            "2026-01",
            {
                "created_after": "2026-01-01T00:00:00+00:00",
                "created_before": "2026-02-01T00:00:00+00:00",
            },
        ),
        (
            "2026-02",
            {
                "created_after": "2026-02-01T00:00:00+00:00",
                "created_before": "2026-02-11T00:00:00+00:00",
            },
        ),
    ]
