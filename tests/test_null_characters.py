"""One rule for stored text (core/text_rules.py): a NUL character, also written as the JSON escape \\u0000, is a
field error at save, on the pages and in the admin, never a 500 from PostgreSQL; nothing is saved."""

import pytest
from django.core.exceptions import ValidationError

from applications.models import Application
from datasources.models import AuthConfig
from items.models import Item
from tests.conftest import SECRET_CLIENT_SECRET
from tests.datasources.conftest import STEP3_URL, errors_next_to, form_data, start_wizard, step3_data

pytestmark = pytest.mark.django_db

MESSAGE = "Null characters are not allowed (nor the escape \\u0000 in JSON)."


def _client_credentials(**extra):
    return {
        "mode": "oauth2_client_credentials",
        "token_url": "https://auth.example.com/token",
        "client_id": "connect",
        "client_secret": SECRET_CLIENT_SECRET,
        **extra,
    }


@pytest.mark.parametrize("params", ['{"audience": "a\\u0000b"}', '{"a\\u0000udience": "https://api"}'])
def test_nul_in_extra_token_parameters_is_a_field_error_in_the_wizard(staff_client, params):
    data = step3_data(start_wizard(staff_client), **_client_credentials(extra_token_params=params))

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, "auth-extra_token_params") == [MESSAGE]
    assert not AuthConfig.objects.exists()


def test_nul_in_extra_token_parameters_is_a_field_error_on_the_edit_page(staff_client, datasource_factory):
    datasource = datasource_factory(**_client_credentials(extra_token_params={"audience": "https://api"}))
    data = form_data(staff_client.get(f"/datasources/{datasource.pk}/edit/"))
    data["auth-extra_token_params"] = '{"audience": "a\\u0000b"}'

    response = staff_client.post(f"/datasources/{datasource.pk}/edit/", data)

    assert errors_next_to(response, "auth-extra_token_params") == [MESSAGE]
    assert AuthConfig.objects.get(datasource=datasource).extra_token_params == {"audience": "https://api"}


def test_nul_in_extra_token_parameters_is_refused_in_the_admin(admin_client, datasource_factory):
    datasource = datasource_factory(**_client_credentials(extra_token_params={"audience": "https://api"}))
    url = f"/admin/datasources/datasource/{datasource.pk}/change/"
    data = form_data(admin_client.get(url))
    data["auth-0-extra_token_params"] = '{"audience": "a\\u0000b"}'

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
    assert AuthConfig.objects.get(datasource=datasource).extra_token_params == {"audience": "https://api"}


def test_nul_in_an_items_dependencies_is_refused_in_the_admin(admin_client, datasource_factory):
    item = Item.objects.create(name="Cities", datasource=datasource_factory(), query="/cities", key_field="id")
    url = f"/admin/items/item/{item.pk}/change/"
    data = form_data(admin_client.get(url))
    data["dependencies"] = '[{"name": "a\\u0000b", "optional": false}]'

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
    assert Item.objects.get(pk=item.pk).dependencies == []


def test_nul_typed_in_an_applications_origins_is_refused_in_the_admin(admin_client):
    application = Application.objects.create(name="Forms", allowed_origins=["https://forms.example.com"])
    url = f"/admin/applications/application/{application.pk}/change/"
    data = form_data(admin_client.get(url))
    data["allowed_origins"] = "https://forms.example.com\x00.evil.test"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
    assert Application.objects.get(pk=application.pk).allowed_origins == ["https://forms.example.com"]


def test_nul_in_origins_given_as_data_is_refused_by_the_model():
    application = Application(name="Forms", allowed_origins=["https://forms.example.com\x00.evil.test"])

    with pytest.raises(ValidationError) as refused:
        application.full_clean()

    assert refused.value.message_dict["allowed_origins"] == [MESSAGE]
