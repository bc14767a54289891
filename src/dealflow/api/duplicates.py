"""Duplicate control (docs/duplicates.md): the review queue, merge and undo."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Duplicates"])
