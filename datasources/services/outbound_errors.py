"""Turning requests/urllib3/ssl/socket exceptions into Connect's error hierarchy.

The libraries' own exception text contains request URLs (API keys included): it is never copied into a message.
Only safe details are kept: the certificate verification reason, an OS error's name, the exception class. The
errors redact their own messages (errors.py).
"""

import http.client
import socket
import ssl

import requests
import urllib3.exceptions as u3

from .errors import (
    ConnectFailure,
    ConnectTimeout,
    DatasourceError,
    DNSFailure,
    InvalidResponse,
    InvalidURL,
    RedirectRefused,
    TLSFailure,
    UpstreamTimeout,
)
from .transport import deadline_error, deadline_seconds, time_left

TLS_ERRORS = (requests.exceptions.SSLError, u3.SSLError, ssl.SSLError, ssl.CertificateError)
READ_TIMEOUTS = (requests.exceptions.ReadTimeout, u3.ReadTimeoutError, socket.timeout)
# What the HTTP stack raises during a call (and what translate_request_error understands).
LIBRARY_ERRORS = (requests.RequestException, u3.HTTPError, http.client.HTTPException, OSError)
CONNECTION_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    u3.ProtocolError,
    u3.NewConnectionError,
    http.client.HTTPException,
    OSError,
)


def translate_request_error(exc: BaseException, *, url: str = "", called: str = "the API") -> DatasourceError:
    """The DatasourceError for an exception raised while calling `url`; `called` names what was called in the
    message ("the API", "the token endpoint")."""
    if isinstance(exc, DatasourceError):
        return exc
    chain = list(_chain(exc))
    where = f"{called} {url}" if url and called != "the API" else (url or called)
    for check in (_redirects, _tls, _dns, _connect_timeout, _read_timeout, _decoding, _connection, _invalid_url):
        error = check(chain, where, called, url)
        if error is not None:
            return error
    return DatasourceError(f"The call to {where} failed ({type(exc).__name__}).")


def _chain(exc: BaseException):
    """The exception, its causes, contexts and wrapped reasons (urllib3 keeps them in .reason and .args)."""
    seen, stack = set(), [exc]
    while stack and len(seen) < 30:
        current = stack.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack += [getattr(current, "reason", None), current.__cause__, current.__context__]
        stack += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]


def _first(chain, types):
    return next((e for e in chain if isinstance(e, types)), None)


def _redirects(chain, where, called, url):
    if _first(chain, requests.exceptions.TooManyRedirects):
        return RedirectRefused(f"More than 5 redirects for {where} — redirect refused.")
    return None


def _tls(chain, where, called, url):
    verification = _first(chain, ssl.SSLCertVerificationError)
    if verification is not None:
        reason = str(getattr(verification, "verify_message", "") or "verification failed").rstrip(".")
        return TLSFailure(
            f"The TLS certificate of {where} was refused: {reason}. Certificates are always "
            "verified (the system trust store, or CONNECT_CA_BUNDLE when the operator sets it)."
        )
    error = _first(chain, TLS_ERRORS)
    if error is None:
        return None
    # OpenSSL's reason (an alert's name) is on the ssl.SSLError, which requests and urllib3 may wrap.
    reason = next(
        (e.reason for e in chain if isinstance(e, ssl.SSLError) and isinstance(getattr(e, "reason", None), str)),
        getattr(error, "reason", None),
    )
    detail = f" ({reason.rstrip('.')})" if isinstance(reason, str) and reason else ""
    explained = CLIENT_CERTIFICATE_ALERTS.get(reason) if isinstance(reason, str) else None
    if not detail and _first(chain, ssl.SSLEOFError) is not None:
        # With TLS 1.3 a server refusing the client certificate may close the connection before its alert is read.
        explained = (
            "the server closed the connection during the TLS exchange, as a server that requires a client "
            "certificate does when none, or one it does not trust, is sent (see the datasource's Network section)"
        )
    return TLSFailure(f"The TLS connection to {where} failed{detail}{': ' + explained if explained else ''}.")


# TLS alerts a server sends about the client certificate (mTLS): what they mean for the person reading the error.
CLIENT_CERTIFICATE_ALERTS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server asks for a client certificate and none was sent (add one in "
    "the datasource's Network section)",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "the server refused the handshake; if it asks for a client certificate, add one "
    "in the datasource's Network section",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the server refused the client certificate",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "the server refused the client certificate",
    "TLSV1_ALERT_UNKNOWN_CA": "the server refused the client certificate: it does not trust its issuer",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the server refused the client certificate: it has expired",
    "SSLV3_ALERT_CERTIFICATE_REVOKED": "the server refused the client certificate: it was revoked",
    "TLSV1_ALERT_ACCESS_DENIED": "the server refused the client certificate (access denied)",
}


def _dns(chain, where, called, url):
    if _first(chain, (u3.NameResolutionError, socket.gaierror)):
        return DNSFailure(f"The host name of {where} could not be resolved (DNS lookup failed).")
    return None


def _connect_timeout(chain, where, called, url):
    timeout = _first(chain, (requests.exceptions.ConnectTimeout, u3.ConnectTimeoutError))
    if timeout is None or isinstance(timeout, u3.NewConnectionError):
        return None
    if time_left() <= 0:
        return deadline_error()
    return ConnectTimeout(f"Could not connect to {where} — no answer to the connection attempt in time.")


def _read_timeout(chain, where, called, url):
    if _first(chain, READ_TIMEOUTS) is None:
        return None
    subject, target = called[:1].upper() + called[1:], f" for {url}" if url else ""
    if time_left() <= 0.05:
        return UpstreamTimeout(
            f"{subject} did not answer completely within {deadline_seconds():g} seconds{target} "
            "(the limit for one call, from connect to the last byte)."
        )
    return UpstreamTimeout(f"{subject} stopped sending data{target} (read timeout).")


def _decoding(chain, where, called, url):
    if _first(chain, (requests.exceptions.ContentDecodingError, u3.DecodeError)):
        return InvalidResponse(f"The answer from {where} could not be decompressed (invalid Content-Encoding).")
    return None


def _connection(chain, where, called, url):
    error = _first(chain, CONNECTION_ERRORS)
    if error is None:
        return None
    os_error = _first(chain, OSError)
    reason = getattr(os_error, "strerror", None)
    if _first(chain, (u3.ProtocolError, http.client.HTTPException, requests.exceptions.ChunkedEncodingError)):
        return ConnectFailure(f"The connection to {where} broke while the answer was read.")
    return ConnectFailure(f"Could not connect to {where} — {(reason or 'connection failed').lower()}.")


def _invalid_url(chain, where, called, url):
    if _first(
        chain,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
            u3.LocationParseError,
        ),
    ):
        return InvalidURL(f"The URL {where} is not valid.")
    return None
