"""SPEC 12 as a person sees it: the item's cache lifetime and "Refresh now"; the datasource's proxy, client
certificate and login-call sections."""

import pytest

from items.models import Item
from tests.conftest import make_datasource

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_refresh_now_and_the_cache_lifetime_on_the_item_pages(signed_in, live_server, screenshot):
    item = Item.objects.create(
        name="Countries", datasource=make_datasource(name="Reference data"), query="/countries", key_field="code"
    )
    page = signed_in
    page.goto(f"{live_server.url}/items/{item.pk}/edit/")
    page.get_by_label("Answers are kept for (seconds)").fill("86401")
    page.get_by_role("button", name="Save").click()
    field = page.locator(".field", has=page.locator("[name='cache_seconds']"))
    assert "from 0 (answers are never kept) to 86,400 (24 hours)" in field.locator(".errorlist").inner_text()
    field.scroll_into_view_if_needed()
    screenshot("bad-lifetime")
    page.get_by_label("Answers are kept for (seconds)").fill("86400")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{live_server.url}/items/{item.pk}/preview/")
    assert "1 day (86400 s)" in page.locator(".props").first.inner_text()

    page.get_by_role("button", name="Refresh now").click()
    page.wait_for_url(f"{live_server.url}/items/{item.pk}/preview/#cache")
    assert "Cached answers of “Countries” dropped: the next request calls the API." in page.content()
    screenshot("refreshed")


def test_the_login_call_section_of_the_datasource_form(signed_in, live_server, screenshot):
    datasource = make_datasource(name="Legacy ERP", base_url="https://erp.example.com/api")
    page = signed_in
    page.goto(f"{live_server.url}/datasources/{datasource.pk}/edit/")
    page.get_by_label("Token from a login call").check()
    assert page.get_by_label("Login URL").is_visible()
    assert not page.get_by_label("Client ID").is_visible()  # only the chosen mode's fields
    page.get_by_label("Login URL").fill("https://erp.example.com/auth/login")
    page.get_by_label("Login body").fill('{"user": $username, "password": "$password"}')
    page.get_by_label("Username").fill("connect")
    page.get_by_label("Password", exact=True).fill("s3cr3t-PASSWORD-91ad")
    page.get_by_label("Path to the token").fill("$.data.token")
    page.get_by_label("Token header name").fill("X-Auth-Token")
    page.get_by_label("Token header prefix").fill("Token")
    page.get_by_role("button", name="Save").click()
    field = page.locator(".field", has=page.locator("[name='auth-login_body']"))
    assert "The login body is not valid JSON" in field.locator(".errorlist").inner_text()
    assert page.get_by_label("Login URL").is_visible()  # the chosen mode stays chosen
    assert page.get_by_label("Password", exact=True).input_value() == ""  # never sent back
    page.locator("#auth").scroll_into_view_if_needed()
    screenshot("login-section-error")
    page.get_by_label("Login body").fill('{"user": "$username", "password": "$password"}')
    page.get_by_label("Password", exact=True).fill("s3cr3t-PASSWORD-91ad")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{live_server.url}/datasources/{datasource.pk}/")
    assert "Token from a login call" in page.content()
    screenshot("login-detail")


def test_the_network_section_of_the_datasource_form(signed_in, live_server, screenshot):
    import datetime

    import trustme

    ca = trustme.CA(organization_name="Example client CA")
    now = datetime.datetime.now(datetime.UTC)
    leaf = ca.issue_cert(
        "connect@example.com",
        common_name="connect-client",
        organization_name="Example",
        organization_unit_name="Forms",
        not_before=now - datetime.timedelta(days=1),
        not_after=now + datetime.timedelta(days=12),
    )
    certificate = "".join(blob.bytes().decode() for blob in leaf.cert_chain_pems)
    key = leaf.private_key_pem.bytes().decode()
    datasource = make_datasource(name="Internal stock", base_url="https://stock.example.com/api")
    page = signed_in
    page.goto(f"{live_server.url}/datasources/{datasource.pk}/edit/")
    page.get_by_label("Proxy URL").fill("https://proxy.example.com:3128")
    page.get_by_label("Client certificate (PEM)").fill(certificate)
    page.get_by_label("Private key (PEM)").fill(key)
    page.get_by_role("button", name="Save").click()
    field = page.locator(".field", has=page.locator("[name='network-proxy_url']"))
    assert "Use the proxy's http:// address" in field.locator(".errorlist").inner_text()
    assert page.get_by_label("Private key (PEM)").input_value() == ""  # a typed key is never sent back
    page.locator("#network").scroll_into_view_if_needed()
    screenshot("network-error")
    page.get_by_label("Proxy URL").fill("http://connect@proxy.example.com:3128")
    page.get_by_label("Proxy password").fill("s3cr3t-PROXY-PASSWORD-2f8e")
    page.get_by_label("Private key (PEM)").fill(key)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{live_server.url}/datasources/{datasource.pk}/")
    network = page.locator("#network")
    assert "The client certificate expires in 11 days" in network.inner_text()
    assert "CN=connect-client,OU=Forms,O=Example" in network.inner_text()
    network.scroll_into_view_if_needed()
    screenshot("network-detail")
    page.goto(f"{live_server.url}/datasources/{datasource.pk}/edit/")
    page.locator("#network").scroll_into_view_if_needed()
    screenshot("network-stored")
    assert "s3cr3t-PROXY-PASSWORD-2f8e" not in page.content() and key.splitlines()[1] not in page.content()
