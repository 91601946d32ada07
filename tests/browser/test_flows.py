"""Test connection, the OAuth consent and the item preview, clicked through in Chromium."""

import json

import pytest

from datasources.models import AuthConfig
from items.models import Item
from tests.browser.conftest import CHROMIUM, chromium_args
from tests.conftest import SECRET_API_KEY, SECRET_CLIENT_SECRET, make_datasource, with_role
from tests.support import https_server as srv

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fake_dns")]

ISSUES = {
    "issues": [
        {"key": "CON-1", "fields": {"summary": "Cache answers"}},
        {"key": "CON-2", "fields": {"summary": "Refresh tokens"}},
    ]
}


def test_test_connection_shows_success_then_a_failure(signed_in, live_server, screenshot, start_server, trust_test_ca):
    page = signed_in
    upstream = start_server({"/rest/health": srv.answer(200, b'{"status": "up"}')})
    datasource = make_datasource(
        name="Health API",
        base_url=upstream.url("/rest"),
        mode="api_key",
        api_key_location="query",
        api_key_name="api_key",
        api_key_value=SECRET_API_KEY,
    )
    datasource.test_url = "/health"
    datasource.save()
    page.goto(f"{live_server.url}/datasources/{datasource.pk}/")
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("[data-test-result]")
    result.wait_for()
    assert result.get_attribute("data-test-result") == "success"
    assert "200" in result.inner_text()
    screenshot("success")
    upstream.routes["/rest/health"] = srv.answer(503, b'{"status": "down"}')
    page.get_by_role("button", name="Test connection").click()
    page.locator("[data-test-result='failure']").wait_for()
    text = page.locator("[data-test-result]").inner_text()
    assert "503" in text
    assert SECRET_API_KEY not in page.content()
    screenshot("failure")


def test_item_preview_shows_the_options(signed_in, live_server, screenshot, start_server, trust_test_ca):
    page = signed_in
    upstream = start_server({"/rest/search": srv.answer(200, json.dumps(ISSUES).encode())})
    datasource = make_datasource(name="Jira", base_url=upstream.url("/rest"))
    item = Item.objects.create(
        name="Issue picker",
        datasource=datasource,
        query="/search?q=$userInput",
        list_path="issues",
        key_field="key",
        label_template="{key} - {fields.summary}",
    )
    page.goto(f"{live_server.url}/items/{item.pk}/preview/")
    page.get_by_label("$userInput").fill("cache")
    page.get_by_role("button", name="Preview").click()
    page.get_by_text("CON-1 - Cache answers").wait_for()
    assert page.get_by_text("CON-2 - Refresh tokens").is_visible()
    assert "/search?q=cache" in page.content()
    screenshot("options")


def test_the_raw_answer_scrolls_and_is_reachable_by_keyboard(
    signed_in, live_server, screenshot, start_server, trust_test_ca
):
    from axe_playwright_python.sync_playwright import Axe

    page = signed_in
    many = {"issues": [{"key": f"CON-{n}", "fields": {"summary": "A long answer " * 8}} for n in range(60)]}
    upstream = start_server({"/rest/search": srv.answer(200, json.dumps(many).encode())})
    datasource = make_datasource(name="Jira", base_url=upstream.url("/rest"))
    item = Item.objects.create(
        name="Issue picker", datasource=datasource, query="/search?q=$userInput", list_path="issues", key_field="key"
    )
    page.goto(f"{live_server.url}/items/{item.pk}/preview/")
    page.get_by_label("$userInput").fill("cache")
    page.get_by_role("button", name="Preview").click()
    raw = page.get_by_role("region", name="Raw answer").locator("pre")
    raw.wait_for()

    assert raw.evaluate("el => el.scrollHeight > el.clientHeight")  # it does scroll
    assert raw.get_attribute("tabindex") == "0"
    assert raw.evaluate("el => el.getAttribute('aria-labelledby') || el.getAttribute('aria-label')")
    violations = Axe().run(page, options={"runOnly": ["scrollable-region-focusable"]}).response["violations"]
    assert violations == []
    raw.focus()
    page.keyboard.press("PageDown")
    page.wait_for_function("el => el.scrollTop > 0", arg=raw.element_handle())  # scrolled by the keyboard
    screenshot("raw-answer")


@pytest.fixture
def oauth_page(playwright, oauth_provider, live_server):
    """A browser that reaches the test provider by its name and trusts its certificate."""
    oauth_provider.add_redirect_uri(f"{live_server.url}/oauth/callback/")
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=chromium_args() + oauth_provider.chromium_args()
    )
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.set_default_timeout(20000)
    yield page
    browser.close()


def test_oauth_consent_lands_back_connected(
    oauth_page, oauth_provider, live_server, settings, fake_dns, django_user_model, screenshot_for
):
    page = oauth_page
    shot = screenshot_for(page)
    settings.CONNECT_CA_BUNDLE = str(oauth_provider.ca_pem)
    settings.CONNECT_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1"]
    fake_dns[oauth_provider.hostname] = ["127.0.0.1"]
    base = oauth_provider.base(host=oauth_provider.hostname)
    datasource = make_datasource(
        name="Provider API",
        base_url=f"{base}/api",
        mode="oauth2_authorization_code",
        authorization_url=f"{base}/o/authorize/",
        token_url=f"{base}/o/token/",
        client_id=oauth_provider.web_client_id,
        client_secret=oauth_provider.web_client_secret,
        scopes="read",
    )
    with_role(
        django_user_model.objects.create_user("staffer", password="pw-staffer-123", is_staff=True), "Administrator"
    )
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("staffer")
    page.get_by_label("Password").fill("pw-staffer-123")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/datasources/{datasource.pk}/")
    assert "Not connected" in page.locator("#oauth").inner_text()
    shot("before")
    page.get_by_role("button", name="Connect", exact=True).click()
    # At the provider: sign in, then consent.
    page.get_by_label("Username").fill(oauth_provider.username)
    page.get_by_label("Password").fill(oauth_provider.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{live_server.url}/datasources/{datasource.pk}/")
    status = page.locator("#oauth").inner_text()
    assert "Connected" in status and "Not connected" not in status
    assert page.get_by_role("button", name="Reconnect").is_visible()
    auth = AuthConfig.objects.get(datasource=datasource)
    assert auth.access_token and auth.refresh_token
    for secret in (auth.access_token, auth.refresh_token, SECRET_CLIENT_SECRET, oauth_provider.web_client_secret):
        assert secret not in page.content()
    shot("connected")
