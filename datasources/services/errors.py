"""The errors of outbound calls: one small hierarchy, each with a message a person can act on.

An error redacts its own message when it is built, with the redaction current at that moment (the datasource's
secrets while a call runs, secret-looking parameters always): whoever raises it may name the URL as it was called.
"""

import math

from . import redaction


class DatasourceError(Exception):
    """Base class. `code` is a stable identifier for APIs; `message` is for people (already redacted)."""

    code = "datasource_error"
    http_status = 502
    shown_url = ""  # the URL a failed call started at, redacted (set by the client)
    nothing_sent = False  # True when the call failed before anything was sent (a known state, not an incident)

    def __init__(self, message: str, *, status_code: int | None = None):
        message = redaction.current().text(message)
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    def __str__(self):
        return self.message


class InvalidURL(DatasourceError):
    code = "invalid_url"
    http_status = 400


class NextPageRefused(InvalidURL):
    """An answer's link to its next page points outside the datasource's base URL: it is not followed."""

    code = "next_page_refused"


class AddressRefused(DatasourceError):
    code = "address_refused"


class DNSFailure(DatasourceError):
    code = "dns_failure"


class ConnectFailure(DatasourceError):
    code = "connect_failure"


class ConnectTimeout(DatasourceError):
    code = "connect_timeout"
    http_status = 504


class UpstreamTimeout(DatasourceError):
    code = "timeout"
    http_status = 504


class TLSFailure(DatasourceError):
    code = "tls_failure"


class ProxyFailure(DatasourceError):
    """The outbound proxy failed or refused the tunnel (407: its credentials). Its message names the proxy as
    http://host:port, never with its credentials."""

    code = "proxy_failure"


class RedirectRefused(DatasourceError):
    code = "redirect_refused"


class HTTPStatusError(DatasourceError):
    code = "http_status"
    # The answer's Retry-After header, if any (read by protection/pause.py; never shown).
    retry_after_header: str | None = None


class ResponseTooLarge(DatasourceError):
    code = "response_too_large"


class InvalidJSON(DatasourceError):
    code = "invalid_json"


class InvalidResponse(DatasourceError):
    """The answer broke HTTP or its Content-Encoding (not a status or JSON problem)."""

    code = "invalid_response"


class AuthenticationFailure(DatasourceError):
    """Credentials missing or refused, token endpoint errors, reconnect needed."""

    code = "authentication_failure"


class ReconnectNeeded(AuthenticationFailure):
    code = "reconnect_needed"


class ProtectionRefusal(DatasourceError):
    """Connect did not call the API, to protect it (protection/): `retry_after` is the whole seconds to wait."""

    http_status = 503
    nothing_sent = True

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class RateLimited(ProtectionRefusal):
    """Over the datasource's calls per second or concurrent calls for longer than the wait bound."""

    code = "rate_limited"
    http_status = 429


class UpstreamPaused(ProtectionRefusal):
    """The API answered 429 or 503 with Retry-After: no process calls it until then."""

    code = "upstream_paused"


class CircuitOpen(ProtectionRefusal):
    """The API failed too many times in a row: calls fail fast until one probe call succeeds."""

    code = "circuit_open"


# What each kind of failure is called on pages (Test connection, the datasource's last failure).
LABELS = {
    "invalid_url": "Invalid URL",
    "next_page_refused": "Next page refused",
    "address_refused": "Address refused",
    "dns_failure": "DNS failure",
    "connect_failure": "Connection failed",
    "connect_timeout": "Connection timed out",
    "timeout": "Timed out",
    "tls_failure": "TLS / certificate failure",
    "proxy_failure": "Proxy failure",
    "redirect_refused": "Redirect refused",
    "http_status": "Unexpected HTTP status",
    "response_too_large": "Answer too large",
    "invalid_json": "Not JSON",
    "invalid_response": "Invalid answer",
    "authentication_failure": "Authentication failed",
    "reconnect_needed": "Reconnect needed",
    "rate_limited": "Rate limited by Connect",
    "upstream_paused": "Paused (the API asked to wait)",
    "circuit_open": "Circuit breaker open",
}


def label_for(code: str) -> str:
    return LABELS.get(code, "Call failed")
