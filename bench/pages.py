"""Benchmark of the workspace's pages on PostgreSQL with 1M leads and 300k opportunities.

    nice -n 10 .venv/bin/python bench/pages.py [--keep] [--reload] [--requests N]
        [--warmup N] [--only WORD,...] [--explain] [--quiet-wait S]

What it does, in one run:

1. Creates its own PostgreSQL database (BENCH_PAGES_DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/dealflow_bench_pages), runs `dealflow migrate`, makes
   bench/api.py's team of six reps, queue and admin, and loads with set-based SQL
   (INSERT ... SELECT FROM generate_series, secondary indexes dropped and rebuilt):
   1M leads (bench/api.py's statement and distributions), 40k accounts, 120k contacts,
   300k opportunities over the stages with close dates, their stage history, 200k tasks
   and an audit trail for every lead (its creation, and its status change for those no
   longer open). Then VACUUM ANALYZE. A database kept by an earlier run (--keep) is
   reused when it holds all of that (--reload rebuilds it).
2. Serves the pages in this process with django.test.Client, signed in as rep 1
   (force_login), after a warm-up: each page N times (default 50), timing the whole of
   Django's handling of the request (middleware, view, queries, template) and counting
   its queries and their time in the database. The pages are the issue's list: the
   leads list's first page (default view and "All open leads"), filtered lists, a
   lead's detail (50 different leads), the board (all deals, and mine), and global
   search for a prefix that matches nothing and one that matches many. Then some of
   them again with leads, deals, accounts and contacts private (SharingDefault), so
   every read is restricted to the rep's own records and queue; the defaults are put
   back afterwards. A trivial endpoint (bench/baseline's /bench/ping: the same stack,
   no database) is measured in the same run as the baseline.
3. Prints p50/p95/max, queries and database time per page, the ratio of its p50 to the
   trivial endpoint's, the share of the machine other processes took meanwhile, and
   PASS/FAIL against the target (p95 <= 150 ms), with the machine and the command.
   Before each page it waits (up to --quiet-wait seconds) for the machine to be quiet,
   and measures a page again (up to twice) when other work took over 15% of it.
   --explain prints EXPLAIN (ANALYZE, BUFFERS) of every query of one request of each
   page that took 2 ms or more.
4. Drops the database, unless --keep.

A page that is not built yet (404 everywhere) is reported as such, not measured. A missed
target does not fail the command (the figures are the output); a failed request does.

Nothing here is collected by pytest (testpaths is tests/); `make bench` runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH / "baseline"))

import api  # noqa: E402  (bench/api.py: the database helpers and the 1M leads' load)

ROOT = BENCH.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/dealflow_bench_pages"
TARGET_P95_MS = 150.0

ACCOUNT_COUNT = 40_000
CONTACTS_PER_ACCOUNT = 3
OPPORTUNITY_COUNT = 300_000
LEAD_TASK_COUNT = 150_000
CONTACT_TASK_COUNT = 50_000
# Bump when the data below changes: a kept database of another version is reloaded.
DATA_VERSION = 1

log = api.log


def database_url() -> str:
    return os.environ.get("BENCH_PAGES_DATABASE_URL", DEFAULT_DATABASE_URL)


def database_name(url: str) -> str:
    return urllib.parse.urlsplit(url).path.lstrip("/")


# ---------------------------------------------------------------------------------------
# Data: accounts, contacts, opportunities and their history, tasks, the leads' audit trail

BRANDS = (
    "(ARRAY['Acme', 'Globex', 'Initech', 'Umbrella', 'Stark', 'Wayne', 'Wonka', 'Tyrell',"
    " 'Cyberdyne', 'Hooli', 'Vandelay', 'Soylent', 'Aperture', 'Massive', 'Dunder'])"
)
SUFFIXES = (
    "(ARRAY['Labs', 'Systems', 'Group', 'Holdings', 'Partners', 'Industries', 'Logistics',"
    " 'Foods', 'Media'])"
)
FIRST_NAMES = (
    "(ARRAY['Ava', 'Ben', 'Chloe', 'Daniel', 'Emma', 'Finn', 'Grace', 'Henry', 'Isla', 'Jack',"
    " 'Kai', 'Leah', 'Mia', 'Noah', 'Olivia', 'Paul', 'Quinn', 'Ruby', 'Sam', 'Tara', 'Umar',"
    " 'Vera', 'Will', 'Yara', 'Zoe'])"
)
LAST_NAMES = (
    "(ARRAY['Smith', 'Jones', 'Brown', 'Garcia', 'Miller', 'Davis', 'Wilson', 'Moore',"
    " 'Taylor', 'Thomas', 'Lee', 'Martin', 'Clark', 'Lewis', 'Walker', 'Young', 'King',"
    " 'Wright', 'Lopez', 'Hill', 'Scott', 'Green', 'Adams', 'Baker', 'Nelson', 'Carter',"
    " 'Mitchell', 'Perez', 'Roberts', 'Turner', 'Phillips'])"
)
# Owners are skewed as the leads' are: rep 1 owns about 40%, rep 6 about 8%.
SKEWED_REP = "(%(reps)s::bigint[])[1 + floor(r_owner * r_owner * 6)::int]"

# Accounts named as the leads' companies are (a brand, a kind, a number), so a prefix
# such as "acm" matches leads, accounts and opportunities alike; ids follow created_at.
LOAD_ACCOUNTS = f"""
INSERT INTO accounts_account (
    created_at, updated_at, name, website, phone, industry, annual_revenue,
    number_of_employees, rating, type, account_source, billing_street, billing_city,
    billing_state, billing_postal_code, billing_country, description, owner_id,
    name_key, website_key
)
SELECT
    created_at,
    LEAST(created_at + r_misc * interval '90 days', now()),
    name,
    website,
    '+1 (' || (200 + g %% 700) || ') 555-' || lpad(((g * 11) %% 10000)::text, 4, '0'),
    (ARRAY['Banking', 'Consulting', 'Education', 'Healthcare', 'Manufacturing', 'Retail',
           'Technology', 'Telecommunications'])[1 + floor(r_misc * 8)::int],
    CASE WHEN r_misc < 0.3 THEN NULL ELSE round((r_misc * 80000000)::numeric, 2) END,
    CASE WHEN r_misc < 0.3 THEN NULL ELSE 5 + floor(r_misc * 20000)::int END,
    (ARRAY['Hot', 'Warm', 'Cold', ''])[1 + g %% 4],
    (ARRAY['Customer', 'Customer', 'Prospect', 'Partner', 'Other'])[1 + g %% 5],
    (ARRAY['Web', 'Phone Inquiry', 'Partner Referral', 'Trade Show', ''])[1 + (g / 5) %% 5],
    ((g * 17) %% 9999 + 1) || ' Market Street',
    (ARRAY['Boston', 'Chicago', 'Denver', 'Austin', 'Seattle', 'Atlanta', 'Portland',
           'Phoenix', 'Miami', 'Detroit'])[1 + (g / 3) %% 10],
    (ARRAY['MA', 'IL', 'CO', 'TX', 'WA', 'GA', 'OR', 'AZ', 'FL', 'MI'])[1 + (g / 3) %% 10],
    lpad(((g * 31) %% 99999)::text, 5, '0'),
    'USA',
    '',
    {SKEWED_REP},
    lower(name),
    lower(website)
FROM (
    SELECT *, 'https://www.' || lower(replace(name, ' ', '-')) || '.example.com' AS website
    FROM (
        SELECT
            g,
            now() - ((%(count)s - g) * 1095.0 / %(count)s) * interval '1 day' AS created_at,
            {BRANDS}[1 + (g * 7) %% 15] || ' ' || {SUFFIXES}[1 + g %% 9] || ' ' || g AS name,
            random() AS r_owner,
            random() AS r_misc
        FROM generate_series(1, %(count)s) AS g
        OFFSET 0
    ) AS drawn
) AS rows
"""

# Three contacts per account, owned by the account's owner.
LOAD_CONTACTS = f"""
INSERT INTO accounts_contact (
    created_at, updated_at, salutation, first_name, last_name, account_id, title, email,
    phone, mobile_phone, phone_digits, mailing_street, mailing_city, mailing_state,
    mailing_postal_code, mailing_country, lead_source, description, do_not_call,
    has_opted_out_of_email, owner_id, first_name_key, last_name_key, email_key
)
SELECT
    LEAST(a.created_at + c.place * interval '20 days', now()),
    LEAST(a.created_at + c.place * interval '20 days', now()),
    (ARRAY['', 'Mr.', 'Ms.', 'Dr.'])[1 + c.g %% 4],
    c.first_name,
    c.last_name,
    a.id,
    (ARRAY['CEO', 'CFO', 'VP Sales', 'Head of IT', 'Buyer', 'Engineer'])[1 + c.g %% 6],
    c.email,
    c.phone,
    '',
    regexp_replace(c.phone, '[^0-9]', '', 'g'),
    a.billing_street,
    a.billing_city,
    a.billing_state,
    a.billing_postal_code,
    a.billing_country,
    a.account_source,
    '',
    false,
    false,
    a.owner_id,
    lower(c.first_name),
    lower(c.last_name),
    c.email
FROM (
    SELECT *,
        lower(first_name) || '.' || lower(last_name) || '.' || g || '@contact.example.com'
            AS email
    FROM (
        SELECT
            g,
            g %% %(per_account)s AS place,
            %(first_account)s + (g - 1) / %(per_account)s AS account_id,
            {FIRST_NAMES}[1 + (g * 3) %% 25] AS first_name,
            {LAST_NAMES}[1 + (g / 7) %% 31] AS last_name,
            '+1 (' || (200 + (g * 3) %% 700) || ') 555-' || lpad(((g * 13) %% 10000)::text, 4, '0')
                AS phone
        FROM generate_series(1, %(count)s) AS g
    ) AS drawn
) AS c
JOIN accounts_account a ON a.id = c.account_id
"""

# 300k deals created over three years, each closing 14 to 164 days after it was made.
# A deal whose close date has passed is closed (40% won, 60% lost) but for 5% left open
# and overdue; the others are open, more of them in the early stages (Prospecting about
# 35%, Negotiation/Review about 6%). 80% belong to their account's owner. The stage was
# entered at the close date for closed deals, at a random moment since creation for
# open ones; updated_at is that moment.
LOAD_OPPORTUNITIES = """
INSERT INTO sales_opportunity (
    created_at, updated_at, name, account_id, close_date, stage_id, amount, probability,
    forecast_category, is_closed, is_won, type, lead_source, next_step, description,
    loss_reason, owner_id, name_key
)
SELECT
    o.created_at,
    CASE WHEN s.is_closed THEN LEAST(o.close_date + interval '12 hours', now())
         ELSE o.created_at + (now() - o.created_at) * o.r_entered END,
    a.name || ' - ' || o.kind,
    a.id,
    o.close_date,
    s.id,
    o.amount,
    s.probability,
    s.forecast_category,
    s.is_closed,
    s.is_won,
    (ARRAY['New Customer', 'New Customer', 'Existing Customer - Upgrade',
           'Existing Customer - Replacement', ''])[1 + o.g %% 5],
    (ARRAY['Web', 'Phone Inquiry', 'Partner Referral', 'Trade Show', ''])[1 + (o.g / 5) %% 5],
    CASE WHEN s.is_closed THEN '' ELSE 'Send the proposal' END,
    '',
    CASE WHEN s.is_closed AND NOT s.is_won
         THEN (ARRAY['Price', 'Competitor', 'No Budget', 'No Decision', 'Timing',
                     'Other'])[1 + o.g %% 6]
         ELSE '' END,
    CASE WHEN o.r_owner < 0.8 THEN a.owner_id
         ELSE (%(reps)s::bigint[])[1 + floor(o.r_stage * o.r_stage * 6)::int] END,
    lower(a.name || ' - ' || o.kind)
FROM (
    SELECT *,
        CASE WHEN close_date < current_date AND r_stale >= 0.05 THEN
                 CASE WHEN r_stage < 0.4 THEN %(won)s ELSE %(lost)s END
             ELSE (%(open_stages)s::bigint[])[1 + floor(r_stage * r_stage * 8)::int]
        END AS stage_id
    FROM (
        SELECT *,
            (created_at + (14 + floor(r_days * 150)) * interval '1 day')::date AS close_date
        FROM (
            SELECT
                g,
                now() - ((%(count)s - g) * 1095.0 / %(count)s) * interval '1 day'
                    - random() * interval '2 hours' AS created_at,
                %(first_account)s + floor(random() * %(accounts)s)::bigint AS account_id,
                (ARRAY['New Business', 'Renewal', 'Upgrade', 'Expansion', 'Services',
                       'Pilot'])[1 + g %% 6] AS kind,
                CASE WHEN random() < 0.05 THEN NULL
                     ELSE round((500 + power(random(), 3) * 250000)::numeric, -2) END
                    AS amount,
                random() AS r_days,
                random() AS r_stage,
                random() AS r_stale,
                random() AS r_owner,
                random() AS r_entered
            FROM generate_series(1, %(count)s) AS g
            OFFSET 0
        ) AS drawn
    ) AS dated
) AS o
JOIN accounts_account a ON a.id = o.account_id
JOIN sales_opportunitystage s ON s.id = o.stage_id
ORDER BY o.g
"""

# Each deal's history: its creation in the first stage, then the move to its stage.
LOAD_HISTORY = """
INSERT INTO sales_opportunityhistory (
    opportunity_id, stage_name, amount, probability, forecast_category, close_date,
    previous_amount, previous_close_date, previous_stage_name, created_by_id, created_at,
    updated_at
)
SELECT o.id, %(first_stage)s::text, o.amount, %(first_probability)s::int,
       %(first_category)s::text,
       o.close_date, NULL, NULL, '', o.owner_id, o.created_at, o.created_at
FROM sales_opportunity o
UNION ALL
SELECT o.id, s.name, o.amount, o.probability, o.forecast_category, o.close_date,
       o.amount, o.close_date, %(first_stage)s::text, o.owner_id, o.updated_at, o.updated_at
FROM sales_opportunity o
JOIN sales_opportunitystage s ON s.id = o.stage_id
WHERE s.name <> %(first_stage)s
"""

# Tasks about the newest 200,000 leads (where the work is) and about contacts, due from
# 60 days ago to 30 days ahead; 85% of those past due are completed.
LOAD_TASKS = """
INSERT INTO sales_task (
    created_at, updated_at, subject, type, status, priority, due_date, description,
    lead_id, contact_id, account_id, opportunity_id, owner_id, completed_at, subject_key
)
SELECT
    LEAST(now(), GREATEST(t.created_at, t.due_date - 14)),
    LEAST(now(), GREATEST(t.created_at, t.due_date - 14)),
    t.subject,
    t.type,
    CASE WHEN t.done THEN 'completed' ELSE 'open' END,
    (ARRAY['normal', 'normal', 'high', 'low'])[1 + t.g %% 4],
    t.due_date,
    '',
    t.lead_id,
    t.contact_id,
    t.account_id,
    NULL,
    t.owner_id,
    CASE WHEN t.done THEN t.due_date + interval '10 hours' END,
    lower(t.subject)
FROM (
    SELECT *, due_date < current_date AND r_done < 0.85 AS done
    FROM (
        SELECT
            g,
            l.id AS lead_id,
            NULL::bigint AS contact_id,
            NULL::bigint AS account_id,
            COALESCE(l.owner_user_id, (%(reps)s::bigint[])[1]) AS owner_id,
            l.created_at,
            (ARRAY['Call', 'Email', 'Meet', 'Follow up with'])[1 + g %% 4] || ' '
                || l.first_name || ' ' || l.last_name AS subject,
            (ARRAY['call', 'email', 'meeting', 'todo'])[1 + g %% 4] AS type,
            current_date + (floor(random() * 90)::int - 60) AS due_date,
            random() AS r_done
        FROM (
            SELECT g, %(last_lead)s - floor(random() * 200000)::bigint AS lead_id
            FROM generate_series(1, %(lead_tasks)s) AS g
            OFFSET 0
        ) AS drawn
        JOIN leads_lead l ON l.id = drawn.lead_id
        UNION ALL
        SELECT
            g,
            NULL,
            c.id,
            c.account_id,
            c.owner_id,
            c.created_at,
            (ARRAY['Call', 'Email', 'Meet', 'Follow up with'])[1 + g %% 4] || ' '
                || c.first_name || ' ' || c.last_name,
            (ARRAY['call', 'email', 'meeting', 'todo'])[1 + g %% 4],
            current_date + (floor(random() * 90)::int - 60),
            random()
        FROM (
            SELECT g, %(first_contact)s + floor(random() * %(contacts)s)::bigint AS contact_id
            FROM generate_series(1, %(contact_tasks)s) AS g
            OFFSET 0
        ) AS drawn
        JOIN accounts_contact c ON c.id = drawn.contact_id
    ) AS chosen
) AS t
"""

# Every lead's creation, and the change of status of those no longer open (as the
# services record them: core/audit.py, a status by its name).
LOAD_LEAD_EVENTS = """
INSERT INTO core_auditevent (actor_id, object_name, record_id, action, changes, created_at,
                             updated_at)
SELECT l.owner_user_id, 'Lead', l.id, 'create',
       jsonb_build_object('last_name', jsonb_build_array(NULL, l.last_name),
                          'first_name', jsonb_build_array(NULL, l.first_name),
                          'company', jsonb_build_array(NULL, l.company),
                          'lead_source', jsonb_build_array(NULL, l.lead_source),
                          'status', jsonb_build_array(NULL, %(first_status)s::text)),
       l.created_at, l.created_at
FROM leads_lead l
UNION ALL
SELECT l.owner_user_id, 'Lead', l.id, 'update',
       jsonb_build_object('status', jsonb_build_array(%(first_status)s::text, s.name)),
       l.updated_at, l.updated_at
FROM leads_lead l
JOIN leads_leadstatus s ON s.id = l.status_id
WHERE s.name <> %(first_status)s
"""

# What the pages read besides the leads, emptied before a load.
DATA_TABLES = [
    "accounts_account",
    "accounts_contact",
    "sales_opportunity",
    "sales_opportunityhistory",
    "sales_opportunitycontactrole",
    "sales_task",
    "core_idempotencyrecord",
]


def secondary_indexes(connection, table: str) -> list[tuple[str, str]]:
    """(name, definition) of a table's indexes but its primary key and constraints'."""
    return connection.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = %s::regclass AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """,
        [table],
    ).fetchall()


def load_table(connection, table: str, statement: str, parameters: dict) -> int:
    """Run one set-based INSERT into `table` with its secondary indexes dropped first and
    rebuilt after (building an index over sorted rows is several times faster than
    maintaining it row by row); returns the rows inserted."""
    indexes = secondary_indexes(connection, table)
    started = time.perf_counter()
    with connection.transaction():
        connection.execute("SET LOCAL synchronous_commit = off")
        connection.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for name, _definition in indexes:
            connection.execute(f"DROP INDEX {name}")
        inserted = connection.execute(statement, parameters).rowcount
        connection.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign keys
        for _name, definition in indexes:
            connection.execute(definition)
    log(
        f"  {table}: {inserted:,} rows and {len(indexes)} indexes"
        f" in {time.perf_counter() - started:.1f} s"
    )
    return inserted


def first_id(connection, table: str) -> int:
    return connection.execute(f"SELECT min(id) FROM {table}").fetchone()[0]


def load_data(connection, people: api.People) -> None:
    """Everything but the leads (api.load_leads has loaded them), in dependency order."""
    stages = connection.execute(
        "SELECT id, name, probability, forecast_category, is_closed, is_won"
        " FROM sales_opportunitystage WHERE is_active ORDER BY sort_order, name"
    ).fetchall()
    open_stages = [stage[0] for stage in stages if not stage[4]]
    won = next(stage[0] for stage in stages if stage[5])
    lost = next(stage[0] for stage in stages if stage[4] and not stage[5])
    first_stage = stages[0]
    first_status = connection.execute(
        "SELECT name FROM leads_leadstatus WHERE is_default"
    ).fetchone()[0]
    reps = people.rep_ids
    connection.execute("SELECT setseed(0.24)")
    load_table(
        connection, "accounts_account", LOAD_ACCOUNTS, {"count": ACCOUNT_COUNT, "reps": reps}
    )
    first_account = first_id(connection, "accounts_account")
    load_table(
        connection,
        "accounts_contact",
        LOAD_CONTACTS,
        {
            "count": ACCOUNT_COUNT * CONTACTS_PER_ACCOUNT,
            "per_account": CONTACTS_PER_ACCOUNT,
            "first_account": first_account,
        },
    )
    load_table(
        connection,
        "sales_opportunity",
        LOAD_OPPORTUNITIES,
        {
            "count": OPPORTUNITY_COUNT,
            "reps": reps,
            "first_account": first_account,
            "accounts": ACCOUNT_COUNT,
            "open_stages": open_stages,
            "won": won,
            "lost": lost,
        },
    )
    load_table(
        connection,
        "sales_opportunityhistory",
        LOAD_HISTORY,
        {
            "first_stage": first_stage[1],
            "first_probability": first_stage[2],
            "first_category": first_stage[3],
        },
    )
    load_table(
        connection,
        "sales_task",
        LOAD_TASKS,
        {
            "reps": reps,
            "last_lead": connection.execute("SELECT max(id) FROM leads_lead").fetchone()[0],
            "lead_tasks": LEAD_TASK_COUNT,
            "first_contact": first_id(connection, "accounts_contact"),
            "contacts": ACCOUNT_COUNT * CONTACTS_PER_ACCOUNT,
            "contact_tasks": CONTACT_TASK_COUNT,
        },
    )
    load_table(connection, "core_auditevent", LOAD_LEAD_EVENTS, {"first_status": first_status})


def loaded_version(connection) -> int | None:
    row = connection.execute(
        "SELECT value FROM bench_state WHERE name = 'pages_data_version'"
    ).fetchone()
    return row[0] if row else None


def prepare_database(url: str, reload: bool) -> api.People:
    """The bench database, migrated, with its users and the data of the module docstring."""
    api.ensure_database(url)
    log("migrating")
    api.migrate(url)
    setup_django(url)
    people = api.ensure_people()
    with api.connect(url, autocommit=True) as connection:
        renice_backend(connection)
        connection.execute(api.STATE_TABLE)
        if not reload and loaded_version(connection) == DATA_VERSION:
            log("reusing the loaded data (--reload rebuilds it)")
        else:
            started = time.perf_counter()
            connection.execute("DELETE FROM bench_state WHERE name = 'pages_data_version'")
            leads_mark = None if reload else api.loaded_mark(connection)
            if leads_mark is None:
                connection.execute(
                    f"TRUNCATE leads_lead, core_auditevent, {', '.join(DATA_TABLES)}"
                    " RESTART IDENTITY CASCADE"
                )
                log(f"loading {api.LEAD_COUNT:,} leads (bench/api.py's load)")
                api.load_leads(connection, people)
            else:
                log(f"reusing the {api.LEAD_COUNT:,} loaded leads; emptying the other tables")
                with connection.transaction():
                    connection.execute("DELETE FROM leads_lead WHERE id > %s", [leads_mark])
                    for table in reversed(DATA_TABLES):
                        connection.execute(f"DELETE FROM {table}")
                    connection.execute(
                        "DELETE FROM core_auditevent WHERE object_name NOT IN ('User', 'ApiToken')"
                    )
            log("loading accounts, contacts, opportunities, history, tasks, audit events")
            load_data(connection, people)
            connection.execute(
                "INSERT INTO bench_state (name, value) VALUES ('pages_data_version', %s)",
                [DATA_VERSION],
            )
            log(f"  loaded in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        connection.execute("VACUUM (ANALYZE)")
        log(f"  VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
    return people


def setup_django(url: str) -> None:
    """Django in this process on the bench database, with bench/baseline's settings: the
    product's settings and URLs plus the trivial endpoint /bench/ping."""
    os.environ.setdefault("DEALFLOW_VAR_DIR", str(ROOT / "var"))
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="bench_settings",
        DEALFLOW_DEBUG="0",
        DEALFLOW_ALLOWED_HOSTS="testserver",
        DEALFLOW_LOG_LEVEL="WARNING",
    )
    import django

    django.setup()


def renice_backend(connection) -> None:
    """Lower the priority of this connection's PostgreSQL backend as `nice -n 10` lowers
    ours: the load runs in the server, and other work shares the machine."""
    pid = connection.execute("SELECT pg_backend_pid()").fetchone()[0]
    # Not ours to change on another user's server: the load then runs at its priority.
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, max(10, os.getpriority(os.PRIO_PROCESS, 0)))


def drop_database(url: str) -> None:
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    parts = urllib.parse.urlsplit(url)
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with api.connect(admin_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database_name(url))
            )
        )
    log(f"dropped database {database_name(url)} (--keep keeps it)")


def table_counts() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        counts = {}
        for table in (
            "leads_lead",
            "accounts_account",
            "accounts_contact",
            "sales_opportunity",
            "sales_opportunityhistory",
            "sales_task",
            "core_auditevent",
        ):
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
    return counts


# ---------------------------------------------------------------------------------------
# Measuring pages in this process


class QueryMeter:
    """Counts the queries a request runs and the time they take (Django's execute
    wrapper: no SQL text kept, so it costs microseconds, unlike DEBUG's query log)."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


@dataclass
class Measured:
    name: str
    example: str  # one of the paths requested
    durations: list[float] = field(default_factory=list)  # ms
    database: list[float] = field(default_factory=list)  # ms in the database
    queries: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    other: float = 0.0  # share of the machine other processes took meanwhile
    missing: bool = False  # the page answers 404: not built yet

    def percentile(self, fraction: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.durations if values is None else values)
        if not ordered:
            return float("nan")
        index = max(0, math.ceil(fraction * len(ordered)) - 1)  # nearest rank
        return ordered[index]


@dataclass(frozen=True)
class Scenario:
    name: str
    paths: list[str]  # requested in turn
    baseline: bool = False  # the trivial endpoint
    private: bool = False  # measured with leads, deals, accounts and contacts private


def run_page(client, scenario: Scenario, warmup: int, requests: int, meter_database: str):
    """Request a page `warmup` times unmeasured, then `requests` times measured."""
    from django.db import connection

    measured = Measured(scenario.name, scenario.paths[0])
    paths = scenario.paths
    for index in range(warmup):
        response = client.get(paths[index % len(paths)])
        if response.status_code == 404 and not scenario.baseline:
            measured.missing = True
            return measured
    cpu = api.CpuMeter([])
    cpu.database = meter_database
    cpu.start()
    for index in range(requests):
        meter = QueryMeter()
        with connection.execute_wrapper(meter):
            started = time.perf_counter()
            response = client.get(paths[index % len(paths)])
            elapsed = time.perf_counter() - started
        measured.durations.append(elapsed * 1000)
        measured.database.append(meter.seconds * 1000)
        measured.queries.append(meter.count)
        measured.statuses[response.status_code] = measured.statuses.get(response.status_code, 0) + 1
    measured.other = cpu.stop()["other"]
    return measured


def measure(client, scenario: Scenario, options: argparse.Namespace, database: str) -> Measured:
    """A page's figures. Waits for the machine to be quiet first (other sessions run
    tests on it); measured again, up to twice, when other work took over 15% of the
    machine meanwhile, keeping the least disturbed attempt."""
    api.wait_for_quiet(options.quiet_wait)
    best = run_page(client, scenario, options.warmup, options.requests, database)
    for _again in range(2):
        if best.missing or best.other <= 0.15:
            break
        api.wait_for_quiet(options.quiet_wait)
        attempt = run_page(client, scenario, 1, options.requests, database)
        if attempt.other < best.other:
            best = attempt
    return best


def explain(client, scenario: Scenario, threshold_ms: float = 2.0) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each query of one request that took `threshold_ms`."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(scenario.paths[0])
    log(f"\n=== {scenario.name}: {scenario.paths[0]} ({len(captured)} queries)")
    for query in captured.captured_queries:
        took = float(query["time"]) * 1000
        sql = query["sql"]
        if took < threshold_ms or not sql.lstrip().upper().startswith("SELECT"):
            log(f"  {took:7.2f} ms  {sql[:150]}")
            continue
        log(f"  {took:7.2f} ms  {sql}")
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            for (line,) in cursor.fetchall():
                log(f"      {line}")


def page_scenarios(people: api.People) -> list[Scenario]:
    """The issue's pages, as rep 1 (who owns about 40% of the leads) sees them."""
    from django.db import connection

    from dealflow.core import ids

    with connection.cursor() as cursor:
        # 50 of the rep's leads from the last 200,000 (the ones with tasks), spread out.
        cursor.execute(
            "SELECT id FROM leads_lead WHERE owner_user_id = %s"
            " AND id > (SELECT max(id) - 200000 FROM leads_lead)"
            " ORDER BY md5(id::text) LIMIT 50",
            [people.rep_ids[0]],
        )
        lead_ids = [ids.encode("Lead", row[0]) for row in cursor.fetchall()]
    me = ids.encode("User", people.rep_ids[0])
    mine_filtered = urllib.parse.urlencode({"status": "Working - Contacted", "lead_source": "Web"})
    open_filtered = urllib.parse.urlencode(
        {"view": "open", "status": "Qualified", "lead_source": "Other"}
    )
    return [
        Scenario("trivial endpoint (/bench/ping)", ["/bench/ping"], baseline=True),
        Scenario("leads list, default view (My open leads)", ["/leads/"]),
        Scenario("leads list, All open leads", ["/leads/?view=open"]),
        Scenario("leads list, My open leads + status and source", [f"/leads/?{mine_filtered}"]),
        Scenario("leads list, All open leads + status and source", [f"/leads/?{open_filtered}"]),
        Scenario("lead detail (50 leads)", [f"/leads/{lead_id}/" for lead_id in lead_ids]),
        Scenario("pipeline board", ["/pipeline/"]),
        Scenario("pipeline board, mine", [f"/pipeline/?owner={me}"]),
        Scenario("search, prefix matching nothing", ["/search/?q=zqx"]),
        Scenario("search, prefix matching many", ["/search/?q=acm"]),
        # The same rep when every record is private (SharingDefault): each read is then
        # also restricted to what the rep owns or their queue owns (core/access.py).
        Scenario("private: leads list, default view", ["/leads/"], private=True),
        Scenario("private: leads list, All open leads", ["/leads/?view=open"], private=True),
        Scenario(
            "private: leads list, All open leads + status and source",
            [f"/leads/?{open_filtered}"],
            private=True,
        ),
        Scenario(
            "private: lead detail (50 leads)",
            [f"/leads/{lead_id}/" for lead_id in lead_ids],
            private=True,
        ),
        Scenario("private: pipeline board", ["/pipeline/"], private=True),
        Scenario("private: search, prefix matching nothing", ["/search/?q=zqx"], private=True),
        Scenario("private: search, prefix matching many", ["/search/?q=acm"], private=True),
    ]


PRIVATE_OBJECTS = ("Lead", "Opportunity", "Account", "Contact")


@contextlib.contextmanager
def sharing(access: str):
    """Every PRIVATE_OBJECTS record at `access` (core.services.sharing_default_set, as
    the system), then each object back at its default before."""
    from dealflow.core.access import sharing_default
    from dealflow.core.services import sharing_default_set

    before = {name: sharing_default(name) for name in PRIVATE_OBJECTS}
    for name in PRIVATE_OBJECTS:
        sharing_default_set(actor=None, object_name=name, access=access)
    try:
        yield
    finally:
        for name, previous in before.items():
            sharing_default_set(actor=None, object_name=name, access=previous)


# ---------------------------------------------------------------------------------------
# Output


def environment_lines(url: str, counts: dict[str, int]) -> list[str]:
    import django
    from django.db import connection

    memory = next(
        line.split(":", 1)[1].strip()
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
    commit = subprocess.run(
        ["git", "log", "-1", "--format=%h %s"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    if changed:
        commit += f" + {len(changed)} changed files in the working tree"
    return [
        f"command: {' '.join([Path(sys.executable).name, *sys.argv])}"
        f" (niceness {os.getpriority(os.PRIO_PROCESS, 0)})",
        f"commit: {commit}",
        f"machine: nproc {os.cpu_count()}, MemTotal {memory}, {platform.system()}"
        f" {platform.release()}",
        f"PostgreSQL {server} (shared_buffers {shared_buffers}), database"
        f" {database_name(url)}; Python {platform.python_version()}, Django {django.__version__}",
        "data: " + ", ".join(f"{table} {count:,}" for table, count in counts.items()),
        f"at {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
    ]


def table(results: list[Measured], baseline: Measured) -> list[str]:
    header = (
        "| page | example | p50 ms | p95 ms | max ms | p50 / trivial p50 | queries | DB ms p50"
        " | other work | verdict |"
    )
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    base_p50 = baseline.percentile(0.5)
    for result in results:
        if result.missing:
            lines.append(f"| {result.name} | `{result.example}` | | | | | | | | not built (404) |")
            continue
        p95 = result.percentile(0.95)
        queries = sorted(set(result.queries))
        shown = "-".join(map(str, (queries[0], queries[-1]))) if len(queries) > 1 else queries[0]
        verdict = "baseline" if result is baseline else ("PASS" if p95 <= TARGET_P95_MS else "FAIL")
        if set(result.statuses) != {200}:
            verdict += f" (statuses {result.statuses})"
        lines.append(
            f"| {result.name} | `{result.example[:60]}` | {result.percentile(0.5):.1f}"
            f" | {p95:.1f} | {max(result.durations):.1f} | {result.percentile(0.5) / base_p50:.0f}x"
            f" | {shown} | {statistics.median(result.database):.1f} | {result.other:.0%}"
            f" | {verdict} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the database for later runs")
    parser.add_argument("--reload", action="store_true", help="rebuild a kept database's data")
    parser.add_argument("--requests", type=int, default=50, help="measured requests per page")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured requests first")
    parser.add_argument("--only", default="", help="comma-separated words of page names")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN each page's queries")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=15.0,
        help="seconds to wait, at most, for other work to calm down before each page",
    )
    options = parser.parse_args()

    url = database_url()
    people = prepare_database(url, options.reload)
    try:
        return run(url, people, options)
    finally:
        if not options.keep:
            drop_database(url)


def run_phase(
    client, scenarios: list[Scenario], options: argparse.Namespace, database: str
) -> list[Measured]:
    """Measure each scenario (then EXPLAIN its queries with --explain)."""
    results = []
    for scenario in scenarios:
        result = measure(client, scenario, options, database)
        results.append(result)
        if result.missing:
            log(f"{scenario.name}: not built yet (404)")
        else:
            log(
                f"{scenario.name}: p50 {result.percentile(0.5):.1f} ms,"
                f" p95 {result.percentile(0.95):.1f} ms, {max(result.queries)} queries,"
                f" statuses {result.statuses}"
            )
    if options.explain:
        for scenario, result in zip(scenarios, results, strict=True):
            if not scenario.baseline and not result.missing:
                explain(client, scenario)
    return results


def run(url: str, people: api.People, options: argparse.Namespace) -> int:
    from django.test import Client

    from dealflow.people.models import User

    counts = table_counts()
    client = Client()
    client.force_login(User.objects.get(pk=people.rep_ids[0]))
    scenarios = page_scenarios(people)
    wanted = [word.strip().lower() for word in options.only.split(",") if word.strip()]
    if wanted:
        scenarios = [
            scenario
            for scenario in scenarios
            if scenario.baseline or any(word in scenario.name.lower() for word in wanted)
        ]
    results = []
    for private in (False, True):
        phase = [scenario for scenario in scenarios if scenario.private == private]
        if not phase:
            continue
        with sharing("private") if private else contextlib.nullcontext():
            results += run_phase(client, phase, options, database_name(url))
    log("")
    for line in environment_lines(url, counts):
        log(line)
    log(f"requests per page: {options.warmup} unmeasured, then {options.requests} measured")
    log("")
    for line in table(results, results[0]):
        log(line)
    failed = [result for result in results if not result.missing and set(result.statuses) != {200}]
    for result in failed:
        log(f"FAIL  {result.name}: statuses {result.statuses}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
