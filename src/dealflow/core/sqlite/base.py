"""Django's SQLite backend, with every decimal stored exactly as an integer of its smallest unit.

SQLite has no exact decimal type: a DECIMAL column holds a 64-bit float, so
`9999999999999999.99` comes back as `10000000000000000` and `12345678901234.56` as
`.60` (Django keeps 15 significant digits of the float). Here a decimal field's value is
stored as an integer of its smallest unit (cents for a field with two decimal places):
`12345678901234.56` is stored as `1234567890123456`, exactly, and comparisons, ORDER BY
and SUM work on those integers unchanged. SQLite's SUM stops at 64 bits (it raises
"integer overflow"): `exact_sum_sql` sums a column exactly at any total, in SQLite's own
C code (see `core.fields.ExactSum`), and `decimal_sum()` sums in Python integers (one
Python call a row: kept for SQL written against it).

What this asks of SQL written against SQLite: arithmetic on a decimal column in SQL
(`F("amount") * 2` is fine, `F("amount") + 1` adds one cent) works in smallest units,
and an expression whose output field has no `decimal_places` is read unscaled. Reading
never fails: a value that is not a number (written by hand with another tool) reads as
None, and is logged.

PostgreSQL's NUMERIC needs none of this.
"""

from __future__ import annotations

import decimal
import logging
import os
from typing import Any

from django.db.backends.sqlite3 import base, operations

logger = logging.getLogger(__name__)


def to_smallest_unit(value: decimal.Decimal, decimal_places: int) -> int | str:
    """The integer of smallest units (`12.34` -> `1234` for two places).

    A value with more decimals than the field (`amount__gt=0.005`), or more digits than
    an integer holds, is passed on as exact text, which SQLite compares as a number.
    Services round and range-check what they store, so only a lookup carries one.
    """
    scaled = value.scaleb(decimal_places)
    if scaled != scaled.to_integral_value() or abs(scaled) >= 2**63:
        return str(scaled)
    return int(scaled)


# exact_sum_sql's result: "sum:<high>:<low>", the total being high x 2**32 + low.
EXACT_SUM_PREFIX = "sum:"
_LOW_BITS = 32
_LOW_MASK = 2**_LOW_BITS - 1


def exact_sum_sql(argument: str, after: str = "") -> str:
    """SQLite SQL summing the integers of `argument` (SQL) exactly at any total, in C.

    SQLite's SUM raises "integer overflow" past 2**63 - 1. Each value is split into its
    high bits (value >> 32, arithmetic: -2**31 to 2**31 - 1) and its low 32 bits
    (value & 0xFFFFFFFF, 0 to 2**32 - 1), summed apart: neither sum can overflow below
    2**31 rows (past that, SQLite raises rather than round). The result is text,
    "sum:<high sum>:<low sum>" (None when no value was summed), which
    `exact_sum_total` turns into the exact integer high x 2**32 + low; the decimal
    converter reads it too. `after` follows each SUM(...) (a FILTER clause). A value
    that is not an integer is cast to one (text '12.5' counts 12, as decimal_sum did).
    """
    high = f"SUM(({argument}) >> {_LOW_BITS}){after}"
    low = f"SUM(({argument}) & {_LOW_MASK}){after}"
    return f"('{EXACT_SUM_PREFIX}' || {high} || ':' || {low})"


def exact_sum_total(value: Any) -> Any:
    """The integer of exact_sum_sql's text ("sum:3:5" -> 3 x 2**32 + 5); any other
    value (None, a number, decimal_sum's text) as it is."""
    if isinstance(value, str) and value.startswith(EXACT_SUM_PREFIX):
        high, _, low = value[len(EXACT_SUM_PREFIX) :].partition(":")
        return (int(high) << _LOW_BITS) + int(low)
    return value


# Integers this far from 0 scale exactly in the default context (28 digits).
_EXACT_INT = 10**27


def from_smallest_unit(value: Any, decimal_places: int | None) -> decimal.Decimal | None:
    """The decimal of a stored integer (or the text exact_sum_sql or decimal_sum
    returns), never raising."""
    if value is None:
        return None
    if type(value) is int and decimal_places is not None and -_EXACT_INT < value < _EXACT_INT:
        # The common case, a stored integer: exact as it is (the same Decimal as below,
        # exponent -decimal_places, never -0), without the text and the quantize.
        return decimal.Decimal(value).scaleb(-decimal_places)
    value = exact_sum_total(value)
    try:
        number = decimal.Decimal(value if isinstance(value, int | str) else repr(value))
    except (decimal.InvalidOperation, TypeError, ValueError):
        logger.warning("a decimal column holds %r, which is not a number; read as null", value)
        return None
    if not number.is_finite():
        logger.warning("a decimal column holds %r, which is not a number; read as null", value)
        return None
    if decimal_places is None:
        return number
    number = number.scaleb(-decimal_places)
    exponent = decimal.Decimal(1).scaleb(-decimal_places)
    context = decimal.Context(prec=max(28, number.adjusted() + decimal_places + 2))
    number = number.quantize(exponent, rounding=decimal.ROUND_HALF_UP, context=context)
    return number if number else abs(number)  # never -0.00


class DecimalSum:
    """SUM of integers as a Python integer, returned as text (no 64-bit overflow)."""

    def __init__(self) -> None:
        self.total = 0
        self.seen = False

    def step(self, value: Any) -> None:
        if value is None:
            return
        self.seen = True
        self.total += int(value) if isinstance(value, int) else int(decimal.Decimal(str(value)))

    def finalize(self) -> str | None:
        return str(self.total) if self.seen else None


class DatabaseOperations(operations.DatabaseOperations):
    def adapt_decimalfield_value(
        self, value: Any, max_digits: int | None = None, decimal_places: int | None = None
    ) -> Any:
        if value is None or decimal_places is None:
            return super().adapt_decimalfield_value(value, max_digits, decimal_places)
        return to_smallest_unit(value, decimal_places)

    def get_decimalfield_converter(self, expression: Any) -> Any:
        decimal_places = getattr(expression.output_field, "decimal_places", None)

        def converter(value: Any, expression: Any, connection: Any) -> decimal.Decimal | None:
            return from_smallest_unit(value, decimal_places)

        return converter


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        # The file holds password hashes and token digests: created 0600 (SQLite gives its
        # -wal and -shm files the database's mode), and tightened if an older install
        # left it open. An in-memory or URI database has no file of ours.
        path = str(conn_params["database"])
        on_disk = not path.startswith("file:") and path not in ("", ":memory:")
        if on_disk and not os.path.exists(path):
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # no O_TRUNC: never empties
        connection = super().get_new_connection(conn_params)
        connection.create_aggregate("decimal_sum", 1, DecimalSum)
        for name in (path, f"{path}-wal", f"{path}-shm") if on_disk else ():
            status = os.stat(name) if os.path.exists(name) else None
            if status and status.st_mode & 0o077 and status.st_uid == os.getuid():
                os.chmod(name, 0o600)
        return connection
