"""Browser tests of the console: Debian's Chromium driven by Playwright, against the API in
a uvicorn process of its own on the test database, with the demo tenants seeded.

Chromium comes from Debian (`make test` installs it when /usr/bin/chromium is missing);
Playwright's own browser download is never used. Every test fails on an error in the
page: an uncaught exception, a `console.error`, a request that did not complete, a 5xx,
or a refusal (4xx) the test did not announce with `ui.expect_refusal`.
"""

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from bson import ObjectId
from fastapi import FastAPI
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Request,
    Response,
    ViewportSize,
    async_playwright,
    expect,
)

from app.config import Settings
from app.demo import PASSWORD
from models import Company, Ticket, User
from scripts.seed import seed_demo
from tests.utils.instances import worker

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)
# Chromium logs every 4xx/5xx answer to a fetch as a console error of its own.
NETWORK_LOG = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)")


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; a clear failure (never a skip) when it is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright, for the whole run."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="package")
async def console_url(
    app: FastAPI, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The API (and so the console) in a uvicorn process of its own on the test database."""
    async with worker(settings, tmp_path_factory.mktemp("console") / "api.log") as url:
        yield url


@dataclass
class Demo:
    """The seeded demo tenants, by name: companies, users and tickets (by subject)."""

    companies: dict[str, ObjectId]
    users: dict[str, ObjectId]
    tickets: dict[str, ObjectId]


@pytest.fixture
async def demo(app: FastAPI, settings: Settings) -> AsyncIterator[Demo]:
    """The demo tenants, seeded as `make run` does; cleared after the test."""
    await seed_demo(app.state.db.client[settings.mongodb_db])
    yield Demo(
        companies={c.name: c.id for c in await Company.find_all().to_list() if c.id},
        users={u.username: u.id for u in await User.find_all().to_list() if u.id},
        tickets={t.subject: t.id for t in await Ticket.find_all().to_list() if t.id},
    )
    # The API process writes its audit trail every AUDIT_FLUSH_SECONDS: let it land before
    # the per-test cleanup, so nothing of this test reaches the next one.
    await asyncio.sleep(settings.audit_flush_seconds * 4)


@dataclass
class UI:
    """A browser tab on the console, and what went wrong in it."""

    page: Page
    url: str
    problems: list[str] = field(default_factory=list)
    expected_refusals: list[tuple[int, str]] = field(default_factory=list)
    authz_calls: int = 0

    def expect_refusal(self, status: int, path: str) -> None:
        """Announce that the server will refuse a request to `path` with `status`."""
        self.expected_refusals.append((status, path))

    def _expected(self, status: int, url: str) -> bool:
        return any(s == status and p in url for s, p in self.expected_refusals)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        logged = NETWORK_LOG.match(message.text)
        if logged and self._expected(int(logged[1]), message.location.get("url", "")):
            return
        self.problems.append(f"console.error: {message.text} ({message.location})")

    def on_page_error(self, error: Error) -> None:
        self.problems.append(f"uncaught: {error}")

    def on_request_failed(self, request: Request) -> None:
        if request.failure == "net::ERR_ABORTED":
            return  # cancelled by a navigation the test made (page.goto), not a failure
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def on_response(self, response: Response) -> None:
        if response.request.method == "POST" and response.url.endswith("/authz/check"):
            self.authz_calls += 1
        if response.status >= 500:
            self.problems.append(f"{response.status} from {response.request.method} {response.url}")
        elif response.status >= 400 and not self._expected(response.status, response.url):
            self.problems.append(f"unexpected {response.status} from {response.url}")

    async def open(self, hash_: str = "") -> None:
        """Load the console at `#<hash_>`."""
        await self.page.goto(f"{self.url}/{'#' + hash_ if hash_ else ''}")

    async def sign_in(self, email: str, password: str = PASSWORD) -> None:
        """Sign in through the form, as a person would, and wait for the ticket list."""
        await self.open()
        await self.page.fill("input[name=email]", email)
        await self.page.fill("input[name=password]", password)
        await self.page.click("button[type=submit]")
        await expect(self.page.locator(".ticket-list, .list-status .empty").first).to_be_visible()

    async def goto(self, hash_: str) -> None:
        """Follow an in-console link (`#/...`) without reloading the page."""
        await self.page.evaluate("hash => { location.hash = hash; }", hash_)


async def open_ui(browser: Browser, url: str, viewport: ViewportSize) -> tuple[UI, BrowserContext]:
    """A fresh browser context (no session) with a watched tab."""
    context = await browser.new_context(viewport=viewport)
    context.set_default_timeout(15_000)
    page = await context.new_page()
    ui = UI(page, url)
    page.on("console", ui.on_console)
    page.on("pageerror", ui.on_page_error)
    page.on("requestfailed", ui.on_request_failed)
    page.on("response", ui.on_response)
    return ui, context


@pytest.fixture
async def ui(browser: Browser, console_url: str, demo: Demo) -> AsyncIterator[UI]:
    """A console tab at laptop width; the test fails on any error the page shows."""
    tab, context = await open_ui(browser, console_url, LAPTOP)
    yield tab
    await context.close()
    assert tab.problems == [], "the page reported errors"
