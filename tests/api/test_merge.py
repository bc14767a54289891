"""The merge API: preview, merge, read, undo; each refusal in the error envelope and
changing nothing."""

from __future__ import annotations

import pytest

from dealflow.core.services import sharing_default_set
from dealflow.duplicates.merge import model_rows
from dealflow.duplicates.models import Merge
from dealflow.leads.models import Lead
from dealflow.people.models import Role
from dealflow.sales.models import Task
from tests.factories import ContactFactory, LeadFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(actor):
    master = LeadFactory(
        owner_user=actor, first_name="Ada", last_name="Lovelace", company="Engines", phone=""
    )
    other = LeadFactory(
        owner_user=actor,
        first_name="Ada",
        last_name="Lovelace",
        company="Engines Ltd",
        phone="+44 20 7946 0000",
    )
    task = TaskFactory(lead=other, owner=actor)
    return master, other, task


def body(master, *others, **fields):
    return {
        "object": "Lead",
        "master_id": master.public_id,
        "merged_ids": [other.public_id for other in others],
        "fields": {name: record.public_id for name, record in fields.items()},
    }


def leads_state():
    return model_rows(Lead, Lead.objects.all()), model_rows(Task, Task.objects.all())


def test_preview_shows_the_values_side_by_side_and_writes_nothing(api, pair):
    master, other, _task = pair
    before = leads_state()
    response = api.post("/merges/preview", body(master, other, phone=other))
    assert response.status_code == 200
    payload = response.json()
    assert leads_state() == before
    assert payload["master_id"] == master.public_id
    assert payload["merged_ids"] == [other.public_id]
    assert payload["records"] == [
        {"id": master.public_id, "name": "Ada Lovelace (Engines)"},
        {"id": other.public_id, "name": "Ada Lovelace (Engines Ltd)"},
    ]
    phone = next(field for field in payload["fields"] if field["name"] == "phone")
    assert phone == {
        "name": "phone",
        "label": "Phone",
        "values": ["", "+44 20 7946 0000"],
        "chosen_id": other.public_id,
        "differs": True,
    }
    assert payload["result"]["phone"] == "+44 20 7946 0000"
    assert payload["result"]["company"] == "Engines"
    assert payload["related"] == {"Task.lead": 1}


def test_merge_read_and_undo(api, pair, actor):
    master, other, task = pair
    before = leads_state()

    response = api.post("/merges", body(master, other, phone=other))

    assert response.status_code == 201
    payload = response.json()
    merge = Merge.objects.get()
    assert payload == {
        "id": merge.pk,
        "object": "Lead",
        "status": "merged",
        "master_id": master.public_id,
        "merged_ids": [other.public_id],
        "fields": {"phone": other.public_id},
        "related": {"Task.lead": 1},
        "merged_by": actor.public_id,
        "created_at": merge.created_at.isoformat(),
        "undone_by": None,
        "undone_at": None,
    }
    assert api.get(f"/leads/{other.public_id}").status_code == 404
    assert api.get(f"/leads/{master.public_id}").json()["phone"] == "+44 20 7946 0000"
    assert Task.objects.get(pk=task.pk).lead_id == master.pk
    assert api.get(f"/merges/{merge.pk}").json() == payload

    undone = api.post(f"/merges/{merge.pk}/undo")

    assert undone.status_code == 200
    merge.refresh_from_db()
    assert undone.json() == {
        **payload,
        "status": "undone",
        "undone_by": actor.public_id,
        "undone_at": merge.undone_at.isoformat(),
    }
    assert leads_state() == before
    assert api.get(f"/leads/{other.public_id}").status_code == 200


def test_three_contacts_merge(api, actor):
    first, second, third = (ContactFactory(owner=actor, last_name="Hopper") for _ in range(3))
    request = {
        "object": "Contact",
        "master_id": second.public_id,
        "merged_ids": [first.public_id, third.public_id],
        "fields": {"account": third.public_id},
    }
    response = api.post("/merges", request)
    assert response.status_code == 201
    assert response.json()["merged_ids"] == [first.public_id, third.public_id]
    second.refresh_from_db()
    assert second.account_id == third.account_id


@pytest.mark.parametrize(
    ("change", "code", "fields", "message"),
    [
        (
            lambda b: {**b, "color": "red"},
            "INVALID_FIELD",
            ["color"],
            "color: not a merge option (object, master_id, merged_ids, fields)",
        ),
        (
            lambda b: {key: value for key, value in b.items() if key != "master_id"},
            "REQUIRED_FIELD_MISSING",
            ["master_id"],
            "master_id: required",
        ),
        (
            lambda b: {**b, "object": "Opportunity"},
            "INVALID_FIELD",
            ["object"],
            "object: expected one of Lead, Contact, Account, got 'Opportunity'",
        ),
        (
            lambda b: {**b, "merged_ids": "00Q"},
            "INVALID_TYPE",
            ["merged_ids"],
            "merged_ids: expected a list of 1 to 2 Lead ids",
        ),
        (
            lambda b: {**b, "merged_ids": b["merged_ids"] * 3},
            "INVALID_FIELD",
            ["merged_ids"],
            "merged_ids: merge 2 to 3 records, so name 1 to 2 besides the master (got 3)",
        ),
        (
            lambda b: {**b, "merged_ids": [*b["merged_ids"], b["merged_ids"][0]]},
            "INVALID_FIELD",
            ["merged_ids"],
            "merged_ids: a record is named twice",
        ),
        (
            lambda b: {**b, "fields": {"phone": "not an id"}},
            "INVALID_ID",
            ["fields.phone"],
            None,
        ),
        (
            lambda b: {**b, "fields": {"converted_date": b["master_id"]}},
            "INVALID_FIELD",
            ["fields.converted_date"],
            None,
        ),
        (
            lambda b: {**b, "fields": []},
            "INVALID_TYPE",
            ["fields"],
            "fields: expected an object {field: record id}",
        ),
    ],
)
def test_bad_bodies_are_400_naming_the_field(api, pair, change, code, fields, message):
    master, other, _task = pair
    before = leads_state()
    response = api.post("/merges", change(body(master, other)))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["code"], error["fields"]) == (code, fields)
    if message:
        assert error["message"] == message
    assert leads_state() == before
    assert Merge.objects.count() == 0


def test_a_contact_id_for_a_lead_merge_is_invalid(api, pair, actor):
    master, _other, _task = pair
    contact = ContactFactory(owner=actor)
    response = api.post(
        "/merges",
        {"object": "Lead", "master_id": master.public_id, "merged_ids": [contact.public_id]},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "INVALID_ID",
        "message": f"merged_ids: {contact.public_id} is a Contact id, not a Lead id",
        "fields": ["merged_ids"],
    }


def test_an_invisible_record_is_404_and_a_read_only_one_403(api, pair):
    master, _other, _task = pair
    sharing_default_set(actor=None, object_name="Lead", access="private")
    hidden = LeadFactory()
    before = leads_state()
    response = api.post("/merges", body(master, hidden))
    assert response.status_code == 404
    assert response.json() == {
        "errors": [
            {
                "code": "NOT_FOUND",
                "message": f"merged_ids: no Lead with id {hidden.public_id}",
                "fields": ["merged_ids"],
            }
        ]
    }
    sharing_default_set(actor=None, object_name="Lead", access="read")
    response = api.post("/merges", body(master, hidden))
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert leads_state() == before


def test_a_converted_lead_is_refused(api, pair):
    master, other, _task = pair
    Lead.objects.filter(pk=other.pk).update(is_converted=True)
    response = api.post("/merges", body(master, other))
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "CANNOT_UPDATE_CONVERTED_LEAD",
        "message": f"Lead {other.first_name} {other.last_name} was converted and cannot be "
        "merged (Salesforce refuses this too).",
        "fields": ["merged_ids"],
    }
    assert Lead.objects.filter(pk=other.pk).exists()


def test_undo_refusals(api, pair):
    master, other, _task = pair
    Lead.objects.filter(pk=other.pk).update(
        email="ada@engines.example", email_key="ada@engines.example"
    )
    merge_id = api.post("/merges", body(master, other)).json()["id"]
    taker = LeadFactory(email="ada@engines.example")
    response = api.post(f"/merges/{merge_id}/undo")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "DUPLICATE_VALUE"
    assert not Lead.objects.filter(pk=other.pk).exists()
    taker.delete()
    assert api.post(f"/merges/{merge_id}/undo").status_code == 200
    again = api.post(f"/merges/{merge_id}/undo")
    assert again.status_code == 400
    assert again.json()["errors"][0] == {
        "code": "INVALID_STATUS",
        "message": f"merge {merge_id} was already undone",
        "fields": ["id"],
    }


def test_another_reps_merge_is_404(api, api_as, pair):
    master, other, _task = pair
    merge_id = api.post("/merges", body(master, other)).json()["id"]
    sharing_default_set(actor=None, object_name="Lead", access="private")
    stranger = api_as(UserFactory(role=Role.REP))
    for response in (
        stranger.get(f"/merges/{merge_id}"),
        stranger.post(f"/merges/{merge_id}/undo"),
        stranger.get("/merges/999999999"),
    ):
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "NOT_FOUND"
    assert Merge.objects.get(pk=merge_id).status == "merged"


def test_no_token_is_401(pair):
    from django.test import Client

    master, other, _task = pair
    response = Client().post("/api/v1/merges", body(master, other), content_type="application/json")
    assert response.status_code == 401
    assert Lead.objects.filter(pk=other.pk).exists()
