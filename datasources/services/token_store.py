"""Where a renewed token is kept: AuthConfig's token fields, written with one queryset update (atomic, and the
datasource's config version stays, so cached answers stay valid across renewals). Shared by the OAuth flows
(oauth.py) and the login call (login_call.py)."""

from datetime import timedelta

from django.utils import timezone

from ..models import AuthConfig


def store_token(auth: AuthConfig, token: dict, *, connected: bool = False) -> None:
    """Store a token answer ({"access_token", "expires_in", "scope", "refresh_token"}) and clear the last error."""
    now = timezone.now()
    expires_in = token.get("expires_in")
    scope = token.get("scope") or []
    fields = {
        "access_token": token["access_token"],
        "token_expires_at": now + timedelta(seconds=int(float(expires_in))) if expires_in else None,
        "token_scopes": " ".join(scope) if isinstance(scope, (list, tuple)) else str(scope),
        "last_refresh_at": now,
        "last_error": "",
        "reconnect_needed": False,
    }
    if token.get("refresh_token"):
        fields["refresh_token"] = token["refresh_token"]
    if connected:
        fields["connected_at"] = now
        fields["refresh_token"] = token.get("refresh_token") or ""
    AuthConfig.objects.filter(pk=auth.pk).update(**fields)
    for name, value in fields.items():
        setattr(auth, name, value)


def record_error(auth: AuthConfig, message: str) -> None:
    AuthConfig.objects.filter(pk=auth.pk).update(last_error=message[:1000])
    auth.last_error = message[:1000]


def mark_reconnect_needed(auth: AuthConfig, message: str) -> None:
    AuthConfig.objects.filter(pk=auth.pk).update(reconnect_needed=True, last_error=message[:1000])
    auth.reconnect_needed = True
    auth.last_error = message[:1000]
