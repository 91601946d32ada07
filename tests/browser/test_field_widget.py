"""The field widget on the Try it page of Country -> Region -> City (a real local HTTPS API), clicked through in
Chromium: cascading lists, the search field with the keyboard only, debounce, errors, a real form submit, axe."""

import pytest

from tests.support import geo_api

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chain(start_server, trust_test_ca):
    upstream = start_server(geo_api.ROUTES)
    return geo_api.make_chain(upstream)


@pytest.fixture
def try_page(signed_in, live_server, chain):
    page = signed_in
    page.goto(f"{live_server.url}/items/{chain.city.pk}/try/")
    page.get_by_label("Country").locator("option", has_text="Netherlands").wait_for(state="attached")
    return page


def options_requests(page, item):
    seen = []
    page.on(
        "request", lambda request: seen.append(request.url) if f"/api/items/{item.pk}/options" in request.url else None
    )
    return seen


def choose_noord_holland(page):
    page.get_by_label("Country").select_option(label="Netherlands")
    region = page.get_by_label("Region")
    region.locator("option", has_text="Noord-Holland").wait_for(state="attached")
    region.select_option(label="Noord-Holland")


def city_box(page):
    return page.get_by_role("combobox", name="City")


def test_choosing_a_country_loads_regions_and_a_region_loads_cities(try_page, chain, screenshot):
    page = try_page
    region = page.get_by_label("Region")
    assert region.is_disabled()
    page.get_by_label("Country").select_option(label="Netherlands")
    region.locator("option", has_text="Noord-Holland").wait_for(state="attached")
    assert region.is_enabled()
    assert region.locator("option").all_inner_texts() == ["Choose…", "Noord-Holland", "Zuid-Holland"]
    region.select_option(label="Noord-Holland")
    city = city_box(page)
    assert city.is_enabled()
    city.click()
    city.press("ArrowDown")
    listbox = page.get_by_role("listbox", name="City")
    listbox.get_by_role("option", name="Haarlem").wait_for()
    assert listbox.get_by_role("option").all_inner_texts() == ["Amsterdam", "Haarlem", "Zaandam"]
    screenshot("cities")


def test_changing_the_country_clears_region_and_city(try_page, screenshot):
    page = try_page
    page.get_by_label("Country").select_option(label="Netherlands")
    region = page.get_by_label("Region")
    region.locator("option", has_text="Noord-Holland").wait_for(state="attached")
    region.select_option(label="Noord-Holland")
    city = city_box(page)
    city.fill("Ams")
    page.get_by_role("option", name="Amsterdam").click()
    assert city.input_value() == "Amsterdam"
    assert page.locator("input[type=hidden][name=city]").input_value() == "AMS"
    page.get_by_label("Country").select_option(label="France")
    region.locator("option", has_text="Île-de-France").wait_for(state="attached")
    assert region.input_value() == ""
    assert page.locator("input[type=hidden][name=region]").input_value() == ""
    assert city.input_value() == "" and city.is_disabled()
    assert page.locator("input[type=hidden][name=city]").input_value() == ""
    screenshot("cleared")


def test_a_child_waits_for_its_empty_required_parent_and_says_which(try_page, screenshot):
    page = try_page
    region, city = page.get_by_label("Region"), city_box(page)
    assert region.is_disabled() and city.is_disabled()
    region_hint = page.locator(f"#{region.get_attribute('aria-describedby').split()[-1]}")
    city_hint = page.locator(f"#{city.get_attribute('aria-describedby').split()[-1]}")
    assert region_hint.inner_text() == "Choose Country first."
    assert city_hint.inner_text() == "Choose Region first."
    screenshot("waiting")
    page.get_by_label("Country").select_option(label="Netherlands")
    region.locator("option", has_text="Noord-Holland").wait_for(state="attached")
    assert region_hint.inner_text() == ""
    assert city.is_disabled() and city_hint.inner_text() == "Choose Region first."


def test_keyboard_only_selection_and_the_key_after_a_real_form_submit(try_page, live_server, chain, screenshot):
    page = try_page
    page.get_by_label("Country").focus()
    page.keyboard.press("ArrowDown")  # a closed select: the next option (Netherlands)
    region = page.get_by_label("Region")
    region.locator("option", has_text="Noord-Holland").wait_for(state="attached")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "try-region"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # Zuid-Holland
    page.keyboard.press("Tab")
    city = city_box(page)
    assert page.evaluate("document.activeElement.id") == "try-city"
    page.keyboard.type("e")
    listbox = page.get_by_role("listbox", name="City")
    listbox.get_by_role("option", name="Leiden").wait_for()
    assert city.get_attribute("aria-expanded") == "true"
    page.keyboard.press("ArrowDown")
    first = listbox.get_by_role("option").nth(0)
    assert city.get_attribute("aria-activedescendant") == first.get_attribute("id")
    assert first.get_attribute("aria-selected") == "true"
    page.keyboard.press("End")
    last = listbox.get_by_role("option").last
    assert city.get_attribute("aria-activedescendant") == last.get_attribute("id")
    page.keyboard.press("Home")
    assert city.get_attribute("aria-activedescendant") == first.get_attribute("id")
    page.keyboard.press("Escape")
    assert city.get_attribute("aria-expanded") == "false" and listbox.is_hidden()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # Rotterdam, Den Haag, Leiden: the third
    page.keyboard.press("Enter")
    assert city.input_value() == "Leiden"
    assert city.get_attribute("aria-expanded") == "false"
    screenshot("chosen")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the submit button
    sent = page.locator("[data-submitted]")
    sent.wait_for()
    assert "?" not in page.url  # sent by POST: nothing typed or chosen in the URL
    assert sent.locator("[data-sent=country]").inner_text() == "NL"
    assert sent.locator("[data-sent=region]").inner_text() == "ZH"
    assert sent.locator("[data-sent=city]").inner_text() == "LEI"
    assert sent.locator("[data-sent=city_label]").inner_text() == "Leiden"
    # Pre-filled from what was sent: the fields show the labels again.
    assert page.get_by_label("Country").locator("option:checked").inner_text() == "Netherlands"
    page.get_by_label("Region").locator("option:checked", has_text="Zuid-Holland").wait_for(state="attached")
    assert city_box(page).input_value() == "Leiden"
    screenshot("submitted")


def test_typing_quickly_makes_at_most_two_requests_and_shows_the_last_texts_options(try_page, chain):
    page = try_page
    page.get_by_label("Country").select_option(label="Netherlands")
    region = page.get_by_label("Region")
    region.locator("option", has_text="Noord-Holland").wait_for(state="attached")
    region.select_option(label="Noord-Holland")
    requests_made = options_requests(page, chain.city)
    city = city_box(page)
    city.click()
    city.press_sequentially("Amsterda", delay=25)  # 8 characters, well inside one 250 ms pause
    listbox = page.get_by_role("listbox", name="City")
    listbox.get_by_role("option", name="Amsterdam").wait_for()
    assert listbox.get_by_role("option").all_inner_texts() == ["Amsterdam"]
    page.wait_for_timeout(400)  # nothing late arrives
    assert 1 <= len(requests_made) <= 2, requests_made
    assert "q=Amsterda" in requests_made[-1]
    assert listbox.get_by_role("option").all_inner_texts() == ["Amsterdam"]


def test_an_older_answer_never_replaces_a_newer_one(try_page, chain):
    page = try_page
    choose_noord_holland(page)
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    city = city_box(page)
    city.fill(geo_api.SLOW_TEXT)  # answered after SLOW_SECONDS
    status = page.locator(f"#{city.get_attribute('aria-describedby').split()[-1]}")
    status.get_by_text("Loading options…").wait_for()  # its request is on its way, and the page says so
    city.fill("haa")
    listbox = page.get_by_role("listbox", name="City")
    listbox.get_by_role("option", name="Haarlem").wait_for()
    page.wait_for_timeout(geo_api.SLOW_SECONDS * 1000 + 300)  # the slow answer would be in by now
    assert listbox.get_by_role("option").all_inner_texts() == ["Haarlem"]
    assert city.input_value() == "haa"
    assert any("q=zaa" in url for url in failed)  # aborted, not just ignored


def test_answers_for_the_same_values_are_reused_on_the_page(try_page, chain):
    page = try_page
    choose_noord_holland(page)
    requests_made = options_requests(page, chain.city)
    city, region = city_box(page), page.get_by_label("Region")
    city.fill("a")
    page.get_by_role("option", name="Haarlem").wait_for()
    region.select_option(label="Zuid-Holland")
    city.fill("a")
    page.get_by_role("option", name="Den Haag").wait_for()
    region.select_option(label="Noord-Holland")
    city.fill("a")
    page.get_by_role("option", name="Haarlem").wait_for()
    page.wait_for_timeout(400)
    assert len(requests_made) == 2, requests_made


def test_no_matching_option_is_said_and_announced(try_page):
    page = try_page
    choose_noord_holland(page)
    city = city_box(page)
    city.fill("xyz")
    status = page.locator(f"#{city.get_attribute('aria-describedby').split()[-1]}")
    status.get_by_text("No options match “xyz”.").wait_for()
    assert city.get_attribute("aria-expanded") == "false"
    announced = page.locator(".connect-field", has=city).get_by_role("status")
    announced.get_by_text("No options.").wait_for(state="attached")
    city.fill("am")
    announced.get_by_text("2 options available").wait_for(state="attached")


def test_an_api_error_shows_connects_message(try_page):
    page = try_page
    page.get_by_label("Country").select_option(label="Netherlands")
    region = page.get_by_label("Region")
    region.locator("option", has_text="Noord-Holland").wait_for(state="attached")
    region.select_option(label="Noord-Holland")
    city = city_box(page)
    city.fill(geo_api.FAILING_TEXT)
    status = page.locator(f"#{city.get_attribute('aria-describedby').split()[-1]}")
    status.get_by_text("The API answered HTTP 500.").wait_for()
    assert "upstream exploded" not in page.content()


def test_the_try_it_page_has_no_serious_accessibility_violation(try_page):
    from axe_playwright_python.sync_playwright import Axe

    page = try_page
    page.get_by_label("Country").select_option(label="Netherlands")
    region = page.get_by_label("Region")
    region.locator("option", has_text="Noord-Holland").wait_for(state="attached")
    region.select_option(label="Noord-Holland")
    city_box(page).fill("a")
    page.get_by_role("option", name="Amsterdam").wait_for()  # the listbox open: scanned too
    results = Axe().run(page)
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
