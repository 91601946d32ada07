"""One pooled requests.Session per datasource and process, so warm calls reuse connections (no new TLS handshake).

Entries are keyed by datasource id and checked against its config_version: any change of the configuration builds
a new session (and call plan) and closes the old one. At most MAX_SESSIONS are kept (least recently used goes),
and a deleted datasource's session is closed.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass

import requests
from django.core.exceptions import ObjectDoesNotExist
from django.db.models.signals import post_delete
from django.dispatch import receiver
from requests.auth import HTTPBasicAuth

from ..auth_modes import mode_spec
from ..header_values import HeaderValueError, basic_credentials, check_header_value
from ..models import ApiKeyLocation, AuthMode, Datasource
from . import client_tls, proxy_tunnel
from .call_url import origin
from .redaction import Redaction, redaction_for_auth
from .transport import DIRECT, OutboundRoute, configure_outbound_session

MAX_SESSIONS = 64
DEFAULT_HEADERS = {"User-Agent": "Connect/0.1", "Accept": "application/json", "Accept-Encoding": "gzip, deflate"}


@dataclass(frozen=True)
class CallPlan:
    """What every call of one configuration sends to the base URL's origin, and what must never be shown."""

    origin: tuple[str, str, int]
    headers: dict
    basic_auth: HTTPBasicAuth | None
    api_key_param: tuple[str, str] | None
    # A stored token (OAuth2, a login call) is sent as "name: prefix token": (name, prefix), or None.
    token_header: tuple[str, str] | None
    redaction: Redaction
    # Why the headers cannot be sent (a value stored before the header rules, header_values.py); "" when they can.
    unsendable: str = ""


@dataclass
class DatasourceSession:
    config_version: str
    session: requests.Session
    plan: CallPlan


_sessions: "OrderedDict[int, DatasourceSession]" = OrderedDict()
_lock = threading.Lock()


def session_for(datasource: Datasource) -> DatasourceSession:
    """The pooled session and call plan for the datasource's current configuration (thread-safe)."""
    if datasource.pk is None:
        return DatasourceSession(datasource.config_version, new_session(), plan_for(datasource))
    entry = _cached(datasource)
    if entry is not None:
        return entry
    fresh = DatasourceSession(datasource.config_version, new_session(route_for(datasource)), plan_for(datasource))
    with _lock:
        entry = _sessions.get(datasource.pk)
        if entry is not None and entry.config_version == datasource.config_version:
            stale = [fresh]  # another thread built it first
        else:
            stale = [entry] if entry is not None else []
            _sessions[datasource.pk] = entry = fresh
            _sessions.move_to_end(datasource.pk)
            while len(_sessions) > MAX_SESSIONS:
                stale.append(_sessions.popitem(last=False)[1])
    for old in stale:
        old.session.close()
    return entry


def _cached(datasource: Datasource) -> DatasourceSession | None:
    with _lock:
        entry = _sessions.get(datasource.pk)
        if entry is not None and entry.config_version == datasource.config_version:
            _sessions.move_to_end(datasource.pk)
            return entry
    return None


def new_session(route: OutboundRoute = DIRECT) -> requests.Session:
    session = configure_outbound_session(requests.Session(), route)
    session.headers.clear()
    session.headers.update(DEFAULT_HEADERS)
    return session


def plan_for(datasource: Datasource) -> CallPlan:
    auth = _auth_of(datasource)
    headers = {h.name: h.value for h in datasource.headers.all()} if datasource.pk else {}
    mode = auth.mode if auth is not None else AuthMode.NONE
    basic, api_key = None, None
    if mode == AuthMode.BASIC:
        basic = HTTPBasicAuth(*basic_credentials(auth.username, auth.password))
    elif mode == AuthMode.API_KEY and auth.api_key_location == ApiKeyLocation.QUERY:
        api_key = (auth.api_key_name, auth.api_key_value)
    elif mode == AuthMode.API_KEY:
        headers[auth.api_key_name] = auth.api_key_value
    return CallPlan(
        origin=origin(datasource.base_url),
        headers=headers,
        basic_auth=basic,
        api_key_param=api_key,
        token_header=_token_header(auth, mode),
        redaction=redaction_for_auth(auth),
        unsendable=_unsendable(headers, api_key_header=auth.api_key_name if mode == AuthMode.API_KEY else None),
    )


def _token_header(auth, mode: str) -> tuple[str, str] | None:
    """Where the mode's stored token goes (auth_modes.py): a fixed header, or the one the configuration names."""
    token = mode_spec(mode).token
    if token is None:
        return None
    if token.header_from_config:
        return auth.login_header_name, auth.login_header_prefix
    return token.header_name, token.header_prefix


def route_for(datasource: Datasource) -> OutboundRoute:
    """How the datasource's calls and token requests reach the network (NetworkConfig): its proxy and client
    certificate; DIRECT (the operator's proxy, if any) without them."""
    network = network_of(datasource)
    if network is None:
        return DIRECT
    proxy = network.proxy
    certificate = None
    if network.client_certificate and network.client_key:
        certificate = client_tls.ClientCertificate(
            network.client_certificate, network.client_key, network.client_key_passphrase
        )
    return OutboundRoute(
        proxy=proxy_tunnel.Proxy(proxy, operator=False) if proxy is not None else None,
        client_certificate=certificate,
    )


def network_of(datasource: Datasource):
    if datasource.pk is None:
        return None
    try:
        return datasource.network
    except ObjectDoesNotExist:
        return None


def _unsendable(headers: dict, *, api_key_header: str | None) -> str:
    """Why these headers cannot be sent, naming the header but never its value; "" when they can."""
    for name, value in headers.items():
        try:
            check_header_value(value)
        except HeaderValueError as exc:
            if name == api_key_header:
                return (
                    f"The API key cannot be sent in the header “{name}”. {exc.message} Enter it again on the "
                    f"datasource's edit page."
                )
            return f"The header “{name}” cannot be sent. {exc.message} Correct it on the datasource's edit page."
    return ""


def _auth_of(datasource: Datasource):
    try:
        return datasource.auth
    except ObjectDoesNotExist:
        return None


def forget(datasource_id: int) -> None:
    with _lock:
        entry = _sessions.pop(datasource_id, None)
    if entry is not None:
        entry.session.close()


def close_all() -> None:
    """Close every pooled session (tests; a settings change)."""
    with _lock:
        entries = list(_sessions.values())
        _sessions.clear()
    for entry in entries:
        entry.session.close()


@receiver(post_delete, sender=Datasource, dispatch_uid="connect-forget-datasource-session")
def _forget_deleted(sender, instance, **kwargs):
    forget(instance.pk)
