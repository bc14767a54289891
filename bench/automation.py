"""Benchmark of issue 7's automation at volume, on SQLite and on PostgreSQL.

    nice -n 10 .venv/bin/python bench/automation.py [--database sqlite|postgresql|both]
        [--leads N] [--keep] [--reload] [--only STEP,...] [--score-days D]

What it does, for each database:

1. Creates its own database (PostgreSQL: BENCH_AUTOMATION_DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/dealflow_bench_automation; SQLite:
   BENCH_AUTOMATION_SQLITE_PATH, default var/bench/dealflow_bench_automation.sqlite3), runs
   `dealflow migrate`, makes bench/api.py's team of six reps, a queue and an admin, and
   loads, set-based (COPY on PostgreSQL, executemany in transactions of BATCH rows on
   SQLite): N open leads (--leads, default 1,000,000; the first tenth owned by the queue,
   unassigned) and N/5 closed leads (converted or not, where conversion depends on the lead
   source, the industry, the title and demo requests), with realistic sources, industries,
   titles and sizes, and about 3 engagement events per lead (page views, email opens,
   clicks, form submits, demo requests...). A database kept by an earlier run (--keep) with
   the same N is reused (--reload rebuilds it).
2. Runs each step in a fresh Python process, timing the service call and reading that
   process's peak resident memory (os.wait4's ru_maxrss: Django and all):
   - score:   automation.scoring.lead_scores_recompute() over the open leads (<= 30 s),
     its clock --score-days ahead (1: a nightly run, a day of decay after the last);
   - assign:  the 100k (N/10) queue-owned leads dealt by `dealflow assign`'s read and
     automation.services.leads_assign_bulk, round-robin over the six reps (<= 10 s);
     the leads are put back in the queue (untimed) first, so a kept database deals again;
   - train:   automation.predictive.predictive_model_train on the closed leads (<= 60 s);
   - predict: automation.predictive.lead_likelihoods_recompute(lead_ids=None) over the
     open leads (<= 60 s).
   Every step's peak memory target is 1 GB. A step whose service is not there yet is
   reported "not available".
3. Prints a table (step, rows, seconds, rows/s, peak MB, target, PASS/FAIL) with the
   machine and the command, and drops the database unless --keep.

A missed target does not fail the command (the figures are the output); an error does.
Nothing here is collected by pytest (testpaths is tests/); `make bench` runs it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import api  # noqa: E402  (bench/api.py: database helpers, the team of reps)

ROOT = BENCH.parent
DEFAULT_POSTGRESQL_URL = "postgres://postgres@127.0.0.1:5432/dealflow_bench_automation"
DEFAULT_SQLITE_PATH = ROOT / "var" / "bench" / "dealflow_bench_automation.sqlite3"
# BENCH_AUTOMATION_SQLITE_PATH: another SQLite file, so two runs need not share one.
SQLITE_PATH = Path(os.environ.get("BENCH_AUTOMATION_SQLITE_PATH") or DEFAULT_SQLITE_PATH).resolve()
DEFAULT_LEADS = 1_000_000
BATCH = 5_000
# Bump when the generated data changes: a kept database of another version is reloaded.
DATA_VERSION = 1
MEMORY_TARGET_MB = 1024
STEPS = ("score", "assign", "train", "predict")
TARGET_SECONDS = {"score": 30.0, "assign": 10.0, "train": 60.0, "predict": 60.0}
RESULT = "BENCH-RESULT "
# The score step's clock, days ahead of now (--score-days), passed to its child.
SCORE_DAYS_VARIABLE = "BENCH_AUTOMATION_SCORE_DAYS"

log = api.log


def postgresql_url() -> str:
    return os.environ.get("BENCH_AUTOMATION_DATABASE_URL", DEFAULT_POSTGRESQL_URL)


def sqlite_url() -> str:
    return f"sqlite:///{SQLITE_PATH}"


def database_label(url: str) -> str:
    if url.startswith("sqlite"):
        shown = SQLITE_PATH.relative_to(ROOT) if SQLITE_PATH.is_relative_to(ROOT) else SQLITE_PATH
        return f"SQLite {shown}"
    return "PostgreSQL " + urllib.parse.urlsplit(url).path.lstrip("/")


# ---------------------------------------------------------------------------------------
# Generated data (runs in the `load` child, Django set up against the bench database)

SOURCES = (  # (value, share, conversion weight)
    ("Web", 0.30, 0.5),
    ("Phone Inquiry", 0.15, 0.2),
    ("Partner Referral", 0.15, 1.1),
    ("Purchased List", 0.12, -1.2),
    ("Trade Show", 0.12, 0.3),
    ("Advertisement", 0.10, -0.3),
    ("Other", 0.03, 0.0),
    ("", 0.03, -0.4),
)
INDUSTRIES = (
    ("Technology", 0.16, 0.6),
    ("Banking", 0.08, 0.4),
    ("Finance", 0.07, 0.3),
    ("Healthcare", 0.08, 0.1),
    ("Manufacturing", 0.09, 0.0),
    ("Retail", 0.08, -0.2),
    ("Consulting", 0.06, 0.2),
    ("Education", 0.05, -0.3),
    ("Government", 0.04, -0.8),
    ("Telecommunications", 0.05, 0.1),
    ("Insurance", 0.05, 0.2),
    ("Energy", 0.04, 0.0),
    ("Media", 0.04, -0.1),
    ("Not For Profit", 0.03, -0.6),
    ("Other", 0.03, 0.0),
    ("", 0.05, -0.4),
)
TITLES = (
    ("CEO", 0.05, 0.8),
    ("CTO", 0.05, 0.7),
    ("VP Sales", 0.07, 0.7),
    ("VP Marketing", 0.05, 0.6),
    ("Head of IT", 0.08, 0.5),
    ("Director of Operations", 0.08, 0.4),
    ("IT Manager", 0.10, 0.2),
    ("Buyer", 0.08, 0.0),
    ("Office Manager", 0.08, -0.3),
    ("Engineer", 0.12, -0.2),
    ("Analyst", 0.09, -0.3),
    ("Student", 0.03, -1.2),
    ("", 0.12, -0.3),
)
EVENTS = (  # (type, share, conversion weight per event)
    ("page_view", 0.48, 0.02),
    ("email_open", 0.24, 0.05),
    ("link_click", 0.12, 0.1),
    ("form_submit", 0.07, 0.5),
    ("event_attended", 0.03, 0.4),
    ("demo_request", 0.03, 1.2),
    ("form_error", 0.03, -0.2),
)
FIRST_NAMES = [
    "Ava",
    "Ben",
    "Chloe",
    "Daniel",
    "Emma",
    "Finn",
    "Grace",
    "Henry",
    "Isla",
    "Jack",
    "Kai",
    "Leah",
    "Mia",
    "Noah",
    "Olivia",
]
LAST_NAMES = [
    "Smith",
    "Jones",
    "Brown",
    "Garcia",
    "Miller",
    "Davis",
    "Wilson",
    "Moore",
    "Taylor",
    "Thomas",
    "Lee",
    "Martin",
]
BRANDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Hooli",
    "Vandelay",
]
KINDS = [
    "Labs",
    "Systems",
    "Group",
    "Holdings",
    "Partners",
    "Industries",
    "Logistics",
    "Foods",
    "Media",
]
COUNTRIES = (("USA", 0.55), ("United Kingdom", 0.12), ("Germany", 0.1), ("France", 0.08))
COUNTRIES += (("Canada", 0.07), ("Spain", 0.04), ("", 0.04))


class Drawer:
    """Weighted draws from a table of (value, share, ...) rows, by cumulative shares."""

    def __init__(self, table: tuple) -> None:
        self.rows = table
        total, self.edges = 0.0, []
        for row in table:
            total += row[1]
            self.edges.append(total)
        self.total = total

    def draw(self, rng: random.Random) -> tuple:
        point = rng.random() * self.total
        for row, edge in zip(self.rows, self.edges, strict=True):
            if point < edge:
                return row
        return self.rows[-1]


class TableWriter:
    """Rows into one table, set-based: COPY on PostgreSQL, executemany on SQLite. Columns
    not given get the field's default, so other migrations' new columns need nothing."""

    def __init__(self, model, given: list[str]) -> None:
        from django.db import connection

        self.connection = connection
        self.model = model
        fields = [field for field in model._meta.concrete_fields if field.column != "id"]
        if "id" in given:
            fields.insert(0, model._meta.pk)
        self.fields = fields
        self.given = given
        self.defaults = {
            field.attname: field.get_default()
            for field in fields
            if field.attname not in given and field.column != "id"
        }
        self.columns = [field.column for field in fields]
        self.postgresql = connection.vendor == "postgresql"
        # Values that need converting for the database (SQLite) or to text (JSON).
        self.convert = []
        for index, field in enumerate(fields):
            kind = field.get_internal_type()
            if kind == "JSONField":
                self.convert.append((index, json.dumps))
            elif not self.postgresql and kind in ("DateTimeField", "DateField", "DecimalField"):
                self.convert.append((index, self._sqlite_adapter(field)))

    def _sqlite_adapter(self, field):
        connection = self.connection
        return lambda value: field.get_db_prep_save(value, connection)

    def _row(self, values: dict) -> list:
        row = [
            values[field.attname] if field.attname in values else self.defaults[field.attname]
            for field in self.fields
        ]
        for index, convert in self.convert:
            if row[index] is not None:
                row[index] = convert(row[index])
        return row

    def write(self, batch: list[dict]) -> None:
        from django.db import transaction

        table = self.model._meta.db_table
        if self.postgresql:
            from psycopg import sql

            self.connection.ensure_connection()
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, self.columns))
            )
            with (
                transaction.atomic(),
                self.connection.connection.cursor() as cursor,
                cursor.copy(statement) as copy,
            ):
                for values in batch:
                    copy.write_row(self._row(values))
            return
        placeholders = ", ".join(["%s"] * len(self.columns))
        names = ", ".join(f'"{column}"' for column in self.columns)
        with transaction.atomic(), self.connection.cursor() as cursor:
            cursor.executemany(
                f'INSERT INTO "{table}" ({names}) VALUES ({placeholders})',
                [self._row(values) for values in batch],
            )


def make_lead(rng, number, base, people, statuses, now, closed_count, queued, drawers):
    """One lead's values and its events; closed leads converted by a known logistic."""
    is_closed = number < closed_count
    source, _share, source_weight = drawers["source"].draw(rng)
    industry, _share, industry_weight = drawers["industry"].draw(rng)
    title, _share, title_weight = drawers["title"].draw(rng)
    country = drawers["country"].draw(rng)[0]
    # Closed leads are older (three years to six months ago); open ones mostly recent.
    age_days = 180 + rng.random() * 915 if is_closed else rng.random() ** 1.5 * 365
    created_at = now - datetime.timedelta(days=age_days, seconds=rng.randrange(86_400))
    employees = None if rng.random() < 0.25 else int(math.exp(rng.uniform(0.5, 10)))
    revenue = None
    if employees is not None and rng.random() < 0.8:
        revenue = round(employees * rng.uniform(50_000, 250_000), -3)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company = f"{rng.choice(BRANDS)} {rng.choice(KINDS)} {number % 40_000}"
    email = (
        ""
        if rng.random() < 0.04
        else f"{first}.{last}.{number}@{company.replace(' ', '-')}.example.com".lower()
    )
    phone = "" if rng.random() < 0.2 else f"+1 555 {number % 10_000_000:07d}"
    # Events: Poisson-like count with mean 3, weighted types, after the lead's creation.
    count = min(12, int(rng.expovariate(1 / 3.0) + 0.5))
    events = []
    engagement = 0.0
    span = max(age_days, 0.01)
    for _event in range(count):
        type, _share, weight = drawers["event"].draw(rng)
        engagement += weight
        occurred = created_at + datetime.timedelta(days=rng.random() * span)
        events.append((type, occurred))
    lead_id = base + number
    values = {
        "id": lead_id,
        "created_at": created_at,
        "updated_at": created_at,
        "first_name": first,
        "last_name": last,
        "title": title,
        "company": company,
        "email": email,
        "phone": phone,
        "phone_digits": "".join(char for char in phone if char.isdigit()),
        "country": country,
        "lead_source": source,
        "industry": industry,
        "number_of_employees": employees,
        "annual_revenue": None if revenue is None else api_decimal(revenue),
        "first_name_key": first.lower(),
        "last_name_key": last.lower(),
        "company_key": company.lower(),
        "email_key": email,
        "owner_user_id": people.rep_ids[min(5, int(rng.random() ** 2 * 6))],
        "owner_queue_id": None,
        "is_converted": False,
    }
    if is_closed:
        logit = -1.7 + source_weight + industry_weight + title_weight + engagement
        converted = rng.random() < 1 / (1 + math.exp(-logit))
        values["status_id"] = statuses["converted" if converted else "not_converted"]
        closed_at = created_at + datetime.timedelta(days=min(span, 10 + rng.random() * 80))
        values["updated_at"] = closed_at
        if converted:
            values["is_converted"] = True
            values["converted_date"] = closed_at.date()
    else:
        draw = rng.random()
        values["status_id"] = statuses[
            "open" if draw < 0.5 else "working" if draw < 0.85 else "qualified"
        ]
        if number - closed_count < queued:
            values["owner_user_id"], values["owner_queue_id"] = None, people.queue_id
    rows = [
        {"lead_id": lead_id, "type": type, "occurred_at": occurred, "created_at": occurred}
        for type, occurred in events
    ]
    return values, rows


def api_decimal(number: float):
    from decimal import Decimal

    return Decimal(f"{number:.2f}")


STATE_TABLE = "bench_automation_state"


def loaded_state() -> tuple[int, int] | None:
    from django.db import connection

    with connection.cursor() as cursor:
        if STATE_TABLE not in connection.introspection.table_names(cursor):
            return None
        cursor.execute(f"SELECT version, leads FROM {STATE_TABLE}")
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def load(leads: int) -> dict:
    """The `load` child: the team, the leads and their events, scoring settings."""
    from django.db import connection
    from django.db.models import Max

    from dealflow.automation.models import LeadEvent
    from dealflow.automation.scoring import scoring_settings_set
    from dealflow.leads.models import Lead, LeadStatus

    people = api.ensure_people()
    by_name = {status.name: status.pk for status in LeadStatus.objects.all()}
    statuses = {
        "open": by_name["Open - Not Contacted"],
        "working": by_name["Working - Contacted"],
        "qualified": by_name["Qualified"],
        "converted": by_name["Closed - Converted"],
        "not_converted": by_name["Closed - Not Converted"],
    }
    closed_count, queued = leads // 5, leads // 10
    total = leads + closed_count
    base = (Lead.objects.aggregate(top=Max("id"))["top"] or 0) + 1
    now = datetime.datetime.now(datetime.UTC)
    rng = random.Random(20261207)
    drawers = {
        "source": Drawer(SOURCES),
        "industry": Drawer(INDUSTRIES),
        "title": Drawer(TITLES),
        "event": Drawer(EVENTS),
        "country": Drawer(tuple((value, share, 0) for value, share in COUNTRIES)),
    }
    lead_given = [
        "id",
        *make_lead(rng, 0, base, people, statuses, now, closed_count, queued, drawers)[0],
    ]
    lead_writer = TableWriter(Lead, lead_given)
    event_writer = TableWriter(LeadEvent, ["lead_id", "type", "occurred_at", "created_at"])
    started = time.perf_counter()
    event_count = 0
    for start in range(0, total, BATCH):
        batch, events = [], []
        for number in range(start, min(total, start + BATCH)):
            values, rows = make_lead(
                rng, number, base, people, statuses, now, closed_count, queued, drawers
            )
            batch.append(values)
            events.extend(rows)
        lead_writer.write(batch)
        event_writer.write(events)
        event_count += len(events)
        if (start // BATCH) % 40 == 0:
            log(f"  loaded {start + len(batch):,} of {total:,} leads")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('leads_lead', 'id'), "
                "(SELECT max(id) FROM leads_lead))"
            )
            cursor.execute("ANALYZE")
        else:
            cursor.execute("ANALYZE")
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (version integer, leads integer)")
        cursor.execute(f"DELETE FROM {STATE_TABLE}")
        cursor.execute(f"INSERT INTO {STATE_TABLE} VALUES (%s, %s)", [DATA_VERSION, leads])
    from dealflow.people.models import User

    admin = User.objects.get(pk=people.admin_id)
    scoring_settings_set(
        actor=admin,
        settings={
            "fit_rules": [
                {"field": "industry", "operator": "equals", "value": "Technology", "points": 10},
                {
                    "field": "number_of_employees",
                    "operator": "at_least",
                    "value": 500,
                    "points": 10,
                },
                {"field": "title", "operator": "contains_word", "value": "VP", "points": 15},
            ]
        },
    )
    return {
        "leads": total,
        "events": event_count,
        "seconds": time.perf_counter() - started,
    }


# ---------------------------------------------------------------------------------------
# Steps (each runs in its own child process)


def step_score(leads: int) -> dict:
    """Time lead_scores_recompute over the open leads, its clock SCORE_DAYS days ahead
    (--score-days: a nightly run comes a day after the last, when decay has moved most
    scores; run again at once, almost nothing changes). Notes the history rows appended
    and the CPU seconds of this process and of the PostgreSQL backend."""
    from django.db.models import Max
    from django.utils import timezone

    from dealflow.automation.models import LeadScoreHistory
    from dealflow.automation.scoring import lead_scores_recompute

    days = float(os.environ.get(SCORE_DAYS_VARIABLE) or 0)
    now = timezone.now() + datetime.timedelta(days=days)
    last_history = LeadScoreHistory.objects.aggregate(top=Max("id"))["top"] or 0
    server_cpu = _server_cpu_seconds()
    cpu = time.process_time()
    started = time.perf_counter()
    rows = lead_scores_recompute(now=now)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    server = _server_cpu_seconds()
    appended = LeadScoreHistory.objects.filter(id__gt=last_history).count()
    used = f"CPU {cpu:.1f} s" + (
        f" + reading PostgreSQL backend {server - server_cpu:.1f} s (not the writer's)"
        if server is not None and server_cpu is not None
        else ""
    )
    clock = f"clock +{days:g} days; " if days else ""
    return {
        "rows": rows,
        "seconds": seconds,
        "note": f"{clock}{used}; {appended:,} history rows appended",
    }


def _assignment_rules(people) -> dict:
    from dealflow.core import ids

    reps = [ids.encode("User", key) for key in people.rep_ids]

    def round_robin(users):
        return {"kind": "round_robin", "user_ids": users, "capacity": None}

    return {
        "default_owner_id": reps[0],
        "entries": [
            {
                "criteria": [
                    {"field": "lead_source", "operator": "equals", "value": "Web"},
                    {"field": "number_of_employees", "operator": "greater_than", "value": 50},
                ],
                "match": "all",
                "assign_to": round_robin(reps[:3]),
            },
            {
                "criteria": [
                    {"field": "industry", "operator": "in", "value": ["Banking", "Finance"]}
                ],
                "match": "all",
                "assign_to": round_robin(reps[3:]),
            },
            {"criteria": [], "match": "all", "assign_to": round_robin(reps)},
        ],
    }


def step_assign(leads: int) -> dict:
    """Put the queued block back in the queue (untimed), then time `dealflow assign`'s
    read and the set-based pass."""
    from django.db import transaction

    from dealflow.automation.models import AssignmentDecision
    from dealflow.automation.selectors import undecided_queue_leads
    from dealflow.automation.services import assignment_rules_set, leads_assign_bulk
    from dealflow.core.models import AuditEvent
    from dealflow.leads.models import Lead
    from dealflow.people.models import Queue, User

    people = api.ensure_people()
    queue = Queue.objects.get(pk=people.queue_id)
    closed_count, queued = leads // 5, leads // 10
    first = Lead.objects.order_by("id").values_list("id", flat=True).first() or 0
    block = (first + closed_count, first + closed_count + queued - 1)
    with transaction.atomic():
        AssignmentDecision.objects.filter(lead_id__gte=block[0], lead_id__lte=block[1]).delete()
        AuditEvent.objects.filter(
            object_name="Lead", action="update", record_id__range=block
        ).delete()
        Lead.objects.filter(id__range=block).update(owner_user=None, owner_queue=queue)
        assignment_rules_set(
            actor=User.objects.get(pk=people.admin_id), rules=_assignment_rules(people)
        )
    _vacuum("leads_lead", "automation_assignmentdecision", "core_auditevent")
    server_cpu = _server_cpu_seconds()
    cpu = time.process_time()
    started = time.perf_counter()
    lead_ids = undecided_queue_leads(queue=queue)
    selected = time.perf_counter() - started
    counts = leads_assign_bulk(actor=None, lead_ids=lead_ids)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    server = _server_cpu_seconds()
    # CPU seconds tell a loaded machine's waiting apart from the step's own work.
    used = f"CPU {cpu:.1f} s" + (
        f" + PostgreSQL backend {server - server_cpu:.1f} s"
        if server is not None and server_cpu is not None
        else ""
    )
    return {
        "rows": len(lead_ids),
        "seconds": seconds,
        "note": f"read {selected:.1f} s; {used}; "
        + ", ".join(f"{owner} {count:,}" for owner, count in sorted(counts.items())),
    }


def _vacuum(*tables: str) -> None:
    """PostgreSQL: VACUUM (ANALYZE) the tables the reset rewrote, then CHECKPOINT
    (untimed). Each run's reset leaves 100k dead lead rows, decisions and events behind,
    faster than autovacuum clears them on a busy machine, and a pass timed over them
    measures that bloat (2.5M dead lead rows after a dozen runs), not the database a team
    keeps; and the reset's and the vacuum's dirty pages would otherwise be written out by
    a checkpoint during the timed pass."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        quote = connection.ops.quote_name
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(quote(table) for table in tables)}")
        cursor.execute("CHECKPOINT")


def _server_cpu_seconds() -> float | None:
    """CPU seconds (user + system) of this connection's PostgreSQL backend, read from
    /proc when the server runs on this machine; None on SQLite or when it is elsewhere."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def step_train(leads: int) -> dict:
    try:
        from dealflow.automation.predictive import predictive_model_train
    except ImportError as error:
        return {"status": f"not available ({error})"}
    started = time.perf_counter()
    model = predictive_model_train(actor=None)
    seconds = time.perf_counter() - started
    figures = model.figures or {}
    rows = figures.get("rows", {})
    return {
        "rows": rows.get("leads", 0),
        "seconds": seconds,
        "note": f"AUC {figures.get('auc')}, converted {rows.get('converted')}",
    }


def step_predict(leads: int) -> dict:
    try:
        from dealflow.automation.predictive import active_model, lead_likelihoods_recompute
    except ImportError as error:
        return {"status": f"not available ({error})"}
    if active_model() is None:
        return {"status": "not available (no trained model: run the train step)"}
    started = time.perf_counter()
    rows = lead_likelihoods_recompute(lead_ids=None)
    return {"rows": rows, "seconds": time.perf_counter() - started}


CHILDREN = {
    "load": load,
    "score": step_score,
    "assign": step_assign,
    "train": step_train,
    "predict": step_predict,
}


def child(step: str, url: str, leads: int) -> int:
    api.setup_django(url)
    result = CHILDREN[step](leads)
    print(RESULT + json.dumps(result), flush=True)
    return 0


# ---------------------------------------------------------------------------------------
# The parent: databases, children, the table


@dataclass
class Measured:
    step: str
    rows: int = 0
    seconds: float = 0.0
    peak_mb: float = 0.0
    status: str = ""
    note: str = ""

    @property
    def passed(self) -> bool:
        return (
            not self.status
            and self.seconds <= TARGET_SECONDS[self.step]
            and self.peak_mb <= MEMORY_TARGET_MB
        )


def run_child(step: str, url: str, leads: int) -> Measured:
    """Run one step in a fresh process; its figures and its own peak RSS (wait4)."""
    command = [sys.executable, __file__, "--child", step, "--url", url, "--leads", str(leads)]
    environment = api.server_environment(url)
    process = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    result = None
    for line in process.stdout:
        if line.startswith(RESULT):
            result = json.loads(line[len(RESULT) :])
        else:
            print(line, end="", flush=True)
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or result is None:
        raise SystemExit(f"step {step} failed on {database_label(url)} ({process.returncode})")
    return Measured(
        step=step,
        rows=result.get("rows", 0),
        seconds=result.get("seconds", 0.0),
        peak_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        status=result.get("status", ""),
        note=result.get("note", ""),
    )


def state_of(url: str) -> tuple[int, int] | None:
    """(data version, leads) of a kept database, asked in a child (None: none)."""
    output = subprocess.run(
        [sys.executable, __file__, "--child", "state", "--url", url, "--leads", "0"],
        cwd=ROOT,
        env=api.server_environment(url),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith(RESULT))
    state = json.loads(line[len(RESULT) :])
    return tuple(state) if state else None  # type: ignore[return-value]


def drop(url: str) -> None:
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
        return
    from psycopg import sql

    parts = urllib.parse.urlsplit(url)
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with api.connect(admin_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(parts.path.lstrip("/"))
            )
        )


def prepare(url: str, leads: int, reload: bool) -> None:
    if url.startswith("sqlite"):
        SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    else:
        api.ensure_database(url)
    exists = SQLITE_PATH.exists() if url.startswith("sqlite") else True
    state = None
    if exists and not reload:
        api.migrate(url)
        state = state_of(url)
    if state == (DATA_VERSION, leads):
        log(f"{database_label(url)}: reusing the kept data ({leads:,} open leads)")
        return
    drop(url)
    if not url.startswith("sqlite"):
        api.ensure_database(url)
    log(
        f"{database_label(url)}: migrating and loading {leads:,} open + {leads // 5:,} closed leads"
    )
    api.migrate(url)
    loaded = run_child("load", url, leads)
    log(f"{database_label(url)}: loaded in {loaded.seconds:.0f} s (peak {loaded.peak_mb:.0f} MB)")


def environment_lines(options: argparse.Namespace) -> list[str]:
    import django

    memory = next(
        line.split(":", 1)[1].strip()
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    commit = subprocess.run(
        ["git", "log", "-1", "--format=%h %s"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    load1, load5, _load15 = os.getloadavg()
    return [
        f"command: {' '.join([Path(sys.executable).name, *sys.argv])}"
        f" (niceness {os.getpriority(os.PRIO_PROCESS, 0)})",
        f"commit: {commit}",
        f"machine: nproc {os.cpu_count()}, MemTotal {memory}, load average {load1:.1f}"
        f" / {load5:.1f} (1 / 5 min), {platform.system()} {platform.release()}",
        f"Python {platform.python_version()}, Django {django.__version__}",
        f"at {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
    ]


def table(label: str, results: list[Measured]) -> list[str]:
    lines = [
        f"{label}",
        f"  {'step':<8} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'peak MB':>8}"
        f"  {'target':<18} result",
    ]
    for measured in results:
        target = f"<= {TARGET_SECONDS[measured.step]:.0f} s, {MEMORY_TARGET_MB} MB"
        if measured.status:
            lines.append(f"  {measured.step:<8} {measured.status}")
            continue
        rate = measured.rows / measured.seconds if measured.seconds else 0
        lines.append(
            f"  {measured.step:<8} {measured.rows:>10,} {measured.seconds:>8.1f}"
            f" {rate:>9,.0f} {measured.peak_mb:>8.0f}  {target:<18}"
            f" {'PASS' if measured.passed else 'FAIL'}"
        )
        if measured.note:
            lines.append(f"  {'':<8} {measured.note}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql", "both"),
        default="both",
        help="which database to measure (default: both)",
    )
    parser.add_argument(
        "--leads",
        type=int,
        default=DEFAULT_LEADS,
        help=f"open leads to load; closed leads are a fifth of it (default: {DEFAULT_LEADS:,})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database for later runs")
    parser.add_argument("--reload", action="store_true", help="rebuild a kept database's data")
    parser.add_argument(
        "--only",
        default=",".join(STEPS),
        help=f"comma-separated steps (default: {','.join(STEPS)})",
    )
    parser.add_argument(
        "--score-days",
        type=float,
        default=0.0,
        help="the score step's clock, days ahead of now (1: a nightly run's decay)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child == "state":
        api.setup_django(options.url)
        state = loaded_state()
        print(RESULT + json.dumps(list(state) if state else None), flush=True)
        return 0
    if options.child:
        return child(options.child, options.url, options.leads)
    os.environ[SCORE_DAYS_VARIABLE] = str(options.score_days)  # the children inherit it
    steps = [step for step in options.only.split(",") if step]
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    urls = {
        "sqlite": [sqlite_url()],
        "postgresql": [postgresql_url()],
        "both": [sqlite_url(), postgresql_url()],
    }[options.database]
    report: list[str] = []
    for url in urls:
        prepare(url, options.leads, options.reload)
        results = []
        for step in steps:
            log(f"{database_label(url)}: {step}")
            results.append(run_child(step, url, options.leads))
            log("\n".join(table(database_label(url), results[-1:])[2:]))
        report += table(database_label(url), results)
        if not options.keep:
            drop(url)
            log(f"dropped {database_label(url)} (--keep keeps it)")
    for line in ["", *environment_lines(options), "", *report]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
