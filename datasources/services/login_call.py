"""The "token from a login call" mode (SPEC 12): the credentials are POSTed to the login URL, the token (and its
lifetime) is read from the JSON answer and stored like an OAuth token.

It is one of the renewals of oauth.RENEWALS, so it runs as OAuth renewals do: under the datasource's renewal lock
(once across processes, however many calls found the token expired), shortly before the token expires, and once
after the API answers 401. The request goes through the same outbound transport as every call (address policy,
certificates verified, the deadline and size cap, no redirect followed).

What a login call shows (errors, Test connection, logs) never includes the answer's body, which holds the token and
may echo the password: only the login URL (redacted), the HTTP status and the paths the administrator configured.
"""

import http.client
import json
from dataclasses import dataclass

import requests
from django.conf import settings

from operations.metrics import observed_token_request

from .. import login_template
from ..models import AuthConfig
from . import errors, redaction
from .outbound_errors import translate_request_error
from .response import read_body
from .sessions import route_for
from .token_store import record_error, store_token
from .transport import configure_outbound_session


@dataclass(frozen=True)
class LoginAnswer:
    """What Test connection shows of a successful login call."""

    status_code: int
    url: str  # redacted
    token_path: str
    lifetime_seconds: int | None  # None: until the API answers 401

    @property
    def summary(self) -> str:
        kept = f"kept for {self.lifetime_seconds} s" if self.lifetime_seconds else "kept until the API answers 401"
        return f"HTTP {self.status_code} from {self.url}; token read at {self.token_path}, {kept}."


def fetch_login_token(*, auth: AuthConfig) -> LoginAnswer:
    """Log in and store the new token; raises AuthenticationFailure (or another DatasourceError), recorded as the
    datasource's last error."""
    shown = redaction.redaction_for_auth(auth).with_values(*redaction.current().secret_values)
    with redaction.redacting(shown):
        try:
            return _log_in(auth)
        except errors.DatasourceError as exc:
            record_error(auth, exc.message)
            raise


@observed_token_request
def _log_in(auth: AuthConfig, *, refreshing: bool = False) -> LoginAnswer:
    url = auth.login_url
    status, data = _post_credentials(auth, url)
    token = _token_in(auth, data, status)
    seconds = _lifetime_in(auth, data)
    store_token(auth, {"access_token": token, "expires_in": seconds})
    redaction.also_redact(token)
    return LoginAnswer(
        status_code=status, url=redaction.current().url(url), token_path=auth.login_token_path, lifetime_seconds=seconds
    )


def _post_credentials(auth: AuthConfig, url: str) -> tuple[int, object]:
    """(HTTP status, the answer's JSON) of the login request; a non-2xx answer or one without JSON is refused."""
    body = login_template.fill(
        auth.login_body, auth.login_body_format, {"username": auth.username, "password": auth.password}
    )
    headers = {
        "Content-Type": login_template.content_type(auth.login_body_format),
        "Accept": "application/json",
        "User-Agent": "Connect/0.1",
    }
    session = configure_outbound_session(requests.Session(), route_for(auth.datasource))
    try:
        response = session.post(
            url,
            data=body,
            headers=headers,
            stream=True,
            allow_redirects=False,
            timeout=settings.CONNECT_CALL_DEADLINE_SECONDS,
        )
        raw = read_body(response, url)
    except errors.DatasourceError:
        raise
    except Exception as exc:
        raise translate_request_error(exc, url=url, called="the login URL") from None
    finally:
        session.close()
    status = response.status_code
    if not 200 <= status < 300:
        reason = http.client.responses.get(status, "")
        raise errors.AuthenticationFailure(
            f"The login URL {url} answered HTTP {status}{' ' + reason if reason else ''}: no token. Check the user "
            "name, the password and the login body.",
            status_code=status,
        )
    try:
        return status, json.loads(raw)
    except ValueError:
        raise errors.AuthenticationFailure(
            f"The login URL {url} answered HTTP {status} without JSON, so no token can be read from it.",
            status_code=status,
        ) from None


def _token_in(auth: AuthConfig, data, status: int) -> str:
    path = auth.login_token_path
    token = login_template.first_value(path, data)
    if token is login_template.MISSING or token is None or token == "":
        raise errors.AuthenticationFailure(
            f"The login answer (HTTP {status}) has no token at the path “{path}”: check the path to the token "
            "against the API's documentation.",
            status_code=status,
        )
    if isinstance(token, bool) or not isinstance(token, (str, int)):
        raise errors.AuthenticationFailure(
            f"The login answer (HTTP {status}) holds {_kind(token)} at the path “{path}”, not a token: point the path "
            "at the token's text.",
            status_code=status,
        )
    token = str(token)
    if any(char in token for char in "\r\n\x00") or not token.strip():
        raise errors.AuthenticationFailure(
            f"The token at the path “{path}” cannot be sent in a header (it is blank or has line breaks).",
            status_code=status,
        )
    return token


def _lifetime_in(auth: AuthConfig, data) -> int | None:
    """Seconds the token lasts: the answer's number at the lifetime path, else the configured lifetime (0: None,
    until a 401)."""
    if auth.login_expires_in_path:
        found = login_template.first_value(auth.login_expires_in_path, data)
        try:
            seconds = int(float(found)) if not isinstance(found, bool) else 0
        except (TypeError, ValueError):
            seconds = 0
        if seconds > 0:
            return seconds
    return auth.login_token_seconds or None


def _kind(value) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "true or false" if isinstance(value, bool) else "a number"
