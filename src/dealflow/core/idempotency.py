"""Doing an operation once per idempotency key: a retry gets the first result again.

The key's row is written first, in the operation's own transaction. A concurrent retry
with the same key waits on that row (PostgreSQL's unique index; SQLite's write lock) and
then replays the stored result instead of doing the work twice. A failed operation rolls
its key back with everything else, so it may simply be retried.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import IdempotencyRecord

KEY_LENGTH = 255


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
    if earlier.request_fingerprint != request_fingerprint:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            f"{key_field}: already used for a different request",
            [key_field],
        )
    return earlier.result, True
