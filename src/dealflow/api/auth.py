"""Bearer-token authentication: `Authorization: Bearer dft_...`."""

from __future__ import annotations

import datetime

from django.utils import timezone
from ninja.security import HttpBearer

from dealflow.people.models import ApiToken
from dealflow.people.services import token_digest

# last_used_at is refreshed at most this often, so reads do not turn into writes.
_LAST_USED_PRECISION = datetime.timedelta(minutes=5)


class BearerToken(HttpBearer):
    """Finds the active token by its digest; the token itself is never stored or logged."""

    def authenticate(self, request, token: str):
        api_token = (
            ApiToken.objects.select_related("user", "user__team")
            .filter(digest=token_digest(token), revoked_at=None, user__is_active=True)
            .first()
        )
        if api_token is None:
            return None
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > _LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        return api_token.user
