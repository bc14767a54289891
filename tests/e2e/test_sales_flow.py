"""Issue 11's acceptance in a browser: a rep's day from a new lead to a won deal.

Everything is found as a person finds it, by label, role and button name; the database
is read only to check what a step stored.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

from playwright.sync_api import Locator, Page, expect

from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead
from dealflow.sales.models import Opportunity, OpportunityStage
from tests.e2e.browser import TABLET, assert_styled, at_path, person, sign_in_as
from tests.factories import AccountFactory, LeadFactory, OpportunityFactory

CLOSE_DATE = datetime.date(2030, 6, 30)


def column(page: Page, stage: str) -> Locator:
    """A board column (its heading names it)."""
    return page.get_by_role("region", name=stage, exact=True)


def cards(page: Page, stage: str) -> Locator:
    """A board column's list of cards."""
    return page.get_by_role("list", name=stage, exact=True)


def card(page: Page, name: str) -> Locator:
    return page.locator(".board-card").filter(has=page.get_by_role("link", name=name, exact=True))


def total(page: Page, stage: str, figure: str) -> Locator:
    """A column header's figure: "Deals", "Total" or "Weighted"."""
    return (
        column(page, stage)
        .locator(".board-totals div")
        .filter(has=page.locator("dt", has_text=figure))
        .locator("dd")
    )


def drag(page: Page, dragged: Locator, target: Locator) -> None:
    """Drag by the mouse as a person does: press on the card, move it towards the column
    (holding it at the board's edge while the board scrolls), release over the column."""
    dragged.scroll_into_view_if_needed()
    start = dragged.bounding_box()
    assert start, "the card is not on screen"
    # The card's top-left padding: not its link, select or button (those do not drag).
    x, y = start["x"] + 4, start["y"] + 4
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 20, y + 10, steps=4)
    board = page.locator("#board").bounding_box()
    for attempt in range(200):
        end = target.bounding_box()
        if end and end["x"] + 40 < board["x"] + board["width"] and end["x"] > board["x"]:
            break
        # Near the board's right edge, a little apart each time so the browser keeps
        # sending dragover events; SortableJS scrolls the board.
        edge = board["x"] + board["width"] - 10 - (attempt % 2) * 3
        page.mouse.move(edge, y + 40, steps=2)
        page.wait_for_timeout(30)
    end = target.bounding_box()
    assert end, "the column did not come into view while dragging"
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 20, steps=10)
    page.mouse.up()


def test_a_rep_takes_a_lead_to_a_won_deal(page: Page, live_server, rep, screenshot):
    AccountFactory(name="Globex Corporation", owner=rep)
    OpportunityFactory(
        name="Umbrella pilot", amount=Decimal("20000"), owner=rep, close_date=CLOSE_DATE
    )
    OpportunityFactory(
        name="Hooli expansion",
        amount=Decimal("10000"),
        owner=rep,
        close_date=CLOSE_DATE,
        stage=OpportunityStage.objects.get(name="Closed Won"),
        probability=100,
        forecast_category="Closed",
    )
    sign_in_as(page, live_server.url, "rita")

    # A lead without a company is refused, the reason next to Company.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Leads").click()
    page.get_by_role("link", name="New lead").click()
    page.get_by_label("First Name", exact=True).fill("Grace")
    page.get_by_label("Last Name", exact=True).fill("Hopper")
    page.get_by_label("Email", exact=True).fill("grace@globex.test")
    page.get_by_role("button", name="Save").click()
    company = page.get_by_label("Company", exact=True)
    expect(company).to_have_attribute("aria-invalid", "true")
    expect(company).to_have_accessible_description(re.compile(r"\w"))
    screenshot("lead-refused")
    assert Lead.objects.count() == 0

    company.fill("Globex Corporation")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
    lead = Lead.objects.get(last_name="Hopper")
    expect(page).to_have_url(at_path(f"/leads/{lead.public_id}/"))
    assert_styled(page)

    # The convert page suggests the account of the same name; the deal goes into it.
    page.get_by_role("link", name="Convert").click()
    expect(page.get_by_role("heading", name="Convert Lead")).to_be_visible()
    suggested = page.get_by_role("radio", name="Globex Corporation", exact=True)
    expect(suggested).to_be_visible()
    suggested.check()
    # The preview follows the choice (and the contact and opportunity options are redrawn).
    preview = page.get_by_role("region", name="Preview")
    expect(preview.get_by_role("listitem").filter(has_text="Account")).to_contain_text("Existing")
    page.get_by_label("Opportunity Name").fill("Globex 500 seats")
    expect(preview).to_contain_text("Globex 500 seats")
    screenshot("convert")
    page.get_by_role("button", name="Convert", exact=True).click()
    expect(page.get_by_role("heading", name="Lead converted")).to_be_visible()
    deal = Opportunity.objects.get(name="Globex 500 seats")
    assert deal.account.name == "Globex Corporation"
    assert Opportunity.objects.filter(account__name="Globex Corporation").count() == 1

    # The deal gets its amount on its own page.
    page.get_by_role("link", name="Globex 500 seats").click()
    page.get_by_role("link", name="Edit").click()
    # The form shows the deal as it is: its Close Date (from the conversion) is kept.
    expect(page.get_by_label("Close Date", exact=True)).to_have_value(deal.close_date.isoformat())
    page.get_by_label("Amount", exact=True).fill("50000")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Globex 500 seats", exact=True)).to_be_visible()
    expect(page.get_by_text("Amount 50,000.00")).to_be_visible()

    # On the board, in Prospecting; dragged to Closed Won, both columns' totals change.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pipeline").click()
    expect(cards(page, "Prospecting").get_by_role("link", name="Globex 500 seats")).to_be_visible()
    expect(total(page, "Prospecting", "Deals")).to_have_text("2")
    expect(total(page, "Prospecting", "Total")).to_have_text("70,000.00")
    expect(total(page, "Closed Won", "Deals")).to_have_text("1")
    expect(total(page, "Closed Won", "Total")).to_have_text("10,000.00")
    assert_styled(page)
    screenshot("board-before")

    drag(page, card(page, "Globex 500 seats"), cards(page, "Closed Won"))

    expect(cards(page, "Closed Won").get_by_role("link", name="Globex 500 seats")).to_be_visible()
    expect(total(page, "Prospecting", "Deals")).to_have_text("1")
    expect(total(page, "Prospecting", "Total")).to_have_text("20,000.00")
    expect(total(page, "Closed Won", "Deals")).to_have_text("2")
    expect(total(page, "Closed Won", "Total")).to_have_text("60,000.00")
    expect(page.locator("#board-alert")).to_be_hidden()
    screenshot("board-after")
    deal.refresh_from_db()
    assert deal.stage.name == "Closed Won"

    # The move is a row of the deal's stage history.
    cards(page, "Closed Won").get_by_role("link", name="Globex 500 seats").click()
    history = page.get_by_role("table", name="Stage History")
    expect(history.get_by_role("row").filter(has_text="Closed Won")).to_have_count(1)
    expect(history.get_by_role("row").filter(has_text="Closed Won")).to_contain_text("Rita Rep")
    screenshot("opportunity")


def test_cancelling_the_loss_reason_puts_the_card_back(page: Page, live_server, rep):
    OpportunityFactory(
        name="Initech renewal", amount=Decimal("8000"), owner=rep, close_date=CLOSE_DATE
    )
    sign_in_as(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/pipeline/")
    expect(total(page, "Closed Lost", "Deals")).to_have_text("0")

    drag(page, card(page, "Initech renewal"), cards(page, "Closed Lost"))

    dialog = page.get_by_role("dialog", name="Why was this deal lost?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Loss Reason")).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(cards(page, "Prospecting").get_by_role("link", name="Initech renewal")).to_be_visible()
    expect(cards(page, "Closed Lost").get_by_role("link", name="Initech renewal")).to_have_count(0)
    expect(total(page, "Prospecting", "Deals")).to_have_text("1")
    expect(total(page, "Closed Lost", "Deals")).to_have_text("0")
    assert Opportunity.objects.get(name="Initech renewal").stage.name == "Prospecting"


def test_a_rep_changes_the_owner_of_three_leads_at_once(page: Page, live_server, rep):
    sam = person("sam", first_name="Sam", last_name="Seller")
    names = ["Ames", "Baker", "Chen", "Diaz"]
    leads = [
        LeadFactory(first_name="Lee", last_name=name, company=f"{name} Ltd", owner_user=rep)
        for name in names
    ]
    sign_in_as(page, live_server.url, "rita")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Leads").click()

    for name in names[:3]:
        page.get_by_role("checkbox", name=f"Lee {name}").check()
    page.get_by_label("New owner").select_option(label="Sam Seller")
    page.get_by_role("button", name="Change owner").click()

    expect(page.get_by_role("status")).to_contain_text("3")
    owners = {lead.last_name: lead.owner_user_id for lead in Lead.objects.all()}
    assert owners == {"Ames": sam.pk, "Baker": sam.pk, "Chen": sam.pk, "Diaz": rep.pk}
    expect(page.get_by_role("checkbox", name="Lee Diaz")).to_be_visible()
    assert leads[3].public_id


def test_a_rep_gets_404_on_a_private_lead_of_another_rep_and_403_on_settings(
    page: Page, live_server, rep
):
    sharing_default_set(actor=None, object_name="Lead", access="private")
    theirs = LeadFactory(last_name="Secret", owner_user=person("sam"))
    sign_in_as(page, live_server.url, "rita")

    response = page.goto(f"{live_server.url}/leads/{theirs.public_id}/")

    assert response is not None and response.status == 404
    expect(page.get_by_text("Not found")).to_be_visible()
    expect(page.get_by_text("Secret")).to_have_count(0)
    response = page.goto(f"{live_server.url}/settings/")
    assert response is not None and response.status == 403
    expect(page.get_by_text("Not allowed")).to_be_visible()


def test_at_tablet_width_the_navigation_and_the_board_are_usable(
    page: Page, live_server, rep, screenshot
):
    OpportunityFactory(
        name="Soylent trial", amount=Decimal("5000"), owner=rep, close_date=CLOSE_DATE
    )
    page.set_viewport_size(TABLET)
    sign_in_as(page, live_server.url, "rita")
    navigation = page.get_by_role("navigation", name="Main")
    # The bar either shows its links or folds them behind its toggle button.
    toggle = page.get_by_role("button", name="Show the navigation")
    if toggle.is_visible():
        toggle.click()
    for label in ("Home", "Leads", "Accounts", "Contacts", "Opportunities", "Pipeline", "Tasks"):
        expect(navigation.get_by_role("link", name=label, exact=True)).to_be_in_viewport()
    expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
    assert_fits(page)
    screenshot("tablet-home")

    navigation.get_by_role("link", name="Pipeline").click()
    expect(column(page, "Prospecting")).to_be_in_viewport()
    assert_fits(page)
    screenshot("tablet-board")

    # Without dragging: the card's own "Move to" form.
    page.get_by_label("Move Soylent trial to").select_option("Qualification")
    page.get_by_role("button", name="Move Soylent trial").click()
    expect(cards(page, "Qualification").get_by_role("link", name="Soylent trial")).to_be_visible()
    assert Opportunity.objects.get(name="Soylent trial").stage.name == "Qualification"


def assert_fits(page: Page) -> None:
    """The page does not scroll sideways (a wide board scrolls inside its own box)."""
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"
