"""The item (with its datasource) an options request resolves, without building the ORM query on every request.

A measured speed layer (bench/README.md, "Ablation"): loading the item and its datasource through the ORM on every
request instead cost 42-51% of a cache hit's CPU time, on the session path and on the embedding-token path alike
(most of it building and compiling the query and the instances). It costs one small version query per request and up
to MAX_ENTRIES remembered rows per process.

Each process keeps the rows it loaded and, on every request, compares their config versions with the database in
one small query (its SQL written once, connect_project/precompiled.py). Every save of an item or its datasource
gives it a new config version (models), so a changed row is loaded again and a deleted one is gone: what the
endpoint uses is never older than the database. Each caller gets its own instances (never shared: a miss attaches
the datasource's auth).
"""

import copy
import functools
import threading
from collections import OrderedDict

from django.db import connections, router

from connect_project.precompiled import select_joined_by_pk
from datasources.models import Datasource

from .models import Item

MAX_ENTRIES = 1024


class ItemLookup:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._rows: OrderedDict[int, tuple] = OrderedDict()  # pk -> (versions, item values, datasource values)
        self._lock = threading.Lock()

    def find_item(self, pk: int) -> Item | None:
        """The item with its datasource loaded (not its auth), or None when there is no item `pk`."""
        alias = router.db_for_read(Item)
        versions = self._current_versions(alias, pk)
        if versions is None:
            self._forget(pk)
            return None
        with self._lock:
            row = self._rows.get(pk)
            if row is not None and row[0] == versions:
                self._rows.move_to_end(pk)
            else:
                row = None
        if row is None:
            item = Item.objects.using(alias).select_related("datasource").filter(pk=pk).first()
            if item is None:
                self._forget(pk)
                return None
            row = self._remember(item)
        return _instances(alias, row)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def _current_versions(self, alias: str, pk: int) -> tuple | None:
        with connections[alias].cursor() as cursor:
            cursor.execute(select_joined_by_pk(Item, "datasource", "config_version"), [pk])
            found = cursor.fetchone()
        return tuple(found) if found is not None else None

    def _remember(self, item: Item) -> tuple:
        datasource = item.datasource
        row = ((item.config_version, datasource.config_version), _values(item), _values(datasource))
        with self._lock:
            self._rows[item.pk] = row
            self._rows.move_to_end(item.pk)
            while len(self._rows) > self.max_entries:
                self._rows.popitem(last=False)
        return row

    def _forget(self, pk: int) -> None:
        with self._lock:
            self._rows.pop(pk, None)


def _values(instance) -> tuple:
    return tuple(getattr(instance, attname) for attname in _attnames(type(instance)))


def _instances(alias: str, row: tuple) -> Item:
    _versions, item_values, datasource_values = row
    item = _instance(Item, alias, item_values)
    item.datasource = _instance(Datasource, alias, datasource_values)
    return item


def _instance(model, alias: str, values: tuple):
    """The instance Model.from_db builds for values it built before (each caller gets its own)."""
    return model.from_db(alias, _attnames(model), _copied(values))


def _copied(values: tuple) -> list:
    # JSON field values (lists, dicts) are the only mutable ones: a caller changing them must not change the memo.
    return [copy.deepcopy(value) if isinstance(value, (list, dict)) else value for value in values]


@functools.cache
def _attnames(model) -> tuple[str, ...]:
    """The order _values() keeps a model's values in: its concrete fields."""
    return tuple(field.attname for field in model._meta.concrete_fields)


item_lookup = ItemLookup()
find_item = item_lookup.find_item
