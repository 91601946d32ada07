"""The URLs of outbound calls, built at call time: the base URL plus a path and query string, and redirect targets.

The rules are url_rules.py's (the same ones forms and models apply at save). What must run here, at call time:
the evaluated query (variables replaced) is checked like any path and query, and the finished URL, as requests will
put it on the wire, must keep the base URL's scheme, host and port and a path under the base path.
"""

import functools
import re
from urllib.parse import SplitResult, quote, unquote_plus, urljoin, urlsplit, urlunsplit

import requests

from .. import url_rules
from . import redaction
from .errors import InvalidURL, NextPageRefused, RedirectRefused

DEFAULT_PORT = url_rules.DEFAULT_PORT
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL (url_rules.origin); InvalidURL for an invalid port."""
    try:
        return url_rules.origin(url)
    except url_rules.URLRuleError as exc:
        raise InvalidURL(f"{exc.message} ({_shown(url)})") from None


def check_absolute_url(url: str, *, what: str = "The URL") -> str:
    """An absolute https:// URL (url_rules.check_https_url); InvalidURL naming `what` otherwise."""
    try:
        return url_rules.check_https_url(url)
    except url_rules.URLRuleError as exc:
        raise InvalidURL(f"{what} {_shown(url)} is refused: {exc.message}") from None


def build_call_url(base_url: str, path_and_query: str = "") -> str:
    """base_url + path_and_query, where path_and_query may only add a path below the base path and a query."""
    return _built(base_url, path_and_query or "")


@functools.lru_cache(maxsize=1024)
def _built(base_url: str, path_and_query: str) -> str:
    """A pure function of its two texts, so each pair is checked and built once per process (a refusal raises and
    is not cached). No stored secret is kept here: the API key query parameter is added later, by the client."""
    base_on_wire = _checked_base(base_url)
    try:
        url_rules.check_path_and_query(path_and_query)
    except url_rules.URLRuleError as exc:
        raise InvalidURL(f"The query {_shown(path_and_query)} is refused: {exc.message}") from None
    extra_path, _, extra_query = path_and_query.partition("?")
    base = urlsplit(base_url)
    path = base.path or "/"
    if extra_path:
        path = base.path.rstrip("/") + "/" + extra_path.lstrip("/")
    query = "&".join(q for q in (base.query, extra_query) if q)
    url = urlunsplit((base.scheme, base.netloc, path, query, ""))
    _check_stays_under(url, base_on_wire)
    return url


@functools.lru_cache(maxsize=512)
def _checked_base(base_url: str) -> SplitResult:
    """The base URL checked and as it goes on the wire, once per base URL and process (a refusal is not cached)."""
    check_absolute_url(base_url, what="The datasource's base URL")
    return urlsplit(on_the_wire(base_url))


def _check_stays_under(url: str, base: SplitResult) -> None:
    """The URL as requests will send it has the base URL's origin and a path under the base path."""
    sent = urlsplit(on_the_wire(url))
    if origin(sent.geturl()) != origin(base.geturl()):
        raise InvalidURL(f"The query would change the scheme, host or port of the base URL ({_shown(url)}).")
    base_path = base.path.rstrip("/")
    if base_path and not (sent.path == base_path or sent.path.startswith(base_path + "/")):
        raise InvalidURL(f"The path {_shown(sent.path)} is not under the base URL's path {base_path}.")


def on_the_wire(url: str) -> str:
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


def next_page_url(base_url: str, current_url: str, link: str) -> str:
    """The absolute URL of a next page (a Link header or a URL in the answer, maybe relative to the current page):
    an https:// URL under the datasource's base URL (its scheme, host, port and path prefix), or InvalidURL."""
    if not isinstance(link, str) or not link.strip():
        raise NextPageRefused("The next page's URL is empty.")
    target = urljoin(current_url, link.strip())
    try:
        check_absolute_url(target, what="The next page's URL")
        base = _checked_base(base_url)
        if origin(target) != origin(base.geturl()):
            raise InvalidURL(
                f"The next page's URL {_shown(target)} is on another host than the datasource's base "
                "URL: refused (pages are only read from the datasource's own API)."
            )
        _check_stays_under(target, base)
    except NextPageRefused:
        raise
    except InvalidURL as exc:
        raise NextPageRefused(exc.message) from None
    return target


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
    """A URL or query as a message quotes it: redacted before it is shortened (a cut must never split a secret),
    control characters written out."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], redaction.current().text(str(text)))
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"“{text}”"
