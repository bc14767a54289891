"""Screenshots of the workspace for the docs, at 1280x800, from the demo's data.

    .venv/bin/python bench/screenshots.py [--out docs/images] [--user spatel]

What it does, in one run:

1. Makes a fresh SQLite database in a temporary folder (DEALFLOW_VAR_DIR; DATABASE_URL
   and the other DEALFLOW_ variables of the caller are not used): `dealflow migrate`,
   `dealflow demo`, then gives the demo user --user a password of its own and picks, from
   that user's open leads, one whose company is also an account's name (so the convert
   page suggests that account); with none, it makes its newest lead's company an account.
2. Starts `dealflow serve` (gunicorn, one worker) on a free port of 127.0.0.1.
3. Signs in through the login form with Playwright and Chromium (Debian's
   /usr/bin/chromium when installed, else Playwright's own) and writes the window
   (1280x800, not the whole page) of:
   - pipeline.png: the board, every deal the user can see;
   - lead.png: that lead's page;
   - convert.png: its convert page, the suggested account chosen, with the preview.
   A page that is not 200, or whose Content Security Policy refused something, fails
   the run and writes nothing for it.
4. Stops the server and removes the temporary folder.

The demo's data depends on the day (same seed, same day, same data), so the images
differ a little from one day to the next. Not run by pytest or `make test`; `make
bench` runs it with the other scripts of bench/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGUMENTS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WINDOW = {"width": 1280, "height": 800}

# Run in the demo's database by `python -c`: the user's password, and the lead to show.
# When no open lead of theirs names an existing account, the newest one's company becomes
# an account (through the service, as the user), as when a rep met the company before.
PREPARE = """
import json, sys, django
django.setup()
from dealflow.accounts.models import Account
from dealflow.accounts.services import account_create
from dealflow.leads.models import Lead
from dealflow.people.models import User
user = User.objects.get(username=sys.argv[1])
user.set_password(sys.argv[2])
user.save(update_fields=["password"])
names = set(Account.objects.values_list("name", flat=True))
leads = Lead.objects.filter(owner_user=user, is_converted=False).order_by("-created_at")
matching = [lead for lead in leads[:2000] if lead.company in names]
lead = (matching or list(leads[:1]))[0]
if not matching:
    account_create(actor=user, data={"name": lead.company, "website": lead.website,
                                     "billing_city": lead.city, "industry": lead.industry})
print(json.dumps({"lead": lead.public_id, "company": lead.company}))
"""


def environment(var_dir: Path) -> dict[str, str]:
    """The caller's environment without its database or dealflow settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "DATABASE_URL" and not name.startswith("DEALFLOW_")
    }
    env.update(DJANGO_SETTINGS_MODULE="dealflow.settings", DEALFLOW_VAR_DIR=str(var_dir))
    return env


def dealflow(env: dict[str, str], *arguments: str) -> str:
    """Run a dealflow command; its standard output, or the run stops with its error."""
    result = subprocess.run(
        [sys.executable, "-m", "dealflow.cli", *arguments],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if result.returncode:
        sys.exit(f"dealflow {' '.join(arguments)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server(env: dict[str, str], port: int) -> Iterator[str]:
    """`dealflow serve` on `port` until the block ends; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dealflow.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if process.poll() is not None:
                sys.exit(f"dealflow serve stopped:\n{process.stderr.read()}")
            try:
                urllib.request.urlopen(f"{url}/login/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            sys.exit("dealflow serve did not answer within 20 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def launch(playwright):
    """Debian's Chromium when installed, else Playwright's own."""
    if DEBIAN_CHROMIUM.exists():
        return playwright.chromium.launch(
            executable_path=str(DEBIAN_CHROMIUM), args=CHROMIUM_ARGUMENTS
        )
    return playwright.chromium.launch()


def take(page, url: str, path: Path, problems: list[str], prepare=None) -> None:
    """Open `url`, let `prepare(page)` set it up, and write the window to `path`."""
    problems.clear()
    response = page.goto(url)
    if response is None or response.status != 200:
        sys.exit(f"{url} answered {response and response.status}; no {path.name} written")
    if prepare:
        prepare(page)
    page.wait_for_load_state("networkidle")
    refused = [text for text in problems if "Content Security Policy" in text]
    if refused:
        sys.exit(f"{url}: the Content Security Policy refused {refused}")
    page.screenshot(path=str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def screenshots(base_url: str, username: str, password: str, shown: dict, out: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport=WINDOW)
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text))
        page.goto(f"{base_url}/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="My work")).to_be_visible()

        lead = shown["lead"]
        take(page, f"{base_url}/pipeline/", out / "pipeline.png", problems)
        take(page, f"{base_url}/leads/{lead}/", out / "lead.png", problems)

        def choose_suggested(page) -> None:
            # The suggestion's label is the account's name, then its website and city.
            name = re.compile(rf"^{re.escape(shown['company'])}\b")
            page.get_by_role("radio", name=name).check()
            preview = page.get_by_role("region", name="Preview")
            expect(preview).to_contain_text("Existing")

        take(
            page,
            f"{base_url}/leads/{lead}/convert/",
            out / "convert.png",
            problems,
            prepare=choose_suggested,
        )
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--user", default="spatel", help="a demo user (default: %(default)s)")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    var_dir = Path(tempfile.mkdtemp(prefix="dealflow-screenshots-"))
    try:
        env = environment(var_dir)
        dealflow(env, "migrate", "--noinput")
        dealflow(env, "demo")
        password = secrets.token_urlsafe(16)
        prepared = subprocess.run(
            [sys.executable, "-c", PREPARE, options.user, password],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if prepared.returncode:
            sys.exit(f"could not prepare the demo user:\n{prepared.stderr}")
        shown = json.loads(prepared.stdout.strip().splitlines()[-1])
        with server(env, free_port()) as base_url:
            screenshots(base_url, options.user, password, shown, options.out.resolve())
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
