"""OAuth2 for datasources on requests-oauthlib: client credentials, and authorization code with PKCE.

Tokens are stored encrypted on AuthConfig with a queryset update (one UPDATE: atomic, and it does not bump
the datasource's config version, so cached answers stay valid across renewals).

Renewal of every stored token (a new client-credentials token, a refresh, or the login call of login_call.py: the
mode's TokenUse.renewal in auth_modes.py, through RENEWALS) is serialised per datasource: a thread lock in the
process and a Redis lock across processes; after taking the lock the stored token is read again, so N callers
that found it expired cause one token request. We call OAuth2Session.refresh_token() explicitly under that lock
rather than the session's auto-refresh, because auto-refresh fires inside request(), where no lock can be held
around the refresh and no other process's newer token can be seen first.
"""

import hashlib
import http.client
import json
import logging
import secrets
import threading
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error, WebApplicationClient
from oauthlib.oauth2.rfc6749.errors import InsecureTransportError
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from operations.metrics import observed_token_request
from operations.redis_outage import report_redis_failure

from .. import url_rules
from ..auth_modes import mode_spec
from ..header_values import basic_credentials
from ..models import TOKEN_STATE_FIELDS, AuthConfig, AuthMode, ClientAuthMethod, OAuthState
from . import errors, redaction
from .login_call import fetch_login_token
from .outbound_errors import translate_request_error
from .presets import get_preset
from .sessions import route_for
from .token_store import mark_reconnect_needed, record_error, store_token
from .transport import configure_outbound_session

log = logging.getLogger("connect.oauth")

# A token is renewed this long before it expires, or half its lifetime before for short-lived tokens.
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
    return auth.token_expires_at - renewal_margin(auth) > timezone.now()


def renewal_margin(auth: AuthConfig) -> timedelta:
    """How long before expiry a token is renewed: EARLY_RENEWAL, or half the token's lifetime when that is
    shorter (a 20-second token is used for 10 seconds, not renewed on every call)."""
    if auth.token_expires_at is None or auth.last_refresh_at is None:
        return EARLY_RENEWAL
    lifetime = auth.token_expires_at - auth.last_refresh_at
    return max(min(EARLY_RENEWAL, lifetime / 2), timedelta(0))


def bearer_token_for(auth: AuthConfig, *, force_new: bool = False, rejected_token: str | None = None) -> str:
    """The access token to send, renewed when missing, about to expire, or rejected by the API (force_new).

    While the datasource is flagged "reconnect needed", every call fails at once, without a token request, until an
    administrator reconnects it.
    """
    if auth.reconnect_needed:
        raise _reconnect_needed_now(auth)
    if not force_new and token_is_fresh(auth):
        return auth.access_token
    with renewal_lock(auth.datasource_id):
        current = AuthConfig.objects.get(pk=auth.pk)
        if current.reconnect_needed:
            _copy_token_fields(current, auth)
            raise _reconnect_needed_now(current)
        renewed_by_another = force_new and rejected_token and current.access_token != rejected_token
        if token_is_fresh(current) and (not force_new or renewed_by_another):
            _copy_token_fields(current, auth)
            return current.access_token
        _renew(current)
        _copy_token_fields(current, auth)
        return current.access_token


def renew_token_now(auth: AuthConfig):
    """A new token whatever the stored one (Test connection), under the renewal lock; returns what the renewal
    answered (the login call's LoginAnswer). Raises DatasourceError."""
    with renewal_lock(auth.datasource_id):
        current = AuthConfig.objects.get(pk=auth.pk)
        try:
            return _renew(current)
        finally:
            _copy_token_fields(current, auth)


def _renew(auth: AuthConfig):
    """The mode's renewal (auth_modes.py: TokenUse.renewal), which stores the new token."""
    token_use = mode_spec(auth.mode).token
    renewal = RENEWALS.get(token_use.renewal) if token_use is not None else None
    if renewal is None:
        raise errors.AuthenticationFailure("This datasource's authentication uses no token.")
    return renewal(auth=auth)


def _reconnect_needed_now(auth: AuthConfig) -> errors.ReconnectNeeded:
    why = auth.last_error or "The connected account must be reconnected."
    error = errors.ReconnectNeeded(
        f"{why} Until an administrator clicks Reconnect on the datasource page, calls "
        "fail at once (nothing is sent to the provider)."
    )
    error.nothing_sent = True
    return error


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

# OAuth errors in a refresh answer that say nothing about the refresh token: they do not mean "reconnect".
TRANSIENT_OAUTH_ERRORS = frozenset({"temporarily_unavailable", "server_error", "missing_token"})


def fetch_client_credentials_token(*, auth: AuthConfig) -> None:
    """Client-credentials grant; stores the new token. No refresh token is used in this mode."""
    client = BackendApplicationClient(client_id=auth.client_id, scope=scope_list(auth))
    session = _token_session(OAuth2Session(client=client, scope=scope_list(auth)), auth)
    token = _token_request(
        auth,
        session,
        lambda: session.fetch_token(
            token_url=resolved_url(auth.token_url, auth),
            timeout=settings.CONNECT_CALL_DEADLINE_SECONDS,
            headers=_token_headers(auth),
            **_client_auth_kwargs(auth),
            **(auth.extra_token_params or {}),
        ),
    )
    store_oauth_token(auth, token)


def refresh_authorization_code_token(*, auth: AuthConfig) -> None:
    """Refresh grant; keeps the old refresh token when the provider does not send a new one. Any OAuth error in
    the answer (invalid_grant, GitHub's bad_refresh_token, ...) but a transient one marks "reconnect needed"."""
    if not auth.refresh_token and not auth.access_token:
        raise errors.NotConnected(
            "Not connected: use Connect to sign in first (on the datasource page). Nothing was sent to the provider "
            "or the API."
        )
    if not auth.refresh_token:
        mark_reconnect_needed(auth, "No refresh token is stored.")
        raise errors.ReconnectNeeded(
            "The connected account must be reconnected: no refresh token is stored. "
            "Open the datasource page and click Reconnect."
        )
    session = _token_session(OAuth2Session(client_id=auth.client_id, scope=scope_list(auth)), auth)
    kwargs = _client_auth_kwargs(auth)
    if kwargs.get("include_client_id"):
        kwargs = {"client_id": auth.client_id, "client_secret": auth.client_secret}
    try:
        token = _token_request(
            auth,
            session,
            lambda: session.refresh_token(
                resolved_url(auth.token_url, auth),
                refresh_token=auth.refresh_token,
                timeout=settings.CONNECT_CALL_DEADLINE_SECONDS,
                headers=_token_headers(auth),
                **kwargs,
            ),
            refreshing=True,
        )
    except errors.ReconnectNeeded as exc:
        mark_reconnect_needed(auth, exc.message)
        raise
    store_oauth_token(auth, token)


def _token_session(session: OAuth2Session, auth: AuthConfig) -> OAuth2Session:
    """An OAuth2Session on the outbound transport (the datasource's route: its proxy and client certificate) whose
    token answers are judged by their HTTP status first."""
    configure_outbound_session(session, route_for(auth.datasource))

    def hook(response):
        session.answer_status = response.status_code
        return require_token_answer(response)

    for name in ("access_token_response", "refresh_token_response"):
        session.register_compliance_hook(name, hook)
    return session


def require_token_answer(response):
    """A token endpoint's answer is read by oauthlib only when it can be a token response: 2xx, or 4xx carrying an
    OAuth error in JSON. Anything else (a 502 HTML page, a 404) is reported with its HTTP status, instead of
    oauthlib's "missing access token" for a body it could not read."""
    status = response.status_code
    if 200 <= status < 300 or (400 <= status < 500 and _has_oauth_error(response)):
        return response
    reason = http.client.responses.get(status, "")
    raise errors.AuthenticationFailure(
        f"The token endpoint {response.url} answered HTTP {status}{' ' + reason if reason else ''} without a "
        "token response.",
        status_code=status,
    )


def _has_oauth_error(response) -> bool:
    try:
        return isinstance(json.loads(response.text).get("error"), str)
    except (ValueError, AttributeError):
        return False


def _token_headers(auth: AuthConfig) -> dict:
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
    headers.update(get_preset(auth.provider).token_headers)
    return headers


def _client_auth_kwargs(auth: AuthConfig) -> dict:
    if auth.client_auth_method == ClientAuthMethod.BODY:
        return {"include_client_id": True, "client_secret": auth.client_secret}
    # UTF-8, as any Basic credentials (header_values.py): requests alone would encode Latin-1 and fail on the rest.
    return {"auth": HTTPBasicAuth(*basic_credentials(auth.client_id, auth.client_secret)), "include_client_id": False}


@observed_token_request
def _token_request(auth: AuthConfig, session: OAuth2Session, request, *, refreshing: bool = False):
    """Run a token request with the datasource's secrets redacted; errors become clear messages (and last_error).

    For a refresh, an OAuth error means "reconnect" (but a transient one). For a code exchange invalid_grant is
    about the code (expired, used, or a PKCE verifier that does not match), and for client credentials about the
    client: a plain refusal.
    """
    with redaction.redacting(redaction.redaction_for_auth(auth).with_values(*redaction.current().secret_values)):
        try:
            return _requested(auth, session, request, refreshing=refreshing)
        except errors.DatasourceError as exc:
            record_error(auth, exc.message)
            raise


def _requested(auth: AuthConfig, session: OAuth2Session, request, *, refreshing: bool):
    token_url = resolved_url(auth.token_url, auth)
    try:
        return request()
    except Warning as exc:  # oauthlib: "Scope has changed"; the token is still good
        return exc.token
    except InsecureTransportError:
        raise errors.InvalidURL("The token URL must be an https:// URL: nothing was sent.") from None
    except OAuth2Error as exc:
        detail = f"{exc.error}: {exc.description}" if exc.description else exc.error
        if refreshing and exc.error not in TRANSIENT_OAUTH_ERRORS:
            raise errors.ReconnectNeeded(
                f"The connected account must be reconnected: the token endpoint refused the refresh token ({detail})."
            ) from None
        status = f"HTTP {session.answer_status}, " if getattr(session, "answer_status", None) else ""
        raise errors.AuthenticationFailure(
            f"The token endpoint {token_url} refused the request ({status}{detail})."
        ) from None
    except errors.DatasourceError:
        raise
    except ValueError:
        raise errors.AuthenticationFailure(
            "The token endpoint answered without a usable token (not a JSON token response)."
        ) from None
    except Exception as exc:
        raise translate_request_error(exc, url=token_url, called="the token endpoint") from None


def store_oauth_token(auth: AuthConfig, token: dict, *, connected: bool = False) -> None:
    store_token(auth, token, connected=connected)
    adopt_base_url_from_token(auth, token)


def adopt_base_url_from_token(auth: AuthConfig, token: dict) -> None:
    """A provider quirk, from the preset's data (Salesforce's instance_url): while the datasource's base URL is the
    preset's placeholder, the token answer's URL replaces its scheme, host and port (the path, e.g. the API
    version, is kept). Only an https:// URL on one of the preset's hosts is taken: a token answer never sends the
    datasource's calls (and its bearer token) anywhere else."""
    preset = get_preset(auth.provider)
    given = token.get(preset.base_url_from_token) if preset.base_url_from_token else None
    if auth.mode != AuthMode.OAUTH2_AUTHORIZATION_CODE or not given:
        return
    datasource = auth.datasource
    if not preset.base_url_is_placeholder(datasource.base_url):
        return  # an administrator chose the base URL: it is kept
    try:
        parts = urlsplit(url_rules.check_https_url(str(given)))
        host = url_rules.origin(str(given))[1]
    except url_rules.URLRuleError:
        host = ""
    if not host or not preset.base_url_host_allowed(host):
        record_error(
            auth,
            f"The token answer's {preset.base_url_from_token} is not an https:// URL on "
            f"{' or '.join(preset.base_url_hosts)}, so the API base URL is still the {preset.label} placeholder.",
        )
        return
    kept = urlsplit(datasource.base_url)
    datasource.base_url = urlunsplit(("https", parts.netloc.lower(), kept.path, kept.query, ""))
    datasource.save(update_fields=["base_url", "config_version", "updated_at"])


def disconnect(*, auth: AuthConfig) -> None:
    auth.clear_tokens()
    auth.last_error = ""
    AuthConfig.objects.filter(pk=auth.pk).update(**{field: getattr(auth, field) for field in TOKEN_STATE_FIELDS})


# How each mode's token is renewed (auth_modes.py names the renewal of each mode that uses a token).
RENEWALS = {
    "client_credentials": fetch_client_credentials_token,
    "refresh": refresh_authorization_code_token,
    "login_call": fetch_login_token,
}


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
        state_hash=sha256_hex(state),
        session_hash=sha256_hex(session_key),
        user=user,
        datasource=auth.datasource,
        config_version=auth.datasource.config_version,
        redirect_uri=redirect_uri,
        code_verifier=verifier,
    )
    session = OAuth2Session(client_id=auth.client_id, redirect_uri=redirect_uri, scope=scope_list(auth))
    url, _ = session.authorization_url(
        resolved_url(auth.authorization_url, auth),
        state=state,
        code_challenge=challenge,
        code_challenge_method="S256",
        **get_preset(auth.provider).authorize_params,
    )
    return url


def claim_state(*, state: str, user, session_key: str) -> OAuthState:
    """The consent this callback answers, claimed once; refused before any token request."""
    if not state:
        raise OAuthFlowError(
            "The provider's answer has no state parameter, so it cannot be trusted. "
            "Start again from the datasource page."
        )
    row = OAuthState.objects.select_related("datasource").filter(state_hash=sha256_hex(state)).first()
    if row is None:
        raise OAuthFlowError(
            "This sign-in answer is unknown (its state matches no consent started here). "
            "Start again from the datasource page."
        )
    if row.user_id != user.pk:
        raise OAuthFlowError(
            "This sign-in was started by another Connect user; it cannot be completed here. "
            "Start again from the datasource page."
        )
    if row.session_hash != sha256_hex(session_key or ""):
        raise OAuthFlowError(
            "Your Connect session ended while you were at the provider (you have signed in again "
            "since), so this answer cannot be matched to the consent you started. Nothing was "
            "stored: click Connect again."
        )
    if row.created_at < timezone.now() - STATE_LIFETIME:
        raise OAuthFlowError("This sign-in took more than 10 minutes and has expired. Click Connect again.")
    if not OAuthState.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=timezone.now()):
        raise OAuthFlowError("This sign-in answer was already used. Click Connect again.")
    return row


def _consent_refused(auth: AuthConfig, error: str, description: str) -> OAuthFlowError:
    connected = bool(auth.access_token) and not auth.reconnect_needed
    if error == "access_denied":
        what = "Access was denied at the provider"
    else:
        what = f"The provider answered with an error ({error}{': ' + description if description else ''})"
    if connected:
        return OAuthFlowError(f"Reconnect cancelled: {what[0].lower() + what[1:]}. The existing connection is kept.")
    failure = OAuthFlowError(f"{what}: the datasource was not connected.")
    record_error(auth, failure.message)
    return failure


def complete_authorization(*, row: OAuthState, code: str, error: str = "", error_description: str = "") -> AuthConfig:
    """Exchange the code (with the PKCE verifier) at the token URL of the datasource that started the flow.

    A consent refused or failed at the provider leaves a working connection as it was: the message says so and is
    not recorded as the connection's last error (which would then sit beside "Connected").
    """
    auth = AuthConfig.objects.select_related("datasource").get(datasource_id=row.datasource_id)
    if error:
        with redaction.redacting(redaction.redaction_for_auth(auth)):
            raise _consent_refused(auth, error, error_description)
    if not code:
        raise OAuthFlowError("The provider's answer has no authorization code. Click Connect again.")
    if auth.datasource.config_version != row.config_version or auth.mode != AuthMode.OAUTH2_AUTHORIZATION_CODE:
        raise OAuthFlowError("The datasource's configuration changed during the sign-in. Click Connect again.")
    session = _token_session(
        OAuth2Session(client_id=auth.client_id, redirect_uri=row.redirect_uri, scope=scope_list(auth)), auth
    )
    token = _token_request(
        auth,
        session,
        lambda: session.fetch_token(
            resolved_url(auth.token_url, auth),
            code=code,
            code_verifier=row.code_verifier,
            timeout=settings.CONNECT_CALL_DEADLINE_SECONDS,
            headers=_token_headers(auth),
            **_client_auth_kwargs(auth),
        ),
    )
    store_oauth_token(auth, token, connected=True)
    return auth
