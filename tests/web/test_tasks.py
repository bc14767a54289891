"""Task pages: my open tasks by due date, completing one, adding one or logging a call."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client

from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.sales.models import Task, TaskStatus, TaskType
from dealflow.web import tasks as task_pages
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TaskFactory,
    UserFactory,
)
from tests.web.helpers import XSS, queries_of, text

pytestmark = pytest.mark.django_db


def days(count: int) -> datetime.timedelta:
    return datetime.timedelta(days=count)


def subjects(response) -> list[str]:
    """The subjects of the task rows in page order (the second cell of each row)."""
    rows = re.findall(r'<tr id="task-[^"]+".*?</tr>', text(response), re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[1] for row in rows]


# ---------------------------------------------------------------------------------------
# My open tasks


def test_my_open_tasks_by_due_date_overdue_first_then_undated(signed_in, rep, other_rep, today):
    contact = ContactFactory(first_name="Ann", last_name="Able", owner=rep)
    TaskFactory(subject="Next week", due_date=today + days(7), contact=contact, owner=rep)
    TaskFactory(subject="Today", due_date=today, contact=contact, owner=rep)
    TaskFactory(subject="Whenever", due_date=None, contact=contact, owner=rep)
    TaskFactory(subject="Long overdue", due_date=today - days(9), contact=contact, owner=rep)
    TaskFactory(subject="Yesterday", due_date=today - days(1), contact=contact, owner=rep)
    TaskFactory(
        subject="Done",
        due_date=today - days(3),
        contact=contact,
        owner=rep,
        status=TaskStatus.COMPLETED,
    )
    TaskFactory(subject="Not mine", due_date=today, contact=contact, owner=other_rep)

    response = signed_in.get("/tasks/")

    assert response.status_code == 200
    assert subjects(response) == ["Long overdue", "Yesterday", "Today", "Next week", "Whenever"]
    overdue = re.findall(r'<tr id="task-[^"]+" class="table-danger">', text(response))
    assert len(overdue) == 2
    assert text(response).count(">Overdue</span>") == 2


def test_each_task_links_the_records_it_is_about(signed_in, rep, today):
    account = AccountFactory(name="Acme", owner=rep)
    contact = ContactFactory(first_name="Ann", last_name="Able", account=account, owner=rep)
    deal = OpportunityFactory(name="Acme Deal", account=account, owner=rep)
    lead = LeadFactory(first_name="Lee", last_name="Lead", owner_user=rep)
    TaskFactory(
        subject="About a deal", due_date=today, contact=contact, opportunity=deal, owner=rep
    )
    TaskFactory(subject="About a lead", due_date=today, lead=lead, owner=rep)

    page = text(signed_in.get("/tasks/"))

    assert f'<a href="/contacts/{contact.public_id}/">Ann Able</a>' in page
    assert f'<a href="/opportunities/{deal.public_id}/">Acme Deal</a>' in page
    assert f'<a href="/leads/{lead.public_id}/">Lee Lead</a>' in page


def test_tasks_page_by_keyset_and_undated_follow_the_last_page(signed_in, rep, today, monkeypatch):
    monkeypatch.setattr(task_pages, "PAGE_SIZE", 2)
    contact = ContactFactory(owner=rep)
    for number in range(3):
        TaskFactory(
            subject=f"Due {number}", due_date=today + days(number), contact=contact, owner=rep
        )
    TaskFactory(subject="Undated", contact=contact, owner=rep)

    first = signed_in.get("/tasks/")
    assert subjects(first) == ["Due 0", "Due 1"]
    next_url = re.search(r'href="([^"]+)" rel="next">Next page', text(first)).group(1)
    second = signed_in.get("/tasks/" + next_url)
    assert subjects(second) == ["Due 2", "Undated"]


def test_tasks_list_escapes_subjects(signed_in, rep, today):
    TaskFactory(subject=XSS, due_date=today, contact=ContactFactory(owner=rep), owner=rep)

    page = text(signed_in.get("/tasks/"))

    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_tasks_list_runs_the_same_queries_for_5_and_50_tasks(signed_in, rep, today):
    def make(count: int) -> None:
        for number in range(count):
            owner = UserFactory()
            account = AccountFactory(owner=owner)
            contact = ContactFactory(account=account, owner=owner)
            deal = OpportunityFactory(account=account, owner=owner)
            lead = LeadFactory(owner_user=owner)
            due = today + days(number - 2)
            TaskFactory(due_date=due, contact=contact, opportunity=deal, account=account, owner=rep)
            TaskFactory(due_date=due, lead=lead, owner=rep)
            TaskFactory(due_date=None, lead=lead, owner=rep)

    make(5)
    with_5 = queries_of(signed_in, "/tasks/")
    make(20)  # 50 dated tasks and 25 undated
    assert queries_of(signed_in, "/tasks/") == with_5


# ---------------------------------------------------------------------------------------
# Completing


def test_complete_from_the_list_returns_to_it(signed_in, rep, today):
    task = TaskFactory(
        subject="Call Ann", due_date=today, contact=ContactFactory(owner=rep), owner=rep
    )

    response = signed_in.post(f"/tasks/{task.public_id}/complete/", {"next": "/tasks/"})

    assert (response.status_code, response["Location"]) == (302, "/tasks/")
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED
    assert task.completed_at is not None
    assert subjects(signed_in.get("/tasks/")) == []


def test_complete_from_htmx_answers_the_row(signed_in, rep, today):
    task = TaskFactory(
        subject="Call Ann", due_date=today, contact=ContactFactory(owner=rep), owner=rep
    )

    response = signed_in.post(f"/tasks/{task.public_id}/complete/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    row = text(response)
    assert row.strip().startswith(f'<tr id="task-{task.public_id}"')
    assert ">Completed</span>" in row
    assert "Complete Call Ann" not in row  # no button any more
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED


def test_complete_ignores_an_unsafe_next(signed_in, rep):
    task = TaskFactory(contact=ContactFactory(owner=rep), owner=rep)

    response = signed_in.post(f"/tasks/{task.public_id}/complete/", {"next": "https://evil.test/"})

    assert response["Location"] == "/tasks/"


def test_complete_needs_a_post_and_a_task_the_rep_may_see(signed_in, rep, other_rep):
    sharing_default_set(actor=None, object_name="Contact", access=Access.PRIVATE)
    hidden = TaskFactory(contact=ContactFactory(owner=other_rep), owner=other_rep)
    mine = TaskFactory(contact=ContactFactory(owner=rep), owner=rep)

    assert signed_in.get(f"/tasks/{mine.public_id}/complete/").status_code == 405
    assert signed_in.post(f"/tasks/{hidden.public_id}/complete/").status_code == 404
    hidden.refresh_from_db()
    mine.refresh_from_db()
    assert (hidden.status, mine.status) == (TaskStatus.OPEN, TaskStatus.OPEN)


# ---------------------------------------------------------------------------------------
# Adding a task, logging a call


def test_add_task_about_a_contact_and_account_then_back(signed_in, rep, today):
    account = AccountFactory(owner=rep)
    contact = ContactFactory(account=account, owner=rep)
    back = f"/accounts/{account.public_id}/"

    response = signed_in.post(
        "/tasks/new/",
        {
            "who_id": contact.public_id,
            "what_id": account.public_id,
            "subject": "Send the quote",
            "type": "email",
            "due_date": (today + days(2)).isoformat(),
            "description": "With the discount",
            "action": "add_task",
            "next": back,
        },
    )

    assert (response.status_code, response["Location"]) == (302, back)
    task = Task.objects.get()
    assert (task.subject, task.type, task.status, task.due_date) == (
        "Send the quote",
        TaskType.EMAIL,
        TaskStatus.OPEN,
        today + days(2),
    )
    assert (task.contact, task.account, task.owner, task.description) == (
        contact,
        account,
        rep,
        "With the discount",
    )
    assert "Task added: Send the quote" in text(signed_in.get(back))


def test_log_a_call_records_a_completed_call_today(signed_in, rep, today):
    lead = LeadFactory(owner_user=rep)

    response = signed_in.post(
        "/tasks/new/",
        {"who_id": lead.public_id, "subject": "", "type": "todo", "action": "log_call"},
    )

    assert (response.status_code, response["Location"]) == (302, f"/leads/{lead.public_id}/")
    task = Task.objects.get()
    assert (task.subject, task.type, task.status, task.due_date, task.lead) == (
        "Call",
        TaskType.CALL,
        TaskStatus.COMPLETED,
        today,
        lead,
    )
    assert task.completed_at is not None


def test_a_task_without_a_subject_is_refused_next_to_it(signed_in, rep):
    contact = ContactFactory(owner=rep)

    response = signed_in.post(
        "/tasks/new/",
        {"who_id": contact.public_id, "subject": "  ", "description": "kept", "action": "add_task"},
    )

    assert response.status_code == 400
    page = text(response)
    assert '<div class="field-error" id="task_subject_error">Subject is required.</div>' in page
    assert ">kept</textarea>" in page
    assert f'name="who_id" value="{contact.public_id}"' in page
    assert not Task.objects.exists()


def test_a_task_about_a_converted_lead_says_why(signed_in, rep):
    lead = LeadFactory(owner_user=rep, is_converted=True)

    response = signed_in.post(
        "/tasks/new/", {"who_id": lead.public_id, "subject": "Hello", "action": "add_task"}
    )

    assert response.status_code == 400
    assert f'role="alert">who_id: lead {lead.public_id} is converted' in text(response)
    assert not Task.objects.exists()


def test_a_task_about_nobody_is_refused(signed_in, rep):
    account = AccountFactory(owner=rep)

    response = signed_in.post(
        "/tasks/new/", {"what_id": account.public_id, "subject": "Hello", "action": "add_task"}
    )

    assert response.status_code == 400
    assert 'id="task_who_error">Name is required.</div>' in text(response)
    assert not Task.objects.exists()


@pytest.mark.parametrize("target", ["who", "what"])
def test_a_task_about_a_record_the_rep_may_not_see_is_404(signed_in, rep, other_rep, target):
    sharing_default_set(actor=None, object_name="Lead", access=Access.PRIVATE)
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.PRIVATE)
    hidden_lead = LeadFactory(owner_user=other_rep)
    hidden_deal = OpportunityFactory(owner=other_rep)
    contact = ContactFactory(owner=rep)
    posted = {"who_id": contact.public_id, "subject": "Sneaky", "action": "add_task"}
    if target == "who":
        posted["who_id"] = hidden_lead.public_id
    else:
        posted["what_id"] = hidden_deal.public_id

    response = signed_in.post("/tasks/new/", posted)

    assert response.status_code == 404
    assert not Task.objects.exists()


def test_a_task_about_the_wrong_kind_of_record_is_404(signed_in, rep):
    account = AccountFactory(owner=rep)

    response = signed_in.post(
        "/tasks/new/", {"who_id": account.public_id, "subject": "x", "action": "add_task"}
    )

    assert response.status_code == 404
    assert not Task.objects.exists()


def test_task_new_only_takes_a_post(signed_in):
    assert signed_in.get("/tasks/new/").status_code == 405


def test_the_task_form_on_a_contact_page_posts_back_to_it(signed_in, rep):
    contact = ContactFactory(owner=rep)
    page = text(signed_in.get(f"/contacts/{contact.public_id}/"))
    form = re.search(r'<form method="post" action="/tasks/new/".*?</form>', page, re.S).group(0)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    assert {"Subject", "Type", "Due Date", "Description"} <= set(
        re.findall(r'<label class="form-label[^"]*" for="[^"]+">([^<]+)</label>', form)
    )
    assert ">Log a call</button>" in form and ">Add task</button>" in form

    response = signed_in.post("/tasks/new/", {**fields, "subject": "Intro", "action": "add_task"})

    assert response["Location"] == f"/contacts/{contact.public_id}/"
    assert Task.objects.get().contact == contact


@pytest.mark.parametrize("url", ["/tasks/new/", "complete"])
def test_task_forms_need_the_csrf_token(rep, url):
    contact = ContactFactory(owner=rep)
    task = TaskFactory(contact=contact, owner=rep)
    if url == "complete":
        url = f"/tasks/{task.public_id}/complete/"
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)

    response = client.post(url, {"who_id": contact.public_id, "subject": "x"})

    assert response.status_code == 403
    assert list(Task.objects.values_list("status", flat=True)) == [TaskStatus.OPEN]
