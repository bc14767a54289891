"""Background jobs of sales: Celery tasks, run by a worker or, without a broker, in-process."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable

from django.core.cache import cache
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from dealflow.celery import app
from dealflow.sales.selectors import StalledDeal, stalled_deals

# How long an owner's digest is remembered as sent: a retry the same day sends it once.
SENT_MARK_SECONDS = 2 * 24 * 60 * 60


@app.task(name="dealflow.sales.tasks.email_stalled_deals")
def email_stalled_deals(owner_ids: list[int]) -> dict[str, int]:
    """Email each of these owners (User ids) one digest of their stalled deals, through
    Django's email backend (EMAIL_BACKEND; the console by default).

    One selector call (sales.selectors.stalled_deals) reads the deals as they are now.
    Safe to retry: a digest is marked sent in Django's cache by owner, day and deals
    after it goes out, so a retry (or a second run the same day) skips those already
    sent, and sends again only when the owner's stalled deals changed. Owners without
    an email address, or without stalled deals, get nothing.

    Returns {"sent": digests sent, "already_sent": skipped as sent, "no_address": owners
    with stalled deals but no email address}.
    """
    counts = {"sent": 0, "already_sent": 0, "no_address": 0}
    by_owner: dict[int, list[StalledDeal]] = {}
    for deal in stalled_deals(owner_ids=owner_ids):
        by_owner.setdefault(deal.owner_id, []).append(deal)
    today = timezone.localdate()
    for owner_id, deals in by_owner.items():
        address = deals[0].owner_email
        if not address:
            counts["no_address"] += 1
            continue
        mark = _sent_mark(owner_id, today, (deal.id for deal in deals))
        if cache.get(mark):
            counts["already_sent"] += 1
            continue
        subject, body = stalled_digest(deals)
        send_mail(subject, body, None, [address])
        cache.set(mark, True, SENT_MARK_SECONDS)
        counts["sent"] += 1
    return counts


@app.task(name="dealflow.sales.tasks.email_stalled_digests")
def email_stalled_digests() -> dict[str, int]:
    """The scheduled stalled-deal digest (daily; what `dealflow stalled --notify` does):
    email every owner of a stalled deal their digest (email_stalled_deals). Safe to
    retry for the same reason. Returns email_stalled_deals's counts.
    """
    owner_ids = sorted({deal.owner_id for deal in stalled_deals()})
    if not owner_ids:
        return {"sent": 0, "already_sent": 0, "no_address": 0}
    return email_stalled_deals(owner_ids)


def _sent_mark(owner_id: int, day: datetime.date, deal_ids: Iterable[int]) -> str:
    """The cache key of one owner's digest of these deals on this day."""
    deals = ",".join(str(pk) for pk in sorted(deal_ids))
    digest = hashlib.sha256(deals.encode()).hexdigest()[:16]
    return f"dealflow:stalled-digest:{owner_id}:{day.isoformat()}:{digest}"


def stalled_digest(deals: list[StalledDeal]) -> tuple[str, str]:
    """(subject, plain-text body) of one owner's email about their stalled deals."""
    count = len(deals)
    subject = f"{count} stalled deal{'' if count == 1 else 's'} need your attention"
    lines = [f"Hello {deals[0].owner_name},", "", "These open deals of yours are stalled:", ""]
    for deal in deals:
        lines.append(f"- {deal.name} ({deal.stage_name}, Close Date {deal.close_date.isoformat()})")
        lines.extend(f"    {reason}" for reason in deal.reasons)
        lines.append(f"    {reverse('opportunity_detail', args=[deal.public_id])}")
    lines += ["", "Move each forward, log an activity or update its close date.", ""]
    return subject, "\n".join(lines)
