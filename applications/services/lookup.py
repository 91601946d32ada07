"""The application an embedding token names, and the tokens already verified, without redoing the work on every
request (the widget sends the same token with every keystroke).

Two measured speed layers (bench/README.md, "Ablation": their savings on an embedding-token cache hit, pair 2c).

Applications: every token request checks one small query (the application's config_version, by primary key; its
SQL written once, connect_project/precompiled.py) instead of loading the row, decrypting the secret (Fernet) and
reading its item grants (two ORM queries and a decryption): doing that on every request cost 52-55% of an
embedding-token cache hit's CPU time. Each process keeps what it loaded, with the secret in memory (the
process holds the Fernet keys anyway). Every save of an application, and every grant added or removed, gives it a
new config version (models.py), so disabling it, rotating its secret or changing its items or origins is seen at
the next request; a deleted application is gone at once.

Verified tokens: a token verified once (three JWT parses and an HMAC with PyJWT; verifying it on every request cost
17-21% of an embedding-token cache hit's CPU time) is remembered with the application version it was verified
against, until it expires. A remembered token is used only while that
version is still the application's (the query above, made every time), and its expiry is checked every time;
anything else is verified again from the start. Costs: memory for at most MAX_TOKENS tokens per process.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from django.db import connections, router

from connect_project.precompiled import select_by_pk

from ..models import Application

MAX_ENTRIES = 256
MAX_TOKENS = 4096


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
    may_purge: bool = False


class ApplicationLookup:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._known: OrderedDict[int, KnownApplication] = OrderedDict()
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
        with connections[alias].cursor() as cursor:
            cursor.execute(select_by_pk(Application, "config_version"), [pk])
            found = cursor.fetchone()
        return found[0] if found is not None else None

    def _load(self, alias: str, pk: int) -> KnownApplication | None:
        application = Application.objects.using(alias).filter(pk=pk).first()
        if application is None:
            self._forget(pk)
            return None
        known = KnownApplication(
            pk=application.pk,
            name=application.name,
            enabled=application.enabled,
            secret=application.secret,
            origins=frozenset(application.allowed_origins or ()),
            item_ids=frozenset(application.items.using(alias).values_list("pk", flat=True)),
            version=application.config_version,
            may_purge=application.may_purge,
        )
        with self._lock:
            self._known[pk] = known
            self._known.move_to_end(pk)
            while len(self._known) > self.max_entries:
                self._known.popitem(last=False)
        return known

    def _forget(self, pk: int) -> None:
        with self._lock:
            self._known.pop(pk, None)


class VerifiedTokens:
    """(token, audience) -> what verifying it gave (an object with `.application`), least recently used dropped."""

    def __init__(self, max_entries: int = MAX_TOKENS):
        self.max_entries = max_entries
        self._verified: OrderedDict[tuple[str, str], object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str, audience: str):
        """The remembered verification, when its application's current version is the one it was verified with."""
        with self._lock:
            verified = self._verified.get((token, audience))
            if verified is not None:
                self._verified.move_to_end((token, audience))
        if verified is None:
            return None
        current = find_application(verified.application.pk)
        if current is None or current.version != verified.application.version:
            self.forget(token, audience)
            return None
        return verified

    def remember(self, token: str, audience: str, verified) -> None:
        with self._lock:
            self._verified[(token, audience)] = verified
            self._verified.move_to_end((token, audience))
            while len(self._verified) > self.max_entries:
                self._verified.popitem(last=False)

    def forget(self, token: str, audience: str) -> None:
        with self._lock:
            self._verified.pop((token, audience), None)

    def clear(self) -> None:
        with self._lock:
            self._verified.clear()


application_lookup = ApplicationLookup()
find_application = application_lookup.find_application
verified_tokens = VerifiedTokens()
