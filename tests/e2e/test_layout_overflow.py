"""Layout in a browser: nothing overlaps, nothing is clipped, nothing widens the page.

Three layouts a user found broken in Chromium: the stage path's buttons overlapping at
1280px ("Negotiation/Review" over "Closed Won"), the home page's Complete button clipped
by its card, and a long unbroken name in a page title making the page wider than the
window. Each check measures the boxes the browser laid out; a screenshot of every page
goes to /tmp/layout/ to be looked at.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from dealflow.people.models import Role
from dealflow.sales.models import OpportunityStage
from tests.e2e.browser import TABLET, WIDE, person, sign_in_as
from tests.factories import ContactFactory, LeadFactory, OpportunityFactory, TaskFactory

SCREENSHOTS = Path("/tmp/layout")
VIEWPORTS = {"wide": WIDE, "tablet": TABLET}


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def overlap(first: dict, second: dict) -> bool:
    """Whether two bounding boxes share any area (touching edges do not count)."""
    return (
        first["x"] < second["x"] + second["width"]
        and second["x"] < first["x"] + first["width"]
        and first["y"] < second["y"] + second["height"]
        and second["y"] < first["y"] + first["height"]
    )


def page_width(page: Page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


@pytest.fixture
def manager(transactional_db):
    """A sales manager who signs in as "mona"."""
    return person("mona", role=Role.MANAGER, first_name="Mona", last_name="Manager")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_stage_path_buttons_never_overlap(page: Page, live_server, manager, size):
    page.set_viewport_size(VIEWPORTS[size])
    deal = OpportunityFactory(
        name="Initech renewal",
        owner=manager,
        stage=OpportunityStage.objects.get(name="Prospecting"),
    )
    sign_in_as(page, live_server.url, "mona")
    page.goto(f"{live_server.url}/opportunities/{deal.public_id}/")
    path = page.get_by_role("navigation", name="Stage path")
    expect(path.get_by_role("button", name="Move to Negotiation/Review")).to_be_visible()
    steps = path.locator(".stage-path .btn, .stage-path .stage-path-current")
    count = steps.count()
    assert count == OpportunityStage.objects.count()
    shoot(page, f"opportunity-stage-path-{size}")
    boxes = []
    for index in range(count):
        step = steps.nth(index)
        name = (step.text_content() or "").removeprefix("Move to ").strip()
        box = step.bounding_box()
        assert box, f"the stage step {name!r} is not laid out"
        # The whole label shows: no text spills out of its button.
        spill = step.evaluate("(element) => element.scrollWidth - element.clientWidth")
        assert spill <= 0, f"at {size} {name!r} spills {spill}px out of its button"
        boxes.append((name, box))
    clashes = [
        (first, second)
        for position, (first, first_box) in enumerate(boxes)
        for second, second_box in boxes[position + 1 :]
        if overlap(first_box, second_box)
    ]
    assert not clashes, f"at {size} these stage buttons overlap: {clashes} ({boxes})"
    assert page_width(page) == VIEWPORTS[size]["width"]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_complete_button_of_an_overdue_task_fits_its_card(page: Page, live_server, rep, size):
    page.set_viewport_size(VIEWPORTS[size])
    contact = ContactFactory(first_name="Bartholomew", last_name="Featherstonehaugh", owner=rep)
    deal = OpportunityFactory(
        name="Globex Corporation enterprise renewal", account=contact.account, owner=rep
    )
    TaskFactory(
        subject="Send the revised proposal to procurement",
        type="call",
        owner=rep,
        contact=contact,
        opportunity=deal,
        due_date=timezone.localdate() - datetime.timedelta(days=3),
    )
    sign_in_as(page, live_server.url, "rita")
    card = page.get_by_role("region", name="My tasks due today and overdue")
    button = card.get_by_role("button", name="Complete Send the revised proposal to procurement")
    expect(button).to_be_visible()
    expect(card.get_by_text("Overdue", exact=True)).to_be_visible()
    shoot(page, f"home-tasks-{size}")
    card_box, button_box = card.bounding_box(), button.bounding_box()
    assert card_box and button_box
    inside = (
        button_box["x"] >= card_box["x"]
        and button_box["y"] >= card_box["y"]
        and button_box["x"] + button_box["width"] <= card_box["x"] + card_box["width"]
        and button_box["y"] + button_box["height"] <= card_box["y"] + card_box["height"]
    )
    assert inside, f"at {size} the Complete button {button_box} is outside its card {card_box}"
    # Nothing in the card scrolls out of sight: its table is no wider than the card.
    table = card.locator("table")
    hidden = table.evaluate("(table) => table.scrollWidth - table.parentElement.clientWidth")
    assert hidden <= 0, f"at {size} the tasks table is {hidden}px wider than its card"
    assert page_width(page) == VIEWPORTS[size]["width"]


def test_a_long_last_name_does_not_widen_the_lead_page(page: Page, live_server, rep):
    page.set_viewport_size(TABLET)
    lead = LeadFactory(last_name="W" * 40 + "x" * 40, owner_user=rep)
    assert len(lead.last_name) == 80
    sign_in_as(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/leads/{lead.public_id}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(lead.last_name[:20])
    shoot(page, "lead-long-name-tablet")
    assert page_width(page) == TABLET["width"]


def test_a_long_opportunity_name_does_not_widen_its_page(page: Page, live_server, rep):
    deal = OpportunityFactory(name="Q" * 60 + "m" * 60, owner=rep)
    assert len(deal.name) == 120
    sign_in_as(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/opportunities/{deal.public_id}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(deal.name[:20])
    shoot(page, "opportunity-long-name-wide")
    assert page_width(page) == WIDE["width"]
