"""apply_config: make Connect's configuration what a file says, in one transaction (or, for a dry run, say what would
change and change nothing). Every value is checked by the models' own validation (full_clean) and the shared rules
of the forms (bindings, who may use an item, secrets following a datasource to a new host): one home per rule.
Every applied change is recorded in the audit log with the actor "apply_config" (or --actor).

The changes are found by describing each object before and after (exporter.py), so applying an export to the
instance it came from finds none."""

from dataclasses import dataclass, field

from django.contrib.auth.models import Group
from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import RestrictedError

from applications.models import Application
from audit.models import Action
from audit.recorder import Actor, record, recording
from datasources import secret_binding
from datasources.models import NETWORK_SECRETS, AuthConfig, Datasource, Header, NetworkConfig
from items import bindings as item_bindings
from items.access import access_error
from items.models import Item

from . import document, schema
from .exporter import describe_application, describe_datasource, describe_item

SECRET_KEYS = set(schema.AUTH_SECRETS)


@dataclass
class Change:
    action: str  # create, update, delete
    kind: str  # datasource, item, application
    name: str
    fields: list = field(default_factory=list)  # (path, old, new) or (path, None, None) for a secret: "changed"
    secrets: list = field(default_factory=list)
    kept: list = field(default_factory=list)  # (path, variable): a stored secret kept, its variable being unset

    def lines(self) -> list[str]:
        head = f"{self.action} {self.kind} “{self.name}”"
        if self.action not in ("update", "unchanged"):
            return [head + (" (--prune)" if self.action == "delete" else "")]
        details = [f"    {path}: {_shown(old)} -> {_shown(new)}" for path, old, new in self.fields]
        details += [f"    {path}: changed" for path in self.secrets]
        details += [f"    {path}: kept (the environment variable {name} is not set)" for path, name in self.kept]
        return [head, *details]


@dataclass
class Result:
    changes: list = field(default_factory=list)
    unchanged: int = 0
    errors: list = field(default_factory=list)
    applied: bool = False
    # Unchanged objects that keep a stored secret because the file's ${env:NAME} is unset (action "unchanged").
    kept: list = field(default_factory=list)

    def report(self) -> str:
        lines = [line for change in (*self.changes, *self.kept) for line in change.lines()]
        lines.append(f"unchanged: {self.unchanged} object{'s' if self.unchanged != 1 else ''}")
        return "\n".join(lines)

    def counts(self) -> str:
        tally = {a: sum(1 for c in self.changes if c.action == a) for a in ("create", "update", "delete")}
        return (
            f"{tally['create']} created, {tally['update']} changed, {tally['delete']} deleted, "
            f"{self.unchanged} unchanged"
        )


def apply_configuration(
    content, *, dry_run=False, prune=False, actor: str | Actor = "apply_config", environ, source=""
) -> Result:
    """Apply (or, with dry_run, only compare) a configuration file. A problem anywhere: nothing is applied, and
    Result.errors names each with its place."""
    try:
        doc = document.load(content)
        secrets = document.check(doc, environ=environ)
    except document.ConfigurationRefused as refused:
        return Result(errors=refused.errors)
    run = _Run(doc=doc, secrets=secrets, prune=prune)
    if isinstance(actor, str):
        actor = Actor(name=actor, via="apply_config")
    with recording(actor=actor):
        run.apply()
        result = run.result()
        if result.errors or dry_run:
            transaction.set_rollback(True)
        else:
            record(
                action=Action.IMPORT,
                object_type="configuration",
                object_name=source or "configuration file",
                changes=[{"field": "result", "old": None, "new": result.counts()}],
            )
            result.applied = True
    return result


class _Run:
    def __init__(self, *, doc: dict, secrets: dict, prune: bool):
        self.doc, self.secrets, self.prune = doc, secrets, prune
        self.errors: list[str] = []
        self.touched: dict[tuple[str, int], dict] = {}  # (kind, pk) -> {"before", "name", "secrets"}
        self.created: list[tuple[str, object]] = []
        self.deleted: list[Change] = []
        self.bound: list[tuple[Item, dict, str]] = []

    # --- the walk -----------------------------------------------------------------------------------------------

    def apply(self) -> None:
        for i, entry in enumerate(self.doc.get("datasources") or []):
            self._datasource(i, entry)
        self._bindings()
        for i, entry in enumerate(self.doc.get("applications") or []):
            self._application(i, entry)
        if self.prune and not self.errors:
            self._prune()

    def _datasource(self, i: int, entry: dict) -> None:
        path = f"datasources[{i}]"
        name = entry["name"].strip()
        datasource = Datasource.objects.filter(name__iexact=name).first()
        if datasource is None:
            datasource = Datasource(name=name)
        else:
            self._touch("datasource", datasource)
        stored_base_url = datasource.base_url if datasource.pk else None
        changed = _assign(datasource, {"name": name, **_pick(entry, schema.DATASOURCE_FIELDS)})
        if not self._valid(datasource, path):
            return
        if datasource.pk is None:
            datasource.save()
            self.created.append(("datasource", datasource))
        elif changed:
            datasource.save()
        if "headers" in entry:
            self._headers(datasource, entry["headers"], path)
        if "auth" in entry:
            self._auth(datasource, i, entry["auth"], path, stored_base_url=stored_base_url)
        if "network" in entry:
            self._network(datasource, i, entry["network"], path)
        for k, item_entry in enumerate(entry.get("items") or []):
            self._item(datasource, item_entry, f"{path}.items[{k}]")

    def _headers(self, datasource: Datasource, rows: list, path: str) -> None:
        wanted = {row["name"].strip().lower() for row in rows}
        for header in datasource.headers.all():
            if header.name.lower() not in wanted:
                header.delete()
        stored = {h.name.lower(): h for h in datasource.headers.all()}
        for j, row in enumerate(rows):
            header = stored.get(row["name"].strip().lower()) or Header(datasource=datasource)
            changed = _assign(header, {"name": row["name"].strip(), "value": row.get("value", "")})
            if self._valid(header, f"{path}.headers[{j}]") and (changed or header.pk is None):
                header.save()

    def _auth(self, datasource: Datasource, index: int, entry: dict, path: str, *, stored_base_url: str | None) -> None:
        auth = AuthConfig.objects.filter(datasource=datasource).first() or AuthConfig(datasource=datasource)
        original = auth.token_binding()
        before = {f: getattr(auth, f) for f in (*schema.AUTH_FIELDS, *schema.AUTH_SECRETS)}
        _assign(auth, _pick(entry, schema.AUTH_FIELDS))
        known_errors = len(self.errors)
        given = self._given(datasource, index, schema.AUTH_SECRETS, "auth", stored=before)
        if len(self.errors) > known_errors:
            return  # an unset variable with nothing stored: the models would say the secret is missing again
        # The edit page's rule (secret_binding.py): a stored secret never follows the base, token or authorization URL
        # to another host. A new datasource has nothing stored.
        moved = (
            secret_binding.moved_urls(
                before=secret_binding.bound_urls(mode=auth.mode, base_url=stored_base_url, auth_values=original),
                after=secret_binding.bound_urls(
                    mode=auth.mode, base_url=datasource.base_url, auth_values=auth.token_binding()
                ),
            )
            if stored_base_url is not None
            else []
        )
        for secret in secret_binding.secrets_left_behind(auth, mode=auth.mode, replaced=given) if moved else []:
            self.errors.append(
                f"{path}.auth.{secret}: the {secret_binding.described(moved)} changed, so the stored secret is not "
                "kept: give it again as ${env:NAME}."
            )
        for secret in given:
            setattr(auth, secret, self.secrets[(index, secret)])
        auth.drop_secrets_not_used_by_mode()
        if not self._valid(auth, f"{path}.auth"):
            return
        auth.clear_tokens_if_rebound(original=original, moved=bool(moved))
        after = {f: getattr(auth, f) for f in before}
        if auth.pk is None or after != before:
            auth.save()
        changed_secrets = [f"auth.{s}" for s in schema.AUTH_SECRETS if before[s] != after[s]]
        key = ("datasource", datasource.pk)
        if key in self.touched:
            self.touched[key]["secrets"] += changed_secrets

    def _network(self, datasource: Datasource, index: int, entry: dict, path: str) -> None:
        """The proxy and client certificate, checked as the edit page checks them (NetworkConfig.clean: the
        certificate, key and passphrase together; secret_binding: a proxy password never follows a new proxy host)."""
        network = NetworkConfig.objects.filter(datasource=datasource).first() or NetworkConfig(datasource=datasource)
        before = {f: getattr(network, f) for f in (*schema.NETWORK_FIELDS, *NETWORK_SECRETS)}
        _assign(network, _pick(entry, schema.NETWORK_FIELDS))
        known_errors = len(self.errors)
        given = self._given(datasource, index, NETWORK_SECRETS, "network", stored=before)
        if len(self.errors) > known_errors:
            return  # an unset variable with nothing stored: the models would say the secret is missing again
        for secret in given:
            setattr(network, secret, self.secrets[(index, secret)])
        if not network.proxy_url:
            network.proxy_password = ""  # no proxy, no proxy password
        elif (
            "proxy_password" not in given
            and network.proxy_password
            and secret_binding.proxy_moved(before["proxy_url"], network.proxy_url)
        ):
            self.errors.append(
                f"{path}.network.proxy_password: the proxy's host changed, so the stored proxy password is not kept: "
                "give it again as ${env:NAME}."
            )
        if not network.client_certificate and "client_key" not in given:
            network.client_key = network.client_key_passphrase = ""  # no certificate, no key
        if not self._valid(network, f"{path}.network"):
            return
        after = {f: getattr(network, f) for f in before}
        if after != before and (network.pk is not None or any(after.values())):
            network.save()
        key = ("datasource", datasource.pk)
        if key in self.touched:
            self.touched[key]["secrets"] += [f"network.{s}" for s in NETWORK_SECRETS if before[s] != after[s]]

    def _item(self, datasource: Datasource, entry: dict, path: str) -> None:
        name = entry["name"].strip()
        item = Item.objects.filter(name__iexact=name).first()
        if item is None:
            item = Item(name=name)
        else:
            self._touch("item", item)
        changed = _assign(item, {"name": name, "datasource": datasource, **_pick(entry, schema.ITEM_FIELDS)})
        if not self._valid(item, path):
            return
        groups = (
            self._groups(entry, path)
            if "allowed_groups" in entry
            else list(item.allowed_groups.all())
            if item.pk
            else []
        )
        message = access_error(access=item.access, groups=groups)
        if message:
            self.errors.append(f"{path}.allowed_groups: {message}")
            return
        if item.pk is None:
            item.save()
            self.created.append(("item", item))
        elif changed:
            item.save()
        if "allowed_groups" in entry and set(item.allowed_groups.all()) != set(groups):
            item.allowed_groups.set(groups)
        if "bindings" in entry:
            self.bound.append((item, entry["bindings"], path))

    def _groups(self, entry: dict, path: str) -> list:
        groups = []
        for n, name in enumerate(entry["allowed_groups"]):
            group = Group.objects.filter(name=name).first()
            if group is None:
                self.errors.append(f"{path}.allowed_groups[{n}]: there is no group “{name}”; create it first.")
            else:
                groups.append(group)
        return groups

    def _bindings(self) -> None:
        wanted = []
        for item, names, path in self.bound:
            sources = {}
            for dependency, source_name in names.items():
                message = item_bindings.undeclared_message(item=item, name=dependency)
                source = Item.objects.filter(name__iexact=source_name.strip()).first()
                if message:
                    self.errors.append(f"{path}.bindings.{dependency}: {message}")
                elif source is None:
                    self.errors.append(
                        f"{path}.bindings.{dependency}: there is no item “{source_name}” (in the file or in Connect)."
                    )
                else:
                    sources[dependency] = source
            # Every stored binding, those of dependencies no longer declared included (saving removes them).
            current = dict(item.bindings.values_list("dependency", "source_id"))
            if {name: source.pk for name, source in sources.items()} != current:
                wanted.append((item, sources, path))
        # Old bindings first, so that a chain turned around is not taken for a cycle half-way.
        for item, _sources, _path in wanted:
            item.bindings.all().delete()
        for item, sources, path in wanted:
            cycle = item_bindings.find_binding_cycle(item=item, sources=sources)
            if cycle:
                first = next(d for d, s in sources.items() if s.name == cycle[1])
                self.errors.append(f"{path}.bindings.{first}: {item_bindings.cycle_message(cycle)}")
            else:
                item_bindings.save_bindings(item=item, sources=sources)

    def _application(self, i: int, entry: dict) -> None:
        path = f"applications[{i}]"
        name = entry["name"].strip()
        application = Application.objects.filter(name__iexact=name).first()
        if application is None:
            application = Application(name=name)
        else:
            self._touch("application", application)
        before = {f: getattr(application, f) for f in ("name", *schema.APPLICATION_FIELDS)}
        _assign(application, {"name": name, **_pick(entry, schema.APPLICATION_FIELDS)})
        if not self._valid(application, path):  # full_clean normalises the origins
            return
        items = []
        for n, item_name in enumerate(entry.get("items") or []):
            item = Item.objects.filter(name__iexact=item_name.strip()).first()
            if item is None:
                self.errors.append(f"{path}.items[{n}]: there is no item “{item_name}” (in the file or in Connect).")
            items.append(item)
        if None in items:
            return
        if application.pk is None:
            application.save()
            self.created.append(("application", application))
        elif {f: getattr(application, f) for f in before} != before:
            application.save()
        if "items" in entry and set(application.items.all()) != set(items):
            application.items.set(items)

    def _prune(self) -> None:
        named = {
            "datasource": {d["name"].strip().lower() for d in self.doc.get("datasources") or []},
            "item": {
                i["name"].strip().lower() for d in self.doc.get("datasources") or [] for i in d.get("items") or []
            },
            "application": {a["name"].strip().lower() for a in self.doc.get("applications") or []},
        }
        for kind, model in (("application", Application), ("item", Item), ("datasource", Datasource)):
            gone = [obj for obj in model.objects.all() if obj.name.lower() not in named[kind]]
            if not gone:
                continue
            try:
                with transaction.atomic():
                    model.objects.filter(pk__in=[obj.pk for obj in gone]).delete()
            except RestrictedError as exc:
                holders = sorted({str(obj) for obj in exc.restricted_objects})
                self.errors.append(f"{kind}s to delete (--prune): items kept are bound to them ({'; '.join(holders)}).")
                continue
            self.deleted += [Change("delete", kind, obj.name) for obj in gone]

    def _given(self, datasource: Datasource, index: int, secrets, section: str, *, stored: dict) -> set:
        """The secrets the file sets (their variables are set). One whose variable is unset keeps the stored
        secret, noted "kept"; with nothing stored it is an error naming its place."""
        given = set()
        for secret in secrets:
            value = self.secrets.get((index, secret))
            if not isinstance(value, document.UnsetVariable):
                if value is not None:
                    given.add(secret)
            elif stored[secret]:
                self._touch("datasource", datasource)
                self.touched[("datasource", datasource.pk)]["kept"].append((f"{section}.{secret}", value.name))
            else:
                self.errors.append(value.error())
        return given

    # --- bookkeeping --------------------------------------------------------------------------------------------

    def _touch(self, kind: str, obj) -> None:
        key = (kind, obj.pk)
        if key not in self.touched:
            self.touched[key] = {"before": _describe(kind, obj), "secrets": [], "kept": []}

    def _valid(self, obj, path: str) -> bool:
        try:
            obj.full_clean()
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                where = path if name == NON_FIELD_ERRORS else f"{path}.{name}"
                self.errors += [f"{where}: {message}" for message in messages]
            return False
        return True

    def result(self) -> Result:
        if self.errors:
            return Result(errors=self.errors)
        changes = [Change("create", kind, obj.name) for kind, obj in self.created]
        unchanged, kept = 0, []
        models = {"datasource": Datasource, "item": Item, "application": Application}
        for (kind, pk), touched in self.touched.items():
            obj = models[kind].objects.filter(pk=pk).first()
            if obj is None:
                continue  # pruned, or gone with its datasource: reported as deleted
            fields = _diff(touched["before"], _describe(kind, obj))
            if fields or touched["secrets"]:
                changes.append(
                    Change("update", kind, obj.name, fields=fields, secrets=touched["secrets"], kept=touched["kept"])
                )
            else:
                unchanged += 1
                if touched["kept"]:
                    kept.append(Change("unchanged", kind, obj.name, kept=touched["kept"]))
        return Result(changes=changes + self.deleted, unchanged=unchanged, kept=kept)


def _describe(kind: str, obj) -> dict:
    if kind == "datasource":
        data = describe_datasource(obj, names=_NoNames())
        data.pop("items")
        return data
    if kind == "item":
        return {"datasource": obj.datasource.name, **describe_item(obj)}
    return describe_application(obj)


class _NoNames:
    """Secrets are compared by value (the applier's own list), not by their reference."""

    def suggest(self, datasource_name: str, field: str) -> str:
        return "stored"


def _diff(before: dict, after: dict, prefix: str = "") -> list:
    changes = []
    for key in dict.fromkeys([*before, *after]):
        if key in SECRET_KEYS:
            continue
        old, new = before.get(key), after.get(key)
        path = f"{prefix}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            changes += _diff(old, new, path + ".")
        elif key == "headers":
            changes += _diff(_by_name(old), _by_name(new), path)
        elif old != new:
            changes.append((path, old, new))
    return changes


def _by_name(rows: list) -> dict:
    """Headers compared row by row: headers[X-Team]: old value -> new value."""
    return {f"[{row['name']}]": row.get("value") for row in rows or []}


def _pick(entry: dict, fields) -> dict:
    return {f: entry[f] for f in fields if f in entry}


def _assign(obj, values: dict) -> bool:
    changed = False
    for name, value in values.items():
        try:
            current = getattr(obj, name)
        except ObjectDoesNotExist:  # a new item's datasource
            current = None
        if current != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _shown(value) -> str:
    if value is None or value == "":
        return "(empty)"
    return repr(value) if not isinstance(value, str) else value
