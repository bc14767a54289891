"""Reads of users, teams and queues (everyone signed in may see the directory)."""

from __future__ import annotations

from django.db.models import QuerySet

from dealflow.core import ids
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.people.models import Queue, Team, User


def _by_public_id(queryset: QuerySet, object_name: str, public_id: str):
    try:
        _object, primary_key = ids.decode(public_id, object_name)
    except ids.InvalidIdError:
        primary_key = None
    record = queryset.filter(pk=primary_key).first() if primary_key else None
    if record is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"no {object_name} with id {public_id!r}", ["id"])
    return record


def user_list() -> QuerySet[User]:
    return User.objects.filter(is_active=True).select_related("team")


def user_get(*, user_id: str) -> User:
    return _by_public_id(user_list(), "User", user_id)


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
    return _by_public_id(queue_list(), "Queue", queue_id)
