"""The dashboard's figures, kept as of their last refresh (as Salesforce dashboards are).

A dashboard runs six aggregates over every lead and deal the viewer may see: at a
million leads that is about 2 seconds of database time (docs/benchmarks.md), too long
for a page a sales team opens many times a day. As in Salesforce ("a dashboard shows the
data as of its last refresh"), the results are kept and the page says when they were
computed; Refresh computes them again at once. They are kept per viewer and filters in
the database (`DashboardFigures`), so every web process and machine shows the same
figures, for `DEALFLOW_DASHBOARD_MAX_AGE` seconds (default 600; 0 keeps nothing); after
that the next view computes them again.

What a viewer may see decides the figures, so the key holds the viewer, their role and
team, and the configuration version (sharing defaults, stages, statuses: a change there
shows on the next view). A record changed since the refresh shows after the next one;
the lists a chart opens are always live.

Results are stored as JSON with their types tagged (Decimal, date, datetime), never
pickled: reading them back runs no code from the database.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import astuple, dataclass, field, fields
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from dealflow.core.cache import current_version
from dealflow.reports.definitions import Column, ReportFilters, ReportResult, report_run
from dealflow.reports.models import DashboardFigures

RunKey = tuple[str, ReportFilters, int | None]


@dataclass
class DashboardResults:
    """The reports one dashboard view ran, keyed by (report, filters, limit), and when."""

    refreshed_at: datetime.datetime
    results: dict[RunKey, ReportResult] = field(default_factory=dict)


def dashboard_max_age() -> int:
    """How long, in seconds, a dashboard's results are shown before a view recomputes them."""
    return max(0, int(getattr(settings, "DEALFLOW_DASHBOARD_MAX_AGE", 600)))


def _figures_key(user: Any, scope: ReportFilters) -> str:
    parts = (
        current_version(),
        getattr(user, "pk", None),
        getattr(user, "role", None),
        getattr(user, "team_id", None),
        astuple(scope),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


class DashboardRunner:
    """`report_run` as `user` for one dashboard view, each (report, filters, limit) run
    once, its results kept for the next views under the same page filters (`scope`).

    `refresh=True` ignores kept results (the Refresh button). Call `keep()` once the page
    has run what it needs: the results are stored only then, and only if any were computed.
    """

    def __init__(self, user: Any, scope: ReportFilters, *, refresh: bool = False) -> None:
        self.user = user
        self.max_age = dashboard_max_age()
        self.key = _figures_key(user, scope)
        kept = None if refresh or not self.max_age else _load(self.key)
        self.kept = kept or DashboardResults(timezone.now())
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
        """Store the results for later views (no-op when nothing new was computed), and
        drop every viewer's expired ones."""
        if not (self._changed and self.max_age):
            return
        now = timezone.now()
        DashboardFigures.objects.filter(expires_at__lte=now).delete()
        DashboardFigures.objects.bulk_create(
            [
                DashboardFigures(
                    key=self.key,
                    refreshed_at=self.kept.refreshed_at,
                    expires_at=self.kept.refreshed_at + datetime.timedelta(seconds=self.max_age),
                    results=_encoded_results(self.kept.results),
                )
            ],
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=["refreshed_at", "expires_at", "results"],
        )
        self._changed = False


def _load(key: str) -> DashboardResults | None:
    found = (
        DashboardFigures.objects.filter(key=key, expires_at__gt=timezone.now())
        .values_list("refreshed_at", "results")
        .first()
    )
    if found is None:
        return None
    refreshed_at, results = found
    return DashboardResults(refreshed_at, _decoded_results(results))


# -- JSON with tagged types ----------------------------------------------------------------


def _encoded(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dict):
        return {"$dict": [[key, _encoded(item)] for key, item in value.items()]}
    if isinstance(value, list | tuple):
        return [_encoded(item) for item in value]
    return value  # str, int, float, bool, None


def _decoded(value: Any) -> Any:
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    if not isinstance(value, dict):
        return value
    ((tag, payload),) = value.items()
    if tag == "$decimal":
        return Decimal(payload)
    if tag == "$datetime":
        return datetime.datetime.fromisoformat(payload)
    if tag == "$date":
        return datetime.date.fromisoformat(payload)
    return {key: _decoded(item) for key, item in payload}


def _encoded_filters(filters: ReportFilters) -> dict[str, Any]:
    return {item.name: _encoded(getattr(filters, item.name)) for item in fields(filters)}


def _decoded_filters(values: dict[str, Any]) -> ReportFilters:
    return ReportFilters(**{name: _decoded(value) for name, value in values.items()})


def _encoded_results(results: dict[RunKey, ReportResult]) -> list[dict[str, Any]]:
    return [
        {
            "report": name,
            "filters": _encoded_filters(filters),
            "limit": limit,
            "result": {
                "name": result.name,
                "filters": _encoded_filters(result.filters),
                "columns": [[column.name, column.label, column.kind] for column in result.columns],
                "rows": [_encoded(row) for row in result.rows],
                "total": result.total,
            },
        }
        for (name, filters, limit), result in results.items()
    ]


def _decoded_results(entries: list[dict[str, Any]]) -> dict[RunKey, ReportResult]:
    decoded: dict[RunKey, ReportResult] = {}
    for entry in entries:
        stored = entry["result"]
        key = (entry["report"], _decoded_filters(entry["filters"]), entry["limit"])
        decoded[key] = ReportResult(
            name=stored["name"],
            filters=_decoded_filters(stored["filters"]),
            columns=[Column(*column) for column in stored["columns"]],
            rows=[_decoded(row) for row in stored["rows"]],
            total=stored["total"],
        )
    return decoded
