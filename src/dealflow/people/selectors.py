"""Reads of users, teams and queues (everyone signed in may see the directory)."""

from __future__ import annotations

import datetime

from django.db import connection
from django.db.models import QuerySet

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.selectors import record_by_id
from dealflow.people.models import ApiToken, Queue, Team, User


def user_list() -> QuerySet[User]:
    return User.objects.filter(is_active=True).select_related("team")


def user_get(*, user_id: str) -> User:
    return record_by_id(user_list(), user_id)


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


def _token_user_sql() -> str:
    user_table = User._meta.db_table
    token_table = ApiToken._meta.db_table
    return (
        f'SELECT u.*, t."id" AS token_id, '
        f'(t."last_used_at" IS NULL OR t."last_used_at" < %s) AS token_use_is_old '
        f'FROM "{token_table}" t JOIN "{user_table}" u ON u."id" = t."user_id" '
        f'WHERE t."digest" = %s AND t."revoked_at" IS NULL AND u."is_active"'
    )


def token_user(*, digest: str, used_since: datetime.datetime) -> User | None:
    """The active user of an active token, or None.

    The user carries `token_id`, and `token_use_is_old` when the token's last use was
    before `used_since`. This runs on every API request, so it is one raw statement
    (table names from the models, values as parameters) instead of a compiled ORM query.
    """
    cutoff = connection.ops.adapt_datetimefield_value(used_since)
    return next(iter(User.objects.raw(_token_user_sql(), [cutoff, digest])), None)
