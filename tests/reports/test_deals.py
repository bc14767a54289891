"""Win rate, deal size, sales cycle, stage duration, stalled deals and the leaderboard,
against figures worked out by hand on the `deals` fixture (tests/reports/conftest.py)."""

import datetime
from decimal import Decimal as D

import pytest

from dealflow.reports.definitions import ReportFilters, report_run
from tests.reports.conftest import run

pytestmark = pytest.mark.django_db


def test_win_rate_overall_by_count_and_by_amount(team, deals):
    # Closed: D1 won 1000.00, D2 lost 3000.00, D3 won 500.50, D4 won 2000.00.
    assert run("win_rate", team.admin) == [
        {
            "closed": 4,
            "won": 3,
            "win_rate": D("0.7500"),
            "closed_amount": D("6500.50"),
            "won_amount": D("3500.50"),
            "win_rate_amount": D("0.5385"),  # 3500.50 / 6500.50 = 0.53849...
        }
    ]


def test_win_rate_by_owner(team, deals):
    rows = run("win_rate", team.admin, group_by="owner")
    assert [(row["owner"], row["closed"], row["won"], row["win_rate"]) for row in rows] == [
        ("Alice Adams", 2, 1, D("0.5000")),
        ("Bob Brown", 1, 1, D("1.0000")),
        ("Carol Clark", 1, 1, D("1.0000")),
    ]
    assert rows[0]["owner_id"] == team.alice.public_id
    assert (rows[0]["closed_amount"], rows[0]["won_amount"], rows[0]["win_rate_amount"]) == (
        D("4000.00"),
        D("1000.00"),
        D("0.2500"),
    )


def test_win_rate_counts_only_what_the_user_may_see(team, deals):
    assert run("win_rate", team.alice)[0]["closed"] == 2
    # The manager sees North: Alice and Bob.
    manager = run("win_rate", team.manny)[0]
    assert (manager["closed"], manager["won"], manager["win_rate"]) == (3, 2, D("0.6667"))
    assert manager["win_rate_amount"] == D("0.3334")  # 1500.50 / 4500.50


def test_win_rate_filters(team, deals):
    february = run("win_rate", team.admin, period_start="2026-02-01", period_end="2026-02-28")
    assert (february[0]["closed"], february[0]["won"]) == (2, 1)
    assert run("win_rate", team.admin, owner_id=team.bob.pk)[0]["closed"] == 1
    assert run("win_rate", team.admin, team_id=team.south.pk)[0]["closed_amount"] == D("2000.00")
    partner = run("win_rate", team.admin, lead_source="partner referral")
    assert (partner[0]["closed"], partner[0]["won_amount"]) == (1, D("500.50"))
    assert run("win_rate", team.admin, period_start="2027-01-01") == []


def test_deal_size_average_and_median_of_won_deals(team, deals):
    assert run("deal_size", team.admin) == [
        {
            "deals": 3,
            "total_amount": D("3500.50"),
            "average_amount": D("1166.83"),  # 3500.50 / 3
            "median_amount": D("1000.00"),
        }
    ]
    by_owner = run("deal_size", team.admin, group_by="owner")
    assert [(row["owner"], row["median_amount"]) for row in by_owner] == [
        ("Alice Adams", D("1000.00")),
        ("Bob Brown", D("500.50")),
        ("Carol Clark", D("2000.00")),
    ]
    # Two deals: the median is the mean of the middle two.
    north = run("deal_size", team.manny)
    assert (north[0]["median_amount"], north[0]["average_amount"]) == (D("750.25"), D("750.25"))


def test_sales_cycle_days_from_created_to_close(team, deals):
    # D1 5 Jan -> 4 Feb: 30 days; D3 -> 6 Mar: 60; D4 -> 25 Jan: 20.
    assert run("sales_cycle", team.admin) == [
        {"deals": 3, "average_days": D("36.7"), "median_days": D("30.0")}
    ]
    assert run("sales_cycle", team.alice) == [
        {"deals": 1, "average_days": D("30.0"), "median_days": D("30.0")}
    ]
    assert run("sales_cycle", team.admin, period_end="2026-01-31") == [
        {"deals": 1, "average_days": D("20.0"), "median_days": D("20.0")}
    ]


def test_stage_duration_from_the_stage_history(team, deals):
    # Prospecting: D1 10 days, D2 40, D4 20. Qualification: D3 60. Needs Analysis: D1 20.
    # Value Proposition: D5 and D7 85 days until now (D5's amount change is no new stay).
    # Negotiation/Review: D6 from 5 Jan 18:00: 84.75 days. Closed stages are not stays.
    assert run("stage_duration", team.admin) == [
        {"stage": "Prospecting", "entries": 3, "average_days": D("23.3"), "median_days": D("20.0")},
        {
            "stage": "Qualification",
            "entries": 1,
            "average_days": D("60.0"),
            "median_days": D("60.0"),
        },
        {
            "stage": "Needs Analysis",
            "entries": 1,
            "average_days": D("20.0"),
            "median_days": D("20.0"),
        },
        {
            "stage": "Value Proposition",
            "entries": 2,
            "average_days": D("85.0"),
            "median_days": D("85.0"),
        },
        {
            "stage": "Negotiation/Review",
            "entries": 1,
            "average_days": D("84.8"),
            "median_days": D("84.8"),
        },
    ]


def test_stage_duration_access_and_filters(team, deals):
    assert [(row["stage"], row["entries"]) for row in run("stage_duration", team.alice)] == [
        ("Prospecting", 2),
        ("Needs Analysis", 1),
        ("Value Proposition", 1),
    ]
    # Stays begun in the period: only D1's Needs Analysis began after 5 January.
    later = run("stage_duration", team.admin, period_start="2026-01-06")
    assert [(row["stage"], row["average_days"]) for row in later] == [("Needs Analysis", D("20.0"))]
    assert run("stage_duration", team.admin, owner_id=team.bob.pk)[0]["stage"] == "Qualification"


def test_stalled_deals_with_their_reasons(team, deals):
    rows = run("stalled_deals", team.admin)
    assert [
        (row["opportunity"], row["close_date"].isoformat(), row["reasons"]) for row in rows
    ] == [
        (
            "D6",
            "2026-03-15",
            "No stage change for 84 days (limit 30 in Negotiation/Review); "
            "Close date 2026-03-15 has passed; No activity for 30 days",
        ),
        ("D7", "2026-04-10", "No stage change for 85 days (limit 30 in Value Proposition)"),
        (
            "D5",
            "2026-04-30",
            "No stage change for 85 days (limit 30 in Value Proposition); No activity for 30 days",
        ),
    ]
    assert rows[0] | {"reasons": ""} == {
        "opportunity_id": deals.d6.public_id,
        "opportunity": "D6",
        "stage": "Negotiation/Review",
        "amount": D("400.00"),
        "close_date": deals.d6.close_date,
        "owner": "Bob Brown",
        "owner_id": team.bob.public_id,
        "reasons": "",
    }
    assert [row["opportunity"] for row in run("stalled_deals", team.alice)] == ["D5"]
    assert [row["opportunity"] for row in run("stalled_deals", team.manny)] == ["D6", "D5"]
    assert [
        row["opportunity"] for row in run("stalled_deals", team.admin, period_start="2026-04-01")
    ] == ["D7", "D5"]
    assert [
        row["opportunity"] for row in run("stalled_deals", team.admin, team_id=team.south.pk)
    ] == ["D7"]


def test_stalled_deals_first_rows_and_their_count(team, deals, django_assert_max_num_queries):
    """The dashboard's table: the first rows of the same list and how many there are,
    computed without the other rows (report_run's limit)."""
    everything = report_run("stalled_deals", user=team.admin, filters=ReportFilters())
    assert everything.total is None and len(everything.rows) == 3
    with django_assert_max_num_queries(6):  # savepoint, count, rows, owners, stages
        first = report_run("stalled_deals", user=team.admin, filters=ReportFilters(), limit=2)
    assert first.rows == everything.rows[:2]
    assert first.total == 3
    mine = report_run("stalled_deals", user=team.manny, filters=ReportFilters(), limit=1)
    assert [row["opportunity"] for row in mine.rows] == ["D6"] and mine.total == 2
    later = report_run(
        "stalled_deals",
        user=team.admin,
        filters=ReportFilters(period_start=datetime.date(2026, 4, 1)),
        limit=50,
    )
    assert [row["opportunity"] for row in later.rows] == ["D7", "D5"] and later.total == 2
    none = report_run(
        "stalled_deals", user=team.carol, filters=ReportFilters(owner_id=team.bob.pk), limit=5
    )
    assert (none.rows, none.total) == ([], 0)
    # A report without first rows of its own is run whole and cut.
    ranked = report_run("leaderboard", user=team.admin, filters=ReportFilters(), limit=1)
    assert len(ranked.rows) == 1 and ranked.total == len(run("leaderboard", team.admin))
    with pytest.raises(ValueError, match="limit: expected a positive number of rows, got 0"):
        report_run("stalled_deals", user=team.admin, filters=ReportFilters(), limit=0)


def test_leaderboard_by_won_amount(team, deals):
    assert run("leaderboard", team.admin) == [
        {
            "rank": 1,
            "owner": "Carol Clark",
            "owner_id": team.carol.public_id,
            "won_amount": D("2000.00"),
            "won": 1,
        },
        {
            "rank": 2,
            "owner": "Alice Adams",
            "owner_id": team.alice.public_id,
            "won_amount": D("1000.00"),
            "won": 1,
        },
        {
            "rank": 3,
            "owner": "Bob Brown",
            "owner_id": team.bob.public_id,
            "won_amount": D("500.50"),
            "won": 1,
        },
    ]
    assert [row["owner"] for row in run("leaderboard", team.manny)] == ["Alice Adams", "Bob Brown"]
    assert [row["owner"] for row in run("leaderboard", team.admin, period_start="2026-02-01")] == [
        "Alice Adams",
        "Bob Brown",
    ]


def test_leaderboard_ties_share_a_rank(team, deals, freeze_clock):
    from tests.reports.conftest import at, create, update

    freeze_clock(at(3, 10))
    extra = create(team.bob, "D8", "Prospecting", "499.50", "2026-03-10")
    update(team.bob, extra, stage="Closed Won")
    freeze_clock(at(3, 31))
    extra = create(team.alice, "D9", "Prospecting", "1000.00", "2026-03-10")
    update(team.alice, extra, stage="Closed Won")
    # Alice 2000.00 in 2 deals, Carol 2000.00 in 1, Bob 1000.00 in 2.
    rows = run("leaderboard", team.admin)
    assert [(row["rank"], row["owner"], row["won_amount"], row["won"]) for row in rows] == [
        (1, "Alice Adams", D("2000.00"), 2),
        (2, "Carol Clark", D("2000.00"), 1),
        (3, "Bob Brown", D("1000.00"), 2),
    ]


def test_an_even_count_takes_the_mean_of_the_middle_two(team, deals):
    # North's won deals: D1 30 days, D3 60 days.
    assert run("sales_cycle", team.manny) == [
        {"deals": 2, "average_days": D("45.0"), "median_days": D("45.0")}
    ]
    by_owner = run("sales_cycle", team.admin, group_by="owner")
    assert [(row["owner"], row["median_days"]) for row in by_owner] == [
        ("Alice Adams", D("30.0")),
        ("Bob Brown", D("60.0")),
        ("Carol Clark", D("20.0")),
    ]


def test_money_stays_exact_beyond_64_bit_sums(team, freeze_clock):
    from dealflow.sales.models import OpportunityStage
    from tests.factories import OpportunityFactory
    from tests.reports.conftest import at

    freeze_clock(at(1, 5))
    closed_won = OpportunityStage.objects.get(name="Closed Won")
    amounts = [D("9999999999999999.99")] * 9 + [D("0.01")]
    for amount in amounts:
        OpportunityFactory(
            owner=team.alice,
            stage=closed_won,
            amount=amount,
            is_closed=True,
            is_won=True,
            close_date="2026-02-01",
        )
    freeze_clock(at(3, 31))
    # 9 x 9999999999999999.99 + 0.01 = 89999999999999999.92: beyond 2**63 cents.
    assert run("deal_size", team.alice) == [
        {
            "deals": 10,
            "total_amount": D("89999999999999999.92"),
            "average_amount": D("8999999999999999.99"),  # .992 rounded
            "median_amount": D("9999999999999999.99"),
        }
    ]
    leader = run("leaderboard", team.alice)[0]
    assert (leader["won_amount"], leader["won"]) == (D("89999999999999999.92"), 10)


def test_every_deal_report_of_a_single_won_deal(team, freeze_clock):
    from tests.reports.conftest import at, create, update

    freeze_clock(at(1, 5))
    deal = create(team.alice, "Only", "Prospecting", "1234.50", "2026-03-31")
    freeze_clock(at(1, 12))
    update(team.alice, deal, stage="Closed Won", close_date="2026-01-12")
    freeze_clock(at(3, 31))
    assert run("win_rate", team.alice) == [
        {
            "closed": 1,
            "won": 1,
            "win_rate": D("1.0000"),
            "closed_amount": D("1234.50"),
            "won_amount": D("1234.50"),
            "win_rate_amount": D("1.0000"),
        }
    ]
    assert run("deal_size", team.alice) == [
        {
            "deals": 1,
            "total_amount": D("1234.50"),
            "average_amount": D("1234.50"),
            "median_amount": D("1234.50"),
        }
    ]
    assert run("sales_cycle", team.alice) == [
        {"deals": 1, "average_days": D("7.0"), "median_days": D("7.0")}
    ]
    assert run("stage_duration", team.alice) == [
        {"stage": "Prospecting", "entries": 1, "average_days": D("7.0"), "median_days": D("7.0")}
    ]
    assert run("leaderboard", team.alice) == [
        {
            "rank": 1,
            "owner": "Alice Adams",
            "owner_id": team.alice.public_id,
            "won_amount": D("1234.50"),
            "won": 1,
        }
    ]
    assert run("pipeline_by_stage", team.alice) == []
    assert run("stalled_deals", team.alice) == []
    assert run("forecast", team.alice)[0]["commit_forecast"] == D("1234.50")
    # Bob sees none of it.
    for name in (
        "win_rate",
        "deal_size",
        "sales_cycle",
        "stage_duration",
        "leaderboard",
        "forecast",
    ):
        assert run(name, team.bob) == []


def test_stalled_reasons_worded_part_by_part_are_stall_reasons_words(team):
    """The report words each rule once per distinct input (_StallReasons): the same
    text as stall_reasons for every stage, around each limit, close date and idleness."""
    from dealflow.reports.selectors.deals import _StallReasons
    from dealflow.sales.selectors import stages, stall_reasons

    today = datetime.date(2026, 3, 31)
    worded = _StallReasons(today)
    checked = 0
    for stage in stages.get():
        limit = stage.stall_days or 0
        for days in sorted({0, 1, limit - 1, limit, limit + 1, 400} - {-1}):
            for close_date in (
                today - datetime.timedelta(days=1),
                today,
                datetime.date(2027, 1, 1),
            ):
                for idle in (False, True):
                    expected = stall_reasons(
                        stage_id=stage.pk,
                        close_date=close_date,
                        is_closed=False,
                        days_in_stage=days,
                        idle=idle,
                        today=today,
                    )
                    assert worded(stage.pk, close_date, days, idle) == "; ".join(expected)
                    checked += bool(expected)
    assert checked > 0 and any(stage.stall_days for stage in stages.get())


def test_overall_averages_over_no_deals_are_no_row(team, deals):
    """The overall figure is computed without a GROUP BY: over nothing, no row (not a row
    of zeros), as the grouped form gives none."""
    for name in ("deal_size", "sales_cycle"):
        assert run(name, team.admin, period_start="2027-01-01") == []
        assert run(name, team.admin, period_start="2027-01-01", group_by="owner") == []
        assert run(name, team.carol, owner_id=team.bob.pk) == []


@pytest.mark.django_db
def test_whole_days_since_counts_as_timedelta_does():
    """WholeDaysSince: the whole days from a stored datetime to now, as (now -
    moment).days counts them, on each side of now's time of day, with and without
    fractions of a second (SQLite reads the stored text without parsing it)."""
    from dealflow.core.models import AuditEvent
    from dealflow.reports.selectors.common import WholeDaysSince

    for now in (
        datetime.datetime(2026, 3, 31, 12, 0, 0, tzinfo=datetime.UTC),
        datetime.datetime(2026, 3, 31, 12, 0, 0, 500_000, tzinfo=datetime.UTC),
        datetime.datetime(2026, 1, 1, 0, 0, 0, tzinfo=datetime.UTC),
    ):
        expected = {}
        for days_back in (0, 1, 7, 8, 400):
            for delta in (0, 1, 499_999, 500_000, 500_001, 86_399_999_999):
                moment = now - datetime.timedelta(days=days_back, microseconds=delta)
                event = AuditEvent.objects.create(object_name="Lead", record_id=1, action="update")
                AuditEvent.objects.filter(pk=event.pk).update(created_at=moment)
                expected[event.pk] = (now - moment).days
        found = dict(
            AuditEvent.objects.filter(pk__in=expected)
            .annotate(days=WholeDaysSince("created_at", now))
            .values_list("pk", "days")
        )
        assert found == expected
        AuditEvent.objects.all().delete()
