"""GET /api/v1/opportunities?stalled=true|false (issue 7, Stalled deals)."""

import datetime

import pytest

from dealflow.core.services import sharing_default_set
from dealflow.sales.selectors import stalled_queryset
from tests.factories import OpportunityFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.UTC)
PAST = datetime.date(2026, 11, 1)
FUTURE = datetime.date(2027, 3, 1)


def names(response):
    assert response.status_code == 200, response.content
    return sorted(record["name"] for record in response.json()["records"])


@pytest.fixture
def deals(actor, freeze_clock):
    freeze_clock(NOW)
    other = UserFactory(username="other")
    OpportunityFactory(owner=actor, name="Mine late", close_date=PAST)
    OpportunityFactory(owner=actor, name="Mine fine", close_date=FUTURE)
    OpportunityFactory(owner=other, name="Theirs late", close_date=PAST)
    OpportunityFactory(owner=other, name="Theirs fine", close_date=FUTURE)
    return other


def test_stalled_true_lists_the_stalled_deals_and_false_the_others(api, deals):
    assert names(api.get("/opportunities", stalled="true")) == ["Mine late", "Theirs late"]
    assert names(api.get("/opportunities", stalled="false")) == ["Mine fine", "Theirs fine"]
    assert len(names(api.get("/opportunities"))) == 4


def test_a_rep_sees_only_the_stalled_deals_they_may_read(api, deals):
    sharing_default_set(actor=None, object_name="Opportunity", access="private")
    assert names(api.get("/opportunities", stalled="true")) == ["Mine late"]
    assert names(api.get("/opportunities", stalled="false")) == ["Mine fine"]


def test_stalled_combines_with_other_filters(api, actor, deals):
    found = api.get("/opportunities", stalled="true", owner_id=deals.public_id)
    assert names(found) == ["Theirs late"]


def test_the_stalled_list_is_keyset_paged(api, actor, freeze_clock):
    freeze_clock(NOW)
    for day in range(1, 6):
        OpportunityFactory(owner=actor, name=f"Late {day}", close_date=PAST.replace(day=day))
        OpportunityFactory(owner=actor, name=f"Fine {day}", close_date=FUTURE)
    first = api.get("/opportunities", stalled="true", limit=2)
    assert [record["name"] for record in first.json()["records"]] == ["Late 1", "Late 2"]
    cursor = first.json()["next_cursor"]
    second = api.get("/opportunities", stalled="true", limit=2, cursor=cursor)
    assert [record["name"] for record in second.json()["records"]] == ["Late 3", "Late 4"]
    # A cursor holds only under the filters it was made with.
    refused = api.get("/opportunities", stalled="false", limit=2, cursor=cursor)
    assert refused.status_code == 400


def test_stalled_must_be_true_or_false(api, deals):
    assert api.get("/opportunities", stalled="maybe").status_code in (400, 422)


def test_the_condition_is_part_of_the_query(actor, deals):
    sql = str(stalled_queryset().filter(is_stalled=True).query)
    assert "close_date" in sql
    assert "EXISTS" in sql.upper()
