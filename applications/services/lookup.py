"""The application an embedding token names, without loading its row (and decrypting its secret) on every request.

Cost and saving: every token request checks one small precompiled query (the application's config_version, by
primary key) instead of loading the row, decrypting the secret (Fernet) and reading its item grants (two ORM
queries and a decryption, several times the cost of the check). Each process keeps what it loaded, with the secret
in memory (the process holds the Fernet keys anyway). Every save of an application, and every grant added or
removed, gives it a new config version (models.py), so disabling it, rotating its secret or changing its items or
origins is seen at the next request; a deleted application is gone at once.
"""
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from django.db import connections, router

from datasources.precompiled import sql_by_pk

from ..models import Application

MAX_ENTRIES = 256


@dataclass(frozen=True)
class KnownApplication:
    """What a token check needs of an application: shared between threads, so never changed after it is built."""

    pk: int
    name: str
    enabled: bool
    secret: str = field(repr=False)
    origins: frozenset
    item_ids: frozenset
    version: str


class ApplicationLookup:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._known: "OrderedDict[int, KnownApplication]" = OrderedDict()
        self._lock = threading.Lock()

    def find_application(self, pk: int) -> KnownApplication | None:
        alias = router.db_for_read(Application)
        version = self._current_version(alias, pk)
        if version is None:
            self._forget(pk)
            return None
        with self._lock:
            known = self._known.get(pk)
            if known is not None and known.version == version:
                self._known.move_to_end(pk)
                return known
        return self._load(alias, pk)

    def clear(self) -> None:
        with self._lock:
            self._known.clear()

    def _current_version(self, alias: str, pk: int) -> str | None:
        sql = sql_by_pk("application version", alias, _versions_of_applications)
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, [pk])
            found = cursor.fetchone()
        return found[0] if found is not None else None

    def _load(self, alias: str, pk: int) -> KnownApplication | None:
        application = Application.objects.using(alias).filter(pk=pk).first()
        if application is None:
            self._forget(pk)
            return None
        known = KnownApplication(
            pk=application.pk, name=application.name, enabled=application.enabled, secret=application.secret,
            origins=frozenset(application.allowed_origins or ()),
            item_ids=frozenset(application.items.using(alias).values_list("pk", flat=True)),
            version=application.config_version)
        with self._lock:
            self._known[pk] = known
            self._known.move_to_end(pk)
            while len(self._known) > self.max_entries:
                self._known.popitem(last=False)
        return known

    def _forget(self, pk: int) -> None:
        with self._lock:
            self._known.pop(pk, None)


def _versions_of_applications(alias: str):
    return Application.objects.using(alias).values_list("config_version").order_by()


application_lookup = ApplicationLookup()
find_application = application_lookup.find_application
