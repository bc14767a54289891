"""Benchmark of `dealflow export leads`: rows per second and peak memory (docs/export.md).

    nice -n 10 .venv/bin/python bench/export.py [--leads N] [--postgres]

Makes its own database (SQLite under a temporary DEALFLOW_VAR_DIR; with --postgres,
BENCH_EXPORT_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/dealflow_bench_export,
dropped afterwards), migrates it, bulk-inserts N leads (default 100,000) owned by one
admin, then runs `dealflow export leads --output FILE` in a child process and prints its
time, rows per second and peak resident memory, against the peak of `dealflow describe
Lead` (the same process doing no export) measured in the same run.

Nothing here is collected by pytest; `make bench` runs it.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEALFLOW = ROOT / ".venv" / "bin" / "dealflow"
PYTHON = ROOT / ".venv" / "bin" / "python"

SEED = """
import django, sys
django.setup()
from dealflow.core.fields import MatchKeyField
from dealflow.leads.models import Lead, LeadStatus
from dealflow.people.models import User
admin = User.objects.create(username="ada", role="admin")
status = LeadStatus.objects.get(is_default=True)
keys = [field for field in Lead._meta.concrete_fields if isinstance(field, MatchKeyField)]
total, batch = int(sys.argv[1]), []
for number in range(total):
    lead = Lead(first_name="Ana", last_name=f"Lima{number}", company=f"=Co {number}",
                email=f"ana{number}@lima.test", phone="+1 555 0100", status=status,
                owner_user=admin, annual_revenue="1000.50", description="x" * 100)
    for key in keys:
        setattr(lead, key.attname, key.pre_save(lead, True))
    batch.append(lead)
    if len(batch) == 5000 or number == total - 1:
        Lead.objects.bulk_create(batch)
        batch = []
"""


def run(arguments: list[str], environment: dict[str, str]) -> tuple[float, int]:
    """Wall time (s) and peak resident memory (MB) of one child process (GNU time)."""
    with tempfile.NamedTemporaryFile("r") as report:
        started = time.perf_counter()
        subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", report.name, *arguments],
            env=environment,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - started
        return elapsed, int(report.read().split()[-1]) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000, help="(default: 100000)")
    parser.add_argument("--postgres", action="store_true", help="(default: SQLite)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        environment = {**os.environ, "DEALFLOW_VAR_DIR": folder}
        environment.pop("DATABASE_URL", None)
        database = "SQLite"
        url = os.environ.get(
            "BENCH_EXPORT_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/dealflow_bench_export",
        )
        if options.postgres:
            name = url.rsplit("/", 1)[1]
            server = url.rsplit("/", 1)[0] + "/postgres"
            subprocess.run(["psql", server, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
            subprocess.run(["psql", server, "-qc", f"CREATE DATABASE {name}"], check=True)
            environment["DATABASE_URL"] = url
            database = "PostgreSQL"
        try:
            environment["DJANGO_SETTINGS_MODULE"] = "dealflow.settings"
            subprocess.run([str(DEALFLOW), "migrate", "-v", "0"], env=environment, check=True)
            started = time.perf_counter()
            subprocess.run(
                [str(PYTHON), "-c", SEED, str(options.leads)], env=environment, check=True
            )
            print(f"loaded {options.leads:,} leads in {time.perf_counter() - started:.1f} s")
            _baseline_time, baseline_peak = run([str(DEALFLOW), "describe", "Lead"], environment)
            output = Path(folder) / "leads.csv"
            elapsed, peak = run(
                [str(DEALFLOW), "export", "leads", "--output", str(output)], environment
            )
            with output.open(encoding="utf-8", newline="") as exported:
                rows = sum(1 for _ in csv.reader(exported)) - 1
            size = output.stat().st_size
        finally:
            if options.postgres:
                subprocess.run(["psql", server, "-qc", f"DROP DATABASE IF EXISTS {name}"])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"database: {database}")
    print(f"exported {rows:,} leads ({size / 1e6:.1f} MB of CSV)")
    print(f"time: {elapsed:.1f} s, {rows / elapsed:,.0f} rows/s")
    print(f"peak memory: {peak} MB (dealflow describe Lead: {baseline_peak} MB)")


if __name__ == "__main__":
    main()
