"""Last used: set by an accepted token, written at most about once a minute per application."""

from datetime import timedelta

import pytest
from django.utils import timezone

from applications.models import Application
from applications.services import usage
from items.models import Item
from tests.conftest import make_datasource

from .conftest import make_application, mint

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(db):
    return Item.objects.create(name="Assets", datasource=make_datasource(), query="/assets", key_field="id")


def call(client, item, application, token=None):
    token = token or mint(application)
    return client.get(f"/api/items/{item.pk}/field", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_an_accepted_token_sets_last_used(client, item):
    application = make_application(items=[item], origins=[])
    assert application.last_used_at is None
    assert call(client, item, application).status_code == 200
    application.refresh_from_db()
    assert application.last_used_at is not None


def test_last_used_is_written_at_most_once_a_minute(client, item, django_assert_num_queries):
    application = make_application(items=[item], origins=[])
    token = mint(application)
    call(client, item, application, token)
    first = Application.objects.get(pk=application.pk).last_used_at
    with django_assert_num_queries(2):  # the two version checks; no write
        call(client, item, application, token)
    assert Application.objects.get(pk=application.pk).last_used_at == first


def test_another_process_does_not_write_again_within_the_minute(item):
    application = make_application(items=[item], origins=[])
    recent = timezone.now() - timedelta(seconds=10)
    Application.objects.filter(pk=application.pk).update(last_used_at=recent)
    usage.note_application_use(application_id=application.pk)  # this process has not written yet
    assert Application.objects.get(pk=application.pk).last_used_at == recent
    old = timezone.now() - timedelta(minutes=5)
    Application.objects.filter(pk=application.pk).update(last_used_at=old)
    usage.forget_uses()
    usage.note_application_use(application_id=application.pk)
    assert Application.objects.get(pk=application.pk).last_used_at > old


def test_a_refused_token_does_not_count_as_a_use(client, item):
    application = make_application(items=[item], origins=[])
    client.get(f"/api/items/{item.pk}/field", HTTP_AUTHORIZATION=f"Bearer {mint(application, secret='x' * 40)}")
    application.refresh_from_db()
    assert application.last_used_at is None
