"""Generated history for predictive scoring: closed leads whose conversion depends on
known features (lead source Web, industry Banking, demo requests), bulk-created."""

from __future__ import annotations

import datetime
import math
import random

from dealflow.automation.models import LeadEvent
from dealflow.leads.models import Lead, LeadStatus

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)
SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Trade Show", "Other"]
INDUSTRIES = ["Banking", "Retail", "Energy", "Media", "Education", "Healthcare"]
COUNTRIES = ["France", "Germany", "United States", ""]
TITLES = ["VP of Sales", "CEO", "Director of IT", "Office Manager", "Analyst", ""]


def conversion_log_odds(source: str, industry: str, demos: int) -> float:
    """The known rule: Web and Banking raise conversion strongly, each demo request too."""
    return -3.0 + 2.6 * (source == "Web") + 2.4 * (industry == "Banking") + 1.0 * demos


def statuses() -> tuple[LeadStatus, LeadStatus, LeadStatus]:
    """(converted, closed not converted, open) statuses of the default set."""
    converted = LeadStatus.objects.filter(is_converted=True).first()
    closed = LeadStatus.objects.filter(is_closed=True, is_converted=False).first()
    open_status = LeadStatus.objects.get(is_default=True)
    assert converted is not None and closed is not None
    return converted, closed, open_status


def lead_row(randomness: random.Random, owner, status, number: int, **values) -> Lead:
    source = values.pop("lead_source", randomness.choice(SOURCES))
    industry = values.pop("industry", randomness.choice(INDUSTRIES))
    return Lead(
        last_name=f"Generated{number}",
        company=f"Generated Co {number}",
        lead_source=source,
        industry=industry,
        country=randomness.choice(COUNTRIES),
        title=randomness.choice(TITLES),
        number_of_employees=randomness.choice([None, 5, 50, 500, 5000]),
        phone=randomness.choice(["", "+33 1 23 45 67 89"]),
        email=f"generated{number}@example.test" if randomness.random() < 0.8 else "",
        status=status,
        owner_user=owner,
        **values,
    )


def generate_history(owner, *, closed: int, open_leads: int = 0, seed: int = 7):
    """Create `closed` closed leads (converted by the known rule, with their demo requests
    and page views) and `open_leads` open ones; returns (converted count, open leads)."""
    randomness = random.Random(seed)
    converted_status, closed_status, open_status = statuses()
    leads, outcomes, demos = [], [], []
    for number in range(closed + open_leads):
        is_open = number >= closed
        lead = lead_row(randomness, owner, open_status, number)
        demo_requests = min(int(randomness.expovariate(1.2)), 4)
        converted = False
        if not is_open:
            chance = 1 / (
                1 + math.exp(-conversion_log_odds(lead.lead_source, lead.industry, demo_requests))
            )
            converted = randomness.random() < chance
            lead.status = converted_status if converted else closed_status
            lead.is_converted = converted
            lead.converted_date = NOW.date() - datetime.timedelta(days=10) if converted else None
        leads.append(lead)
        outcomes.append(converted)
        demos.append(demo_requests)
    Lead.objects.bulk_create(leads, batch_size=500)
    events = []
    for lead, count in zip(leads, demos, strict=True):
        moment = NOW - datetime.timedelta(days=20)
        events += [
            LeadEvent(lead=lead, type="demo_request", occurred_at=moment, created_at=moment)
            for _ in range(count)
        ]
        events.append(LeadEvent(lead=lead, type="page_view", occurred_at=moment, created_at=moment))
    LeadEvent.objects.bulk_create(events, batch_size=500)
    return sum(outcomes), leads[closed:]
