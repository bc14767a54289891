"""Every answer under /api/ is the JSON error format: unknown query parameters, unknown
paths, oversized bodies, bad headers and crashes included."""

import json
import logging
import re

import pytest
from django.test import Client

from dealflow.api.main import api as native_api
from dealflow.leads.models import Lead
from dealflow.people.models import Role, User
from tests.api.conftest import ApiClient
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

PREFIX = "/api/v1"
NO_SUCH_ID = "00Q000000000000AAA"
DOCUMENT = native_api.get_openapi_schema()
# (method, path under /api/v1, the query parameters the document declares), per operation.
OPERATIONS = [
    (
        method.upper(),
        path.removeprefix(PREFIX),
        [item["name"] for item in operation.get("parameters", []) if item["in"] == "query"],
    )
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
]
LISTS = [(path, names) for method, path, names in OPERATIONS if method == "GET" and "{" not in path]
NEW_LEAD = {"last_name": "Hopper", "company": "Navy Labs"}


def errors(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()["errors"]


def unknown(names, accepted):
    noun = "parameters" if len(names) > 1 else "parameter"
    return {
        "code": "INVALID_FIELD",
        "message": f"unknown query {noun} {', '.join(names)} "
        f"(accepted: {', '.join(accepted) or 'none'})",
        "fields": names,
    }


def not_found(path):
    return [{"code": "NOT_FOUND", "message": f"no endpoint {path} (see docs/api.md)", "fields": []}]


def row_counts():
    return (Lead.objects.count(), User.objects.count())


def test_the_lists_are_discovered():
    paths = {path for path, _names in LISTS}
    assert {"/leads", "/accounts", "/tasks", "/users", "/picklists"} <= paths
    assert {("POST", "/leads/{lead_id}/convert"), ("DELETE", "/tasks/{record_id}")} <= {
        (method, path) for method, path, _names in OPERATIONS
    }


@pytest.mark.parametrize(("path", "accepted"), LISTS, ids=[path for path, _names in LISTS])
def test_a_list_refuses_an_unknown_parameter_and_only_that(api_as, path, accepted):
    # As an admin: some reads (the scoring model's figures, the duplicate queue) are not a rep's.
    api = api_as(UserFactory(role=Role.ADMIN))
    assert api.get(path).status_code == 200
    assert errors(api.get(path, colour="red"), 400) == [unknown(["colour"], accepted)]
    known = {accepted[0]: "1"} if accepted else {}
    response = api.get(path, colour="red", size="9", **known)
    assert errors(response, 400) == [unknown(["colour", "size"], accepted)]
    assert api.get(path, **known).status_code == 200  # without the unknown ones: fine


def test_list_options_are_still_accepted(api, actor):
    LeadFactory(owner_user=actor)
    response = api.get("/leads", limit="1", include_total="true", order_by="-created_date")
    assert response.status_code == 200, response.content
    assert response.json()["total"] == 1


@pytest.mark.parametrize(
    ("method", "path", "accepted"), OPERATIONS, ids=[f"{m} {p}" for m, p, _names in OPERATIONS]
)
def test_every_operation_refuses_an_unknown_parameter_and_writes_nothing(
    api, method, path, accepted
):
    before = row_counts()
    url = re.sub(r"\{\w+\}", NO_SUCH_ID, path) + "?colour=red"
    response = api.request(method, url, None if method == "GET" else NEW_LEAD)
    assert errors(response, 400) == [unknown(["colour"], accepted)]
    assert row_counts() == before


def test_a_get_refuses_an_unknown_parameter(api, actor):
    lead = LeadFactory(owner_user=actor)
    assert api.get(f"/leads/{lead.public_id}").status_code == 200
    response = api.get(f"/leads/{lead.public_id}", fields="name")
    assert errors(response, 400) == [unknown(["fields"], [])]


def test_a_write_with_an_unknown_parameter_changes_nothing(api, actor):
    lead = LeadFactory(owner_user=actor, last_name="Before")
    path = f"/leads/{lead.public_id}"
    assert errors(api.patch(f"{path}?dry_run=1", {"last_name": "After"}), 400) == [
        unknown(["dry_run"], [])
    ]
    assert errors(api.delete(f"{path}?force=1"), 400) == [unknown(["force"], [])]
    assert errors(api.post(f"{path}/convert?x=1", {}), 400) == [unknown(["x"], [])]
    lead.refresh_from_db()
    assert (lead.last_name, lead.is_converted) == ("Before", False)


def test_authentication_comes_before_the_parameters():
    response = ApiClient().get("/leads", colour="red")
    assert errors(response, 401)[0]["code"] == "INVALID_SESSION_ID"


def test_the_document_says_every_operation_may_answer_400():
    for operations in DOCUMENT["paths"].values():
        for operation in operations.values():
            assert 400 in operation["responses"]


@pytest.mark.parametrize("path", ["/api/", "/api/v1/", "/api/v2/leads", "/api"])
def test_unknown_paths_under_api_are_json_404s(path):
    assert errors(Client().get(path), 404) == not_found(path)


def test_a_post_to_the_api_root_is_a_json_404(api):
    assert errors(api.post("/", {}), 404) == not_found("/api/v1/")


def test_a_body_over_the_limit_is_refused_unread(api, settings, caplog):
    settings.DEALFLOW_MAX_REQUEST_BYTES = 1000
    body = json.dumps({**NEW_LEAD, "description": "x" * 1000})
    before = row_counts()
    with caplog.at_level(logging.INFO):
        response = api.post("/leads", body)
    assert errors(response, 413) == [
        {
            "code": "REQUEST_TOO_LARGE",
            "message": f"the request body is {len(body)} bytes; the limit is 1000 bytes",
            "fields": [],
        }
    ]
    assert row_counts() == before
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert api.post("/leads", NEW_LEAD).status_code == 201  # under the limit: fine


def test_a_body_over_djangos_own_limit_is_a_json_413_too(api, settings, caplog):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    body = json.dumps(NEW_LEAD)
    before = row_counts()
    response = api.post("/leads", body)
    assert errors(response, 413) == [
        {
            "code": "REQUEST_TOO_LARGE",
            "message": f"the request body is {len(body)} bytes; the limit is 10 bytes",
            "fields": [],
        }
    ]
    assert row_counts() == before
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


def raw_post(api, path, body, **environ):
    return api.client.post(
        PREFIX + path,
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
        **environ,
    )


def test_a_content_length_understating_the_body_cuts_the_body_there(api, settings):
    settings.DEALFLOW_MAX_REQUEST_BYTES = 1000
    body = json.dumps({**NEW_LEAD, "description": "x" * 5000})
    before = row_counts()
    response = raw_post(api, "/leads", body, CONTENT_LENGTH="10")
    assert errors(response, 400)[0]["code"] == "JSON_PARSER_ERROR"
    assert row_counts() == before


def test_a_content_length_that_is_no_number_is_refused(api):
    response = raw_post(api, "/leads", json.dumps(NEW_LEAD), CONTENT_LENGTH="12abc")
    assert errors(response, 400) == [
        {
            "code": "INVALID_FIELD",
            "message": "Content-Length: '12abc' is not a number of bytes",
            "fields": ["Content-Length"],
        }
    ]


def test_a_chunked_body_is_refused_rather_than_read_as_empty(api):
    before = row_counts()
    response = raw_post(api, "/leads", json.dumps(NEW_LEAD), HTTP_TRANSFER_ENCODING="chunked")
    assert errors(response, 411) == [
        {
            "code": "LENGTH_REQUIRED",
            "message": "send the body with a Content-Length, not Transfer-Encoding",
            "fields": ["Transfer-Encoding"],
        }
    ]
    assert row_counts() == before


def test_a_host_not_served_is_a_json_400_without_an_error_logged(api, caplog):
    response = api.get("/leads", headers={"Host": "evil.example"})
    assert errors(response, 400) == [
        {"code": "INVALID_FIELD", "message": "Host: not a host served here", "fields": ["Host"]}
    ]
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


def test_a_csrf_refusal_under_api_is_json():
    response = Client(enforce_csrf_checks=True).post(f"{PREFIX}/openapi.json")
    assert errors(response, 403) == [
        {"code": "INSUFFICIENT_ACCESS_OR_READONLY", "message": "403 Forbidden", "fields": []}
    ]


def test_a_crash_is_a_json_500_that_reveals_nothing(api, actor, monkeypatch, caplog):
    def crash(**kwargs):
        raise RuntimeError("secret table lead_internal is on fire")

    monkeypatch.setattr("dealflow.api.leads.lead_get", crash)
    api.client.raise_request_exception = False
    lead = LeadFactory(owner_user=actor)
    response = api.get(f"/leads/{lead.public_id}")
    assert errors(response, 500) == [
        {"code": "UNKNOWN_EXCEPTION", "message": "internal error; it has been logged", "fields": []}
    ]
    assert b"fire" not in response.content
    logged = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(logged) == 1  # once, with the traceback: a server fault
    assert logged[0].exc_info[0] is RuntimeError
