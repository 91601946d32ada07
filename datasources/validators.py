"""Validation rules of SPEC 1.2-1.3 as Django validators, shared by the models, forms, admin and API. The URL rules
themselves are url_rules.py's (the client calls the same ones)."""

import re

from django.core.exceptions import ValidationError

from . import header_values, url_rules

MAX_HEADERS = 20

# RFC 9110 token: 1*tchar
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")

FORBIDDEN_HEADER_NAMES = frozenset(
    name.lower()
    for name in (
        "Accept-Charset",
        "Accept-Encoding",
        "Access-Control-Request-Headers",
        "Access-Control-Request-Method",
        "Connection",
        "Content-Length",
        "Cookie",
        "Cookie2",
        "Date",
        "DNT",
        "Expect",
        "Host",
        "Keep-Alive",
        "Origin",
        "Referer",
        "Set-Cookie",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Via",
    )
)
FORBIDDEN_HEADER_PREFIXES = ("proxy-", "sec-")


def validate_https_url(value: str) -> None:
    """An absolute, well-formed https:// URL (url_rules): base, documentation, token and authorization URLs."""
    if value:
        _validated(url_rules.check_https_url, value)
        _validated(url_rules.check_well_formed, value)


def validate_test_url(value: str) -> None:
    """Either an absolute https:// URL, or a path and query string added to the base URL."""
    if value:
        if url_rules.is_absolute(value):
            validate_https_url(value)
        else:
            _validated(url_rules.check_path_and_query, value)


def validate_proxy_url(value: str) -> None:
    """A datasource's outbound proxy: http://[user@]host:port (url_rules.check_proxy_url)."""
    if value:
        _validated(lambda url: url_rules.check_proxy_url(url, password_allowed=False), value)


def _validated(check, value: str) -> None:
    try:
        check(value)
    except (url_rules.URLRuleError, header_values.HeaderValueError) as exc:
        raise ValidationError(exc.message, code=exc.code) from None


def validate_header_name(value: str) -> None:
    if not HEADER_NAME_RE.match(value or ""):
        raise ValidationError(
            "“%(name)s” is not a valid header name: use letters, digits and ! # $ %% & ' * + - . ^ _ ` | ~ only.",
            code="header_token",
            params={"name": value},
        )
    lowered = value.lower()
    if lowered == "authorization":
        raise ValidationError(
            "The Authorization header cannot be set here: choose an authentication mode below instead.",
            code="header_authorization",
        )
    if lowered in FORBIDDEN_HEADER_NAMES or lowered.startswith(FORBIDDEN_HEADER_PREFIXES):
        raise ValidationError(
            "The header “%(name)s” is forbidden: browsers and HTTP clients control it themselves.",
            code="header_forbidden",
            params={"name": value},
        )


def validate_token_header_name(value: str) -> None:
    """The header a login call's token is sent in: a header name as above, Authorization included."""
    if (value or "").lower() != "authorization":
        validate_header_name(value)


def validate_token_header_prefix(value: str) -> None:
    """Written before the token ("Bearer"): a word of header-token characters, or nothing."""
    if value and not HEADER_NAME_RE.match(value):
        raise ValidationError(
            "Write the prefix as one word without spaces, e.g. Bearer or Token (or leave it blank).",
            code="token_header_prefix",
        )


MAX_LOGIN_TOKEN_SECONDS = 365 * 86400


def validate_login_token_seconds(value) -> None:
    if value is None or not 0 <= value <= MAX_LOGIN_TOKEN_SECONDS:
        raise ValidationError(
            f"Enter a number of seconds from 0 (until the API answers 401) to {MAX_LOGIN_TOKEN_SECONDS:,} (a year), "
            "e.g. 3600 for an hour.",
            code="login_token_seconds",
        )


def validate_header_value(value: str) -> None:
    """A value an HTTP header can carry (header_values): a custom header's, or an API key sent as a header."""
    _validated(header_values.check_header_value, value)


def validate_no_line_breaks(value: str) -> None:
    _validated(header_values.check_line_breaks, value)


def validate_basic_user_name(value: str) -> None:
    _validated(header_values.check_basic_user_name, value)


# --- limits protecting an API (SPEC 8) ------------------------------------------------------------------------
MAX_CALLS_PER_SECOND = 10_000
MAX_CONCURRENT_CALLS = 1_000
MAX_STALE_SECONDS = 24 * 3600
MIN_STALE_SECONDS = 60


def validate_calls_per_second(value) -> None:
    if value is None or not 0 <= value <= MAX_CALLS_PER_SECOND:
        raise ValidationError(
            f"Enter a number of calls per second from 0 (no limit) to {MAX_CALLS_PER_SECOND:,}, e.g. 10 or 0.5.",
            code="calls_per_second",
        )


def validate_concurrent_calls(value) -> None:
    if value is None or not 0 <= value <= MAX_CONCURRENT_CALLS:
        raise ValidationError(
            f"Enter a whole number of concurrent calls from 0 (no limit) to {MAX_CONCURRENT_CALLS:,}.",
            code="concurrent_calls",
        )


def validate_stale_seconds(value) -> None:
    if value is None or not MIN_STALE_SECONDS <= value <= MAX_STALE_SECONDS:
        raise ValidationError(
            f"Enter a number of seconds from {MIN_STALE_SECONDS} to {MAX_STALE_SECONDS:,} (24 hours).",
            code="stale_seconds",
        )
