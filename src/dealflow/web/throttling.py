"""Login throttling with django-axes: who a sign-in comes from, and the log of locks and releases.

Failed sign-ins are counted per username and per client address (settings.AXES_*); the
lock and its release are logged on `dealflow.security`, with the username and address,
never the password.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger("dealflow.security")


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' lockout check, skipped for a check that comes with no request.

    Every login form passes its request; code that checks a password itself (a console
    command, a test) has no client address to count and no remote caller to slow down.
    """

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def client_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The username tried, trimmed and case-folded, so `Admin` and `admin ` count as one."""
    username = (credentials or {}).get("username")
    if username is None:
        username = request.POST.get("username")
    return username.strip().casefold() if isinstance(username, str) else None


def client_address(request: HttpRequest) -> str | None:
    """The client's address: the connection's, or the one the trusted proxies recorded.

    Each of DEALFLOW_PROXY_COUNT proxies appends the address it was reached from to
    X-Forwarded-For, so the client's is that many entries from the right; anything to
    its left was sent by the client and is not trusted.
    """
    proxies = settings.DEALFLOW_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [entry for entry in forwarded if entry]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def log_lock(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:  # an attempt while locked: refused, not counted
        logger.info("sign-in refused while locked: username %r from %s", username, ip_address)
        return
    logger.warning(
        "sign-in locked: username %r from %s after %s failures, for %s from the last one",
        username,
        ip_address,
        failures,
        settings.AXES_COOLOFF_TIME,
    )


def log_release(sender: Any, instance: Any, **kwargs: Any) -> None:
    # Axes deletes a client's failures when the cool-off has passed (noticed at the next
    # sign-in), or when an admin resets them (back office, `axes_reset`).
    if instance.failures_since_start >= settings.AXES_FAILURE_LIMIT:
        logger.warning(
            "sign-in lock released: username %r from %s (%s failures)",
            instance.username,
            instance.ip_address,
            instance.failures_since_start,
        )
    else:
        logger.info(
            "sign-in failures forgotten: username %r from %s (%s failures)",
            instance.username,
            instance.ip_address,
            instance.failures_since_start,
        )


def connect() -> None:
    """Log every lock and release (called once, from the app's ready())."""
    from axes.models import AccessAttempt
    from axes.signals import user_locked_out
    from django.db.models.signals import post_delete

    user_locked_out.connect(log_lock, dispatch_uid="dealflow.web.throttling.log_lock")
    post_delete.connect(
        log_release, sender=AccessAttempt, dispatch_uid="dealflow.web.throttling.log_release"
    )
