"""Fields for real forms in Chromium (SPEC 10, issue 22 parts 1 and 2): several values shown as removable chips,
with one selection proof covering all keys that the system behind the form verifies offline (PyJWT); a maximum;
pre-filled values; a list item with several values; a 5,000-option list read in slices and filtered on Connect
with one upstream call in all (counted at the real local HTTPS upstream)."""

import html
import json
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from items.models import Item
from tests.applications.conftest import make_application, mint
from tests.conftest import make_datasource
from tests.support import geo_api
from tests.support.https_server import send
from tests.support.page_server import PageServer

pytestmark = [pytest.mark.django_db(transaction=True)]

PLACES = {
    "AMS": "Amsterdam",
    "ARN": "Arnhem",
    "ALK": "Alkmaar",
    "HAA": "Haarlem",
    "UTR": "Utrecht",
    "ZWO": "Zwolle",
}
PRODUCTS = [{"id": f"P{n:05d}", "name": f"Product {n}"} for n in range(1, 5001)]


def _query(handler) -> dict:
    return {name: values[0] for name, values in parse_qs(urlsplit(handler.path).query).items()}


def places(handler):
    text = _query(handler).get("q", "").lower()
    found = [{"code": code, "name": name} for code, name in PLACES.items() if text in name.lower()]
    send(handler, 200, json.dumps(found).encode())


def place(handler):
    code = _query(handler).get("code", "")
    if code not in PLACES:
        return send(handler, 404, b'{"error": "no such place"}')
    send(handler, 200, json.dumps({"code": code, "name": PLACES[code]}).encode())


def products(handler):
    send(handler, 200, json.dumps(PRODUCTS).encode())


@pytest.fixture
def upstream(start_server, trust_test_ca):
    routes = dict(geo_api.ROUTES)
    routes.update({"/geo/places": places, "/geo/place": place, "/geo/products": products})
    return start_server(routes)


@pytest.fixture
def items(upstream):
    datasource = make_datasource(name="Places API", base_url=upstream.url("/geo"))
    common = {"datasource": datasource, "list_path": "", "label_template": "{name}"}
    return {
        "places": Item.objects.create(
            name="Places", query="/places?q=$userInput", key_field="code", lookup_query="/place?code=$key", **common
        ),
        "countries": Item.objects.create(name="Countries", query="/countries", key_field="code", **common),
        "cities": Item.objects.create(
            name="Cities",
            query="/cities?region=$region&q=$userInput",
            key_field="code",
            dependencies=[{"name": "region", "optional": False}],
            user_input_optional=True,
            **common,
        ),
        "products": Item.objects.create(
            name="Products", query="/products", key_field="id", max_options=10_000, **common
        ),
    }


SCRIPT = """<link rel="stylesheet" href="{connect}/static/connect-field.css">
<script src="{connect}/static/connect-field.js" data-connect-url="{connect}"
 data-connect-token="{token}" defer></script>"""

FORM = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Trip</title>{script}</head>
<body><main><h1>Trip</h1><form method="post" action="/sent">
<label for="{name}">{label}</label>
<input id="{name}" name="{name}" data-connect-item="{item}" {attributes}>
{extra}
<button type="submit">Send</button></form></main></body></html>"""


def verified(fields: dict, *, name: str, key: str, audience: str, item: int) -> list[str]:
    """What the system behind the form does with PyJWT alone: the keys it received, and whether one proof covers
    exactly those."""
    sent = fields.get(name, [])
    lines = [f"sent: {' '.join(sent)}", f"labels: {' | '.join(fields.get(name + '_label', [])) or '(none)'}"]
    proofs = fields.get(f"{name}_proof", [])
    if len(proofs) != 1 or not proofs[0]:
        return [*lines, f"proofs: {len(proofs)}"]
    try:
        claims = jwt.decode(proofs[0], key, algorithms=["HS256"], audience=audience, issuer="connect")
    except jwt.PyJWTError as exc:
        return [*lines, f"refused ({type(exc).__name__})"]
    covered = claims["item"] == item and sorted(claims["keys"]) == sorted(sent)
    return [*lines, f"proof: {'covers' if covered else 'does not cover'} {' '.join(claims['keys'])}"]


@pytest.fixture
def trip(live_server, items):
    pages = PageServer({})
    application = make_application(name="Trips", items=list(items.values()), origins=[pages.origin("127.0.0.1")])
    script = SCRIPT.format(
        connect=live_server.url, token=html.escape(mint(application, audience=live_server.url, sub="traveller"))
    )

    def page_with(path, *, item="places", name="cities", label="Cities", attributes="", extra="", lang="en"):
        pages.pages[path] = FORM.format(
            script=script,
            lang=lang,
            name=name,
            label=label,
            item=items[item].pk,
            attributes=attributes,
            extra=extra,
        )
        pages.forms["/sent"] = lambda fields: verdict_page(
            verified(fields, name=name, key=application.secret, audience=str(application.pk), item=items[item].pk)
        )
        return f"{pages.origin('127.0.0.1')}{path}"

    pages.page_with = page_with
    yield pages
    pages.stop()


def verdict_page(lines: list[str]) -> str:
    entries = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f'<!doctype html><html lang="en"><head><title>Sent</title></head><body><ul id="verdict">{entries}</ul>'


def verdict(page) -> list[str]:
    page.locator("#verdict").wait_for()
    return page.locator("#verdict li").all_inner_texts()


def live_text(page, name: str) -> str:
    """What the field's live region says now (its announcements)."""
    return page.evaluate(
        "name => document.getElementById(name).closest('.connect-field').querySelector('[role=status]').textContent",
        name,
    )


def serious_violations(page) -> list:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def choose_with_keyboard(page, listbox, label: str):
    """Down to the option named `label` in the open listbox, then Enter."""
    listbox.get_by_role("option", name=label, exact=True).wait_for()
    for _ in range(20):
        page.keyboard.press("ArrowDown")
        active = page.evaluate("document.getElementById(document.activeElement.getAttribute('aria-activedescendant'))")
        if (
            active is not None
            and page.evaluate(
                "document.getElementById(document.activeElement.getAttribute('aria-activedescendant')).textContent"
            )
            == label
        ):
            page.keyboard.press("Enter")
            return
    raise AssertionError(f"{label} could not be reached with the arrow keys")


def chips(page) -> list[str]:
    return page.locator(".connect-field-chip").all_inner_texts()


# --- several values -------------------------------------------------------------------------------------------


def test_several_values_chosen_and_removed_with_the_keyboard_reach_the_server_with_one_proof(page, trip, screenshot):
    selections = []
    page.on("request", lambda r: selections.append(r) if r.url.endswith("/selections") and r.method == "POST" else None)
    page.goto(trip.page_with("/trip.html", attributes='data-connect-multiple data-connect-label-name="cities_label"'))
    box = page.get_by_role("combobox", name="Cities")
    box.wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "cities"
    page.keyboard.type("a")
    listbox = page.get_by_role("listbox", name="Cities")
    assert listbox.get_attribute("aria-multiselectable") == "true"
    for label in ("Amsterdam", "Arnhem", "Alkmaar"):
        choose_with_keyboard(page, listbox, label)
    assert listbox.get_by_role("option", name="Arnhem").get_attribute("aria-selected") == "true"
    assert listbox.get_by_role("option", name="Haarlem").get_attribute("aria-selected") == "false"
    assert box.input_value() == ""  # the text clears after each choice; the listbox stays open
    assert [b.get_attribute("aria-label") for b in page.locator(".connect-field-chip").all()] == [
        "Remove Amsterdam",
        "Remove Arnhem",
        "Remove Alkmaar",
    ]
    screenshot("three")
    assert serious_violations(page) == []

    page.keyboard.press("Escape")
    page.keyboard.press("Backspace")  # the text is empty: the last value goes
    assert chips(page) == ["Amsterdam", "Arnhem"]
    page.wait_for_function(
        "t => document.querySelector('.connect-field [role=status]').textContent === t", arg="Alkmaar removed."
    )

    page.keyboard.press("Shift+Tab")  # the last chip, then the first
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Remove Amsterdam"
    page.keyboard.press("Enter")
    assert chips(page) == ["Arnhem"]
    assert page.evaluate("document.activeElement.id") == "cities"  # back to the text after a chip went
    assert live_text(page, "cities") in ("", "Amsterdam removed.")
    page.wait_for_function(
        "t => document.querySelector('.connect-field [role=status]').textContent === t", arg="Amsterdam removed."
    )

    page.keyboard.type("trecht")
    choose_with_keyboard(page, listbox, "Utrecht")
    assert chips(page) == ["Arnhem", "Utrecht"]
    page.keyboard.press("Tab")  # closes the list without choosing again
    assert page.evaluate("document.activeElement.textContent") == "Send"
    assert chips(page) == ["Arnhem", "Utrecht"]
    screenshot("two")
    page.keyboard.press("Enter")
    assert verdict(page) == ["sent: ARN UTR", "labels: Arnhem | Utrecht", "proof: covers ARN UTR"]
    assert trip.received[-1]["cities"] == ["ARN", "UTR"]
    assert len(trip.received[-1]["cities_proof"]) == 1
    bodies = [json.loads(r.post_data) for r in selections]
    assert all(len(body["keys"]) == len(body["q"]) for body in bodies)  # each key with the text it was chosen with


def test_a_field_at_its_maximum_refuses_another_choice_and_says_so(page, trip, screenshot):
    page.goto(trip.page_with("/max.html", attributes='data-connect-multiple data-connect-max="2"'))
    box = page.get_by_role("combobox", name="Cities")
    box.fill("r")
    listbox = page.get_by_role("listbox", name="Cities")
    listbox.get_by_role("option", name="Arnhem").click()
    listbox.get_by_role("option", name="Haarlem").click()
    listbox.get_by_role("option", name="Utrecht").click()
    assert chips(page) == ["Arnhem", "Haarlem"]
    page.wait_for_function(
        "t => document.querySelector('.connect-field [role=status]').textContent === t",
        arg="At most 2 values can be chosen: remove one first.",
    )
    assert listbox.get_by_role("option", name="Utrecht").get_attribute("aria-selected") == "false"
    screenshot("max")
    listbox.get_by_role("option", name="Haarlem").click()  # choosing a chosen option again removes it
    assert chips(page) == ["Arnhem"]
    listbox.get_by_role("option", name="Utrecht").click()
    assert chips(page) == ["Arnhem", "Utrecht"]
    box.press("Escape")  # the listbox stays open after each choice
    page.get_by_role("button", name="Send").click()
    assert verdict(page)[0] == "sent: ARN UTR"


PREFILLED = """<input type="hidden" name="cities" value="AMS" data-connect-label="Amsterdam">
<input type="hidden" name="cities" value="HAA"><input type="hidden" name="cities" value="XYZ">"""


def test_prefilled_values_show_their_labels_from_the_page_and_from_connect(page, trip, upstream, screenshot):
    labels = []
    page.on("request", lambda r: labels.append(r.url) if "/labels?" in r.url else None)
    page.goto(
        trip.page_with(
            "/prefilled.html",
            attributes='data-connect-multiple data-connect-label-name="cities_label"',
            extra=PREFILLED,
        )
    )
    page.get_by_role("button", name="Remove Haarlem").wait_for()
    assert chips(page) == ["Amsterdam", "Haarlem", "XYZ"]  # a key Connect cannot find stays shown as it is
    assert len(labels) == 1 and "key=HAA" in labels[0] and "key=XYZ" in labels[0] and "key=AMS" not in labels[0]
    carriers = page.locator("input[type=hidden][name=cities]:not([disabled])")  # the page's own are disabled
    assert carriers.evaluate_all("els => els.map(e => e.value)") == [
        "AMS",
        "HAA",
        "XYZ",
    ]
    screenshot("prefilled")
    page.get_by_role("button", name="Remove XYZ").click()
    page.get_by_role("button", name="Send").click()
    assert verdict(page) == ["sent: AMS HAA", "labels: Amsterdam | Haarlem", "proof: covers AMS HAA"]


def test_a_required_field_with_several_values_blocks_the_form_until_one_is_chosen(page, trip):
    page.goto(trip.page_with("/required.html", attributes="data-connect-multiple required"))
    box = page.get_by_role("combobox", name="Cities")
    box.wait_for()
    page.get_by_role("button", name="Send").click()
    assert box.evaluate("el => el.validity.valueMissing") is True
    assert box.get_attribute("aria-invalid") == "true"
    assert trip.received == []
    box.fill("zw")
    page.get_by_role("option", name="Zwolle").click()
    box.press("Escape")
    assert box.evaluate("el => el.validity.valid") is True and box.get_attribute("aria-invalid") is None
    page.get_by_role("button", name="Send").click()
    assert verdict(page)[0] == "sent: ZWO"


def test_a_list_item_with_several_values_is_a_combobox_with_chips(page, trip):
    page.goto(
        trip.page_with(
            "/countries.html", item="countries", name="countries", label="Countries", attributes="data-connect-multiple"
        )
    )
    page.locator("input#countries[role=combobox]").wait_for()
    box = page.get_by_role("combobox", name="Countries")
    assert page.locator("select").count() == 0
    box.press("ArrowDown")  # a list: all its options without typing
    listbox = page.get_by_role("listbox", name="Countries")
    listbox.get_by_role("option", name="France").click()
    listbox.get_by_role("option", name="Netherlands").click()
    assert chips(page) == ["France", "Netherlands"]
    box.press("Escape")
    page.get_by_role("button", name="Send").click()
    assert verdict(page) == ["sent: FR NL", "labels: (none)", "proof: covers FR NL"]


# --- a large list ---------------------------------------------------------------------------------------------


def product_calls(upstream) -> int:
    return sum(1 for r in upstream.requests if r["path"].split("?", 1)[0] == "/geo/products")


def test_a_5000_option_list_loads_in_slices_and_filters_on_connect_with_one_upstream_call(
    page, trip, upstream, screenshot
):
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/options?" in r.url else None)
    page.goto(trip.page_with("/products.html", item="products", name="product", label="Product"))
    page.locator("input#product[role=combobox]").wait_for()  # not a 5,000-line select
    box = page.get_by_role("combobox", name="Product")
    assert page.locator("select").count() == 0
    box.press("ArrowDown")
    listbox = page.get_by_role("listbox", name="Product")
    listbox.get_by_role("option", name="Product 1", exact=True).wait_for()
    first = listbox.get_by_role("option").count()
    assert 50 < first <= 200
    page.wait_for_function("() => /of 5,?000/.test(document.querySelector('.connect-field [role=status]').textContent)")
    screenshot("first-slice")

    listbox.evaluate("el => { el.scrollTop = el.scrollHeight; }")  # scrolled to its end: the next slice
    page.wait_for_function("n => document.querySelectorAll('[role=listbox] [role=option]').length > n", arg=first)
    shown = listbox.get_by_role("option", name="Product 150", exact=True)
    assert shown.count() == 1

    before = listbox.get_by_role("option").count()
    box.press("End")  # the last option ...
    box.press("End")  # ... and End again there: more
    page.wait_for_function("n => document.querySelectorAll('[role=listbox] [role=option]').length > n", arg=before)

    box.fill("product 4999")
    listbox.get_by_role("option", name="Product 4999", exact=True).wait_for()
    assert listbox.get_by_role("option").all_inner_texts() == ["Product 4999"]
    listbox.get_by_role("option", name="Product 4999", exact=True).click()
    assert box.input_value() == "Product 4999"
    assert any("q=product+4999" in url for url in asked)
    assert all("limit=" in url for url in asked)
    assert product_calls(upstream) == 1  # one read of the list; every slice and every filter came from Connect
    page.get_by_role("button", name="Send").click()
    assert verdict(page) == ["sent: P04999", "labels: (none)", "proof: covers P04999"]


def test_a_list_of_a_few_options_stays_a_native_select(page, trip):
    page.goto(trip.page_with("/country.html", item="countries", name="country", label="Country"))
    select = page.get_by_label("Country")
    select.locator("option", has_text="Netherlands").wait_for(state="attached")
    assert select.evaluate("el => el.tagName") == "SELECT"


def test_more_is_an_option_the_keyboard_chooses_and_a_prefilled_key_gets_its_label_from_connect(page, trip, upstream):
    labels = []
    page.on("request", lambda r: labels.append(r.url) if "/labels?" in r.url else None)
    page.goto(
        trip.page_with("/reopened.html", item="products", name="product", label="Product", attributes='value="P04321"')
    )
    page.wait_for_function("document.getElementById('product').value === 'Product 4321'")  # not in the first slice
    assert len(labels) == 1 and "key=P04321" in labels[0]
    box = page.get_by_role("combobox", name="Product")
    box.press("ArrowDown")  # the list from its start
    listbox = page.get_by_role("listbox", name="Product")
    more = listbox.get_by_role("option", name="More options…")
    more.wait_for()
    box.press("ArrowUp")  # from the first option up to the last: "More"
    assert box.get_attribute("aria-activedescendant") == more.get_attribute("id")
    box.press("Enter")
    listbox.get_by_role("option", name="Product 200", exact=True).wait_for()
    active = box.get_attribute("aria-activedescendant")
    assert page.locator(f"#{active}").inner_text() == "Product 101"  # the first of the new slice
    page.wait_for_function(
        "() => document.querySelector('.connect-field [role=status]').textContent.startsWith('200 of 5,000')"
    )
    assert product_calls(upstream) == 1


FRENCH_PREFILLED = """<input type="hidden" name="villes" value="AMS" data-connect-label="Amsterdam">
<input type="hidden" name="villes" value="HAA" data-connect-label="Haarlem">"""


def test_chips_speak_the_pages_language(page, trip):
    page.goto(
        trip.page_with(
            "/fr.html",
            name="villes",
            label="Villes",
            lang="fr",
            extra=FRENCH_PREFILLED,
            attributes='data-connect-multiple data-connect-max="2"',
        )
    )
    page.get_by_role("button", name="Retirer Haarlem").wait_for()
    assert page.get_by_role("list", name="Villes : choix").is_visible()
    box = page.get_by_role("combobox", name="Villes")
    box.fill("utr")
    page.get_by_role("option", name="Utrecht").click()
    page.wait_for_function(
        "t => document.querySelector('.connect-field [role=status]').textContent === t",
        arg="Au plus 2 valeurs peuvent être choisies : retirez-en une d’abord.",
    )
    box.press("Escape")
    page.get_by_role("button", name="Retirer Amsterdam").click()
    page.wait_for_function(
        "t => document.querySelector('.connect-field [role=status]').textContent === t", arg="Amsterdam retiré."
    )


def test_destroy_gives_back_the_pages_prefilled_values_and_enhance_takes_them_again(page, trip):
    page.goto(trip.page_with("/again.html", attributes="data-connect-multiple", extra=PREFILLED))
    page.get_by_role("button", name="Remove Haarlem").wait_for()
    page.evaluate("ConnectField.destroy(document.getElementById('cities'))")
    assert page.locator(".connect-field, .connect-field-chip").count() == 0
    hidden = page.locator("input[type=hidden][name=cities]")
    assert hidden.evaluate_all("els => els.map(e => [e.value, e.disabled])") == [
        ["AMS", False],
        ["HAA", False],
        ["XYZ", False],
    ]
    page.evaluate("ConnectField.enhance(document.getElementById('cities'))")
    page.get_by_role("button", name="Remove Haarlem").wait_for()
    assert chips(page) == ["Amsterdam", "Haarlem", "XYZ"]
    assert page.locator("input[type=hidden][name=cities]:not([disabled])").count() == 3  # the widget's own


WAITING = """<label for="region">Region code</label><input id="region" name="region">
<input type="hidden" name="stops" value="AMS" data-connect-label="Amsterdam">"""


def test_a_field_waiting_for_its_parent_keeps_its_values_out_of_reach_until_the_parent_is_filled(page, trip):
    page.goto(
        trip.page_with(
            "/waiting.html",
            item="cities",
            name="stops",
            label="Stops",
            extra=WAITING,
            attributes='data-connect-multiple data-connect-depends="region=#region"',
        )
    )
    chip = page.get_by_role("button", name="Remove Amsterdam")
    chip.wait_for()
    page.locator("[data-connect-state=waiting]").wait_for()
    assert chip.is_disabled() and page.get_by_role("combobox", name="Stops").is_disabled()
    page.get_by_label("Region code").fill("NH")
    page.get_by_label("Region code").press("Tab")  # committed: the field reloads for it, its values cleared
    box = page.get_by_role("combobox", name="Stops")
    assert box.is_enabled() and chips(page) == []
    box.press("ArrowDown")
    page.get_by_role("option", name="Haarlem").click()
    box.press("Escape")
    page.get_by_role("button", name="Send").click()
    assert verdict(page) == ["sent: HAA", "labels: (none)", "proof: covers HAA"]
