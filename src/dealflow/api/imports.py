"""Import jobs (docs/import.md): upload a CSV, follow its progress, revert it."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Imports"])
