"""The ablation (issue 23 §2): Connect's WSGI app with some of its per-request speed layers bypassed, for the bench
only. gunicorn runs `bench.ablation:application` instead of gunicorn.conf.py's app when the bench starts an instance
with `without=(...)` (servers.start_gunicorn); BENCH_WITHOUT names the layers, comma-separated. Production code has
no switch: each bypass here replaces the layer with what the code would do without it (the ORM, Django's own
backend, no memo).

Layers:
  precompiled       connect_project.precompiled's SQL -> the query built and compiled by the ORM every time (the
                    user, item-versions and application-version queries)
  user_backend      connect_project.auth.UserBackend -> ModelBackend.get_user (the ORM's user query)
  item_memo         items.selectors.find_item -> the item and its datasource read through the ORM every request
  application_memo  the application an embedding token names -> read through the ORM (row, secret, grants) every
                    request
  token_memo        verified embedding tokens are not remembered: every request verifies its token again
  extracted         the extracted-options memo -> every cache hit parses and extracts the cached body again
"""

import os

from django.core.wsgi import get_wsgi_application

LAYERS = ("precompiled", "user_backend", "item_memo", "application_memo", "token_memo", "extracted")


def bypass(layer: str):
    """Bypass `layer` in this process; returns a function that puts it back."""
    swapped = []

    def swap(owner, name, value):
        swapped.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def restore():
        for owner, name, value in reversed(swapped):
            setattr(owner, name, value)

    if layer == "precompiled":
        from applications.services import lookup
        from connect_project import auth
        from items import selectors

        placeholder = 2_147_483_000  # stands for the id while the ORM compiles the query, every time

        def compiled(queryset) -> str:
            return queryset.filter(pk=placeholder).query.get_compiler(using="default").as_sql()[0]

        def select_by_pk(model, *field_names):
            manager = model._default_manager
            return compiled(manager.values_list(*field_names) if field_names else manager.all())

        def select_joined_by_pk(model, relation, field_name):
            return compiled(model._default_manager.values_list(field_name, f"{relation}__{field_name}"))

        swap(auth, "select_by_pk", select_by_pk)
        swap(lookup, "select_by_pk", select_by_pk)
        swap(selectors, "select_joined_by_pk", select_joined_by_pk)
    elif layer == "user_backend":
        from django.contrib.auth.backends import ModelBackend

        from connect_project import auth

        swap(auth.UserBackend, "get_user", ModelBackend.get_user)
    elif layer == "item_memo":
        from items import api
        from items.models import Item

        swap(api, "find_item", lambda pk: Item.objects.select_related("datasource").filter(pk=pk).first())
    elif layer == "application_memo":
        from applications.models import Application
        from applications.services import lookup, tokens

        def find_application(pk):
            application = Application.objects.filter(pk=pk).first()
            if application is None:
                return None
            return lookup.KnownApplication(
                pk=application.pk,
                name=application.name,
                enabled=application.enabled,
                secret=application.secret,
                origins=frozenset(application.allowed_origins or ()),
                item_ids=frozenset(application.items.values_list("pk", flat=True)),
                version=application.config_version,
                may_purge=application.may_purge,
            )

        swap(tokens, "find_application", find_application)
        swap(lookup, "find_application", find_application)
    elif layer == "token_memo":
        from applications.services import lookup

        swap(lookup.verified_tokens, "get", lambda token, audience: None)
        swap(lookup.verified_tokens, "remember", lambda token, audience, verified: None)
    elif layer == "extracted":
        from items.services import resolution

        class NoMemo:
            def options_for(self, *, item, key, body, extract):
                return extract()

        swap(resolution, "extracted_options", NoMemo())
    else:
        raise ValueError(f"unknown layer {layer!r}; known: {', '.join(LAYERS)}")
    return restore


application = get_wsgi_application()
for _layer in filter(None, os.environ.get("BENCH_WITHOUT", "").split(",")):
    bypass(_layer)
