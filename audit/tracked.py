"""What the audit log records: Connect's configuration models, their parts and many-to-many fields, and users'
roles. Every field of a tracked model is recorded unless it is ignored here, so fields added later are recorded
without a change to this file; a new secret field is recorded only as "changed" when it is an encrypted field."""

from django.apps import apps

from .models import Action
from .recorder import track, track_relation


def track_connect_models() -> None:
    from datasources.models import MODE_FIELDS, TOKEN_STATUS_FIELDS

    Datasource = apps.get_model("datasources", "Datasource")
    track(Datasource, object_type="datasource")
    track(apps.get_model("datasources", "Header"), parent="datasource", prefix=lambda h: f"headers[{h.name}]")
    # Token status is written by the OAuth flows; connecting and disconnecting are recorded as events instead. Only
    # the chosen mode's fields are listed (the other modes' defaults, or what a mode switch leaves, mean nothing).
    track(
        apps.get_model("datasources", "AuthConfig"),
        parent="datasource",
        prefix=lambda auth: "auth",
        ignore=frozenset(TOKEN_STATUS_FIELDS),
        relevant=lambda auth: ("mode", *MODE_FIELDS.get(auth.mode, ())),
    )
    # The network (proxy, client certificate): its secrets are encrypted fields, recorded only as changed; what is
    # read from the certificate follows from it.
    track(
        apps.get_model("datasources", "NetworkConfig"),
        parent="datasource",
        prefix=lambda network: "network",
        ignore=frozenset({"certificate_subject", "certificate_issuer", "certificate_expires_at"}),
    )
    Item = apps.get_model("items", "Item")
    track(Item, object_type="item")
    track(apps.get_model("items", "Binding"), parent="item", prefix=lambda b: f"bindings[{b.dependency}]")
    track_relation(Item, "allowed_groups")
    Application = apps.get_model("applications", "Application")
    # last_used_at is written about once a minute while tokens are used: usage, not configuration.
    track(Application, object_type="application", ignore=frozenset({"last_used_at"}))
    track_relation(Application, "items")
    User = apps.get_model("auth", "User")
    # Of an account, what gives access: its flags and its roles (groups). Never its password or last sign-in.
    track(User, object_type="user", only=frozenset({"username", "is_active", "is_staff", "is_superuser"}))
    track_relation(User, "groups", action=Action.ROLE_CHANGE)
