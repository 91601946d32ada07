"""Reading a configuration file: its size, its YAML, its shape (keys, types, names) and its ${env:NAME} references.
Each problem is reported with the place it is at (`datasources[2].headers[0].name`); nothing is applied while
there is one. What a value may be (a URL, a header name, a query) is the models' and forms' rule, checked when the
file is applied (applier.py), never here."""

import re
from dataclasses import dataclass

import yaml

from applications.models import Application
from datasources.models import NETWORK_SECRETS, AuthConfig, Datasource, Header, NetworkConfig
from items.models import Item

from . import schema

ENV_REFERENCE = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$")


class ConfigurationRefused(Exception):
    """The file cannot be applied: `errors` lists each problem with its place."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases (*name): a few lines of aliases can expand to billions of values."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.YAMLError(f"aliases (*name) are not accepted (line {mark.line + 1}, column {mark.column + 1})")
        return super().compose_node(parent, index)


def load(content: bytes | str) -> dict:
    """The file as a mapping, or ConfigurationRefused (too large, not YAML, not a mapping, wrong version)."""
    size = len(content.encode() if isinstance(content, str) else content)
    if size > schema.MAX_FILE_BYTES:
        raise ConfigurationRefused(
            [f"The file is {size / 1024 / 1024:.1f} MB: a configuration file may be at most 5 MB."]
        )
    try:
        document = yaml.load(content, Loader=_Loader)  # a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigurationRefused([f"The file is not valid YAML: {_yaml_message(exc)}"]) from None
    if not isinstance(document, dict):
        raise ConfigurationRefused(["The file must be a mapping that starts with `connect: 1`."])
    version = document.get("connect")
    if "connect" not in document:
        raise ConfigurationRefused(["connect: missing. The file must start with `connect: 1` (the format's version)."])
    if version != schema.VERSION or isinstance(version, bool):
        raise ConfigurationRefused(
            [f"connect: version {version!r} is not supported; this Connect reads version {schema.VERSION}."]
        )
    return document


def _yaml_message(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def check(document: dict, *, environ) -> dict:
    """Every shape problem of the document, with its place; the secrets it references, resolved from `environ`:
    {(datasource index, field): value, or UnsetVariable when its variable is not set}. Raises ConfigurationRefused."""
    errors: list[str] = []
    secrets: dict = {}
    _known_keys(document, schema.TOP_KEYS, "", errors)
    datasources = _list(document, "datasources", "", errors)
    applications = _list(document, "applications", "", errors)
    item_names: dict[str, str] = {}
    _unique_names(datasources, "datasources", errors)
    _unique_names(applications, "applications", errors)
    for i, entry in enumerate(datasources):
        path = f"datasources[{i}]"
        if not _mapping(entry, path, errors):
            continue
        _known_keys(entry, schema.DATASOURCE_KEYS, path, errors)
        _name(entry, path, errors)
        _typed(entry, Datasource, schema.DATASOURCE_FIELDS, path, errors)
        headers = _list(entry, "headers", path, errors)
        _unique_names(headers, f"{path}.headers", errors)
        for j, header in enumerate(headers):
            hpath = f"{path}.headers[{j}]"
            if _mapping(header, hpath, errors):
                _known_keys(header, schema.HEADER_FIELDS, hpath, errors)
                _name(header, hpath, errors)
                _typed(header, Header, ("value",), hpath, errors)
        if "auth" in entry and _mapping(entry["auth"], f"{path}.auth", errors):
            auth = entry["auth"]
            _known_keys(auth, schema.AUTH_KEYS, f"{path}.auth", errors)
            _typed(auth, AuthConfig, schema.AUTH_FIELDS, f"{path}.auth", errors)
            for secret in schema.AUTH_SECRETS:
                if secret in auth:
                    value = _secret(auth[secret], f"{path}.auth.{secret}", environ, errors)
                    if value is not None:
                        secrets[(i, secret)] = value
        if "network" in entry and _mapping(entry["network"], f"{path}.network", errors):
            network = entry["network"]
            _known_keys(network, schema.NETWORK_KEYS, f"{path}.network", errors)
            _typed(network, NetworkConfig, schema.NETWORK_FIELDS, f"{path}.network", errors)
            for secret in NETWORK_SECRETS:
                if secret in network:
                    value = _secret(network[secret], f"{path}.network.{secret}", environ, errors)
                    if value is not None:
                        secrets[(i, secret)] = value
        for k, item in enumerate(_list(entry, "items", path, errors)):
            ipath = f"{path}.items[{k}]"
            if not _mapping(item, ipath, errors):
                continue
            _known_keys(item, schema.ITEM_KEYS, ipath, errors)
            name = _name(item, ipath, errors)
            if name:
                if name.lower() in item_names:
                    errors.append(
                        f"{ipath}.name: the item “{name}” appears twice (also at {item_names[name.lower()]})."
                    )
                item_names.setdefault(name.lower(), ipath)
            _typed(item, Item, schema.ITEM_FIELDS, ipath, errors)
            _strings(_list(item, "allowed_groups", ipath, errors), f"{ipath}.allowed_groups", errors)
            bindings = item.get("bindings", {})
            if not isinstance(bindings, dict):
                errors.append(
                    f"{ipath}.bindings: expected a mapping of dependency: item name, got {schema.describe(bindings)}."
                )
            else:
                for dependency, source in bindings.items():
                    if not isinstance(source, str) or not isinstance(dependency, str):
                        errors.append(
                            f"{ipath}.bindings.{dependency}: expected an item's name, got {schema.describe(source)}."
                        )
    for i, entry in enumerate(applications):
        path = f"applications[{i}]"
        if _mapping(entry, path, errors):
            _known_keys(entry, schema.APPLICATION_KEYS, path, errors)
            _name(entry, path, errors)
            _typed(entry, Application, schema.APPLICATION_FIELDS, path, errors)
            _strings(_list(entry, "items", path, errors), f"{path}.items", errors)
    if errors:
        raise ConfigurationRefused(errors)
    return secrets


def _known_keys(mapping: dict, known, path: str, errors: list) -> None:
    for key in mapping:
        if key not in known:
            where = f"{path}.{key}" if path else str(key)
            errors.append(f"{where}: unknown key (known here: {', '.join(known)}).")


def _mapping(value, path: str, errors: list) -> bool:
    if isinstance(value, dict):
        return True
    errors.append(f"{path}: expected a mapping, got {schema.describe(value)}.")
    return False


def _list(mapping: dict, key: str, path: str, errors: list) -> list:
    value = mapping.get(key, [])
    if value is None:
        return []
    if isinstance(value, list):
        return value
    errors.append(f"{path + '.' if path else ''}{key}: expected a list, got {schema.describe(value)}.")
    return []


def _name(mapping: dict, path: str, errors: list) -> str:
    name = mapping.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(f"{path}.name: a name (text) is required.")
        return ""
    return name.strip()


def _unique_names(entries: list, path: str, errors: list) -> None:
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.strip():
            continue
        key = name.strip().lower()
        if key in seen:
            errors.append(
                f"{path}[{index}].name: “{name}” appears twice (also at {path}[{seen[key]}]; names ignore case)."
            )
        seen.setdefault(key, index)


def _typed(mapping: dict, model, fields, path: str, errors: list) -> None:
    for name in fields:
        if name in mapping:
            problem = schema.type_error(model._meta.get_field(name), mapping[name])
            if problem:
                errors.append(f"{path}.{name}: {problem}.")


def _strings(values: list, path: str, errors: list) -> None:
    for index, value in enumerate(values):
        if not isinstance(value, str):
            errors.append(f"{path}[{index}]: expected a name (text), got {schema.describe(value)}.")


def _secret(value, path: str, environ, errors: list):
    match = ENV_REFERENCE.match(value) if isinstance(value, str) else None
    if match is None:
        errors.append(
            f"{path}: a secret is written as a reference to an environment variable, ${{env:NAME}}, never as a "
            "value (leave the key out to keep the stored secret)."
        )
        return None
    name = match.group(1)
    if not environ.get(name):
        # Not an error yet: an object that has this secret stored keeps it (the applier decides, it knows what is
        # stored). So the file just exported applies again without its secrets in the environment.
        return UnsetVariable(name=name, path=path)
    return environ[name]


@dataclass(frozen=True)
class UnsetVariable:
    """A ${env:NAME} whose variable is not set (or empty): the stored secret is kept, or, with none, an error."""

    name: str
    path: str

    def error(self) -> str:
        return (
            f"{self.path}: the environment variable {self.name} is not set (or empty), and there is no stored "
            "secret to keep."
        )
