"""Reads of users, teams and queues (everyone signed in may see the directory)."""

from __future__ import annotations

import datetime
from functools import cache

from django.db import connection
from django.db.models import QuerySet

from dealflow.core import rows
from dealflow.core.cache import version_sql
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.selectors import record_by_id
from dealflow.people.models import ApiToken, Queue, Team, User


def user_list() -> QuerySet[User]:
    return User.objects.filter(is_active=True).select_related("team")


def user_get(*, user_id: str) -> User:
    return record_by_id(user_list(), user_id)


def user_list_all() -> QuerySet[User]:
    """Every user, deactivated ones too, with their team: what Settings lists, so an admin
    can find a deactivated user and reactivate them (user_list has active users only)."""
    return User.objects.select_related("team")


def user_get_any(*, user_id: str) -> User:
    """A user by public id, active or deactivated (Settings); NOT_FOUND otherwise."""
    return record_by_id(user_list_all(), user_id)


def token_list() -> QuerySet[ApiToken]:
    """Every API token with its user, newest first (Settings). Only a token's digest and
    first characters are stored: the token itself cannot be read back."""
    return ApiToken.objects.select_related("user").order_by("-created_at", "-id")


def team_list() -> QuerySet[Team]:
    return Team.objects.all()


def team_get(*, name: str) -> Team:
    team = Team.objects.filter(name=name).first()
    if team is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"team: no team named {name!r}", ["team"])
    return team


def queue_list() -> QuerySet[Queue]:
    return Queue.objects.prefetch_related("members")


def queue_get(*, queue_id: str) -> Queue:
    return record_by_id(queue_list(), queue_id)


@cache
def _token_user_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {rows.columns(User, 'u').sql}, t.{quote('id')}, "
        f"(t.{quote('last_used_at')} IS NULL OR t.{quote('last_used_at')} < %s), "
        f"({version_sql(vendor)}) "
        f"FROM {quote(ApiToken._meta.db_table)} t "
        f"JOIN {quote(User._meta.db_table)} u ON u.{quote('id')} = t.{quote('user_id')} "
        f"WHERE t.{quote('digest')} = %s AND t.{quote('revoked_at')} IS NULL "
        f"AND u.{quote('is_active')}"
    )


def token_user(*, digest: str, used_since: datetime.datetime) -> User | None:
    """The active user of an active token, or None.

    The user carries `token_id`, `token_use_is_old` when the token's last use was
    before `used_since`, and `configuration_version` (core/cache.py), read in the same
    statement. This runs on every API request, so it is one hand-written statement (see
    core/rows.py) instead of a compiled ORM query.
    """
    cutoff = connection.ops.adapt_datetimefield_value(used_since)
    with rows.prepared_cursor(connection) as cursor:
        cursor.execute(_token_user_sql(connection.vendor), [cutoff, digest])
        row = cursor.fetchone()
    if row is None:
        return None
    user = rows.from_row(User, rows.columns(User, "u"), row)
    user.token_id, user.token_use_is_old = row[-3], bool(row[-2])  # type: ignore[attr-defined]
    user.configuration_version = row[-1]  # type: ignore[attr-defined]
    return user
