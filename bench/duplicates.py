"""Benchmark of duplicate control on PostgreSQL: the check of one new lead against the
base, and the full scan (issue 8: check p99 <= 20 ms and scan <= 120 s at 1M leads).

    nice -n 10 .venv/bin/python bench/duplicates.py [--leads N] [--checks N] [--keep] [--reload]

What it does, in one run:

1. Creates its own PostgreSQL database (BENCH_DUPLICATES_DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/dealflow_bench_duplicates), runs `dealflow migrate`,
   makes an admin and a rep, and loads N leads (default 1,000,000) with set-based SQL
   (generate_series; secondary indexes dropped and rebuilt): people with syllable-made
   first names (8,000), last names (up to 810,000) and companies (180,000, with legal
   forms: Inc, GmbH, Ltd, ...), unique emails and phones; 2% of them are duplicates of the lead
   before them (the same person at the company spelled without its legal form, with the
   same phone, another email). Their blocking keys (DuplicateKey) are loaded by SQL too,
   then a sample of 2,000 leads is checked against duplicates/keys.py (the bench stops if
   one key differs). A database kept by an earlier run (--keep) with N leads is reused.
2. The check: `duplicates_find` for --checks new leads (default 1,000; half of them the
   same person as a loaded lead, half new people), as the rep (organisation-wide
   read/write, the default) after a warm-up; p50/p95/p99/max in ms.
3. The scan: `duplicates_scan(object_name="Lead")` twice (the second a rerun that finds
   the same groups and creates none), in seconds, with the groups found.
4. Prints the figures, the machine and PASS/FAIL against the targets; drops the database
   unless --keep. A missed target does not fail the command (the figures are the output).

Nothing here is collected by pytest (testpaths is tests/).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/dealflow_bench_duplicates"
TARGET_CHECK_P99_MS = 20.0
TARGET_SCAN_SECONDS = 120.0
SAMPLE = 2_000

SYLLABLES = ["ka", "lo", "mi", "ne", "ra", "to", "vi", "sa", "du", "be", "go", "ha", "ji",
             "pe", "qu", "ri", "so", "ta", "ul", "ze"]  # fmt: skip
LAST_SYLLABLES = [*SYLLABLES, "an", "el", "or", "ix", "um", "ay", "ov", "in", "es", "ar"]
LEGAL_FORMS = ["Inc", "GmbH", "Ltd", "LLC", "S.A.", "AG", "BV", "Oy", "PLC", "Corp"]
COMPANY_WORDS = ["Systems", "Labs", "Foods", "Media", "Logistics", "Partners", "Group",
                 "Works", "Energy", "Health"]  # fmt: skip


def log(message: str) -> None:
    print(message, flush=True)


def database_url() -> str:
    return os.environ.get("BENCH_DUPLICATES_DATABASE_URL", DEFAULT_DATABASE_URL)


def connect(url: str, **options):
    import psycopg

    return psycopg.connect(url, **options)


def _admin_url(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def ensure_database(url: str) -> None:
    from psycopg import sql

    admin_url, name = _admin_url(url)
    with connect(admin_url, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            log(f"creating database {name}")
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    admin_url, name = _admin_url(url)
    with connect(admin_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    log(f"dropped database {name}")


def environment(url: str) -> dict[str, str]:
    values = dict(os.environ)
    values.setdefault("DEALFLOW_VAR_DIR", str(ROOT / "var"))
    values.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="dealflow.settings", DEALFLOW_DEBUG="0")
    return values


def migrate_and_setup(url: str) -> None:
    subprocess.run(
        [str(BIN / "dealflow"), "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=environment(url),
        check=True,
    )
    os.environ.update(environment(url))
    import django

    django.setup()


def ensure_users():
    from dealflow.people.models import Role, User
    from dealflow.people.services import user_create

    def user(username: str, role: str):
        existing = User.objects.filter(username=username).first()
        if existing is not None:
            return existing
        return user_create(actor=None, username=username, password=None, role=role,
                           first_name=username.title(), last_name="Bench")  # fmt: skip

    return user("dupes_admin", Role.ADMIN), user("dupes_rep", Role.REP)


# ---------------------------------------------------------------------------------------
# Loading


def _array(values: list[str]) -> str:
    return "(ARRAY[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "])"


def people_sql() -> str:
    """One row per lead number g: the person, their company (with and without its legal
    form), email and phone; every 50th row repeats the row before it with the company
    spelled without its legal form and another email (the 2% duplicates)."""
    first = _array(SYLLABLES)
    last = _array(LAST_SYLLABLES)
    words = _array(COMPANY_WORDS)
    forms = _array(LEGAL_FORMS)
    return f"""
    CREATE UNLOGGED TABLE bench_people AS
    SELECT g,
        initcap({first}[1 + p % 20] || {first}[1 + (p / 20) % 20]
                || {first}[1 + (p / 400) % 20]) AS first_name,
        initcap({last}[1 + (p / 8000) % 30] || {last}[1 + (p / 240000) % 30]
                || {last}[1 + (p / 7200000) % 30] || {last}[1 + (q / 7) % 30]) AS last_name,
        initcap({first}[1 + q % 20] || {last}[1 + (q / 20) % 30] || {last}[1 + (q / 600) % 30])
            || ' ' || {words}[1 + (q / 18000) % 10] AS company_base,
        {forms}[1 + (q / 180000) % 10] AS legal_form,
        g % 50 = 0 AS is_duplicate,
        200 + (q % 700) AS area,
        lpad(((p * 7919) % 10000000)::text, 7, '0') AS local_number,
        (ARRAY['Boston', 'Berlin', 'Lyon', 'Austin', 'Leeds', 'Porto', 'Turku', 'Graz'])
            [1 + (q / 5) % 8] AS city
    FROM (
        SELECT g, base * 104729 % 2147483629 AS p, (base * 7919 + 13) % 2147483647 AS q
        FROM (
            SELECT g, (CASE WHEN g % 50 = 0 THEN g - 1 ELSE g END)::bigint AS base
            FROM generate_series(1, %(count)s) AS g
        ) AS drawn
    ) AS numbers
    """


def _lead_columns() -> tuple[list[str], list[str]]:
    """leads_lead's columns and the expression of each (every NOT NULL column gets one)."""
    from django.db import models

    from dealflow.leads.models import Lead

    given = {
        "created_at": "now() - (%(count)s - g) * interval '1 minute'",
        "updated_at": "now() - (%(count)s - g) * interval '1 minute'",
        "first_name": "first_name",
        "last_name": "last_name",
        "company": "CASE WHEN is_duplicate THEN company_base ELSE company_base || ' ' || legal_form END",
        "email": "lower(first_name || '.' || last_name || '.' || g) || '@mail.example'",
        "phone": "'+1 (' || area || ') 555-' || substr(local_number, 4)",
        "phone_digits": "'1' || area || '555' || substr(local_number, 4)",
        "city": "city",
        "status_id": "%(status)s",
        "owner_user_id": "%(owner)s",
        "is_converted": "false",
        "first_name_key": "lower(first_name)",
        "last_name_key": "lower(last_name)",
        "company_key": "lower(CASE WHEN is_duplicate THEN company_base ELSE company_base || ' ' || legal_form END)",
        "email_key": "lower(first_name || '.' || last_name || '.' || g) || '@mail.example'",
    }
    columns, expressions = [], []
    for field in Lead._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.name in given or field.column in given:
            expressions.append(given.get(field.name, given.get(field.column)))
        elif field.null:
            expressions.append("NULL")
        elif isinstance(field, models.BooleanField):
            expressions.append("false")
        elif isinstance(field, models.IntegerField | models.DecimalField | models.FloatField):
            expressions.append("0")
        elif isinstance(field, models.DateTimeField):
            expressions.append("now()")
        elif isinstance(field, models.JSONField):
            expressions.append("'{}'::jsonb")
        else:
            expressions.append("''")
    return columns, expressions


KEYS_SQL = """
INSERT INTO duplicates_duplicatekey (object_type, record_id, kind, value, created_at, updated_at)
SELECT 'Lead', g, kind, value, now(), now() FROM (
    SELECT g, 'email' AS kind,
           lower(first_name || '.' || last_name || '.' || g) || '@mail.example' AS value
    FROM bench_people
    UNION ALL
    SELECT g, 'phone', '+1' || area || '555' || substr(local_number, 4) FROM bench_people
    UNION ALL
    SELECT g, 'name', lower(last_name) || '|' || lower(left(first_name, 1)) FROM bench_people
    UNION ALL
    SELECT g, 'company_person', lower(company_base) || '|' || lower(left(first_name, 1))
    FROM bench_people
) AS keys
"""


def _drop_indexes(connection, table: str) -> list[str]:
    indexes = connection.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = %s::regclass AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """,
        [table],
    ).fetchall()
    for name, _definition in indexes:
        connection.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in indexes]


def load(url: str, count: int, owner_id: int) -> None:
    from dealflow.leads.models import LeadStatus

    status = LeadStatus.objects.get(is_default=True).pk
    columns, expressions = _lead_columns()
    with connect(url) as connection:
        connection.execute("SET synchronous_commit = off")
        connection.execute("SET maintenance_work_mem = '512MB'")
        connection.execute("DROP TABLE IF EXISTS bench_people")
        connection.execute(
            "TRUNCATE leads_lead, duplicates_duplicatekey, duplicates_duplicategroup, "
            "duplicates_duplicategroupmember, core_auditevent RESTART IDENTITY CASCADE"
        )
        started = time.perf_counter()
        connection.execute(people_sql().replace("%(count)s", str(count)))  # no parameters
        lead_indexes = _drop_indexes(connection, "leads_lead")
        key_indexes = _drop_indexes(connection, "duplicates_duplicatekey")
        connection.execute(
            f"INSERT INTO leads_lead ({', '.join(columns)}) "
            f"SELECT {', '.join(expressions)} FROM bench_people ORDER BY g",
            {"count": count, "status": status, "owner": owner_id},
        )
        log(f"  inserted {count:,} leads in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        connection.execute(KEYS_SQL)
        log(f"  inserted their keys in {time.perf_counter() - started:.1f} s")
        connection.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign key checks
        started = time.perf_counter()
        for definition in lead_indexes + key_indexes:
            connection.execute(definition)
        log(
            f"  rebuilt {len(lead_indexes) + len(key_indexes)} indexes in {time.perf_counter() - started:.1f} s"
        )
        connection.commit()
    with connect(url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) leads_lead")
        connection.execute("VACUUM (ANALYZE) duplicates_duplicatekey")


def check_keys_sample(count: int) -> None:
    """The SQL-made keys of a sample equal what duplicates/keys.py makes."""
    from dealflow.duplicates.keys import keys_of_records
    from dealflow.duplicates.models import DuplicateKey
    from dealflow.leads.models import Lead

    ids = random.Random(8).sample(range(1, count + 1), min(SAMPLE, count))
    leads = list(Lead.objects.filter(pk__in=ids))
    expected = set(keys_of_records("Lead", leads))
    stored = set(
        DuplicateKey.objects.filter(object_type="Lead", record_id__in=ids).values_list(
            "record_id", "kind", "value"
        )
    )
    if expected != stored:
        missing = sorted(expected - stored)[:5]
        extra = sorted(stored - expected)[:5]
        raise SystemExit(f"keys differ from duplicates/keys.py: missing {missing}, extra {extra}")
    log(f"  the keys of {len(leads):,} sampled leads equal duplicates/keys.py's")


def prepare(url: str, count: int, reload: bool):
    ensure_database(url)
    log("migrating")
    migrate_and_setup(url)
    admin, rep = ensure_users()
    from dealflow.leads.models import Lead

    if reload or Lead.objects.count() != count:
        log(f"loading {count:,} leads")
        load(url, count, rep.pk)
    else:
        log(f"reusing the {count:,} loaded leads (--reload rebuilds them)")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM leads_lead WHERE id > %s", [count])
    check_keys_sample(count)
    return admin, rep


# ---------------------------------------------------------------------------------------
# Measuring


def new_leads(count: int, base: int) -> list[dict[str, str]]:
    """Half the same person as a loaded lead (the company without its legal form, another
    email), half new people."""
    from dealflow.leads.models import Lead

    chosen = random.Random(1).sample(range(1, base + 1), count // 2)
    existing = {lead.pk: lead for lead in Lead.objects.filter(pk__in=chosen)}
    values = []
    for number, lead_id in enumerate(chosen):
        lead = existing[lead_id]
        values.append({"first_name": lead.first_name, "last_name": lead.last_name,
                       "company": lead.company.rsplit(" ", 1)[0],
                       "email": f"again{number}@other.example", "phone": ""})  # fmt: skip
    draw = random.Random(2)
    for number in range(count - len(values)):
        values.append({
            "first_name": draw.choice(SYLLABLES).title() + draw.choice(SYLLABLES),
            "last_name": "".join(draw.choice(LAST_SYLLABLES) for _ in range(3)).title(),
            "company": f"New{number} {draw.choice(COMPANY_WORDS)} {draw.choice(LEGAL_FORMS)}",
            "email": f"new{number}@fresh.example",
            "phone": f"+44 20 {draw.randrange(1000, 9999)} {draw.randrange(1000, 9999)}",
        })  # fmt: skip
    draw.shuffle(values)
    return values


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure_checks(rep, base: int, count: int) -> dict[str, float]:
    """Each check as inside a request: the configuration version is read once per
    request (by the API's token statement), before the check (core/cache.py)."""
    from django.core.signals import request_finished, request_started

    from dealflow.core.cache import current_version
    from dealflow.duplicates.selectors import duplicates_find

    def check(each):
        request_started.send(sender=None)
        try:
            current_version()
            started = time.perf_counter()
            matches = duplicates_find(object_name="Lead", values=each, actor=rep)
            return (time.perf_counter() - started) * 1000, matches
        finally:
            request_finished.send(sender=None)

    values = new_leads(count, base)
    for each in values[:50]:  # warm-up
        check(each)
    times, found = [], 0
    for each in values:
        elapsed, matches = check(each)
        times.append(elapsed)
        found += bool(matches)
    return {
        "p50": statistics.median(times),
        "p95": percentile(times, 0.95),
        "p99": percentile(times, 0.99),
        "max": max(times),
        "with_matches": found,
        "count": len(values),
    }


def measure_scan() -> list:
    """Two scans; each result gets `cpu`: this process's CPU seconds (the database's own
    work, GROUP BY and join, runs in PostgreSQL's process and is not in it)."""
    from dealflow.duplicates.scan import duplicates_scan

    results = []
    for _run in range(2):
        started = time.process_time()
        result = duplicates_scan(object_name="Lead")
        result.cpu = time.process_time() - started
        results.append(result)
    return results


def machine() -> str:
    memory = ""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) // 1024 // 1024} GB"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {memory}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--leads", type=int, default=1_000_000, help="leads in the base (default: 1,000,000)"
    )
    parser.add_argument(
        "--checks", type=int, default=1_000, help="new leads checked (default: 1,000)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database for the next run (default: drop it)"
    )
    parser.add_argument(
        "--reload", action="store_true", help="reload a kept database (default: reuse it)"
    )
    options = parser.parse_args()
    url = database_url()
    started = time.perf_counter()
    _admin, rep = prepare(url, options.leads, options.reload)
    log(f"checking {options.checks:,} new leads against {options.leads:,}")
    checks = measure_checks(rep, options.leads, options.checks)
    log("scanning (twice: the second run is a rerun)")
    first, rerun = measure_scan()
    from django.db import connection

    lines = [
        "",
        f"Duplicates (issue 8), PostgreSQL {connection.pg_version // 10000}, {options.leads:,} leads",
        f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}",
        f"command: {' '.join(['.venv/bin/python', 'bench/duplicates.py', *sys.argv[1:]])}",
        "",
        f"check of one new lead ({checks['count']:,}, {checks['with_matches']:,} with matches): "
        f"p50 {checks['p50']:.1f} ms, p95 {checks['p95']:.1f} ms, p99 {checks['p99']:.1f} ms, "
        f"max {checks['max']:.1f} ms  target p99 <= {TARGET_CHECK_P99_MS:.0f} ms: "
        f"{'PASS' if checks['p99'] <= TARGET_CHECK_P99_MS else 'FAIL'}",
        f"full scan: {first.seconds:.1f} s, {first.cpu:.1f} s of it in Python "
        f"({first.blocks:,} blocks, {first.comparisons:,} pairs compared, {first.pairs:,} matching, "
        f"{first.groups:,} groups)  target <= {TARGET_SCAN_SECONDS:.0f} s: "
        f"{'PASS' if first.seconds <= TARGET_SCAN_SECONDS else 'FAIL'}",
        f"rerun: {rerun.seconds:.1f} s, {rerun.groups:,} groups, {rerun.created} created, "
        f"{rerun.removed} removed",
        f"whole run: {time.perf_counter() - started:.0f} s",
    ]
    log("\n".join(lines))
    if not options.keep:
        drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
