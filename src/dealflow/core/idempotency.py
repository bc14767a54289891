"""Doing an operation once per idempotency key: a retry gets the first result again.

The key's row is written first, in the operation's own transaction. A concurrent retry
with the same key waits on that row (PostgreSQL's unique index; SQLite's write lock) and
then replays the stored result instead of doing the work twice. A failed operation rolls
its key back with everything else, so it may simply be retried.

A key lasts DEALFLOW_IDEMPOTENCY_HOURS (24 by default), as Stripe's do: after that it
counts as unused, so a retry performs the operation again, and `idempotency_purge` (run
hourly by Celery beat, or by `dealflow purge`) deletes the expired rows.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import IdempotencyRecord

KEY_LENGTH = 255
# Rows the purge deletes per statement, so no transaction holds many locks for long.
PURGE_BATCH_SIZE = 1000


def expiry() -> datetime.timedelta:
    """How long a key is kept: DEALFLOW_IDEMPOTENCY_HOURS."""
    return datetime.timedelta(hours=settings.DEALFLOW_IDEMPOTENCY_HOURS)


def fingerprint(request: Any) -> str:
    """A digest of what was asked, to tell a true retry from a reused key."""
    text = (
        request
        if isinstance(request, bytes)
        else json.dumps(request, sort_keys=True, default=str).encode()
    )
    return hashlib.sha256(text).hexdigest()


def once(
    *,
    scope: str,
    key: str,
    request_fingerprint: str,
    actor: Any,
    perform: Callable[[], dict[str, Any]],
    key_field: str = "idempotency_key",
) -> tuple[dict[str, Any], bool]:
    """(result, replayed): perform() the first time, its stored result on a retry.

    The same key with another request is refused with IDEMPOTENCY_KEY_REUSED.
    """
    if not key.strip() or len(key) > KEY_LENGTH or "\x00" in key:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"{key_field}: 1 to {KEY_LENGTH} characters, no NUL",
            [key_field],
        )
    for _attempt in range(2):  # a second time only after deleting an expired row
        try:
            with transaction.atomic():
                stored = IdempotencyRecord.objects.create(
                    operation=scope,
                    key=key,
                    request_fingerprint=request_fingerprint,
                    result={},
                    actor=actor if getattr(actor, "pk", None) else None,
                )
                stored.result = perform()
                stored.save(update_fields=["result", "updated_at"])
                return stored.result, False
        except IntegrityError:
            earlier = IdempotencyRecord.objects.filter(operation=scope, key=key).first()
            if earlier is None:
                raise  # not our key: a real integrity problem
        # Checked only once the key is found taken, so a first request costs no query more.
        if earlier.created_at >= timezone.now() - expiry():
            break
        IdempotencyRecord.objects.filter(pk=earlier.pk, created_at=earlier.created_at).delete()
    if earlier.request_fingerprint != request_fingerprint:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            f"{key_field}: already used for a different request",
            [key_field],
        )
    return earlier.result, True


def idempotency_purge(*, older_than: datetime.timedelta | None = None) -> int:
    """Delete the keys older than `older_than` (default: the expiry); return how many.

    Deletes in batches of PURGE_BATCH_SIZE rows, each its own statement.
    """
    cutoff = timezone.now() - (expiry() if older_than is None else older_than)
    expired = IdempotencyRecord.objects.filter(created_at__lt=cutoff)
    deleted = 0
    while True:
        batch = list(expired.order_by("pk").values_list("pk", flat=True)[:PURGE_BATCH_SIZE])
        if not batch:
            return deleted
        count, _by_model = expired.filter(pk__in=batch).delete()
        deleted += count
