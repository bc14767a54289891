"""Exact money sums beyond SQLite's 64-bit SUM: ExactSum (core/fields.py) and the medians'
sums (core/sqlite's exact_sum_sql) sum each value's high and low 32 bits apart in C; the
reports' totals stay exact where SQLite's own SUM raises "integer overflow"."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import OperationalError, connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from dealflow.core.fields import ExactSum, exact_sums_run, native_sums
from dealflow.core.sqlite.base import exact_sum_sql, exact_sum_total, from_smallest_unit
from dealflow.sales.models import Opportunity
from tests.reports.conftest import create, run

pytestmark = pytest.mark.django_db

LARGEST = Decimal("9999999999999999.99")  # the amount field's largest value


@pytest.fixture
def huge(team, freeze_clock):
    """Ten deals of the largest amount won by Alice and one lost by Bob: 99,999,999,999,
    999,999.90 won, 10**19 - 10 cents, beyond SQLite's 2**63 - 1; one open deal of the
    largest amount and one of -0.01."""
    for _ in range(10):
        create(team.alice, "Big", "Closed Won", str(LARGEST), "2026-03-10")
    create(team.bob, "Lost", "Closed Lost", "0.01", "2026-03-11", loss_reason="Price")
    create(team.bob, "Open", "Prospecting", str(LARGEST), "2026-04-30")
    create(team.bob, "Refund", "Prospecting", "-0.01", "2026-04-30")


def test_the_data_is_beyond_sqlite_s_own_sum(huge):
    won = LARGEST * 10
    assert won * 100 > 2**63 - 1
    if connection.vendor == "sqlite":
        with pytest.raises(OperationalError, match="integer overflow"), connection.cursor() as c:
            c.execute("SELECT SUM(amount) FROM sales_opportunity WHERE is_won")
            c.fetchall()


def test_exact_sum_with_and_without_a_filter(huge):
    found = Opportunity.objects.aggregate(
        total=ExactSum("amount"),
        won=ExactSum("amount", filter=Q(is_won=True)),
        open=ExactSum("amount", filter=Q(is_closed=False)),
        none=ExactSum("amount", filter=Q(name="nothing")),
    )
    assert found == {
        "total": LARGEST * 11 + Decimal("0.01") - Decimal("0.01"),
        "won": Decimal("99999999999999999.90"),
        "open": Decimal("9999999999999999.98"),
        "none": None,
    }
    grouped = dict(
        Opportunity.objects.values_list("owner__username").annotate(total=ExactSum("amount"))
    )
    assert grouped == {"alice": LARGEST * 10, "bob": LARGEST}


def test_exact_sum_runs_in_sql_on_sqlite(huge):
    with CaptureQueriesContext(connection) as queries:
        Opportunity.objects.aggregate(total=ExactSum("amount"))
    sql = queries[0]["sql"]
    if connection.vendor == "sqlite":
        assert "decimal_sum" not in sql
        assert "('sum:' || SUM((" in sql and ">> 32)" in sql and "& 4294967295)" in sql
    else:
        assert "SUM(" in sql


def test_reports_totals_beyond_64_bits(team, huge):
    win_rate = run("win_rate", team.admin)
    assert win_rate == [
        {
            "closed": 11,
            "won": 10,
            "win_rate": Decimal("0.9091"),
            "closed_amount": Decimal("99999999999999999.91"),
            "won_amount": Decimal("99999999999999999.90"),
            "win_rate_amount": Decimal("1.0000"),
        }
    ]
    assert run("deal_size", team.admin) == [
        {
            "deals": 10,
            "total_amount": Decimal("99999999999999999.90"),
            "average_amount": LARGEST,
            "median_amount": LARGEST,
        }
    ]
    leaderboard = run("leaderboard", team.admin)
    assert [(row["owner"], row["won_amount"], row["won"]) for row in leaderboard] == [
        ("Alice Adams", Decimal("99999999999999999.90"), 10)
    ]
    pipeline = run("pipeline_by_stage", team.admin)
    assert [(row["stage"], row["deals"], row["amount"]) for row in pipeline] == [
        ("Prospecting", 2, Decimal("9999999999999999.98"))
    ]


def test_exact_sum_sql_and_its_text():
    assert exact_sum_sql("value") == (
        "('sum:' || SUM((value) >> 32) || ':' || SUM((value) & 4294967295))"
    )
    assert exact_sum_sql("v", " FILTER (WHERE ok)") == (
        "('sum:' || SUM((v) >> 32) FILTER (WHERE ok) || ':' || SUM((v) & 4294967295)"
        " FILTER (WHERE ok))"
    )
    # -1 is high -1, low 2**32 - 1; 10**19 - 10 is high 2328306436, low 2313682934.
    assert exact_sum_total("sum:-1:4294967295") == -1
    assert exact_sum_total("sum:2328306436:2313682934") == 10**19 - 10
    assert exact_sum_total(None) is None and exact_sum_total(7) == 7
    assert from_smallest_unit("sum:2328306436:2313682934", 2) == Decimal("99999999999999999.90")


@pytest.mark.parametrize(
    "values",
    [
        [2**62, 2**62, 2**62, -(2**63), 5],
        [-(2**63)] * 4 + [1],
        [2**63 - 1] * 7,
        [0, 1, 2**32, 2**32 - 1, -(2**32), -1],
        [None, 3],
    ],
)
def test_exact_sum_sql_is_exact_in_sqlite_itself(values):
    """Straight on SQLite (any database under test): the split sums of 64-bit values."""
    import sqlite3

    memory = sqlite3.connect(":memory:")
    memory.execute("CREATE TABLE t (v INTEGER)")
    memory.executemany("INSERT INTO t VALUES (?)", [(value,) for value in values])
    (found,) = memory.execute(f"SELECT {exact_sum_sql('v')} FROM t").fetchone()
    assert exact_sum_total(found) == sum(value for value in values if value is not None)
    (empty,) = memory.execute(f"SELECT {exact_sum_sql('v')} FROM t WHERE 0").fetchone()
    assert empty is None


def test_reports_sum_natively_and_again_split_when_sqlite_overflows(team, huge):
    """report_run (core.fields.exact_sums_run): SQLite's own SUM first; it raises past
    2**63 - 1 and the report runs again with the split sums: the exact figures above."""
    with CaptureQueriesContext(connection) as queries:
        rows = run("win_rate", team.admin)
    assert rows[0]["won_amount"] == Decimal("99999999999999999.90")
    sums = [query["sql"] for query in queries if "sales_opportunity" in query["sql"]]
    if connection.vendor == "sqlite":
        assert len(sums) == 2
        assert ">> 32" not in sums[0] and 'SUM("sales_opportunity"."amount")' in sums[0]
        assert ">> 32" in sums[1]
    else:
        assert len(sums) == 1


def test_reports_sum_natively_below_64_bits(team, deals):
    with CaptureQueriesContext(connection) as queries:
        assert run("deal_size", team.admin)[0]["total_amount"] == Decimal("3500.50")
        assert run("win_rate", team.admin)[0]["closed_amount"] == Decimal("6500.50")
    assert not any(">> 32" in query["sql"] for query in queries)


def test_exact_sums_run_runs_once_and_passes_other_errors_on():
    calls = []

    def ok():
        calls.append(native_sums())
        return 7

    on_sqlite = connection.vendor == "sqlite"
    assert exact_sums_run(ok) == 7
    assert calls == [on_sqlite]  # PostgreSQL: run once, as it is
    assert native_sums() is False

    def overflowing():
        calls.append(native_sums())
        if native_sums():
            raise OperationalError("integer overflow")
        return 8

    calls.clear()
    if on_sqlite:
        assert exact_sums_run(overflowing) == 8
        assert calls == [True, False]

    def failing():
        raise OperationalError("no such table: nothing")

    with pytest.raises(OperationalError, match="no such table"):
        exact_sums_run(failing)
    assert native_sums() is False
