"""Bearer-token authentication: `Authorization: Bearer dft_...`."""

from __future__ import annotations

import datetime

from django.utils import timezone
from ninja.security import HttpBearer

from dealflow.people.selectors import token_user
from dealflow.people.services import token_digest, token_used

# last_used_at is refreshed at most this often, so reads do not turn into writes.
_LAST_USED_PRECISION = datetime.timedelta(minutes=5)


class BearerToken(HttpBearer):
    """Finds the active token by its digest; the token itself is never stored or logged."""

    def authenticate(self, request, token: str):
        now = timezone.now()
        user = token_user(digest=token_digest(token), used_since=now - _LAST_USED_PRECISION)
        if user is None:
            return None
        if user.token_use_is_old:
            token_used(token_id=user.token_id, at=now)
        return user
