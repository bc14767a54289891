"""Stage durations stored as stages change (OpportunityHistory.stage_left_at) give
exactly what walking the stage history gives: the same stays, averages and medians.

The walk below is stage_duration's SQL before the stored ends (LEAD() over each deal's
stage-change rows); it is the reference the stored ends must agree with.
"""

from __future__ import annotations

import datetime
import importlib
import itertools
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F

from dealflow.reports.selectors.common import SECONDS_PER_DAY, averages_and_medians, days
from dealflow.sales.models import Opportunity, OpportunityHistory
from dealflow.sales.services import history_row, stage_stays_record
from tests.reports.conftest import NOW, at, create, run, update

F_PREVIOUS = F("previous_stage_name")

BACKFILL = importlib.import_module("dealflow.sales.migrations.0008_history_stage_left_at").BACKFILL


def walk_sql(opportunity_ids=None, period_start=None) -> tuple[str, list]:
    """(stage, whole seconds) of every stay in an open stage, by walking the history."""
    if connection.vendor == "postgresql":
        seconds = "ROUND(EXTRACT(EPOCH FROM (COALESCE(left_at, %s) - entered)))"
    else:
        seconds = (
            "CAST(ROUND((julianday(COALESCE(left_at, %s)) - julianday(entered)) * 86400)"
            " AS INTEGER)"
        )
    deals, params = "", [connection.ops.adapt_datetimefield_value(NOW)]
    if opportunity_ids is not None:
        deals = f" AND opportunity_id IN ({', '.join(['%s'] * len(opportunity_ids))})"
        params.extend(opportunity_ids)
    closed = ["Closed Won", "Closed Lost"]
    where = "WHERE stage_name NOT IN (%s, %s)"
    params.extend(closed)
    if period_start is not None:
        where += " AND entered >= %s"
        params.append(connection.ops.adapt_datetimefield_value(period_start))
    sql = (
        f"SELECT stage_name AS group_key, {seconds} AS value FROM ("
        "SELECT stage_name, created_at AS entered, LEAD(created_at) OVER "
        "(PARTITION BY opportunity_id ORDER BY created_at, id) AS left_at "
        f"FROM sales_opportunityhistory WHERE stage_name <> previous_stage_name{deals}"
        f") AS stays {where}"
    )
    return sql, params


def walked(opportunity_ids=None, period_start=None) -> dict[str, tuple]:
    """{stage: (stays, average days, median days)} from the walk."""
    found = averages_and_medians(*walk_sql(opportunity_ids, period_start))
    return {
        stage: (entries, days(mean / SECONDS_PER_DAY), days(middle / SECONDS_PER_DAY))
        for stage, (entries, mean, middle) in found.items()
    }


def reported(user, **filters) -> dict[str, tuple]:
    return {
        row["stage"]: (row["entries"], row["average_days"], row["median_days"])
        for row in run("stage_duration", user, **filters)
    }


def expected_ends() -> dict[int, datetime.datetime | None]:
    """{history row id: the stay's end} worked out in Python from the rows themselves."""
    ends: dict[int, datetime.datetime | None] = {}
    by_deal: dict[int, list] = {}
    for row in OpportunityHistory.objects.order_by("created_at", "id"):
        by_deal.setdefault(row.opportunity_id, []).append(row)
    for rows in by_deal.values():
        changes = [row for row in rows if row.stage_name != row.previous_stage_name]
        for row in rows:
            ends[row.pk] = None
        for row, following in itertools.pairwise(changes):
            ends[row.pk] = following.created_at
    return ends


def stored_ends() -> dict[int, datetime.datetime | None]:
    return dict(OpportunityHistory.objects.values_list("pk", "stage_left_at"))


@pytest.fixture
def moving(team, freeze_clock):
    """Five deals with several stage changes each, amount and close-date changes between
    them, two changes in the same second (D1 on 10 Feb), stages entered twice (D1, D2),
    deals still in their stage (D2, D3, D5) and closed ones (D1, D4)."""
    freeze_clock(at(1, 2, 9))
    d1 = create(team.alice, "D1", "Prospecting", "100.00", "2026-06-30")
    d2 = create(team.alice, "D2", "Qualification", "200.00", "2026-06-30")
    d3 = create(team.bob, "D3", "Prospecting", "300.00", "2026-06-30")
    d4 = create(team.carol, "D4", "Needs Analysis", "400.00", "2026-06-30")
    freeze_clock(at(1, 9, 15))
    update(team.alice, d1, stage="Qualification")
    update(team.bob, d3, amount="350.00")  # no new stay
    freeze_clock(at(1, 20, 8))
    update(team.alice, d2, stage="Prospecting")
    update(team.carol, d4, stage="Value Proposition")
    freeze_clock(at(2, 1, 17))
    update(team.alice, d1, amount="150.00", close_date="2026-07-31")
    update(team.alice, d2, stage="Qualification")  # entered a second time
    d5 = create(team.carol, "D5", "Prospecting", "500.00", "2026-06-30")
    freeze_clock(at(2, 10, 10))
    update(team.alice, d1, stage="Prospecting")
    update(team.alice, d1, stage="Needs Analysis")  # the same second: a stay of 0
    update(team.bob, d3, stage="Qualification")
    freeze_clock(at(3, 3, 11))
    update(team.carol, d4, stage="Closed Won", close_date="2026-03-03")
    update(team.alice, d1, stage="Negotiation/Review")
    freeze_clock(at(3, 25, 12))
    update(team.alice, d1, stage="Closed Lost", close_date="2026-03-25", loss_reason="Price")
    update(team.bob, d3, close_date="2026-08-31")
    freeze_clock(NOW)
    return [d1, d2, d3, d4, d5]


def test_services_store_each_stay_end_as_the_stage_changes(team, moving):
    ends = stored_ends()
    assert ends == expected_ends()
    d1_changes = list(
        OpportunityHistory.objects.filter(opportunity=moving[0])
        .exclude(stage_left_at=None)
        .order_by("created_at", "id")
        .values_list("stage_name", "stage_left_at")
    )
    assert d1_changes == [
        ("Prospecting", at(1, 9, 15)),
        ("Qualification", at(2, 10, 10)),
        ("Prospecting", at(2, 10, 10)),
        ("Needs Analysis", at(3, 3, 11)),
        ("Negotiation/Review", at(3, 25, 12)),
    ]
    # Amount and close-date rows, and current stages, have no end.
    assert OpportunityHistory.objects.filter(stage_name=F_PREVIOUS).count() == 3
    assert not OpportunityHistory.objects.filter(
        stage_name=F_PREVIOUS, stage_left_at__isnull=False
    ).exists()


def test_report_equals_the_walk(team, moving):
    admin = reported(team.admin)
    assert admin == walked()
    # By hand, Qualification: D1 9 Jan 15:00 - 10 Feb 10:00 (31.79 days), D2 2 Jan 09:00
    # - 20 Jan 08:00 (17.96), D2 again 1 Feb 17:00 - now (57.79), D3 10 Feb 10:00 - now
    # (49.08): average 39.16, median (31.79 + 49.08) / 2 = 40.44.
    assert admin["Qualification"] == (4, Decimal("39.2"), Decimal("40.4"))
    # Prospecting: D1 twice (7.25 days, and 0 on 10 Feb), D2, D3 and D5 (still in it).
    assert admin["Prospecting"][0] == 5
    mine = [deal.pk for deal in moving if deal.owner_id == team.alice.pk]
    assert reported(team.alice) == walked(mine)
    assert reported(team.admin, owner_id=team.bob.pk) == walked([moving[2].pk])
    assert reported(team.admin, period_start="2026-02-01") == walked(period_start=at(2, 1, 0))


def test_bulk_timelines_in_any_order_then_recorded(team, moving):
    """A timeline written in bulk (as demo/data.py does), rows in shuffled order, is
    right once stage_stays_record runs for its deals; other deals are not touched."""
    deal = Opportunity.objects.get(pk=moving[4].pk)
    OpportunityHistory.objects.filter(opportunity=deal).delete()
    steps = [
        ("Prospecting", "", at(1, 3)),
        ("Qualification", "Prospecting", at(1, 13)),
        ("Qualification", "Qualification", at(1, 14)),  # an amount change
        ("Needs Analysis", "Qualification", at(2, 2)),
        ("Qualification", "Needs Analysis", at(2, 2)),  # the same moment: id order
        ("Value Proposition", "Qualification", at(3, 1)),
    ]
    rows = []
    for stage, previous, moment in steps:
        deal.stage = deal.stage.__class__.objects.get(name=stage)
        rows.append(history_row(deal, actor=None, previous_stage_name=previous, at=moment))
    before = {
        pk: end
        for pk, end in stored_ends().items()
        if OpportunityHistory.objects.get(pk=pk).opportunity_id != deal.pk
    }
    OpportunityHistory.objects.bulk_create(rows)  # in order: ids follow the steps
    shuffled = OpportunityHistory.objects.filter(opportunity=deal)
    assert not shuffled.exclude(stage_left_at=None).exists()
    assert stage_stays_record([deal.pk]) == 4
    assert stored_ends() == expected_ends()
    assert {pk: end for pk, end in stored_ends().items() if pk in before} == before
    assert reported(team.admin) == walked()
    assert stage_stays_record([deal.pk]) == 0  # nothing left to change
    assert stage_stays_record([]) == 0

    # Rows inserted out of time order: a stay inserted between two others.
    random.Random(3).shuffle(rows)
    OpportunityHistory.objects.filter(opportunity=deal).delete()
    for row in rows:
        row.pk = None
        row.stage_left_at = None
    OpportunityHistory.objects.bulk_create(rows)
    stage_stays_record([deal.pk])
    assert stored_ends() == expected_ends()
    assert reported(team.admin) == walked()


def test_a_deleted_stay_reopens_the_one_before(team, moving):
    d2 = moving[1]
    last = OpportunityHistory.objects.filter(opportunity=d2).order_by("created_at", "id").last()
    last.delete()
    stage_stays_record([d2.pk])
    assert stored_ends() == expected_ends()
    assert reported(team.admin) == walked()


def test_migration_backfill_gives_the_stored_ends(team, moving):
    kept = stored_ends()
    OpportunityHistory.objects.update(stage_left_at=None)
    with connection.cursor() as cursor:
        cursor.execute(BACKFILL)
    assert stored_ends() == kept == expected_ends()
    # And for every deal at once, the services' statement changes nothing more.
    assert stage_stays_record() == 0
