"""Bearer-token authentication: `Authorization: Bearer dft_...`."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from ninja.security import HttpBearer

from dealflow.api.middleware import log_storage_problem, storage_failure
from dealflow.core.cache import version_read
from dealflow.people.selectors import token_user
from dealflow.people.services import token_digest, token_used

# last_used_at is refreshed at most this often, so reads do not turn into writes.
_LAST_USED_PRECISION = datetime.timedelta(minutes=5)


class BearerToken(HttpBearer):
    """Finds the active token by its digest; the token itself is never stored or logged."""

    def authenticate(self, request, token: str):
        now = timezone.now()
        # The user carries the token's id, whether its use is old, and the configuration version.
        user: Any = token_user(digest=token_digest(token), used_since=now - _LAST_USED_PRECISION)
        if user is None:
            return None
        # The request's cached configuration is checked against the version read with the token.
        version_read(user.configuration_version)
        if user.token_use_is_old:
            note_token_use(user.token_id, now)
        return user


def note_token_use(token_id: int, at: datetime.datetime) -> None:
    """Record a token's last use, best effort: a database that refuses the write must not
    refuse the request, which may only read."""
    try:
        if connection.in_atomic_block:
            # A savepoint, so a refused write leaves the surrounding transaction usable.
            with transaction.atomic():
                token_used(token_id=token_id, at=at)
        else:
            token_used(token_id=token_id, at=at)  # autocommit: a statement of its own
    except DatabaseError as error:
        failure = storage_failure(error)
        log_storage_problem(
            logging.WARNING,
            "token-last-use",
            "could not record when an API token was last used (%s); requests go on%s",
            error,
            f"; check {failure.check}" if failure else "",
        )
