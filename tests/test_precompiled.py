"""Queries by primary key compiled once per process and database; the rows are still read every time."""

import pytest
from django.db import connection

from connect_project import precompiled
from datasources.models import Datasource

pytestmark = pytest.mark.django_db


def test_the_queryset_is_built_and_compiled_once_per_name_and_database():
    built = []

    def names_on(alias):
        built.append(alias)
        return Datasource.objects.using(alias).values_list("name")

    first = precompiled.sql_by_pk("names, test 1", "default", names_on)
    assert precompiled.sql_by_pk("names, test 1", "default", names_on) == first
    assert built == ["default"]


def test_the_id_is_the_only_parameter_and_the_row_is_read_each_time(datasource_factory):
    datasource = datasource_factory(name="Jira")
    sql = precompiled.sql_by_pk(
        "names, test 2", "default", lambda alias: Datasource.objects.using(alias).values_list("name")
    )

    def read():
        with connection.cursor() as cursor:
            cursor.execute(sql, [datasource.pk])
            return cursor.fetchone()

    assert read() == ("Jira",)
    Datasource.objects.filter(pk=datasource.pk).update(name="Jira Cloud")
    assert read() == ("Jira Cloud",)


def test_a_query_with_other_parameters_is_refused():
    with pytest.raises(RuntimeError, match="Unexpected parameters in the named query"):
        precompiled.sql_by_pk("named", "default", lambda alias: Datasource.objects.using(alias).filter(name="x"))
