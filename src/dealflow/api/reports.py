"""Reports (docs/reports.md): the list of reports and each report's rows."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Reports"])
