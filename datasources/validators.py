"""Validation rules of SPEC 1.2-1.3, shared by the models, forms, admin and API."""
import re
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

MAX_HEADERS = 20

# A relative path that starts like "name:" would be read as a scheme ("evil.example:443/x", "javascript:...").
SCHEME_PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

# RFC 9110 token: 1*tchar
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")

FORBIDDEN_HEADER_NAMES = frozenset(
    name.lower()
    for name in (
        "Accept-Charset", "Accept-Encoding", "Access-Control-Request-Headers", "Access-Control-Request-Method",
        "Connection", "Content-Length", "Cookie", "Cookie2", "Date", "DNT", "Expect", "Host", "Keep-Alive",
        "Origin", "Referer", "Set-Cookie", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Via",
    )
)
FORBIDDEN_HEADER_PREFIXES = ("proxy-", "sec-")

_absolute_https = URLValidator(schemes=["https"], message="Enter a valid https:// URL.")


def validate_https_url(value: str) -> None:
    """An absolute https:// URL with a host, no credentials and no fragment."""
    if not value:
        return
    parts = urlsplit(value)
    if parts.scheme.lower() != "https":
        raise ValidationError("Only https:// URLs are accepted (got %(scheme)s).",
                              code="https_only", params={"scheme": f"{parts.scheme}://" if parts.scheme else "no scheme"})
    if "@" in parts.netloc:
        raise ValidationError("Do not put a user name or password in the URL: use the authentication section.",
                              code="credentials_in_url")
    if not parts.hostname:
        raise ValidationError("The URL needs a host name, as in https://api.example.com.", code="no_host")
    if parts.fragment or value.endswith("#"):
        raise ValidationError("Remove the #fragment: it is never sent to a server.", code="fragment")
    if any(ch in value for ch in "\r\n\t\x00 \\"):
        raise ValidationError("The URL contains spaces, backslashes or control characters.", code="bad_chars")
    try:
        parts.port
    except ValueError:
        raise ValidationError("The port must be a number from 1 to 65535.", code="bad_port") from None
    if parts.port == 0:
        raise ValidationError("The port must be a number from 1 to 65535.", code="bad_port")
    _absolute_https(value)


def validate_test_url(value: str) -> None:
    """Either an absolute https:// URL, or a path relative to the base URL."""
    if not value:
        return
    if "://" in value or value.lower().startswith(("http:", "https:")):
        validate_https_url(value)
        return
    if (value.startswith("//") or SCHEME_PREFIX_RE.match(value) or "\\" in value or "@" in value
            or any(ch in value for ch in "\r\n\t\x00 ")):
        raise ValidationError(
            "Enter an https:// URL or a path such as /health; a relative path cannot name another host.",
            code="bad_relative")
    if "#" in value:
        raise ValidationError("Remove the #fragment: it is never sent to a server.", code="fragment")
    path = unquote(value.partition("?")[0])
    if any(segment in (".", "..") for segment in path.split("/")):
        raise ValidationError("Remove the “.” and “..” segments: the path must stay under the base URL.",
                              code="dot_segments")


def validate_header_name(value: str) -> None:
    if not HEADER_NAME_RE.match(value or ""):
        raise ValidationError(
            "“%(name)s” is not a valid header name: use letters, digits and ! # $ %% & ' * + - . ^ _ ` | ~ only.",
            code="header_token", params={"name": value})
    lowered = value.lower()
    if lowered == "authorization":
        raise ValidationError(
            "The Authorization header cannot be set here: choose an authentication mode below instead.",
            code="header_authorization")
    if lowered in FORBIDDEN_HEADER_NAMES or lowered.startswith(FORBIDDEN_HEADER_PREFIXES):
        raise ValidationError(
            "The header “%(name)s” is forbidden: browsers and HTTP clients control it themselves.",
            code="header_forbidden", params={"name": value})


def validate_header_value(value: str) -> None:
    if any(ch in (value or "") for ch in "\r\n\x00"):
        raise ValidationError("A header value cannot contain line breaks (CR, LF) or NUL characters.",
                              code="header_value")


def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the part a stored secret is bound to."""
    parts = urlsplit(url or "")
    try:
        port = parts.port or (443 if parts.scheme == "https" else None)
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


# --- limits protecting an API (SPEC 8) ------------------------------------------------------------------------
MAX_CALLS_PER_SECOND = 10_000
MAX_CONCURRENT_CALLS = 1_000
MAX_STALE_SECONDS = 24 * 3600
MIN_STALE_SECONDS = 60


def validate_calls_per_second(value) -> None:
    if value is None or not 0 <= value <= MAX_CALLS_PER_SECOND:
        raise ValidationError(f"Enter a number of calls per second from 0 (no limit) to {MAX_CALLS_PER_SECOND:,}, "
                              "e.g. 10 or 0.5.", code="calls_per_second")


def validate_concurrent_calls(value) -> None:
    if value is None or not 0 <= value <= MAX_CONCURRENT_CALLS:
        raise ValidationError(f"Enter a whole number of concurrent calls from 0 (no limit) to "
                              f"{MAX_CONCURRENT_CALLS:,}.", code="concurrent_calls")


def validate_stale_seconds(value) -> None:
    if value is None or not MIN_STALE_SECONDS <= value <= MAX_STALE_SECONDS:
        raise ValidationError(f"Enter a number of seconds from {MIN_STALE_SECONDS} to {MAX_STALE_SECONDS:,} "
                              "(24 hours).", code="stale_seconds")
