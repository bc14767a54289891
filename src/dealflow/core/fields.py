"""Model fields of the ground floor: matching keys kept in step with the fields they copy."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any, TypeVar

from django.db import OperationalError, models
from django.db.models.expressions import BaseExpression
from django.utils.functional import cached_property

from dealflow.core.matching import NORMALISERS
from dealflow.core.sqlite.base import exact_sum_total


class MatchKeyField(models.CharField):
    """A normalised copy of other fields (see core/matching.py), for index-backed matching.

    The key is made from the first non-blank of `sources` whenever the record is saved
    (including `bulk_create` and `core.rows.insert`), so no writer can forget it; a
    `save(update_fields=...)` naming a source also writes the key (TimeStampedModel).
    Keys compare byte for byte: on PostgreSQL the column uses the "C" collation, the
    order SQLite's BINARY collation has, so prefix ranges and ORDER BY use the index
    and agree on both databases.
    """

    def __init__(
        self, *args: Any, sources: Iterable[str] = (), normaliser: str = "text", **kwargs: Any
    ) -> None:
        self.sources = tuple(sources)
        self.normaliser = normaliser
        kwargs.setdefault("max_length", 255)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["sources"] = list(self.sources)
        kwargs["normaliser"] = self.normaliser
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        parameters = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            parameters["collation"] = "C"
        return parameters

    def key_of(self, record: models.Model) -> str:
        """The key of the record's current source values."""
        value = next((text for name in self.sources if (text := getattr(record, name))), "")
        return NORMALISERS[self.normaliser](value)[: self.max_length]

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        key = self.key_of(model_instance)
        setattr(model_instance, self.attname, key)
        return key


def match_keys_of(model: type[models.Model], field_names: Iterable[str]) -> list[str]:
    """The matching keys of `model` made from any of `field_names`."""
    names = set(field_names)
    return [
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, MatchKeyField) and names.intersection(field.sources)
    ]


T = TypeVar("T")
_native_sums: ContextVar[bool] = ContextVar("native_sums", default=False)


def native_sums() -> bool:
    """Whether ExactSum (and SQL written like it) may use SQLite's own SUM now: inside
    exact_sums_run, whose retry keeps the result exact."""
    return _native_sums.get()


def exact_sums_run(function: Callable[[], T]) -> T:
    """`function()` with SQLite's own SUM for ExactSum (one aggregate step a row, in C),
    and again with the split sums (ExactSum's exact form) if SQLite raised "integer
    overflow": SQLite's SUM never rounds, it raises past 2**63 - 1, so the first result,
    when there is one, is exact. `function` must only read (it may run twice); other
    errors propagate. On PostgreSQL it simply runs once (NUMERIC sums are exact; a
    failed statement there would also end the transaction)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return function()
    token = _native_sums.set(True)
    try:
        return function()
    except (OperationalError, sqlite3.OperationalError) as error:
        if "integer overflow" not in str(error):
            raise
    finally:
        _native_sums.reset(token)
    return function()


class ExactSum(models.Sum):
    """SUM of a decimal (or integer) column, exact on both databases at any total.

    PostgreSQL's NUMERIC sum is exact. SQLite's own SUM stops at 64-bit integers (it
    raises "integer overflow"; decimals are stored there as integers of their smallest
    unit, see core/sqlite): there this sums each value's high and low 32 bits apart,
    in SQLite's C code (core.sqlite.base.exact_sum_sql), and the two sums are joined
    exactly in Python, once per group. Inside exact_sums_run it is SQLite's own SUM
    (half the work a row), run again split if it overflows. A FILTER applies to both
    sums. Returns what Sum returns (a Decimal for a decimal column, None when no row
    is summed).
    """

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        if native_sums():
            return super().as_sql(compiler, connection, function="SUM", **extra_context)
        # Django's Aggregate.as_sql, with a template of our own, compiles the FILTER
        # clause: "SUM((x) >> 32) FILTER (WHERE ...)"; the same for the low bits.
        parts = []
        for template in (
            "%(function)s((%(expressions)s) >> 32)",
            "%(function)s((%(expressions)s) & 4294967295)",
        ):
            part = self.copy()
            part.template = template
            parts.append(
                super(ExactSum, part).as_sql(compiler, connection, function="SUM", **extra_context)
            )
        (high, high_params), (low, low_params) = parts
        # The same text as exact_sum_sql (checked in tests/reports/test_exact_sums.py).
        return f"('sum:' || {high} || ':' || {low})", (*high_params, *low_params)

    @cached_property
    def convert_value(self) -> Any:
        # SQLite's text "sum:<high>:<low>" (the decimal converter reads it first for a
        # decimal column); then Sum's own conversion.
        inner = BaseExpression.convert_value.func(self)  # type: ignore[attr-defined]

        def convert(value: Any, expression: Any, connection: Any) -> Any:
            return inner(exact_sum_total(value), expression, connection)

        return convert
