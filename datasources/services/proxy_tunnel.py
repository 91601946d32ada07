"""Reaching an API through an outbound HTTP proxy (SPEC 12): a CONNECT tunnel to an address Connect checked itself.

The connection (transport.PinnedHTTPSConnection) resolves the API's host and checks every address with the address
policy first, so a refused address is refused before the proxy is asked anything; then it asks the proxy to
CONNECT to that checked IP address and port (never to the name, which the proxy could resolve to anything), and
speaks TLS to the API inside the tunnel with the API's host name (SNI, certificate check). A proxy therefore cannot
be used to reach what the policy refuses, and never sees the API's traffic in clear.

The proxy's own address: the operator's CONNECT_OUTBOUND_PROXY is trusted (the operator chose it; only cloud
metadata addresses are refused); a datasource's own proxy is checked by the address policy like any outbound
address (a private proxy needs the operator's CONNECT_ALLOWED_PRIVATE_NETWORKS).

Failures are ProxyFailure, whose message names the proxy as http://host:port, never its credentials.
"""

import base64
import functools
import http.client
import ipaddress
import socket
from dataclasses import dataclass

from django.conf import settings
from urllib3.util import connection as urllib3_connection

from .. import url_rules
from . import address_policy
from .errors import DatasourceError, ProxyFailure

MAX_HEAD_BYTES = 16 * 1024
# The proxy answered, but could not reach the address: the next checked address may do better.
UNREACHABLE_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class Proxy:
    """A proxy calls go through: hashable (it is part of the connection pool's key) and never shown with its
    credentials (`address.shown`)."""

    address: url_rules.ProxyAddress
    operator: bool  # the operator's CONNECT_OUTBOUND_PROXY (its address is trusted)

    @property
    def shown(self) -> str:
        return self.address.shown

    @property
    def authorization(self) -> str | None:
        if not self.address.username and not self.address.password:
            return None
        pair = f"{self.address.username}:{self.address.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


def operator_proxy_for(host: str) -> Proxy | None:
    """The operator's proxy for calls to `host`, unless CONNECT_OUTBOUND_PROXY_EXCEPTIONS lists it."""
    configured = settings.CONNECT_OUTBOUND_PROXY
    if not configured:
        return None
    if is_excepted(host, tuple(settings.CONNECT_OUTBOUND_PROXY_EXCEPTIONS or ())):
        return None
    return _operator_proxy(configured)


@functools.lru_cache(maxsize=4)
def _operator_proxy(url: str) -> Proxy:
    return Proxy(url_rules.check_proxy_url(url, password_allowed=True), operator=True)


@functools.lru_cache(maxsize=256)
def is_excepted(host: str, exceptions: tuple[str, ...]) -> bool:
    """True when `host` is reached directly: it is listed, under a listed .domain (or *.domain), or an IP address in
    a listed address or network."""
    host = address_policy.normalise_host(host).rstrip(".")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    for entry in exceptions:
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        if literal is not None:
            try:
                if literal in ipaddress.ip_network(entry.strip("[]"), strict=False):
                    return True
            except ValueError:
                pass
            continue
        domain = entry.removeprefix("*").removeprefix(".")
        if host == domain or (entry.startswith((".", "*.")) and host.endswith("." + domain)):
            return True
    return False


def open_tunnel(proxy: Proxy, *, host: str, addresses: tuple[str, ...], port: int, timeout, **socket_kwargs):
    """A socket to the API's checked address `addresses[i]`:`port` through the proxy, ready for TLS; raises
    ProxyFailure. `host` is the API's name, for messages only."""
    failure: ProxyFailure | None = None
    for address in addresses:
        try:
            return _tunnel_once(proxy, host=host, address=address, port=port, timeout=timeout, **socket_kwargs)
        except ProxyFailure as exc:
            if exc.status_code not in UNREACHABLE_STATUSES:
                raise
            failure = exc
    raise failure or ProxyFailure(f"The proxy {proxy.shown} was not asked: {host} has no checked address.")


def _tunnel_once(proxy: Proxy, *, host: str, address: str, port: int, timeout, **socket_kwargs) -> socket.socket:
    sock = _connect_to_proxy(proxy, timeout, **socket_kwargs)
    try:
        target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}", "User-Agent: Connect/0.1"]
        if proxy.authorization:
            lines.append(f"Proxy-Authorization: {proxy.authorization}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        status, reason = _read_answer(sock, proxy)
    except DatasourceError:
        sock.close()
        raise
    except TimeoutError:
        sock.close()
        raise ProxyFailure(f"The proxy {proxy.shown} did not answer the tunnel request to {host} in time.") from None
    except OSError as exc:
        sock.close()
        raise ProxyFailure(
            f"The connection to the proxy {proxy.shown} broke during the tunnel request to {host} "
            f"({(exc.strerror or type(exc).__name__).lower()})."
        ) from None
    if status == 200:
        return sock
    sock.close()
    if status == 407:
        what = "refused Connect's proxy credentials" if proxy.authorization else "asks for credentials"
        raise ProxyFailure(
            f"The proxy {proxy.shown} {what} (HTTP 407 Proxy Authentication Required): check the proxy user name "
            "and password.",
            status_code=407,
        )
    raise ProxyFailure(
        f"The proxy {proxy.shown} refused the tunnel to {host} ({target}): HTTP {status}"
        f"{' ' + reason if reason else ''}.",
        status_code=status,
    )


def _connect_to_proxy(proxy: Proxy, timeout, **socket_kwargs) -> socket.socket:
    where = proxy.address
    addresses = address_policy.checked_addresses(where.host, where.port, trusted=proxy.operator)
    last_error: OSError | None = None
    for address in addresses:
        try:
            return urllib3_connection.create_connection((address, where.port), timeout, **socket_kwargs)
        except TimeoutError:
            raise ProxyFailure(f"Could not connect to the proxy {proxy.shown} in time.") from None
        except OSError as exc:
            last_error = exc
    reason = last_error.strerror if last_error is not None and last_error.strerror else "connection failed"
    raise ProxyFailure(f"Could not connect to the proxy {proxy.shown} — {reason.lower()}.")


def _read_answer(sock: socket.socket, proxy: Proxy) -> tuple[int, str]:
    """The status and reason of the proxy's answer to CONNECT; its head is read to the blank line, no further (the
    TLS handshake follows on the same socket)."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
        if len(head) > MAX_HEAD_BYTES:
            break
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if b"\r\n\r\n" not in head or len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProxyFailure(
            f"The proxy {proxy.shown} did not answer the tunnel request with HTTP: check that it is an HTTP proxy."
        )
    status = int(parts[1])
    return status, (parts[2].strip() if len(parts) > 2 else "") or http.client.responses.get(status, "")
