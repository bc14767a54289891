"""Stalled deals on the pages (issue 7, Stalled deals): the badge and its reasons on the
board's cards and the opportunity page, and the list's `stalled` filter."""

import datetime

import pytest

from dealflow.core.services import sharing_default_set
from dealflow.sales.services import opportunity_stage_set
from tests.factories import OpportunityFactory
from tests.web.helpers import XSS, queries_of, text

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.UTC)
PAST = datetime.date(2026, 11, 20)
FUTURE = datetime.date(2027, 3, 1)
LATE_REASON = "Close date 2026-11-20 has passed"


@pytest.fixture
def signed_in(client, rep, freeze_clock):
    freeze_clock(NOW)
    client.force_login(rep)
    return client


def test_the_board_shows_a_badge_with_the_reasons_on_stalled_cards(signed_in, rep):
    OpportunityFactory(owner=rep, name="Late deal", close_date=PAST)
    OpportunityFactory(owner=rep, name="Fine deal", close_date=FUTURE)
    board = signed_in.get("/pipeline/")
    cards = {card.name: card for item in board.context["columns"] for card in item["cards"]}
    assert cards["Late deal"].stalled_reasons == [LATE_REASON]
    assert cards["Fine deal"].stalled_reasons == []
    assert f'<div class="text-secondary">{LATE_REASON}</div>' in cards["Late deal"].html
    assert "Stalled" in cards["Late deal"].html
    assert "Stalled" not in cards["Fine deal"].html
    assert text(board).count('<span class="badge bg-orange-lt">Stalled</span>') == 1


def test_the_reasons_are_escaped_on_the_board_and_the_opportunity_page(
    signed_in, rep, freeze_clock
):
    stage = opportunity_stage_set(
        actor=None, name=XSS, probability=20, forecast_category="Pipeline", stall_days=1
    )
    freeze_clock(NOW - datetime.timedelta(days=5))
    deal = OpportunityFactory(owner=rep, name="Scripted", stage=stage, close_date=FUTURE)
    freeze_clock(NOW)
    reason = "No stage change for 5 days (limit 1 in &lt;script&gt;alert(1)&lt;/script&gt;)"
    board = text(signed_in.get("/pipeline/"))
    assert reason in board
    assert XSS not in board
    detail = text(signed_in.get(f"/opportunities/{deal.public_id}/"))
    assert reason in detail
    assert XSS not in detail


def test_the_board_costs_the_same_queries_for_5_and_50_cards(signed_in, rep):
    def board_queries(number):
        for index in range(number):
            OpportunityFactory(owner=rep, close_date=PAST if index % 2 else FUTURE)
        return queries_of(signed_in, "/pipeline/")

    few = board_queries(5)
    assert board_queries(45) == few


def test_the_opportunity_page_says_why_a_deal_is_stalled(signed_in, rep):
    late = OpportunityFactory(owner=rep, name="Late deal", close_date=PAST)
    fine = OpportunityFactory(owner=rep, name="Fine deal", close_date=FUTURE)
    page = signed_in.get(f"/opportunities/{late.public_id}/")
    assert page.context["stalled_reasons"] == [LATE_REASON]
    assert f'<li class="list-inline-item">{LATE_REASON}</li>' in text(page)
    page = signed_in.get(f"/opportunities/{fine.public_id}/")
    assert page.context["stalled_reasons"] == []
    assert "bg-orange-lt" not in text(page)


def names_listed(response):
    assert response.status_code == 200
    return sorted(row.name for row in response.context["rows"])


def test_the_list_filters_stalled_deals(signed_in, rep, other_rep):
    OpportunityFactory(owner=rep, name="Mine late", close_date=PAST)
    OpportunityFactory(owner=rep, name="Mine fine", close_date=FUTURE)
    OpportunityFactory(owner=other_rep, name="Theirs late", close_date=PAST)
    stalled = signed_in.get("/opportunities/", {"stalled": "true"})
    assert names_listed(stalled) == ["Mine late", "Theirs late"]
    assert '<option value="true" selected>Stalled</option>' in text(stalled)
    assert '<label class="form-label" for="filter_stalled">Stalled</label>' in text(stalled)
    assert text(stalled).count('>Stalled<span class="visually-hidden">') == 2
    moving = signed_in.get("/opportunities/", {"stalled": "false"})
    assert names_listed(moving) == ["Mine fine"]
    assert len(names_listed(signed_in.get("/opportunities/"))) == 3


def test_a_rep_lists_only_their_own_stalled_deals_when_deals_are_private(signed_in, rep, other_rep):
    sharing_default_set(actor=None, object_name="Opportunity", access="private")
    OpportunityFactory(owner=rep, name="Mine late", close_date=PAST)
    OpportunityFactory(owner=other_rep, name="Theirs late", close_date=PAST)
    assert names_listed(signed_in.get("/opportunities/", {"stalled": "true"})) == ["Mine late"]


def test_a_bad_stalled_value_is_shown_and_not_applied(signed_in, rep):
    OpportunityFactory(owner=rep, name="Fine deal", close_date=FUTURE)
    response = signed_in.get("/opportunities/", {"stalled": "maybe"})
    assert names_listed(response) == ["Fine deal"]
    assert "expected true or false" in text(response)


def test_the_stalled_list_pages_on_and_keeps_its_filter(signed_in, rep):
    OpportunityFactory.create_batch(51, owner=rep, close_date=PAST)
    OpportunityFactory(owner=rep, close_date=FUTURE)
    first = signed_in.get("/opportunities/", {"stalled": "true"})
    assert len(first.context["rows"]) == 50
    assert "stalled=true" in first.context["next_url"]
    second = signed_in.get("/opportunities/" + first.context["next_url"])
    assert len(second.context["rows"]) == 1
    assert second.context["rows"][0].close_date == PAST


def test_the_stalled_list_costs_the_same_queries_for_5_and_50_rows(signed_in, rep):
    def list_queries(number):
        OpportunityFactory.create_batch(number, owner=rep, close_date=PAST)
        return queries_of(signed_in, "/opportunities/?stalled=true")

    few = list_queries(5)
    assert list_queries(45) == few
