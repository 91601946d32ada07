"""Sign-in protection (SPEC 11, django-axes): wrong passwords are slowed, then the account is locked for a while from
that address, on /login/ and /admin/login/, with a clear message; nothing typed as a password is kept."""

import datetime
import time

import pytest
from axes.models import AccessAttempt

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Right-Horse-8c1d"
LOCKED = "Too many wrong passwords for this account from your address: signing in is locked for"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("staffer", "s@example.com", PASSWORD, is_staff=True, is_superuser=True)


@pytest.fixture
def no_pause(settings):
    """The pause is tested once on its own; elsewhere it would only make the suite slower."""
    settings.CONNECT_SIGN_IN_PAUSE_SECONDS = 0


def _sign_in(client, url, password, address="198.51.100.7"):
    return client.post(url, {"username": "staffer", "password": password}, REMOTE_ADDR=address)


def _signed_in(client) -> bool:
    return client.get("/datasources/").status_code == 200


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_thirty_wrong_passwords_lock_the_account_so_the_right_one_is_refused(client, staff, no_pause, url):
    for attempt in range(30):
        _sign_in(client, url, f"wrong-{attempt}")

    response = _sign_in(client, url, PASSWORD)

    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert not _signed_in(client)


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_the_lock_starts_at_the_tenth_wrong_password_with_a_clear_message(client, staff, no_pause, url):
    for attempt in range(9):
        assert _sign_in(client, url, f"wrong-{attempt}").status_code == 200  # the form again, with its error

    response = _sign_in(client, url, "wrong-9")

    assert response.status_code == 429
    page = response.content.decode()
    assert LOCKED in page and "15 minutes" in page and f'href="{url}"' in page


def test_fewer_wrong_passwords_still_let_the_right_one_in(client, staff, no_pause):
    for attempt in range(9):
        _sign_in(client, "/login/", f"wrong-{attempt}")

    assert _sign_in(client, "/login/", PASSWORD).status_code == 302
    assert _signed_in(client)


def test_the_lock_is_per_address_so_the_owner_elsewhere_still_signs_in(client, staff, no_pause):
    for attempt in range(10):
        _sign_in(client, "/login/", f"wrong-{attempt}", address="198.51.100.7")

    assert _sign_in(client, "/login/", PASSWORD, address="203.0.113.20").status_code == 302


def test_behind_the_proxy_the_lock_is_per_client_address_not_the_proxys(client, staff, no_pause, settings):
    settings.CONNECT_BEHIND_TLS_PROXY = True
    for attempt in range(10):
        # What the client sent first ("203.0.113.20") is not believed: the proxy appended the real address last.
        client.post(
            "/login/",
            {"username": "staffer", "password": f"wrong-{attempt}"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR="203.0.113.20, 198.51.100.7",
        )

    response = client.post(
        "/login/",
        {"username": "staffer", "password": PASSWORD},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.20",
    )

    assert response.status_code == 302


def test_the_lock_is_per_account_so_others_at_the_address_still_sign_in(client, staff, no_pause, django_user_model):
    django_user_model.objects.create_user("colleague", "c@example.com", "pw-colleague-77", is_staff=True)
    for attempt in range(10):
        _sign_in(client, "/login/", f"wrong-{attempt}")

    response = client.post(
        "/login/", {"username": "colleague", "password": "pw-colleague-77"}, REMOTE_ADDR="198.51.100.7"
    )

    assert response.status_code == 302


def test_the_lock_ends_after_the_lockout_time(client, staff, no_pause):
    for attempt in range(10):
        _sign_in(client, "/login/", f"wrong-{attempt}")
    # Fifteen minutes later: the failures are older than the lockout time.
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - datetime.timedelta(minutes=16))

    assert _sign_in(client, "/login/", PASSWORD).status_code == 302


def test_from_the_fourth_wrong_password_each_answer_waits(client, staff, settings):
    settings.CONNECT_SIGN_IN_PAUSE_SECONDS = 0.3
    for attempt in range(3):
        _sign_in(client, "/login/", f"wrong-{attempt}")

    started = time.monotonic()
    response = _sign_in(client, "/login/", "wrong-3")

    assert time.monotonic() - started >= 0.3  # a lower bound: the pause is a sleep
    assert response.status_code == 200


def test_a_wrong_password_is_kept_nowhere(client, staff, no_pause, caplog):
    typed = "pw-Right-Horse-8c1e"  # one letter off: what a real typo of the password looks like

    _sign_in(client, "/login/", typed)

    attempt = AccessAttempt.objects.get()
    stored = " ".join(str(getattr(attempt, f.name)) for f in AccessAttempt._meta.fields)
    assert typed not in stored
    assert typed not in caplog.text


def test_signing_out_says_so_on_the_sign_in_page(client, staff):
    client.force_login(staff)

    response = client.post("/logout/", follow=True)

    assert response.redirect_chain[-1][0] == "/login/"
    assert "You are signed out." in response.content.decode()
    assert client.get("/datasources/").status_code == 302
