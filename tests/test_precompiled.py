"""The SQL of the per-request reads by primary key: it reads the current row of the id it is given, and only it."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from connect_project.precompiled import select_by_pk, select_joined_by_pk
from datasources.models import Datasource
from items.models import Item

pytestmark = pytest.mark.django_db


def read(sql, pk):
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        return cursor.fetchall()


def test_reads_the_named_fields_of_the_row_with_that_id(datasource_factory):
    jira, other = datasource_factory(name="Jira"), datasource_factory(name="Other")

    assert read(select_by_pk(Datasource, "name", "base_url"), jira.pk) == [("Jira", jira.base_url)]
    assert read(select_by_pk(Datasource, "name"), other.pk) == [("Other",)]
    assert read(select_by_pk(Datasource, "name"), 987654) == []


def test_the_row_is_read_each_time(datasource_factory):
    datasource = datasource_factory(name="Jira")
    sql = select_by_pk(Datasource, "name")
    Datasource.objects.filter(pk=datasource.pk).update(name="Jira Cloud")

    assert read(sql, datasource.pk) == [("Jira Cloud",)]


def test_without_field_names_it_reads_whole_instances(django_user_model):
    user = django_user_model.objects.create_user("member", "m@example.com", "pw-member-123")
    model = get_user_model()

    (loaded,) = model.objects.raw(select_by_pk(model), [user.pk])
    assert (loaded.pk, loaded.username, loaded.email) == (user.pk, "member", "m@example.com")
    assert loaded.password == user.password and loaded.date_joined == user.date_joined


def test_a_joined_read_gives_the_row_and_the_row_it_points_to(datasource_factory):
    item = Item.objects.create(name="Issues", datasource=datasource_factory(), query="/issues", key_field="key")
    item.datasource.bump_config_version()
    item.refresh_from_db()

    assert read(select_joined_by_pk(Item, "datasource", "config_version"), item.pk) == [
        (item.config_version, item.datasource.config_version)
    ]
    assert read(select_joined_by_pk(Item, "datasource", "config_version"), 987654) == []
