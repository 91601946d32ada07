"""Real-browser fixtures: Playwright driving Debian's Chromium against pytest-django's live server."""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

# The live server runs in a thread; Playwright's sync API runs an event loop in this one.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def chromium_args() -> list[str]:
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
    ]


@pytest.fixture(scope="session")
def playwright():
    """One Playwright for the session (its sync API cannot be started twice in a thread)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need {CHROMIUM} (make test installs Debian's chromium when it can)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=chromium_args())
    yield browser
    browser.close()


# How Chromium words what a Content-Security-Policy made it refuse (an inline script or style, a source not allowed).
CSP_REFUSAL = "Content Security Policy"


def watch_csp(page) -> list[str]:
    """Every refusal Chromium reports on this page from now on, across navigations (its console messages)."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if CSP_REFUSAL in message.text else None)
    return refused


@pytest.fixture
def page(browser):
    """A fresh page; every browser test also checks that Connect's Content-Security-Policy refused nothing."""
    context = browser.new_context(viewport={"width": 1100, "height": 900}, ignore_https_errors=False)
    page = context.new_page()
    page.set_default_timeout(15000)
    refused = watch_csp(page)
    yield page
    context.close()
    assert refused == [], "Chromium refused something under the Content-Security-Policy"


@pytest.fixture
def screenshot_for(request):
    """screenshot_for(page)(name) saves a full-page PNG under test-artifacts/browser/ (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def for_page(page):
        def take(name: str):
            path = ARTIFACTS / f"{request.node.name}-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            return path

        return take

    return for_page


@pytest.fixture
def screenshot(page, screenshot_for):
    return screenshot_for(page)


@pytest.fixture
def signed_in(page, live_server, django_user_model, transactional_db):
    """A staff user signed in through the login page."""
    django_user_model.objects.create_user(
        "staffer", "staffer@example.com", "pw-staffer-123", is_staff=True, is_superuser=True
    )
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("staffer")
    page.get_by_label("Password").fill("pw-staffer-123")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/datasources/")
    return page
