"""Local dates and months of stored UTC datetimes on SQLite, in SQLite's C code.

Django computes `TruncDate`/`TruncMonth` with a time zone on SQLite by calling a Python
function once per row (`django_datetime_cast_date`, `django_datetime_trunc`): a report
over a million rows spends seconds there. SQLite's own `date()`/`strftime()` shift a
datetime by a fixed modifier (`'+3600 seconds'`); a zone's offset changes only at its
transitions (daylight saving time, law changes), a few a year. So the offset of each
stored instant is chosen by comparing the stored text with the transitions' UTC
instants, in a balanced tree of CASEs (about 8 comparisons a row for a zone with
daylight saving time over the window), and the local date is
`date(substr(value, 1, 19), <offset>)`. It is exact: the offsets are the zone's own
(zoneinfo's `utcoffset` at each instant, transitions found to the second), and the
value is cut to whole seconds first (SQLite rounds fractions to milliseconds, which
could carry 23:59:59.9996 into the next day; zone offsets are whole seconds, so the
cut never changes a date). A value is only cut when shifted: unshifted (UTC), SQLite
keeps the fields it parsed.

Rows outside WINDOW (before 1990 or from 2070: not a record's creation time in
practice) fall back to Django's Python function, row by row, so every value is right.
Stored text is Django's (`YYYY-MM-DD HH:MM:SS[.ffffff]`, UTC, the connection's zone):
compared as text, it orders as the instants do.
"""

from __future__ import annotations

import datetime
import functools

WINDOW = (datetime.datetime(1990, 1, 1), datetime.datetime(2070, 1, 1))
# Transitions are looked for once a day, then found to the second: two transitions
# within one day that cancel out would be missed (the zone database has none since 1990).
STEP_SECONDS = 86400


def _offset(zone: datetime.tzinfo, timestamp: int) -> int:
    """The zone's UTC offset at a POSIX timestamp, in whole seconds."""
    offset = datetime.datetime.fromtimestamp(timestamp, zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def _timestamp(moment: datetime.datetime) -> int:
    return int(moment.replace(tzinfo=datetime.UTC).timestamp())


@functools.lru_cache(maxsize=64)
def offset_periods(zone: datetime.tzinfo) -> tuple[tuple[datetime.datetime, int], ...]:
    """((first naive UTC instant, offset in seconds), ...) of each stretch of WINDOW with
    one offset, in order; the first starts at WINDOW's start. About 0.1 s a zone, once
    a process."""
    start, end = (_timestamp(moment) for moment in WINDOW)
    periods = [(start, _offset(zone, start))]
    moment = start
    while moment < end:
        following = min(moment + STEP_SECONDS, end)
        if _offset(zone, following) != periods[-1][1]:
            low, high = moment, following  # the first second with the new offset
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(zone, middle) == periods[-1][1]:
                    low = middle
                else:
                    high = middle
            periods.append((high, _offset(zone, high)))
        moment = following
    return tuple(
        (datetime.datetime.fromtimestamp(timestamp, datetime.UTC).replace(tzinfo=None), offset)
        for timestamp, offset in periods
    )


# Zones whose offset is 0 at every instant (the tz database's names for UTC).
UTC_NAMES = frozenset(
    {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"}
    | {"GMT", "Etc/GMT", "Etc/GMT+0", "Etc/GMT-0", "Etc/GMT0", "GMT+0", "GMT-0", "GMT0"}
    | {"Etc/Greenwich", "Greenwich"}
)


def fixed_offset(zone: datetime.tzinfo) -> int | None:
    """The offset in seconds of a zone that has one at every instant (UTC, a
    datetime.timezone), else None."""
    if isinstance(zone, datetime.timezone):
        offset = zone.utcoffset(None)
        return int(offset.total_seconds())
    if getattr(zone, "key", None) in UTC_NAMES:
        return 0
    return None


def _text(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _modifier_tree(column: str, periods: tuple[tuple[datetime.datetime, int], ...]) -> str:
    """SQL choosing the modifier ('+3600 seconds') of the period `column` falls in."""
    if len(periods) == 1:
        return f"'{periods[0][1]:+d} seconds'"
    middle = len(periods) // 2
    return (
        f"CASE WHEN {column} < '{_text(periods[middle][0])}' "
        f"THEN {_modifier_tree(column, periods[:middle])} "
        f"ELSE {_modifier_tree(column, periods[middle:])} END"
    )


def local_time_sql(function: str, column: str, zone: datetime.tzinfo, fallback: str) -> str:
    """SQLite SQL of `function` (a prefix such as "date(" or "strftime('%Y-%m-01', ")
    applied to the local time, in `zone`, of the stored UTC datetime text `column` (SQL
    without parameters), closed by ")"; `fallback` (SQL) for a value outside WINDOW or
    null. Examples: local_time_sql("date(", '"created_at"', zone, "...") is the local
    date as 'YYYY-MM-DD' text. A zone with one offset at every instant (UTC) needs no
    window and no fallback."""
    fixed = fixed_offset(zone)
    if fixed == 0:
        # UTC (the default) and its aliases: the stored value's own date, no window, no
        # choice, no modifier. Without a modifier SQLite keeps the parsed fields (no
        # rounding of the fraction through its millisecond day number), so no cut.
        return f"{function}{column})"
    if fixed is not None:
        return f"{function}substr({column}, 1, 19), '{fixed:+d} seconds')"
    periods = offset_periods(zone)
    start, end = WINDOW
    shifted = f"{function}substr({column}, 1, 19), {_modifier_tree(column, periods)})"
    return (
        f"CASE WHEN {column} >= '{_text(start)}' AND {column} < '{_text(end)}' "
        f"THEN {shifted} ELSE {fallback} END"
    )
