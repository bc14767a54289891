"""The merge page in a browser: records with long names stand side by side, each with
its choices in view, at 1280 and 768 px."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from dealflow.core import ids
from tests.e2e.browser import TABLET, WIDE, sign_in_as
from tests.factories import LeadFactory

LONG_LAST = "Maximiliana-Konstantinopoulou-Wolfeschlegelsteinhausenbergerdorff"
LONG_COMPANY = "Fresh Duplicate Testing International Holdings Incorporated"


def test_two_leads_with_long_names_fit_side_by_side(page: Page, live_server, rep):
    leads = [
        LeadFactory(
            owner_user=rep,
            first_name="Bartholomew",
            last_name=LONG_LAST,
            company=LONG_COMPANY,
            email=email,
        )
        for email in ("one@dupco.example", "two@dupco.example")
    ]
    query = "&".join(f"ids={ids.encode('Lead', lead.pk)}" for lead in leads)
    sign_in_as(page, live_server.url, "rita")

    for size in (WIDE, TABLET):
        page.set_viewport_size(size)
        page.goto(f"{live_server.url}/duplicates/merge/?object=Lead&{query}&step=compare")

        table = page.locator(".merge-table")
        expect(table.get_by_text("Keep this one")).to_have_count(2)
        for email in ("one@dupco.example", "two@dupco.example"):
            expect(table.get_by_text(email)).to_be_in_viewport()
        # Nothing scrolls sideways: neither the page nor the table's box.
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        box = page.locator(".merge-table").locator("xpath=..")
        assert box.evaluate("element => element.scrollWidth <= element.clientWidth")
