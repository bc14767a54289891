"""Bearer-token authentication: `Authorization: Bearer dft_...`."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone
from ninja.security import HttpBearer

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
            token_used(token_id=user.token_id, at=now)
        return user
