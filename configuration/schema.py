"""What a configuration file holds, model by model: the one list the exporter writes and the applier reads. A field
added to a model later is carried by adding its name here (its YAML type follows from the model field).

Identities are names: a datasource by its name, an item by its name (written under its datasource), an application
by its name. Relations are written by name too: bindings, granted items, allowed groups.
"""

from django.db import models

from datasources.models import ENTERED_SECRETS, MODE_FIELDS, NETWORK_SECRETS

VERSION = 1
MAX_FILE_BYTES = 5 * 1024 * 1024

DATASOURCE_FIELDS = (
    "type",
    "base_url",
    "documentation_url",
    "test_url",
    "calls_per_second",
    "concurrent_calls",
    "stale_if_error",
    "stale_max_age_seconds",
)
HEADER_FIELDS = ("name", "value")
# The authentication fields of each mode are MODE_FIELDS' (datasources/models.py); these are all of them.
AUTH_FIELDS = (
    "mode",
    "username",
    "api_key_location",
    "api_key_name",
    "provider",
    "tenant",
    "authorization_url",
    "token_url",
    "client_id",
    "scopes",
    "extra_token_params",
    "client_auth_method",
    "login_url",
    "login_body_format",
    "login_body",
    "login_token_path",
    "login_expires_in_path",
    "login_token_seconds",
    "login_header_name",
    "login_header_prefix",
)
# Secrets a person enters: written as ${env:NAME} references, never as values. (OAuth tokens are not exported: an
# authorization-code datasource is connected again on the new instance.)
AUTH_SECRETS = ENTERED_SECRETS
# How the datasource is reached (NetworkConfig, SPEC 12): its proxy and client certificate; the proxy password, the
# private key and its passphrase are secrets (${env:NAME}). Written only for a datasource that has one of them.
NETWORK_FIELDS = ("proxy_url", "client_certificate")
ITEM_FIELDS = (
    "query",
    "method",
    "body_template",
    "dependencies",
    "user_input_optional",
    "api_filter",
    "list_path",
    "key_field",
    "label_template",
    "max_options",
    "pagination",
    "next_url_path",
    "page_parameter",
    "page_start",
    "page_step",
    "max_pages",
    "lookup_query",
    "lookup_method",
    "lookup_body_template",
    "access",
    "cache_seconds",
)
APPLICATION_FIELDS = ("allowed_origins", "enabled", "may_purge")

# Keys that are not model fields, per section.
DATASOURCE_KEYS = ("name", *DATASOURCE_FIELDS, "headers", "auth", "network", "items")
ITEM_KEYS = ("name", *ITEM_FIELDS, "allowed_groups", "bindings")
APPLICATION_KEYS = ("name", *APPLICATION_FIELDS, "items")
AUTH_KEYS = (*AUTH_FIELDS, *AUTH_SECRETS)
NETWORK_KEYS = (*NETWORK_FIELDS, *NETWORK_SECRETS)
TOP_KEYS = ("connect", "datasources", "applications")


def auth_fields_of_mode(mode: str) -> list[str]:
    """The non-secret authentication fields a mode uses (written by the exporter)."""
    return [f for f in MODE_FIELDS.get(mode, ()) if f not in AUTH_SECRETS]


def auth_secrets_of_mode(mode: str) -> list[str]:
    return [f for f in MODE_FIELDS.get(mode, ()) if f in AUTH_SECRETS]


def yaml_type(model_field) -> tuple[tuple[type, ...], str]:
    """The YAML types a model field accepts, and how to name them in an error."""
    if isinstance(model_field, models.BooleanField):
        return (bool,), "true or false"
    if isinstance(model_field, (models.IntegerField, models.BigIntegerField)):
        return (int,), "a whole number"
    if isinstance(model_field, (models.FloatField, models.DecimalField)):
        return (int, float), "a number"
    if isinstance(model_field, models.JSONField):
        default = model_field.default() if callable(model_field.default) else model_field.default
        if isinstance(default, list):
            return (list,), "a list"
        if isinstance(default, dict):
            return (dict,), "a mapping"
        return (object,), "a value"
    return (str,), "text"


def type_error(model_field, value) -> str:
    """ "" when `value` has the YAML type of `model_field`, else what was expected."""
    types, named = yaml_type(model_field)
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    return "" if ok else f"expected {named}, got {describe(value)}"


def describe(value) -> str:
    if value is None:
        return "nothing (null)"
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )
