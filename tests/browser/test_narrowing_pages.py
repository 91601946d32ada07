"""Setting narrowing in the item form and reading its figure on the item page, as a person does it in Chromium."""

import pytest

from items.models import Item
from items.services import narrowing
from tests.conftest import make_datasource

pytestmark = pytest.mark.django_db(transaction=True)


def serious_violations(page) -> list:
    from axe_playwright_python.sync_playwright import Axe

    return [
        (v["id"], [n["target"] for n in v["nodes"]])
        for v in Axe().run(page).response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_choose_how_the_api_filters_and_see_the_calls_saved(signed_in, live_server, screenshot):
    page = signed_in
    item = Item.objects.create(
        name="City", datasource=make_datasource(name="Geo"), query="/cities?q=$userInput", key_field="id"
    )
    page.goto(f"{live_server.url}/items/{item.pk}/edit/")
    group = page.get_by_role("group", name="The API filters by")
    assert group.get_by_label("Nothing (or not known): every text is asked of the API").is_checked()
    group.get_by_label("Label starts with the typed text").check()
    assert serious_violations(page) == []
    screenshot("form")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").get_by_text("saved").wait_for()
    item.refresh_from_db()
    assert item.api_filter == "label_starts_with"
    for _ in range(3):
        narrowing.count_saved_call(item_id=item.pk)
    page.reload()
    figure = page.locator("dt", has_text="The API filters by").locator("xpath=following-sibling::dd[1]")
    assert figure.inner_text() == (
        "label starts with the typed text: longer texts are narrowed on Connect – 3 API calls saved in the last hour"
    )
    assert serious_violations(page) == []
    screenshot("item-page")
