"""Item bindings: set in the item form (and the admin), cycles refused with their path, shown on the item page, and
a bound item kept from deletion; the Try it page lays the chain out parents first."""

import re

import pytest

from datasources.models import Datasource
from items.bindings import parents_first, save_bindings
from items.models import Binding, Item

from .conftest import BASE_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def datasource(datasource_factory):
    return datasource_factory(base_url=BASE_URL)


@pytest.fixture
def chain(datasource):
    def make(name, query, dependencies=()):
        return Item.objects.create(
            name=name,
            datasource=datasource,
            query=query,
            key_field="code",
            dependencies=[{"name": d, "optional": False} for d in dependencies],
        )

    country = make("Country", "/countries")
    region = make("Region", "/regions?country=$country", ["country"])
    city = make("City", "/cities?region=$region&q=$userInput", ["region"])
    save_bindings(item=region, sources={"country": country})
    save_bindings(item=city, sources={"region": region})
    return country, region, city


def form_data(item, **overrides):
    data = {
        "name": item.name,
        "datasource": item.datasource_id,
        "query": item.query,
        "dependencies": ", ".join(item.dependency_names),
        "list_path": "",
        "key_field": "code",
        "label_template": "",
        "max_options": "100",
        "method": "GET",
        "pagination": "none",
        "page_start": "1",
        "page_step": "1",
        "max_pages": "5",
    }
    data.update(overrides)
    return data


def test_the_form_offers_a_binding_per_dependency_and_saves_it(staff_client, datasource):
    country = Item.objects.create(name="Country", datasource=datasource, query="/countries")
    region = Item.objects.create(
        name="Region",
        datasource=datasource,
        query="/regions?country=$country",
        dependencies=[{"name": "country", "optional": False}],
    )
    page = staff_client.get(f"/items/{region.pk}/edit/").content.decode()
    assert 'name="bind_country"' in page and "$country comes from" in page
    response = staff_client.post(f"/items/{region.pk}/edit/", form_data(region, bind_country=country.pk))
    assert response.status_code == 302
    assert Binding.objects.get(item=region).source == country


def test_a_dependency_typed_in_the_same_submit_can_be_bound(staff_client, datasource):
    country = Item.objects.create(name="Country", datasource=datasource, query="/countries")
    response = staff_client.post(
        "/items/new/",
        {
            "name": "Region",
            "datasource": datasource.pk,
            "query": "/regions?country=$country",
            "dependencies": "country",
            "bind_country": country.pk,
            "list_path": "",
            "key_field": "id",
            "label_template": "",
            "max_options": "100",
            "method": "GET",
            "pagination": "none",
            "page_start": "1",
            "page_step": "1",
            "max_pages": "5",
        },
    )
    assert response.status_code == 302
    assert Binding.objects.get(item__name="Region").source == country


def test_unbinding_and_removing_a_dependency_remove_the_binding(staff_client, chain):
    _country, region, city = chain
    staff_client.post(f"/items/{city.pk}/edit/", form_data(city, bind_region=""))
    assert not Binding.objects.filter(item=city).exists()
    staff_client.post(f"/items/{region.pk}/edit/", form_data(region, query="/regions", dependencies=""))
    assert not Binding.objects.filter(item=region).exists()


def test_a_cycle_is_refused_with_its_path_and_nothing_changes(staff_client, chain):
    country, _region, city = chain
    country.query, country.dependencies = "/countries?near=$city", [{"name": "city", "optional": False}]
    country.save()
    response = staff_client.post(f"/items/{country.pk}/edit/", form_data(country, bind_city=city.pk))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Country -&gt; City -&gt; Region -&gt; Country" in page
    assert 'id="id_bind_city_error"' in page
    assert not Binding.objects.filter(item=country).exists()


def test_an_item_cannot_be_bound_to_itself(staff_client, datasource):
    item = Item.objects.create(
        name="Self", datasource=datasource, query="/x?p=$parent", dependencies=[{"name": "parent", "optional": False}]
    )
    response = staff_client.post(f"/items/{item.pk}/edit/", form_data(item, bind_parent=item.pk))
    assert response.status_code == 200 and "valid choice" in response.content.decode()
    assert not Binding.objects.exists()


def test_a_bound_item_that_does_not_exist_is_refused(staff_client, chain):
    _country, region, _city = chain
    response = staff_client.post(f"/items/{region.pk}/edit/", form_data(region, bind_country=999999))
    assert response.status_code == 200 and "valid choice" in response.content.decode()


def test_the_item_page_shows_bindings_both_ways_and_links_try_it(staff_client, chain):
    country, region, _city = chain
    page = staff_client.get(f"/items/{region.pk}/preview/").content.decode()
    assert f'comes from <a href="/items/{country.pk}/preview/">Country</a>' in page
    assert "City</a> (<code>$region</code>)" in page
    assert f'href="/items/{region.pk}/try/"' in page


def test_deleting_a_bound_item_is_refused_with_a_message(staff_client, chain):
    country, region, _city = chain
    page = staff_client.get(f"/items/{country.pk}/delete/").content.decode()
    assert "cannot be deleted while other items are bound to it" in page and "Region" in page
    assert 'type="submit" class="danger"' not in page
    response = staff_client.post(f"/items/{country.pk}/delete/", follow=True)
    assert response.status_code == 409 and "was not deleted" in response.content.decode()
    assert Item.objects.filter(pk=country.pk).exists()


def test_an_unbound_item_is_deleted_and_its_own_bindings_go_with_it(staff_client, chain):
    _country, _region, city = chain
    staff_client.post(f"/items/{city.pk}/delete/")
    assert not Item.objects.filter(pk=city.pk).exists()
    assert not Binding.objects.filter(item_id=city.pk).exists()


def test_a_datasource_whose_items_other_items_are_bound_to_is_not_deleted(staff_client, chain, datasource_factory):
    country, _region, _city = chain
    other = datasource_factory(name="Other API", base_url=BASE_URL)
    town = Item.objects.create(
        name="Town", datasource=other, query="/towns?c=$country", dependencies=[{"name": "country", "optional": False}]
    )
    save_bindings(item=town, sources={"country": country})
    page = staff_client.post(f"/datasources/{country.datasource_id}/delete/", follow=True).content.decode()
    assert "was not deleted" in page and "Town: $country comes from Country" in page
    assert Datasource.objects.filter(pk=country.datasource_id).exists()


def test_the_delete_page_says_up_front_which_items_block_the_datasource(staff_client, chain, datasource_factory):
    country, _region, _city = chain
    other = datasource_factory(name="Other API", base_url=BASE_URL)
    town = Item.objects.create(
        name="Town", datasource=other, query="/towns?c=$country", dependencies=[{"name": "country", "optional": False}]
    )
    save_bindings(item=town, sources={"country": country})

    page = staff_client.get(f"/datasources/{country.datasource_id}/delete/").content.decode()

    assert "It cannot be deleted yet" in page and "<li>Town: $country comes from Country</li>" in page
    assert 'type="submit" class="danger"' not in page  # no Delete button that would fail after confirming


def test_the_delete_page_of_a_datasource_with_its_own_chain_offers_to_delete(staff_client, chain):
    country, _region, _city = chain

    page = staff_client.get(f"/datasources/{country.datasource_id}/delete/").content.decode()

    assert "It cannot be deleted yet" not in page and 'type="submit" class="danger"' in page
    assert "will be deleted too" in page


def test_a_datasource_whose_chain_is_its_own_is_deleted_whole(staff_client, chain):
    country, _region, _city = chain
    staff_client.post(f"/datasources/{country.datasource_id}/delete/")
    assert not Item.objects.exists() and not Binding.objects.exists()


def test_parents_come_first(chain):
    country, region, city = chain
    assert parents_first(item=city) == [country, region, city]
    assert parents_first(item=country) == [country]


def test_the_admin_shows_bindings_and_refuses_a_cycle(admin_client, chain):
    country, region, city = chain
    page = admin_client.get(f"/admin/items/item/{region.pk}/change/").content.decode()
    assert "bindings" in page and f'value="{country.pk}" selected' in page
    data = {
        "name": "Country",
        "datasource": country.datasource_id,
        "query": "/countries?near=$city",
        "dependencies": '[{"name": "city", "optional": false}]',
        "list_path": "",
        "key_field": "code",
        "label_template": "",
        "max_options": "100",
        "bindings-TOTAL_FORMS": "1",
        "bindings-INITIAL_FORMS": "0",
        "bindings-MIN_NUM_FORMS": "0",
        "bindings-MAX_NUM_FORMS": "1000",
        "bindings-0-dependency": "city",
        "bindings-0-source": city.pk,
    }
    response = admin_client.post(f"/admin/items/item/{country.pk}/change/", data)
    assert response.status_code == 200
    assert "Country -&gt; City -&gt; Region -&gt; Country" in response.content.decode()
    assert not Binding.objects.filter(item=country).exists()
    data["bindings-0-dependency"] = "nation"
    response = admin_client.post(f"/admin/items/item/{country.pk}/change/", data)
    assert "is not a dependency of this item" in response.content.decode()


def test_the_try_it_page_lays_out_the_chain_with_the_widget(staff_client, chain):
    country, region, city = chain
    response = staff_client.get(f"/items/{city.pk}/try/")
    page = response.content.decode()
    assert response.status_code == 200 and "connect-field.js" in page
    # The page links the widget's stylesheet, and so does the snippet it offers to embed the fields.
    assert page.count('rel="stylesheet" href="/static/connect-field.css"') == 1
    assert "&lt;link rel=&quot;stylesheet&quot; href=&quot;http://testserver/static/connect-field.css&quot;&gt;" in page
    positions = [page.index(f'data-connect-item="{i.pk}"') for i in (country, region, city)]
    assert positions == sorted(positions)
    assert 'data-connect-depends="country=#try-country"' in page
    assert 'data-connect-depends="region=#try-region"' in page
    assert (
        f"&lt;input id=&quot;city&quot; name=&quot;city&quot; data-connect-item=&quot;{city.pk}&quot; "
        f"data-connect-depends=&quot;region=#region&quot;&gt;" in page
    )


def test_an_unbound_dependency_gets_a_plain_field_on_the_try_it_page(staff_client, datasource):
    item = Item.objects.create(
        name="Asset",
        datasource=datasource,
        query="/assets?site=$site&q=$userInput",
        dependencies=[{"name": "site", "optional": False}],
    )
    page = staff_client.post(f"/items/{item.pk}/try/", {"asset_site": "AMS"}).content.decode()
    assert '<label for="try-asset_site">$site for Asset</label>' in page
    assert 'data-connect-depends="site=#try-asset_site"' in page
    assert 'value="AMS"' in page


def test_the_admin_refuses_to_delete_a_bound_item(admin_client, chain):
    country, _region, _city = chain
    page = admin_client.get(f"/admin/items/item/{country.pk}/delete/").content.decode()
    assert "protected related objects" in page and "Region: $country comes from Country" in page
    admin_client.post(f"/admin/items/item/{country.pk}/delete/", {"post": "yes"})
    assert Item.objects.filter(pk=country.pk).exists()


def test_try_it_and_the_field_description_show_no_datasource_secret(staff_client, datasource_factory):
    from tests.conftest import SECRET_API_KEY, assert_no_secret

    datasource = datasource_factory(
        name="Keyed",
        base_url=BASE_URL,
        mode="api_key",
        api_key_location="query",
        api_key_name="api_key",
        api_key_value=SECRET_API_KEY,
    )
    item = Item.objects.create(name="Keyed item", datasource=datasource, query="/x?q=$userInput")
    assert_no_secret(staff_client.get(f"/items/{item.pk}/try/").content)
    field = staff_client.get(f"/api/items/{item.pk}/field")
    assert field.status_code == 200 and set(field.json()) == {
        "item",
        "name",
        "search",
        "searchable",
        "user_input_optional",
        "lookup",
        "dependencies",
    }
    assert_no_secret(field.content)


def test_every_field_of_the_admins_bindings_inline_has_a_label(admin_client, chain):
    _country, region, _city = chain
    page = admin_client.get(f"/admin/items/item/{region.pk}/change/").content.decode()

    controls = re.findall(r"<(?:input|select|textarea)\b[^>]*\bname=\"bindings-[^\"]*\"[^>]*>", page)
    visible = [c for c in controls if 'type="hidden"' not in c]
    ids = [re.search(r'\bid="([^"]+)"', control).group(1) for control in visible]
    assert any("-0-dependency" in i for i in ids) and any("-0-source" in i for i in ids)
    unlabelled = [i for i in ids if f'for="{i}"' not in page]
    assert unlabelled == []
