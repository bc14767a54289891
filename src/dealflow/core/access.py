"""Who may see and change which record; every adapter reads through these rules.

The organisation-wide default of an object (SharingDefault: private, read, read/write;
read/write when unset, which suits a small team) says what everybody may do with
everybody's records. Beyond it: the owner always has full access, members of a queue
have it on the leads the queue owns, a manager has it on the records of the users in
their team, and admins have it on everything. A `None` actor is the system itself (the
console, migrations, scheduled jobs).

Tasks and contact roles follow the records they belong to (CONTROLLED_BY_PARENT);
everything else has an owner.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from django.db.models import Q, QuerySet

from dealflow.core.cache import ConfigurationCache
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import Access, SharingDefault

Record = TypeVar("Record", bound=models.Model)

_sharing_defaults: ConfigurationCache[dict[str, str]] = ConfigurationCache(
    lambda: dict(SharingDefault.objects.values_list("object_name", "access"))
)


def sharing_default(object_name: str) -> Access:
    """The organisation-wide default access of an object (cached, see core/cache)."""
    return Access(_sharing_defaults.get().get(object_name, Access.READ_WRITE))


def is_admin(actor: Any) -> bool:
    return actor is None or actor.is_superuser or actor.role == "admin"


# Records whose access follows the records they belong to ("controlled by parent", as
# Salesforce's activities and contact roles): the foreign keys to those records. Such a
# record is visible (editable) exactly when every record it is linked to is.
CONTROLLED_BY_PARENT = {
    "OpportunityContactRole": ("opportunity",),
    "Task": ("lead", "contact", "account", "opportunity"),
}


def _owned_q(actor: Any, model: type[models.Model], prefix: str) -> Q:
    """Records the actor owns, or owns through a queue or as the team's manager.

    `prefix` is the lookup path from the filtered model to `model` ("" for itself).
    """
    owns_through_queue = hasattr(model, "owner_queue")
    owner_field = prefix + ("owner_user" if owns_through_queue else "owner")
    condition = Q(**{owner_field: actor})
    if actor.role == "manager" and actor.team_id:
        condition |= Q(**{f"{owner_field}__team_id": actor.team_id})
    if owns_through_queue:
        condition |= Q(**{f"{prefix}owner_queue__in": actor.queues.values("pk")})
    return condition


def _own_access_q(actor: Any, model: type[models.Model], prefix: str, *, write: bool) -> Q:
    """The records of an owned object the actor may see (or change); Q() for all of them."""
    access = sharing_default(getattr(model, "object_name", model.__name__))
    unrestricted = access == Access.READ_WRITE if write else access != Access.PRIVATE
    if is_admin(actor) or unrestricted:
        return Q()
    return _owned_q(actor, model, prefix)


def _access_q(actor: Any, model: type[models.Model], *, write: bool) -> Q:
    """A filter for the records of `model` the actor may see (or change); Q() for all."""
    parents = CONTROLLED_BY_PARENT.get(getattr(model, "object_name", model.__name__))
    if not parents:
        return _own_access_q(actor, model, "", write=write)
    condition = Q()
    for field_name in parents:
        parent = model._meta.get_field(field_name).related_model
        allowed = _own_access_q(actor, parent, f"{field_name}__", write=write)  # type: ignore[arg-type]
        if allowed:  # an unset link restricts nothing; Q() (all records) would be lost in |
            condition &= Q(**{f"{field_name}__isnull": True}) | allowed
    return condition


def readable_q(actor: Any, model: type[models.Model]) -> Q:
    """A filter for the records of `model` the actor may see."""
    return _access_q(actor, model, write=False)


def editable_q(actor: Any, model: type[models.Model]) -> Q:
    """A filter for the records of `model` the actor may change or delete."""
    return _access_q(actor, model, write=True)


def readable(actor: Any, queryset: QuerySet[Record]) -> QuerySet[Record]:
    """The part of a queryset the actor may see."""
    condition = readable_q(actor, queryset.model)
    return queryset.filter(condition) if condition else queryset


def _matches(record: models.Model, condition: Q) -> bool:
    """Whether the record meets an access condition (no query when there is none)."""
    if not condition:
        return True
    return type(record)._default_manager.filter(condition, pk=record.pk).exists()


def can_read(actor: Any, record: models.Model) -> bool:
    """Whether the actor may see this record (at most one query)."""
    return _matches(record, readable_q(actor, type(record)))


def can_edit(actor: Any, record: models.Model) -> bool:
    """Whether the actor may change or delete this record (at most one query)."""
    return _matches(record, editable_q(actor, type(record)))


def require_edit(actor: Any, record: models.Model) -> None:
    """Refuse with INSUFFICIENT_ACCESS_OR_READONLY unless the actor may change the record."""
    if not can_edit(actor, record):
        # Name the record only to who may see it: a refusal must not confirm that a
        # record the actor cannot read exists (a contact's account, say).
        named = f"{type(record).__name__} {getattr(record, 'public_id', record.pk)}"
        if not can_read(actor, record):
            named = "a record you cannot see"
        raise DomainError(
            ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY, f"you may not change {named}", []
        )


def require_admin(actor: Any, what: str) -> None:
    """Refuse with INSUFFICIENT_ACCESS_OR_READONLY unless the actor is an admin."""
    if not is_admin(actor):
        raise DomainError(ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY, f"only admins change {what}")
