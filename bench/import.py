"""Benchmark of the lead import (issue 8) against a raw bulk insert of the same rows.

    nice -n 10 .venv/bin/python bench/import.py [--rows N] [--databases sqlite,postgresql]
        [--batch-size N] [--keep-file] [--floor]

--keep-file keeps the CSV and reuses it when it is there. --floor also times the leads
alone inserted into the real leads table (`run_floor`): the database's share.

What it does, in one run:

1. Generates a CSV of N leads (default 1,000,000) under var/bench/: ten columns (first
   and last name, company, email, phone, city, country, lead source, industry, title)
   in Salesforce API names, 2% of the rows repeating an earlier row's email in another
   case (duplicates by the email's matching key).
2. For each database, in a fresh child process (so its peak memory is the import's own:
   ru_maxrss): a fresh database (SQLite under var/bench/; PostgreSQL
   BENCH_IMPORT_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
   dealflow_bench_import, dropped and created), migrated, an admin and three reps, and
   one assignment rule (leads from the web dealt round-robin to the three reps). Then
   times `import_start` + `import_run` (what `dealflow import leads FILE` runs):
   validation and normalisation by the services' rules, dedupe by email key (skip),
   batches of 5,000 committed with their job records, and the assignment of each
   batch set-based (automation's leads_assign_bulk).
3. In another fresh child process, the raw baseline: the same CSV read with the csv
   module and inserted with executemany in batches of 5,000 (one transaction each) into
   a bare table with the same ten columns and a unique index on the lower-cased email
   (INSERT ... ON CONFLICT DO NOTHING drops the duplicates).
4. Prints both times, their ratio (target <= 2.5) and the import's peak memory (target
   <= 400 MB), with the machine.

Nothing here is collected by pytest (testpaths is tests/); `make bench` runs it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = ROOT / "var" / "bench"
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/dealflow_bench_import"
TARGET_RATIO = 2.5
TARGET_MEMORY_MB = 400
DUPLICATE_SHARE = 0.02
HEADER = [
    "FirstName",
    "LastName",
    "Company",
    "Email",
    "Phone",
    "City",
    "Country",
    "LeadSource",
    "Industry",
    "Title",
]
RAW_COLUMNS = [
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "city",
    "country",
    "lead_source",
    "industry",
    "title",
]
FIRST = ["Ann", "Bo", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "José"]
LAST = ["Lee", "Müller", "Ray", "Smith", "Tanaka", "Okafor", "García", "Novak", "Kim", "Rossi"]
CITIES = ["Paris", "Berlin", "Lagos", "Osaka", "Lima", "Austin", "Porto", "Oslo"]
COUNTRIES = ["France", "Germany", "Nigeria", "Japan", "Peru", "USA", "Portugal", "Norway"]
SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Trade Show"]
INDUSTRIES = ["Banking", "Retail", "Technology", "Energy", "Education", ""]
TITLES = ["CEO", "CTO", "Buyer", "Head of Sales", "Engineer", ""]


def log(message: str) -> None:
    print(message, flush=True)


def generate(path: Path, rows: int) -> int:
    """The CSV of `rows` leads; returns how many repeat an earlier email."""
    randomizer = random.Random(8)
    duplicates = 0
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADER)
        for number in range(rows):
            if number > 100 and randomizer.random() < DUPLICATE_SHARE:
                earlier = randomizer.randrange(number)
                email = f"Lead{earlier}@Example{earlier % 97}.test"
                duplicates += 1
            else:
                email = f"lead{number}@example{number % 97}.test"
            writer.writerow(
                [
                    randomizer.choice(FIRST),
                    f"{randomizer.choice(LAST)}{number}",
                    f"Company {number % 50_000}",
                    email,
                    f"+1 555 {number % 10_000_000:07d}",
                    randomizer.choice(CITIES),
                    randomizer.choice(COUNTRIES),
                    randomizer.choice(SOURCES),
                    randomizer.choice(INDUSTRIES),
                    randomizer.choice(TITLES),
                ]
            )
    return duplicates


def database_url(vendor: str) -> str:
    if vendor == "postgresql":
        return os.environ.get("BENCH_IMPORT_DATABASE_URL", DEFAULT_PG_URL)
    return f"sqlite:///{OUT / 'bench-import.sqlite3'}"


def fresh_database(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(urllib.parse.urlsplit(url).path)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg
    from psycopg import sql

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def environment(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="dealflow.settings",
        DEALFLOW_DEBUG="0",
        DEALFLOW_VAR_DIR=str(OUT / "var"),
    )
    return env


def child(mode: str, vendor: str, path: Path, batch_size: int) -> dict:
    """Run one measurement in a fresh process; returns its JSON result."""
    url = database_url(vendor)
    command = [sys.executable, __file__, "--child", mode, "--databases", vendor]
    command += ["--file", str(path), "--batch-size", str(batch_size)]
    result = subprocess.run(
        command, cwd=ROOT, env=environment(url), check=True, capture_output=True, text=True
    )
    for line in result.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"no result from {mode} on {vendor}:\n{result.stdout}\n{result.stderr}")


def run_import(path: Path, batch_size: int) -> dict:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from dealflow.automation.services import assignment_rules_set
    from dealflow.dataio.services import import_run, import_start
    from dealflow.leads.models import Lead
    from dealflow.people.models import Role, User

    admin = User.objects.create(username="bench-admin", role=Role.ADMIN)
    reps = [User.objects.create(username=f"bench-rep{n}", role=Role.REP) for n in range(3)]
    assignment_rules_set(
        actor=admin,
        rules={
            "default_owner_id": admin.public_id,
            "entries": [
                {
                    "criteria": [{"field": "lead_source", "operator": "equals", "value": "Web"}],
                    "assign_to": {
                        "kind": "round_robin",
                        "user_ids": [rep.public_id for rep in reps],
                        "capacity": None,
                    },
                }
            ],
        },
    )
    started = time.perf_counter()
    cpu_before = _cpu_seconds()
    job = import_start(actor=admin, target="leads", path=path, batch_size=batch_size)
    job = import_run(job_id=job.pk)
    elapsed = time.perf_counter() - started
    assigned = Lead.objects.filter(owner_user__in=reps).count()
    return {
        "seconds": elapsed,
        "rows": job.rows_read,
        "created": job.rows_created,
        "skipped": job.rows_skipped,
        "failed": job.rows_failed,
        "assigned": assigned,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu": _cpu_seconds() - cpu_before,
    }


def _cpu_seconds() -> float:
    """CPU time of this process and its ended children (the import's second process),
    user and system: unlike the wall time, little changed by other work on the machine.
    A database server's own CPU (PostgreSQL) is not in it."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_raw(path: Path, batch_size: int) -> dict:
    """The baseline: csv module + executemany into a bare table, one transaction a batch."""
    url = os.environ["DATABASE_URL"]
    columns = ", ".join(RAW_COLUMNS)
    definition = ", ".join(f"{name} varchar(255) NOT NULL" for name in RAW_COLUMNS)
    if url.startswith("sqlite"):
        import sqlite3

        connection = sqlite3.connect(urllib.parse.urlsplit(url).path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        placeholders = ", ".join("?" * len(RAW_COLUMNS))
        key = "integer PRIMARY KEY AUTOINCREMENT"
    else:
        import psycopg

        connection = psycopg.connect(url, autocommit=True)
        placeholders = ", ".join(["%s"] * len(RAW_COLUMNS))
        key = "bigserial PRIMARY KEY"
    connection.execute("DROP TABLE IF EXISTS bench_raw_lead")
    connection.execute(f"CREATE TABLE bench_raw_lead (id {key}, {definition})")
    connection.execute("CREATE UNIQUE INDEX bench_raw_email ON bench_raw_lead (lower(email))")
    statement = (
        f"INSERT INTO bench_raw_lead ({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING"
    )
    started = time.perf_counter()
    cpu_before = _cpu_seconds()
    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        next(reader)
        batch: list[list[str]] = []
        for row in reader:
            batch.append(row)
            if len(batch) >= batch_size:
                _raw_batch(connection, statement, batch)
                batch = []
        if batch:
            _raw_batch(connection, statement, batch)
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    count = connection.execute("SELECT count(*) FROM bench_raw_lead").fetchone()[0]
    connection.close()
    return {"seconds": elapsed, "rows": count, "cpu": cpu}


def _raw_batch(connection, statement: str, batch: list[list[str]]) -> None:
    if hasattr(connection, "cursor") and type(connection).__module__.startswith("psycopg"):
        with connection.transaction(), connection.cursor() as cursor:
            cursor.executemany(statement, batch)
    else:
        connection.execute("BEGIN")
        connection.executemany(statement, batch)
        connection.execute("COMMIT")


def run_floor(path: Path, batch_size: int) -> dict:
    """The import's database floor: the same leads, already made (Lead instances, built
    outside the timer), inserted into the real leads table by the import's own
    `insert_records` (matching keys, one executemany or COPY a batch, one transaction a
    batch). No checks, job records, duplicate keys or assignment: what the schema (the
    lead table's indexes) costs against the raw table's one."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.db import transaction
    from django.utils import timezone

    from dealflow.dataio.imports.sql import insert_records
    from dealflow.leads.models import Lead
    from dealflow.leads.services import default_lead_status
    from dealflow.people.models import Role, User

    admin = User.objects.create(username="bench-admin", role=Role.ADMIN)
    status = default_lead_status()
    names = list(RAW_COLUMNS)
    seen: set[str] = set()
    elapsed = 0.0

    def insert(batch: list[list[str]]) -> float:
        leads = []
        for row in batch:
            key = row[3].lower()
            if key in seen:
                continue
            seen.add(key)
            leads.append(
                Lead(status=status, owner_user=admin, **dict(zip(names, row, strict=True)))
            )
        started = time.perf_counter()
        with transaction.atomic():
            Lead.objects.filter(pk=0).update(title="")  # takes SQLite's write lock first
            insert_records(Lead, leads, timezone.now())
        return time.perf_counter() - started

    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        next(reader)
        batch: list[list[str]] = []
        for row in reader:
            batch.append(row)
            if len(batch) >= batch_size:
                elapsed += insert(batch)
                batch = []
        if batch:
            elapsed += insert(batch)
    return {"seconds": elapsed, "rows": Lead.objects.count()}


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {memory:.1f} GB, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--keep-file", action="store_true")
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--child", choices=["import", "raw", "floor"])
    parser.add_argument("--file")
    options = parser.parse_args()
    if options.child:
        sys.path.insert(0, str(ROOT / "src"))
        path = Path(options.file)
        run = {"import": run_import, "raw": run_raw, "floor": run_floor}[options.child]
        outcome = run(path, options.batch_size)
        print("RESULT " + json.dumps(outcome), flush=True)
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "var").mkdir(exist_ok=True)
    path = OUT / f"leads-{options.rows}.csv"
    if options.keep_file and path.exists():
        log(f"reusing {path} (--keep-file)")
    else:
        log(f"generating {options.rows:,} leads into {path}")
        duplicates = generate(path, options.rows)
        log(f"  {duplicates:,} rows repeat an earlier email ({path.stat().st_size / 2**20:.0f} MB)")
    lines = [f"machine: {machine()}", f"command: {' '.join(sys.argv)}"]
    passed = True
    for vendor in options.databases.split(","):
        url = database_url(vendor)
        fresh_database(url)
        log(f"{vendor}: import (migrate, then time the import)")
        imported = child("import", vendor, path, options.batch_size)
        fresh_database(url)
        log(f"{vendor}: raw bulk insert")
        raw = child("raw", vendor, path, options.batch_size)
        ratio = imported["seconds"] / raw["seconds"]
        ok = ratio <= TARGET_RATIO and imported["peak_mb"] <= TARGET_MEMORY_MB
        ok = ok and imported["created"] == raw["rows"]
        passed = passed and ok
        lines.append(
            f"{vendor}: import {imported['seconds']:.1f} s ({imported['rows']:,} rows: "
            f"{imported['created']:,} created, {imported['skipped']:,} duplicates skipped, "
            f"{imported['failed']:,} failed, {imported['assigned']:,} dealt to the reps by the "
            f"rule), raw {raw['seconds']:.1f} s ({raw['rows']:,} rows), ratio "
            f"{ratio:.2f} (target <= {TARGET_RATIO}), peak memory {imported['peak_mb']:.0f} MB "
            f"(target <= {TARGET_MEMORY_MB}): {'PASS' if ok else 'FAIL'}; "
            f"{imported['rows'] / imported['seconds']:,.0f} rows/s against "
            f"{raw['rows'] / raw['seconds']:,.0f}; CPU (this machine's Python side) "
            f"{imported['cpu']:.1f} s against {raw['cpu']:.1f} s; load average "
            f"{os.getloadavg()[0]:.1f}"
        )
        log(lines[-1])
        if options.floor:
            fresh_database(url)
            log(f"{vendor}: the leads alone into the leads table (--floor)")
            floor = child("floor", vendor, path, options.batch_size)
            lines.append(
                f"{vendor}: floor {floor['seconds']:.1f} s ({floor['rows']:,} leads inserted by "
                f"insert_records, nothing else) = {floor['seconds'] / raw['seconds']:.2f} x raw"
            )
            log(lines[-1])
        fresh_database(url)  # leave no million-row database behind
    if not options.keep_file:
        path.unlink()
    log("")
    for line in lines:
        log(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
