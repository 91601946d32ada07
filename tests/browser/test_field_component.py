"""The field widget as a component, in Chromium on a page of another origin (an embedding token): styled by its own
stylesheet under a strict Content-Security-Policy (no inline style), disabled and invalid states that show,
ConnectField.destroy/enhance cycles that leave nothing behind, and its texts in French under lang="fr"."""

import html

import pytest

from tests.applications.conftest import make_application, mint
from tests.support import geo_api
from tests.support.page_server import PageServer

pytestmark = [pytest.mark.django_db(transaction=True)]

PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Order form</title>
<link rel="stylesheet" href="{connect}/static/connect-field.css">
<script src="{connect}/static/connect-field.js" data-connect-url="{connect}"
 data-connect-token="{token}" defer></script>
</head><body><main><h1>Order form</h1><div id="host">{form}</div></main></body></html>"""

FORM = """<form method="get" action="/sent">
<label for="country">{country_label}</label><input id="country" name="country" data-connect-item="{country}">
<label for="region">{region_label}</label>
<input id="region" name="region" data-connect-item="{region}" data-connect-depends="country=#country">
<label for="city">{city_label}</label>
<input id="city" name="city" class="wide" value="" data-connect-item="{city}" data-connect-depends="region=#region"
 data-connect-debounce="0">
<button type="submit">Send</button></form>"""


@pytest.fixture
def site(live_server, start_server, trust_test_ca):
    upstream = start_server(geo_api.ROUTES)
    chain = geo_api.make_chain(upstream)
    connect = live_server.url
    # Scripts, styles and calls from this page and Connect only; nothing inline (no 'unsafe-inline').
    policy = f"default-src 'self'; script-src 'self' {connect}; style-src 'self' {connect}; connect-src {connect}"
    pages = PageServer({}, headers={"Content-Security-Policy": policy})
    application = make_application(
        name="Shop", items=[chain.country, chain.region, chain.city], origins=[pages.origin("127.0.0.1")]
    )
    token = mint(application, audience=connect, sub="shopper", email="shopper@example.com", name="Sam Shopper")
    ids = {"country": chain.country.pk, "region": chain.region.pk, "city": chain.city.pk}
    english = FORM.format(country_label="Country", region_label="Region", city_label="City", **ids)
    french = FORM.format(country_label="Pays", region_label="Région", city_label="Ville", **ids)
    for path, lang, form in (("/order.html", "en", english), ("/empty.html", "en", ""), ("/fr.html", "fr", french)):
        pages.pages[path] = PAGE.format(lang=lang, connect=connect, token=html.escape(token), form=form)
    yield pages, english, chain
    pages.stop()


def styles(locator, *names):
    return locator.evaluate("(el, names) => names.map(name => getComputedStyle(el)[name])", list(names))


def choose_noord_holland(page, country="Country", region="Region"):
    page.get_by_label(country).locator("option", has_text="Netherlands").wait_for(state="attached")
    page.get_by_label(country).select_option(label="Netherlands")
    page.get_by_label(region).locator("option", has_text="Noord-Holland").wait_for(state="attached")
    page.get_by_label(region).select_option(label="Noord-Holland")


def test_a_page_whose_policy_forbids_inline_styles_shows_a_styled_working_field(page, site, screenshot):
    pages, _, _ = site
    response = page.goto(f"{pages.origin()}/order.html")
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    city = page.get_by_role("combobox", name="City")
    city.wait_for()
    # Waiting for its region, the field is disabled and looks it (the stylesheet's disabled state).
    assert city.is_disabled() and styles(city, "backgroundColor", "cursor") == ["rgb(238, 240, 243)", "not-allowed"]
    region = page.get_by_label("Region")  # a list: the same
    assert region.is_disabled() and styles(region, "backgroundColor", "cursor") == ["rgb(238, 240, 243)", "not-allowed"]
    choose_noord_holland(page)
    city.press_sequentially("am")
    listbox = page.get_by_role("listbox", name="City")
    listbox.get_by_role("option", name="Amsterdam").wait_for()
    assert styles(listbox, "position", "listStyleType", "borderTopWidth", "borderTopStyle", "zIndex") == [
        "absolute",
        "none",
        "1px",
        "solid",
        "1000",
    ]
    assert styles(page.locator(".connect-field-live").first, "position", "width") == ["absolute", "1px"]
    screenshot("styled")
    city.press("ArrowDown")
    assert styles(listbox.get_by_role("option").first, "backgroundColor") == ["rgb(31, 95, 191)"]
    city.press("Enter")
    assert city.input_value() == "Amsterdam"
    assert page.locator("input[type=hidden][name=city]").input_value() == "AMS"
    # The look came from the linked stylesheet alone: no <style> element, no constructed stylesheet.
    assert page.evaluate("document.querySelectorAll('style').length + document.adoptedStyleSheets.length") == 0


def test_connects_own_try_it_page_under_its_policy_shows_the_styled_field(signed_in, live_server, site):
    page = signed_in
    chain = site[2]
    policy = page.goto(f"{live_server.url}/items/{chain.city.pk}/try/").headers["content-security-policy"]
    assert "default-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
    choose_noord_holland(page)
    city = page.get_by_role("combobox", name="City")
    city.press_sequentially("am")
    listbox = page.get_by_role("listbox", name="City")
    listbox.get_by_role("option", name="Amsterdam").wait_for()
    assert styles(listbox, "position", "listStyleType", "borderTopWidth") == ["absolute", "none", "1px"]
    city.press("ArrowDown")
    city.press("Enter")
    assert page.locator("input[type=hidden][name=city]").input_value() == "AMS"
    assert page.evaluate("document.querySelectorAll('style').length + document.adoptedStyleSheets.length") == 0


def test_an_error_marks_the_control_invalid_with_a_visible_border_until_an_answer_comes(page, site):
    pages, _, _ = site
    page.goto(f"{pages.origin()}/order.html")
    choose_noord_holland(page)
    city = page.get_by_role("combobox", name="City")
    before = styles(city, "borderTopColor")
    city.fill(geo_api.FAILING_TEXT)
    page.locator(".connect-field-status.is-error").get_by_text("The API answered HTTP 500.").wait_for()
    assert city.get_attribute("aria-invalid") == "true"
    assert styles(city, "borderTopColor") == ["rgb(179, 38, 30)"] != before
    city.fill("am")
    page.get_by_role("option", name="Amsterdam").wait_for()
    assert city.get_attribute("aria-invalid") is None and styles(city, "borderTopColor") == before


def listeners(cdp) -> list[tuple]:
    """Every listener on the document and the nodes it holds (DevTools' view), and on the window."""
    found = []
    for expression in ("document", "window"):
        target = cdp.send("Runtime.evaluate", {"expression": expression})["result"]["objectId"]
        answer = cdp.send("DOMDebugger.getEventListeners", {"objectId": target, "depth": -1, "pierce": True})
        found += [(expression, item["type"], item.get("backendNodeId", 0)) for item in answer["listeners"]]
    return sorted(found)


CYCLES = """async (host, cycles) => {
  const settled = () => new Promise(resolve => {
    const check = () => [...host.querySelectorAll('.connect-field')].some(w => w.dataset.connectState === 'loading')
      || host.querySelectorAll('.connect-field').length < 3 ? setTimeout(check, 5) : resolve();
    check();
  });
  for (let i = 0; i < cycles; i++) {
    ConnectField.enhance(host);
    await settled();
    const country = host.querySelector('select');  // a choice: a region list to load, a proof on its way
    country.value = 'NL';
    country.dispatchEvent(new Event('change', {bubbles: true}));
    ConnectField.destroy(host);
  }
}"""


def test_a_hundred_destroy_enhance_cycles_leave_no_node_or_listener_and_the_field_works(page, site, screenshot):
    pages, form, _ = site
    page.goto(f"{pages.origin()}/empty.html")
    page.wait_for_function("window.ConnectField && document.readyState === 'complete'")
    host = page.locator("#host")
    host.evaluate("(host, form) => { host.innerHTML = form; }", form)  # not enhanced yet: the page as it was
    cdp = page.context.new_cdp_session(page)
    markup = host.inner_html()
    nodes = page.evaluate("document.getElementsByTagName('*').length")
    before = listeners(cdp)
    host.evaluate(CYCLES, 100)
    page.wait_for_timeout(300)  # requests aborted and timers cleared: nothing comes back
    assert host.inner_html() == markup
    assert page.evaluate("document.getElementsByTagName('*').length") == nodes
    assert listeners(cdp) == before
    assert page.evaluate("['country', 'region', 'city'].map(id => document.getElementById(id).value)") == ["", "", ""]
    # Enhanced once more, it works.
    host.evaluate("host => ConnectField.enhance(host)")
    choose_noord_holland(page)
    city = page.get_by_role("combobox", name="City")
    city.press_sequentially("ams")
    page.get_by_role("option", name="Amsterdam").click()
    assert page.locator("input[type=hidden][name=city]").input_value() == "AMS"
    assert listeners(cdp) != before
    screenshot("after-cycles")


def test_destroying_a_field_gives_back_the_input_as_it_was_and_a_parent_lets_its_child_go(page, site):
    pages, _, _ = site
    page.goto(f"{pages.origin()}/order.html")
    choose_noord_holland(page)
    city = page.get_by_role("combobox", name="City")
    city.fill("am")
    page.get_by_role("option", name="Amsterdam").click()
    page.evaluate("ConnectField.destroy(document.getElementById('city'))")
    plain = page.locator("#city")
    assert plain.evaluate("el => [el.getAttribute('name'), el.className, el.getAttribute('role'), el.type]") == [
        "city",
        "wide",
        None,
        "text",
    ]
    assert page.locator("input[name=city]").count() == 1 and page.locator(".connect-field").count() == 2
    # The region's field goes: the country's own field stays, and the region input is a plain input again.
    page.evaluate("ConnectField.destroy(document.getElementById('region'))")
    assert page.locator("#region").evaluate("el => el.tagName + ':' + el.hidden + ':' + el.disabled") == (
        "INPUT:false:false"
    )
    page.get_by_label("Country").select_option(label="France")
    page.evaluate("ConnectField.enhance(document.querySelector('form'))")
    region = page.get_by_label("Region")
    region.locator("option", has_text="Île-de-France").wait_for(state="attached")
    region.select_option(label="Île-de-France")
    page.get_by_role("combobox", name="City").wait_for()
    assert page.locator(".connect-field").count() == 3


def test_under_lang_fr_the_field_speaks_french_and_configure_changes_a_message(page, site, screenshot):
    pages, _, _ = site
    page.goto(f"{pages.origin()}/fr.html")
    country = page.get_by_label("Pays")
    country.locator("option", has_text="Netherlands").wait_for(state="attached")
    assert country.locator("option").first.inner_text() == "Choisir…"
    city = page.get_by_role("combobox", name="Ville")
    status = page.locator(f"#{city.get_attribute('aria-describedby').split()[-1]}")
    assert status.inner_text() == "Choisissez d’abord Région."
    assert "Tapez pour rechercher" in page.locator(f"#{city.get_attribute('aria-describedby').split()[0]}").inner_text()
    choose_noord_holland(page, country="Pays", region="Région")
    city.fill("xyz")
    status.get_by_text("Aucune option ne correspond à « xyz ».").wait_for()
    announced = page.locator(".connect-field", has=city).get_by_role("status")
    announced.get_by_text("Aucune option.", exact=True).wait_for(state="attached")
    city.fill("am")
    announced.get_by_text("2 options disponibles.").wait_for(state="attached")
    city.press("ArrowDown")
    city.press("Enter")
    announced.get_by_text("Amsterdam sélectionné.").wait_for(state="attached")
    screenshot("french")
    # A message for one language wins over one for every language, which wins over the built-in ones.
    page.evaluate(
        "ConnectField.configure({messages: {fr: {noOptions: 'Rien à proposer.'}, noOptions: 'Nothing.', "
        "choose: 'Choisissez-en un'}})"
    )
    city.fill("xyz")
    announced.get_by_text("Rien à proposer.").wait_for(state="attached")
    # An error Connect explains keeps Connect's words, unless the messages have its code.
    page.evaluate("ConnectField.configure({messages: {fr: {error_http_status: 'L’API a répondu par une erreur.'}}})")
    city.fill(geo_api.FAILING_TEXT)
    status.get_by_text("L’API a répondu par une erreur.").wait_for()
    page.get_by_label("Pays").select_option(label="France")
    page.get_by_label("Région").locator("option", has_text="Île-de-France").wait_for(state="attached")
    assert page.get_by_label("Région").locator("option").first.inner_text() == "Choisissez-en un"
