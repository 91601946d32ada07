"""Trusted choices in Chromium (SPEC 9): a choice made in the widget reaches the system behind the form with a
selection proof that system verifies offline (PyJWT); a key changed in the page no longer matches its proof. On a
page of another origin (an embedding token, the application's secret) and on Try it (the session). Also: labels of
pre-filled keys, `required`, and a submission that waits for a proof still on its way."""

import html
import time

import jwt
import pytest
from django.core.cache import cache

from items.services.proofs import session_proof_key
from tests.applications.conftest import make_application, mint
from tests.support import geo_api
from tests.support.page_server import PageServer

pytestmark = [pytest.mark.django_db(transaction=True)]

SCRIPT = """<link rel="stylesheet" href="{connect}/static/connect-field.css">
<script src="{connect}/static/connect-field.js" data-connect-url="{connect}"
 data-connect-token="{token}" defer></script>"""

ORDER_FORM = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Order form</title>{script}</head>
<body><main><h1>Order form</h1><form method="post" action="/sent">
<label for="country">Country</label><input id="country" name="country" data-connect-item="{country}">
<label for="region">Region</label>
<input id="region" name="region" data-connect-item="{region}" data-connect-depends="country=#country">
<label for="city">City</label>
<input id="city" name="city" data-connect-item="{city}" data-connect-depends="region=#region" {city_attributes}>
<button type="submit">Send</button></form></main></body></html>"""


def verdict_page(lines: list[str]) -> str:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    head = '<!doctype html><html lang="en"><head><title>Sent</title></head>'
    return f'{head}<body><ul id="verdict">{items}</ul></body></html>'


def verify_offline(fields: dict, *, names, key: str, audience: str, items: dict) -> list[str]:
    """What the system behind the form does, with PyJWT alone: each field's proof must be Connect's, for that item,
    and cover the key the form sent."""
    lines = []
    for name in names:
        sent = fields.get(name, [""])[0]
        proof = fields.get(f"{name}_proof", [""])[0]
        if not proof:
            lines.append(f"{name}: no proof")
            continue
        try:
            claims = jwt.decode(proof, key, algorithms=["HS256"], audience=audience, issuer="connect")
        except jwt.PyJWTError as exc:
            lines.append(f"{name}: refused ({type(exc).__name__})")
            continue
        if claims["item"] != items[name] or sent not in claims["keys"]:
            lines.append(f"{name}: does not match ({sent} is not in {claims['keys']})")
            continue
        lines.append(f"{name}: valid {sent} {claims['labels'][sent]}")
    return lines


@pytest.fixture
def geo(start_server, trust_test_ca):
    return start_server(geo_api.ROUTES)


@pytest.fixture
def chain(geo):
    return geo_api.make_chain(geo)


@pytest.fixture
def shop(live_server, chain):
    """A page of another origin embedding the chain, and the system behind it, which verifies what it receives."""
    pages = PageServer({})
    application = make_application(
        name="Shop", items=[chain.country, chain.region, chain.city], origins=[pages.origin("127.0.0.1")]
    )
    token = mint(application, audience=live_server.url, sub="shopper")
    script = SCRIPT.format(connect=live_server.url, token=html.escape(token))
    items = {"country": chain.country.pk, "region": chain.region.pk, "city": chain.city.pk}

    def page_with(path: str, city_attributes: str = "") -> str:
        pages.pages[path] = ORDER_FORM.format(
            script=script, city_attributes=city_attributes, **{name: pk for name, pk in items.items()}
        )
        return f"{pages.origin('127.0.0.1')}{path}"

    pages.forms["/sent"] = lambda fields: verdict_page(
        verify_offline(fields, names=items, key=application.secret, audience=str(application.pk), items=items)
    )
    pages.page_with = page_with
    pages.application = application
    yield pages
    pages.stop()


def choose_amsterdam(page):
    page.get_by_label("Country").locator("option", has_text="Netherlands").wait_for(state="attached")
    page.get_by_label("Country").select_option(label="Netherlands")
    region = page.get_by_label("Region")
    region.locator("option", has_text="Noord-Holland").wait_for(state="attached")
    region.select_option(label="Noord-Holland")
    city = page.get_by_role("combobox", name="City")
    city.fill("am")
    page.get_by_role("option", name="Amsterdam").click()
    assert city.input_value() == "Amsterdam"


def wait_for_proof(page, name: str = "city"):
    page.locator(f"input[type=hidden][name={name}_proof]").wait_for(state="attached")
    page.wait_for_function(f"document.querySelector('input[type=hidden][name={name}_proof]').value !== ''")


def verdict(page) -> list[str]:
    page.locator("#verdict").wait_for()
    return page.locator("#verdict li").all_inner_texts()


# --- another origin, an embedding token: the application's server verifies with its secret -----------------------


def test_a_choice_reaches_the_form_with_a_proof_its_server_verifies_offline(page, shop, screenshot):
    selections = []
    page.on("request", lambda r: selections.append(r) if r.url.endswith("/selections") and r.method == "POST" else None)
    page.goto(shop.page_with("/order.html"))
    choose_amsterdam(page)
    screenshot("chosen")
    page.get_by_role("button", name="Send").click()  # at once: the submission waits for a proof on its way
    assert verdict(page) == [
        "country: valid NL Netherlands",
        "region: valid NH Noord-Holland",
        "city: valid AMS Amsterdam",
    ]
    assert len(selections) == 3
    assert all(r.headers.get("authorization", "").startswith("Bearer ") for r in selections)
    assert all("cookie" not in r.headers for r in selections)
    screenshot("verified")


def test_a_key_changed_in_the_page_no_longer_matches_its_proof(page, shop):
    page.goto(shop.page_with("/order.html"))
    choose_amsterdam(page)
    wait_for_proof(page)
    page.evaluate("document.querySelector('input[type=hidden][name=city]').value = 'ROT'")
    page.get_by_role("button", name="Send").click()
    lines = verdict(page)
    assert lines[:2] == ["country: valid NL Netherlands", "region: valid NH Noord-Holland"]
    assert lines[2] == "city: does not match (ROT is not in ['AMS'])"


def test_a_proof_changed_in_the_page_is_refused(page, shop):
    page.goto(shop.page_with("/order.html"))
    choose_amsterdam(page)
    wait_for_proof(page)
    page.evaluate("var p = document.querySelector('input[name=city_proof]'); p.value = p.value.slice(0, -3) + 'AAA'")
    page.get_by_role("button", name="Send").click()
    assert verdict(page)[2] == "city: refused (InvalidSignatureError)"


def test_a_submission_waits_for_a_proof_that_needs_an_upstream_call(page, shop, geo):
    """The cached options expired between seeing them and choosing: the proof needs the (slow) API again."""
    page.goto(shop.page_with("/order.html"))
    page.get_by_label("Country").locator("option", has_text="Netherlands").wait_for(state="attached")
    page.get_by_label("Country").select_option(label="Netherlands")
    page.get_by_label("Region").locator("option", has_text="Noord-Holland").wait_for(state="attached")
    page.get_by_label("Region").select_option(label="Noord-Holland")
    city = page.get_by_role("combobox", name="City")
    city.fill(geo_api.SLOW_TEXT)
    page.get_by_role("option", name="Zaandam").wait_for()
    cache.clear()
    started = time.monotonic()
    page.get_by_role("option", name="Zaandam").click()
    page.get_by_role("button", name="Send").click()
    assert verdict(page)[2] == "city: valid ZAA Zaandam"
    assert time.monotonic() - started >= geo_api.SLOW_SECONDS * 0.9  # it did wait for the slow proof


def test_a_failed_proof_does_not_block_the_form_and_the_server_sees_it_missing(page, shop):
    page.route("**/selections", lambda route: route.fulfill(status=503, body="down"))
    page.goto(shop.page_with("/order.html"))
    choose_amsterdam(page)
    page.get_by_role("button", name="Send").click()
    assert verdict(page) == ["country: no proof", "region: no proof", "city: no proof"]


def test_proofs_can_be_renamed_or_turned_off(page, shop):
    selections = []
    page.on(
        "request", lambda r: selections.append(r.url) if r.url.endswith("/selections") and r.method == "POST" else None
    )
    page.goto(shop.page_with("/renamed.html", 'data-connect-proof-name="city_signature"'))
    choose_amsterdam(page)
    page.locator("input[type=hidden][name=city_signature]").wait_for(state="attached")
    page.wait_for_function("document.querySelector('input[name=city_signature]').value !== ''")
    assert page.locator("input[name=city_proof]").count() == 0
    page.goto(shop.page_with("/off.html", 'data-connect-proof="off"'))
    before = len(selections)
    choose_amsterdam(page)
    page.get_by_role("button", name="Send").click()
    assert verdict(page)[2] == "city: no proof"
    assert len(selections) == before + 2  # country and region only
    assert "city_proof" not in shop.received[-1]


# --- Try it: Connect's own page, the session; proofs signed with a key derived from SECRET_KEY --------------------


@pytest.fixture
def try_page(signed_in, live_server, chain):
    page = signed_in
    page.goto(f"{live_server.url}/items/{chain.city.pk}/try/")
    return page


def sent_proof(page) -> tuple[str, dict]:
    """The key and the proof the form sent (by POST), as the page shows what it received."""
    sent = page.locator("[data-submitted]")
    key, proof = sent.locator("[data-sent=city]").inner_text(), sent.locator("[data-sent=city_proof]").inner_text()
    return key, jwt.decode(proof, session_proof_key(), algorithms=["HS256"], audience="connect", issuer="connect")


def test_try_it_sends_a_proof_it_verifies_and_a_server_can_verify_offline(try_page, chain, screenshot):
    page = try_page
    choose_amsterdam(page)
    page.get_by_role("button", name="Send the form").click()
    page.locator("[data-sent=city_proof]").wait_for()
    verdict_line = page.locator("[data-proof-verdict=city]")
    assert verdict_line.get_attribute("data-proof-code") == "valid"
    assert "Connect signed this choice of “Amsterdam” (AMS)" in verdict_line.inner_text()
    assert page.locator("[data-proof-verdict=country]").get_attribute("data-proof-code") == "valid"
    key, claims = sent_proof(page)
    assert key == "AMS" and claims["keys"] == ["AMS"] and claims["sub"] == "staffer"
    assert claims["item"] == chain.city.pk and claims["values"] == {"region": "NH"}
    screenshot("verified")
    assert serious_violations(page) == []


def serious_violations(page) -> list:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_try_it_says_a_key_changed_in_the_page_does_not_match(try_page, screenshot):
    page = try_page
    choose_amsterdam(page)
    wait_for_proof(page)
    page.evaluate("document.querySelector('input[type=hidden][name=city]').value = 'ROT'")
    page.get_by_role("button", name="Send the form").click()
    page.locator("[data-sent=city_proof]").wait_for()
    verdict_line = page.locator("[data-proof-verdict=city]")
    assert verdict_line.get_attribute("data-proof-code") == "other_keys"
    assert "does not match" in verdict_line.inner_text() and "(ROT)" in verdict_line.inner_text()
    key, claims = sent_proof(page)
    assert key == "ROT" and key not in claims["keys"]  # offline, the server sees it too
    screenshot("tampered")


# --- labels of pre-filled keys --------------------------------------------------------------------------------

PREFILLED = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Reopened order</title>{script}</head>
<body><main><h1>Reopened order</h1><form method="post" action="/sent">
<label for="region">Region code</label><input id="region" name="region" value="NH">
<label for="billing">Billing city</label>
<input id="billing" name="billing" value="{billing}" data-connect-item="{city}" data-connect-depends="region=#region">
<label for="shipping">Shipping city</label>
<input id="shipping" name="shipping" value="{shipping}" data-connect-item="{city}"
 data-connect-depends="region=#region" data-connect-label-name="shipping_label">
<button type="submit">Send</button></form></main></body></html>"""


@pytest.fixture
def reopened(live_server, chain):
    pages = PageServer({})
    application = make_application(name="Shop", items=[chain.city], origins=[pages.origin("127.0.0.1")])
    script = SCRIPT.format(connect=live_server.url, token=html.escape(mint(application, audience=live_server.url)))

    def page_with(path: str, billing: str, shipping: str) -> str:
        pages.pages[path] = PREFILLED.format(script=script, billing=billing, shipping=shipping, city=chain.city.pk)
        return f"{pages.origin('127.0.0.1')}{path}"

    yield page_with
    pages.stop()


def lookups(geo) -> int:
    return sum(1 for r in geo.requests if r["path"].startswith("/geo/city?"))


def test_a_prefilled_key_gets_its_label_with_one_upstream_call_for_two_fields(page, reopened, geo, screenshot):
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/labels?" in r.url else None)
    page.goto(reopened("/same.html", "AMS", "AMS"))
    billing, shipping = (
        page.get_by_role("combobox", name="Billing city"),
        page.get_by_role("combobox", name="Shipping city"),
    )
    page.wait_for_function("document.getElementById('shipping').value === 'Amsterdam'")
    assert billing.input_value() == "Amsterdam" and shipping.input_value() == "Amsterdam"
    assert len(requests) == 1 and lookups(geo) == 1
    assert page.locator("input[type=hidden][name=billing]").input_value() == "AMS"
    assert page.locator("input[type=hidden][name=shipping_label]").input_value() == "Amsterdam"
    screenshot("labels")


def test_two_keys_of_one_item_are_asked_in_one_request(page, reopened, geo):
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/labels?" in r.url else None)
    page.goto(reopened("/two.html", "AMS", "HAA"))
    page.wait_for_function("document.getElementById('shipping').value === 'Haarlem'")
    assert page.get_by_role("combobox", name="Billing city").input_value() == "Amsterdam"
    assert len(requests) == 1 and "key=AMS" in requests[0] and "key=HAA" in requests[0]
    assert lookups(geo) == 2  # one lookup per key ...
    page.reload()
    page.wait_for_function("document.getElementById('shipping').value === 'Haarlem'")
    assert lookups(geo) == 2  # ... cached like a query


def test_a_key_without_a_label_stays_shown(page, reopened, geo):
    page.goto(reopened("/unknown.html", "XYZ", "AMS"))
    page.wait_for_function("document.getElementById('shipping').value === 'Amsterdam'")
    assert page.get_by_role("combobox", name="Billing city").input_value() == "XYZ"


def test_a_search_item_without_a_key_lookup_asks_for_no_labels(page, reopened, chain, geo):
    chain.city.lookup_query = ""
    chain.city.save()
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/labels?" in r.url else None)
    page.goto(reopened("/no-lookup.html", "AMS", "HAA"))
    page.locator("[data-connect-state=ready]").nth(1).wait_for(state="attached")
    assert page.get_by_role("combobox", name="Shipping city").input_value() == "HAA"
    assert requests == [] and lookups(geo) == 0


# --- required -------------------------------------------------------------------------------------------------


def test_a_required_search_field_with_typed_text_and_no_choice_blocks_the_form(page, shop, screenshot):
    page.goto(shop.page_with("/required.html", "required"))
    page.get_by_label("Country").locator("option", has_text="Netherlands").wait_for(state="attached")
    page.get_by_label("Country").select_option(label="Netherlands")
    page.get_by_label("Region").locator("option", has_text="Noord-Holland").wait_for(state="attached")
    page.get_by_label("Region").select_option(label="Noord-Holland")
    city = page.get_by_role("combobox", name="City")
    city.fill("Amsterd")
    page.get_by_role("option", name="Amsterdam").wait_for()
    city.press("Escape")
    page.get_by_role("button", name="Send").focus()
    page.keyboard.press("Enter")
    assert city.evaluate("el => el.validationMessage") == ("Choose one of the options: typed text alone sets no value.")
    assert city.get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "city"  # the browser took the person to the field
    screenshot("blocked")
    assert shop.received == []
    city.press("ArrowDown")
    city.press("Enter")
    assert city.evaluate("el => el.validationMessage") == "" and city.get_attribute("aria-invalid") is None
    page.get_by_role("button", name="Send").click()
    assert verdict(page)[2] == "city: valid AMS Amsterdam"


def test_a_required_search_field_left_empty_blocks_the_form_with_the_browsers_message(page, shop):
    page.goto(shop.page_with("/required-empty.html", "required"))
    choose_amsterdam(page)
    city = page.get_by_role("combobox", name="City")
    city.fill("")
    page.get_by_role("button", name="Send").click()
    assert city.evaluate("el => el.validity.valueMissing") is True
    assert city.evaluate("el => el.validationMessage") != ""
    assert shop.received == []


REQUIRED_LIST = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Country</title>{script}</head>
<body><main><form method="post" action="/sent"><label for="country">Country</label>
<input id="country" name="country" data-connect-item="{country}" required>
<button type="submit">Send</button></form></main></body></html>"""


def test_a_required_list_without_a_choice_blocks_the_form(page, shop, live_server, chain):
    token = mint(shop.application, audience=live_server.url)
    shop.pages["/country.html"] = REQUIRED_LIST.format(
        script=SCRIPT.format(connect=live_server.url, token=html.escape(token)), country=chain.country.pk
    )
    page.goto(f"{shop.origin('127.0.0.1')}/country.html")
    country = page.get_by_label("Country")
    country.locator("option", has_text="Netherlands").wait_for(state="attached")
    assert country.evaluate("el => el.required") is True
    page.get_by_role("button", name="Send").click()
    assert country.evaluate("el => el.validity.valueMissing") is True
    assert country.get_attribute("aria-invalid") == "true"
    assert shop.received == []
    country.select_option(label="France")
    assert country.get_attribute("aria-invalid") is None
    page.get_by_role("button", name="Send").click()
    assert verdict(page)[0] == "country: valid FR France"
