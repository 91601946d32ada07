"""Outbound address policy (SSRF): which addresses Connect may connect to, checked before every connection.

For each new connection the host is resolved once, every address it resolves to is checked, and the connection is
then made to a checked address (see transport.py), so a second DNS answer cannot slip in. Cloud metadata addresses
are always refused; non-public ranges are refused unless the operator lists the host or network in
CONNECT_ALLOWED_PRIVATE_NETWORKS.
"""

import functools
import ipaddress
import re
import socket

from django.conf import settings

from .errors import AddressRefused, DNSFailure, InvalidURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Never allowed, whatever the settings say.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, OpenStack...
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)

# (network, what it is): the first match names the reason in the error message.
_REFUSED = [
    (ipaddress.ip_network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", 'an unspecified ("this network")'),
        ("10.0.0.0/8", "a private"),
        ("100.64.0.0/10", "a carrier-grade NAT (shared)"),
        ("127.0.0.0/8", "a loopback"),
        ("169.254.0.0/16", "a link-local"),
        ("172.16.0.0/12", "a private"),
        ("192.0.0.0/24", "a reserved (IETF protocol)"),
        ("192.0.2.0/24", "a documentation"),
        ("192.88.99.0/24", "a reserved (6to4 relay)"),
        ("192.168.0.0/16", "a private"),
        ("198.18.0.0/15", "a reserved (benchmarking)"),
        ("198.51.100.0/24", "a documentation"),
        ("203.0.113.0/24", "a documentation"),
        ("224.0.0.0/4", "a multicast"),
        ("240.0.0.0/4", "a reserved"),
        ("::/128", "an unspecified"),
        ("::1/128", "a loopback"),
        ("64:ff9b:1::/48", "a local NAT64"),
        ("100::/64", "a reserved (discard)"),
        ("2001::/32", "a Teredo tunnel"),
        ("2001::/23", "a reserved (IETF protocol)"),
        ("2001:db8::/32", "a documentation"),
        ("2002::/16", "a 6to4 tunnel"),
        ("3fff::/20", "a documentation"),
        ("5f00::/16", "a reserved (segment routing)"),
        ("fc00::/7", "a private (unique local)"),
        ("fe80::/10", "a link-local"),
        ("fec0::/10", "a site-local"),
        ("ff00::/8", "a multicast"),
    )
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)


def resolve_host(host: str, port: int) -> list[str]:
    """Every address the host name resolves to, in the resolver's order. Tests replace this to stub DNS."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def checked_addresses(host: str, port: int, *, trusted: bool = False) -> tuple[str, ...]:
    """The addresses to connect to for host:port, all of them checked; raises AddressRefused or DNSFailure.

    Order: IPv4 first, then IPv6, each sorted, so that equal answers give equal connection pools. `trusted` (the
    operator's own outbound proxy) skips the non-public check; cloud metadata addresses are refused all the same.
    """
    host = normalise_host(host)
    literal = ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        addresses = [_parse_answer(host, a) for a in _resolve(host, port)]
    for address in addresses:
        if trusted:
            check_not_metadata(address, host=host)
        else:
            check_address(address, host=host)
    if literal is not None and literal.version == 4 and str(literal) != host:
        raise InvalidURL(f"Write the IP address “{host}” in the usual form, {literal}.")
    return tuple(str(a) for a in sorted(set(addresses), key=lambda a: (a.version, int(a))))


def normalise_host(host: str) -> str:
    return (host or "").strip().strip("[]").lower()


def ip_literal(host: str) -> IPAddress | None:
    """The address a host written as an IP literal stands for, including the forms C libraries accept.

    0177.1, 0x7f000001, 2130706433 and 127.1 all mean 127.0.0.1 to inet_aton(); a host whose last label is
    numeric is an IPv4 address (WHATWG URL), never a name to resolve.
    """
    host = normalise_host(host)
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _NUMERIC_LABEL.match(host.rstrip(".").rsplit(".", 1)[-1]):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
    except OSError:
        raise InvalidURL(f"“{host}” is neither a host name nor a valid IP address.") from None


def _resolve(host: str, port: int) -> list[str]:
    try:
        answers = resolve_host(host, port)  # the module global, looked up at call time (tests stub it)
    except (OSError, UnicodeError):
        answers = []
    if not answers:
        raise DNSFailure(
            f"The host name “{host}” could not be resolved (DNS lookup failed). "
            "Check the spelling of the URL and that the host exists."
        )
    return answers


def _parse_answer(host: str, answer: str) -> IPAddress:
    try:
        return ipaddress.ip_address(answer.split("%", 1)[0])
    except ValueError:
        raise DNSFailure(f"The DNS answer for “{host}” is not an IP address.") from None


def check_address(address: IPAddress, *, host: str) -> None:
    """Raises AddressRefused unless Connect may connect to `address` (which `host` resolved to)."""
    check_not_metadata(address, host=host)
    embedded = embedded_ipv4(address)
    shown = _shown(host, address, embedded)
    reason = refusal_reason(address)
    if reason is None or _allowed(host, address, embedded):
        return
    raise AddressRefused(
        f"Refused {shown}: {reason} address. Connect only calls public addresses unless the operator allows "
        f"this host or network in CONNECT_ALLOWED_PRIVATE_NETWORKS."
    )


def check_not_metadata(address: IPAddress, *, host: str) -> None:
    embedded = embedded_ipv4(address)
    if address in METADATA_ADDRESSES or embedded in METADATA_ADDRESSES:
        raise AddressRefused(
            f"Refused {_shown(host, address, embedded)}: a cloud metadata address, which Connect never calls."
        )


def refusal_reason(address: IPAddress) -> str | None:
    """Why `address` is not public ("a loopback", ...), or None when it is a public address."""
    embedded = embedded_ipv4(address)
    if embedded is not None:
        inner = refusal_reason(embedded)
        return f"an IPv6 form of {inner}" if inner else None
    for network, reason in _REFUSED:
        if address.version == network.version and address in network:
            return reason
    if address.version == 6 and address not in ipaddress.ip_network("2000::/3"):
        return "a reserved"
    return None if address.is_global else "a non-public"


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, -translated, -compatible or NAT64 IPv6 address."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    for network in (_IPV4_TRANSLATED, _NAT64, _IPV4_COMPATIBLE):
        if address in network and int(address) & 0xFFFFFFFF and not (network is _IPV4_COMPATIBLE and int(address) == 1):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _allowed(host: str, address: IPAddress, embedded: ipaddress.IPv4Address | None) -> bool:
    hosts, networks = allowed_private_networks()
    if host in hosts:
        return True
    candidates = [a for a in (address, embedded) if a is not None]
    return any(a.version == n.version and a in n for a in candidates for n in networks)


def policy_key() -> tuple[str, ...]:
    """The operator's allow-list as it stands: connections checked under one key are only reused under it."""
    return tuple(str(entry) for entry in settings.CONNECT_ALLOWED_PRIVATE_NETWORKS or ())


def allowed_private_networks() -> tuple[frozenset[str], tuple]:
    """CONNECT_ALLOWED_PRIVATE_NETWORKS split into host names and networks (a bare IP is a /32 or /128)."""
    return _parsed_allow_list(policy_key())


@functools.lru_cache(maxsize=8)
def _parsed_allow_list(entries: tuple[str, ...]) -> tuple[frozenset[str], tuple]:
    hosts, networks = set(), []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.add(normalise_host(entry).rstrip("."))
    return frozenset(hosts | {h + "." for h in hosts}), tuple(networks)


def _shown(host: str, address: IPAddress, embedded) -> str:
    shown = str(address) if host == str(address) else f"{host} ({address})"
    return shown + (f" = {embedded}" if embedded is not None else "")
