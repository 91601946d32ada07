"""Redaction of everything outbound calls show or log: secret values and secret-looking query parameters become "***".

A `Redaction` knows one datasource's secrets, in every form the client sends them (as written, percent-encoded,
JSON-escaped, base64 of user:password for Basic auth). While a call runs it is the "current" redaction: errors
redact their own message with it when they are built (errors.py), and so do log lines written by urllib3 (which
include the request path and query). An answer body is masked with `values()` only (its data is not a message).
"""

import base64
import contextvars
import functools
import json
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, unquote_plus

from django.core.exceptions import ObjectDoesNotExist

from ..models import SECRET_FIELDS

MASK = "***"
# Query parameters whose name contains one of these are always masked.
SECRET_NAME_PARTS = (
    "token",
    "secret",
    "passw",
    "signature",
    "apikey",
    "api_key",
    "api-key",
    "credential",
    "session",
    "jwt",
    "bearer",
)
# ... or whose name has one of these as a whole word (split on punctuation and camelCase).
SECRET_NAME_WORDS = frozenset({"key", "code", "sig", "auth", "pwd", "pass", "private"})

_PARAM_RE = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&;#?\s\"'<>“”‘’]+)=(?P<value>[^&;#\s\"'<>“”‘’]*)")
_USERINFO_RE = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s\"'<>]+@")
# "name": "value" pairs in dicts and JSON, e.g. a token response echoed in a library's log line.
_PAIR_RE = re.compile(
    r"(?P<q>[\"'])(?P<name>[^\"']{1,100})(?P=q)(?P<sep>\s*:\s*)(?P<vq>[\"'])(?P<value>[^\"']*)(?P=vq)"
)
_AUTH_HEADER_RE = re.compile(r"(?i)(?P<lead>authorization['\"]?\s*[:=]\s*['\"]?(?:basic|bearer|token)?\s*)[^\s'\",}]+")
_WORD_RE = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")

_current: contextvars.ContextVar["Redaction | None"] = contextvars.ContextVar("connect_redaction", default=None)


@functools.lru_cache(maxsize=1024)
def looks_secret(name: str) -> bool:
    """True for parameter names such as api_key, access_token, X-Amz-Signature, code, sortKey."""
    lowered = unquote_plus(name).lower()
    if any(part in lowered for part in SECRET_NAME_PARTS):
        return True
    return any(word.lower() in SECRET_NAME_WORDS for word in _WORD_RE.findall(unquote_plus(name)))


# Secret values shorter than this are not searched for in answer bodies, where they would mask ordinary data.
MIN_BODY_SECRET_CHARS = 4


@dataclass(frozen=True)
class Redaction:
    """The secrets of one datasource (values and extra parameter names) and how to hide them."""

    secret_values: tuple[str, ...] = ()
    secret_params: frozenset[str] = frozenset()

    def with_values(self, *values: str) -> "Redaction":
        return Redaction(self.secret_values + tuple(v for v in values if v), self.secret_params)

    def _is_secret_param(self, name: str) -> bool:
        return unquote_plus(name).lower() in self.secret_params or looks_secret(name)

    def text(self, text: str) -> str:
        """Any text (a message, a URL, a body excerpt, a log line) with secrets masked."""
        if not text:
            return text
        text = _USERINFO_RE.sub(lambda m: m["scheme"] + MASK + "@", text)
        text = _PARAM_RE.sub(self._mask_param, text)
        text = _PAIR_RE.sub(self._mask_pair, text)
        text = _AUTH_HEADER_RE.sub(lambda m: m["lead"] + MASK, text)
        for value in self._value_forms:
            text = text.replace(value, MASK)
        return text

    def url(self, url: str) -> str:
        return self.text(url)

    @functools.cached_property
    def searches_bodies(self) -> bool:
        """True when some secret value is long enough to be searched for in answers (values())."""
        return any(len(value) >= MIN_BODY_SECRET_CHARS for value in self._value_forms)

    def values(self, text: str) -> str:
        """An answer's text with the datasource's own secret values masked (an API echoing the request back);
        unlike text(), nothing else is touched: field names such as "token" or "key" are data here."""
        for value in self._value_forms:
            if len(value) >= MIN_BODY_SECRET_CHARS and value in text:
                text = text.replace(value, MASK)
        return text

    def _mask_param(self, match: re.Match) -> str:
        if not self._is_secret_param(match["name"]) or not match["value"]:
            return match.group(0)
        return f"{match['lead']}{match['name']}={MASK}"

    def _mask_pair(self, match: re.Match) -> str:
        if not self._is_secret_param(match["name"]) or not match["value"]:
            return match.group(0)
        return f"{match['q']}{match['name']}{match['q']}{match['sep']}{match['vq']}{MASK}{match['vq']}"

    @functools.cached_property
    def _value_forms(self) -> list[str]:
        """Each secret value as written, percent-encoded and JSON-escaped, longest first; built once."""
        forms = set()
        for value in self.secret_values:
            if value:
                escaped = json.dumps(value)[1:-1]
                forms.update(
                    {
                        value,
                        quote(value, safe=""),
                        quote_plus(value),
                        quote(value),
                        escaped,
                        escaped.replace("/", "\\/"),
                    }
                )
        return sorted(forms, key=len, reverse=True)


GENERIC = Redaction()


def without_query_values(url: str) -> str:
    """A (redacted) URL with every query parameter's value (when not empty) replaced by "…": what people type stays
    out of the lines logged at INFO (the full redacted URL is logged at DEBUG only). The fragment is dropped."""
    base, mark, query = url.partition("?")
    if not mark:
        return url
    query = query.partition("#")[0]
    return base + "?" + "&".join(_hidden_value(part) for part in query.split("&"))


# The paths of the calls being made whose values people typed or chose (an item's variables in its query's path), with
# each value shown as "…": (path as sent, path as logged at INFO).
_private_paths: contextvars.ContextVar[tuple] = contextvars.ContextVar("connect_private_paths", default=())


@contextmanager
def private_path(sent: str, shown: str):
    """While calls are made inside, a URL logged at INFO that contains the path `sent` shows `shown` instead (an
    item's evaluated path, and the same path with each variable's value as "…": items/services/evaluation.py)."""
    token = _private_paths.set((*_private_paths.get(), (sent, shown)) if sent != shown else _private_paths.get())
    try:
        yield
    finally:
        _private_paths.reset(token)


def as_logged_at_info(url: str) -> str:
    """A (redacted) URL as a line at INFO shows it: without query values, and with the values of a private path (an
    item's variables in its query's path) as "…"."""
    url = without_query_values(url)
    for sent, shown in _private_paths.get():
        url = url.replace(sent, shown, 1)
    return url


def _hidden_value(parameter: str) -> str:
    name, equals, value = parameter.partition("=")
    if not equals:
        return "…" if name else ""
    return f"{name}=…" if value else f"{name}="


def redaction_for_auth(auth) -> Redaction:
    """The redaction of a datasource's authentication (an AuthConfig, or None): its stored secrets, the Basic
    credentials as sent (base64 of user:password) and the API key's parameter name."""
    if auth is None:
        return GENERIC
    values = [getattr(auth, field) for field in SECRET_FIELDS if getattr(auth, field, "")]
    if auth.password:
        values.append(basic_credentials(auth.username, auth.password))
    params = frozenset({auth.api_key_name.lower()} if auth.api_key_name else ())
    return Redaction(secret_values=tuple(values), secret_params=params)


def redaction_for_datasource(datasource) -> Redaction:
    """The redaction of a datasource's stored secrets (its auth is read, and decrypted, if not loaded yet).

    The network's secrets are not in it: the proxy password goes to the proxy only (the API never receives it, so
    it cannot echo it back), and the messages about a proxy are built without it (proxy_tunnel.py); the client key
    and its passphrase are never sent anywhere. So a call needs no read of the network row to be redacted."""
    try:
        return redaction_for_auth(datasource.auth)
    except ObjectDoesNotExist:
        return GENERIC


def basic_credentials(username: str, password: str) -> str:
    """base64(username:password) as requests sends it in "Authorization: Basic ..." (latin-1, else UTF-8)."""
    pair = f"{username}:{password}"
    try:
        raw = pair.encode("latin1")
    except UnicodeEncodeError:
        raw = pair.encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def current() -> Redaction:
    return _current.get() or GENERIC


@contextmanager
def redacting(redaction: Redaction):
    """Make `redaction` the current one (for log lines written by libraries) while the block runs."""
    token = _current.set(redaction)
    try:
        yield redaction
    finally:
        _current.reset(token)


def also_redact(*values: str) -> None:
    """Add secret values learnt during a call (a fresh OAuth token) to the current redaction, until its block ends."""
    _current.set(current().with_values(*values))


class RedactingFilter(logging.Filter):
    """Rewrites a log record's message with the current redaction; attached to the loggers of the HTTP stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the record, drop its arguments
            message = str(record.msg)
        record.msg = current().text(message)
        record.args = None
        return True


HTTP_STACK_LOGGERS = (
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.response",
    "urllib3.poolmanager",
    "urllib3.util.retry",
    "requests",
    "requests_oauthlib",
    "oauthlib",
)
_filter = RedactingFilter()


def install_log_filter() -> None:
    """Idempotent: urllib3 logs request lines (path and query) at DEBUG and requests-oauthlib logs token
    responses: they must be redacted like ours. A filter on a parent logger does not see its children's records,
    so it goes on every logger of those libraries (imported first, so that their module loggers exist)."""
    import oauthlib.oauth2  # noqa: F401
    import requests_oauthlib  # noqa: F401

    prefixes = tuple(name + "." for name in HTTP_STACK_LOGGERS)
    names = [
        name
        for name in list(logging.Logger.manager.loggerDict)
        if name in HTTP_STACK_LOGGERS or name.startswith(prefixes)
    ]
    for name in set(names) | set(HTTP_STACK_LOGGERS):
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
