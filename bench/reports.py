"""Benchmark of the reports (issue 9) on PostgreSQL: each report against the hand-written
SQL of the same aggregate, at 1M leads, 300k opportunities and about 1.5M history rows.

    nice -n 10 .venv/bin/python bench/reports.py [--leads N] [--keep] [--reload]
        [--repeat N] [--only WORD,...]

What it does, in one run:

1. Creates its own PostgreSQL database (BENCH_REPORTS_DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/dealflow_bench_reports; `_<N>` appended for a
   --leads other than 1M) and loads bench/pages.py's data set with its set-based SQL
   (1M leads with their audit trail, 40k accounts, 300k opportunities, their history,
   tasks), scaled to --leads. Then, for the reports: three more history rows per
   opportunity (two stage changes and an amount change between its creation and its last
   change), so the history holds about 1.5M rows; a converted lead linked to each of the
   first converted-lead-count opportunities; and today's pipeline snapshot
   (pipeline_snapshot_take). VACUUM ANALYZE. A kept database (--keep) is reused.
2. Runs each report through `report_run` as the admin (who sees everything, so the
   reports and the hand-written SQL count the same rows), --repeat times after one
   unmeasured run, and the hand-written SQL of the same aggregate (the same rows, or the
   same list) as many times, alternating; prints the median of each and their ratio,
   PASS when the report takes at most 1.5 x the SQL (issue 9), and the query count.
   With the dashboard page built (/reports/), the first GET's time as the admin
   (cold: a cache of the dashboard's results is filled then), then the p50 and p95
   of the GETs after it against the issue's 500 ms, and each of their times, sorted.
3. Drops the database, unless --keep.

With --sqlite, the same on SQLite: the PostgreSQL data set (loaded first as above,
kept) is copied row for row into BENCH_REPORTS_SQLITE_PATH (default
var/bench_reports.sqlite3; `_<N>` for another --leads), every value stored as Django
stores it there, and each report is timed against SQLite's own hand-written SQL (no
percentile, no date_trunc, no DISTINCT ON: ROW_NUMBER, strftime). The copy takes
about 15 minutes at 1M leads; --keep keeps it. Nothing here is collected by pytest;
`make bench` runs it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH / "baseline"))

import pages  # noqa: E402  (bench/pages.py: the opportunities, history and tasks' load)

import api  # noqa: E402  (bench/api.py: database helpers and the leads' load)

log = api.log
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/dealflow_bench_reports"
TARGET_RATIO = 1.5
TARGET_DASHBOARD_P95_MS = 500.0
DATA_VERSION = 1

# Two stage changes and an amount change per opportunity, between its creation and its
# last change: its stays in Qualification and Needs Analysis, and a new amount.
LOAD_MORE_HISTORY = """
INSERT INTO sales_opportunityhistory (
    opportunity_id, stage_name, amount, probability, forecast_category, close_date,
    previous_amount, previous_close_date, previous_stage_name, created_by_id, created_at,
    updated_at
)
SELECT o.id,
       CASE WHEN k = 1 THEN 'Qualification' ELSE 'Needs Analysis' END,
       o.amount,
       CASE WHEN k = 1 THEN 10 ELSE 20 END,
       'Pipeline',
       o.close_date,
       o.amount,
       o.close_date,
       CASE WHEN k = 1 THEN %(first_stage)s WHEN k = 2 THEN 'Qualification'
            ELSE 'Needs Analysis' END,
       o.owner_id,
       o.created_at + (h.created_at - o.created_at) * k / 4.0,
       o.created_at + (h.created_at - o.created_at) * k / 4.0
FROM sales_opportunity o
JOIN LATERAL (
    SELECT max(created_at) AS created_at FROM sales_opportunityhistory
    WHERE opportunity_id = o.id
) h ON true
CROSS JOIN generate_series(1, 3) AS k
"""

# Converted leads linked to opportunities, one each, oldest with oldest.
LINK_CONVERTED = """
UPDATE leads_lead l SET converted_opportunity_id = pairs.opportunity_id
FROM (
    SELECT c.id AS lead_id, o.id AS opportunity_id
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM leads_lead WHERE is_converted) c
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM sales_opportunity) o
      ON o.n = c.n
) pairs
WHERE l.id = pairs.lead_id
"""


def database_url(leads: int) -> str:
    url = os.environ.get("BENCH_REPORTS_DATABASE_URL", DEFAULT_DATABASE_URL)
    return url if leads == 1_000_000 else f"{url}_{leads}"


def scale(leads: int) -> None:
    """bench/api.py's and bench/pages.py's counts for `leads` leads (1M: as they are)."""
    factor = leads / 1_000_000
    api.LEAD_COUNT = leads
    pages.ACCOUNT_COUNT = max(10, round(40_000 * factor))
    pages.OPPORTUNITY_COUNT = max(10, round(300_000 * factor))
    pages.LEAD_TASK_COUNT = max(10, round(150_000 * factor))
    pages.CONTACT_TASK_COUNT = max(10, round(50_000 * factor))


def prepare(url: str, reload: bool) -> api.People:
    """bench/pages.py's data set, loaded by its functions, then the reports' additions."""
    api.ensure_database(url)
    log("migrating")
    api.migrate(url)
    pages.setup_django(url)
    people = api.ensure_people()
    with api.connect(url, autocommit=True) as connection:
        pages.renice_backend(connection)
        connection.execute(api.STATE_TABLE)
        if _state(connection, "reports_data_version") == DATA_VERSION and not reload:
            log("reusing the loaded data (--reload rebuilds it)")
            return people
        started = time.perf_counter()
        connection.execute("DELETE FROM bench_state")
        connection.execute(
            f"TRUNCATE leads_lead, core_auditevent, reports_pipelinesnapshot,"
            f" {', '.join(pages.DATA_TABLES)} RESTART IDENTITY CASCADE"
        )
        log(f"loading {api.LEAD_COUNT:,} leads (bench/api.py's load)")
        api.load_leads(connection, people)
        log("loading accounts, contacts, opportunities, history, tasks (bench/pages.py's load)")
        pages.load_data(connection, people)
        first_stage = connection.execute(
            "SELECT name FROM sales_opportunitystage WHERE is_active AND NOT is_closed"
            " ORDER BY sort_order, name LIMIT 1"
        ).fetchone()[0]
        connection.execute(LOAD_MORE_HISTORY, {"first_stage": first_stage})
        connection.execute(LINK_CONVERTED)
    # Each stay's end (OpportunityHistory.stage_left_at), as the services keep it: the
    # history above was written by SQL, not by opportunity_update.
    from dealflow.sales.services import stage_stays_record

    ends_started = time.perf_counter()
    changed = stage_stays_record()
    log(f"  stays' ends: {changed:,} rows in {time.perf_counter() - ends_started:.1f} s")
    log(f"  loaded in {time.perf_counter() - started:.0f} s")
    from dealflow.reports.snapshots import pipeline_snapshot_take

    started = time.perf_counter()
    rows = pipeline_snapshot_take()
    log(f"  today's pipeline snapshot: {rows:,} rows in {time.perf_counter() - started:.1f} s")
    with api.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
        connection.execute(
            "INSERT INTO bench_state (name, value) VALUES ('reports_data_version', %s)",
            [DATA_VERSION],
        )
    return people


def _state(connection, name: str) -> int | None:
    row = connection.execute("SELECT value FROM bench_state WHERE name = %s", [name]).fetchone()
    return row[0] if row else None


# ---------------------------------------------------------------------------------------
# SQLite: the same data set, copied from the PostgreSQL one

DEFAULT_SQLITE_PATH = BENCH.parent / "var" / "bench_reports.sqlite3"
# Tables too big for their indexes to be kept up row by row: dropped, then rebuilt.
BIG_TABLES = (
    "leads_lead",
    "core_auditevent",
    "sales_opportunity",
    "sales_opportunityhistory",
    "sales_task",
    "accounts_contact",
    "accounts_account",
)
# Field types whose values SQLite stores otherwise than psycopg reads them.
CONVERTED_FIELDS = (
    "DateTimeField",
    "DateField",
    "TimeField",
    "DecimalField",
    "JSONField",
    "UUIDField",
    "DurationField",
)


def sqlite_path(leads: int) -> Path:
    path = Path(os.environ.get("BENCH_REPORTS_SQLITE_PATH", str(DEFAULT_SQLITE_PATH)))
    return path if leads == 1_000_000 else path.with_name(f"{path.stem}_{leads}{path.suffix}")


def prepare_sqlite(pg_url: str, path: Path, options: argparse.Namespace) -> None:
    """The SQLite database of the same data set: bench/pages.py's load is PostgreSQL SQL
    (generate_series, arrays, jsonb), so the PostgreSQL data set is loaded first (this
    script, --keep) and every table copied, row for row with the same ids, each value
    stored as Django stores it on SQLite (core/sqlite: decimals in cents, datetimes as
    UTC text, JSON as text). Kept in `path` for later runs (--reload rebuilds it)."""
    import sqlite3

    marker = path.with_suffix(".loaded")
    loaded = marker.exists() and marker.read_text().strip() == str(DATA_VERSION)
    if path.exists() and loaded and not options.reload:
        log(f"reusing {path} (--reload rebuilds it); migrating it")
        # Migrations added since the copy (new tables of the product) apply to it too,
        # as bench/api.py's migrate does for the PostgreSQL database on every run.
        subprocess.run(
            [str(api.BIN / "dealflow"), "migrate", "--noinput", "-v", "0"],
            cwd=api.ROOT,
            env={**os.environ, "DATABASE_URL": f"sqlite:///{path}"},
            check=True,
        )
        pages.setup_django(f"sqlite:///{path}")
        return
    command = [sys.executable, __file__, "--leads", str(options.leads), "--keep"]
    command += ["--only", "none-the-data-only"] + (["--reload"] if options.reload else [])
    log("the PostgreSQL data set first: " + " ".join(command[1:]))
    subprocess.run(command, check=True)
    for stale in (path, marker, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{path}"}
    subprocess.run(
        [str(api.BIN / "dealflow"), "migrate", "--noinput", "-v", "0"],
        cwd=api.ROOT,
        env=environment,
        check=True,
    )
    log(f"migrated {path} in {time.perf_counter() - started:.0f} s; copying the tables")
    pages.setup_django(f"sqlite:///{path}")
    from django.apps import apps
    from django.db import connection as django_sqlite

    target = sqlite3.connect(path, isolation_level=None)
    target.execute("PRAGMA journal_mode=OFF")
    target.execute("PRAGMA synchronous=OFF")
    target.execute("PRAGMA foreign_keys=OFF")
    target.execute("PRAGMA cache_size=-400000")
    indexes = target.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        f" AND tbl_name IN ({', '.join('?' * len(BIG_TABLES))})",
        BIG_TABLES,
    ).fetchall()
    for name, _sql in indexes:
        target.execute(f'DROP INDEX "{name}"')
    tables = sorted(
        {
            model._meta.db_table: model
            for model in apps.get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy
        }.items()
    )
    with api.connect(pg_url) as source:
        existing = {
            row[0]
            for row in source.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        }
        target.execute("BEGIN")
        for table, model in tables:
            if table not in existing:
                continue
            copied = _copy_table(source, target, table, model, django_sqlite)
            if copied >= 10_000:
                log(f"  {table}: {copied:,} rows ({time.perf_counter() - started:.0f} s)")
        target.execute("COMMIT")
    for _name, sql in indexes:
        target.execute(sql)
    log(f"  rebuilt {len(indexes)} indexes ({time.perf_counter() - started:.0f} s)")
    # No ANALYZE: the product never runs it on SQLite, so the planner here sees what it
    # sees there. (With statistics, sales_task's opportunity index, empty in this data
    # set, looks useless to it and the stalled rule scans every task for every deal.)
    target.execute("PRAGMA journal_mode=WAL")
    target.close()
    marker.write_text(str(DATA_VERSION))
    log(f"  SQLite data set in {time.perf_counter() - started:.0f} s")


def _copy_table(source, target, table: str, model, django_sqlite) -> int:
    """Every row of a table, PostgreSQL to SQLite, values prepared by the model's fields."""
    fields = [field for field in model._meta.local_concrete_fields]
    columns = [field.column for field in fields]
    converters = [
        (index, field)
        for index, field in enumerate(fields)
        if field.get_internal_type() in CONVERTED_FIELDS
    ]
    quoted = ", ".join(f'"{column}"' for column in columns)
    target.execute(f'DELETE FROM "{table}"')
    insert = f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" * len(columns))})'
    copied = 0
    with source.cursor(name=f"copy_{table}") as cursor:
        cursor.itersize = 20_000
        cursor.execute(f'SELECT {quoted} FROM "{table}" ORDER BY 1')
        while batch := cursor.fetchmany(20_000):
            if converters:
                rows = []
                for row in batch:
                    values = list(row)
                    for index, field in converters:
                        if values[index] is not None:
                            values[index] = field.get_db_prep_save(
                                values[index], connection=django_sqlite
                            )
                    rows.append(values)
                batch = rows
            target.executemany(insert, batch)
            copied += len(batch)
    return copied


# ---------------------------------------------------------------------------------------
# The cases: a report with its filters, and the hand-written SQL of the same aggregate


@dataclass
class Case:
    name: str
    report: str
    filters: dict
    sql: str
    params: dict


def cases(today: datetime.date, snapshot_day: datetime.date, past_day: datetime.date) -> list[Case]:
    from django.conf import settings

    from dealflow.reports.selectors.pipeline import fiscal_quarter

    quarter_start, quarter_end = fiscal_quarter(today)
    zone = settings.TIME_ZONE
    closed_stages = "(SELECT name FROM sales_opportunitystage WHERE is_closed)"
    replay = f"""
        SELECT * FROM (
            SELECT DISTINCT ON (h.opportunity_id) h.*
            FROM sales_opportunityhistory h
            JOIN sales_opportunity o ON o.id = h.opportunity_id
            WHERE o.created_at < %(end)s AND h.created_at < %(end)s
            ORDER BY h.opportunity_id, h.created_at DESC, h.id DESC
        ) last
        WHERE stage_name NOT IN {closed_stages} OR close_date >= %(month)s
    """

    def day_end(day: datetime.date) -> datetime.datetime:
        from dealflow.reports.selectors.common import end_of

        return end_of(day)

    return [
        Case(
            "lead_conversion by source",
            "lead_conversion",
            {},
            "SELECT lead_source, count(*), count(*) FILTER (WHERE is_converted)"
            " FROM leads_lead GROUP BY lead_source ORDER BY lead_source",
            {},
        ),
        Case(
            "lead_conversion by month",
            "lead_conversion",
            {"group_by": "month"},
            "SELECT date_trunc('month', created_at AT TIME ZONE %(zone)s), count(*),"
            " count(*) FILTER (WHERE is_converted) FROM leads_lead GROUP BY 1 ORDER BY 1",
            {"zone": zone},
        ),
        Case(
            "leads_by_status",
            "leads_by_status",
            {},
            "SELECT l.lead_source, s.name, count(*) FROM leads_lead l"
            " JOIN leads_leadstatus s ON s.id = l.status_id"
            " GROUP BY l.lead_source, s.id ORDER BY l.lead_source, s.sort_order, s.name",
            {},
        ),
        Case(
            "pipeline_by_stage",
            "pipeline_by_stage",
            {},
            "SELECT s.name, count(*), sum(o.amount), round(sum(o.amount * o.probability) / 100, 2)"
            " FROM sales_opportunity o JOIN sales_opportunitystage s ON s.id = o.stage_id"
            " WHERE NOT o.is_closed GROUP BY s.id ORDER BY s.sort_order",
            {},
        ),
        Case(
            "pipeline_by_stage as_of (snapshot)",
            "pipeline_by_stage",
            {"as_of": snapshot_day.isoformat()},
            "SELECT s.name, count(*), sum(p.amount), round(sum(p.amount * p.probability) / 100, 2)"
            " FROM reports_pipelinesnapshot p JOIN sales_opportunitystage s ON s.id = p.stage_id"
            " WHERE p.snapshot_date = %(day)s AND NOT s.is_closed GROUP BY s.id ORDER BY s.sort_order",
            {"day": snapshot_day},
        ),
        Case(
            "pipeline_by_stage as_of (replay)",
            "pipeline_by_stage",
            {"as_of": past_day.isoformat()},
            f"SELECT stage_name, count(*), sum(amount), round(sum(amount * probability) / 100, 2)"
            f" FROM ({replay}) r WHERE stage_name NOT IN {closed_stages} GROUP BY stage_name",
            {"end": day_end(past_day), "month": past_day.replace(day=1)},
        ),
        Case(
            "forecast",
            "forecast",
            {},
            "SELECT date_trunc('month', close_date), forecast_category, sum(amount)"
            " FROM sales_opportunity WHERE forecast_category <> 'Omitted'"
            " GROUP BY 1, 2 ORDER BY 1",
            {},
        ),
        Case(
            "forecast as_of (replay)",
            "forecast",
            {"as_of": past_day.isoformat()},
            f"SELECT date_trunc('month', close_date), forecast_category, sum(amount)"
            f" FROM ({replay}) r WHERE forecast_category <> 'Omitted' AND close_date >= %(month)s"
            f" GROUP BY 1, 2 ORDER BY 1",
            {"end": day_end(past_day), "month": past_day.replace(day=1)},
        ),
        Case(
            "forecast_accuracy",
            "forecast_accuracy",
            {"period_start": quarter_start.isoformat()},
            f"SELECT forecast_category, sum(amount) FROM ({replay}) r"
            f" WHERE forecast_category <> 'Omitted' AND close_date BETWEEN %(month)s AND %(last)s"
            f" GROUP BY 1 UNION ALL SELECT 'won', sum(amount) FROM sales_opportunity"
            f" WHERE is_won AND close_date BETWEEN %(month)s AND %(last)s",
            {"end": day_end(quarter_start), "month": quarter_start, "last": quarter_end},
        ),
        Case(
            "win_rate",
            "win_rate",
            {},
            "SELECT count(*), count(*) FILTER (WHERE is_won), sum(amount),"
            " sum(amount) FILTER (WHERE is_won) FROM sales_opportunity WHERE is_closed",
            {},
        ),
        Case(
            "win_rate by owner",
            "win_rate",
            {"group_by": "owner"},
            "SELECT owner_id, count(*), count(*) FILTER (WHERE is_won), sum(amount),"
            " sum(amount) FILTER (WHERE is_won) FROM sales_opportunity WHERE is_closed"
            " GROUP BY owner_id",
            {},
        ),
        Case(
            "deal_size",
            "deal_size",
            {},
            "SELECT count(amount), sum(amount), avg(amount),"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY amount)"
            " FROM sales_opportunity WHERE is_closed AND is_won",
            {},
        ),
        Case(
            "sales_cycle",
            "sales_cycle",
            {},
            "SELECT count(*), avg(close_date - (created_at AT TIME ZONE %(zone)s)::date),"
            " percentile_cont(0.5) WITHIN GROUP"
            " (ORDER BY close_date - (created_at AT TIME ZONE %(zone)s)::date)"
            " FROM sales_opportunity WHERE is_closed AND is_won",
            {"zone": zone},
        ),
        Case(
            "stage_duration",
            "stage_duration",
            {},
            f"""
            SELECT stage_name, count(*), avg(seconds),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)
            FROM (
                SELECT stage_name,
                       extract(epoch FROM coalesce(stage_left_at, now()) - created_at) AS seconds
                FROM sales_opportunityhistory
                WHERE stage_name <> previous_stage_name AND stage_name NOT IN {closed_stages}
            ) durations
            GROUP BY stage_name
            """,
            {},
        ),
        # The same report against the SQL it replaced: walking every deal's history.
        Case(
            "stage_duration vs the walk (PostgreSQL)",
            "stage_duration",
            {},
            f"""
            SELECT stage_name, count(*), avg(seconds),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)
            FROM (
                SELECT stage_name,
                       extract(epoch FROM coalesce(left_at, now()) - entered) AS seconds
                FROM (
                    SELECT stage_name, created_at AS entered,
                           lead(created_at) OVER (PARTITION BY opportunity_id
                                                  ORDER BY created_at, id) AS left_at
                    FROM sales_opportunityhistory
                    WHERE stage_name <> previous_stage_name
                ) stays
                WHERE stage_name NOT IN {closed_stages}
            ) durations
            GROUP BY stage_name
            """,
            {},
        ),
        Case(
            "stalled_deals",
            "stalled_deals",
            {},
            """
            SELECT o.id, o.name, o.stage_id, o.amount, o.close_date, o.owner_id,
                   (SELECT max(h.created_at) FROM sales_opportunityhistory h
                    WHERE h.opportunity_id = o.id AND h.stage_name <> h.previous_stage_name),
                   -- idle, the third rule's input, which the report's reasons name
                   (o.created_at <= now() - interval '30 days'
                    AND NOT EXISTS (SELECT 1 FROM sales_task t WHERE t.opportunity_id = o.id
                        AND (t.created_at > now() - interval '30 days'
                             OR t.completed_at > now() - interval '30 days'))
                    AND NOT EXISTS (SELECT 1 FROM core_auditevent e
                        WHERE e.object_name = 'Opportunity' AND e.record_id = o.id
                        AND e.created_at > now() - interval '30 days'))
            FROM sales_opportunity o
            JOIN sales_opportunitystage s ON s.id = o.stage_id
            WHERE NOT o.is_closed AND (
                o.close_date < current_date
                OR (o.created_at <= now() - interval '30 days'
                    AND NOT EXISTS (SELECT 1 FROM sales_task t WHERE t.opportunity_id = o.id
                        AND (t.created_at > now() - interval '30 days'
                             OR t.completed_at > now() - interval '30 days'))
                    AND NOT EXISTS (SELECT 1 FROM core_auditevent e
                        WHERE e.object_name = 'Opportunity' AND e.record_id = o.id
                        AND e.created_at > now() - interval '30 days'))
                OR (s.stall_days IS NOT NULL
                    AND o.created_at <= now() - (s.stall_days + 1) * interval '1 day'
                    AND NOT EXISTS (SELECT 1 FROM sales_opportunityhistory h
                        WHERE h.opportunity_id = o.id AND h.stage_name <> h.previous_stage_name
                        AND h.created_at > now() - (s.stall_days + 1) * interval '1 day'))
            )
            ORDER BY o.close_date, o.id
            """,
            {},
        ),
        Case(
            "leaderboard",
            "leaderboard",
            {},
            "SELECT owner_id, sum(amount), count(*) FROM sales_opportunity"
            " WHERE is_closed AND is_won GROUP BY owner_id ORDER BY 2 DESC, 3 DESC",
            {},
        ),
        Case(
            "premature_conversions",
            "premature_conversions",
            {},
            """
            SELECT l.id, l.first_name, l.last_name, l.company, l.converted_date,
                   o.id, o.name, o.owner_id
            FROM leads_lead l JOIN sales_opportunity o ON o.id = l.converted_opportunity_id
            WHERE l.is_converted AND (
                NOT EXISTS (SELECT 1 FROM core_auditevent e
                    WHERE e.object_name = 'Lead' AND e.record_id = l.id
                    AND (e.changes -> 'status' ->> 1 = 'Qualified'
                         OR (e.action = 'convert' AND e.changes -> 'status' ->> 0 = 'Qualified')))
                OR EXISTS (SELECT 1 FROM leads_qualificationoverride q WHERE q.lead_id = l.id))
            ORDER BY l.converted_date DESC, l.id DESC
            """,
            {},
        ),
    ]


def _sqlite_median(inner: str) -> str:
    """SQLite has no percentile: count, sum, and the middle one or two values of an
    inner query's `v` by ROW_NUMBER (what a hand-written median looks like there)."""
    return (
        "SELECT count(*), sum(v), avg(v) FILTER (WHERE rn IN ((n + 1) / 2, (n + 2) / 2))"
        " FROM (SELECT v, row_number() OVER (ORDER BY v) AS rn, count(*) OVER () AS n"
        f" FROM ({inner}) AS vs WHERE v IS NOT NULL) AS ranked"
    )


def sqlite_cases(today: datetime.date, past_day: datetime.date) -> dict[str, tuple[str, dict]]:
    """{case name: (SQL, parameters)}: the hand-written SQL of each case on SQLite (the
    organisation's time zone is UTC in the benchmark, so dates are UTC dates). Dates and
    datetimes are compared as the text Django stores; decimals are integers of cents."""
    from dealflow.reports.selectors.common import end_of, start_of

    closed = "(SELECT name FROM sales_opportunitystage WHERE is_closed)"
    replay = f"""
        SELECT * FROM (
            SELECT h.*, row_number() OVER (
                PARTITION BY h.opportunity_id ORDER BY h.created_at DESC, h.id DESC) AS rn
            FROM sales_opportunityhistory h
            JOIN sales_opportunity o ON o.id = h.opportunity_id
            WHERE o.created_at < :end AND h.created_at < :end
        ) last
        WHERE rn = 1 AND (stage_name NOT IN {closed} OR close_date >= :month)
    """

    def moment(value: datetime.datetime) -> str:
        return str(value.astimezone(datetime.UTC).replace(tzinfo=None))

    past = {"end": moment(end_of(past_day)), "month": past_day.replace(day=1).isoformat()}
    from dealflow.reports.selectors.pipeline import fiscal_quarter

    quarter_start, quarter_end = fiscal_quarter(today)
    quarter = {
        "end": moment(end_of(quarter_start)),
        "month": quarter_start.isoformat(),
        "last": quarter_end.isoformat(),
    }
    now = moment(datetime.datetime.now(datetime.UTC))
    since = moment(datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30))
    del start_of
    return {
        "lead_conversion by month": (
            "SELECT strftime('%Y-%m', created_at), count(*),"
            " count(*) FILTER (WHERE is_converted) FROM leads_lead GROUP BY 1 ORDER BY 1",
            {},
        ),
        "pipeline_by_stage as_of (replay)": (
            f"SELECT stage_name, count(*), sum(amount), round(sum(amount * probability) / 100, 2)"
            f" FROM ({replay}) r WHERE stage_name NOT IN {closed} GROUP BY stage_name",
            past,
        ),
        "forecast": (
            "SELECT strftime('%Y-%m', close_date), forecast_category, sum(amount)"
            " FROM sales_opportunity WHERE forecast_category <> 'Omitted'"
            " GROUP BY 1, 2 ORDER BY 1",
            {},
        ),
        "forecast as_of (replay)": (
            f"SELECT strftime('%Y-%m', close_date), forecast_category, sum(amount)"
            f" FROM ({replay}) r WHERE forecast_category <> 'Omitted' AND close_date >= :month"
            f" GROUP BY 1, 2 ORDER BY 1",
            past,
        ),
        "forecast_accuracy": (
            f"SELECT forecast_category, sum(amount) FROM ({replay}) r"
            f" WHERE forecast_category <> 'Omitted' AND close_date BETWEEN :month AND :last"
            f" GROUP BY 1 UNION ALL SELECT 'won', sum(amount) FROM sales_opportunity"
            f" WHERE is_won AND close_date BETWEEN :month AND :last",
            quarter,
        ),
        "deal_size": (
            _sqlite_median("SELECT amount AS v FROM sales_opportunity WHERE is_closed AND is_won"),
            {},
        ),
        "sales_cycle": (
            _sqlite_median(
                "SELECT CAST(julianday(close_date) - julianday(date(created_at)) AS INTEGER) AS v"
                " FROM sales_opportunity WHERE is_closed AND is_won"
            ),
            {},
        ),
        "stage_duration": (
            f"""
            SELECT stage_name, count(*), sum(v), avg(v) FILTER (WHERE rn IN ((n + 1) / 2, (n + 2) / 2))
            FROM (
                SELECT stage_name, v,
                       row_number() OVER (PARTITION BY stage_name ORDER BY v) AS rn,
                       count(*) OVER (PARTITION BY stage_name) AS n
                FROM (
                    SELECT stage_name, CAST(round((julianday(coalesce(stage_left_at, :now))
                           - julianday(created_at)) * 86400) AS INTEGER) AS v
                    FROM sales_opportunityhistory
                    WHERE stage_name <> previous_stage_name AND stage_name NOT IN {closed}
                ) stays
            ) ranked
            GROUP BY stage_name
            """,
            {"now": now},
        ),
        "stalled_deals": (
            """
            SELECT o.id, o.name, o.stage_id, o.amount, o.close_date, o.owner_id,
                   (SELECT max(h.created_at) FROM sales_opportunityhistory h
                    WHERE h.opportunity_id = o.id AND h.stage_name <> h.previous_stage_name),
                   -- idle, the third rule's input, which the report's reasons name
                   (o.created_at <= :since
                    AND NOT EXISTS (SELECT 1 FROM sales_task t WHERE t.opportunity_id = o.id
                        AND (t.created_at > :since OR t.completed_at > :since))
                    AND NOT EXISTS (SELECT 1 FROM core_auditevent e
                        WHERE e.object_name = 'Opportunity' AND e.record_id = o.id
                        AND e.created_at > :since))
            FROM sales_opportunity o
            JOIN sales_opportunitystage s ON s.id = o.stage_id
            WHERE NOT o.is_closed AND (
                o.close_date < :today
                OR (o.created_at <= :since
                    AND NOT EXISTS (SELECT 1 FROM sales_task t WHERE t.opportunity_id = o.id
                        AND (t.created_at > :since OR t.completed_at > :since))
                    AND NOT EXISTS (SELECT 1 FROM core_auditevent e
                        WHERE e.object_name = 'Opportunity' AND e.record_id = o.id
                        AND e.created_at > :since))
                OR (s.stall_days IS NOT NULL
                    AND o.created_at <= datetime(:now, '-' || (s.stall_days + 1) || ' days')
                    AND NOT EXISTS (SELECT 1 FROM sales_opportunityhistory h
                        WHERE h.opportunity_id = o.id AND h.stage_name <> h.previous_stage_name
                        AND h.created_at > datetime(:now, '-' || (s.stall_days + 1) || ' days')))
            )
            ORDER BY o.close_date, o.id
            """,
            {"today": today.isoformat(), "since": since, "now": now},
        ),
    }


# ---------------------------------------------------------------------------------------
# Measuring


@dataclass
class Result:
    case: Case
    report_ms: list[float]
    sql_ms: list[float]
    queries: int
    rows: int

    @property
    def ratio(self) -> float:
        return statistics.median(self.report_ms) / statistics.median(self.sql_ms)


def measure(case: Case, user, repeat: int) -> Result:
    from django.db import connection

    from dealflow.reports.definitions import report_filters_parse, report_run

    filters = report_filters_parse(case.filters)

    def run_report() -> int:
        return len(report_run(case.report, user=user, filters=filters).rows)

    def run_sql() -> None:
        if connection.vendor == "sqlite":  # raw: named parameters, no % escaping
            connection.ensure_connection()
            cursor = connection.connection.cursor()
            sql = re.sub(r"%\((\w+)\)s", r":\1", case.sql)
            params = {
                name: value.isoformat() if isinstance(value, datetime.date) else value
                for name, value in case.params.items()
            }
            cursor.execute(sql, params)
            cursor.fetchall()
            cursor.close()
            return
        with connection.cursor() as cursor:
            cursor.execute(case.sql, case.params)
            cursor.fetchall()

    meter = pages.QueryMeter()
    with connection.execute_wrapper(meter):
        rows = run_report()
    run_sql()
    report_ms, sql_ms = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        run_report()
        report_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        run_sql()
        sql_ms.append((time.perf_counter() - started) * 1000)
    return Result(case, report_ms, sql_ms, meter.count, rows)


def measure_dashboard(user, repeat: int) -> tuple[float, list[float]] | None:
    """(the first GET's ms, the `repeat` GETs' ms after it) of /reports/ as `user`, or
    None when the page is not built. The first GET is timed apart: with the dashboard's
    results cached, it is the one that computes them (cold)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    started = time.perf_counter()
    first = client.get("/reports/")
    cold = (time.perf_counter() - started) * 1000
    if first.status_code == 404:
        return None
    if first.status_code != 200:
        raise SystemExit(f"/reports/ answered {first.status_code}")
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get("/reports/")
        durations.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"/reports/ answered {response.status_code}")
    return cold, durations


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-int(fraction * len(ordered) * 100) // 100) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads (default: 1000000)")
    parser.add_argument("--keep", action="store_true", help="keep the database for later runs")
    parser.add_argument("--reload", action="store_true", help="rebuild a kept database's data")
    parser.add_argument("--repeat", type=int, default=5, help="measured runs of each (default: 5)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated words of case names; `dashboard` for the page"
        " (default: every case and the page)",
    )
    parser.add_argument(
        "--sqlite",
        action="store_true",
        help="measure on SQLite: the PostgreSQL data set (loaded first, kept) copied to"
        " BENCH_REPORTS_SQLITE_PATH (default: var/bench_reports.sqlite3)",
    )
    options = parser.parse_args()
    scale(options.leads)
    url = database_url(options.leads)
    if options.sqlite:
        path = sqlite_path(options.leads)
        prepare_sqlite(url, path, options)
        from dealflow.people.models import User

        admin_id = User.objects.get(username="bench_admin").pk
        people = api.People(rep_ids=[], queue_id=0, admin_id=admin_id, token="", token_user="")
        try:
            return run(str(path), people, options)
        finally:
            if not options.keep:
                for stale in (path, path.with_suffix(".loaded")):
                    stale.unlink(missing_ok=True)
                log(f"removed {path} (--keep keeps it)")
    people = prepare(url, options.reload)
    try:
        return run(url, people, options)
    finally:
        if not options.keep:
            pages.drop_database(url)


def run(url: str, people: api.People, options: argparse.Namespace) -> int:
    from django.utils import timezone

    from dealflow.people.models import User

    admin = User.objects.get(pk=people.admin_id)
    today = timezone.localdate()
    wanted = [word.strip().lower() for word in options.only.split(",") if word.strip()]
    results = []
    from django.db import connection

    past_day = today - datetime.timedelta(days=90)
    on_sqlite = connection.vendor == "sqlite"
    if not on_sqlite:
        # As report_run does in its transaction: the hand-written SQL runs without JIT
        # compilation too, so both sides of each ratio pay the same.
        with connection.cursor() as cursor:
            cursor.execute("SET jit = off")
    rewritten = sqlite_cases(today, past_day) if on_sqlite else {}
    for case in cases(today, today, past_day):
        if wanted and not any(word in case.name.lower() for word in wanted):
            continue
        if on_sqlite and "(PostgreSQL)" in case.name:
            continue
        if case.name in rewritten:
            case.sql, case.params = rewritten[case.name]
        result = measure(case, admin, options.repeat)
        results.append(result)
        log(
            f"{case.name}: report {statistics.median(result.report_ms):.0f} ms,"
            f" SQL {statistics.median(result.sql_ms):.0f} ms, x{result.ratio:.2f}"
        )
    measured = not wanted or "dashboard" in wanted
    dashboard = measure_dashboard(admin, max(options.repeat, 20)) if measured else None
    counts = pages.table_counts()
    log("")
    database = (
        f"SQLite {url}"
        if connection.vendor == "sqlite"
        else f"PostgreSQL database {pages.database_name(url)}"
    )
    log(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()}; {database}")
    log(", ".join(f"{table} {count:,}" for table, count in counts.items()))
    log(
        f"command: bench/reports.py --leads {options.leads} --repeat {options.repeat}"
        f"{' --sqlite' if connection.vendor == 'sqlite' else ''}"
    )
    log("")
    log(f"| report | rows | queries | report ms | SQL ms | ratio | <= {TARGET_RATIO} x |")
    log("|---|---|---|---|---|---|---|")
    for result in results:
        verdict = "PASS" if result.ratio <= TARGET_RATIO else "FAIL"
        log(
            f"| {result.case.name} | {result.rows:,} | {result.queries} |"
            f" {statistics.median(result.report_ms):.0f} | {statistics.median(result.sql_ms):.0f} |"
            f" {result.ratio:.2f} | {verdict} |"
        )
    if dashboard is not None:
        cold, warm = dashboard
        p95 = percentile(warm, 0.95)
        verdict = "PASS" if p95 <= TARGET_DASHBOARD_P95_MS else "FAIL"
        log(
            f"dashboard /reports/: first GET (cold) {cold:.0f} ms; the {len(warm)} GETs after"
            f" it: p50 {statistics.median(warm):.0f} ms, p95 {p95:.0f} ms ({verdict}, target"
            f" {TARGET_DASHBOARD_P95_MS:.0f} ms)"
        )
        log("dashboard GETs, ms, sorted: " + ", ".join(f"{value:.0f}" for value in sorted(warm)))
    elif measured:
        log("dashboard /reports/: not built yet (404)")
    else:
        log("dashboard /reports/: not measured (--only without the word dashboard)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
