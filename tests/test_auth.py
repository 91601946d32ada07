"""The sign-in backend: Django's ModelBackend, with the per-request user query compiled once; the user row is still
read on every request, so a change to the user takes effect at the next request."""

import pytest
from django.contrib.auth import get_user_model

from connect_project.auth import UserBackend

pytestmark = pytest.mark.django_db

OPTIONS_OF_A_MISSING_ITEM = "/api/items/987654/options"  # 404 when signed in, 401 when not


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user("member", "m@example.com", "pw-member-123")


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def test_loads_the_signed_in_user(member):
    user = UserBackend().get_user(str(member.pk))

    assert (user.pk, user.username, user.is_active, user.password) == (member.pk, "member", True, member.password)
    assert user.date_joined == member.date_joined and user.last_login is None


def test_one_query_per_request(member, django_assert_num_queries):
    UserBackend().get_user(member.pk)

    with django_assert_num_queries(1):
        UserBackend().get_user(member.pk)


@pytest.mark.parametrize("user_id", [987654, "not-a-number", None])
def test_an_unknown_or_malformed_id_is_nobody(member, user_id):
    assert UserBackend().get_user(user_id) is None


def test_a_signed_in_user_reaches_the_api(member_client):
    assert member_client.get(OPTIONS_OF_A_MISSING_ITEM).status_code == 404


def test_a_deactivated_user_is_signed_out_at_the_next_request(member_client, member):
    member_client.get(OPTIONS_OF_A_MISSING_ITEM)
    get_user_model().objects.filter(pk=member.pk).update(is_active=False)

    assert member_client.get(OPTIONS_OF_A_MISSING_ITEM).status_code == 401


def test_a_deleted_user_is_signed_out_at_the_next_request(member_client, member):
    member_client.get(OPTIONS_OF_A_MISSING_ITEM)
    member.delete()

    assert member_client.get(OPTIONS_OF_A_MISSING_ITEM).status_code == 401


def test_a_password_change_elsewhere_ends_the_session(member_client, member):
    member_client.get(OPTIONS_OF_A_MISSING_ITEM)
    member.set_password("a-new-password-456")
    member.save()

    assert member_client.get(OPTIONS_OF_A_MISSING_ITEM).status_code == 401


def test_signing_in_with_the_login_form_still_works(client, member):
    response = client.post("/login/", {"username": "member", "password": "pw-member-123"})

    assert response.status_code == 302
    assert client.get(OPTIONS_OF_A_MISSING_ITEM).status_code == 404


def test_a_wrong_password_is_refused(client, member):
    client.post("/login/", {"username": "member", "password": "wrong"})

    assert client.get(OPTIONS_OF_A_MISSING_ITEM).status_code == 401
