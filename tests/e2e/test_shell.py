"""The workspace's frame in a browser: signing in and out, the search box, Settings for admins."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from dealflow.people.models import Role
from tests.e2e.browser import assert_styled, at_path, person, sign_in, sign_in_as
from tests.factories import LeadFactory


def test_a_rep_signs_in_and_sees_my_work(page: Page, live_server, rep, screenshot):
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(at_path("/login/?next=/"))
    assert_styled(page)
    screenshot("login")

    sign_in(page, live_server.url, "rita")

    expect(page).to_have_url(at_path("/"))
    expect(page.get_by_role("heading", name="My work")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Rita Rep")
    assert_styled(page)
    screenshot("home")


def test_a_wrong_password_is_refused_with_a_message(page: Page, live_server, rep):
    sign_in(page, live_server.url, "rita", password="not-the-password")

    expect(page.get_by_role("alert")).to_contain_text(
        "Please enter a correct username and password"
    )
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(at_path("/login/?next=/"))


def test_sign_out_ends_the_session(page: Page, live_server, rep):
    sign_in_as(page, live_server.url, "rita")

    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(at_path("/login/"))
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(at_path("/login/?next=/"))


def test_the_search_box_finds_a_lead_by_prefix_under_leads(
    page: Page, live_server, rep, screenshot
):
    LeadFactory(first_name="Quentin", last_name="Zephyrine", company="Zeal Corp", owner_user=rep)
    LeadFactory(first_name="Other", last_name="Person", company="Else Ltd", owner_user=rep)
    sign_in_as(page, live_server.url, "rita")

    search = page.get_by_label("Search", exact=True)
    search.fill("zephyr")
    search.press("Enter")

    leads = page.get_by_role("region", name="Leads")
    expect(leads.get_by_role("link", name="Quentin Zephyrine")).to_be_visible()
    expect(leads).to_contain_text("Zeal Corp")
    expect(page.get_by_text("Other Person")).to_have_count(0)
    screenshot("search")

    leads.get_by_role("link", name="Quentin Zephyrine").click()
    expect(page).to_have_url(at_path(f"/leads/{_public_id('Quentin')}/"))


def _public_id(first_name: str) -> str:
    from dealflow.leads.models import Lead

    return Lead.objects.get(first_name=first_name).public_id


def test_settings_are_hidden_from_a_rep_and_refused(page: Page, live_server, rep, screenshot):
    sign_in_as(page, live_server.url, "rita")
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Leads")).to_be_visible()
    expect(navigation.get_by_role("link", name="Settings")).to_have_count(0)

    response = page.goto(f"{live_server.url}/settings/")

    assert response is not None and response.status == 403
    expect(page.get_by_text("Not allowed")).to_be_visible()
    assert_styled(page)
    screenshot("settings-refused")


def test_an_admin_sees_the_settings_link(page: Page, live_server, admin):
    sign_in_as(page, live_server.url, "ada")

    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Settings")).to_have_attribute("href", "/settings/")


@pytest.mark.parametrize("width", [1200, 1280, 1440])
def test_the_navigation_bar_fits_the_screen_for_every_role(
    page: Page, live_server, width, tmp_path_factory
):
    """At 1280 px a manager's bar (eleven sections) ran off the screen: the page was
    1367 px wide, the name cut to "Maria Garc" and Sign out out of sight. Checked from the
    navbar's expanding width (1200 px) up; the header's screenshots are in the session's
    temporary folder (screenshots/navigation-<role>-<width>.png)."""
    page.set_viewport_size({"width": width, "height": 800})
    for username, role, first_name, last_name in (
        ("ada", Role.ADMIN, "Alexandra", "Montgomery-Whitfield"),
        ("maria", Role.MANAGER, "Maria", "Garcia"),
        ("rita", Role.REP, "Rita", "Rep"),
    ):
        person(username, role=role, first_name=first_name, last_name=last_name)
        sign_in_as(page, live_server.url, username)
        page.goto(f"{live_server.url}/reports/")
        navigation = page.get_by_role("navigation", name="Main")
        sign_out = navigation.get_by_role("button", name="Sign out")
        expect(sign_out).to_be_visible()
        scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll_width <= width
        box = sign_out.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
        # The whole name is there (a long one is cut with an ellipsis, whole in its title).
        name = navigation.get_by_role("link", name=f"{first_name} {last_name}")
        expect(name).to_have_attribute("title", f"{first_name} {last_name}: change your password")
        folder = tmp_path_factory.getbasetemp() / "screenshots"
        folder.mkdir(exist_ok=True)
        page.locator("header").screenshot(path=str(folder / f"navigation-{role}-{width}.png"))
        sign_out.click()
