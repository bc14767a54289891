"""Statements built once per process, for the few reads and writes every request makes.

Compiling an ORM query costs more CPU than running it: about 1 ms for a lead by primary
key, against 0.2 ms through a cursor. The token lookup, the read of one record by
primary key and the insert of a new lead and its audit event run on almost every API
request, so they use statements built once per process from the model's own metadata
(table and column names, never request data; values always go as parameters). Values
pass through the same conversions the ORM applies, both ways, so a record read or
written here equals one read or saved through the ORM. Models written here have no
save() overrides or signal receivers that this would skip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet

Record = TypeVar("Record", bound=Model)
Converter = Callable[[Any, Any, Any], Any]
MAX_PRIMARY_KEY = 2**63 - 1  # the largest key a (64-bit) row can have


def _database() -> BaseDatabaseWrapper:
    """This thread's connection itself: each attribute read through the `connection`
    proxy looks the thread's connection up again, which adds up over 40 fields."""
    return connections[DEFAULT_DB_ALIAS]


def prepared_cursor(database: BaseDatabaseWrapper) -> Any:
    """A cursor that has PostgreSQL plan its statement once per connection (see
    core/postgresql); an ordinary one elsewhere. Only for statements whose text is fixed."""
    prepared = getattr(database, "prepared_cursor", None)
    return prepared() if prepared else database.cursor()


@dataclass(frozen=True)
class Columns:
    """Every concrete column of a model, as SQL and as what `Model.from_db` takes."""

    sql: str  # '"t"."id", "t"."name", ...'
    attnames: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Converter, ...], Any], ...]


@cache
def _columns(model: type[Model], table_alias: str, vendor: str) -> Columns:
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((index, tuple(found), column))
    return Columns(
        sql=", ".join(f"{quote(table_alias)}.{quote(field.column)}" for field in fields),
        attnames=tuple(field.attname for field in fields),
        converters=tuple(converters),
    )


def attnames(model: type[Model]) -> tuple[str, ...]:
    """The attribute names of the model's columns, in the order rows here hold them."""
    return tuple(field.attname for field in model._meta.concrete_fields)


def columns(model: type[Model], table_alias: str) -> Columns:
    """The model's columns for a statement naming its table `table_alias`."""
    return _columns(model, table_alias, connection.vendor)


def _converted(
    model_columns: Columns, row: Sequence[Any], database: BaseDatabaseWrapper
) -> list[Any]:
    """The first `len(attnames)` values of a row, as the ORM would give them."""
    values = list(row[: len(model_columns.attnames)])
    for index, converters, column in model_columns.converters:
        for converter in converters:
            values[index] = converter(values[index], column, database)
    return values


def from_row(model: type[Record], model_columns: Columns, row: Sequence[Any]) -> Record:
    """The model instance of the first `len(attnames)` values of a row."""
    database = _database()
    values = _converted(model_columns, row, database)
    return model.from_db(database.alias, model_columns.attnames, values)


def fetch(queryset: QuerySet) -> list[tuple[Any, ...]]:
    """The queryset's rows as tuples of `attnames(model)`, without building model instances.

    The ORM compiles the query (filters, access rules, order); building a model per row
    is what this skips, which is most of the cost of a page of 50 records. A model
    query selects the concrete columns first, in field order, as `Model.from_db` expects.
    """
    model = queryset.model
    compiler = queryset.query.get_compiler(queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # a condition no row can meet, such as `pk__in=[]`
        return []
    model_columns = columns(model, model._meta.db_table)
    database = _database()
    with database.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    if not model_columns.converters:
        return fetched
    return [tuple(_converted(model_columns, row, database)) for row in fetched]


@cache
def _by_primary_key_sql(model: type[Model], vendor: str, for_update: bool) -> str:
    quote = connection.ops.quote_name
    table = model._meta.db_table
    sql = (
        f"SELECT {columns(model, table).sql} FROM {quote(table)} "
        f"WHERE {quote(table)}.{quote(model._meta.pk.column)} = %s"
    )
    if for_update and connection.features.has_select_for_update:
        sql += " FOR UPDATE"  # SQLite has no row locks: its writers queue for the file
    return sql


def by_primary_key(
    model: type[Record], primary_key: int, *, for_update: bool = False
) -> Record | None:
    """The record with this primary key, or None (one statement, nothing compiled).

    `for_update` locks the row until the transaction ends, like `select_for_update()`.
    """
    if not 0 < primary_key <= MAX_PRIMARY_KEY:
        return None
    database = _database()
    sql = _by_primary_key_sql(model, database.vendor, for_update)
    with prepared_cursor(database) as cursor:
        cursor.execute(sql, [primary_key])
        row = cursor.fetchone()
    if row is None:
        return None
    return from_row(model, columns(model, model._meta.db_table), row)


@cache
def _insert_statement(model: type[Model], vendor: str) -> tuple[str, tuple[Any, ...]]:
    quote = connection.ops.quote_name
    options = model._meta
    fields = tuple(field for field in options.concrete_fields if not field.primary_key)
    sql = (
        f"INSERT INTO {quote(options.db_table)} "
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if connection.features.can_return_columns_from_insert:
        sql += f" RETURNING {quote(options.pk.column)}"
    return sql, fields


def insert(record: Model) -> None:
    """Insert a new record (its key set by the database), as `record.save()` would."""
    database = _database()
    sql, fields = _insert_statement(type(record), database.vendor)
    values = [
        field.get_db_prep_save(field.pre_save(record, True), database)  # type: ignore[attr-defined]
        for field in fields
    ]
    with prepared_cursor(database) as cursor:
        cursor.execute(sql, values)
        if database.features.can_return_columns_from_insert:
            (record.pk,) = cursor.fetchone()
        else:
            record.pk = database.ops.last_insert_id(
                cursor, record._meta.db_table, record._meta.pk.column
            )
    record._state.adding = False
    record._state.db = database.alias
