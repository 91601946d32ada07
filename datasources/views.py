"""Datasource pages: glue between requests, forms and the configuration service."""

from django.conf import settings
from django.contrib import messages
from django.db.models import RestrictedError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from audit.recorder import audited
from core.access import permission_required
from core.unique_names import saved_unless_name_taken

from . import url_rules
from .auth_modes import mode_spec
from .forms import (
    AuthForm,
    DatasourceEditForm,
    NameForm,
    NetworkForm,
    ServerDetailsForm,
    TypeForm,
    header_formset_class,
)
from .models import AuthConfig, Datasource, NetworkConfig
from .oauth_views import callback_url
from .protection_status import status_for
from .selectors import deletion_blockers
from .services import configuration, connection_check, proxy_tunnel
from .services.presets import get_preset
from .types import get_type

WIZARD_KEY = "datasource_wizard"


def _wizard(request) -> dict:
    return request.session.get(WIZARD_KEY, {})


def _save_wizard(request, **values) -> None:
    data = dict(_wizard(request))
    data.update(values)
    request.session[WIZARD_KEY] = data


@permission_required("datasources.view_datasource")
def datasource_list(request):
    datasources = Datasource.objects.select_related("auth").all()
    return render(request, "datasources/list.html", {"datasources": datasources})


@permission_required("datasources.add_datasource")
@require_http_methods(["GET", "POST"])
def wizard_type(request):
    if request.method == "POST":
        form = TypeForm(request.POST)
        if form.is_valid():
            _save_wizard(request, type=form.cleaned_data["type"])
            return redirect("datasources:wizard_name")
    else:
        if request.GET.get("restart"):
            request.session.pop(WIZARD_KEY, None)
        form = TypeForm(initial={"type": _wizard(request).get("type", "rest_api")})
    return render(request, "datasources/wizard_type.html", {"form": form, "step": 1})


@permission_required("datasources.add_datasource")
@require_http_methods(["GET", "POST"])
def wizard_name(request):
    wizard = _wizard(request)
    if "type" not in wizard:
        return redirect("datasources:wizard_type")
    if request.method == "POST":
        form = NameForm(request.POST)
        if request.POST.get("action") == "back":
            _save_wizard(request, name=request.POST.get("name", ""))
            return redirect("datasources:wizard_type")
        if form.is_valid():
            _save_wizard(request, name=form.cleaned_data["name"])
            return redirect("datasources:wizard_config")
    else:
        form = NameForm(initial={"name": wizard.get("name", "")})
    return render(request, "datasources/wizard_name.html", {"form": form, "step": 2, "type": get_type(wizard["type"])})


@permission_required("datasources.add_datasource")
@audited
@require_http_methods(["GET", "POST"])
def wizard_config(request):
    wizard = _wizard(request)
    if "type" not in wizard:
        return redirect("datasources:wizard_type")
    if "name" not in wizard or not NameForm({"name": wizard["name"]}).is_valid():
        return redirect("datasources:wizard_name")
    draft = Datasource(type=wizard["type"], name=wizard["name"])
    if request.method == "POST":
        server_form = ServerDetailsForm(request.POST, instance=draft)
        header_formset = header_formset_class(extra=0)(request.POST, instance=draft, prefix="headers")
        auth_form = AuthForm(request.POST, instance=AuthConfig(), prefix="auth")
        network_form = NetworkForm(request.POST, instance=NetworkConfig(), prefix="network")
        if request.POST.get("action") == "back":
            _save_wizard(request, config=_typed_config(request, header_formset))
            return redirect("datasources:wizard_name")
        valid = server_form.is_valid() & header_formset.is_valid() & auth_form.is_valid() & network_form.is_valid()
        datasource = (
            saved_unless_name_taken(
                server_form,
                lambda: configuration.create_datasource(
                    type_key=wizard["type"],
                    name=wizard["name"],
                    server_form=server_form,
                    header_formset=header_formset,
                    auth_form=auth_form,
                    network_form=network_form,
                ),
            )
            if valid
            else None
        )
        if datasource is not None:
            request.session.pop(WIZARD_KEY, None)
            messages.success(request, f"Datasource “{datasource.name}” created.")
            return redirect("datasources:detail", pk=datasource.pk)
        # Keep what was typed (never secrets) in case the person goes back.
        _save_wizard(request, config=_typed_config(request, header_formset))
    else:
        config = wizard.get("config", {})
        rows = config.get("headers", [])
        server_form = ServerDetailsForm(instance=draft, initial=config.get("server", {}))
        header_formset = header_formset_class(extra=len(rows) + 1)(instance=draft, prefix="headers", initial=rows)
        auth_form = AuthForm(instance=AuthConfig(), prefix="auth", initial=config.get("auth", {}))
        network_form = NetworkForm(instance=NetworkConfig(), prefix="network", initial=config.get("network", {}))
    return render(
        request,
        "datasources/wizard_config.html",
        {
            "step": 3,
            "name": wizard["name"],
            "type": get_type(wizard["type"]),
            "server_form": server_form,
            "header_formset": header_formset,
            "auth_form": auth_form,
            "network_form": network_form,
        },
    )


def _typed_config(request, header_formset) -> dict:
    """Non-secret values typed on step 3, kept server side for back/forward."""
    server = {f: request.POST.get(f, "") for f in ServerDetailsForm.Meta.fields}
    auth = {f: request.POST.get(f"auth-{f}", "") for f in AuthForm.Meta.fields}
    network = {f: request.POST.get(f"network-{f}", "") for f in NetworkForm.Meta.fields}
    return {"server": server, "headers": header_formset.kept_rows(), "auth": auth, "network": network}


@permission_required("datasources.view_datasource")
def datasource_detail(request, pk):
    datasource = get_object_or_404(
        Datasource.objects.select_related("auth", "network").prefetch_related("headers"), pk=pk
    )
    auth = getattr(datasource, "auth", None) or AuthConfig(datasource=datasource)
    network = getattr(datasource, "network", None) or NetworkConfig(datasource=datasource)
    check = connection_check.last_check(request.session, datasource=datasource)
    preset = get_preset(auth.provider)
    return render(
        request,
        "datasources/detail.html",
        {
            "datasource": datasource,
            "auth": auth,
            "callback_url": callback_url(request),
            "check": check,
            "callback_from_public_url": bool(settings.CONNECT_PUBLIC_URL),
            "protection": status_for(datasource),
            "preset": preset,
            "token_use": mode_spec(auth.mode).token,
            "network": network,
            "operator_proxy": settings.CONNECT_OUTBOUND_PROXY
            and proxy_tunnel.operator_proxy_for(url_rules.origin(datasource.base_url)[1]),
            "base_url_is_placeholder": preset.base_url_is_placeholder(datasource.base_url),
        },
    )


@permission_required("datasources.change_datasource")
@audited
@require_http_methods(["GET", "POST"])
def datasource_edit(request, pk):
    datasource = get_object_or_404(Datasource, pk=pk)
    auth = AuthConfig.objects.filter(datasource=datasource).first() or AuthConfig(datasource=datasource)
    network = NetworkConfig.objects.filter(datasource=datasource).first() or NetworkConfig(datasource=datasource)
    stored_base_url = datasource.base_url
    if request.method == "POST":
        server_form = DatasourceEditForm(request.POST, instance=datasource)
        header_formset = header_formset_class(extra=0)(request.POST, instance=datasource, prefix="headers")
        server_valid = server_form.is_valid()  # a valid form has set the new base URL on the datasource
        auth_form = AuthForm(
            request.POST,
            instance=auth,
            prefix="auth",
            base_url_from=stored_base_url,
            base_url_to=datasource.base_url if server_valid else stored_base_url,
        )
        network_form = NetworkForm(request.POST, instance=network, prefix="network")
        valid = server_valid & header_formset.is_valid() & auth_form.is_valid() & network_form.is_valid()
        if valid and saved_unless_name_taken(
            server_form,
            lambda: configuration.update_datasource(
                server_form=server_form, header_formset=header_formset, auth_form=auth_form, network_form=network_form
            ),
        ):
            for note in auth_form.notes:
                messages.warning(request, note)
            messages.success(request, f"Datasource “{datasource.name}” saved.")
            return redirect("datasources:detail", pk=datasource.pk)
        # Forms validated against the instance may have changed it in memory: show the stored name in the title.
        datasource.refresh_from_db()
    else:
        server_form = DatasourceEditForm(instance=datasource)
        header_formset = header_formset_class(extra=1)(instance=datasource, prefix="headers")
        auth_form = AuthForm(instance=auth, prefix="auth")
        network_form = NetworkForm(instance=network, prefix="network")
    return render(
        request,
        "datasources/edit.html",
        {
            "datasource": datasource,
            "server_form": server_form,
            "header_formset": header_formset,
            "auth_form": auth_form,
            "network_form": network_form,
        },
    )


@permission_required("datasources.delete_datasource")
@audited
@require_http_methods(["GET", "POST"])
def datasource_delete(request, pk):
    datasource = get_object_or_404(Datasource, pk=pk)
    if request.method == "POST":
        name = datasource.name
        try:
            datasource.delete()
        except RestrictedError as exc:
            # Items of other datasources are bound to its items (their fields wait for them): nothing is deleted.
            holders = sorted({str(obj) for obj in exc.restricted_objects})
            messages.error(
                request,
                f"Datasource “{name}” was not deleted: other items are bound to its items "
                f"({'; '.join(holders)}). Unbind them first.",
            )
            return redirect("datasources:delete", pk=pk)
        messages.success(request, f"Datasource “{name}” deleted.")
        return redirect("datasources:list")
    return render(
        request, "datasources/delete.html", {"datasource": datasource, "blockers": deletion_blockers(datasource)}
    )


@permission_required("datasources.change_datasource")
@require_POST
def datasource_test(request, pk):
    """Test connection: one call, never a configuration change; the result is kept in the session and shown."""
    datasource = get_object_or_404(Datasource.objects.select_related("auth"), pk=pk)
    check = connection_check.check_connection(datasource=datasource)
    connection_check.remember(request.session, datasource=datasource, check=check)
    (messages.success if check.ok else messages.error)(request, check.summary)
    return redirect(reverse("datasources:detail", args=[datasource.pk]) + "#test-connection")
