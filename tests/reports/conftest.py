"""A small sales organisation whose report figures are worked out by hand in each test.

People: Alice Adams and Bob Brown (reps, team North), Carol Clark (rep, team South),
Manny Moore (manager of North), Ada Admin (admin); leads and opportunities are private
(each rep sees only their own, the manager their team's, the admin everything).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest

from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import LeadStatus
from dealflow.people.models import Role
from dealflow.reports.definitions import report_filters_parse, report_run
from dealflow.sales.models import Opportunity
from dealflow.sales.services import opportunity_create, opportunity_update, task_create
from tests.factories import LeadFactory, QueueFactory, TeamFactory, UserFactory


def at(month: int, day: int, hour: int = 12) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, 0, tzinfo=datetime.UTC)


# The moment the reports are read: 31 March 2026, noon UTC (the site's time zone is UTC).
NOW = at(3, 31)


@dataclass
class People:
    alice: object
    bob: object
    carol: object
    manny: object
    admin: object
    north: object
    south: object


@pytest.fixture
def team(db):
    north = TeamFactory(name="North")
    south = TeamFactory(name="South")
    for object_name in ("Lead", "Opportunity", "Account", "Contact"):
        sharing_default_set(actor=None, object_name=object_name, access=Access.PRIVATE)
    return People(
        alice=UserFactory(username="alice", first_name="Alice", last_name="Adams", team=north),
        bob=UserFactory(username="bob", first_name="Bob", last_name="Brown", team=north),
        carol=UserFactory(username="carol", first_name="Carol", last_name="Clark", team=south),
        manny=UserFactory(
            username="manny", first_name="Manny", last_name="Moore", team=north, role=Role.MANAGER
        ),
        admin=UserFactory(username="ada", first_name="Ada", last_name="Admin", role=Role.ADMIN),
        north=north,
        south=south,
    )


def run(name: str, user, **filters) -> list[dict]:
    """A report's rows without the drill-down links (tested on their own); the filters
    given as the API and the command line give them (text, parsed)."""
    parsed = report_filters_parse({key: str(value) for key, value in filters.items()})
    rows = report_run(name, user=user, filters=parsed).rows
    return [{key: value for key, value in row.items() if key != "drilldown"} for row in rows]


def status(name: str) -> LeadStatus:
    return LeadStatus.objects.get(name=name)


@pytest.fixture
def leads(team, freeze_clock):
    """Eleven leads over three months (see test_leads.py for the figures)."""
    inbound = QueueFactory(name="Inbound")
    made = []

    def lead(when, owner, source, status_name="Open - Not Contacted", converted=False, queue=None):
        freeze_clock(when)
        made.append(
            LeadFactory(
                owner_user=None if queue else owner,
                owner_queue=queue,
                lead_source=source,
                status=status("Closed - Converted" if converted else status_name),
                is_converted=converted,
                converted_date=when.date() if converted else None,
            )
        )

    lead(at(1, 10), team.alice, "Web", converted=True)
    lead(at(1, 10), team.alice, "Web")
    lead(at(1, 10), team.alice, "Web")
    lead(at(1, 10), team.bob, "Web", converted=True)
    lead(at(1, 10), team.alice, "Phone Inquiry")
    lead(at(1, 10), team.alice, "Phone Inquiry", "Working - Contacted")
    lead(at(1, 20), None, "Web", queue=inbound)
    lead(at(2, 5), team.carol, "Web", converted=True)
    lead(at(2, 5), team.carol, "Web", converted=True)
    lead(at(2, 5), team.bob, "Trade Show", converted=True)
    lead(at(3, 1), team.alice, "Web")
    freeze_clock(NOW)
    return made


@dataclass
class Deals:
    d1: Opportunity
    d2: Opportunity
    d3: Opportunity
    d4: Opportunity
    d5: Opportunity
    d6: Opportunity
    d7: Opportunity


def create(owner, name, stage, amount, close_date, **extra):
    return opportunity_create(
        actor=owner,
        data={
            "name": name,
            "stage": stage,
            "amount": amount,
            "close_date": close_date,
            "lead_source": "Web",
            **extra,
        },
    )


def update(owner, deal, **data):
    return opportunity_update(actor=owner, opportunity=deal, data=data)


@pytest.fixture
def deals(team, freeze_clock):
    """Seven deals created on 5 January 2026 and moved on later days:

    D1 Alice 1000.00: Prospecting, Needs Analysis on 15 Jan, Closed Won on 4 Feb.
    D2 Alice 3000.00: Prospecting, Closed Lost on 14 Feb.
    D3 Bob 500.50: Qualification, Closed Won on 6 Mar (source Partner Referral).
    D4 Carol 2000.00: Prospecting, Closed Won on 25 Jan.
    D5 Alice 8000.00 -> 10000.00 on 1 Feb: Value Proposition, open, closes 30 Apr.
    D6 Bob 400.00 Commit: Negotiation/Review, open, created at 18:00, closes 15 Mar (overdue).
    D7 Carol 999.99 Best Case: Value Proposition, open, closes 10 Apr; a task on 20 Mar.
    """
    freeze_clock(at(1, 5))
    d1 = create(team.alice, "D1", "Prospecting", "1000.00", "2026-03-31")
    d2 = create(team.alice, "D2", "Prospecting", "3000.00", "2026-03-31")
    d3 = create(
        team.bob, "D3", "Qualification", "500.50", "2026-03-31", lead_source="Partner Referral"
    )
    d4 = create(team.carol, "D4", "Prospecting", "2000.00", "2026-03-31")
    d5 = create(team.alice, "D5", "Value Proposition", "8000.00", "2026-04-30")
    d7 = create(
        team.carol, "D7", "Value Proposition", "999.99", "2026-04-10", forecast_category="Best Case"
    )
    freeze_clock(at(1, 5, 18))
    d6 = create(
        team.bob, "D6", "Negotiation/Review", "400.00", "2026-03-15", forecast_category="Commit"
    )
    freeze_clock(at(1, 15))
    update(team.alice, d1, stage="Needs Analysis")
    freeze_clock(at(1, 25))
    update(team.carol, d4, stage="Closed Won", close_date="2026-01-25")
    freeze_clock(at(2, 1))
    update(team.alice, d5, amount="10000.00")
    freeze_clock(at(2, 4))
    update(team.alice, d1, stage="Closed Won", close_date="2026-02-04")
    freeze_clock(at(2, 14))
    update(team.alice, d2, stage="Closed Lost", close_date="2026-02-14", loss_reason="Price")
    freeze_clock(at(3, 6))
    update(team.bob, d3, stage="Closed Won", close_date="2026-03-06")
    freeze_clock(at(3, 20))
    contact = _contact(team.carol)
    task_create(actor=team.carol, subject="Call", who=contact, what=d7)
    freeze_clock(NOW)
    return Deals(*(Opportunity.objects.get(pk=deal.pk) for deal in (d1, d2, d3, d4, d5, d6, d7)))


def _contact(owner):
    from tests.factories import ContactFactory

    return ContactFactory(owner=owner, account__owner=owner)


def money(text: str) -> Decimal:
    return Decimal(text)
