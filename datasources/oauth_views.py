"""OAuth2 authorization-code pages: connect (to the provider), the callback, disconnect."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from audit.models import Action
from audit.recorder import audited, record_event, recording
from core.access import permission_required

from .models import AuthConfig
from .services import errors, oauth


def callback_url(request) -> str:
    """The one redirect URI to register at providers."""
    path = reverse("oauth_callback")
    if settings.CONNECT_PUBLIC_URL:
        return settings.CONNECT_PUBLIC_URL.rstrip("/") + path
    return request.build_absolute_uri(path)


@permission_required("datasources.connect_oauth")
@require_POST
def oauth_connect(request, pk):
    auth = get_object_or_404(AuthConfig.objects.select_related("datasource"), datasource_id=pk)
    if not request.session.session_key:
        request.session.save()
    try:
        url = oauth.start_authorization(
            auth=auth, user=request.user, session_key=request.session.session_key, redirect_uri=callback_url(request)
        )
    except errors.DatasourceError as exc:
        messages.error(request, exc.message)
        return redirect("datasources:detail", pk=pk)
    return HttpResponseRedirect(url)


@permission_required("datasources.connect_oauth")
@audited
@require_POST
def oauth_disconnect(request, pk):
    auth = get_object_or_404(AuthConfig, datasource_id=pk)
    oauth.disconnect(auth=auth)
    record_event(action=Action.OAUTH_DISCONNECT, instance=auth)
    messages.success(request, "Disconnected: the stored OAuth tokens were removed.")
    return redirect("datasources:detail", pk=pk)


@permission_required("datasources.connect_oauth")
@require_GET
def oauth_callback(request):
    params = request.GET
    try:
        row = oauth.claim_state(
            state=params.get("state", ""), user=request.user, session_key=request.session.session_key or ""
        )
    except errors.DatasourceError as exc:
        response = render(request, "datasources/oauth_refused.html", {"message": exc.message}, status=400)
        return _no_referrer(response)
    # The stored tokens and the audit entry in one transaction; a refusal keeps what it records (the last error).
    with recording(request=request):
        try:
            auth = oauth.complete_authorization(
                row=row,
                code=params.get("code", ""),
                error=params.get("error", ""),
                error_description=params.get("error_description", ""),
            )
        except errors.DatasourceError as exc:
            messages.error(request, exc.message)
        else:
            record_event(action=Action.OAUTH_CONNECT, instance=auth, changes=[{"field": "auth.tokens", "secret": True}])
            messages.success(request, f"Connected: “{auth.datasource.name}” can now call the API with this account.")
            if auth.datasource.base_url != row.datasource.base_url:
                messages.info(
                    request, f"The API base URL is now {auth.datasource.base_url}, from the provider's answer."
                )
    return _no_referrer(redirect("datasources:detail", pk=row.datasource_id))


def _no_referrer(response):
    # The callback URL carries the code and state: never let it leak through a Referer header.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response
