"""The one place in Connect that talks to datasources: builds each call, sends it, and reads the answer within limits.

- URL: the base URL plus a path and query string that can never change scheme, host or port (call_url.py).
- Sent with every call to the base URL's origin: the custom headers and the authentication (Basic, an API key
  header or query parameter, or an OAuth2 bearer token, renewed once on a 401).
- Transport (transport.py): pooled session per datasource (sessions.py), address policy checked and pinned for
  every connection, certificates always verified, one deadline from connect to the last byte.
- The body is streamed and counted: over CONNECT_MAX_RESPONSE_BYTES (announced or actual, after decompression)
  the call fails with ResponseTooLarge.
- Protection (protection/): pause, circuit breaker and limits before each call, its outcome recorded after.

Redirects: followed, at most 5. Each hop must be https:// (a redirect to http:// or anything else is refused with
RedirectRefused) and goes through the address policy again. Custom headers and credentials (Basic, API key header,
bearer token) are sent only to the base URL's scheme, host and port: on a hop to another origin they are dropped
and an API key query parameter is removed from the URL. Cookies are never kept.

Every message and log line is redacted (redaction.py): no secret value, secret-looking query parameters as "***".
"""
import http.client
import json
import logging
import time
from dataclasses import dataclass, field

import requests
import urllib3.exceptions
from django.conf import settings

from ..models import Datasource
from . import call_url, protection, redaction, sessions, transport
from .errors import DatasourceError, HTTPStatusError, InvalidJSON, RedirectRefused, \
    ResponseTooLarge
from .outbound_errors import translate_request_error
from .redaction import GENERIC, Redaction
from .transport import MAX_REDIRECTS, configure_outbound_session

__all__ = ["UpstreamResponse", "call_datasource", "configure_outbound_session", "display_url", "redact_url",
           "redaction_for", "translate_request_error", "url_for_call"]

log = logging.getLogger("connect.client")
CHUNK_BYTES = 64 * 1024
EXCERPT_CHARS = 200
LIBRARY_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


@dataclass
class UpstreamResponse:
    status_code: int
    body: bytes
    elapsed_seconds: float
    redacted_url: str
    content_type: str = ""
    headers: dict = field(default_factory=dict)
    # How the datasource's secrets are hidden in messages about this answer.
    redaction: Redaction = field(default=GENERIC, repr=False, compare=False)

    def json(self):
        """The decoded JSON body; raises errors.InvalidJSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise InvalidJSON(f"The API answered with a body that is not JSON for {self.redacted_url} — "
                              f"{body_excerpt(self.body, self.redaction)}", status_code=self.status_code) from None


def call_datasource(*, datasource: Datasource, bypass_protection: bool = False, **call) -> UpstreamResponse:
    """One call (arguments of _call), through the API's protection (protection/): a Retry-After pause, the circuit
    breaker or the datasource's limits may refuse it (RateLimited, UpstreamPaused, CircuitOpen) before anything is
    sent; its outcome is recorded after. bypass_protection (Test connection) skips the refusals, not the record."""
    return protection.guarded_call(datasource=datasource, enforce=not bypass_protection,
                                   send=lambda: _call(datasource=datasource, **call))


def _call(*, datasource: Datasource, path_and_query: str = "", url: str | None = None,
          expect_success: bool = True) -> UpstreamResponse:
    """GET the datasource's base URL + path_and_query (or the absolute https:// `url`); see the module docstring.

    Raises a DatasourceError subclass; HTTPStatusError for a non-2xx answer unless expect_success is False.
    """
    entry = sessions.session_for(datasource)
    started = time.monotonic()
    target = None
    with redaction.redacting(entry.plan.redaction), transport.call_deadline():
        try:
            target = url_for_call(datasource, path_and_query=path_and_query, url=url)
            # A URL built from the base URL has its origin by construction; a test URL may have another one.
            same_origin = url is None or call_url.origin(target) == entry.plan.origin
            upstream = _follow(entry, datasource, target, started, same_origin=same_origin)
            if expect_success and not 200 <= upstream.status_code < 300:
                raise status_error(upstream)
        except DatasourceError as error:
            # The URL is redacted here, when a failure shows it, not on every call.
            shown = _shown_on_failure(entry.plan, target, url or path_and_query or datasource.base_url)
            log.warning("GET %s failed after %.3fs: [%s] %s", shown, time.monotonic() - started, error.code,
                        redaction.current().text(error.message))
            raise error from None
    log.info("GET %s -> HTTP %s in %.3fs (%d bytes)", upstream.redacted_url, upstream.status_code,
             upstream.elapsed_seconds, len(upstream.body))
    return upstream


def _shown_on_failure(plan, target: str | None, given: str) -> str:
    """The URL a failed call started at, as sent (API key parameter included) and redacted; else what was given."""
    if target is not None:
        try:
            return redaction.current().url(_as_sent(plan, target))
        except DatasourceError:
            pass
    return redaction.current().url(given)


def url_for_call(datasource: Datasource, *, path_and_query: str = "", url: str | None = None) -> str:
    """The URL a call starts at: the checked absolute `url`, or the base URL + path_and_query."""
    if url:
        return call_url.check_absolute_url(url)
    return call_url.build_call_url(datasource.base_url, path_and_query)


def display_url(datasource: Datasource, *, path_and_query: str = "", url: str | None = None) -> str:
    """The URL a call would start at, as it may be shown: API key parameter included, secrets as ***."""
    plan = sessions.session_for(datasource).plan
    try:
        return plan.redaction.url(_as_sent(plan, url_for_call(datasource, path_and_query=path_and_query, url=url)))
    except DatasourceError:
        return plan.redaction.url(url or path_and_query)


def redaction_for(datasource: Datasource) -> Redaction:
    return sessions.session_for(datasource).plan.redaction


def redact_url(url: str, datasource: Datasource | None = None) -> str:
    """The URL as it may be shown or logged: secret values and secret-looking query parameters as ***."""
    return (redaction_for(datasource) if datasource is not None else GENERIC).url(url)


# --- one call: hops, credentials, body ------------------------------------------------------------------------

def _follow(entry, datasource, url: str, started: float, *, same_origin: bool) -> UpstreamResponse:
    for hop in range(MAX_REDIRECTS + 1):
        if hop:
            same_origin = call_url.origin(url) == entry.plan.origin
        response, sent_url = _send(entry, datasource, url, same_origin=same_origin)
        if not response.is_redirect:
            body = _read_body(response, sent_url)
            return UpstreamResponse(
                status_code=response.status_code, body=body, elapsed_seconds=time.monotonic() - started,
                redacted_url=redaction.current().url(sent_url), content_type=response.headers.get("Content-Type", ""),
                headers={k: v for k, v in response.headers.items() if k.lower() != "set-cookie"},
                redaction=redaction.current())
        response.close()
        url = call_url.redirect_target(sent_url, response.headers.get("Location", ""))
        log.debug("GET %s redirected (HTTP %s) to %s", redaction.current().url(sent_url), response.status_code,
                  redaction.current().url(url))
    raise RedirectRefused(f"More than {MAX_REDIRECTS} redirects; the last one pointed to "
                          f"{redaction.current().url(url)} — redirect refused.")


def _as_sent(plan, url: str, same_origin: bool | None = None) -> str:
    """The URL with the API key query parameter set (same origin) or removed (any other origin)."""
    if not plan.api_key_param:
        return url
    name, value = plan.api_key_param
    if same_origin is None:
        same_origin = call_url.origin(url) == plan.origin
    if same_origin:
        return call_url.with_query_param(url, name, value)
    return call_url.without_query_param(url, name)


def _send(entry, datasource, url: str, *, same_origin: bool):
    """One GET: credentials only to the base URL's origin; an OAuth2 token is renewed once on a 401."""
    plan = entry.plan
    headers, basic, sent_url = {}, None, _as_sent(plan, url, same_origin)
    if same_origin:
        headers, basic = dict(plan.headers), plan.basic_auth
    if not (same_origin and plan.oauth):
        return _get(entry.session, sent_url, headers, basic), sent_url
    token = bearer_token(datasource)
    response = _get(entry.session, sent_url, {**headers, "Authorization": f"Bearer {token}"}, None)
    if response.status_code == 401:
        response.close()
        token = bearer_token(datasource, rejected_token=token)
        response = _get(entry.session, sent_url, {**headers, "Authorization": f"Bearer {token}"}, None)
    return response, sent_url


def _get(session: requests.Session, url: str, headers: dict, basic_auth) -> requests.Response:
    """One GET, prepared here and sent through the adapter the session mounts for the URL (for https:// the
    pinned, policy-checking one; http:// is refused there).

    Session.request is skipped on purpose: its cookie jars, environment settings, hooks and redirect handling are
    for what Connect turns off (no cookies kept or sent, trust_env off, redirects followed and checked by _follow),
    and on a fast network they cost about a fifth of a warm call. The session's default headers still apply.
    """
    left = max(transport.time_left(), 0.001)
    try:
        request = requests.PreparedRequest()
        request.prepare_method("GET")
        request.prepare_url(url, None)
        request.prepare_headers({**session.headers, **headers})  # validates names and values (no injection)
        if basic_auth is not None:
            request.prepare_auth(basic_auth)
        return session.get_adapter(request.url).send(request, stream=True, timeout=(left, left))
    except (DatasourceError, *LIBRARY_ERRORS) as exc:
        raise translate_request_error(exc, url=url) from None


def bearer_token(datasource: Datasource, *, rejected_token: str | None = None) -> str:
    """The OAuth2 access token (datasources.services.oauth); with rejected_token, a new one after a 401."""
    from . import oauth  # oauth builds its token sessions with this module's transport

    if rejected_token is None:
        token = oauth.bearer_token_for(datasource.auth)
    else:
        token = oauth.bearer_token_for(datasource.auth, force_new=True, rejected_token=rejected_token)
    redaction.also_redact(token)
    return token


def _read_body(response: requests.Response, url: str) -> bytes:
    """The whole (decoded) body, counted while streaming against the size cap and the deadline."""
    cap = settings.CONNECT_MAX_RESPONSE_BYTES
    try:
        if _announced_length(response) > cap:
            raise too_large(cap, url, announced=True)
        chunks, size = [], 0
        for chunk in response.raw.stream(CHUNK_BYTES, decode_content=True):
            size += len(chunk)
            if size > cap:
                raise too_large(cap, url)
            if transport.time_left() <= 0:
                raise transport.deadline_error(url)
            chunks.append(chunk)
        return b"".join(chunks)
    except LIBRARY_ERRORS as exc:
        raise translate_request_error(exc, url=url) from None
    finally:
        response.close()


def _announced_length(response: requests.Response) -> int:
    try:
        return int(response.headers.get("Content-Length", "0"))
    except ValueError:
        return 0


def too_large(cap: int, url: str, *, announced: bool = False) -> ResponseTooLarge:
    how = "announces" if announced else "sent"
    return ResponseTooLarge(f"The answer from {redaction.current().url(url)} {how} more than the limit of "
                            f"{cap:,} bytes (CONNECT_MAX_RESPONSE_BYTES): refused, nothing is kept.")


def status_error(upstream: UpstreamResponse) -> HTTPStatusError:
    reason = http.client.responses.get(upstream.status_code, "")
    error = HTTPStatusError(
        f"The API answered HTTP {upstream.status_code}{' ' + reason if reason else ''} for {upstream.redacted_url} — "
        f"{body_excerpt(upstream.body, upstream.redaction)}", status_code=upstream.status_code)
    error.retry_after_header = upstream.headers.get("Retry-After")  # for protection/pause.py
    return error


def body_excerpt(body: bytes, redact: Redaction) -> str:
    """The start of a body, on one line and redacted, for error messages."""
    text = " ".join(body[: EXCERPT_CHARS * 4].decode("utf-8", "replace").split())
    if not text:
        return "(empty body)"
    text = text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"
    return redact.text(text)
