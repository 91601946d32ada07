"""How Connect opens outbound connections: https only, to an address the policy checked, certificates always verified.

- Every request (API call, test URL, redirect hop, OAuth token request) goes through `PinnedHTTPSAdapter`, and
  every connection it opens (`PinnedHTTPSConnection`) resolves the host once, checks every address with
  address_policy and connects to a checked IP, while the host name is kept for SNI, the Host header and certificate
  verification (no DNS-rebinding window). A warm call reuses a pooled connection to an address checked when it was
  opened, so it makes no DNS lookup; pools are keyed by the operator's allow-list, so a connection checked under
  another policy is never reused.
- Certificates are verified with one SSLContext: CONNECT_CA_BUNDLE when set (only that bundle is trusted), else the
  operating system's trust store as OpenSSL finds it (ssl.create_default_context()). requests' own bundle (certifi),
  REQUESTS_CA_BUNDLE, proxies and .netrc are never used: sessions have trust_env off and none of requests' proxies.
  A datasource's route (OutboundRoute) may add a client certificate (client_tls.py) and an outbound proxy: the
  connection then tunnels through the proxy to the address it checked (proxy_tunnel.py); pools are keyed by the
  proxy too.
- One deadline per call (CONNECT_CALL_DEADLINE_SECONDS), from connect to the last byte: connect and read timeouts
  never exceed the time left, and every socket read of the response re-checks it (a body or headers dripped
  slowly are cut at the deadline, not per read; a read may block at most DEADLINE_SLACK_SECONDS past it).
"""

import collections
import functools
import http.client
import io
import socket
import ssl
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass

import requests
from django.conf import settings
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, LocationParseError, NewConnectionError
from urllib3.poolmanager import PoolKey, _default_key_normalizer
from urllib3.util import connection as urllib3_connection
from urllib3.util import parse_url

from . import address_policy, call_url, client_tls, proxy_tunnel, redaction
from .errors import InvalidURL, RedirectRefused, TLSFailure, UpstreamTimeout

MAX_REDIRECTS = 5
POOL_MAXSIZE = 16

_deadline: ContextVar[float | None] = ContextVar("connect_call_deadline", default=None)


# --- the deadline --------------------------------------------------------------------------------------------


def deadline_seconds() -> float:
    return float(settings.CONNECT_CALL_DEADLINE_SECONDS)


class call_deadline:  # noqa: N801 (used as a function: `with call_deadline():`)
    """One deadline for everything inside the block (all hops, retries and body reads); nested blocks share it.
    A class rather than a generator: it is entered several times per call."""

    __slots__ = ("_token",)

    def __enter__(self) -> float:
        deadline = _deadline.get()
        if deadline is not None:
            self._token = None
            return deadline
        deadline = time.monotonic() + deadline_seconds()
        self._token = _deadline.set(deadline)
        return deadline

    def __exit__(self, *exc_info) -> None:
        if self._token is not None:
            _deadline.reset(self._token)


def time_left() -> float:
    deadline = _deadline.get()
    return deadline_seconds() if deadline is None else deadline - time.monotonic()


def deadline_error(url: str = "") -> UpstreamTimeout:
    where = f" for {url}" if url else ""
    return UpstreamTimeout(
        f"The API did not answer completely within {deadline_seconds():g} seconds{where} "
        "(the limit for one call, from connect to the last byte)."
    )


# How far past the deadline a read may block: the socket timeout is cut to the time left only when it would let a
# read go on longer than this (each cut is a system call; urllib3 sets it to the time left just before the reads).
DEADLINE_SLACK_SECONDS = 0.05


class _DeadlineReader(io.RawIOBase):
    """The response's socket stream: before every read the socket timeout is cut to the time left (within
    DEADLINE_SLACK_SECONDS), so a body or headers dripped slowly are cut at the deadline, not per read."""

    def __init__(self, sock, deadline: float):
        super().__init__()
        self.sock = sock
        self._raw = sock.makefile("rb", buffering=0)  # holds a reference, so the socket lives as long as we do
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the call deadline has passed")
        current = self.sock.gettimeout()
        if current is None or current > left + DEADLINE_SLACK_SECONDS:
            self.sock.settimeout(left)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineSocket:
    """Just enough of a socket for http.client.HTTPResponse, which only calls makefile("rb")."""

    def __init__(self, sock, deadline: float):
        self.sock, self._deadline = sock, deadline

    def makefile(self, mode="rb", *args, **kwargs):
        return io.BufferedReader(_DeadlineReader(self.sock, self._deadline))


class _DeadlineHTTPResponse(http.client.HTTPResponse):
    def __init__(self, sock, *args, **kwargs):
        deadline = _deadline.get()
        super().__init__(_DeadlineSocket(sock, deadline) if deadline is not None else sock, *args, **kwargs)


# --- connections to checked addresses ------------------------------------------------------------------------


class PinnedHTTPSConnection(HTTPSConnection):
    """Connects only to addresses the policy checked; `host` stays the name (SNI, Host, certificate check).

    The check is made for each new connection, here, so nothing can open one without it; errors of the policy
    (AddressRefused, DNSFailure, InvalidURL) are not OSErrors, so urllib3 and requests pass them on unchanged.
    """

    response_class = _DeadlineHTTPResponse

    def __init__(self, *args, checked_under: tuple[str, ...] = (), outbound_proxy=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.checked_under = checked_under  # the allow-list it was checked under (in the pool key)
        self.outbound_proxy = outbound_proxy  # a proxy_tunnel.Proxy, or None (in the pool key)

    # A reused connection's spent timeout (cut by the last answer's reads) is set again by urllib3's own request()
    # and getresponse(), to this request's timeouts, which never exceed the time left.

    def _new_conn(self) -> socket.socket:
        addresses = address_policy.checked_addresses(self._dns_host, self.port)
        if self.outbound_proxy is not None:  # checked first: a refused address is never asked of the proxy
            sock = proxy_tunnel.open_tunnel(
                self.outbound_proxy,
                host=self.host,
                addresses=addresses,
                port=self.port,
                timeout=self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        last_error: OSError | None = None
        for address in addresses:
            try:
                sock = urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
            except OSError as exc:
                last_error = exc
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        reason = last_error.strerror if last_error is not None and last_error.strerror else "no checked address"
        raise NewConnectionError(self, f"Failed to establish a new connection: {reason}")


class PinnedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = PinnedHTTPSConnection


PinnedPoolKey = collections.namedtuple("PinnedPoolKey", PoolKey._fields + ("key_checked_under", "key_outbound_proxy"))


@functools.lru_cache(maxsize=4)
def _tls_context_for(ca_bundle: str) -> ssl.SSLContext:
    if not ca_bundle:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError):
        raise TLSFailure("The CA bundle set in CONNECT_CA_BUNDLE cannot be read: ask the operator to fix it.") from None


def tls_context() -> ssl.SSLContext:
    """The one verification context: CONNECT_CA_BUNDLE when set, else the operating system's trust store."""
    return _tls_context_for(settings.CONNECT_CA_BUNDLE or "")


@dataclass(frozen=True)
class OutboundRoute:
    """How one datasource's calls (and its token requests) reach the network: its own proxy (else the operator's
    CONNECT_OUTBOUND_PROXY, read at each new connection, unless CONNECT_OUTBOUND_PROXY_EXCEPTIONS lists the host)
    and its client certificate."""

    proxy: proxy_tunnel.Proxy | None = None
    client_certificate: client_tls.ClientCertificate | None = None

    def proxy_for(self, host: str) -> proxy_tunnel.Proxy | None:
        return self.proxy or proxy_tunnel.operator_proxy_for(host)


DIRECT = OutboundRoute()


class PinnedHTTPSAdapter(HTTPAdapter):
    """An HTTPAdapter for https:// only, whose connections are made to addresses the policy checked (through the
    route's proxy, if any, with its client certificate, if any)."""

    def __init__(self, route: OutboundRoute = DIRECT):
        self.route = route
        self._client_contexts: dict[str, ssl.SSLContext] = {}
        super().__init__(pool_connections=8, pool_maxsize=POOL_MAXSIZE, max_retries=0)

    def _tls_context(self) -> ssl.SSLContext:
        """tls_context(), or with the route's client certificate loaded (once per CA bundle setting)."""
        base = tls_context()
        certificate = self.route.client_certificate
        if certificate is None:
            return base
        ca_bundle = settings.CONNECT_CA_BUNDLE or ""
        context = self._client_contexts.get(ca_bundle)
        if context is None:
            context = self._client_contexts[ca_bundle] = client_tls.context_with_certificate(
                base, ca_bundle, certificate
            )
        return context

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"https": PinnedHTTPSConnectionPool}
        self.poolmanager.key_fn_by_scheme = {"https": functools.partial(_default_key_normalizer, PinnedPoolKey)}

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        url = call_url.check_absolute_url(request.url)
        with call_deadline():
            if time_left() <= 0:
                raise deadline_error(url)
            return super().send(request, stream=stream, timeout=_bounded(timeout), verify=True, cert=None, proxies={})

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host, port = _host_and_port(request.url)
        pool_kwargs = {
            "ssl_context": self._tls_context(),
            "cert_reqs": "CERT_REQUIRED",
            "checked_under": address_policy.policy_key(),
            "outbound_proxy": self.route.proxy_for(host),
        }
        try:
            return self.poolmanager.connection_from_host(host, port=port, scheme="https", pool_kwargs=pool_kwargs)
        except LocationParseError:
            # A host urllib3 cannot connect to (an IPv6 zone id): nothing is sent; the policy says why when it can.
            address_policy.checked_addresses(host, port)
            raise InvalidURL(f"The host name of {request.url} is not valid.") from None

    def cert_verify(self, conn, url, verify, cert):
        # Always verify, with tls_context() only: never requests' certifi bundle or a caller's verify=False.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        # requests' own proxies (forwarding, or a tunnel to a name the proxy resolves) are never used: the route's
        # proxy is a tunnel to a checked address, opened by PinnedHTTPSConnection.
        raise InvalidURL("Outbound calls never use requests' proxies.")


class RefusePlainHTTPAdapter(BaseAdapter):
    """Mounted on http://: Connect never sends a request in clear text."""

    def send(self, request, *args, **kwargs):
        raise InvalidURL(f"Refused {request.url} — only https:// URLs are called.")

    def close(self):
        pass


def _host_and_port(url: str) -> tuple[str, int]:
    parsed = parse_url(url)
    if not parsed.host:
        raise InvalidURL("The URL has no host name.")
    return parsed.host.strip("[]").lower(), parsed.port or call_url.DEFAULT_PORT


def _bounded(timeout) -> tuple[float, float]:
    """(connect, read) timeouts, neither beyond the time left in the call."""
    if isinstance(timeout, tuple) and len(timeout) == 2:
        connect, read = timeout
    elif isinstance(timeout, (int, float)):
        connect = read = timeout
    else:
        connect = read = None
    left = max(time_left(), 0.001)
    return tuple(
        min(value, left) if isinstance(value, (int, float)) and value > 0 else left for value in (connect, read)
    )


# --- sessions -----------------------------------------------------------------------------------------------


def refuse_redirects(response, *args, **kwargs):
    """Response hook for requests sent through requests' own Session.request (the OAuth token requests of
    requests-oauthlib): a token endpoint's redirect is never followed, so a client secret, code or refresh token
    in the request body never moves to another URL. API calls do not use this path: the client sends each request
    itself and follows redirects under its own rules (client.py)."""
    if response.is_redirect:
        response.close()
        raise RedirectRefused(
            f"The token endpoint answered with a redirect (HTTP {response.status_code}): "
            "token requests are never redirected. Check the token URL."
        )
    return response


def configure_outbound_session(session: requests.Session, route: OutboundRoute = DIRECT) -> requests.Session:
    """Make any requests.Session (also an OAuth2Session) safe for outbound calls; returns the same session.

    https only through the policy-checking pinned adapter (with the datasource's route: its proxy and client
    certificate), http:// refused, trust_env off (no REQUESTS_CA_BUNDLE, proxies or .netrc from the environment),
    none of requests' own proxies, and no redirect followed by requests itself.
    """
    session.trust_env = False
    session.proxies = {}
    session.verify = settings.CONNECT_CA_BUNDLE or True  # informational: the adapter verifies with tls_context()
    for adapter in session.adapters.values():
        adapter.close()
    session.adapters.clear()
    session.mount("https://", PinnedHTTPSAdapter(route))
    session.mount("http://", RefusePlainHTTPAdapter())
    hooks = session.hooks.setdefault("response", [])
    if refuse_redirects not in hooks:
        hooks.append(refuse_redirects)
    redaction.install_log_filter()
    return session
