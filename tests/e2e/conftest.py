"""Browser tests: Playwright drives Chromium against pytest-django's live server.

They run in the normal `pytest` run, on SQLite and on PostgreSQL alike. The browser is
Debian's Chromium when /usr/bin/chromium exists (CI installs it, see .ci/run), else
Playwright's own (`playwright install chromium`). When no browser starts, every browser
test fails with a message saying how to get one: they are never skipped.

The tests are transactional (the live server answers from another thread) with
`serialized_rollback`, so the statuses and stages the migrations seed are back for the
next test; each test makes its own data with the factories.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect
from playwright.sync_api import Error as PlaywrightError

from dealflow.people.models import Role
from tests.e2e.browser import WIDE, person

# Playwright's sync API keeps an event loop running in this thread from the first browser
# test to the end of the session; Django refuses ORM calls under a running loop unless
# told it is safe, which it is here: the loop only waits on the browser.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
# No sandbox: CI containers run as root, where Chromium's sandbox cannot start.
CHROMIUM_ARGUMENTS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

expect.set_options(timeout=10_000)


def pytest_configure(config):
    # pytest-base-url (a dependency of pytest-playwright) defines its fixture the way
    # pytest 9 deprecates; nothing of ours to change.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:Session-scoped fixtures defined as instance methods:pytest.PytestRemovedIn10Warning",
    )


def pytest_collection_modifyitems(items):
    """Every browser test is transactional: the live server reads from its own thread."""
    marker = pytest.mark.django_db(transaction=True, serialized_rollback=True)
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(marker)


@pytest.fixture(scope="session")
def _serialized_databases(django_db_setup) -> dict[str, str]:
    """Each test database's contents as serialized when it was made (serialized_rollback)."""
    from django.db import connections

    return {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }


@pytest.fixture(scope="session")
def playwright(_serialized_databases: dict[str, str], playwright: Playwright):
    """pytest-playwright's, and Django's connections made whole again once it runs.

    Starting Playwright's sync API leaves this thread in another contextvars context,
    and Django keeps its connections per context (asgiref.local.Local): from then on
    the tests get new connection objects, without the serialized contents that
    `serialized_rollback` restores after each flush. They get them back here; the
    connections opened meanwhile are closed before Playwright stops (the original
    context's come back then), so none is left open on the test database.
    """
    from django.db import connections

    for alias, contents in _serialized_databases.items():
        connections[alias]._test_serialized_contents = contents
    yield playwright
    connections.close_all()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, browser_name: str) -> dict:
    """Debian's Chromium when installed (Playwright cannot download its own everywhere)."""
    if browser_name == "chromium" and DEBIAN_CHROMIUM.exists():
        return {
            **browser_type_launch_args,
            "executable_path": str(DEBIAN_CHROMIUM),
            "args": CHROMIUM_ARGUMENTS,
        }
    return browser_type_launch_args


@pytest.fixture(scope="session")
def browser(launch_browser: Callable[[], Browser]) -> Iterator[Browser]:
    """The browser, or a failure (never a skip) that says how to install one."""
    try:
        started = launch_browser()
    except PlaywrightError as error:
        pytest.fail(
            "The browser tests need Chromium and none could start. Install Debian's "
            "(`apt-get install chromium`, used from /usr/bin/chromium) or Playwright's "
            f"(`.venv/bin/playwright install chromium`).\nPlaywright said: {error}",
            pytrace=False,
        )
    yield started
    started.close()


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """Pages at 1280x800 (the docs' screenshots' size) unless a test resizes."""
    return {**browser_context_args, "viewport": WIDE}


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page whose console is watched: the test fails on a CSP refusal or a script error.

    `page.problems` lists the console errors and uncaught exceptions seen so far.
    """
    opened = context.new_page()
    problems: list[str] = []
    opened.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    opened.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    opened.problems = problems  # type: ignore[attr-defined]
    yield opened
    refused = [text for text in problems if "Content Security Policy" in text]
    uncaught = [text for text in problems if text.startswith("uncaught: ")]
    assert not refused, f"the Content Security Policy refused: {refused}"
    assert not uncaught, f"scripts failed: {uncaught}"


@pytest.fixture
def screenshot(page: Page, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """screenshot(name): the whole page as a PNG in the session's temporary folder."""
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def rep(transactional_db):
    """A sales rep who signs in as "rita"."""
    return person("rita", first_name="Rita", last_name="Rep")


@pytest.fixture
def admin(transactional_db):
    """An admin who signs in as "ada"."""
    return person("ada", role=Role.ADMIN, first_name="Ada", last_name="Admin")
