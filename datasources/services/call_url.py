"""The URLs of outbound calls: a base URL plus a path and query string that can never change scheme, host or port.

Every URL is checked twice: the pieces are refused when they could mean something else (//host, absolute URLs,
backslashes, user@, dot segments, also when percent-encoded), and the finished URL, parsed the way requests
will send it, must have the base URL's scheme, host and port, and a path under the base path.
"""
import functools
import re
from urllib.parse import SplitResult, quote, unquote, unquote_plus, urljoin, urlsplit, urlunsplit

import requests

from . import redaction
from .errors import InvalidURL, RedirectRefused

_SCHEME_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DEFAULT_PORT = 443


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL: what "same host" means for redirects and credentials."""
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise InvalidURL(f"The URL {_shown(url)} has an invalid port.") from None
    return parts.scheme.lower(), (parts.hostname or "").lower().rstrip("."), port


def check_absolute_url(url: str, *, what: str = "The URL") -> str:
    """An absolute https:// URL with a host, no user:password@, no fragment, no spaces or control characters."""
    if not isinstance(url, str) or not url:
        raise InvalidURL(f"{what} is empty.")
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        scheme = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise InvalidURL(f"{what} {_shown(url)} is not allowed: only https:// URLs are called (got {scheme}).")
    if _CONTROL.search(url) or " " in url or "\\" in url:
        raise InvalidURL(f"{what} {_shown(url)} contains spaces, backslashes or control characters.")
    if "@" in parts.netloc:
        raise InvalidURL(f"{what} contains a user name or password (user@host): use the authentication settings.")
    if not parts.hostname:
        raise InvalidURL(f"{what} {_shown(url)} has no host name.")
    if parts.fragment or "#" in url:
        raise InvalidURL(f"{what} {_shown(url)} has a #fragment, which is never sent to a server.")
    origin(url)
    return url


def build_call_url(base_url: str, path_and_query: str = "") -> str:
    """base_url + path_and_query, where path_and_query may only add a path below the base path and a query."""
    return _built(base_url, path_and_query or "")


@functools.lru_cache(maxsize=1024)
def _built(base_url: str, path_and_query: str) -> str:
    """A pure function of its two texts, so each pair is checked and built once per process (a refusal raises and
    is not cached). No stored secret is kept here: the API key query parameter is added later, by the client."""
    base_as_sent = _checked_base(base_url)
    _refuse_tricks(path_and_query)
    extra_path, _, extra_query = path_and_query.partition("?")
    base = urlsplit(base_url)
    path = base.path or "/"
    if extra_path:
        path = base.path.rstrip("/") + "/" + extra_path.lstrip("/")
    query = "&".join(q for q in (base.query, extra_query) if q)
    url = urlunsplit((base.scheme, base.netloc, path, query, ""))
    _check_stays_under(url, base_as_sent)
    return url


@functools.lru_cache(maxsize=512)
def _checked_base(base_url: str) -> SplitResult:
    """The base URL checked and as sent, once per base URL and process (a refusal is not cached)."""
    check_absolute_url(base_url, what="The datasource's base URL")
    return urlsplit(_as_sent(base_url))


def _refuse_tricks(path_and_query: str) -> None:
    if _CONTROL.search(path_and_query) or "\\" in path_and_query:
        raise InvalidURL(f"The query {_shown(path_and_query)} contains backslashes or control characters.")
    if "#" in path_and_query:
        raise InvalidURL(f"The query {_shown(path_and_query)} has a #fragment, which is never sent to a server.")
    if path_and_query.startswith("//") or _SCHEME_PREFIX.match(path_and_query):
        raise InvalidURL(f"The query {_shown(path_and_query)} looks like another address: a query can only add "
                         "a path and a query string to the base URL (start it with / or ?).")
    path = path_and_query.partition("?")[0]
    decoded = _fully_decoded(path)
    if "@" in decoded:
        raise InvalidURL(f"The path {_shown(path)} contains “@”, which could name another host.")
    if any(segment in (".", "..") for segment in re.split(r"[/\\]", decoded)):
        raise InvalidURL(f"The path {_shown(path)} contains “.” or “..” segments: it must stay under the base URL.")
    if _CONTROL.search(decoded) or "\\" in decoded:
        raise InvalidURL(f"The path {_shown(path)} contains encoded backslashes or control characters.")


def _fully_decoded(text: str) -> str:
    """Percent-decoded until stable (at most a few rounds): %252e%252e is a dot segment too."""
    for _ in range(4):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def _check_stays_under(url: str, base: SplitResult) -> None:
    """The URL as requests will send it has the base URL's origin and a path under the base path."""
    sent = urlsplit(_as_sent(url))
    if origin(sent.geturl()) != origin(base.geturl()):
        raise InvalidURL(f"The query would change the scheme, host or port of the base URL ({_shown(url)}).")
    base_path = base.path.rstrip("/")
    if base_path and not (sent.path == base_path or sent.path.startswith(base_path + "/")):
        raise InvalidURL(f"The path {_shown(sent.path)} is not under the base URL's path {base_path}.")


def _as_sent(url: str) -> str:
    """The URL exactly as requests will put it on the wire (IDNA host, requoted path and query)."""
    prepared = requests.PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except (requests.RequestException, ValueError):
        raise InvalidURL(f"The URL {_shown(url)} is not valid.") from None
    return prepared.url


def redirect_target(current_url: str, location: str) -> str:
    """The absolute URL a redirect points to; RedirectRefused unless it is a plain https:// URL."""
    if not location:
        raise RedirectRefused("The API answered with a redirect without a Location.")
    target = urljoin(current_url, location.strip())
    try:
        return check_absolute_url(target, what="The redirect to")
    except InvalidURL as exc:
        raise RedirectRefused(f"Redirect refused: {exc.message}") from None


def with_query_param(url: str, name: str, value: str) -> str:
    """The URL with the query parameter `name` set to `value` (replacing any earlier value)."""
    parts = urlsplit(without_query_param(url, name))
    pair = f"{quote(name, safe='')}={quote(value, safe='')}"
    query = "&".join(p for p in (parts.query, pair) if p)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def without_query_param(url: str, name: str) -> str:
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and unquote_plus(p.split("=", 1)[0]) != name]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment))


def _shown(text: str, limit: int = 200) -> str:
    """A redacted, shortened copy of a URL or query for a message."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], redaction.current().text(str(text)))
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"“{text}”"
