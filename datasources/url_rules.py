"""What a URL may be, in one place: the absolute https:// URLs a datasource is configured with (base, documentation,
test, token and authorization URLs), a path and query string added to the base URL (a test path, an item query),
and what "the same origin" means. Pure functions: the validators, the item model and the outbound client all call
these, so a URL accepted at save is a URL the client will call.

A rule never quotes the URL it refuses (it may hold a secret): callers add the context they can show.
"""

import functools
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

SCHEME_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DEFAULT_PORT = 443
# How many rounds of percent-decoding are undone to find a hidden "..", "@" or "\" (%252e%252e is a dot segment).
DECODE_ROUNDS = 4

_well_formed = URLValidator(schemes=["https"])


class URLRuleError(ValueError):
    """A URL (or a part of one) that Connect refuses; `code` names the rule, `message` is for people."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL: what "the same host" means for redirects, credentials and stored secrets.

    The host is lower-cased without a trailing dot (api.example.com. is api.example.com); the port defaults to 443.
    """
    parts = urlsplit(url or "")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise URLRuleError("The port must be a number from 1 to 65535.", "bad_port") from None
    return parts.scheme.lower(), (parts.hostname or "").lower().rstrip("."), port


def is_absolute(url: str) -> bool:
    """True for what is meant as a URL of its own (https://..., http:...); anything else is a path and query string
    (where a scheme-like start such as javascript: is refused by check_path_and_query)."""
    url = (url or "").strip()
    return "://" in url or url.lower().startswith(("http:", "https:"))


@functools.lru_cache(maxsize=1024)
def check_https_url(url: str) -> str:
    """An absolute https:// URL with a host, no user:password@, no fragment, no spaces, backslashes or control
    characters, and a port from 1 to 65535. Returns the URL; raises URLRuleError.

    A pure function of its text, so each URL is checked once per process (a refusal raises and is not cached).
    """
    if not isinstance(url, str) or not url:
        raise URLRuleError("Enter a URL.", "empty")
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        scheme = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise URLRuleError(f"Only https:// URLs are accepted (got {scheme}).", "https_only")
    if "@" in parts.netloc:
        raise URLRuleError(
            "Do not put a user name or password in the URL: use the authentication section.", "credentials_in_url"
        )
    if not parts.hostname:
        raise URLRuleError("The URL needs a host name, as in https://api.example.com.", "no_host")
    if parts.fragment or "#" in url:
        raise URLRuleError("Remove the #fragment: it is never sent to a server.", "fragment")
    if CONTROL.search(url) or " " in url or "\\" in url:
        raise URLRuleError("The URL contains spaces, backslashes or control characters.", "bad_chars")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise URLRuleError("The port must be a number from 1 to 65535.", "bad_port")
    return url


def check_well_formed(url: str) -> str:
    """A URL being saved is also well formed as Django's URLValidator reads it (a host name of valid labels, an IP
    address in its usual form). Only at save: at call time the address policy and DNS judge the host, with
    messages that say why (an IP address written as 0177.1 is refused there as a loopback address)."""
    try:
        _well_formed(url)
    except ValidationError:
        raise URLRuleError("Enter a valid https:// URL.", "malformed") from None
    return url


def check_path_and_query(path_and_query: str) -> str:
    """A path and query string that can only add to a base URL: it starts with / or ? (or is a plain path), names no
    other host and has no dot segments, "@" or backslashes in its path, also when percent-encoded. "@" is allowed in
    the query string (?user=me@example.com), where it cannot change the host. Returns it; raises URLRuleError."""
    text = path_and_query or ""
    if CONTROL.search(text) or "\\" in text:
        raise URLRuleError(
            "Backslashes and control characters (such as line breaks) are not allowed in a path or query.", "bad_chars"
        )
    if "#" in text:
        raise URLRuleError("Remove the #fragment: it is never sent to a server.", "fragment")
    if text.startswith("//") or SCHEME_PREFIX.match(text):
        raise URLRuleError(
            "This names another address (“//” at the start, or a scheme such as https: or "
            "javascript:): enter a path and query string such as /search?q=1, not a full URL. "
            "The host always comes from the base URL.",
            "another_address",
        )
    path = fully_decoded(text.partition("?")[0])
    if CONTROL.search(path) or "\\" in path:
        raise URLRuleError("The path contains percent-encoded backslashes or control characters.", "bad_chars")
    if "@" in path:
        raise URLRuleError(
            "“@” is not allowed in the path: it could name another host. (In the query string it "
            "is allowed, e.g. ?user=me@example.com.)",
            "at_in_path",
        )
    if has_dot_segment(path):
        raise URLRuleError(
            "Remove the “.” and “..” path segments (also percent-encoded ones such as %2e%2e or "
            "..%2f): the path must stay under the base URL.",
            "dot_segments",
        )
    return path_and_query


def has_dot_segment(path: str) -> bool:
    """True when a path, percent-decoded until stable, has a "." or ".." segment (split on / and \\)."""
    return any(segment in (".", "..") for segment in re.split(r"[/\\]", fully_decoded(path)))


def fully_decoded(text: str) -> str:
    """Percent-decoded until stable (at most DECODE_ROUNDS rounds): %252e%252e is a dot segment too."""
    for _ in range(DECODE_ROUNDS):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


# --- outbound proxies (SPEC 12) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProxyAddress:
    """Where a proxy listens and who Connect is to it; `shown` never holds the password."""

    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)

    @property
    def shown(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@functools.lru_cache(maxsize=256)
def check_proxy_url(url: str, *, password_allowed: bool) -> ProxyAddress:
    """An outbound proxy: http://[user[:password]@]host[:port] (port 80 when left out), nothing else. Connect asks it
    for a CONNECT tunnel and speaks TLS to the API inside it, so the proxy never sees the API's traffic in clear; an
    https:// proxy (TLS to the proxy itself) is not supported. A datasource's proxy URL may name a user, never a
    password (`password_allowed` is for the operator's CONNECT_OUTBOUND_PROXY). Raises URLRuleError. A pure function
    of its text, so each URL is checked once per process (a refusal raises and is not cached)."""
    text = (url or "").strip()
    if CONTROL.search(text) or " " in text or "\\" in text:
        raise URLRuleError("The proxy URL contains spaces, backslashes or control characters.", "bad_chars")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "https":
        raise URLRuleError(
            "Use the proxy's http:// address: Connect opens a CONNECT tunnel through it and the API's traffic stays "
            "TLS from end to end inside the tunnel (https:// proxies are not supported).",
            "https_proxy",
        )
    if scheme != "http" or not parts.netloc:
        got = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise URLRuleError(f"A proxy URL is http://host:port (got {got}).", "proxy_scheme")
    if parts.path not in ("", "/") or parts.query or "?" in text:
        raise URLRuleError("Remove the path: a proxy URL is only http://host:port.", "proxy_path")
    if parts.fragment or "#" in text:
        raise URLRuleError("Remove the #fragment: a proxy URL is only http://host:port.", "fragment")
    if not parts.hostname:
        raise URLRuleError("The proxy URL needs a host name, as in http://proxy.example.com:3128.", "no_host")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise URLRuleError("The port must be a number from 1 to 65535.", "bad_port")
    if parts.password is not None and not password_allowed:
        raise URLRuleError(
            "Do not put the proxy password in the URL: enter it in the proxy password field, where it is kept "
            "encrypted and never shown.",
            "credentials_in_url",
        )
    return ProxyAddress(
        host=parts.hostname.lower().rstrip("."),
        port=port or 80,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


_USERINFO_PASSWORD = re.compile(r"^(?P<start>[A-Za-z][A-Za-z0-9+.-]*://[^/@:?#]*):[^/@?#]*@")


def without_password(url: str) -> str:
    """The URL with the password of its user:password@ removed (user@ kept), to show a refused URL back."""
    return _USERINFO_PASSWORD.sub(lambda match: match["start"] + "@", url or "")
