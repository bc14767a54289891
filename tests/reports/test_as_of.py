"""The pipeline as of a past day, from the day's snapshot and replayed from the history,
on a pipeline that changes over several days; and forecast accuracy.

| day | change |
|---|---|
| 1 Dec 2025 | A Alice Commit 1000.00 closes 10 Feb; B Bob Best Case 2000.00 closes 5 Mar; C Carol 4000.00 closes 20 Mar |
| 15 Dec | E Alice Commit 500.00 closes 31 Jan; B's amount 2500.00 |
| 1 Jan 2026 | B's amount back to 2000.00; C to Needs Analysis (20%) |
| 10 Jan | F Alice 700.00 closes 1 Mar; E's close date pushed to 15 Apr |
| 10 Feb | A Closed Won |
| 1 Mar | F Closed Won; B Closed Lost |
| 18 Mar | C 5000.00, Closed Won |

All start in Prospecting (10%); a snapshot is taken at 23:59 of each of those days.
"""

import datetime
from decimal import Decimal as D

import pytest

from dealflow.reports.models import PipelineSnapshot
from dealflow.reports.snapshots import pipeline_snapshot_take
from tests.reports.conftest import create, run, update
from tests.reports.test_pipeline import ZERO, forecast_row

pytestmark = pytest.mark.django_db

DAYS = [
    datetime.date(2025, 12, 1),
    datetime.date(2025, 12, 15),
    datetime.date(2026, 1, 1),
    datetime.date(2026, 1, 10),
    datetime.date(2026, 2, 10),
    datetime.date(2026, 3, 1),
    datetime.date(2026, 3, 18),
]


def moment(day, hour=10, minute=0):
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=datetime.UTC)


@pytest.fixture
def changing(team, freeze_clock):
    def day(index):
        freeze_clock(moment(DAYS[index]))

    def snapshot(index):
        freeze_clock(moment(DAYS[index], 23, 59))
        return pipeline_snapshot_take()

    deals = {}
    day(0)
    deals["A"] = create(
        team.alice, "A", "Prospecting", "1000.00", "2026-02-10", forecast_category="Commit"
    )
    deals["B"] = create(
        team.bob, "B", "Prospecting", "2000.00", "2026-03-05", forecast_category="Best Case"
    )
    deals["C"] = create(team.carol, "C", "Prospecting", "4000.00", "2026-03-20")
    counts = [snapshot(0)]
    day(1)
    deals["E"] = create(
        team.alice, "E", "Prospecting", "500.00", "2026-01-31", forecast_category="Commit"
    )
    update(team.bob, deals["B"], amount="2500.00")
    counts.append(snapshot(1))
    day(2)
    update(team.bob, deals["B"], amount="2000.00")
    update(team.carol, deals["C"], stage="Needs Analysis")
    counts.append(snapshot(2))
    day(3)
    deals["F"] = create(team.alice, "F", "Prospecting", "700.00", "2026-03-01")
    update(team.alice, deals["E"], close_date="2026-04-15")
    counts.append(snapshot(3))
    day(4)
    update(team.alice, deals["A"], stage="Closed Won")
    counts.append(snapshot(4))
    day(5)
    update(team.alice, deals["F"], stage="Closed Won")
    update(team.bob, deals["B"], stage="Closed Lost", loss_reason="Timing")
    counts.append(snapshot(5))
    day(6)
    update(team.carol, deals["C"], amount="5000.00", stage="Closed Won")
    counts.append(snapshot(6))
    freeze_clock(moment(datetime.date(2026, 3, 31), 12))
    return counts


def both_ways(name, user, **filters):
    """The report from the snapshot, then replayed from history (snapshots removed);
    asserts they agree and returns the rows."""
    from_snapshot = run(name, user, **filters)
    saved = list(PipelineSnapshot.objects.values())
    PipelineSnapshot.objects.all().delete()
    replayed = run(name, user, **filters)
    PipelineSnapshot.objects.bulk_create(PipelineSnapshot(**row) for row in saved)
    assert from_snapshot == replayed
    return from_snapshot


def test_snapshots_keep_open_deals_and_those_closed_from_the_month_on(changing):
    # 1 Dec: A, B, C. 15 Dec: + E. 1 Jan: 4. 10 Jan: + F. 10 Feb: A closed in February
    # still counts. 1 Mar: A closed in February no longer; F and B closed in March do.
    assert changing == [3, 4, 4, 5, 5, 4, 4]
    row = PipelineSnapshot.objects.get(snapshot_date=DAYS[1], opportunity__name="B")
    assert (row.stage.name, row.amount, row.probability, row.forecast_category) == (
        "Prospecting",
        D("2500.00"),
        10,
        "Best Case",
    )
    assert (row.close_date, row.owner.username) == (datetime.date(2026, 3, 5), "bob")


def test_taking_a_day_again_replaces_it(changing, freeze_clock):
    assert pipeline_snapshot_take(day=DAYS[6]) == 4
    assert PipelineSnapshot.objects.filter(snapshot_date=DAYS[6]).count() == 4
    assert PipelineSnapshot.objects.count() == sum(changing)


def test_pipeline_by_stage_as_of_each_day(team, changing):
    def prospecting(deals, amount, weighted):
        return {
            "stage": "Prospecting",
            "deals": deals,
            "amount": D(amount),
            "weighted_amount": D(weighted),
        }

    analysis = {
        "stage": "Needs Analysis",
        "deals": 1,
        "amount": D("4000.00"),
        "weighted_amount": D("800.00"),
    }
    assert both_ways("pipeline_by_stage", team.admin, as_of="2025-12-15") == [
        prospecting(4, "8000.00", "800.00")
    ]
    assert both_ways("pipeline_by_stage", team.admin, as_of="2026-01-01") == [
        prospecting(3, "3500.00", "350.00"),
        analysis,
    ]
    assert both_ways("pipeline_by_stage", team.admin, as_of="2026-02-10") == [
        prospecting(3, "3200.00", "320.00"),
        analysis,
    ]
    assert both_ways("pipeline_by_stage", team.admin, as_of="2026-03-18") == [
        prospecting(1, "500.00", "50.00")
    ]
    # Before the first deal: nothing; a day without a snapshot: replayed.
    assert run("pipeline_by_stage", team.admin, as_of="2025-11-30") == []
    assert run("pipeline_by_stage", team.admin, as_of="2025-12-20") == [
        prospecting(4, "8000.00", "800.00")
    ]


def test_as_of_counts_only_what_the_user_may_see(team, changing):
    assert both_ways("pipeline_by_stage", team.alice, as_of="2026-01-10") == [
        # A 1000.00, E 500.00 and F 700.00
        {"stage": "Prospecting", "deals": 3, "amount": D("2200.00"), "weighted_amount": D("220.00")}
    ]
    assert both_ways(
        "pipeline_by_stage", team.admin, as_of="2026-01-10", owner_id=team.carol.pk
    ) == [
        {
            "stage": "Needs Analysis",
            "deals": 1,
            "amount": D("4000.00"),
            "weighted_amount": D("800.00"),
        }
    ]
    north = both_ways("forecast", team.manny, as_of="2026-01-01", team_id=team.north.pk)
    assert north == [
        forecast_row("2026-01", commit=D("500.00")),
        forecast_row("2026-02", commit=D("1000.00")),
        forecast_row("2026-03", best_case=D("2000.00")),
    ]


def test_forecast_as_of_a_day_covers_its_month_on(team, changing):
    assert both_ways("forecast", team.admin, as_of="2026-01-01") == [
        forecast_row("2026-01", commit=D("500.00")),
        forecast_row("2026-02", commit=D("1000.00")),
        forecast_row("2026-03", pipeline=D("4000.00"), best_case=D("2000.00")),
    ]
    assert both_ways("forecast", team.admin, as_of="2026-02-10") == [
        forecast_row("2026-02", closed=D("1000.00")),
        forecast_row("2026-03", pipeline=D("4700.00"), best_case=D("2000.00")),
        forecast_row("2026-04", commit=D("500.00")),
    ]
    assert both_ways("forecast", team.admin, as_of="2026-02-10", period_end="2026-02-28") == [
        forecast_row("2026-02", closed=D("1000.00"))
    ]


def test_forecast_accuracy_of_a_quarter(team, changing):
    # As of 1 Jan, closing in Q1: Commit A 1000 + E 500; Best Case B 2000; Pipeline C 4000.
    # Won in Q1: A 1000 + F 700 + C 5000 = 6700.
    expected = [
        {
            "quarter": "FY2026 Q1",
            "as_of": datetime.date(2026, 1, 1),
            "commit_forecast": D("1500.00"),
            "best_case_forecast": D("3500.00"),
            "open_pipeline": D("7500.00"),
            "won": D("6700.00"),
            "commit_ratio": D("4.4667"),
            "best_case_ratio": D("1.9143"),
            "pipeline_ratio": D("0.8933"),
        }
    ]
    assert both_ways("forecast_accuracy", team.admin, period_start="2026-01-01") == expected
    assert (
        both_ways(
            "forecast_accuracy", team.admin, period_start="2026-01-01", period_end="2026-03-31"
        )
        == expected
    )
    # Now in Q1 (31 March): the default quarter.
    assert run("forecast_accuracy", team.admin) == expected
    alice = run("forecast_accuracy", team.alice, period_start="2026-01-01")[0]
    assert (alice["commit_forecast"], alice["won"], alice["commit_ratio"]) == (
        D("1500.00"),
        D("1700.00"),
        D("1.1333"),
    )


def test_forecast_accuracy_of_a_quarter_with_no_forecast(team, changing):
    assert run("forecast_accuracy", team.admin, period_start="2025-10-01") == [
        {
            "quarter": "FY2025 Q4",
            "as_of": datetime.date(2025, 10, 1),
            "commit_forecast": ZERO,
            "best_case_forecast": ZERO,
            "open_pipeline": ZERO,
            "won": ZERO,
            "commit_ratio": None,
            "best_case_ratio": None,
            "pipeline_ratio": None,
        }
    ]


def test_a_day_with_a_snapshot_is_read_from_it(team, changing):
    PipelineSnapshot.objects.filter(snapshot_date=DAYS[1], opportunity__name="B").update(
        amount=D("2600.00")
    )
    assert run("pipeline_by_stage", team.admin, as_of="2025-12-15")[0]["amount"] == D("8100.00")
    # The next day has no snapshot: replayed from history.
    assert run("pipeline_by_stage", team.admin, as_of="2025-12-16")[0]["amount"] == D("8000.00")


def test_the_snapshot_task(team, changing, freeze_clock):
    from dealflow.reports.tasks import take_pipeline_snapshot

    assert take_pipeline_snapshot.delay("2026-03-31").get() == 4
    assert PipelineSnapshot.objects.filter(snapshot_date="2026-03-31").count() == 4
    assert take_pipeline_snapshot() == 4  # today: 31 March, again
    assert PipelineSnapshot.objects.filter(snapshot_date="2026-03-31").count() == 4
