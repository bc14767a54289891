"""Assignment rules through the API: the rule set's shape, its errors, assign=false on
create, the decision of a lead, and assigning on demand."""

import pytest

from dealflow.core.services import sharing_default_set
from dealflow.people.models import Role
from tests.factories import LeadFactory, QueueFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(api_as):
    return api_as(UserFactory(username="admin", role=Role.ADMIN))


@pytest.fixture
def reps():
    return UserFactory.create_batch(3)


def round_robin_rules(users, default_owner=None):
    return {
        "default_owner_id": default_owner.public_id if default_owner else None,
        "entries": [
            {
                "criteria": [{"field": "lead_source", "operator": "equals", "value": "Web"}],
                "match": "all",
                "assign_to": {
                    "kind": "round_robin",
                    "user_ids": [user.public_id for user in users],
                    "capacity": None,
                },
            }
        ],
    }


def test_without_rules_the_rule_set_is_empty(api):
    response = api.get("/assignment-rules")

    assert response.status_code == 200
    assert response.json() == {"default_owner_id": None, "entries": []}


def test_an_admin_puts_the_rules_and_everyone_reads_them_back_in_the_same_shape(
    admin_api, api, reps
):
    queue = QueueFactory()
    rules = round_robin_rules(reps, default_owner=reps[0])
    rules["entries"].append(
        {
            "criteria": [
                {"field": "country", "operator": "in", "value": ["France", "Spain"]},
                {"field": "email", "operator": "blank", "value": True},
            ],
            "match": "any",
            "assign_to": {"kind": "queue", "queue_id": queue.public_id},
        }
    )

    put = admin_api.request("PUT", "/assignment-rules", rules)

    assert put.status_code == 200
    assert put.json() == rules
    assert api.get("/assignment-rules").json() == rules


def test_a_rep_cannot_change_the_rules(api, reps):
    response = api.request("PUT", "/assignment-rules", round_robin_rules(reps))

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert api.get("/assignment-rules").json()["entries"] == []


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"operator": "sounds_like"},
            "entries[0].criteria[0].operator",
            "entries[0].criteria[0].operator: 'sounds_like' is not one of equals, in, contains, "
            "starts_with, greater_than, less_than, blank",
        ),
        (
            {"field": "owner_id"},
            "entries[0].criteria[0].field",
            "entries[0].criteria[0].field: 'owner_id' is not a lead field rules can test",
        ),
        (
            {"value": 12},
            "entries[0].criteria[0].value",
            "entries[0].criteria[0].value: expected non-empty text",
        ),
    ],
)
def test_bad_rules_answer_400_naming_the_entry_and_field(admin_api, reps, change, field, message):
    rules = round_robin_rules(reps)
    rules["entries"][0]["criteria"][0].update(change)

    response = admin_api.request("PUT", "/assignment-rules", rules)

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["fields"] == [field]
    assert error["message"].startswith(message)


def test_a_bad_capacity_and_an_unknown_key_are_named(admin_api, reps):
    rules = round_robin_rules(reps)
    rules["entries"][0]["assign_to"]["capacity"] = -1
    capacity = admin_api.request("PUT", "/assignment-rules", rules).json()["errors"][0]
    unknown = admin_api.request("PUT", "/assignment-rules", {"entries": [], "mode": "x"}).json()

    assert capacity["fields"] == ["entries[0].assign_to.capacity"]
    assert capacity["code"] == "INVALID_TYPE"
    assert unknown["errors"][0]["fields"] == ["mode"]


def test_creates_without_an_owner_are_dealt_and_show_their_decision(admin_api, api, reps):
    admin_api.request("PUT", "/assignment-rules", round_robin_rules(reps))
    body = {"last_name": "Hopper", "company": "Navy", "lead_source": "Web"}

    created = [api.post("/leads", body | {"email": f"g{n}@navy.test"}).json() for n in range(4)]

    assert [lead["owner_id"] for lead in created] == [
        *(user.public_id for user in reps),
        reps[0].public_id,
    ]
    shown = admin_api.get(f"/leads/{created[1]['id']}/assignment").json()
    assert shown["lead_id"] == created[1]["id"]
    assert shown["owner_id"] == reps[1].public_id
    assignment = shown["assignment"]
    assert assignment["entry"] == 1
    assert assignment["owner_id"] == reps[1].public_id
    assert assignment["reason"].startswith("entry 1 matched (lead_source equals 'Web'): ")
    assert assignment["reason"].endswith("round-robin: user 2 of 3 in its pool")
    assert assignment["decided_at"]


def test_assign_false_keeps_the_acting_user_and_records_nothing(admin_api, api, actor, reps):
    admin_api.request("PUT", "/assignment-rules", round_robin_rules(reps))
    body = {"last_name": "Hopper", "company": "Navy", "lead_source": "Web", "assign": False}

    created = api.post("/leads", body)

    assert created.status_code == 201
    assert created.json()["owner_id"] == actor.public_id
    shown = api.get(f"/leads/{created.json()['id']}/assignment").json()
    assert shown["assignment"] is None


def test_assign_must_be_true_or_false(api):
    response = api.post("/leads", {"last_name": "A", "company": "B", "assign": "no"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["fields"] == ["assign"]


def test_assigning_a_lead_on_demand(admin_api, reps):
    queue = QueueFactory()
    lead = LeadFactory(owner_user=None, owner_queue=queue, lead_source="Web")
    admin_api.request("PUT", "/assignment-rules", round_robin_rules(reps))

    response = admin_api.post(f"/leads/{lead.public_id}/assign")

    assert response.status_code == 200
    assert response.json()["owner_id"] == reps[0].public_id
    assert response.json()["assignment"]["entry"] == 1
    assert admin_api.get(f"/leads/{lead.public_id}").json()["owner_id"] == reps[0].public_id


def test_assigning_without_rules_or_another_reps_private_lead_is_refused(api, admin_api, reps):
    sharing_default_set(actor=None, object_name="Lead", access="private")
    private = LeadFactory(owner_user=reps[0])
    own = LeadFactory(owner_user=UserFactory())

    no_rules = admin_api.post(f"/leads/{own.public_id}/assign")
    admin_api.request("PUT", "/assignment-rules", round_robin_rules(reps))
    hidden = api.post(f"/leads/{private.public_id}/assign")

    assert no_rules.status_code == 404
    assert "no assignment rules are active" in no_rules.json()["errors"][0]["message"]
    assert hidden.status_code == 404


def test_the_openapi_document_has_the_rules_endpoints_and_the_assign_option(client):
    schema = client.get("/api/v1/openapi.json").json()

    operations = {
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
    }
    assert {
        "assignment_rules_get",
        "assignment_rules_set",
        "lead_assign",
        "lead_assignment_get",
    } <= operations
    assert schema["components"]["schemas"]["LeadCreate"]["properties"]["assign"]["type"] == (
        "boolean"
    )
