"""The errors of outbound calls: one small hierarchy, each with a message a person can act on.

An error redacts its own message when it is built, with the redaction current at that moment (the datasource's
secrets while a call runs, secret-looking parameters always): whoever raises it may name the URL as it was called.
"""
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


class RedirectRefused(DatasourceError):
    code = "redirect_refused"


class HTTPStatusError(DatasourceError):
    code = "http_status"


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
