"""What the browser tests share besides fixtures: people who sign in, and checks of a page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from dealflow.people.models import Role
from tests.factories import UserFactory

PASSWORD = "plum-Orbit-cascade-42"
WIDE = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}


def person(username: str, role: str = Role.REP, **fields):
    """A user who signs in with PASSWORD."""
    user = UserFactory(username=username, role=role, **fields)
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Through the login form, as a person does; the page is then where the form led."""
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_as(page: Page, base_url: str, username: str) -> None:
    """Signed in and on the home page."""
    sign_in(page, base_url, username)
    expect(page.get_by_role("heading", name="My work")).to_be_visible()


def assert_styled(page: Page) -> None:
    """Tabler's stylesheet is loaded and applied to the page."""
    loaded = page.evaluate(
        """() => [...document.styleSheets].some((sheet) =>
            (sheet.href || "").endsWith("/tabler.min.css") && sheet.cssRules.length > 500)"""
    )
    assert loaded, "tabler.min.css is not loaded"
    font = page.evaluate("() => getComputedStyle(document.body).fontFamily")
    # Tabler's sans-serif stack; the browser's default would be a serif font.
    assert "apple-system" in font, f"the body is not in Tabler's font: {font}"


def at_path(path: str) -> re.Pattern:
    """For expect(page).to_have_url: this path (and query) on the live server."""
    return re.compile(rf"^https?://[^/]+{re.escape(path)}$")
