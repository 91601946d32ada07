"""Recording changes in the audit log, generically: a model is tracked once (audit/tracked.py) and every save,
delete and many-to-many change of it is compared field by field with the stored row, whatever fields it has, so a
field added later is recorded without more code.

A secret is never recorded: a field is a secret by its type (fernet_fields' encrypted fields) or when its
registration says so, and its change is recorded as {"field": ..., "secret": true}, shown as "changed". The
comparison holds a digest of a secret, never the secret itself.

Who and from where: `recording(...)` (Connect's pages through `audited`, the admin through the middleware,
apply_config) opens one transaction; the changes made inside it are written in that transaction as they happen
(a failed save writes nothing: it rolls back with the rest), one entry per object, the changes of its headers,
authentication or bindings merged into it. A change made outside any recording (a shell) is written at once with
the actor of the current request, or "system".
"""

import contextvars
import datetime
import decimal
import hashlib
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps

from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from fernet_fields import EncryptedField

from .models import Action, AuditEntry

# Never compared: bookkeeping every save changes.
BOOKKEEPING_FIELDS = frozenset({"id", "config_version", "created_at", "updated_at"})
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
SYSTEM_ACTOR = "system"

# Actions stronger than a plain update, in the order one replaces another in a merged entry.
_ACTION_WEIGHT = {Action.UPDATE: 0, Action.CREATE: 2, Action.DELETE: 3}


@dataclass
class Tracked:
    """How one model is recorded: as an object of its own (`object_type`), or as a part of its parent's entry
    (`parent`: the foreign key to it; `prefix(instance)`: how its fields are named there, e.g. "headers[X-Team]")."""

    model: type
    object_type: str = ""
    parent: str = ""
    prefix: object = None
    ignore: frozenset = frozenset()
    only: frozenset | None = None
    secrets: frozenset = frozenset()
    # instance -> the names of the fields that mean something for it (an authentication: its mode's), or None: all.
    relevant: object = None
    fields: list = field(default_factory=list)

    def __post_init__(self):
        skipped = BOOKKEEPING_FIELDS | self.ignore | {self.parent}
        self.fields = [
            f
            for f in self.model._meta.concrete_fields
            if f.name not in skipped
            and not getattr(f, "auto_now", False)
            and (self.only is None or f.name in self.only)
        ]
        self.field_names = {f.name for f in self.fields} | {f.attname for f in self.fields}

    def relevant_fields(self, instance) -> frozenset | None:
        return frozenset(self.relevant(instance)) if self.relevant is not None else None

    def is_secret(self, model_field) -> bool:
        return isinstance(model_field, EncryptedField) or model_field.name in self.secrets

    def snapshot(self, instance) -> dict:
        return {f.name: self._value(f, instance) for f in self.fields}

    def _value(self, model_field, instance):
        if self.is_secret(model_field):
            raw = getattr(instance, model_field.attname) or ""
            # A digest to compare; the secret itself is never kept, let alone written.
            return hashlib.sha256(str(raw).encode()).hexdigest() if raw else ""
        if model_field.is_relation:
            related = getattr(instance, model_field.name, None)
            return str(related) if related is not None else None
        return plain(getattr(instance, model_field.attname))


def plain(value):
    """A JSON value for the log."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    return str(value)


@dataclass
class TrackedRelation:
    """A many-to-many field recorded on its model's entry as old -> new lists of names."""

    model: type
    field_name: str
    action: str = Action.UPDATE


_tracked: dict[type, Tracked] = {}
_relations: dict[type, TrackedRelation] = {}  # through model -> relation


def track(model, **options) -> None:
    _tracked[model] = Tracked(model=model, **options)
    uid = f"audit-{model._meta.label}"
    pre_save.connect(_before_save, sender=model, dispatch_uid=uid + "-pre")
    post_save.connect(_after_save, sender=model, dispatch_uid=uid + "-post")
    post_delete.connect(_after_delete, sender=model, dispatch_uid=uid + "-delete")


def track_relation(model, field_name: str, *, action: str = Action.UPDATE) -> None:
    through = model._meta.get_field(field_name).remote_field.through
    _relations[through] = TrackedRelation(model=model, field_name=field_name, action=action)
    m2m_changed.connect(_relation_changed, sender=through, dispatch_uid=f"audit-{through._meta.label}")


# --- who and where ----------------------------------------------------------------------------------------------

_request = contextvars.ContextVar("audit_request", default=None)
_recording = contextvars.ContextVar("audit_recording", default=None)


@dataclass
class Actor:
    name: str
    address: str | None = None
    via: str = "system"


def actor_of_request(request, *, via: str = "") -> Actor:
    user = getattr(request, "user", None)
    name = user.get_username() if user is not None and user.is_authenticated else "anonymous"
    if not via:
        from django.urls import reverse

        via = "admin" if request.path.startswith(reverse("admin:index")) else "page"
    # REMOTE_ADDR: the address the app server saw (a proxy's, behind one).
    return Actor(name=name, address=request.META.get("REMOTE_ADDR") or None, via=via)


def _current_actor() -> Actor:
    request = _request.get()
    return actor_of_request(request) if request is not None else Actor(name=SYSTEM_ACTOR)


class Recording:
    """The entries written so far in one recording, one per object, so later changes merge into them."""

    def __init__(self, actor: Actor):
        self.actor = actor
        self.entries: dict[tuple[str, str], AuditEntry] = {}

    def add(self, *, action, object_type, object_id, object_name, changes) -> AuditEntry:
        key = (object_type, str(object_id))
        entry = self.entries.get(key)
        if entry is None:
            entry = _write(self.actor, action, object_type, object_id, object_name, changes)
            self.entries[key] = entry
            return entry
        if action == Action.DELETE:
            entry.changes = list(changes)
        else:
            entry.changes = merged(entry.changes, changes)
        if _ACTION_WEIGHT.get(action, 1) > _ACTION_WEIGHT.get(entry.action, 1) or entry.action == Action.UPDATE:
            entry.action = action
        entry.object_name = object_name or entry.object_name
        entry.save(update_fields=["changes", "action", "object_name"])
        return entry


def merged(earlier: list, later: list) -> list:
    """Changes of one object in one recording: a field changed twice keeps its first old and its last new value
    (and disappears when they are equal)."""
    result = [dict(change) for change in earlier]
    for change in later:
        same = next((c for c in result if c["field"] == change["field"]), None)
        if same is None:
            result.append(dict(change))
        elif not change.get("secret"):
            same["new"] = change.get("new")
    return [c for c in result if c.get("secret") or c.get("old") != c.get("new") or "old" not in c]


def _write(actor: Actor, action, object_type, object_id, object_name, changes) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor.name[:150],
        address=actor.address,
        via=actor.via,
        action=action,
        object_type=object_type,
        object_id=str(object_id if object_id is not None else ""),
        object_name=str(object_name or "")[:200],
        changes=list(changes),
    )


@contextmanager
def recording(*, actor: Actor | None = None, request=None):
    """Record the changes made inside, in one transaction with them. Inside another recording: joins it."""
    current = _recording.get()
    if current is not None:
        yield current
        return
    recorder = Recording(actor or (actor_of_request(request) if request is not None else _current_actor()))
    token = _recording.set(recorder)
    try:
        with transaction.atomic():
            yield recorder
    finally:
        _recording.reset(token)


def audited(view):
    """A page that changes configuration: a POST runs in one recording (one transaction with its audit entries)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method in SAFE_METHODS:
            return view(request, *args, **kwargs)
        with recording(request=request):
            return view(request, *args, **kwargs)

    return wrapped


class AuditMiddleware:
    """Makes the request's user and address known to changes made outside a page's recording, and records every
    change made through the admin site (one recording per admin POST)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            if request.method not in SAFE_METHODS and _is_admin(request):
                with recording(request=request):
                    return self.get_response(request)
            return self.get_response(request)
        finally:
            _request.reset(token)


def _is_admin(request) -> bool:
    from django.urls import reverse

    return request.path.startswith(reverse("admin:index"))


def record(*, action, object_type: str, object_id="", object_name="", changes=()) -> AuditEntry:
    """Record one event (an import, an OAuth connection) in the current recording, else at once."""
    current = _recording.get()
    if current is not None:
        return current.add(
            action=action, object_type=object_type, object_id=object_id, object_name=object_name, changes=changes
        )
    return _write(_current_actor(), action, object_type, object_id, object_name, changes)


def record_event(*, action, instance, changes=()) -> AuditEntry:
    """Record an event of a tracked object (a part is recorded on its parent's entry)."""
    owner = _owner(instance)
    tracked = _tracked[type(owner)]
    return record(
        action=action, object_type=tracked.object_type, object_id=owner.pk, object_name=str(owner), changes=changes
    )


# --- the signals ------------------------------------------------------------------------------------------------

_SKIP = object()


def _before_save(sender, instance, raw=False, update_fields=None, **kwargs):
    tracked = _tracked[sender]
    if raw or (update_fields is not None and not set(update_fields) & tracked.field_names):
        instance._audit_before = _SKIP  # e.g. a sign-in's last_login: nothing the log keeps
        return
    stored = sender._base_manager.filter(pk=instance.pk).first() if instance.pk is not None else None
    instance._audit_before = tracked.snapshot(stored) if stored is not None else None
    instance._audit_prefix_before = tracked.prefix(stored) if stored is not None and tracked.prefix else None


def _after_save(sender, instance, created=False, raw=False, **kwargs):
    before = instance.__dict__.pop("_audit_before", None)
    prefix_before = instance.__dict__.pop("_audit_prefix_before", None)
    if before is _SKIP or raw:
        return
    tracked = _tracked[sender]
    after = tracked.snapshot(instance)
    changes = _diff(
        tracked,
        before or {},
        after,
        prefix=prefix_before or _prefix(tracked, instance),
        relevant=tracked.relevant_fields(instance),
    )
    if before is not None and not changes:
        return
    action = Action.CREATE if before is None and not tracked.parent else Action.UPDATE
    _record_change(instance, action, changes)


def _after_delete(sender, instance, **kwargs):
    tracked = _tracked[sender]
    before = tracked.snapshot(instance)
    changes = _diff(tracked, before, {}, prefix=_prefix(tracked, instance), relevant=tracked.relevant_fields(instance))
    if tracked.parent:
        if _owner(instance) is None:
            return
        _record_change(instance, Action.UPDATE, changes)
    else:
        _record_change(instance, Action.DELETE, changes)


def _record_change(instance, action, changes):
    owner = _owner(instance)
    if owner is None:
        return
    tracked = _tracked[type(owner)]
    record(
        action=action,
        object_type=tracked.object_type,
        object_id=owner.pk,
        object_name=str(owner),
        changes=changes,
    )


def _owner(instance):
    tracked = _tracked[type(instance)]
    if not tracked.parent:
        return instance
    try:
        return getattr(instance, tracked.parent)
    except models.ObjectDoesNotExist:
        return None


def _prefix(tracked: Tracked, instance) -> str:
    return tracked.prefix(instance) if tracked.prefix else ""


def _diff(tracked: Tracked, before: dict, after: dict, *, prefix: str, relevant: frozenset | None = None) -> list:
    changes = []
    for model_field in tracked.fields:
        if relevant is not None and model_field.name not in relevant:
            continue
        old, new = before.get(model_field.name), after.get(model_field.name)
        if not before and _empty(new) or not after and _empty(old) or old == new:
            continue
        name = f"{prefix}.{model_field.name}" if prefix else model_field.name
        if tracked.is_secret(model_field):
            changes.append({"field": name, "secret": True})
        else:
            changes.append({"field": name, "old": old, "new": new})
    return changes


def _empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _relation_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    relation = _relations[sender]
    if reverse:
        owners = (
            list(relation.model._default_manager.filter(pk__in=pk_set))
            if pk_set
            else list(getattr(instance, _reverse_accessor(relation)).all())
        )
    else:
        owners = [instance]
    if action.startswith("pre_"):
        for owner in owners:
            owner.__dict__.setdefault("_audit_related_before", {})[relation.field_name] = _names(owner, relation)
        if reverse and action == "pre_clear":
            instance._audit_reverse_owners = owners
        return
    if reverse and action == "post_clear":
        owners = instance.__dict__.pop("_audit_reverse_owners", [])
    for owner in owners:
        before = owner.__dict__.get("_audit_related_before", {}).pop(relation.field_name, None)
        after = _names(owner, relation)
        if before is None or before == after:
            continue
        change = [{"field": relation.field_name, "old": before, "new": after}]
        tracked = _tracked[relation.model]
        record(
            action=relation.action,
            object_type=tracked.object_type,
            object_id=owner.pk,
            object_name=str(owner),
            changes=change,
        )


def _names(owner, relation: TrackedRelation) -> list[str]:
    return sorted(str(obj) for obj in getattr(owner, relation.field_name).all())


def _reverse_accessor(relation: TrackedRelation) -> str:
    return relation.model._meta.get_field(relation.field_name).remote_field.get_accessor_name()
