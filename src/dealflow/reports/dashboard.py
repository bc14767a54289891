"""The dashboard's figures, kept as of their last refresh (as Salesforce dashboards are).

A dashboard runs six aggregates over every lead and deal the viewer may see: at a
million leads that is about 2 seconds of database time (docs/benchmarks.md), too long
for a page a sales team opens many times a day. As in Salesforce ("a dashboard shows the
data as of its last refresh"), the results are kept and the page says when they were
computed; Refresh computes them again at once. They are kept per viewer and filters, in
Django's cache (this process's memory by default, Redis when REDIS_URL is set, so every
web process shares them), for `DEALFLOW_DASHBOARD_MAX_AGE` seconds (default 600; 0 keeps
nothing); after that the next view computes them again.

What a viewer may see decides the figures, so the key holds the viewer, their role and
team, and the configuration version (sharing defaults, stages, statuses: a change there
shows on the next view). A record changed since the refresh shows after the next one;
the lists a chart opens are always live.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import astuple, dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from dealflow.core.cache import current_version
from dealflow.reports.definitions import ReportFilters, ReportResult, report_run

RunKey = tuple[str, ReportFilters, int | None]


@dataclass
class DashboardResults:
    """The reports one dashboard view ran, keyed by (report, filters, limit), and when."""

    refreshed_at: datetime.datetime
    results: dict[RunKey, ReportResult] = field(default_factory=dict)


def dashboard_max_age() -> int:
    """How long, in seconds, a dashboard's results are shown before a view recomputes them."""
    return max(0, int(getattr(settings, "DEALFLOW_DASHBOARD_MAX_AGE", 600)))


def _cache_key(user: Any, scope: ReportFilters) -> str:
    parts = (
        current_version(),
        getattr(user, "pk", None),
        getattr(user, "role", None),
        getattr(user, "team_id", None),
        astuple(scope),
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    return f"dealflow:dashboard:{digest}"


class DashboardRunner:
    """`report_run` as `user` for one dashboard view, each (report, filters, limit) run
    once, its results kept for the next views under the same page filters (`scope`).

    `refresh=True` ignores kept results (the Refresh button). Call `keep()` once the page
    has run what it needs: the results are stored only then, and only if any were computed.
    """

    def __init__(self, user: Any, scope: ReportFilters, *, refresh: bool = False) -> None:
        self.user = user
        self.max_age = dashboard_max_age()
        self.key = _cache_key(user, scope)
        kept = None if refresh or not self.max_age else cache.get(self.key)
        self.kept = kept if isinstance(kept, DashboardResults) else DashboardResults(timezone.now())
        self._changed = False

    @property
    def refreshed_at(self) -> datetime.datetime:
        """When the shown figures were computed (now, for figures computed by this view)."""
        return self.kept.refreshed_at

    def __call__(self, name: str, filters: ReportFilters, limit: int | None = None) -> ReportResult:
        """The report's result (report_run's errors propagate and nothing is kept)."""
        key = (name, filters, limit)
        found = self.kept.results.get(key)
        if found is None:
            found = report_run(name, user=self.user, filters=filters, limit=limit)
            self.kept.results[key] = found
            self._changed = True
        return found

    def keep(self) -> None:
        """Store the results for later views (no-op when nothing new was computed)."""
        if self._changed and self.max_age:
            cache.set(self.key, self.kept, timeout=self.max_age)
            self._changed = False
