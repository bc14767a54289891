"""Home, "My work": my open leads by status, tasks due, deals closing this month, recents."""

from __future__ import annotations

import calendar
import datetime
import re

import pytest

from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import LeadStatus
from dealflow.sales.models import OpportunityStage, TaskStatus
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TaskFactory,
)
from tests.web.helpers import XSS, queries_of, text

pytestmark = pytest.mark.django_db


def month_days(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    return today.replace(day=1), today.replace(day=calendar.monthrange(today.year, today.month)[1])


def section(page: str, heading_id: str) -> str:
    """The HTML of the home section labelled by `heading_id`."""
    start = page.index(f'aria-labelledby="{heading_id}"')
    return page[start : page.index("</section>", start)]


def test_my_open_leads_by_status_with_links(signed_in, rep, other_rep):
    working = LeadStatus.objects.get(name="Working - Contacted")
    LeadFactory.create_batch(2, owner_user=rep)  # the default status: Open - Not Contacted
    LeadFactory(owner_user=rep, status=working)
    LeadFactory(owner_user=rep, status=LeadStatus.objects.get(name="Closed - Not Converted"))
    LeadFactory(
        owner_user=rep,
        status=LeadStatus.objects.get(name="Closed - Converted"),
        is_converted=True,
    )
    LeadFactory(owner_user=other_rep)

    leads = section(text(signed_in.get("/")), "home-leads")

    assert "My open leads (3)" in leads
    items = re.findall(r'<a href="([^"]+)">([^<]+)</a><span class="badge[^"]*">(\d+)</span>', leads)
    assert items == [
        (
            f"/leads/?owner={rep.public_id}&amp;status=Open+-+Not+Contacted",
            "Open - Not Contacted",
            "2",
        ),
        (
            f"/leads/?owner={rep.public_id}&amp;status=Working+-+Contacted",
            "Working - Contacted",
            "1",
        ),
    ]


def test_my_tasks_due_today_and_overdue(signed_in, rep, other_rep, today):
    contact = ContactFactory(owner=rep)
    TaskFactory(
        subject="Overdue one",
        due_date=today - datetime.timedelta(days=3),
        contact=contact,
        owner=rep,
    )
    TaskFactory(subject="Today one", due_date=today, contact=contact, owner=rep)
    TaskFactory(
        subject="Tomorrow one",
        due_date=today + datetime.timedelta(days=1),
        contact=contact,
        owner=rep,
    )
    TaskFactory(subject="Undated one", contact=contact, owner=rep)
    TaskFactory(
        subject="Done one", due_date=today, contact=contact, owner=rep, status=TaskStatus.COMPLETED
    )
    TaskFactory(subject="Their one", due_date=today, contact=contact, owner=other_rep)

    tasks = section(text(signed_in.get("/")), "home-tasks")

    assert "My tasks due today and overdue (2)" in tasks
    shown = [
        row[1]
        for row in re.findall(
            r"<tr id=\"task-[^\"]+\"([^>]*)>\s*<td>.*?</td>\s*<td>([^<]*)</td>", tasks, re.S
        )
    ]
    assert shown == ["Overdue one", "Today one"]
    assert tasks.count(">Overdue</span>") == 1


def test_my_open_opportunities_closing_this_month_with_the_total(signed_in, rep, other_rep, today):
    first, last = month_days(today)
    won = OpportunityStage.objects.get(name="Closed Won")
    OpportunityFactory(name="Early", close_date=first, amount=1000, owner=rep)
    OpportunityFactory(name="Late", close_date=last, amount="500.50", owner=rep)
    OpportunityFactory(name="No amount", close_date=last, amount=None, owner=rep)
    OpportunityFactory(
        name="Next month", close_date=last + datetime.timedelta(days=1), amount=7, owner=rep
    )
    OpportunityFactory(
        name="Won already",
        close_date=first,
        amount=9,
        owner=rep,
        stage=won,
        is_closed=True,
        is_won=True,
    )
    OpportunityFactory(name="Theirs", close_date=first, amount=9, owner=other_rep)

    closing = section(text(signed_in.get("/")), "home-closing")

    assert f"closing in {first:%B %Y} (3)" in closing
    rows = re.findall(
        r"<tr><td><a [^>]+>([^<]+)</a></td><td>([^<]*)</td><td>([^<]*)</td><td class=\"text-end\">([^<]*)</td></tr>",
        closing,
    )
    assert rows == [
        ("Early", "Prospecting", first.isoformat(), "1,000.00"),
        ("Late", "Prospecting", last.isoformat(), "500.50"),
        ("No amount", "Prospecting", last.isoformat(), ""),
    ]
    assert "data-total>1,500.50</td>" in closing


def test_recently_viewed_newest_first_and_only_what_is_still_visible(signed_in, rep, other_rep):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.PRIVATE)
    account = AccountFactory(name="Acme", owner=rep)
    contact = ContactFactory(first_name="Ann", last_name="Able", owner=rep)
    lead = LeadFactory(first_name="Lee", last_name="Lead", owner_user=rep)
    deal = OpportunityFactory(name="Moved Deal", owner=rep)
    gone = AccountFactory(name="Gone Co", owner=rep)
    for url in (
        f"/accounts/{gone.public_id}/",
        f"/opportunities/{deal.public_id}/",
        f"/accounts/{account.public_id}/",
        f"/contacts/{contact.public_id}/",
        f"/leads/{lead.public_id}/",
    ):
        signed_in.get(url)
    session = signed_in.session
    session["recently_viewed"] = [
        ["Lead", lead.public_id],
        ["Contact", contact.public_id],
        ["Account", account.public_id],
        ["Opportunity", deal.public_id],
        ["Account", gone.public_id],
        ["Account", "not-an-id"],
    ]
    session.save()
    gone.delete()
    deal.owner = other_rep  # no longer the rep's, and opportunities are private
    deal.save()

    recent = section(text(signed_in.get("/")), "home-recent")

    assert re.findall(r'<a href="([^"]+)">([^<]+)</a> <span[^>]*>(\w+)</span>', recent) == [
        (f"/leads/{lead.public_id}/", "Lee Lead", "Lead"),
        (f"/contacts/{contact.public_id}/", "Ann Able", "Contact"),
        (f"/accounts/{account.public_id}/", "Acme", "Account"),
    ]


def test_home_escapes_record_names(signed_in, rep, today):
    account = AccountFactory(name=XSS, owner=rep)
    contact = ContactFactory(first_name=XSS, account=account, owner=rep)
    TaskFactory(subject=XSS, due_date=today, contact=contact, owner=rep)
    OpportunityFactory(name=XSS, close_date=today, owner=rep)
    signed_in.get(f"/accounts/{account.public_id}/")

    page = text(signed_in.get("/"))

    assert XSS not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4


def test_home_runs_the_same_queries_for_5_and_50_rows(signed_in, rep, today):
    first, _last = month_days(today)

    def make(count: int) -> None:
        for number in range(count):
            account = AccountFactory(owner=rep)
            contact = ContactFactory(account=account, owner=rep)
            deal = OpportunityFactory(account=account, close_date=first, amount=number, owner=rep)
            lead = LeadFactory(owner_user=rep)
            TaskFactory(due_date=today, contact=contact, opportunity=deal, owner=rep)
            TaskFactory(due_date=today, lead=lead, owner=rep)
            for url in (f"/accounts/{account.public_id}/", f"/contacts/{contact.public_id}/"):
                signed_in.get(url)
            signed_in.get(f"/opportunities/{deal.public_id}/")
            signed_in.get(f"/leads/{lead.public_id}/")

    make(5)
    with_5 = queries_of(signed_in, "/")
    make(45)
    assert queries_of(signed_in, "/") == with_5
