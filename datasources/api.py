"""The datasource JSON API for Viewers (and the roles above): read-only configuration, each secret a `<name>_set`
boolean, never its value."""

from django.http import JsonResponse

from core.json_api import error_response, json_view

from .auth_modes import mode_spec
from .models import (
    MODE_FIELDS,
    NETWORK_SECRETS,
    SECRET_FIELDS,
    TOKEN_STATUS_FIELDS,
    AuthConfig,
    Datasource,
    NetworkConfig,
)


@json_view(permission="datasources.view_datasource")
def datasource_list(request):
    datasources = Datasource.objects.select_related("auth", "network").prefetch_related("headers")
    return JsonResponse({"datasources": [serialize_datasource(d) for d in datasources]})


@json_view(permission="datasources.view_datasource")
def datasource_detail(request, pk):
    datasource = Datasource.objects.select_related("auth", "network").prefetch_related("headers").filter(pk=pk).first()
    if datasource is None:
        return error_response("not_found", f"There is no datasource {pk}.", 404)
    return JsonResponse(serialize_datasource(datasource))


def serialize_datasource(datasource: Datasource) -> dict:
    """A datasource's configuration; each secret is a `<name>_set` boolean, never its value."""
    return {
        "id": datasource.pk,
        "name": datasource.name,
        "type": datasource.type,
        "base_url": datasource.base_url,
        "documentation_url": datasource.documentation_url,
        "test_url": datasource.test_url,
        "calls_per_second": datasource.calls_per_second,
        "concurrent_calls": datasource.concurrent_calls,
        "stale_if_error": datasource.stale_if_error,
        "stale_max_age_seconds": datasource.stale_max_age_seconds,
        "headers": [{"name": h.name, "value": h.value} for h in datasource.headers.all()],
        "auth": _serialize_auth(getattr(datasource, "auth", None) or AuthConfig(datasource=datasource)),
        "network": _serialize_network(getattr(datasource, "network", None) or NetworkConfig(datasource=datasource)),
        "created_at": datasource.created_at,
        "updated_at": datasource.updated_at,
    }


def _serialize_auth(auth: AuthConfig) -> dict:
    data = {"mode": auth.mode}
    for field in MODE_FIELDS.get(auth.mode, ()):
        if field not in SECRET_FIELDS:
            data[field] = getattr(auth, field)
    if mode_spec(auth.mode).token is not None:
        data.update({field: getattr(auth, field) for field in TOKEN_STATUS_FIELDS})
    data.update({f"{field}_set": bool(getattr(auth, field)) for field in SECRET_FIELDS})
    return data


def _serialize_network(network: NetworkConfig) -> dict:
    """The proxy URL (a user name at most, never a password) and the certificate as the page shows it."""
    certificate = None
    if network.certificate_expires_at is not None:
        certificate = {
            "subject": network.certificate_subject,
            "issuer": network.certificate_issuer,
            "expires_at": network.certificate_expires_at,
        }
    data = {"proxy_url": network.proxy_url, "client_certificate": certificate}
    data.update({f"{field}_set": bool(getattr(network, field)) for field in NETWORK_SECRETS})
    return data
