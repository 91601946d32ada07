"""The one place in Connect that calls datasources' APIs: builds each call, sends it, reads the answer within limits.

- Method: GET, or POST with a JSON body (an item's body template); a POST is never redirected.
- URL: the base URL plus a path and query string that can never change scheme, host or port (call_url.py, with the
  rules of url_rules.py).
- Sent with every call to the base URL's origin: the custom headers and the authentication (Basic, an API key
  header or query parameter, or a stored token, OAuth2's or a login call's, from oauth.py, renewed once on a 401).
- Transport (transport.py): pooled session per datasource (sessions.py), address policy checked and pinned for
  every connection, certificates always verified, one deadline from connect to the last byte.
- The body is streamed and counted (response.py): over CONNECT_MAX_RESPONSE_BYTES (announced or actual, after
  decompression) the call fails with ResponseTooLarge.
- Protection (datasources/protection/): pause, circuit breaker and limits before each call is sent (once its URL is
  built), its outcome recorded after.
- Log: one line per answered call (status, time, size, and the redacted URL: at INFO without its query values, which
  carry what people type; at DEBUG in full); the calls of one run (`calls_in_a_run`: the pages of one resolution)
  share one line, written when the run ends. A refused or failed call is counted in /metrics and summarised at most
  once per interval per datasource (operations/call_failures.py); its own message is a DEBUG line.

Redirects: followed, at most 5. Each hop must be https:// (a redirect to http:// or anything else is refused with
RedirectRefused) and goes through the address policy again. Custom headers and credentials (Basic, API key header,
bearer token) are sent only to the base URL's scheme, host and port: on a hop to another origin they are dropped
and an API key query parameter is removed from the URL. Cookies are never kept: each request is prepared here and
sent without a cookie jar.

Errors redact their own messages (errors.py); the URL of a failed call is redacted once, when the failure shows it.
Imports run one way: transport below oauth below this module.
"""

import logging
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import requests

from operations.call_failures import report_failed_call
from operations.metrics import observed_upstream_call

from .. import protection
from ..header_values import HeaderValueError, check_header_value
from ..models import Datasource
from . import call_url, oauth, redaction, sessions, transport
from .errors import AuthenticationFailure, DatasourceError, RedirectRefused, UnsendableHeader
from .outbound_errors import LIBRARY_ERRORS, translate_request_error
from .response import UpstreamResponse, read_body, size_budget

log = logging.getLogger("connect.client")
MAX_REDIRECTS = 5
CALL_LINE = "%s %s -> HTTP %s in %.3fs (%d bytes)"  # method, redacted URL, status, seconds, bytes
_run_log: ContextVar["RunLog | None"] = ContextVar("connect_run_log", default=None)


@contextmanager
def calls_in_a_run():
    """The calls made inside, one after another (the pages of one resolution), are one run: one deadline and one size
    cap for all of them, and one log line for the calls answered. The API's protection admits each call on its own."""
    run_log = RunLog()
    token = _run_log.set(run_log)
    try:
        with transport.call_deadline(), size_budget():
            yield
    finally:
        _run_log.reset(token)
        run_log.write()


class RunLog:
    """The answered calls of a run (method, redacted URL, status, seconds, bytes), logged together: a log line costs
    about as much as the rest of Connect's own work on a page, and a run's pages belong together anyway."""

    def __init__(self):
        self.began, self.answered = time.monotonic(), []

    def write(self) -> None:
        answered, self.answered = self.answered, []
        if answered:
            _log_answered(answered, time.monotonic() - self.began)


def _log_answered(answered: list[tuple], seconds: float) -> None:
    """The line of answered calls: at DEBUG with their full redacted URLs, else at INFO without query values."""
    if log.isEnabledFor(logging.DEBUG):
        level = logging.DEBUG
    elif log.isEnabledFor(logging.INFO):
        level = logging.INFO
        answered = [(method, redaction.as_logged_at_info(url), *rest) for method, url, *rest in answered]
    else:
        return
    if len(answered) == 1:
        log.log(level, CALL_LINE, *answered[0])
        return
    log.log(
        level,
        "%d calls in one run, %.3fs: %s",
        len(answered),
        seconds,
        "; ".join(CALL_LINE % call for call in answered),
    )


@observed_upstream_call
def call_datasource(*, datasource: Datasource, bypass_protection: bool = False, **call) -> UpstreamResponse:
    """One call (arguments of _call), through the API's protection (protection/): a Retry-After pause, the circuit
    breaker or the datasource's limits may refuse it (RateLimited, UpstreamPaused, CircuitOpen) before anything is
    sent; its outcome is recorded after. bypass_protection (Test connection) skips the refusals, not the record."""
    return _call(datasource=datasource, enforce=not bypass_protection, **call)


def _call(
    *,
    datasource: Datasource,
    path_and_query: str = "",
    url: str | None = None,
    expect_success: bool = True,
    method: str = "GET",
    body: bytes | None = None,
    enforce: bool = True,
) -> UpstreamResponse:
    """GET (or POST `body` as JSON to) the datasource's base URL + path_and_query, or the absolute https:// `url`;
    see the module docstring.

    Raises a DatasourceError subclass, whose `shown_url` is the URL the call started at, as it may be shown;
    HTTPStatusError for a non-2xx answer unless expect_success is False.
    """
    entry = sessions.session_for(datasource)
    started = time.monotonic()
    target = None
    sending = Sending(method=method, body=body)
    with redaction.redacting(entry.plan.redaction), transport.call_deadline():
        try:
            target = url_for_call(datasource, path_and_query=path_and_query, url=url)
            # A URL built from the base URL has its origin by construction; a test URL may have another one.
            same_origin = url is None or call_url.origin(target) == entry.plan.origin
            upstream = protection.guarded_call(
                datasource=datasource,
                enforce=enforce,
                send=lambda: _follow(entry, datasource, target, started, sending, same_origin=same_origin),
            )
            if expect_success and not 200 <= upstream.status_code < 300:
                raise upstream.status_error()
        except DatasourceError as error:
            error.shown_url = _shown_on_failure(entry.plan, target, url or path_and_query or datasource.base_url)
            run_log = _run_log.get()
            if run_log is not None:  # the run's calls answered before this one come first in the log
                run_log.write()
            _log_failed(datasource, method, error, time.monotonic() - started)
            raise error from None
    call = (method, upstream.redacted_url, upstream.status_code, upstream.elapsed_seconds, len(upstream.body))
    run_log = _run_log.get()
    if run_log is None:
        _log_answered([call], upstream.elapsed_seconds)
    else:
        run_log.answered.append(call)
    return upstream


def _log_failed(datasource: Datasource, method: str, error: DatasourceError, seconds: float) -> None:
    """A refused or failed call: summarised once per interval per datasource (what an API that fails under load
    would otherwise write per keystroke); its message, which can quote the answer, at DEBUG only."""
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s failed after %.3fs: [%s] %s", method, error.shown_url, seconds, error.code, error.message)
    report_failed_call(
        datasource_id=datasource.pk,
        code=error.code,
        status=error.status_code,
        method=method,
        url=redaction.as_logged_at_info(error.shown_url),
    )


@dataclass(frozen=True)
class Sending:
    """What a call sends besides its URL: GET, or POST with a JSON body."""

    method: str = "GET"
    body: bytes | None = None


def _shown_on_failure(plan, target: str | None, given: str) -> str:
    """The URL a failed call started at, as sent (API key parameter included) and redacted; else what was given."""
    if target is not None:
        try:
            return redaction.current().url(with_api_key_param(plan, target))
        except DatasourceError:
            pass
    return redaction.current().url(given)


def url_for_call(datasource: Datasource, *, path_and_query: str = "", url: str | None = None) -> str:
    """The URL a call starts at: the checked absolute `url`, or the base URL + path_and_query."""
    if url:
        return call_url.check_absolute_url(url)
    return call_url.build_call_url(datasource.base_url, path_and_query)


# --- one call: hops, credentials, body ------------------------------------------------------------------------


def _follow(entry, datasource, url: str, started: float, sending: Sending, *, same_origin: bool) -> UpstreamResponse:
    for hop in range(MAX_REDIRECTS + 1):
        if hop:
            same_origin = call_url.origin(url) == entry.plan.origin
        response, sent_url = _send(entry, datasource, url, sending, same_origin=same_origin)
        if response.is_redirect and sending.method != "GET":
            response.close()
            raise RedirectRefused(
                f"The API answered the {sending.method} to {sent_url} with a redirect (HTTP "
                f"{response.status_code}): Connect never sends a body elsewhere, so it is refused."
            )
        if not response.is_redirect:
            body = read_body(response, sent_url)
            current = redaction.current()
            return UpstreamResponse(
                status_code=response.status_code,
                body=body,
                elapsed_seconds=time.monotonic() - started,
                redacted_url=current.url(sent_url),
                content_type=response.headers.get("Content-Type", ""),
                headers={k: v for k, v in response.headers.items() if k.lower() != "set-cookie"},
                redaction=current,
                request_url=url,
            )
        response.close()
        url = call_url.redirect_target(sent_url, response.headers.get("Location", ""))
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "GET %s redirected (HTTP %s) to %s",
                redaction.current().url(sent_url),
                response.status_code,
                redaction.current().url(url),
            )
    raise RedirectRefused(f"More than {MAX_REDIRECTS} redirects; the last one pointed to {url} — redirect refused.")


def with_api_key_param(plan, url: str, same_origin: bool | None = None) -> str:
    """The URL with the API key query parameter set (same origin) or removed (any other origin)."""
    if not plan.api_key_param:
        return url
    name, value = plan.api_key_param
    if same_origin is None:
        same_origin = call_url.origin(url) == plan.origin
    if same_origin:
        return call_url.with_query_param(url, name, value)
    return call_url.without_query_param(url, name)


def _send(entry, datasource, url: str, sending: Sending, *, same_origin: bool):
    """One request: credentials only to the base URL's origin; a stored token (OAuth2, a login call) is renewed once
    on a 401."""
    plan = entry.plan
    headers, basic, sent_url = {}, None, with_api_key_param(plan, url, same_origin)
    if same_origin and plan.unsendable:
        raise UnsendableHeader(plan.unsendable)
    if same_origin:
        headers, basic = dict(plan.headers), plan.basic_auth
    if not (same_origin and plan.token_header):
        return _request(entry.session, sending, sent_url, headers, basic), sent_url
    token = _stored_token(datasource)
    response = _request(entry.session, sending, sent_url, {**headers, **_token_sent(plan, token)}, None)
    if response.status_code == 401:
        response.close()
        token = _stored_token(datasource, rejected_token=token)
        response = _request(entry.session, sending, sent_url, {**headers, **_token_sent(plan, token)}, None)
    return response, sent_url


def _token_sent(plan, token: str) -> dict:
    name, prefix = plan.token_header
    return {name: f"{prefix} {token}" if prefix else token}


def _request(session: requests.Session, sending: Sending, url: str, headers: dict, basic_auth) -> requests.Response:
    """One request, prepared here and sent through the adapter the session mounts for the URL (for https:// the
    pinned, policy-checking one; http:// is refused there). A POST body goes as application/json.

    Session.request is skipped on purpose: its cookie jars, environment settings, hooks and redirect handling are
    for what Connect turns off (no cookies kept or sent, trust_env off, redirects followed and checked by _follow),
    and on a fast network they cost about a fifth of a warm call. The session's default headers still apply.
    """
    try:
        request = requests.PreparedRequest()
        request.prepare_method(sending.method)
        request.prepare_url(url, None)
        if sending.method != "GET":
            headers = {**headers, "Content-Type": "application/json"}
        request.prepare_headers({**session.headers, **headers})  # validates names and values (no injection)
        if sending.method != "GET":
            request.prepare_body(sending.body, None)
        if basic_auth is not None:
            request.prepare_auth(basic_auth)
        adapter = session.get_adapter(request.url)
        return adapter.send(request, stream=True, timeout=(max(transport.time_left(), 0.001),) * 2)
    except (DatasourceError, *LIBRARY_ERRORS) as exc:
        raise translate_request_error(exc, url=url) from None


def _stored_token(datasource: Datasource, *, rejected_token: str | None = None) -> str:
    """The stored token (OAuth2, a login call: renewed when needed); with rejected_token, a new one after a 401.
    Redacted in whatever the call shows."""
    if rejected_token is None:
        token = oauth.bearer_token_for(datasource.auth)
    else:
        token = oauth.bearer_token_for(datasource.auth, force_new=True, rejected_token=rejected_token)
    redaction.also_redact(token)
    try:
        check_header_value(token)
    except HeaderValueError as exc:
        raise AuthenticationFailure(
            f"The access token from the token endpoint cannot be sent in an Authorization header. {exc.message}"
        ) from None
    return token
