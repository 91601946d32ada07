"""POST /api/items/<id>/cache/purge (SPEC 12): an embedding token of an application allowed to purge drops the item's
cached answers (204); anyone else gets a JSON error and nothing is dropped."""

import pytest

from applications.models import Application
from items.models import Item
from items.services import resolve_item
from tests.conftest import ALL_SECRETS, assert_no_secret, make_datasource
from tests.items.conftest import BASE_URL, ISSUES, item_keys, make_item

from .conftest import make_application, mint

pytestmark = pytest.mark.django_db

ORIGIN = "https://forms.example.com"


@pytest.fixture
def item(upstream_answers, fake_dns, redis):
    datasource = make_datasource(base_url=BASE_URL, mode="api_key", api_key_name="X-Key", api_key_value=ALL_SECRETS[1])
    item = make_item(datasource)
    resolve_item(item=item, user_input="printer")
    assert len(item_keys(redis)) == 1
    return item


@pytest.fixture
def upstream_answers():
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{BASE_URL}/search", json=ISSUES)
        yield mock


def purge(client, item, token=None, **headers):
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(f"/api/items/{item.pk}/cache/purge", **headers)


def allowed_application(item, **kwargs):
    application = make_application(items=[item], **kwargs)
    Application.objects.filter(pk=application.pk).update(may_purge=True)
    application.refresh_from_db()
    application.save()  # a new config version, as the application page saves it
    return application


def test_a_token_of_an_application_allowed_to_purge_drops_the_answers(client, item, redis, upstream_answers):
    token = mint(allowed_application(item), items=[item.pk])
    response = purge(client, item, token)
    assert response.status_code == 204 and response.content == b""
    assert item_keys(redis) == []
    fresh = Item.objects.select_related("datasource", "datasource__auth").get(pk=item.pk)
    assert resolve_item(item=fresh, user_input="printer").cache_status == "miss"
    assert len(upstream_answers.calls) == 2


def test_a_purge_from_a_browser_page_of_the_application_is_accepted(client, item, redis):
    token = mint(allowed_application(item, origins=[ORIGIN]), items=[item.pk])
    assert purge(client, item, token, HTTP_ORIGIN=ORIGIN).status_code == 204


def test_an_application_not_allowed_to_purge_gets_a_json_403(client, item, redis):
    token = mint(make_application(items=[item]), items=[item.pk])
    response = purge(client, item, token)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "purge_not_allowed"
    assert "“May purge cached answers”" in response.json()["error"]["message"]
    assert len(item_keys(redis)) == 1


def test_allowing_purge_on_the_application_page_is_seen_at_the_next_request(client, staff_client, item, redis):
    application = make_application(items=[item])
    token = mint(application, items=[item.pk])
    assert purge(client, item, token).status_code == 403
    response = staff_client.post(
        f"/applications/{application.pk}/edit/",
        {"name": application.name, "items": [item.pk], "allowed_origins": ORIGIN, "enabled": "on", "may_purge": "on"},
        follow=True,
    )
    assert "May purge cached answers" in response.content.decode()
    assert Application.objects.get(pk=application.pk).may_purge is True
    assert purge(client, item, token).status_code == 204


def test_a_token_that_does_not_grant_the_item_cannot_purge_it(client, item, redis):
    other = Item.objects.create(name="Other", datasource=item.datasource, query="/other", key_field="id")
    application = allowed_application(item)
    application.items.add(other)
    token = mint(application, items=[other.pk])
    response = purge(client, item, token)
    assert response.status_code == 403 and response.json()["error"]["code"] == "item_not_granted"
    assert len(item_keys(redis)) == 1


def test_a_signed_in_session_cannot_purge(staff_client, item, redis):
    response = purge(staff_client, item)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "purge_not_allowed"
    assert "“Refresh now”" in response.json()["error"]["message"]
    assert len(item_keys(redis)) == 1


@pytest.mark.parametrize(
    "authorization, status, code",
    [(None, 401, "not_authenticated"), ("Bearer not-a-jwt", 401, "invalid_token")],
)
def test_no_or_a_bad_token_gets_a_json_401(client, item, redis, authorization, status, code):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.post(f"/api/items/{item.pk}/cache/purge", **headers)
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert len(item_keys(redis)) == 1


def test_get_is_refused_with_a_json_405(client, item, redis):
    token = mint(allowed_application(item), items=[item.pk])
    response = client.get(f"/api/items/{item.pk}/cache/purge", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert len(item_keys(redis)) == 1


def test_an_unknown_item_is_answered_as_json(client, staff_client, item):
    token = mint(allowed_application(item), items=[item.pk])
    response = client.post("/api/items/999999/cache/purge", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 403 and response.json()["error"]["code"] == "item_not_granted"
    response = staff_client.post("/api/items/999999/cache/purge")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_no_answer_of_the_purge_api_shows_a_secret(client, staff_client, item):
    token = mint(make_application(items=[item]), items=[item.pk])
    for response in (purge(client, item, token), purge(staff_client, item), purge(client, item, "x")):
        assert_no_secret(response.content)


def test_the_application_page_says_whether_it_may_purge(staff_client, item):
    application = allowed_application(item)
    page = staff_client.get(f"/applications/{application.pk}/").content.decode()
    assert "<dt>May purge cached answers</dt><dd>yes" in page
    form = staff_client.get(f"/applications/{application.pk}/edit/").content.decode()
    assert 'name="may_purge"' in form and "webhook" in form


def test_a_purge_is_audited_as_its_application(client, item, redis):
    from audit.models import AuditEntry

    application = allowed_application(item)
    assert purge(client, item, mint(application, items=[item.pk])).status_code == 204
    entry = AuditEntry.objects.get(action="cache_refresh")
    assert (entry.actor, entry.via, entry.object_id) == (f"application {application.name}", "api", str(item.pk))


def test_a_refused_purge_is_not_audited(client, item, redis):
    from audit.models import AuditEntry

    assert purge(client, item, mint(make_application(items=[item]), items=[item.pk])).status_code == 403
    assert not AuditEntry.objects.filter(action="cache_refresh").exists()
