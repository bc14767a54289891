"""Accounts, contacts, opportunities, contact roles, tasks and the directory through the API."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.api.records import row_to_json, to_json
from dealflow.core import rows
from dealflow.sales.models import OpportunityContactRole, OpportunityHistory, Task
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_account_contact_opportunity_flow(api, actor):
    account = api.post(
        "/accounts", {"name": "Initech", "type": "Prospect", "annual_revenue": 1500000.5}
    )
    assert account.status_code == 201, account.content
    account_id = account.json()["id"]
    assert account.json()["annual_revenue"] == "1500000.50"

    contact = api.post("/contacts", {"last_name": "Lumbergh", "account_id": account_id})
    assert contact.status_code == 201, contact.content
    assert contact.json()["account_id"] == account_id

    deal = api.post(
        "/opportunities",
        {
            "name": "Printers",
            "account_id": account_id,
            "close_date": "2026-12-31",
            "stage_name": "Qualification",
            "amount": "12000",
        },
    )
    assert deal.status_code == 201, deal.content
    body = deal.json()
    assert (
        body["probability"],
        body["forecast_category_name"],
        body["expected_revenue"],
        body["is_closed"],
    ) == (
        10,
        "Pipeline",
        "1200.00",
        False,
    )

    won = api.patch(f"/opportunities/{body['id']}", {"stage_name": "Closed Won"})
    assert won.status_code == 200, won.content
    assert (
        won.json()["is_won"],
        won.json()["probability"],
        won.json()["forecast_category_name"],
    ) == (
        True,
        100,
        "Closed",
    )
    assert OpportunityHistory.objects.count() == 2

    lost = api.patch(f"/opportunities/{body['id']}", {"stage_name": "Closed Lost"})
    assert lost.status_code == 400
    assert lost.json()["errors"][0] == {
        "code": "REQUIRED_FIELD_MISSING",
        "message": "loss_reason: required when moving to the lost stage 'Closed Lost'",
        "fields": ["loss_reason"],
    }

    role = api.post(
        "/contact-roles",
        {
            "opportunity_id": body["id"],
            "contact_id": contact.json()["id"],
            "role": "Decision Maker",
            "is_primary": True,
        },
    )
    assert role.status_code == 201, role.content
    assert role.json()["is_primary"] is True
    changed = api.patch(f"/contact-roles/{role.json()['id']}", {"role": "Economic Buyer"})
    assert changed.json()["role"] == "Economic Buyer"
    refused = api.patch(f"/contact-roles/{role.json()['id']}", {"contact_id": contact.json()["id"]})
    assert refused.json()["errors"][0]["code"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert OpportunityContactRole.objects.get().role == "Economic Buyer"


def test_task_flow(api, actor):
    lead = LeadFactory(owner_user=actor)
    deal = OpportunityFactory()

    created = api.post(
        "/tasks",
        {
            "subject": "Call",
            "who_id": lead.public_id,
            "type": "call",
            "activity_date": "2026-12-01",
        },
    )
    assert created.status_code == 201, created.content
    task_id = created.json()["id"]
    assert (
        created.json()["who_id"],
        created.json()["status"],
        created.json()["activity_date"],
    ) == (
        lead.public_id,
        "open",
        "2026-12-01",
    )
    assert (
        api.post("/tasks", {"subject": "x", "who_id": deal.public_id}).json()["errors"][0]["code"]
        == "INVALID_ID"
    )
    assert api.patch(f"/tasks/{task_id}", {"status": "completed"}).status_code == 400

    moved = api.patch(f"/tasks/{task_id}", {"what_id": deal.public_id, "priority": "high"})
    assert moved.status_code == 200, moved.content
    assert (moved.json()["what_id"], moved.json()["priority"]) == (deal.public_id, "high")

    done = api.post(f"/tasks/{task_id}/complete")
    assert done.status_code == 200
    assert done.json()["status"] == "completed"
    assert Task.objects.get().status == "completed"


def test_directory_and_settings(api, actor):
    queue = QueueFactory(name="Inbound")
    queue.members.add(actor)

    users = api.get("/users").json()["records"]
    assert [user["id"] for user in users] == [actor.public_id]
    assert api.get(f"/queues/{queue.public_id}").json()["member_ids"] == [actor.public_id]
    stages = api.get("/opportunity-stages").json()["records"]
    assert [stage["name"] for stage in stages][:2] == ["Prospecting", "Qualification"]
    statuses = api.get("/lead-statuses").json()["records"]
    assert [status["name"] for status in statuses if status["is_converted"]] == [
        "Closed - Converted"
    ]
    sources = [
        row["value"]
        for row in api.get("/picklists").json()["records"]
        if row["picklist"] == "lead_source"
    ]
    assert sources[0] == "Web"


LIST_FACTORIES = {
    "/leads": lambda actor: LeadFactory(owner_user=actor),
    "/accounts": lambda actor: AccountFactory(owner=actor),
    "/contacts": lambda actor: ContactFactory(owner=actor),
    "/opportunities": lambda actor: OpportunityFactory(owner=actor),
    "/contact-roles": lambda actor: OpportunityContactRole.objects.create(
        opportunity=OpportunityFactory(owner=actor), contact=ContactFactory(owner=actor)
    ),
    "/tasks": lambda actor: TaskFactory(owner=actor, lead=LeadFactory(owner_user=actor)),
    "/users": lambda actor: UserFactory(),
    "/queues": lambda actor: QueueFactory().members.add(actor),
}


@pytest.mark.parametrize("path", list(LIST_FACTORIES))
def test_list_endpoints_run_a_constant_number_of_queries(api, actor, path):
    paged = path not in ("/users", "/queues")  # those two lists are short and unpaged

    def queries_for(count):
        for _ in range(count):
            LIST_FACTORIES[path](actor)
        api.get(path, **({"limit": 1} if paged else {}))  # warm caches
        with CaptureQueriesContext(connection) as context:
            response = api.get(path, **({"limit": 200} if paged else {}))
        assert response.status_code == 200, response.content
        return len(context.captured_queries), len(response.json()["records"])

    few_queries, few_records = queries_for(2)
    many_queries, many_records = queries_for(25)
    assert many_records > few_records
    assert many_queries == few_queries


def test_admins_configure_through_the_api(api_as):
    from dealflow.people.models import Queue, Role, Team, User

    admin = UserFactory(role=Role.ADMIN)
    rep = UserFactory(role=Role.REP)
    client = api_as(admin)

    assert client.post("/teams", {"name": "North"}).status_code == 201
    created = client.post("/users", {"username": "nina", "role": "manager", "team": "North"})
    assert created.status_code == 201, created.content
    assert (created.json()["role"], created.json()["team"]) == ("manager", "North")
    assert User.objects.get(username="nina").has_usable_password() is False
    queue = client.post("/queues", {"name": "Partners", "member_ids": [created.json()["id"]]})
    assert queue.json()["member_ids"] == [created.json()["id"]]
    stage = client.post(
        "/opportunity-stages",
        {"name": "Pilot", "probability": 65, "forecast_category": "Best Case"},
    )
    assert stage.status_code == 200, stage.content
    status = client.post("/lead-statuses", {"name": "Nurture", "is_closed": True})
    assert status.json()["is_closed"] is True
    value = client.post("/picklists", {"picklist": "lead_source", "value": "Webinar"})
    assert value.json() == {
        "picklist": "lead_source",
        "value": "Webinar",
        "sort_order": 8,
        "is_active": True,
    }

    bad = client.post("/teams", {"name": "South", "colour": "red"})
    assert bad.status_code == 400
    nul = client.post("/teams", {"name": "So\x00uth"})
    assert nul.status_code == 400

    refused = api_as(rep).post("/teams", {"name": "Rogue"})
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert sorted(Team.objects.values_list("name", flat=True)) == ["North"]
    assert Queue.objects.count() == 1


GET_FACTORIES = {
    "Lead": lambda actor: LeadFactory(owner_user=actor, annual_revenue=Decimal("99.50")),
    "Account": lambda actor: AccountFactory(owner=actor, annual_revenue=Decimal("10")),
    "Contact": lambda actor: ContactFactory(owner=actor),
    "Opportunity": lambda actor: OpportunityFactory(owner=actor, amount=Decimal("1000.05")),
    "OpportunityContactRole": lambda actor: OpportunityContactRole.objects.create(
        opportunity=OpportunityFactory(owner=actor), contact=ContactFactory(owner=actor)
    ),
    "Task": lambda actor: TaskFactory(owner=actor, lead=LeadFactory(owner_user=actor)),
}


@pytest.mark.parametrize("object_name", list(GET_FACTORIES))
def test_a_listed_row_shows_exactly_as_the_record_does(actor, object_name):
    record = GET_FACTORIES[object_name](actor)
    model = type(record)
    (row,) = rows.fetch(model.objects.filter(pk=record.pk))
    shown = to_json(object_name, model.objects.get(pk=record.pk))
    assert row_to_json(object_name, row) == shown
    assert shown["id"] == record.public_id


def test_get_lead_runs_two_queries_token_and_lead(api, actor):
    lead = LeadFactory(owner_user=actor)
    api.get(f"/leads/{lead.public_id}")  # warm the status cache
    with CaptureQueriesContext(connection) as context:
        response = api.get(f"/leads/{lead.public_id}")
    assert response.status_code == 200
    assert response.json()["status"] == "Open - Not Contacted"
    assert len(context.captured_queries) == 2, [q["sql"] for q in context.captured_queries]


def test_a_status_filter_matches_by_name_and_an_unknown_name_matches_nothing(api, actor):
    LeadFactory(owner_user=actor)
    found = api.get("/leads", status="Open - Not Contacted").json()["records"]
    assert [lead["status"] for lead in found] == ["Open - Not Contacted"]
    assert api.get("/leads", status="Working - Contacted").json()["records"] == []
    assert api.get("/leads", status="No Such Status").json()["records"] == []
