"""The lead endpoints: create, read, change, list, delete, convert."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dealflow.accounts.models import Account
from dealflow.core.models import AuditEvent, IdempotencyRecord
from dealflow.leads.models import Lead
from dealflow.sales.models import Opportunity
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

NEW_LEAD = {"last_name": "Hopper", "company": "Navy Labs", "email": "grace@navy.test"}


def test_create_read_update_delete(api, actor):
    created = api.post("/leads", NEW_LEAD)
    assert created.status_code == 201, created.content
    body = created.json()
    lead = Lead.objects.get()
    assert body["id"] == lead.public_id
    assert (body["last_name"], body["status"], body["owner_id"], body["is_converted"]) == (
        "Hopper",
        "Open - Not Contacted",
        actor.public_id,
        False,
    )
    assert created["ETag"]

    fetched = api.get(f"/leads/{lead.public_id}")
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert (
        api.get(f"/leads/{lead.public_id}", headers={"If-None-Match": fetched["ETag"]}).status_code
        == 304
    )

    changed = api.patch(
        f"/leads/{lead.public_id}", {"title": "Rear Admiral"}, headers={"If-Match": fetched["ETag"]}
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["title"] == "Rear Admiral"
    assert changed["ETag"] != fetched["ETag"]

    stale = api.patch(
        f"/leads/{lead.public_id}", {"title": "Admiral"}, headers={"If-Match": fetched["ETag"]}
    )
    assert stale.status_code == 412
    assert stale.json()["errors"][0]["code"] == "PRECONDITION_FAILED"
    assert Lead.objects.get().title == "Rear Admiral"

    deleted = api.delete(f"/leads/{lead.public_id}")
    assert deleted.status_code == 204
    assert Lead.objects.count() == 0
    assert api.get(f"/leads/{lead.public_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code", "fields"),
    [
        ({"company": "X"}, 400, "REQUIRED_FIELD_MISSING", ["last_name"]),
        ({**NEW_LEAD, "shoe_size": 9}, 400, "INVALID_FIELD", ["shoe_size"]),
        (
            {**NEW_LEAD, "is_converted": True},
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["is_converted"],
        ),
        ({**NEW_LEAD, "id": "00Q000000000001EAA"}, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", ["id"]),
        ({**NEW_LEAD, "owner_id": "nope"}, 400, "INVALID_ID", ["owner_id"]),
        ({**NEW_LEAD, "owner_id": "005000000000999AAA"}, 404, "NOT_FOUND", ["owner_id"]),
        ({**NEW_LEAD, "owner_id": "001000000000001AAA"}, 400, "INVALID_ID", ["owner_id"]),
        ("not json", 400, "JSON_PARSER_ERROR", []),
        ([1, 2], 400, "JSON_PARSER_ERROR", []),
    ],
)
def test_create_refuses_bad_input(api, body, status, code, fields):
    response = api.post("/leads", body)
    assert response.status_code == status, response.content
    error = response.json()["errors"][0]
    assert (error["code"], error["fields"]) == (code, fields)
    assert Lead.objects.count() == 0


def test_duplicate_email_is_a_conflict_naming_the_existing_lead(api):
    existing_id = api.post("/leads", NEW_LEAD).json()["id"]
    response = api.post("/leads", {**NEW_LEAD, "email": "GRACE@navy.test"})
    assert response.status_code == 409
    error = response.json()["errors"][0]
    assert (error["code"], error["fields"]) == ("DUPLICATE_VALUE", ["email"])
    assert existing_id in error["message"]
    assert Lead.objects.count() == 1


def test_changing_to_a_taken_email_is_a_conflict_and_changes_nothing(api):
    existing_id = api.post("/leads", NEW_LEAD).json()["id"]
    other = api.post("/leads", {**NEW_LEAD, "email": "other@navy.test"}).json()
    response = api.patch(f"/leads/{other['id']}", {"email": "Grace@Navy.test", "title": "CTO"})
    assert response.status_code == 409
    assert existing_id in response.json()["errors"][0]["message"]
    assert api.get(f"/leads/{other['id']}").json() == other


def test_idempotency_key_replays_the_first_response(api):
    first = api.post("/leads", NEW_LEAD, headers={"Idempotency-Key": "k1"})
    again = api.post("/leads", NEW_LEAD, headers={"Idempotency-Key": "k1"})
    other = api.post(
        "/leads", {**NEW_LEAD, "email": "x@navy.test"}, headers={"Idempotency-Key": "k1"}
    )

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert other.status_code == 409
    assert other.json()["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert Lead.objects.count() == 1


def test_a_failed_request_keeps_no_idempotency_record(api):
    refused = api.post("/leads", {"company": "X"}, headers={"Idempotency-Key": "k2"})
    assert refused.status_code == 400
    assert IdempotencyRecord.objects.count() == 0
    assert Lead.objects.count() == 0

    accepted = api.post(
        "/leads", {"company": "X", "last_name": "Y"}, headers={"Idempotency-Key": "k2"}
    )
    assert accepted.status_code == 201
    assert IdempotencyRecord.objects.count() == 1
    assert Lead.objects.count() == 1


def test_delete_honours_if_match(api, actor):
    lead = LeadFactory(owner_user=actor)
    url = f"/leads/{lead.public_id}"
    first_etag = api.get(url)["ETag"]
    assert api.patch(url, {"title": "Changed"}).status_code == 200

    stale = api.delete(url, headers={"If-Match": first_etag})

    assert stale.status_code == 412
    assert stale.json()["errors"][0]["code"] == "PRECONDITION_FAILED"
    assert Lead.objects.filter(pk=lead.pk).exists()
    current = api.get(url)["ETag"]
    assert api.delete(url, headers={"If-Match": f"{first_etag}, {current}"}).status_code == 204
    assert not Lead.objects.filter(pk=lead.pk).exists()


def test_convert(api, actor):
    lead = LeadFactory(owner_user=actor, company="Navy Labs")

    response = api.post(
        f"/leads/{lead.public_id}/convert",
        {"opportunity_name": "Fleet"},
        headers={"Idempotency-Key": "c1"},
    )
    again = api.post(
        f"/leads/{lead.public_id}/convert",
        {"opportunity_name": "Fleet"},
        headers={"Idempotency-Key": "c1"},
    )
    twice = api.post(f"/leads/{lead.public_id}/convert", {})

    assert response.status_code == 200, response.content
    result = response.json()
    assert result["account_id"] == Account.objects.get().public_id
    assert result["opportunity_id"] == Opportunity.objects.get(name="Fleet").public_id
    assert again.json() == result
    assert twice.status_code == 400
    assert twice.json()["errors"][0]["code"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert api.patch(f"/leads/{lead.public_id}", {"title": "x"}).json()["errors"][0]["code"] == (
        "CANNOT_UPDATE_CONVERTED_LEAD"
    )
    assert AuditEvent.objects.filter(action="convert").count() == 1


def test_convert_refuses_unknown_options(api, actor):
    lead = LeadFactory(owner_user=actor)
    response = api.post(f"/leads/{lead.public_id}/convert", {"make_it_so": True})
    assert response.status_code == 400
    assert response.json()["errors"][0]["fields"] == ["make_it_so"]
    assert Account.objects.count() == 0


def test_list_filters_orders_and_pages(api, actor):
    leads = [
        LeadFactory(owner_user=actor, lead_source="Web" if n % 2 else "Other") for n in range(7)
    ]

    first = api.get(
        "/leads", lead_source="Web", limit=2, include_total="true", order_by="created_date"
    )
    assert first.status_code == 200, first.content
    body = first.json()
    web = [lead.public_id for lead in leads if lead.lead_source == "Web"]
    assert [record["id"] for record in body["records"]] == web[:2]
    assert body["total"] == 3
    second = api.get(
        "/leads", lead_source="Web", limit=2, order_by="created_date", cursor=body["next_cursor"]
    )
    assert [record["id"] for record in second.json()["records"]] == web[2:]
    assert second.json()["next_cursor"] is None


@pytest.mark.parametrize("order_by", ["-created_date", "created_date"])
def test_pages_split_leads_created_at_the_same_moment_by_id(api, actor, order_by):
    leads = [LeadFactory(owner_user=actor) for _ in range(5)]
    moment = timezone.now()
    Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(created_at=moment)
    seen, cursor = [], None
    for _page in range(3):
        query = {"limit": 2, "order_by": order_by, **({"cursor": cursor} if cursor else {})}
        body = api.get("/leads", **query).json()
        seen += [record["id"] for record in body["records"]]
        cursor = body["next_cursor"]
    expected = [lead.public_id for lead in leads]
    assert seen == (expected[::-1] if order_by.startswith("-") else expected)
    assert cursor is None


@pytest.mark.parametrize(
    ("query", "code", "fields"),
    [
        ({"limit": "0"}, "INVALID_TYPE", ["limit"]),
        ({"limit": "many"}, "INVALID_TYPE", ["limit"]),
        ({"order_by": "shoe_size"}, "INVALID_FIELD", ["order_by"]),
        ({"cursor": "garbage"}, "INVALID_FIELD", ["cursor"]),
        ({"cursor": "W251bGwsIDVd"}, "INVALID_FIELD", ["cursor"]),  # [null, 5]
        ({"owner_id": "xyz"}, "INVALID_ID", ["owner_id"]),
        ({"created_after": "yesterday"}, "INVALID_TYPE", ["created_after"]),
    ],
)
def test_list_refuses_bad_parameters(api, query, code, fields):
    response = api.get("/leads", **query)
    assert response.status_code == 400, response.content
    error = response.json()["errors"][0]
    assert (error["code"], error["fields"]) == (code, fields)


def test_list_runs_a_constant_number_of_queries(api, actor, django_assert_num_queries):
    for _ in range(3):
        LeadFactory(owner_user=actor)
    api.get("/leads", limit=2)  # warm the sharing-defaults cache
    with django_assert_num_queries(2):  # the token, the page
        small = api.get("/leads", limit=2)
    for _ in range(60):
        LeadFactory(owner_user=actor)
    with django_assert_num_queries(2):
        large = api.get("/leads", limit=50)
    assert (len(small.json()["records"]), len(large.json()["records"])) == (2, 50)


def test_convert_runs_a_fixed_number_of_queries(api, actor):
    api.post(f"/leads/{LeadFactory(owner_user=actor).public_id}/convert", {})  # warm caches
    lead = LeadFactory(owner_user=actor)
    with CaptureQueriesContext(connection) as context:
        response = api.post(f"/leads/{lead.public_id}/convert", {})
    assert response.status_code == 200, response.content
    # Token, the lead read for access, the conversion's 11 statements (2 for the
    # duplicate keys), and two savepoint pairs: the conversion's, and the request's
    # transaction (a savepoint inside the test's). The issue allows 20.
    assert len(context.captured_queries) == 17, [q["sql"][:60] for q in context.captured_queries]


def test_create_runs_token_duplicate_check_lead_audit_event_and_keys(api, actor):
    api.post("/leads", {"last_name": "Warm", "company": "Up"})  # warm the status cache
    with CaptureQueriesContext(connection) as context:
        response = api.post("/leads", {"last_name": "Ng", "company": "Acme", "email": "a@b.co"})
    assert response.status_code == 201, response.content
    statements = [query["sql"].split()[0] for query in context.captured_queries]
    # The token, the duplicate check (docs/duplicates.md), then the lead, its audit
    # event and its duplicate keys. The savepoint pair is the create's transaction
    # inside the test's; in production it is BEGIN and COMMIT, which Django does not list.
    assert statements == [
        "SELECT",
        "SELECT",
        "SAVEPOINT",
        "INSERT",
        "INSERT",
        "INSERT",
        "RELEASE",
    ], statements
