"""Helpers the page tests share: a script to type into fields, a page's HTML, and the
queries a page costs once its caches are warm."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

XSS = "<script>alert(1)</script>"


def text(response) -> str:
    """The page's HTML as text."""
    return response.content.decode()


def queries_of(client, url: str) -> int:
    """The queries of a second GET of `url` (the first warms the session and the caches)."""
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)
