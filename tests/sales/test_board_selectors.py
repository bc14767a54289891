"""The pipeline board's reads and a deal's stage history (sales/selectors.py)."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.core.errors import DomainError
from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.sales.models import OpportunityHistory, OpportunityStage
from dealflow.sales.selectors import (
    board_cards,
    board_columns,
    board_first_cards,
    board_stages,
    closed_since,
    opportunity_contact_roles,
    opportunity_stage_history,
    stage_entered_at,
)
from dealflow.sales.services import (
    contact_role_set,
    opportunity_create,
    opportunity_stage_set,
    opportunity_update,
)
from tests.factories import (
    AccountFactory,
    ContactFactory,
    OpportunityFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 27, 15, 30, tzinfo=datetime.UTC)


def stage(name):
    return OpportunityStage.objects.get(name=name)


def column_of(columns, name):
    return next(column for column in columns if column.stage.name == name)


def test_columns_are_open_stages_in_order_then_won_then_lost(actor):
    columns = board_columns(actor=actor, filters={})

    assert [column.stage.name for column in columns] == [
        "Prospecting",
        "Qualification",
        "Needs Analysis",
        "Value Proposition",
        "Id. Decision Makers",
        "Perception Analysis",
        "Proposal/Price Quote",
        "Negotiation/Review",
        "Closed Won",
        "Closed Lost",
    ]
    assert all(column.count == 0 and column.total == Decimal("0.00") for column in columns)


def test_column_totals_and_weighted_amounts_are_exact(actor):
    prospecting = stage("Prospecting")
    OpportunityFactory(owner=actor, stage=prospecting, amount=Decimal("10.01"), probability=75)
    OpportunityFactory(owner=actor, stage=prospecting, amount=Decimal("0.25"), probability=50)
    OpportunityFactory(owner=actor, stage=prospecting, amount=None, probability=10)
    # Beyond 64-bit integers in cents, and a weighted sum that needs every digit.
    big = Decimal("9999999999999999.99")
    negotiation = stage("Negotiation/Review")
    OpportunityFactory(owner=actor, stage=negotiation, amount=big, probability=90)
    OpportunityFactory(owner=actor, stage=negotiation, amount=big, probability=90)

    columns = board_columns(actor=actor, filters={})

    first = column_of(columns, "Prospecting")
    assert (first.count, first.total, first.weighted) == (3, Decimal("10.26"), Decimal("7.63"))
    # 10.01 x 75% = 7.5075 and 0.25 x 50% = 0.125: summed exactly, rounded once.
    assert str(first.weighted) == "7.63"
    late = column_of(columns, "Negotiation/Review")
    assert late.count == 2
    assert late.total == Decimal("19999999999999999.98")
    assert late.weighted == Decimal("17999999999999999.98")
    assert column_of(columns, "Closed Won").count == 0


def test_columns_count_only_what_the_actor_may_see_and_the_filters_keep(actor):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.PRIVATE)
    team = TeamFactory(name="East")
    teammate = UserFactory(team=team)
    other = UserFactory()
    OpportunityFactory(owner=actor, amount=Decimal("100.00"), close_date=datetime.date(2026, 1, 5))
    OpportunityFactory(owner=actor, amount=Decimal("50.00"), close_date=datetime.date(2026, 3, 1))
    OpportunityFactory(owner=other, amount=Decimal("1000.00"))
    OpportunityFactory(owner=teammate, amount=Decimal("7.00"))

    mine = column_of(board_columns(actor=actor, filters={}), "Prospecting")
    assert (mine.count, mine.total) == (2, Decimal("150.00"))

    in_january = board_columns(
        actor=actor,
        filters={
            "close_date_from": datetime.date(2026, 1, 1),
            "close_date_to": datetime.date(2026, 1, 31),
        },
    )
    assert column_of(in_january, "Prospecting").total == Decimal("100.00")

    admin = UserFactory(role="admin")
    east = board_columns(actor=admin, filters={"team": team.pk})
    assert column_of(east, "Prospecting").total == Decimal("7.00")


def test_columns_take_one_query(actor):
    for _ in range(3):
        OpportunityFactory(owner=actor, amount=Decimal("1.00"))
    board_columns(actor=actor, filters={})  # loads the stage and sharing caches, once a process
    with CaptureQueriesContext(connection) as queries:
        board_columns(actor=actor, filters={})
    assert len(queries) == 1, [query["sql"] for query in queries.captured_queries]


def test_a_retired_stage_is_a_column_only_while_it_holds_deals(actor):
    retired = opportunity_stage_set(
        actor=None, name="Old Stage", probability=30, forecast_category="Pipeline", is_active=False
    )
    assert "Old Stage" not in [
        column.stage.name for column in board_columns(actor=actor, filters={})
    ]

    OpportunityFactory(owner=actor, stage=retired, amount=Decimal("5.00"), probability=30)

    names = [column.stage.name for column in board_columns(actor=actor, filters={})]
    assert names.index("Old Stage") < names.index("Closed Won")


def test_cards_come_by_close_date_and_continue_from_a_cursor(actor):
    prospecting = stage("Prospecting")
    start = datetime.date(2026, 1, 1)
    made = [
        OpportunityFactory(owner=actor, close_date=start + datetime.timedelta(days=offset))
        for offset in (5, 1, 3, 2, 4)
    ]
    OpportunityFactory(owner=actor, stage=stage("Qualification"))

    first = board_cards(actor=actor, stage=prospecting, filters={}, limit=3)
    assert [card.close_date.day for card in first.cards] == [2, 3, 4]
    assert first.next_cursor

    rest = board_cards(
        actor=actor, stage=prospecting, filters={}, limit=3, cursor=first.next_cursor
    )
    assert [card.close_date.day for card in rest.cards] == [5, 6]
    assert rest.next_cursor is None
    assert {card.public_id for card in first.cards + rest.cards} == {o.public_id for o in made}


def test_a_cursor_of_other_filters_is_refused(actor):
    for _ in range(3):
        OpportunityFactory(owner=actor)
    page = board_cards(actor=actor, stage=stage("Prospecting"), filters={}, limit=2)
    with pytest.raises(DomainError) as refused:
        board_cards(
            actor=actor,
            stage=stage("Prospecting"),
            filters={"owner": actor.pk},
            cursor=page.next_cursor,
        )
    assert refused.value.fields == ["cursor"]


def test_cards_show_account_only_when_readable_and_days_in_stage(actor, freeze_clock):
    sharing_default_set(actor=None, object_name="Account", access=Access.PRIVATE)
    freeze_clock(NOW - datetime.timedelta(days=9))
    own_account = AccountFactory(owner=actor, name="Acme")
    hidden_account = AccountFactory(name="Hidden Co")
    deal = opportunity_create(
        actor=actor,
        data={
            "name": "Deal",
            "close_date": "2026-12-01",
            "stage": "Prospecting",
            "account": own_account,
        },
    )
    other = opportunity_create(
        actor=actor,
        data={
            "name": "Other",
            "close_date": "2026-12-02",
            "stage": "Prospecting",
            "account": hidden_account,
        },
    )
    freeze_clock(NOW - datetime.timedelta(days=4))
    opportunity_update(actor=actor, opportunity=deal, data={"stage": "Qualification"})
    freeze_clock(NOW - datetime.timedelta(days=1))
    # An amount change in the same stage does not restart the count.
    opportunity_update(actor=actor, opportunity=deal, data={"amount": "10.00"})
    freeze_clock(NOW)

    pages = board_first_cards(actor=actor, stages_shown=board_stages(), filters={})

    [card] = pages[stage("Qualification").pk].cards
    assert (card.name, card.account_name, card.days_in_stage) == ("Deal", "Acme", 4)
    [hidden] = pages[stage("Prospecting").pk].cards
    assert (hidden.public_id, hidden.account_name, hidden.account_public_id) == (
        other.public_id,
        "",
        "",
    )
    assert hidden.days_in_stage == 9


def test_days_in_stage_without_history_count_from_creation(actor, freeze_clock):
    freeze_clock(NOW - datetime.timedelta(days=2))
    deal = OpportunityFactory(owner=actor)
    freeze_clock(NOW)
    assert stage_entered_at([deal.pk]) == {}
    [card] = board_cards(actor=actor, stage=stage("Prospecting"), filters={}).cards
    assert card.days_in_stage == 2


def test_a_move_back_to_an_earlier_stage_restarts_the_count(actor, freeze_clock):
    freeze_clock(NOW - datetime.timedelta(days=20))
    deal = opportunity_create(
        actor=actor, data={"name": "D", "close_date": "2026-12-01", "stage": "Prospecting"}
    )
    freeze_clock(NOW - datetime.timedelta(days=10))
    opportunity_update(actor=actor, opportunity=deal, data={"stage": "Qualification"})
    freeze_clock(NOW - datetime.timedelta(days=3))
    opportunity_update(actor=actor, opportunity=deal, data={"stage": "Prospecting"})
    freeze_clock(NOW)

    assert stage_entered_at([deal.pk]) == {deal.pk: NOW - datetime.timedelta(days=3)}


def test_board_cards_query_count_does_not_grow_with_cards(actor):
    account = AccountFactory(owner=actor)

    def count(number):
        for name in ("Prospecting", "Closed Won", "Closed Lost"):
            OpportunityFactory.create_batch(number, owner=actor, account=account, stage=stage(name))
        board_first_cards(actor=actor, stages_shown=board_stages(), filters={})  # warm caches
        with CaptureQueriesContext(connection) as queries:
            board_first_cards(actor=actor, stages_shown=board_stages(), filters={})
        return len(queries)

    few = count(5)
    assert count(45) == few


def test_stage_history_days_per_stage_and_push_count(actor, freeze_clock):
    freeze_clock(NOW - datetime.timedelta(days=30))
    deal = opportunity_create(
        actor=actor,
        data={"name": "D", "close_date": "2026-12-10", "stage": "Prospecting", "amount": "100"},
    )
    freeze_clock(NOW - datetime.timedelta(days=20))
    opportunity_update(actor=actor, opportunity=deal, data={"stage": "Qualification"})
    freeze_clock(NOW - datetime.timedelta(days=15))
    # Pushed into January: a later month.
    opportunity_update(actor=actor, opportunity=deal, data={"close_date": "2027-01-05"})
    freeze_clock(NOW - datetime.timedelta(days=12))
    # Later, but in the same month: no push.
    opportunity_update(actor=actor, opportunity=deal, data={"close_date": "2027-01-25"})
    freeze_clock(NOW - datetime.timedelta(days=8))
    # Earlier: no push.
    opportunity_update(actor=actor, opportunity=deal, data={"close_date": "2026-12-20"})
    freeze_clock(NOW - datetime.timedelta(days=5))
    opportunity_update(
        actor=actor, opportunity=deal, data={"stage": "Needs Analysis", "close_date": "2027-03-01"}
    )
    freeze_clock(NOW)

    history = opportunity_stage_history(actor=actor, opportunity=deal)

    assert [
        (row.stage_name, row.close_date.isoformat(), row.days_in_stage, row.pushed)
        for row in history.rows
    ] == [
        ("Needs Analysis", "2027-03-01", 5, True),
        ("Qualification", "2026-12-20", None, False),
        ("Qualification", "2027-01-25", None, False),
        ("Qualification", "2027-01-05", None, True),
        ("Qualification", "2026-12-10", 15, False),
        ("Prospecting", "2026-12-10", 10, False),
    ]
    assert history.push_count == 2
    assert history.rows[0].changed_by == actor.get_full_name()
    assert history.rows[0].amount == Decimal("100.00")


def test_stage_history_is_empty_for_who_may_not_see_the_deal(actor):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.PRIVATE)
    other = UserFactory()
    deal = opportunity_create(
        actor=other, data={"name": "D", "close_date": "2026-12-10", "stage": "Prospecting"}
    )
    assert OpportunityHistory.objects.filter(opportunity=deal).count() == 1
    assert opportunity_stage_history(actor=actor, opportunity=deal).rows == []


def test_contact_roles_primary_first_and_names_only_of_readable_contacts(actor):
    sharing_default_set(actor=None, object_name="Contact", access=Access.PRIVATE)
    deal = OpportunityFactory(owner=actor)
    visible = ContactFactory(owner=actor, first_name="Ada", last_name="Lovelace")
    hidden = ContactFactory(first_name="Hid", last_name="Den")
    contact_role_set(actor=actor, opportunity=deal, contact=hidden, role="Evaluator")
    contact_role_set(
        actor=actor, opportunity=deal, contact=visible, role="Decision Maker", is_primary=True
    )

    roles = opportunity_contact_roles(actor=actor, opportunity=deal)

    assert [(role.contact_name, role.role, role.is_primary) for role in roles] == [
        ("Ada Lovelace", "Decision Maker", True),
        ("", "Evaluator", False),
    ]
    assert roles[0].contact_public_id == visible.public_id
    assert roles[1].contact_public_id == ""


def test_closed_columns_count_and_show_the_last_90_days_unless_dates_are_filtered(
    actor, freeze_clock
):
    freeze_clock(NOW)
    won = stage("Closed Won")
    closed = {
        "stage": won,
        "probability": 100,
        "forecast_category": "Closed",
        "is_closed": True,
        "is_won": True,
        "owner": actor,
    }
    OpportunityFactory(
        name="Day 90", close_date=datetime.date(2026, 8, 29), amount=Decimal("1.00"), **closed
    )
    OpportunityFactory(
        name="Day 91", close_date=datetime.date(2026, 8, 28), amount=Decimal("2.00"), **closed
    )
    OpportunityFactory(name="Old open", owner=actor, close_date=datetime.date(2020, 1, 1))

    assert closed_since({}) == datetime.date(2026, 8, 29)
    columns = board_columns(actor=actor, filters={})
    assert (column_of(columns, "Closed Won").count, column_of(columns, "Prospecting").count) == (
        1,
        1,
    )
    assert column_of(columns, "Closed Won").closed_since == datetime.date(2026, 8, 29)
    assert column_of(columns, "Prospecting").closed_since is None
    assert [card.name for card in board_cards(actor=actor, stage=won, filters={}).cards] == [
        "Day 90"
    ]

    dated = {"close_date_to": datetime.date(2026, 12, 31)}
    assert closed_since(dated) is None
    assert column_of(board_columns(actor=actor, filters=dated), "Closed Won").total == Decimal(
        "3.00"
    )
    # A closed column shows what was just won first.
    assert [card.name for card in board_cards(actor=actor, stage=won, filters=dated).cards] == [
        "Day 90",
        "Day 91",
    ]
