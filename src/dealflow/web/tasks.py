"""Task pages: my open tasks, adding one from any record, completing one.

Tasks are read through `core.selectors.page_of` (access applies: a task is visible only
when every record it is about is) and written through `sales.services.task_create` and
`task_complete`.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dealflow.accounts.models import Account, Contact
from dealflow.accounts.selectors import ACCOUNT_LIST, CONTACT_LIST
from dealflow.core import ids
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.selectors import ListSpec, Page, page_of
from dealflow.leads.models import Lead
from dealflow.leads.selectors import LEAD_LIST
from dealflow.sales import services
from dealflow.sales.models import Opportunity, Task, TaskStatus, TaskType
from dealflow.sales.selectors import OPPORTUNITY_LIST, TASK_LIST, task_get
from dealflow.web.forms import field_message
from dealflow.web.pages import as_rows, page_view, person_name, safe_next
from dealflow.web.record_pages import visible_rows
from dealflow.web.records import record_get

PAGE_SIZE = 50

# My tasks by due date. TASK_LIST (the API's) sorts by dates a task was created or
# changed, not by its due date; this spec adds that order for the pages. Keyset pages need
# a sort value on every row, so tasks without a due date are read apart (`NO_DUE_DATE`).
MY_TASKS = ListSpec(
    filters={
        "owner": "owner",
        "status": "status",
        "due_to": "due_date__lte",
        "has_no_due_date": "due_date__isnull",
    },
    search=TASK_LIST.search,
    orderings={"due_date": "due_date", "created_date": "created_at"},
    default_order="due_date",
)

# What each of a task's reference columns names: its object, model, spec and detail page.
TARGETS = (
    ("lead_id", "Lead", Lead, LEAD_LIST, "lead_detail"),
    ("contact_id", "Contact", Contact, CONTACT_LIST, "contact_detail"),
    ("account_id", "Account", Account, ACCOUNT_LIST, "account_detail"),
    ("opportunity_id", "Opportunity", Opportunity, OPPORTUNITY_LIST, "opportunity_detail"),
)
DETAIL_PAGES = {object_name: detail for _c, object_name, _m, _s, detail in TARGETS}


def record_label(object_name: str, row: Any) -> str:
    """The name a record is shown by: a person's full name, else its name."""
    if object_name in ("Lead", "Contact"):
        return person_name(row)
    return row.name


def record_links(
    actor: Any, wanted: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], tuple[str, str]]:
    """{(object name, pk): (name, detail URL)} of the records the actor may see, at most
    one query per object (through `page_of`, so the lists' access rules apply)."""
    keys: dict[str, set[int]] = defaultdict(set)
    for object_name, primary_key in wanted:
        if primary_key:
            keys[object_name].add(primary_key)
    links = {}
    for _column, object_name, model, spec, detail in TARGETS:
        if not keys.get(object_name):
            continue
        for primary_key, row in visible_rows(
            actor, model.objects.all(), spec, keys[object_name]
        ).items():
            url = reverse(detail, args=[row.public_id])
            links[object_name, primary_key] = (record_label(object_name, row), url)
    return links


def task_rows(actor: Any, page: Page, today: datetime.date) -> list[SimpleNamespace]:
    """A page of tasks as rows with `who` and `what` (name, URL) and `overdue`."""
    tasks = as_rows(page, Task)
    wanted = [
        (object_name, getattr(task, column))
        for task in tasks
        for column, object_name, *_rest in TARGETS
    ]
    links = record_links(actor, wanted)
    for task in tasks:
        task.type_label = TaskType(task.type).label if task.type in TaskType else task.type
        task.is_completed = task.status == TaskStatus.COMPLETED
        task.overdue = not task.is_completed and task.due_date is not None and task.due_date < today
        who = ("Lead", task.lead_id) if task.lead_id else ("Contact", task.contact_id)
        what = (
            ("Opportunity", task.opportunity_id)
            if task.opportunity_id
            else ("Account", task.account_id)
        )
        task.who = links.get(who)
        task.what = links.get(what)
    return tasks


def my_tasks(
    actor: Any,
    *,
    due_to: datetime.date | None = None,
    cursor: str | None = None,
    limit: int | None = None,
    include_total: bool = False,
) -> Page:
    """The actor's open tasks that have a due date, earliest first (so overdue first);
    `limit` rows (PAGE_SIZE when None)."""
    filters: dict[str, Any] = {"owner": actor.pk, "status": TaskStatus.OPEN}
    if due_to is not None:
        filters["due_to"] = due_to
    return page_of(
        actor,
        Task.objects.filter(due_date__isnull=False),
        MY_TASKS,
        filters=filters,
        cursor=cursor,
        limit=limit or PAGE_SIZE,
        include_total=include_total,
    )


def _tasks_without_due_date(actor: Any, cursor: str | None) -> Page:
    """The actor's open tasks without a due date, oldest first."""
    return page_of(
        actor,
        Task.objects.filter(due_date__isnull=True),
        MY_TASKS,
        filters={"owner": actor.pk, "status": TaskStatus.OPEN},
        order_by="created_date",
        cursor=cursor,
        limit=PAGE_SIZE,
    )


def _cursor_or_first(request: HttpRequest, name: str) -> str | None:
    return request.GET.get(name) or None


@page_view
def task_list(request: HttpRequest) -> HttpResponse:
    """My open tasks by due date, overdue first and highlighted, then those without a due
    date; each with the records it is about and a Complete button. Keyset pages."""
    actor = request.user
    today = timezone.localdate()
    undated_cursor = _cursor_or_first(request, "undated_cursor")
    dated_page = None
    try:
        if not undated_cursor:
            dated_page = my_tasks(actor, cursor=_cursor_or_first(request, "cursor"))
        # The tasks without a due date follow the last page of those with one.
        undated_page = None
        if dated_page is None or dated_page.next_cursor is None:
            undated_page = _tasks_without_due_date(actor, undated_cursor)
    except DomainError as error:
        if error.code != ErrorCode.INVALID_FIELD:
            raise
        messages.error(request, "That page of tasks is out of date; here is the first.")
        return redirect("task_list")
    context = {
        "dated": task_rows(actor, dated_page, today) if dated_page else None,
        "undated": task_rows(actor, undated_page, today) if undated_page else None,
        "next_url": (
            f"?cursor={dated_page.next_cursor}" if dated_page and dated_page.next_cursor else ""
        ),
        "undated_next_url": (
            f"?undated_cursor={undated_page.next_cursor}"
            if undated_page and undated_page.next_cursor
            else ""
        ),
        "first_url": reverse("task_list") if request.GET else "",
        "today": today,
    }
    return render(request, "web/tasks/list.html", context)


# ---------------------------------------------------------------------------------------
# Adding and completing

# The task form's inputs by the public name a service's refusal names them with.
# What the form calls each field (Salesforce's labels: WhoId is "Name").
TASK_LABELS = {
    "subject": "Subject",
    "type": "Type",
    "activity_date": "Due Date",
    "description": "Description",
    "who_id": "Name",
    "what_id": "Related To",
}
FORM_INPUTS = {
    "subject": "subject",
    "type": "type",
    "activity_date": "due_date",
    "description": "description",
    "who_id": "who",
    "what_id": "what",
}


def _target(actor: Any, public_id: str, allowed: tuple[str, ...]) -> Any:
    """The record a posted who_id or what_id names, read with access (NOT_FOUND when the
    user may not see it, or it is not one of `allowed`); None when blank."""
    public_id = public_id.strip()
    if not public_id:
        return None
    try:
        object_name, _primary_key = ids.decode(public_id)
    except ids.InvalidIdError:
        raise DomainError(ErrorCode.NOT_FOUND, "no such record", []) from None
    if object_name not in allowed:
        raise DomainError(ErrorCode.NOT_FOUND, f"a task cannot be about a {object_name}", [])
    return record_get(actor, object_name, public_id)


def _create(actor: Any, post: Any, who: Any, what: Any) -> Task:
    """Create the task, or log a call made (`task_log_call`) when that button was pressed."""
    values = {
        "subject": post.get("subject", "").strip(),
        "due_date": post.get("due_date", "").strip() or None,
        "description": post.get("description", ""),
    }
    if post.get("action") == "log_call":
        return services.task_log_call(actor=actor, who=who, what=what, **values)
    task_type = post.get("type", "").strip() or TaskType.TODO
    return services.task_create(actor=actor, who=who, what=what, type=task_type, **values)


@page_view
@require_POST
def task_new(request: HttpRequest) -> HttpResponse:
    """Add a task (or log a call) about `who_id` (a lead or contact) and `what_id` (an
    account or opportunity), each read with access (404 if the user may not see it);
    then back to `next`. A refusal shows the form again with the reason (400)."""
    actor = request.user
    who = _target(actor, request.POST.get("who_id", ""), ("Lead", "Contact"))
    what = _target(actor, request.POST.get("what_id", ""), ("Account", "Opportunity"))
    fallback = reverse(DETAIL_PAGES[who.object_name], args=[who.public_id]) if who else "/"
    back = safe_next(request, fallback)
    try:
        task = _create(actor, request.POST, who, what)
    except DomainError as error:
        if error.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY:
            raise
        # The form shows a who input only when no who was given (nor ever a what one).
        shown = {"subject", "type", "due_date", "description"} | ({"who"} if who is None else set())
        named = [FORM_INPUTS[name] for name in error.fields if FORM_INPUTS.get(name) in shown]
        context = {
            "who": who,
            "what": what,
            "back": back,
            "task_values": request.POST,
            "task_errors": {
                FORM_INPUTS[name]: field_message(error, name, TASK_LABELS[name])
                for name in error.fields
                if FORM_INPUTS.get(name) in named
            },
            "task_message": "" if named else error.message,
        }
        return render(request, "web/tasks/new.html", context, status=400)
    done = "Call logged" if task.status == TaskStatus.COMPLETED else "Task added"
    messages.success(request, f"{done}: {task.subject}")
    return redirect(back)


@page_view
@require_POST
def task_complete(request: HttpRequest, task_id: str) -> HttpResponse:
    """Complete a task through `task_complete` (completing it twice changes nothing).
    From htmx, answers the list's row as completed; otherwise returns to `next`."""
    actor = request.user
    task = services.task_complete(actor=actor, task=task_get(actor=actor, task_id=task_id))
    if request.htmx:  # type: ignore[attr-defined]
        page = Page(records=_as_record(task), next_cursor=None, total=None)
        row = task_rows(actor, page, timezone.localdate())[0]
        return render(request, "web/tasks/_row.html", {"task": row})
    messages.success(request, f"Completed: {task.subject}")
    return redirect(safe_next(request, reverse("task_list")))


def _as_record(task: Task) -> list[tuple[Any, ...]]:
    """A task instance as a Page row (the tuple of its columns `as_rows` reads)."""
    return [tuple(getattr(task, field.attname) for field in Task._meta.concrete_fields)]
