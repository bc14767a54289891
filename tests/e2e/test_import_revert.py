"""Reverting an import in a browser: it asks first, and saying no changes nothing."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from dealflow.dataio.models import ImportJob, ImportStatus
from dealflow.leads.models import Lead
from tests.dataio.test_imports import LEAD_HEADER, lead_rows, run, write_csv
from tests.e2e.browser import sign_in_as


def test_reverting_an_import_asks_first_and_no_keeps_it(page: Page, live_server, rep, tmp_path):
    job = run(rep, "leads", write_csv(tmp_path, [LEAD_HEADER, *lead_rows(2)]))
    sign_in_as(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/imports/{job.pk}/")
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.dismiss() if len(asked) == 1 else dialog.accept()

    page.on("dialog", answer)
    page.get_by_role("button", name="Revert this import").click()

    assert asked == [
        "Revert this import? The records it created are deleted and the ones it updated "
        "get their earlier values back."
    ]
    assert (Lead.objects.count(), ImportJob.objects.get().status) == (2, ImportStatus.DONE)
    page.get_by_role("button", name="Revert this import").click()
    expect(page.get_by_text("Reverted").first).to_be_visible()
    assert (Lead.objects.count(), ImportJob.objects.get().status) == (0, ImportStatus.REVERTED)
