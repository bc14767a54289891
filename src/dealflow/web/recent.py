"""Recently viewed records, kept in the signed-in user's session (no query to record one).

Home shows them, read again through the selectors, so a record that was deleted or is no
longer shared drops out instead of showing a stale name.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

SESSION_KEY = "recently_viewed"
KEPT = 10


def remember(request: HttpRequest, record: Any) -> None:
    """Put a record a detail page shows at the top of the user's recently viewed."""
    entry = [record.object_name, record.public_id]
    viewed = [item for item in request.session.get(SESSION_KEY, []) if item != entry]
    request.session[SESSION_KEY] = [entry, *viewed][:KEPT]


def recently_viewed(request: HttpRequest) -> list[tuple[str, str]]:
    """(object name, public id) of the user's recently viewed records, newest first."""
    return [tuple(item) for item in request.session.get(SESSION_KEY, [])]  # type: ignore[misc]
