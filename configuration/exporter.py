"""export_config: Connect's configuration as YAML, with a ${env:NAME} reference (a suggested name) in place of every
stored secret and never a value. The same function describes an object for the applier's diff, so that applying an
export to the instance it came from finds nothing to change."""

import enum
import re

import yaml
from django.db.models.functions import Lower

from applications.models import Application
from datasources.models import NETWORK_SECRETS, AuthConfig, Datasource, NetworkConfig
from items.bindings import bound_sources
from items.models import Item

from . import schema


def export_configuration() -> dict:
    names = SecretNames()
    return {
        "connect": schema.VERSION,
        "datasources": [
            describe_datasource(d, names=names)
            for d in Datasource.objects.select_related("auth").prefetch_related("headers").order_by(Lower("name"))
        ],
        "applications": [
            describe_application(a) for a in Application.objects.prefetch_related("items").order_by(Lower("name"))
        ],
    }


def dump(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)


def describe_datasource(datasource: Datasource, *, names: "SecretNames") -> dict:
    data = {"name": datasource.name, **{f: getattr(datasource, f) for f in schema.DATASOURCE_FIELDS}}
    data["headers"] = [{f: getattr(h, f) for f in schema.HEADER_FIELDS} for h in datasource.headers.all()]
    data["auth"] = describe_auth(
        getattr(datasource, "auth", None) or AuthConfig(datasource=datasource), datasource=datasource, names=names
    )
    network = NetworkConfig.objects.filter(datasource=datasource).first() if datasource.pk else None
    if network is not None and any(getattr(network, f) for f in (*schema.NETWORK_FIELDS, *NETWORK_SECRETS)):
        data["network"] = describe_network(network, datasource=datasource, names=names)
    data["items"] = [describe_item(item) for item in datasource.items.order_by(Lower("name"))]
    return data


def describe_network(network, *, datasource: Datasource, names: "SecretNames") -> dict:
    data = {f: getattr(network, f) for f in schema.NETWORK_FIELDS}
    for secret in NETWORK_SECRETS:
        if getattr(network, secret):
            data[secret] = "${env:" + names.suggest(datasource.name, secret) + "}"
    return data


def describe_auth(auth: AuthConfig, *, datasource: Datasource, names: "SecretNames") -> dict:
    # A datasource without its authentication row (the admin site adds one so) is described from an unsaved
    # AuthConfig, whose defaults are enum members: YAML writes their values.
    fields = ("mode", *schema.auth_fields_of_mode(auth.mode))
    data = {f: _plain(getattr(auth, f)) for f in fields}
    for secret in schema.auth_secrets_of_mode(auth.mode):
        if getattr(auth, secret):
            data[secret] = "${env:" + names.suggest(datasource.name, secret) + "}"
    return data


def _plain(value):
    return value.value if isinstance(value, enum.Enum) else value


def describe_item(item: Item) -> dict:
    data = {"name": item.name, **{f: getattr(item, f) for f in schema.ITEM_FIELDS}}
    data["allowed_groups"] = sorted(g.name for g in item.allowed_groups.all())
    data["bindings"] = {name: source.name for name, source in sorted(bound_sources(item=item).items())}
    return data


def describe_application(application: Application) -> dict:
    data = {"name": application.name, **{f: getattr(application, f) for f in schema.APPLICATION_FIELDS}}
    data["items"] = sorted((i.name for i in application.items.all()), key=str.lower)
    return data


class SecretNames:
    """Suggested environment variable names, one per secret: CONNECT_<DATASOURCE>_<FIELD>, unique in a file."""

    def __init__(self):
        self.used: set[str] = set()

    def suggest(self, datasource_name: str, field: str) -> str:
        base = re.sub(r"[^A-Z0-9]+", "_", f"CONNECT_{datasource_name}_{field}".upper()).strip("_")
        name, n = base, 2
        while name in self.used:
            name, n = f"{base}_{n}", n + 1
        self.used.add(name)
        return name
