"""OAuth2 for datasources on requests-oauthlib: client credentials, and authorization code with PKCE.

Tokens are stored encrypted on AuthConfig with a queryset update (one UPDATE: atomic, and it does not bump
the datasource's config version, so cached answers stay valid across renewals).

Renewal (a new client-credentials token, or a refresh) is serialised per datasource: a thread lock in the
process and a Redis lock across processes; after taking the lock the stored token is read again, so N callers
that found it expired cause one token request. We call OAuth2Session.refresh_token() explicitly under that lock
rather than the session's auto-refresh, because auto-refresh fires inside request(), where no lock can be held
around the refresh and no other process's newer token can be seen first.
"""
import hashlib
import logging
import secrets
import threading
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error, WebApplicationClient
from oauthlib.oauth2.rfc6749.errors import InsecureTransportError, InvalidGrantError
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from operations.metrics import observed_token_request
from operations.redis_outage import report_redis_failure

from ..models import TOKEN_STATE_FIELDS, AuthConfig, AuthMode, ClientAuthMethod, OAuthState
from . import errors
from .presets import get_preset

log = logging.getLogger("connect.oauth")

EARLY_RENEWAL = timedelta(seconds=60)
STATE_LIFETIME = timedelta(minutes=10)
LOCK_SECONDS = 75

_locks_guard = threading.Lock()
_local_locks: dict[int, threading.Lock] = {}


class OAuthFlowError(errors.AuthenticationFailure):
    """The consent flow was refused (state, provider error, token exchange)."""

    code = "oauth_flow"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def resolved_url(url: str, auth: AuthConfig) -> str:
    """A preset URL with its {tenant} filled in (Microsoft Graph)."""
    return url.replace("{tenant}", auth.tenant or "common")


def scope_list(auth: AuthConfig) -> list[str] | None:
    return auth.scopes.split() or None


# --- using tokens --------------------------------------------------------------------------------------------

def token_is_fresh(auth: AuthConfig) -> bool:
    if not auth.access_token:
        return False
    if auth.token_expires_at is None:
        return True
    return auth.token_expires_at - EARLY_RENEWAL > timezone.now()


def bearer_token_for(auth: AuthConfig, *, force_new: bool = False, rejected_token: str | None = None) -> str:
    """The access token to send, renewed when missing, about to expire, or rejected by the API (force_new)."""
    if not force_new and token_is_fresh(auth):
        return auth.access_token
    with renewal_lock(auth.datasource_id):
        current = AuthConfig.objects.get(pk=auth.pk)
        renewed_by_another = force_new and rejected_token and current.access_token != rejected_token
        if token_is_fresh(current) and (not force_new or renewed_by_another):
            _copy_token_fields(current, auth)
            return current.access_token
        if current.mode == AuthMode.OAUTH2_CLIENT_CREDENTIALS:
            fetch_client_credentials_token(auth=current)
        elif current.mode == AuthMode.OAUTH2_AUTHORIZATION_CODE:
            refresh_authorization_code_token(auth=current)
        else:
            raise errors.AuthenticationFailure("This datasource does not use OAuth2.")
        _copy_token_fields(current, auth)
        return current.access_token


def _copy_token_fields(source: AuthConfig, target: AuthConfig) -> None:
    for field in TOKEN_STATE_FIELDS:
        setattr(target, field, getattr(source, field))


@contextmanager
def renewal_lock(datasource_id: int):
    with _locks_guard:
        local = _local_locks.setdefault(datasource_id, threading.Lock())
    with local:
        shared = _shared_lock(datasource_id)
        try:
            yield
        finally:
            if shared is not None:
                try:
                    shared.release()
                except Exception:  # expired or Redis gone: the local lock still held us in this process
                    log.warning("OAuth renewal lock for datasource %s could not be released cleanly", datasource_id)


def _shared_lock(datasource_id: int):
    """A Redis lock across processes when the cache is Redis; None (process lock only) otherwise or when down."""
    if not hasattr(cache, "lock"):
        return None
    try:
        lock = cache.lock(f"oauth-renew:{datasource_id}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS)
        return lock if lock.acquire() else None
    except Exception as exc:  # serialised in this process only meanwhile
        report_redis_failure(exc, noticed_by="oauth_lock")
        return None


# --- token requests ------------------------------------------------------------------------------------------

def fetch_client_credentials_token(*, auth: AuthConfig) -> None:
    """Client-credentials grant; stores the new token. No refresh token is used in this mode."""
    client = BackendApplicationClient(client_id=auth.client_id, scope=scope_list(auth))
    session = _outbound(OAuth2Session(client=client, scope=scope_list(auth)))
    token = _token_request(auth, lambda: session.fetch_token(
        token_url=resolved_url(auth.token_url, auth), timeout=settings.CONNECT_CALL_DEADLINE_SECONDS,
        headers=_token_headers(auth), **_client_auth_kwargs(auth), **(auth.extra_token_params or {})))
    store_token(auth, token)


def refresh_authorization_code_token(*, auth: AuthConfig) -> None:
    """Refresh grant; keeps the old refresh token when the provider does not send a new one."""
    if not auth.refresh_token:
        _mark_reconnect_needed(auth, "No refresh token is stored.")
        raise errors.ReconnectNeeded(
            "The connected account must be reconnected: no refresh token is stored. "
            "Open the datasource page and click Reconnect.")
    session = _outbound(OAuth2Session(client_id=auth.client_id, scope=scope_list(auth)))
    kwargs = _client_auth_kwargs(auth)
    if kwargs.get("include_client_id"):
        kwargs = {"client_id": auth.client_id, "client_secret": auth.client_secret}
    try:
        token = _token_request(auth, lambda: session.refresh_token(
            resolved_url(auth.token_url, auth), refresh_token=auth.refresh_token,
            timeout=settings.CONNECT_CALL_DEADLINE_SECONDS, headers=_token_headers(auth), **kwargs), refreshing=True)
    except errors.ReconnectNeeded as exc:
        _mark_reconnect_needed(auth, exc.message)
        raise
    store_token(auth, token)


def _outbound(session: OAuth2Session) -> OAuth2Session:
    from .client import configure_outbound_session

    return configure_outbound_session(session)


def _token_headers(auth: AuthConfig) -> dict:
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
    headers.update(get_preset(auth.provider).token_headers)
    return headers


def _client_auth_kwargs(auth: AuthConfig) -> dict:
    if auth.client_auth_method == ClientAuthMethod.BODY:
        return {"include_client_id": True, "client_secret": auth.client_secret}
    return {"auth": HTTPBasicAuth(auth.client_id, auth.client_secret), "include_client_id": False}


@observed_token_request
def _token_request(auth: AuthConfig, request, *, refreshing: bool = False):
    """Run a token request; provider errors become clear, redacted messages.

    invalid_grant means "reconnect" only for a refresh; for a code exchange it is about the code (expired, used,
    or a PKCE verifier that does not match), and for client credentials about the client: a plain refusal.
    """
    try:
        return request()
    except Warning as exc:  # oauthlib: "Scope has changed"; the token is still good
        return exc.token
    except InsecureTransportError:
        message = "The token URL must be an https:// URL: nothing was sent."
        _record_error(auth, message)
        raise errors.InvalidURL(message)
    except InvalidGrantError as exc:
        if not refreshing:
            return _refused(auth, exc)
        raise errors.ReconnectNeeded(_redact(
            f"The connected account must be reconnected: the provider refused the grant "
            f"(invalid_grant{': ' + exc.description if exc.description else ''}).", auth))
    except OAuth2Error as exc:
        return _refused(auth, exc)
    except errors.DatasourceError as exc:
        _record_error(auth, exc.message)
        raise
    except ValueError:
        message = "The token endpoint answered without a usable token (not a JSON token response)."
        _record_error(auth, message)
        raise errors.AuthenticationFailure(message)
    except Exception as exc:
        translated = _translate(exc)
        _record_error(auth, translated.message)
        raise translated from None


def _refused(auth: AuthConfig, exc: OAuth2Error):
    message = f"The token endpoint refused the request ({exc.error}"
    message = _redact(message + (f": {exc.description})." if exc.description else ")."), auth)
    _record_error(auth, message)
    raise errors.AuthenticationFailure(message)


def _translate(exc: Exception) -> errors.DatasourceError:
    from . import client

    translate = getattr(client, "translate_request_error", None)
    if translate is not None:
        return translate(exc)
    return errors.ConnectFailure("The token endpoint could not be reached.")


def _redact(message: str, auth: AuthConfig) -> str:
    for secret in (auth.client_secret, auth.access_token, auth.refresh_token):
        if secret:
            message = message.replace(secret, "***")
    return message


def store_token(auth: AuthConfig, token: dict, *, connected: bool = False) -> None:
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


def _record_error(auth: AuthConfig, message: str) -> None:
    AuthConfig.objects.filter(pk=auth.pk).update(last_error=message[:1000])
    auth.last_error = message[:1000]


def _mark_reconnect_needed(auth: AuthConfig, message: str) -> None:
    AuthConfig.objects.filter(pk=auth.pk).update(reconnect_needed=True, last_error=message[:1000])
    auth.reconnect_needed = True
    auth.last_error = message[:1000]


def disconnect(*, auth: AuthConfig) -> None:
    auth.clear_tokens()
    auth.last_error = ""
    AuthConfig.objects.filter(pk=auth.pk).update(**{field: getattr(auth, field) for field in TOKEN_STATE_FIELDS})


# --- the authorization-code consent --------------------------------------------------------------------------

def start_authorization(*, auth: AuthConfig, user, session_key: str, redirect_uri: str) -> str:
    """The provider URL to send the admin's browser to; the state and PKCE verifier stay server side."""
    if auth.mode != AuthMode.OAUTH2_AUTHORIZATION_CODE:
        raise OAuthFlowError("This datasource does not use the OAuth2 authorization-code mode.")
    state = secrets.token_urlsafe(32)
    pkce = WebApplicationClient(auth.client_id)
    verifier = pkce.create_code_verifier(64)
    challenge = pkce.create_code_challenge(verifier, "S256")
    OAuthState.objects.filter(created_at__lt=timezone.now() - STATE_LIFETIME * 6).delete()
    OAuthState.objects.create(
        state_hash=sha256_hex(state), session_hash=sha256_hex(session_key), user=user,
        datasource=auth.datasource, config_version=auth.datasource.config_version,
        redirect_uri=redirect_uri, code_verifier=verifier)
    session = OAuth2Session(client_id=auth.client_id, redirect_uri=redirect_uri, scope=scope_list(auth))
    url, _ = session.authorization_url(
        resolved_url(auth.authorization_url, auth), state=state, code_challenge=challenge,
        code_challenge_method="S256", **get_preset(auth.provider).authorize_params)
    return url


def claim_state(*, state: str, user, session_key: str) -> OAuthState:
    """The consent this callback answers, claimed once; refused before any token request."""
    if not state:
        raise OAuthFlowError("The provider's answer has no state parameter, so it cannot be trusted. "
                             "Start again from the datasource page.")
    row = OAuthState.objects.select_related("datasource").filter(state_hash=sha256_hex(state)).first()
    if row is None:
        raise OAuthFlowError("This sign-in answer is unknown (its state matches no consent started here). "
                             "Start again from the datasource page.")
    if row.session_hash != sha256_hex(session_key or "") or row.user_id != user.pk:
        raise OAuthFlowError("This sign-in was started in another session; it cannot be completed here. "
                             "Start again from the datasource page.")
    if row.created_at < timezone.now() - STATE_LIFETIME:
        raise OAuthFlowError("This sign-in took more than 10 minutes and has expired. Click Connect again.")
    if not OAuthState.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=timezone.now()):
        raise OAuthFlowError("This sign-in answer was already used. Click Connect again.")
    return row


def complete_authorization(*, row: OAuthState, code: str, error: str = "", error_description: str = "") -> AuthConfig:
    """Exchange the code (with the PKCE verifier) at the token URL of the datasource that started the flow."""
    auth = AuthConfig.objects.select_related("datasource").get(datasource_id=row.datasource_id)
    if error:
        message = ("Access was denied at the provider: the datasource was not connected."
                   if error == "access_denied" else
                   f"The provider answered with an error ({error}{': ' + error_description if error_description else ''}).")
        _record_error(auth, _redact(message, auth))
        raise OAuthFlowError(_redact(message, auth))
    if not code:
        raise OAuthFlowError("The provider's answer has no authorization code. Click Connect again.")
    if auth.datasource.config_version != row.config_version or auth.mode != AuthMode.OAUTH2_AUTHORIZATION_CODE:
        raise OAuthFlowError("The datasource's configuration changed during the sign-in. Click Connect again.")
    session = _outbound(OAuth2Session(client_id=auth.client_id, redirect_uri=row.redirect_uri,
                                      scope=scope_list(auth)))
    token = _token_request(auth, lambda: session.fetch_token(
        resolved_url(auth.token_url, auth), code=code, code_verifier=row.code_verifier,
        timeout=settings.CONNECT_CALL_DEADLINE_SECONDS, headers=_token_headers(auth), **_client_auth_kwargs(auth)))
    store_token(auth, token, connected=True)
    return auth
