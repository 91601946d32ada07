"""The limits protecting an API, on wizard step 3, the edit page and the admin: sensible defaults, and every bad value
refused with one message next to its field, changing nothing."""

import re

import pytest

from datasources.models import Datasource
from tests.datasources.conftest import STEP3_URL, errors_next_to, form_data, start_wizard, step3_data

pytestmark = pytest.mark.django_db

RATE = "Enter a number of calls per second from 0 (no limit) to 10,000, e.g. 10 or 0.5."
AT_ONCE = "Enter a whole number of concurrent calls from 0 (no limit) to 1,000."
STALE = "Enter a number of seconds from 60 to 86,400 (24 hours)."
BAD_VALUES = [
    ("calls_per_second", "-1", RATE),
    ("calls_per_second", "10001", RATE),
    ("calls_per_second", "1e400", "Enter a number."),
    ("calls_per_second", "nan", "Enter a number."),
    ("calls_per_second", "ten", "Enter a number."),
    ("calls_per_second", "", "This field is required."),
    ("concurrent_calls", "-3", AT_ONCE),
    ("concurrent_calls", "100000000000", AT_ONCE),
    ("concurrent_calls", "2.5", "Enter a whole number."),
    ("stale_max_age_seconds", "0", STALE),
    ("stale_max_age_seconds", "86401", STALE),
    ("stale_max_age_seconds", "-60", STALE),
]
FIELDS = ("calls_per_second", "concurrent_calls", "stale_if_error", "stale_max_age_seconds")


def limits_of(datasource):
    row = Datasource.objects.filter(pk=datasource.pk).values(*FIELDS, "config_version", "updated_at").get()
    return row


def test_the_wizard_offers_sensible_defaults(staff_client):
    data = form_data(start_wizard(staff_client))
    assert (data["calls_per_second"], data["concurrent_calls"], data["stale_max_age_seconds"]) == ("10", "5", "3600")
    assert "stale_if_error" not in data  # off by default


@pytest.mark.parametrize("stored, shown", [(10.0, "10"), (0.5, "0.5"), (0.0, "0")])
def test_the_edit_page_shows_the_calls_per_second_as_typed(staff_client, datasource_factory, stored, shown):
    datasource = datasource_factory()
    Datasource.objects.filter(pk=datasource.pk).update(calls_per_second=stored)

    data = form_data(staff_client.get(f"/datasources/{datasource.pk}/edit/"))

    assert data["calls_per_second"] == shown


def test_the_wizard_saves_the_limits(staff_client):
    data = step3_data(
        start_wizard(staff_client),
        calls_per_second="0.5",
        concurrent_calls="0",
        stale_if_error="on",
        stale_max_age_seconds="7200",
    )
    data.update(calls_per_second="0.5", concurrent_calls="0", stale_if_error="on", stale_max_age_seconds="7200")
    assert staff_client.post(STEP3_URL, data).status_code == 302
    saved = Datasource.objects.get(name="Jira")
    assert (saved.calls_per_second, saved.concurrent_calls, saved.stale_if_error, saved.stale_max_age_seconds) == (
        0.5,
        0,
        True,
        7200,
    )


@pytest.mark.parametrize("field, value, message", BAD_VALUES)
def test_the_wizard_refuses_a_bad_limit_next_to_its_field(staff_client, field, value, message):
    data = step3_data(start_wizard(staff_client))
    data[field] = value
    response = staff_client.post(STEP3_URL, data)
    assert response.status_code == 200
    assert errors_next_to(response, field) == [message]
    assert not Datasource.objects.exists()


@pytest.mark.parametrize("field, value, message", BAD_VALUES)
def test_the_edit_page_refuses_a_bad_limit_and_changes_nothing(staff_client, datasource_factory, field, value, message):
    datasource = datasource_factory()
    before = limits_of(datasource)
    data = form_data(staff_client.get(f"/datasources/{datasource.pk}/edit/"))
    data[field] = value
    response = staff_client.post(f"/datasources/{datasource.pk}/edit/", data)
    assert response.status_code == 200
    assert errors_next_to(response, field) == [message]
    assert "Nothing was saved" in response.content.decode()
    assert limits_of(datasource) == before


def test_the_edit_page_saves_new_limits(staff_client, datasource_factory):
    datasource = datasource_factory()
    data = form_data(staff_client.get(f"/datasources/{datasource.pk}/edit/"))
    data.update(calls_per_second="25", concurrent_calls="8")
    assert staff_client.post(f"/datasources/{datasource.pk}/edit/", data).status_code == 302
    assert limits_of(datasource)["calls_per_second"] == 25 and limits_of(datasource)["concurrent_calls"] == 8


@pytest.mark.parametrize("field, value, message", [case for case in BAD_VALUES if case[1] != ""])
def test_the_admin_refuses_a_bad_limit_next_to_its_field_and_changes_nothing(
    superuser_client, datasource_factory, field, value, message
):
    datasource = datasource_factory()
    before = limits_of(datasource)
    url = f"/admin/datasources/datasource/{datasource.pk}/change/"
    data = form_data(superuser_client.get(url))
    data[field] = value
    response = superuser_client.post(url, data)
    assert response.status_code == 200
    row = re.search(
        rf'<div class="form-row[^"]*field-{field}[^"]*">(.*?)</div>\s*</div>', response.content.decode(), re.S
    )
    assert row and message in row.group(1)
    assert row.group(1).count('<ul class="errorlist') == 1
    assert limits_of(datasource) == before
