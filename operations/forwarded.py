"""The client's address behind the trusted proxy. With CONNECT_BEHIND_TLS_PROXY, a request that came from an address
gunicorn trusts (FORWARDED_ALLOW_IPS: gunicorn's own setting, read with gunicorn's default) has REMOTE_ADDR set to
the client that proxy forwarded in X-Forwarded-For. Everything after it sees the client, not the proxy: gunicorn's
access log (it reads the same WSGI environ after the answer), Connect's log lines, sign-in protection.

X-Forwarded-For is read from the right: each trusted proxy appends the address it saw, so the first address from the
right that is not a trusted proxy is the client; what a client wrote into the header itself stays on the left.
"""

import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed


class TrustedProxies:
    """FORWARDED_ALLOW_IPS as gunicorn reads it: addresses or CIDR networks, or "*" for any address."""

    def __init__(self, allowed: list[str]):
        entries = [entry.strip() for entry in allowed if entry.strip()]
        self.any = "*" in entries
        try:
            self.networks = [ipaddress.ip_network(entry, strict=False) for entry in entries if entry != "*"]
        except ValueError as exc:
            raise ImproperlyConfigured(f"FORWARDED_ALLOW_IPS: {exc} (addresses or CIDR networks, or *).") from None

    def trust(self, address: str) -> bool:
        if not address:  # a UNIX socket: only the local proxy can connect (gunicorn treats it as allowed too)
            return True
        parsed = _address(address)
        return parsed is not None and (self.any or any(parsed in network for network in self.networks))


def client_address(peer: str, forwarded_for: str, trusted: TrustedProxies) -> str:
    """The client behind `peer`: from X-Forwarded-For when `peer` is a trusted proxy, else `peer` itself."""
    if not forwarded_for or not trusted.trust(peer):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    client = peer
    for hop in reversed(hops):
        if _address(hop) is None:
            break  # not an address: nothing to its left can be believed
        client = hop
        if not trusted.trust(hop):
            break
    return client


def _address(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class ForwardedClientMiddleware:
    """First in MIDDLEWARE: sets REMOTE_ADDR to the forwarded client (see the module docstring)."""

    def __init__(self, get_response):
        if not settings.CONNECT_BEHIND_TLS_PROXY:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.trusted = TrustedProxies(settings.CONNECT_FORWARDED_ALLOW_IPS)

    def __call__(self, request):
        meta = request.META
        forwarded_for = meta.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded_for:
            meta["REMOTE_ADDR"] = client_address(meta.get("REMOTE_ADDR", ""), forwarded_for, self.trusted)
        return self.get_response(request)
