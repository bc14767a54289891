"""The API: DUPLICATES_DETECTED with the matches, the allow flag and header, the rules,
the review queue."""

from __future__ import annotations

import pytest

from dealflow.accounts.models import Account, Contact
from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.duplicates.models import DuplicateGroup, DuplicateGroupStatus
from dealflow.duplicates.rules import DEFAULT_RULES
from dealflow.duplicates.scan import duplicates_scan
from dealflow.duplicates.services import duplicate_keys_refresh
from dealflow.leads.models import Lead
from dealflow.people.models import Role
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

ADA = {"first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines"}


def test_a_duplicate_lead_is_409_with_the_matches_and_nothing_saved(api):
    first = api.post("/leads", ADA).json()
    response = api.post("/leads", {**ADA, "company": "Analytical Engines Ltd"})
    assert response.status_code == 409
    assert response.json() == {
        "errors": [
            {
                "code": "DUPLICATES_DETECTED",
                "message": "This lead looks like 1 existing record: Ada Lovelace "
                "(Analytical Engines). Save anyway to create it.",
                "fields": [],
                "matches": [
                    {
                        "object": "Lead",
                        "id": first["id"],
                        "name": "Ada Lovelace (Analytical Engines)",
                        "visible": True,
                        "rule": "Name and company",
                        "score": 100.0,
                        "scores": {"first_name": 100.0, "last_name": 100.0, "company": 100.0},
                    }
                ],
            }
        ]
    }
    assert Lead.objects.count() == 1


def test_allow_duplicates_in_the_body_or_salesforces_header_saves(api):
    api.post("/leads", ADA)
    assert api.post("/leads", {**ADA, "allow_duplicates": True}).status_code == 201
    header = {"Sforce-Duplicate-Rule-Header": "allowSave=true, includeRecordDetails=true"}
    assert api.post("/leads", ADA, headers=header).status_code == 201
    refused = api.post("/leads", ADA, headers={"Sforce-Duplicate-Rule-Header": "allowSave=false"})
    assert refused.status_code == 409
    bad = api.post("/leads", {**ADA, "allow_duplicates": "yes"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["fields"] == ["allow_duplicates"]
    assert Lead.objects.count() == 3


def test_contacts_and_accounts_are_checked_too(api):
    account = api.post("/accounts", {"name": "Acme, Inc."}).json()
    again = api.post("/accounts", {"name": "ACME GmbH"})
    assert again.status_code == 409
    assert again.json()["errors"][0]["matches"][0]["id"] == account["id"]
    assert api.post("/accounts", {"name": "ACME GmbH", "allow_duplicates": True}).status_code == 201
    api.post("/contacts", {"first_name": "Jon", "last_name": "Snow", "email": "jon@wall.example"})
    contact = api.post("/contacts", {"last_name": "Other", "email": "JON@wall.example"})
    assert contact.status_code == 409
    assert contact.json()["errors"][0]["matches"][0]["rule"] == "Email"
    assert (Account.objects.count(), Contact.objects.count()) == (2, 1)


def test_an_invisible_match_is_never_revealed(api, actor, api_as):
    sharing_default_set(actor=None, object_name="Lead", access=Access.PRIVATE)
    other = UserFactory(role=Role.REP)
    hidden = api_as(other).post("/leads", {**ADA, "phone": "415 555 0100"}).json()
    # Enforce sharing rules (default): the rep's lead is saved, nothing said about the other
    response = api.post("/leads", {**ADA, "phone": "415 555 0100"})
    assert response.status_code == 201
    admin = UserFactory(role=Role.ADMIN)
    rules = api_as(admin).request(
        "PUT", "/duplicates/rules", {"Lead": {"record_level_security": "bypass"}}
    )
    assert rules.status_code == 200
    third = api_as(UserFactory(role=Role.REP)).post("/leads", ADA)
    assert third.status_code == 409
    text = third.content.decode()
    assert hidden["id"] not in text and response.json()["id"] not in text
    assert "415" not in text and "Lovelace" not in text
    assert (
        third.json()["errors"][0]["matches"]
        == [
            {
                "object": "Lead",
                "id": None,
                "name": None,
                "visible": False,
                "rule": "Name and company",
                "score": 100.0,
            }
        ]
        * 2
    )


def test_rules_are_read_by_all_and_set_by_admins(api, api_as):
    assert api.get("/duplicates/rules").json() == DEFAULT_RULES
    refused = api.request("PUT", "/duplicates/rules", {"Lead": {"active": False}})
    assert refused.status_code == 403
    admin = api_as(UserFactory(role=Role.ADMIN))
    bad = admin.request(
        "PUT",
        "/duplicates/rules",
        {
            "Lead": {
                "rules": [
                    {
                        "name": "x",
                        "conditions": [{"field": "city", "method": "ratio", "threshold": 120}],
                    }
                ]
            }
        },
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["fields"] == ["Lead.rules[0].conditions[0].threshold"]
    assert api.get("/duplicates/rules").json() == DEFAULT_RULES  # nothing changed
    changed = admin.request("PUT", "/duplicates/rules", {"Lead": {"active": False}})
    assert changed.json()["Lead"]["active"] is False
    assert api.get("/duplicates/rules").json()["Lead"]["active"] is False
    api.post("/leads", ADA)
    assert api.post("/leads", ADA).status_code == 201  # rules off


@pytest.fixture
def scanned(actor):
    twins = [
        LeadFactory(first_name="Ada", last_name="Lovelace", company="Engines", owner_user=actor),
        LeadFactory(
            first_name="Ada", last_name="Lovelace", company="Engines Ltd", owner_user=actor
        ),
    ]
    hidden = [
        LeadFactory(first_name="Kim", last_name="Ng", company="Initech"),
        LeadFactory(first_name="Kim", last_name="Ng", company="Initech", owner_user=actor),
    ]
    duplicate_keys_refresh(object_name="Lead")
    duplicates_scan(object_name="Lead")
    return twins, hidden


def test_the_queue_lists_groups_side_by_side_and_pages(api_as, scanned):
    twins, _hidden = scanned
    manager = api_as(UserFactory(role=Role.MANAGER))
    first = manager.get("/duplicates/groups", limit=1)
    assert first.status_code == 200
    page = first.json()
    assert len(page["records"]) == 1 and page["next_cursor"] is not None
    second = manager.get("/duplicates/groups", limit=1, cursor=page["next_cursor"]).json()
    assert second["next_cursor"] is None
    listed = {record["id"]: record for record in page["records"] + second["records"]}
    ada = DuplicateGroup.objects.get(members__record_id=twins[0].pk)
    assert listed[ada.pk] == {
        "id": ada.pk,
        "object": "Lead",
        "status": "open",
        "rule": "Name and company",
        "score": "100.00",
        "record_count": 2,
        "last_found_at": ada.last_found_at.isoformat(),
        "members": [
            {"id": twins[0].public_id, "name": "Ada Lovelace (Engines)", "visible": True},
            {"id": twins[1].public_id, "name": "Ada Lovelace (Engines Ltd)", "visible": True},
        ],
    }
    assert manager.get("/duplicates/groups", status="closed").status_code == 400


def test_a_rep_sees_only_groups_whose_records_they_all_see(api, scanned):
    twins, _hidden = scanned
    assert len(api.get("/duplicates/groups").json()["records"]) == 2  # read/write default
    sharing_default_set(actor=None, object_name="Lead", access=Access.PRIVATE)
    records = api.get("/duplicates/groups").json()["records"]
    assert [member["id"] for member in records[0]["members"]] == [lead.public_id for lead in twins]
    assert len(records) == 1


def test_dismiss_by_managers_and_admins_only(api, api_as, scanned):
    group = DuplicateGroup.objects.order_by("id").first()
    refused = api.post(f"/duplicates/groups/{group.pk}/dismiss")
    assert refused.status_code == 403
    group.refresh_from_db()
    assert group.status == DuplicateGroupStatus.OPEN
    manager = api_as(UserFactory(role=Role.MANAGER))
    dismissed = manager.post(f"/duplicates/groups/{group.pk}/dismiss")
    assert dismissed.status_code == 200
    assert dismissed.json()["status"] == "dismissed"
    again = manager.post(f"/duplicates/groups/{group.pk}/dismiss")
    assert again.status_code == 400
    assert again.json()["errors"][0]["code"] == "INVALID_STATUS"
    assert manager.post("/duplicates/groups/999999/dismiss").status_code == 404
    assert [
        r["id"] for r in manager.get("/duplicates/groups", status="dismissed").json()["records"]
    ] == [group.pk]
