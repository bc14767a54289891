"""Input that used to crash the API (found by fuzzing): each must be a 4xx in the error format."""

import pytest

from dealflow.api.main import api as native_api
from tests.factories import AccountFactory, LeadFactory

pytestmark = pytest.mark.django_db

NEW_LEAD = {"last_name": "Hopper", "company": "Navy Labs"}
BEYOND_64_BITS = "005zzzzzzzzzzzz"  # well-formed, but its primary key fits no database row


def assert_error(response, status, code, fields):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["errors"][0]
    assert (error["code"], error["fields"]) == (code, fields)
    assert error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"last_name": "Hop\\u0000per", "company": "Navy Labs"}', "last_name"),
        ('{"last_name": "Hop\\ud800per", "company": "Navy Labs"}', "last_name"),
        ('{"last_name": "Hopper", "company": "Navy Labs", "status": "Open\\u0000"}', "status"),
        ('{"last_name": "Hopper", "company": "Navy Labs", "x\\u0000": 1}', "x\x00"),
    ],
)
def test_text_no_database_can_store_is_refused(api, body, field):
    assert_error(api.post("/leads", body), 400, "INVALID_TYPE", [field])


@pytest.mark.parametrize("name", ["q", "status", "order_by", "cursor", "industry"])
def test_nul_in_a_list_filter_is_refused(api, name):
    assert_error(api.get("/leads", **{name: "a\x00b"}), 400, "INVALID_TYPE", [name])


def test_nul_in_an_idempotency_key_is_refused(api):
    response = api.post("/leads", NEW_LEAD, headers={"Idempotency-Key": "a\x00b"})
    assert_error(response, 400, "INVALID_FIELD", ["Idempotency-Key"])


def test_datetime_filters_take_any_offset_and_refuse_moments_out_of_range(api, actor):
    LeadFactory(owner_user=actor)
    # PostgreSQL itself refuses offsets beyond 15:59; the API converts to UTC first.
    response = api.get("/leads", created_after="2000-01-01T00:00:00+17:20")
    assert response.status_code == 200, response.content
    assert len(response.json()["records"]) == 1
    response = api.get("/leads", created_after="2000-01-01T00:00:00")
    assert response.status_code == 200, response.content
    assert len(response.json()["records"]) == 1
    response = api.get("/leads", created_after="9999-01-01T00:00:00+17:20")
    assert response.status_code == 200, response.content
    assert response.json()["records"] == []
    response = api.get("/leads", created_after="0001-01-01T00:00:00+05:00")
    assert_error(response, 400, "INVALID_TYPE", ["created_after"])


@pytest.mark.parametrize("amount", [1e308, "1e999999", "-1e17"])
def test_amounts_too_large_to_round_are_refused(api, amount):
    response = api.post("/accounts", {"name": "Huge", "annual_revenue": amount})
    assert_error(response, 400, "NUMBER_OUTSIDE_VALID_RANGE", ["annual_revenue"])


def test_ids_beyond_any_row_are_refused_in_filters_and_not_found_elsewhere(api, actor):
    assert_error(api.get("/leads", owner_id=BEYOND_64_BITS), 400, "INVALID_ID", ["owner_id"])
    assert_error(api.get("/tasks", who_id="00Qzzzzzzzzzzzz"), 400, "INVALID_ID", ["who_id"])
    assert api.get("/users/" + BEYOND_64_BITS).status_code == 404
    response = api.post("/accounts", {"name": "Ref", "owner_id": BEYOND_64_BITS})
    assert_error(response, 404, "NOT_FOUND", ["owner_id"])


def test_a_method_an_endpoint_does_not_have_gets_a_json_405(api, actor):
    account = AccountFactory(owner=actor)
    for response in (api.request("PUT", "/leads", {}), api.post(f"/accounts/{account.public_id}")):
        assert_error(response, 405, "METHOD_NOT_ALLOWED", [])
        assert response["Allow"]
    assert set(api.request("PUT", "/leads", {})["Allow"].split(", ")) == {"GET", "POST"}


def test_an_unknown_endpoint_gets_a_json_404(api):
    assert_error(api.get("/no-such-thing"), 404, "NOT_FOUND", [])
    assert_error(api.post("/leads/"), 404, "NOT_FOUND", [])


def test_the_openapi_document_is_3_1_without_nullable():
    schema = native_api.get_openapi_schema(path_prefix="/api/v1/")
    assert schema["openapi"].startswith("3.1")
    assert '"nullable"' not in str(schema).replace("'", '"')
    lead = schema["components"]["schemas"]["Lead"]["properties"]
    assert lead["email"]["type"] == ["string", "null"]  # "" is stored for no address
    assert schema["components"]["schemas"]["Task"]["properties"]["type"]["enum"][-1] is None
    get_parameters = schema["paths"]["/api/v1/leads/{record_id}"]["get"]["parameters"]
    assert "If-None-Match" in [parameter["name"] for parameter in get_parameters]
