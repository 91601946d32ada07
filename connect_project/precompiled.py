"""The SQL of the per-request reads by primary key, written once per process instead of built by the ORM each time.

The options endpoint reads the signed-in user, the item's config versions and, for an embedding token, the
application's version on every request (each keystroke). Measured (bench/README.md, "Ablation"): building those
queries through the ORM on every request cost 27-39% of a signed-in cache hit's CPU time and 36-42% of an embedding
token's. The rows are still read every time: only the SQL text is kept.

The SQL is written from the models' documented `_meta` API (the table, the primary key, the concrete fields and
their columns), with identifiers quoted the SQL-standard way ("name"), which both databases Connect runs on,
PostgreSQL and SQLite, accept.
"""

import functools


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column(field) -> str:
    """The field's column in the table (its db_column, or its attname as Django names the column by default)."""
    return field.db_column or field.attname


@functools.cache
def select_by_pk(model, *field_names: str) -> str:
    """`SELECT <columns> FROM <table> WHERE <pk> = %s` for `model`: the named fields' columns, or every concrete
    field's (what Manager.raw() needs to build whole instances). The id is the only parameter."""
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names] if field_names else meta.concrete_fields
    columns = ", ".join(quoted(column(field)) for field in fields)
    return f"SELECT {columns} FROM {quoted(meta.db_table)} WHERE {quoted(column(meta.pk))} = %s"


@functools.cache
def select_joined_by_pk(model, relation: str, field_name: str) -> str:
    """`model`'s `field_name` and the same field of the row its foreign key `relation` (to a primary key) points to,
    by `model`'s primary key (the only parameter): e.g. an item's config version and its datasource's, in one
    query."""
    meta = model._meta
    foreign_key = meta.get_field(relation)
    other = foreign_key.related_model._meta
    return (
        f"SELECT a.{quoted(column(meta.get_field(field_name)))}, b.{quoted(column(other.get_field(field_name)))} "
        f"FROM {quoted(meta.db_table)} a JOIN {quoted(other.db_table)} b "
        f"ON b.{quoted(column(other.pk))} = a.{quoted(column(foreign_key))} "
        f"WHERE a.{quoted(column(meta.pk))} = %s"
    )
