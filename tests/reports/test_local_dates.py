"""Local dates and months of stored datetimes (reports.selectors.common.LocalDate and
LocalMonth): on SQLite computed in SQL from the zone's offsets (core/sqlite/zones.py)
instead of Django's Python function per row; on both databases the dates Python gives,
across daylight saving changes, at local midnights and month ends, to the microsecond,
in zones with half-hour offsets, and outside the SQL's window (Django's function)."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.core.sqlite import zones
from dealflow.leads.models import Lead
from dealflow.reports.selectors.common import LocalDate, LocalMonth
from dealflow.sales.models import Opportunity
from tests.factories import LeadFactory
from tests.reports.conftest import create, run

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
MICROSECOND = datetime.timedelta(microseconds=1)
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC")


def _instants(zone: zoneinfo.ZoneInfo) -> list[datetime.datetime]:
    """Instants around 2026's transitions, local midnights near them and month ends."""
    found: list[datetime.datetime] = []
    for start, _offset in zones.offset_periods(zone):
        if start.year == 2026:
            moment = start.replace(tzinfo=UTC)
            found += [moment - datetime.timedelta(seconds=1), moment, moment + MICROSECOND]
    midnights = [
        datetime.datetime(2026, month, day, tzinfo=zone)
        for month, day in (
            *((1, 1), (3, 8), (3, 9), (3, 29), (3, 30), (4, 1), (4, 5), (4, 6)),
            *((10, 4), (10, 5), (10, 25), (10, 26), (11, 1), (11, 2)),
        )
    ]
    for midnight in midnights:
        moment = midnight.astimezone(UTC)
        for delta in (-MICROSECOND, datetime.timedelta(microseconds=-400), datetime.timedelta(0)):
            found.append(moment + delta)
    # Outside the SQL's window: Django's own function, row by row.
    found += [
        datetime.datetime(1985, 6, 30, 22, 30, tzinfo=UTC),
        datetime.datetime(2080, 12, 31, 23, 30, tzinfo=UTC),
    ]
    return found


@pytest.mark.parametrize("zone_name", ZONES)
def test_local_dates_and_months_are_the_zone_s(zone_name, settings):
    settings.TIME_ZONE = zone_name
    zone = zoneinfo.ZoneInfo(zone_name)
    instants = _instants(zone)
    lead_ids = []
    for moment in instants:
        lead = LeadFactory()
        Lead.objects.filter(pk=lead.pk).update(created_at=moment)
        lead_ids.append(lead.pk)
    with CaptureQueriesContext(connection) as queries:
        found = dict(
            (pk, (day, month))
            for pk, day, month in Lead.objects.filter(pk__in=lead_ids)
            .annotate(day=LocalDate("created_at", tzinfo=zone), month=LocalMonth("created_at"))
            .values_list("pk", "day", "month")
        )
    expected = {
        pk: (moment.astimezone(zone).date(), moment.astimezone(zone).date().replace(day=1))
        for pk, moment in zip(lead_ids, instants, strict=True)
    }
    assert found == expected
    if connection.vendor == "sqlite":  # in SQL: the offsets chosen by CASE
        sql = queries[0]["sql"]
        if zone_name == "UTC":  # one offset at every instant: no choice, no fallback
            assert "CASE WHEN" not in sql and "django_datetime" not in sql
        else:
            assert "CASE WHEN" in sql


def test_midnight_and_month_end_examples_in_berlin(settings):
    """Worked by hand: CET is UTC+1, CEST (from 29 March 2026, 01:00 UTC) UTC+2."""
    settings.TIME_ZONE = "Europe/Berlin"
    cases = {
        datetime.datetime(2026, 3, 28, 22, 59, 59, 999999, tzinfo=UTC): datetime.date(2026, 3, 28),
        datetime.datetime(2026, 3, 28, 23, 0, tzinfo=UTC): datetime.date(2026, 3, 29),
        datetime.datetime(2026, 3, 31, 21, 59, 59, 999600, tzinfo=UTC): datetime.date(2026, 3, 31),
        datetime.datetime(2026, 3, 31, 22, 0, tzinfo=UTC): datetime.date(2026, 4, 1),
        datetime.datetime(2025, 12, 31, 23, 0, tzinfo=UTC): datetime.date(2026, 1, 1),
    }
    pks = {}
    for moment, day in cases.items():
        lead = LeadFactory()
        Lead.objects.filter(pk=lead.pk).update(created_at=moment)
        pks[lead.pk] = day
    found = dict(
        Lead.objects.filter(pk__in=pks)
        .annotate(day=LocalDate("created_at"))
        .values_list("pk", "day")
    )
    assert found == pks


def test_month_of_a_date_field(team):
    for day in ("2026-01-31", "2026-02-01", "2026-12-31"):
        create(team.alice, "D", "Prospecting", "1.00", day)
    months = sorted(
        Opportunity.objects.annotate(month=LocalMonth("close_date")).values_list("month", flat=True)
    )
    assert months == [
        datetime.date(2026, 1, 1),
        datetime.date(2026, 2, 1),
        datetime.date(2026, 12, 1),
    ]


def test_lead_conversion_by_month_in_a_zone_with_daylight_saving(team, settings):
    """Leads a microsecond either side of Berlin's midnight at the end of March (CEST,
    UTC+2) and of October (CET, UTC+1) land in their local months."""
    settings.TIME_ZONE = "Europe/Berlin"
    moments = [
        (datetime.datetime(2026, 3, 31, 21, 59, 59, 999999, tzinfo=UTC), True),  # 31 Mar
        (datetime.datetime(2026, 3, 31, 22, 0, tzinfo=UTC), False),  # 1 Apr
        (datetime.datetime(2026, 10, 31, 22, 59, 59, 999999, tzinfo=UTC), False),  # 31 Oct
        (datetime.datetime(2026, 10, 31, 23, 0, tzinfo=UTC), True),  # 1 Nov
    ]
    for moment, converted in moments:
        lead = LeadFactory(owner_user=team.alice, is_converted=converted)
        Lead.objects.filter(pk=lead.pk).update(created_at=moment)
    rows = run("lead_conversion", team.admin, group_by="month")
    assert [(row["month"], row["leads"], row["converted"]) for row in rows] == [
        ("2026-03", 1, 1),
        ("2026-04", 1, 0),
        ("2026-10", 1, 0),
        ("2026-11", 1, 1),
    ]


def test_sales_cycle_counts_from_the_local_created_date(team, settings, freeze_clock):
    """New York, EST (UTC-5) then EDT (UTC-4) from 8 March 2026, 07:00 UTC: created at
    04:30 UTC on 1 March is 28 February locally (10 days to 10 March); at 04:30 UTC on
    9 March it is 9 March 00:30 locally (1 day to 10 March); at 03:30 UTC on 9 March,
    8 March 23:30 (2 days)."""
    settings.TIME_ZONE = "America/New_York"
    for created in (
        datetime.datetime(2026, 3, 1, 4, 30, tzinfo=UTC),
        datetime.datetime(2026, 3, 9, 4, 30, tzinfo=UTC),
        datetime.datetime(2026, 3, 9, 3, 30, tzinfo=UTC),
    ):
        freeze_clock(created)
        create(team.alice, "D", "Closed Won", "100.00", "2026-03-10")
    freeze_clock(datetime.datetime(2026, 3, 31, 12, tzinfo=UTC))
    rows = run("sales_cycle", team.admin)
    # 10, 1 and 2 days: mean 13 / 3 = 4.33..., median 2.
    assert rows == [{"deals": 3, "average_days": Decimal("4.3"), "median_days": Decimal("2.0")}]


def test_offset_periods_of_berlin_in_2026():
    periods = [
        (start, offset)
        for start, offset in zones.offset_periods(zoneinfo.ZoneInfo("Europe/Berlin"))
        if start.year == 2026
    ]
    assert periods == [
        (datetime.datetime(2026, 3, 29, 1, 0), 7200),
        (datetime.datetime(2026, 10, 25, 1, 0), 3600),
    ]


def test_a_fixed_offset_zone_needs_no_choice(settings):
    """datetime.timezone(+05:30): its offset at every instant, in SQL without a CASE."""
    zone = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    moments = [
        datetime.datetime(2026, 3, 31, 18, 29, 59, 999999, tzinfo=UTC),  # 23:59:59 local
        datetime.datetime(2026, 3, 31, 18, 30, tzinfo=UTC),  # 1 April 00:00 local
        datetime.datetime(1950, 1, 1, 0, 0, tzinfo=UTC),
    ]
    pks = {}
    for moment in moments:
        lead = LeadFactory()
        Lead.objects.filter(pk=lead.pk).update(created_at=moment)
        pks[lead.pk] = (
            moment.astimezone(zone).date(),
            moment.astimezone(zone).date().replace(day=1),
        )
    with CaptureQueriesContext(connection) as queries:
        found = {
            pk: (day, month)
            for pk, day, month in Lead.objects.filter(pk__in=pks)
            .annotate(
                day=LocalDate("created_at", tzinfo=zone),
                month=LocalMonth("created_at", tzinfo=zone),
            )
            .values_list("pk", "day", "month")
        }
    assert found == pks
    assert found[min(pks)][0] == datetime.date(2026, 3, 31)
    if connection.vendor == "sqlite":
        assert "CASE WHEN" not in queries[0]["sql"]
