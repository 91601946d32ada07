"""Connect's pages under their Content-Security-Policy (no inline script or style), used in Chromium: the datasource
wizard, the item form and preview, Try it with the field widget, applications, the sign-in lockout and the admin. The
`page` fixture (conftest.py) fails any browser test during which Chromium refused something; this walk covers the
main pages on purpose, and the first test shows that such a refusal is seen."""

import pytest

from items.models import Item
from tests.browser.conftest import watch_csp
from tests.support import geo_api

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chain(start_server, trust_test_ca):
    return geo_api.make_chain(start_server(geo_api.ROUTES))


def assert_policy(response):
    """The page came with the policy: scripts and styles from Connect only, nothing inline."""
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy, response.url
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, response.url


def test_an_inline_style_or_script_on_a_connect_page_is_refused_and_seen(browser, live_server):
    context = browser.new_context()
    page = context.new_page()
    refused = watch_csp(page)

    assert_policy(page.goto(f"{live_server.url}/login/"))
    page.evaluate(
        """() => {
        document.body.insertAdjacentHTML('beforeend', '<p style="color: red">injected</p>');
        const script = document.createElement('script');
        script.textContent = 'window.injected = true';
        document.body.append(script);
    }"""
    )
    page.wait_for_timeout(200)

    assert page.evaluate("() => window.injected") is None
    assert any("inline style" in text for text in refused) and any("inline script" in text for text in refused)
    context.close()


def test_the_datasource_wizard_works_under_the_policy(signed_in, live_server, screenshot):
    page = signed_in
    assert_policy(page.goto(f"{live_server.url}/datasources/"))
    page.get_by_role("link", name="Create datasource").click()
    page.get_by_label("REST API").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Name").fill("Jira Cloud")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/datasources/new/configuration/")
    page.get_by_label("API base URL").fill("https://jira.example.com/rest/api/2")
    page.get_by_role("button", name="Add a header").click()  # the page's script adds a row
    assert page.locator("#headers [data-formset-row]:visible").count() == 2
    page.get_by_label("OAuth2 authorization code").check()  # the script shows this mode's fields
    page.get_by_label("Provider preset").select_option(label="GitHub")  # the script fills the preset's URLs
    assert page.get_by_label("Token URL").input_value().startswith("https://github.com/")
    page.get_by_label("Basic").check()
    assert page.get_by_label("Username").is_visible() and not page.get_by_label("Token URL").is_visible()
    page.get_by_label("Username").fill("elements")
    page.get_by_label("Password", exact=True).fill("s3cr3t-pw-6b2a")
    page.get_by_role("button", name="Create datasource").click()
    page.get_by_text("Datasource “Jira Cloud” created.").wait_for()
    screenshot("created")


def test_the_item_form_preview_and_try_it_work_under_the_policy(signed_in, live_server, chain, screenshot):
    page = signed_in
    assert_policy(page.goto(f"{live_server.url}/items/new/"))
    page.get_by_label("Name").fill("Town")
    page.get_by_label("Datasource").select_option(label="Geo API")
    page.get_by_label("Query").fill("/cities?region=$region")
    page.get_by_label("Dependencies").fill("region")
    page.get_by_label("$region comes from").select_option(label="Region")  # a row the page's script added
    page.get_by_label("Key field").fill("code")
    page.get_by_role("button", name="Create item").click()
    page.get_by_role("button", name="Preview").wait_for()
    assert Item.objects.filter(name="Town").exists()

    assert_policy(page.goto(f"{live_server.url}/items/{chain.country.pk}/preview/"))
    page.get_by_role("button", name="Preview").click()
    page.get_by_text("Netherlands").first.wait_for()
    screenshot("preview")

    assert_policy(page.goto(f"{live_server.url}/items/{chain.city.pk}/try/"))
    page.get_by_label("Country").locator("option", has_text="Netherlands").wait_for(state="attached")  # the widget
    page.get_by_label("Country").select_option(label="Netherlands")
    region = page.get_by_label("Region")
    region.locator("option", has_text="Noord-Holland").wait_for(state="attached")
    region.select_option(label="Noord-Holland")
    city = page.get_by_role("combobox", name="City")
    city.click()
    city.press("ArrowDown")
    listbox = page.get_by_role("listbox", name="City")
    listbox.get_by_role("option", name="Haarlem").wait_for()
    # The widget's own style applies (a constructed stylesheet, allowed by the policy): the list floats.
    assert listbox.evaluate("el => getComputedStyle(el).position") == "absolute"
    screenshot("try-it")


def test_applications_work_under_the_policy(signed_in, live_server, chain, screenshot):
    page = signed_in
    assert_policy(page.goto(f"{live_server.url}/applications/"))
    page.get_by_role("link", name="Create application").click()
    page.get_by_label("Name").fill("Intranet forms")
    page.get_by_label("Country").check()
    page.get_by_label("Allowed web origins").fill("https://forms.example.com")
    page.get_by_role("button", name="Create application").click()
    page.get_by_role("button", name="Copy").wait_for()
    screenshot("secret")
    page.get_by_role("link", name="Back to “Intranet forms”").click()
    assert_policy(page.reload())
    page.get_by_role("button", name="Disable").click()
    page.get_by_role("button", name="Enable").wait_for()


def test_the_admin_and_the_lockout_page_work_under_the_policy(signed_in, live_server, chain, settings, screenshot):
    page = signed_in
    settings.CONNECT_SIGN_IN_PAUSE_SECONDS = 0
    assert_policy(page.goto(f"{live_server.url}/admin/"))
    assert_policy(page.goto(f"{live_server.url}/admin/datasources/datasource/"))
    page.get_by_role("link", name="Geo API").click()
    page.get_by_role("button", name="Save", exact=True).wait_for()
    screenshot("admin")

    page.context.clear_cookies()
    for attempt in range(10):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("staffer")
        page.get_by_label("Password").fill(f"wrong-{attempt}")
        with page.expect_navigation() as navigation:
            page.get_by_role("button", name="Sign in").click()
    assert navigation.value.status == 429
    assert_policy(navigation.value)
    page.get_by_role("heading", name="Signing in is locked for a while").wait_for()
    screenshot("locked")
