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
    label = "Call failed"  # what pages call this kind of failure (Test connection, the datasource's last failure)
    # What a form filler is told (the options API): never the URL or any part of the answer, which the message may
    # quote for administrators. {seconds}: a protection refusal's wait; {status}: the answer's HTTP status.
    public_message = "The call to the API failed."
    page: int | None = None  # the page of a paginated resolution that failed (set by items/services/fetching.py)
    shown_url = ""  # the URL a failed call started at, redacted (set by the client)
    nothing_sent = False  # True when the call failed before anything was sent (a known state, not an incident)

    def __init__(self, message: str, *, status_code: int | None = None):
        message = redaction.current().text(message)
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    def __str__(self):
        return self.message

    def public_text(self) -> str:
        """public_message with its values, naming the page when a later page of a resolution failed."""
        message = self.public_message.format(seconds=getattr(self, "retry_after", ""), status=self.status_code or "")
        if self.page and self.page > 1:
            return f"{message[:-1]} (page {self.page})."
        return message


class InvalidURL(DatasourceError):
    code = "invalid_url"
    label = "Invalid URL"
    public_message = "The item's query does not make a valid URL for its datasource."
    http_status = 400


class NextPageRefused(InvalidURL):
    """An answer's link to its next page points outside the datasource's base URL: it is not followed."""

    code = "next_page_refused"
    label = "Next page refused"
    public_message = "The API's link to a next page points outside the datasource: Connect does not follow it."


class AddressRefused(DatasourceError):
    code = "address_refused"
    label = "Address refused"
    public_message = "The API's address is not allowed by Connect's outbound address policy."


class DNSFailure(DatasourceError):
    code = "dns_failure"
    label = "DNS failure"
    public_message = "The API's host name could not be resolved."


class ConnectFailure(DatasourceError):
    code = "connect_failure"
    label = "Connection failed"
    public_message = "Connect could not connect to the API."


class ConnectTimeout(DatasourceError):
    code = "connect_timeout"
    label = "Connection timed out"
    public_message = "The API did not accept the connection in time."
    http_status = 504


class UpstreamTimeout(DatasourceError):
    code = "timeout"
    label = "Timed out"
    public_message = "The API did not answer in time."
    http_status = 504


class TLSFailure(DatasourceError):
    code = "tls_failure"
    label = "TLS / certificate failure"
    public_message = "The secure (TLS) connection to the API failed."


class ProxyFailure(DatasourceError):
    """The outbound proxy failed or refused the tunnel (407: its credentials). Its message names the proxy as
    http://host:port, never with its credentials."""

    code = "proxy_failure"
    label = "Proxy failure"
    public_message = "Connect's outbound proxy failed or refused the connection to the API."


class RedirectRefused(DatasourceError):
    code = "redirect_refused"
    label = "Redirect refused"
    public_message = "The API redirected to a place Connect does not follow."


class HTTPStatusError(DatasourceError):
    code = "http_status"
    label = "Unexpected HTTP status"
    public_message = "The API answered HTTP {status}."
    # The answer's Retry-After header, if any (read by protection/pause.py; never shown).
    retry_after_header: str | None = None

    def public_text(self) -> str:
        return super().public_text() if self.status_code else DatasourceError.public_message


class ResponseTooLarge(DatasourceError):
    code = "response_too_large"
    label = "Answer too large"
    public_message = "The API's answer is larger than Connect accepts."


class InvalidJSON(DatasourceError):
    code = "invalid_json"
    label = "Not JSON"
    public_message = "The API answered with a body that is not JSON."


class InvalidResponse(DatasourceError):
    """The answer broke HTTP or its Content-Encoding (not a status or JSON problem)."""

    code = "invalid_response"
    label = "Invalid answer"
    public_message = "The call to the API failed."


class UnsendableHeader(DatasourceError):
    """A header value Connect cannot send (stored before the header rules of header_values.py): nothing is sent."""

    code = "unsendable_header"
    label = "Header cannot be sent"
    public_message = "The datasource has a header value Connect cannot send: an administrator must correct it."
    nothing_sent = True


class AuthenticationFailure(DatasourceError):
    """Credentials missing or refused, token endpoint errors, reconnect needed."""

    code = "authentication_failure"
    label = "Authentication failed"
    public_message = "The API refused Connect's credentials, or no valid credentials are available."


class ReconnectNeeded(AuthenticationFailure):
    code = "reconnect_needed"
    label = "Reconnect needed"
    public_message = "The datasource's account must be reconnected by an administrator."


class NotConnected(AuthenticationFailure):
    """An authorization-code datasource nobody has connected yet (or that was disconnected): there is no token to
    renew, and nothing to reconnect; an administrator signs in with Connect first. Nothing is sent."""

    code = "not_connected"
    label = "Not connected"
    public_message = "The datasource's account is not connected yet: an administrator must connect it."
    nothing_sent = True


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
    label = "Rate limited by Connect"
    public_message = "Too many calls to this API right now: try again in {seconds} s."
    http_status = 429


class UpstreamPaused(ProtectionRefusal):
    """The API answered 429 or 503 with Retry-After: no process calls it until then."""

    code = "upstream_paused"
    label = "Paused (the API asked to wait)"
    public_message = "The API asked Connect to wait: calls to it are paused for {seconds} s more."


class CircuitOpen(ProtectionRefusal):
    """The API failed too many times in a row: calls fail fast until one probe call succeeds."""

    code = "circuit_open"
    label = "Circuit breaker open"
    public_message = "The API is failing, so Connect is not calling it for now: try again in {seconds} s."


def _codes_of(cls) -> dict[str, type]:
    found = {cls.code: cls}
    for sub in cls.__subclasses__():
        found.update(_codes_of(sub))
    return found


def label_for(code: str) -> str:
    """What pages call the failure `code` (stored codes outlive their exceptions: the breaker, health)."""
    cls = _codes_of(DatasourceError).get(code)
    return cls.label if cls is not None else DatasourceError.label
