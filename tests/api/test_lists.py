"""Every list: cursors bound to their request, sort orders as documented, no refusal that
names a record the user may not see."""

import pytest

from dealflow.api.main import api as native_api
from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead
from dealflow.people.models import Role
from tests.api.test_records import LIST_FACTORIES
from tests.factories import AccountFactory, ContactFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

DOCUMENT = native_api.get_openapi_schema()
# path under /api/v1 -> the sort orders its OpenAPI document lists (paged lists only)
SORTS = {
    path.removeprefix("/api/v1"): parameter["schema"]["enum"]
    for path, operations in DOCUMENT["paths"].items()
    if "{" not in path and "get" in operations
    for parameter in operations["get"].get("parameters", [])
    if parameter["name"] == "order_by"
}


def _page(api, path, **query):
    response = api.get(path, **query)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_paged_lists_are_discovered():
    assert sorted(SORTS) == [
        "/accounts",
        "/contact-roles",
        "/contacts",
        "/leads",
        "/opportunities",
        "/tasks",
    ]
    assert "last_name" in SORTS["/leads"]
    assert "-company" in SORTS["/leads"]


@pytest.mark.parametrize("path", sorted(SORTS))
def test_every_documented_sort_pages_through_every_record_once(api, actor, path):
    for _ in range(5):
        LIST_FACTORIES[path](actor)
    everything = {record["id"] for record in _page(api, path, limit=200)["records"]}
    assert len(everything) == 5
    for order in SORTS[path]:
        seen, cursor = [], None
        while True:
            query = {"order_by": order, "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = _page(api, path, **query)
            seen += [record["id"] for record in page["records"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(everything), order


@pytest.mark.parametrize("path", sorted(SORTS))
def test_a_cursor_is_refused_under_another_order_or_search(api, actor, path):
    for _ in range(3):
        LIST_FACTORIES[path](actor)
    first, other = SORTS[path][0], SORTS[path][-1]
    cursor = _page(api, path, order_by=first, limit=1)["next_cursor"]
    assert cursor
    for query in ({"order_by": other}, {"order_by": first, "q": "a"}):
        response = api.get(path, cursor=cursor, limit=1, **query)
        assert response.status_code == 400, (query, response.content)
        error = response.json()["errors"][0]
        assert (error["code"], error["fields"]) == ("INVALID_FIELD", ["cursor"])
        assert "made for another order_by, filters or q" in error["message"]
    assert api.get(path, cursor=cursor, limit=1, order_by=first).status_code == 200


def test_a_lead_cursor_is_refused_under_other_filters(api, actor):
    for source in ("Web", "Web", "Other"):
        LeadFactory(owner_user=actor, lead_source=source)
    cursor = _page(api, "/leads", lead_source="Web", limit=1)["next_cursor"]
    response = api.get("/leads", lead_source="Other", cursor=cursor, limit=1)
    assert response.status_code == 400
    assert response.json()["errors"][0]["fields"] == ["cursor"]
    # The same filter spelled in another case is the same filter.
    page = _page(api, "/leads", lead_source="WEB", cursor=cursor, limit=1)
    assert len(page["records"]) == 1


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        "WyIyMDI2LTAxLTAxIiwgMV0",  # ["2026-01-01", 1]: the old two-part form
        "WyI5OTk5LTEyLTMxVDIzOjU5OjU5LTE0OjAwIiwgMSwgIjAwMDAwMDAwIl0",  # year 10000 in UTC
    ],
)
def test_a_cursor_this_list_did_not_make_is_refused(api, actor, cursor):
    LeadFactory(owner_user=actor)
    response = api.get("/leads", cursor=cursor)
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["fields"] == ["cursor"]


def test_an_unknown_sort_is_refused_with_the_documented_ones(api):
    response = api.get("/leads", order_by="colour")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["code"], error["fields"]) == ("INVALID_FIELD", ["order_by"])
    assert (
        "company, created_date, email, first_name, last_modified_date, last_name"
        in (error["message"])
    )


def test_a_refusal_to_change_names_no_record_the_user_may_not_see(actor):
    """Converting into a contact whose account the rep cannot see must not reveal it."""
    from dealflow.core.errors import DomainError, ErrorCode
    from dealflow.leads.services import lead_convert

    sharing_default_set(actor=None, object_name="Account", access=Access.PRIVATE)
    other = UserFactory(role=Role.REP)
    hidden_account = AccountFactory(owner=other)
    contact = ContactFactory(owner=actor, account=hidden_account)
    lead = LeadFactory(owner_user=actor)
    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead, contact=contact)
    assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert hidden_account.public_id not in raised.value.message
    assert raised.value.message == "you may not change a record you cannot see"
    assert Lead.objects.get().is_converted is False
