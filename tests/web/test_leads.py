"""The lead pages: list views, filters, sort, pages, bulk actions, detail, create, edit,
delete; access (404 on a private lead), escaping, CSRF and query counts."""

from __future__ import annotations

import datetime
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from dealflow.core.models import Access, AuditEvent
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead, LeadStatus
from dealflow.sales.models import Task
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    TaskFactory,
    UserFactory,
)
from tests.web.helpers import XSS, queries_of, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(client):
    user = UserFactory(username="rep", first_name="Riley", last_name="Rep")
    client.force_login(user)
    return user


@pytest.fixture
def private_leads():
    sharing_default_set(actor=None, object_name="Lead", access=Access.PRIVATE)


def converted_lead(**values):
    return LeadFactory(
        is_converted=True,
        converted_date=datetime.date(2026, 2, 3),
        status=LeadStatus.objects.get(name="Closed - Converted"),
        **values,
    )


def row_names(response) -> list[str]:
    """The Name column of the list, in order (the link text of each row's first cell)."""
    return [
        unescape(name)
        for name in re.findall(
            r'<td><a href="/leads/[0-9A-Za-z]{18}/">([^<]*)</a></td>', text(response)
        )
    ]


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# ---------------------------------------------------------------------------------------
# List: access, views, filters, search, sort, pages


def test_the_list_shows_a_rep_only_the_leads_they_may_see(client, rep, private_leads):
    LeadFactory(owner_user=rep, last_name="Mine")
    LeadFactory(last_name="Theirs")

    response = client.get("/leads/?view=open")

    assert response.status_code == 200
    assert row_names(response) == ["Robin Mine"]


def test_my_open_leads_is_the_default_view(client, rep):
    LeadFactory(owner_user=rep, last_name="Open")
    converted_lead(owner_user=rep, last_name="Done")
    LeadFactory(last_name="Colleague")

    response = client.get("/leads/")

    assert row_names(response) == ["Robin Open"]
    assert '<a class="nav-link active" href="?view=mine" aria-current="page">My open leads</a>' in (
        text(response)
    )


def test_each_list_view_is_its_default_filters(client, rep):
    inbound = QueueFactory(name="Inbound")
    inbound.members.add(rep)
    QueueFactory(name="Elsewhere")
    LeadFactory(owner_user=rep, last_name="Mine")
    LeadFactory(last_name="Colleague")
    LeadFactory(owner_user=None, owner_queue=inbound, last_name="Queued")
    converted_lead(owner_user=rep, last_name="Done")
    old = LeadFactory(owner_user=rep, last_name="Old")
    Lead.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=2))

    def names(view):
        return sorted(row_names(client.get(f"/leads/?view={view}")))

    assert names("open") == ["Robin Colleague", "Robin Mine", "Robin Old", "Robin Queued"]
    assert names("today") == ["Robin Colleague", "Robin Done", "Robin Mine", "Robin Queued"]
    assert names("converted") == ["Robin Done"]
    assert names(f"queue-{inbound.public_id}") == ["Robin Queued"]
    content = text(client.get("/leads/"))
    assert "Queue: Inbound" in content
    assert "Queue: Elsewhere</a>" not in content  # a queue view only for my queues


def test_a_default_filter_cleared_by_the_user_stays_cleared_on_the_next_links(client, rep):
    LeadFactory(owner_user=rep, last_name="Mine")
    LeadFactory(last_name="Colleague")

    response = client.get("/leads/?view=mine&owner_id=&order_by=last_name")

    assert row_names(response) == ["Robin Colleague", "Robin Mine"]
    company_link = re.search(r'href="(\?[^"]*order_by=company[^"]*)"', text(response)).group(1)
    assert parse_qs(urlsplit(unescape(company_link)).query, keep_blank_values=True)["owner_id"] == [
        ""
    ]
    assert len(row_names(client.get("/leads/" + unescape(company_link)))) == 2


def test_filters_narrow_the_list(client, rep):
    queue = QueueFactory(name="Inbound")
    LeadFactory(owner_user=rep, last_name="Web", lead_source="Web", rating="Hot", industry="Energy")
    LeadFactory(owner_user=rep, last_name="Phone", lead_source="Phone Inquiry", rating="Cold")
    working = LeadFactory(owner_user=rep, last_name="Working")
    working.status = LeadStatus.objects.get(name="Working - Contacted")
    working.save()
    LeadFactory(owner_user=None, owner_queue=queue, last_name="Queued")
    colleague = UserFactory()
    LeadFactory(owner_user=colleague, last_name="Colleague")

    def names(query):
        return sorted(row_names(client.get(f"/leads/?view=open&{query}")))

    assert names("lead_source=Web") == ["Robin Web"]
    assert names("rating=Cold") == ["Robin Phone"]
    assert names("industry=Energy") == ["Robin Web"]
    assert names("status=Working+-+Contacted") == ["Robin Working"]
    assert names(f"owner_id={colleague.public_id}") == ["Robin Colleague"]
    assert names(f"owner_id={queue.public_id}") == ["Robin Queued"]
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    assert names(f"created_after={tomorrow}") == []
    assert len(names(f"created_before={tomorrow}")) == 5
    # The form shows the filters as applied.
    content = text(client.get(f"/leads/?view=open&owner_id={queue.public_id}&rating=Hot"))
    assert f'<option value="{queue.public_id}" selected>Queue: Inbound</option>' in content
    assert '<option value="Hot" selected>Hot</option>' in content


def test_a_filter_that_cannot_be_read_is_shown_next_to_it_and_not_applied(client, rep):
    LeadFactory(owner_user=rep, last_name="Mine")

    response = client.get("/leads/?view=open&created_after=yesterday&owner_id=nonsense")

    assert response.status_code == 200
    assert row_names(response) == ["Robin Mine"]
    content = text(response)
    assert (
        '<div class="field-error" id="filter_created_after_error">expected a date YYYY-MM-DD</div>'
        in content
    )
    assert '<div class="field-error" id="filter_owner_id_error">expected a User id</div>' in content


def test_search_finds_leads_by_the_start_of_a_name_company_or_email(client, rep):
    LeadFactory(owner_user=rep, last_name="Lovelace", company="Analytical Engines")
    LeadFactory(owner_user=rep, last_name="Hopper", company="Navy")

    assert row_names(client.get("/leads/?q=love")) == ["Robin Lovelace"]
    assert row_names(client.get("/leads/?q=analyt")) == ["Robin Lovelace"]
    assert row_names(client.get("/leads/?q=zzz")) == []


def test_columns_sort_and_the_header_toggles_the_direction(client, rep):
    for name, company in (("Baker", "Zeta"), ("Adams", "Alpha"), ("Carter", "Mid")):
        LeadFactory(owner_user=rep, last_name=name, company=company)

    ascending = client.get("/leads/?order_by=company")
    assert row_names(ascending) == ["Robin Adams", "Robin Carter", "Robin Baker"]
    content = text(ascending)
    assert '<th scope="col" aria-sort="ascending">' in content
    assert 'href="?order_by=-company"' in content  # the header now sorts descending
    assert row_names(client.get("/leads/?order_by=-company")) == [
        "Robin Baker",
        "Robin Carter",
        "Robin Adams",
    ]
    assert row_names(client.get("/leads/?order_by=last_name")) == [
        "Robin Adams",
        "Robin Baker",
        "Robin Carter",
    ]


def test_an_unknown_sort_falls_back_to_the_default_with_a_message(client, rep):
    LeadFactory(owner_user=rep, last_name="Mine")

    response = client.get("/leads/?order_by=phone")

    assert response.status_code == 200
    assert row_names(response) == ["Robin Mine"]
    assert "order_by: &#x27;phone&#x27; is not one of" in text(response)


def test_pages_follow_the_next_page_cursor_and_go_back_to_the_first(client, rep):
    for number in range(55):
        LeadFactory(owner_user=rep, last_name=f"N{number:02d}")

    first = client.get("/leads/?order_by=last_name")
    assert row_names(first) == [f"Robin N{number:02d}" for number in range(50)]
    assert "First page" not in text(first)
    next_link = unescape(re.search(r'href="([^"]*)" rel="next">Next page', text(first)).group(1))
    assert "cursor=" in next_link

    second = client.get("/leads/" + next_link)
    assert row_names(second) == [f"Robin N{number:02d}" for number in range(50, 55)]
    assert "Next page" not in text(second)
    first_link = unescape(re.search(r'href="([^"]*)">First page', text(second)).group(1))
    assert "cursor" not in first_link
    assert len(row_names(client.get("/leads/" + first_link))) == 50


def test_a_cursor_from_another_order_starts_again_from_the_first_page(client, rep):
    for number in range(51):
        LeadFactory(owner_user=rep, last_name=f"N{number:02d}")
    next_link = unescape(
        re.search(r'href="([^"]*)" rel="next"', text(client.get("/leads/"))).group(1)
    )
    cursor = parse_qs(urlsplit(next_link).query)["cursor"][0]

    response = client.get(f"/leads/?order_by=last_name&cursor={cursor}")

    assert response.status_code == 200
    assert row_names(response)[0] == "Robin N00"
    assert "cursor: it was made for another order_by" in text(response)


# ---------------------------------------------------------------------------------------
# Bulk actions


def bulk(client, leads, **data):
    return client.post(
        "/leads/bulk/",
        {"lead_ids": [lead.public_id for lead in leads], "next": "/leads/?view=open", **data},
        follow=True,
    )


def test_bulk_change_owner_of_three_leads(client, rep):
    leads = LeadFactory.create_batch(3, owner_user=rep)
    untouched = LeadFactory(owner_user=rep)
    new_owner = UserFactory(first_name="Nora", last_name="New")

    response = bulk(client, leads, action="owner", owner_id=new_owner.public_id)

    assert response.redirect_chain == [("/leads/?view=open", 302)]
    assert shown_messages(response) == ["Owner changed to Nora New on 3 leads."]
    owners = dict(Lead.objects.values_list("pk", "owner_user_id"))
    assert [owners[lead.pk] for lead in leads] == [new_owner.pk] * 3
    assert owners[untouched.pk] == rep.pk


def test_bulk_change_owner_to_a_queue_and_status(client, rep):
    leads = LeadFactory.create_batch(2, owner_user=rep)
    queue = QueueFactory(name="Inbound")

    response = bulk(client, leads, action="owner", owner_id=queue.public_id)
    assert shown_messages(response) == ["Owner changed to queue Inbound on 2 leads."]
    assert set(Lead.objects.values_list("owner_queue_id", flat=True)) == {queue.pk}

    response = bulk(client, leads[:1], action="status", status="Qualified")
    assert shown_messages(response) == ["Status changed to Qualified on 1 lead."]
    assert Lead.objects.get(pk=leads[0].pk).status.name == "Qualified"


def test_a_refused_bulk_change_changes_none_of_the_leads(client, rep):
    first, last = LeadFactory.create_batch(2, owner_user=rep)
    done = converted_lead(owner_user=rep)
    new_owner = UserFactory()

    response = bulk(client, [first, done, last], action="owner", owner_id=new_owner.public_id)

    assert response.redirect_chain == [("/leads/?view=open", 302)]
    assert shown_messages(response) == [
        f"Nothing was changed: {done.first_name} {done.last_name} was converted on 3 Feb 2026 "
        "and can no longer be changed."
    ]
    assert set(Lead.objects.values_list("owner_user_id", flat=True)) == {rep.pk}
    assert not AuditEvent.objects.filter(action="update").exists()


def test_a_bulk_change_needs_leads_an_action_and_a_value(client, rep):
    lead = LeadFactory(owner_user=rep)

    assert shown_messages(bulk(client, [], action="owner", owner_id=rep.public_id)) == [
        "Nothing was changed: select at least one lead."
    ]
    assert shown_messages(bulk(client, [lead], action="owner", owner_id="")) == [
        "Nothing was changed: choose the new owner"
    ]
    assert shown_messages(bulk(client, [lead], action="status", status="")) == [
        "Nothing was changed: choose the new status"
    ]
    assert shown_messages(bulk(client, [lead])) == [
        "Nothing was changed: choose Change owner or Change status"
    ]
    assert shown_messages(bulk(client, [lead], action="status", status="Closed - Converted"))[
        0
    ].startswith(f"Nothing was changed: lead {lead.public_id}: status: ")


def test_bulk_goes_back_only_to_this_site(client, rep):
    lead = LeadFactory(owner_user=rep)
    response = client.post(
        "/leads/bulk/",
        {
            "lead_ids": [lead.public_id],
            "action": "status",
            "status": "Qualified",
            "next": "https://evil.test/",
        },
    )
    assert (response.status_code, response["Location"]) == (302, "/leads/")


def test_bulk_with_another_reps_private_lead_is_not_found_and_changes_nothing(
    client, rep, private_leads
):
    mine = LeadFactory(owner_user=rep)
    theirs = LeadFactory()

    response = client.post(
        "/leads/bulk/",
        {"lead_ids": [mine.public_id, theirs.public_id], "action": "status", "status": "Qualified"},
    )

    assert response.status_code == 404
    assert set(Lead.objects.values_list("status__name", flat=True)) == {"Open - Not Contacted"}
    assert client.get("/leads/bulk/").status_code == 405


# ---------------------------------------------------------------------------------------
# Create and edit


LEAD_FORM = {"last_name": "Hopper", "company": "Navy Labs", "email": "grace@navy.test"}


def test_create_without_a_company_shows_the_error_next_to_company(client, rep):
    response = client.post("/leads/new/", {**LEAD_FORM, "company": "", "owner_id": rep.public_id})

    assert response.status_code == 400
    assert '<div class="field-error" id="id_company_error">Company is required.</div>' in text(
        response
    )
    assert 'value="Hopper"' in text(response)  # what was typed is shown again
    assert Lead.objects.count() == 0


def test_create_a_lead(client, rep):
    page = client.get("/leads/new/")
    assert page.status_code == 200
    assert f'<option value="{rep.public_id}" selected>' in text(page)  # owner: me
    assert '<option value="Closed - Converted"' not in text(page)

    response = client.post(
        "/leads/new/",
        {**LEAD_FORM, "owner_id": rep.public_id, "status": "Open - Not Contacted", "rating": "Hot"},
        follow=True,
    )

    lead = Lead.objects.get()
    assert response.redirect_chain == [(f"/leads/{lead.public_id}/", 302)]
    assert (lead.last_name, lead.company, lead.rating, lead.owner_user_id) == (
        "Hopper",
        "Navy Labs",
        "Hot",
        rep.pk,
    )
    assert shown_messages(response) == ["Lead “Hopper” was created."]


def test_edit_a_lead(client, rep):
    lead = LeadFactory(owner_user=rep, last_name="Hopper", company="Navy")
    page = client.get(f"/leads/{lead.public_id}/edit/")
    assert page.status_code == 200
    assert 'value="Navy"' in text(page)

    response = client.post(
        f"/leads/{lead.public_id}/edit/",
        {
            "last_name": "Hopper",
            "company": "Navy Labs",
            "owner_id": rep.public_id,
            "status": "Working - Contacted",
            "number_of_employees": "120",
        },
        follow=True,
    )

    assert response.redirect_chain == [(f"/leads/{lead.public_id}/", 302)]
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.company, stored.status.name, stored.number_of_employees) == (
        "Navy Labs",
        "Working - Contacted",
        120,
    )
    assert shown_messages(response) == ["Lead “Robin Hopper” was saved."]


def test_an_edit_refused_by_the_service_shows_beside_the_field(client, rep):
    lead = LeadFactory(owner_user=rep, company="Navy")

    response = client.post(
        f"/leads/{lead.public_id}/edit/",
        {"last_name": "Hopper", "company": "Navy", "number_of_employees": "many"},
    )

    assert response.status_code == 400
    assert 'id="id_number_of_employees_error"' in text(response)
    assert Lead.objects.get(pk=lead.pk).last_name != "Hopper"


def test_a_converted_lead_cannot_be_edited(client, rep):
    lead = converted_lead(owner_user=rep, company="Navy")

    before = Lead.objects.values().get(pk=lead.pk)

    page = client.get(f"/leads/{lead.public_id}/edit/")

    # In words, without the lead's id, and no form to fill in for nothing.
    words = "This lead was converted on 3 Feb 2026 and can no longer be edited."
    assert f'<div class="alert alert-info mb-0" role="alert" id="lead-read-only">{words}</div>' in (
        page.content.decode()
    )
    assert '<form class="card"' not in page.content.decode()
    assert 'name="last_name"' not in page.content.decode()
    assert f'href="/leads/{lead.public_id}/">Back to the lead</a>' in page.content.decode()

    for posted in (
        {"last_name": "Hopper", "company": "Other"},
        {"last_name": "Hopper", "company": "Navy", "number_of_employees": "many"},
    ):
        response = client.post(f"/leads/{lead.public_id}/edit/", posted)

        assert response.status_code == 400
        assert words in text(response)
        assert lead.public_id not in text(response).replace(f"/leads/{lead.public_id}/", "")
        assert "is read-only" not in text(response)
        assert 'name="last_name"' not in response.content.decode()
    assert Lead.objects.values().get(pk=lead.pk) == before


# ---------------------------------------------------------------------------------------
# Detail


def test_the_detail_groups_the_fields_and_shows_the_timeline(client, rep):
    lead = LeadFactory(
        owner_user=rep,
        salutation="Ms.",
        last_name="Hopper",
        company="Navy",
        city="Arlington",
        description="Met at the fair",
        annual_revenue="1234567.5",
    )
    AuditEvent.objects.create(
        actor=rep,
        object_name="Lead",
        record_id=lead.pk,
        action="update",
        changes={"company": ["Old Navy", "Navy"]},
    )
    TaskFactory(lead=lead, owner=rep, subject="Call about the fair")

    response = client.get(f"/leads/{lead.public_id}/")

    assert response.status_code == 200
    content = text(response)
    assert '<h1 class="mb-1">Ms. Robin Hopper</h1>' in content
    for title in ("Lead Information", "Address Information", "Description", "Activity"):
        assert f">{title}</h2>" in content
    assert "<dt>City</dt><dd>Arlington</dd>" in content
    assert "<dt>Annual Revenue</dt><dd>1,234,567.50</dd>" in content
    assert "<dt>Owner</dt><dd>Riley Rep</dd>" in content
    assert "Old Navy → Navy" in content
    assert "Call about the fair" in content
    for action in ("edit", "convert", "delete"):
        assert f'href="/leads/{lead.public_id}/{action}/"' in content
    assert response.wsgi_request.session["recently_viewed"][0] == ["Lead", lead.public_id]


def test_the_detail_offers_a_task_form_about_the_lead(client, rep):
    lead = LeadFactory(owner_user=rep)
    content = text(client.get(f"/leads/{lead.public_id}/"))
    assert '<form method="post" action="/tasks/new/"' in content
    assert f'<input type="hidden" name="who_id" value="{lead.public_id}">' in content
    assert f'<input type="hidden" name="next" value="/leads/{lead.public_id}/">' in content


def test_a_converted_lead_links_what_it_became(client, rep):
    account = AccountFactory(name="Navy Labs", owner=rep)
    contact = ContactFactory(account=account, owner=rep, first_name="Grace", last_name="Hopper")
    opportunity = OpportunityFactory(account=account, owner=rep, name="Navy deal")
    lead = converted_lead(
        owner_user=rep,
        converted_account=account,
        converted_contact=contact,
        converted_opportunity=opportunity,
    )

    content = text(client.get(f"/leads/{lead.public_id}/"))

    assert "<dt>Converted Date</dt><dd>2026-02-03</dd>" in content
    assert f'<a href="/accounts/{account.public_id}/">Navy Labs</a>' in content
    assert f'<a href="/contacts/{contact.public_id}/">Grace Hopper</a>' in content
    assert f'<a href="/opportunities/{opportunity.public_id}/">Navy deal</a>' in content
    assert f"/leads/{lead.public_id}/edit/" not in content
    assert f"/leads/{lead.public_id}/convert/" not in content
    # Read-only: no task form (the service would refuse it), the contact named instead.
    assert 'action="/tasks/new/"' not in content
    assert (
        '<p class="text-secondary" id="converted-tasks">This lead is converted: log calls and'
        f' add tasks on\n      <a href="/contacts/{contact.public_id}/">its contact, Grace'
        " Hopper</a>.</p>"
    ) in content


# ---------------------------------------------------------------------------------------
# Delete


def test_delete_asks_first_then_deletes(client, rep):
    lead = LeadFactory(owner_user=rep, last_name="Hopper")
    TaskFactory(lead=lead, owner=rep)

    page = client.get(f"/leads/{lead.public_id}/delete/")
    assert page.status_code == 200
    assert "Delete lead Robin Hopper?" in text(page)
    assert '<button class="btn btn-danger" type="submit">Delete</button>' in text(page)
    assert Lead.objects.filter(pk=lead.pk).exists()

    response = client.post(f"/leads/{lead.public_id}/delete/", follow=True)

    assert response.redirect_chain == [("/leads/", 302)]
    assert shown_messages(response) == ["Lead “Robin Hopper” was deleted."]
    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert not Task.objects.exists()


def test_a_converted_lead_is_not_deleted(client, rep):
    lead = converted_lead(owner_user=rep)

    response = client.post(f"/leads/{lead.public_id}/delete/")

    assert response.status_code == 400
    assert "This lead was converted on 3 Feb 2026 and can no longer be deleted." in text(response)
    assert Lead.objects.filter(pk=lead.pk).exists()


# ---------------------------------------------------------------------------------------
# Access, escaping, CSRF


def test_a_rep_gets_404_on_another_reps_private_lead(client, rep, private_leads):
    theirs = LeadFactory(company="Secret Co")
    base = f"/leads/{theirs.public_id}"

    for path in (f"{base}/", f"{base}/edit/", f"{base}/delete/"):
        assert client.get(path).status_code == 404, path
    assert (
        client.post(f"{base}/edit/", {"last_name": "x", "company": "Mine now"}).status_code == 404
    )
    assert client.post(f"{base}/delete/").status_code == 404
    assert Lead.objects.get(pk=theirs.pk).company == "Secret Co"
    assert client.get("/leads/not-an-id/").status_code == 404


def test_a_lead_readable_but_not_editable_is_refused_on_save(client, rep):
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    theirs = LeadFactory(company="Their Co")

    assert client.get(f"/leads/{theirs.public_id}/").status_code == 200
    response = client.post(
        f"/leads/{theirs.public_id}/edit/", {"last_name": "x", "company": "Mine now"}
    )
    assert response.status_code == 403
    assert client.post(f"/leads/{theirs.public_id}/delete/").status_code == 403
    assert Lead.objects.get(pk=theirs.pk).company == "Their Co"


def test_user_data_is_escaped_on_the_list_and_the_detail(client, rep):
    lead = LeadFactory(owner_user=rep, last_name=XSS, company=XSS, website=XSS)

    for path in ("/leads/", f"/leads/{lead.public_id}/", f"/leads/{lead.public_id}/edit/"):
        content = text(client.get(path))
        assert XSS not in content, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content, path


def test_every_form_needs_its_csrf_token(rep):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(rep)
    lead = LeadFactory(owner_user=rep)
    pages = (
        "/leads/",
        "/leads/new/",
        f"/leads/{lead.public_id}/edit/",
        f"/leads/{lead.public_id}/delete/",
    )
    for path in pages:
        assert "csrfmiddlewaretoken" in text(browser.get(path)), path

    posts = {
        "/leads/new/": LEAD_FORM,
        f"/leads/{lead.public_id}/edit/": {"last_name": "x", "company": "Changed"},
        f"/leads/{lead.public_id}/delete/": {},
        "/leads/bulk/": {"lead_ids": [lead.public_id], "action": "status", "status": "Qualified"},
    }
    for path, data in posts.items():
        assert browser.post(path, data).status_code == 403, path
    assert Lead.objects.count() == 1
    stored = Lead.objects.get()
    assert (stored.company, stored.status.name) == (lead.company, "Open - Not Contacted")


# ---------------------------------------------------------------------------------------
# Query counts: they do not grow with the rows shown


# "mine" shows no queue's leads: one query fewer for the owners' names.
@pytest.mark.parametrize(("view", "expected"), [("mine", 12), ("open", 13)])
def test_the_list_runs_the_same_queries_for_5_and_50_leads(client, rep, view, expected):
    queue = QueueFactory()
    for number in range(5):
        LeadFactory(owner_user=rep) if number % 2 else LeadFactory(
            owner_user=None, owner_queue=queue
        )
    LeadFactory(owner_user=rep)
    five = queries_of(client, f"/leads/?view={view}")
    for number in range(45):
        LeadFactory(owner_user=rep) if number % 2 else LeadFactory(
            owner_user=None, owner_queue=queue
        )
    fifty = queries_of(client, f"/leads/?view={view}")

    assert five == fifty == expected


def test_the_detail_runs_the_same_queries_for_5_and_50_events_and_tasks(client, rep):
    lead = LeadFactory(owner_user=rep)

    def add(count):
        for number in range(count):
            AuditEvent.objects.create(
                actor=rep,
                object_name="Lead",
                record_id=lead.pk,
                action="update",
                changes={"title": [str(number), str(number + 1)]},
            )
            TaskFactory(lead=lead, owner=rep)

    add(5)
    five = queries_of(client, f"/leads/{lead.public_id}/")
    add(45)
    fifty = queries_of(client, f"/leads/{lead.public_id}/")

    # 10, the assignment decision, the qualification checklist, the score and the lead's
    # last touch for its service level (one query each); whether the web form created it
    # comes with the timeline's events.
    assert five == fifty == 14


# ---------------------------------------------------------------------------------------
# What the lead page says of where a lead came from (first-use polish)


def test_a_web_form_lead_says_the_web_form_created_it_not_the_admin_it_acts_as(client):
    from django.core.cache import cache

    from dealflow.people.models import Role

    cache.clear()  # the form's rate limit counts in the cache
    admin = UserFactory(username="avery", first_name="Avery", last_name="Stone", role=Role.ADMIN)
    form = {"last_name": "Quinn", "company": "Quinn Works", "email": "zelda@quinn.test"}
    assert Client(enforce_csrf_checks=True).post("/web-to-lead", form).status_code == 200
    by_form = Lead.objects.get(email="zelda@quinn.test")
    by_hand = LeadFactory(last_name="Hand", company="Typed In")
    AuditEvent.objects.create(
        actor=admin, object_name="Lead", record_id=by_hand.pk, action="create", changes={}
    )
    client.force_login(admin)

    page = text(client.get(f"/leads/{by_form.public_id}/"))
    typed = text(client.get(f"/leads/{by_hand.public_id}/"))

    assert "Created by the web form (Web-to-Lead)" in page
    assert "Created by Avery Stone" not in page
    assert "Created by Avery Stone" in typed
    assert "web form" not in typed
    event = AuditEvent.objects.get(object_name="Lead", record_id=by_form.pk, action="create")
    assert event.actor == admin  # who the form acts as stays recorded
    assert event.changes["channel"] == "web_to_lead"
    assert event.changes["last_name"] == [None, "Quinn"]
    cache.clear()


def test_a_rating_set_without_scoring_is_not_contradicted_by_the_score_panel(client, rep):
    hot = LeadFactory(owner_user=rep, rating="Hot")
    unrated = LeadFactory(owner_user=rep, rating="")

    page = text(client.get(f"/leads/{hot.public_id}/"))
    other = text(client.get(f"/leads/{unrated.public_id}/"))

    assert (
        "Not computed yet: no scoring run has scored this lead, so its Rating (Hot) was set "
        "by hand, by an import or by a form." in page
    )
    assert "Not scored yet" not in page
    assert "Not computed yet: no scoring run has scored this lead." in other
    assert "Rating (" not in other


def test_the_header_search_placeholder_is_short_and_the_title_says_what_it_finds(client, rep):
    content = client.get("/leads/").content.decode()

    assert re.search(
        r'id="global-search" name="q" placeholder="Search" '
        r'title="Search by name, company, email or phone"',
        content,
    )
    assert "Search name, company" not in content
