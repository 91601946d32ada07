"""Behind a TLS-terminating reverse proxy: the OAuth callback URI, HSTS, and what is trusted only when the operator
opts in (CONNECT_BEHIND_TLS_PROXY sets the two settings used here; tests/test_settings.py checks that)."""

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import make_datasource

FORWARDED = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "connect.example.com"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def datasource(fake_dns):
    return make_datasource(
        name="AC",
        mode="oauth2_authorization_code",
        provider="custom",
        authorization_url="https://auth.example.com/authorize",
        token_url="https://auth.example.com/token",
        client_id="connect",
        client_secret="x",
    )


@pytest.fixture
def behind_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    settings.ALLOWED_HOSTS = ["connect.example.com", "testserver"]


def callback_shown(page) -> str:
    text = page.content.decode()
    start = text.index('id="callback-url">') + len('id="callback-url">')
    return text[start : text.index("</code>", start)]


def test_behind_the_proxy_the_callback_uri_is_the_public_one_and_the_hint_names_connect_public_url(
    staff_client, datasource, behind_proxy
):
    page = staff_client.get(f"/datasources/{datasource.pk}/", **FORWARDED)
    assert callback_shown(page) == "https://connect.example.com/oauth/callback/"
    assert "CONNECT_PUBLIC_URL" in page.content.decode()


def test_behind_the_proxy_the_provider_is_sent_the_same_callback_uri(staff_client, datasource, behind_proxy):
    response = staff_client.post(f"/datasources/{datasource.pk}/oauth/connect/", **FORWARDED)
    assert response.status_code == 302
    sent = parse_qs(urlsplit(response["Location"]).query)["redirect_uri"]
    assert sent == ["https://connect.example.com/oauth/callback/"]


def test_without_the_opt_in_forwarded_headers_are_not_believed(staff_client, datasource):
    page = staff_client.get(f"/datasources/{datasource.pk}/", **FORWARDED)
    assert callback_shown(page) == "http://testserver/oauth/callback/"
    assert "set <code>CONNECT_PUBLIC_URL</code>" in page.content.decode()


def test_connect_public_url_wins_and_the_page_says_where_the_uri_comes_from(staff_client, datasource, settings):
    settings.CONNECT_PUBLIC_URL = "https://forms.example.org/connect/"
    page = staff_client.get(f"/datasources/{datasource.pk}/", **FORWARDED)
    assert callback_shown(page) == "https://forms.example.org/connect/oauth/callback/"
    assert "Built from <code>CONNECT_PUBLIC_URL</code>" in page.content.decode()


def test_hsts_is_sent_on_https_requests_only(client, settings, behind_proxy):
    settings.SECURE_HSTS_SECONDS = 31536000
    assert client.get("/healthz", **FORWARDED)["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/healthz")


def test_secure_cookies_are_marked_secure(client, staff_user, settings, behind_proxy):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    page = client.get("/login/", **FORWARDED)
    assert page.cookies["csrftoken"]["secure"] is True
    signed_in = client.post(
        "/login/",
        {"username": "admin", "password": "pw-admin-123", "csrfmiddlewaretoken": page.cookies["csrftoken"].value},
        HTTP_ORIGIN="https://connect.example.com",
        **FORWARDED,
    )
    assert signed_in.status_code == 302
    assert signed_in.cookies["sessionid"]["secure"] is True
