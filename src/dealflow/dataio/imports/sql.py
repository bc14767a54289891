"""Inserting an import batch's records with one statement built from the model's metadata.

`bulk_create` compiles an INSERT for every 20-odd rows on SQLite (its parameter limit)
and converts every value through the field's methods; for a million leads that costs
more than the database's own work. Here the statement is built once per model (table
and column names from the model, values always as parameters), primary keys are taken
up front (PostgreSQL: the table's sequence; SQLite: after the highest key ever used,
under the write lock the batch's transaction already holds), values that need it go
through the field's own conversion (`get_db_prep_save`, decimals included), matching
keys are made by their field (`MatchKeyField.key_of`), and the rows go in by
`executemany` (SQLite) or COPY (PostgreSQL).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection, Sequence
from functools import cache
from operator import attrgetter
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models

from dealflow.core.fields import MatchKeyField
from dealflow.core.matching import NORMALISERS

_PLAIN = (
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.IntegerField,
    models.ForeignKey,
)


@cache
def _plan(model: type[models.Model], vendor: str) -> tuple[str, tuple[tuple[str, Any], ...]]:
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    plan = []
    for field in fields:
        if isinstance(field, MatchKeyField):
            plan.append(("key", field))
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            plan.append(("now", field))
        elif isinstance(field, _PLAIN) and not isinstance(
            field, models.AutoField | models.BigAutoField
        ):
            plan.append(("plain", field))
        else:
            plan.append(("convert", field))
    columns = ", ".join(quote(field.column) for field in fields)
    if vendor == "postgresql":
        sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    else:
        placeholders = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"
    return sql, tuple(plan)


def _allocate(model: type[models.Model], count: int) -> list[int]:
    """`count` new primary keys. On SQLite the caller's transaction must already have
    written (holding the database's write lock), so nobody else takes these keys."""
    connection = connections[DEFAULT_DB_ALIAS]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [connection.ops.quote_name(table), model._meta.pk.column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        # The highest key ever used (AUTOINCREMENT never reuses a deleted record's key).
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT max({quote(model._meta.pk.column)}) FROM {quote(table)}")
        highest = max(row[0] if row else 0, cursor.fetchone()[0] or 0)
    return list(range(highest + 1, highest + 1 + count))


def insert_records(
    model: type[models.Model], records: Sequence[Any], now: datetime.datetime
) -> None:
    """Insert new records (their keys set here), as `bulk_create` would save them.

    `records` are model instances or any objects with the model's attribute names
    (`attname`: `owner_user_id`). Each row is read by one `attrgetter` of every column;
    only matching keys, times and the values a field must convert (decimals, dates) go
    through a function.
    """
    if not records:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    sql, plan = _plan(model, connection.vendor)
    keys = _allocate(model, len(records))
    pk_attname = model._meta.pk.attname
    now_attnames = [field.attname for kind, field in plan if kind == "now"]
    specials: list[tuple[int, Callable[[Any, Any], Any]]] = []
    for position, (kind, field) in enumerate(plan):
        if kind == "key" and len(field.sources) == 1:  # MatchKeyField.key_of, inlined
            specials.append(
                (
                    position,
                    lambda record, value, source=field.sources[0], normalise=NORMALISERS[field.normaliser], length=field.max_length: (
                        normalise(getattr(record, source) or "")[:length]
                    ),
                )
            )
        elif kind == "key":
            specials.append((position, lambda record, value, field=field: field.key_of(record)))
        elif kind == "now":
            prepared = field.get_db_prep_save(now, connection)
            specials.append((position, lambda record, value, prepared=prepared: prepared))
        elif kind == "convert" and field.attname != pk_attname:
            specials.append(
                (
                    position,
                    lambda record, value, field=field: (
                        None if value is None else field.get_db_prep_save(value, connection)
                    ),
                )
            )
    read = attrgetter(*(field.attname for _kind, field in plan))
    is_model = isinstance(records[0], models.Model)
    rows = []
    for key, record in zip(keys, records, strict=True):
        values = record.__dict__
        values[pk_attname] = key
        for attname in now_attnames:
            values[attname] = now
        if is_model:
            record._state.adding = False
            record._state.db = connection.alias
        row = list(read(record))
        for position, convert in specials:
            row[position] = convert(record, row[position])
        rows.append(row)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(sql, rows)


def insert_rows(
    model: type[models.Model], names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert rows of plain values for the fields `names` (their `attname`s), the primary
    key left to the table (its sequence or AUTOINCREMENT): one executemany (SQLite) or
    COPY (PostgreSQL). Values must be ready for the database (`get_db_prep_save`)."""
    if not rows:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    fields = {field.attname: field for field in model._meta.concrete_fields}
    columns = ", ".join(quote(fields[name].column) for name in names)
    table = quote(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(names))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)


def ids_by_key(
    model: type[models.Model], column: str, keys: Collection[str], *, unconverted: bool
) -> dict[str, int]:
    """{key: the lowest primary key of the rows whose `column` is that key} for `keys`
    (`unconverted`: only rows whose is_converted is false): one indexed query per 2,000
    keys, without the ORM's compilation of a long IN list."""
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    condition = f" AND NOT {quote('is_converted')}" if unconverted else ""
    wanted = list(keys)
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(wanted), 2000):
            chunk = wanted[start : start + 2000]
            cursor.execute(
                f"SELECT {quote(column)}, {pk} FROM {table} WHERE {quote(column)} IN "
                f"({', '.join(['%s'] * len(chunk))}){condition} ORDER BY {pk} DESC",
                chunk,
            )
            found.update(cursor.fetchall())
    return found
