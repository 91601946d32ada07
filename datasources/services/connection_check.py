"""Test connection: one call to a datasource's test URL (or base URL), reported for a person. It changes nothing.

An administrator is checking, so the call is always made: it bypasses the API's protection (a Retry-After pause,
the circuit breaker, the limits), but its outcome counts like any call's (a success closes an open breaker), and the
result says what state the breaker is in afterwards.

Success is HTTP 200. The last result per datasource is kept in the admin's session (not in the database), so the
datasource page can show it; every URL and message in it is already redacted.
"""

import time
from dataclasses import asdict, dataclass
from datetime import datetime

from django.utils import timezone

from .. import url_rules
from ..auth_modes import mode_spec
from ..models import Datasource
from ..protection_status import breaker_state
from . import client, oauth, redaction
from .errors import DatasourceError, label_for

SESSION_KEY = "datasource_connection_checks"
KEPT_RESULTS = 20


@dataclass
class ConnectionCheck:
    ok: bool
    status_code: int | None
    elapsed_ms: int
    url: str
    category: str
    message: str
    tested_at: str
    config_version: str
    breaker: str = ""  # the circuit breaker after the call: "closed", "open until 12:03:04", ...
    login: str = ""  # the login call made first (token from a login call): its status, never its answer

    @property
    def category_label(self) -> str:
        return "Success" if self.ok else label_for(self.category)

    @property
    def tested_at_time(self) -> datetime:
        return datetime.fromisoformat(self.tested_at)

    @property
    def summary(self) -> str:
        if self.ok:
            return f"Test connection succeeded: HTTP 200 in {self.elapsed_ms} ms."
        return f"Test connection failed ({self.category_label}): {self.message}"


def check_connection(*, datasource: Datasource) -> ConnectionCheck:
    """Call the test URL (absolute, or relative to the base URL) or else the base URL; never raises DatasourceError."""
    target = target_of(datasource)
    started = time.monotonic()
    try:
        login = _log_in_first(datasource)
    except DatasourceError as error:
        return _result(
            datasource,
            started,
            ok=False,
            status_code=error.status_code,
            url=redaction.redaction_for_datasource(datasource).url(datasource.auth.login_url),
            category=error.code,
            message=f"The login call failed, so the API was not called: {error.message}",
            login=f"Failed: {error.message}",
        )
    try:
        response = client.call_datasource(datasource=datasource, expect_success=False, bypass_protection=True, **target)
    except DatasourceError as error:
        return _result(
            datasource,
            started,
            ok=False,
            status_code=error.status_code,
            url=error.shown_url,
            category=error.code,
            message=error.message,
            login=login,
        )
    if response.status_code == 200:
        return _result(
            datasource,
            started,
            ok=True,
            status_code=200,
            url=response.redacted_url,
            category="",
            message="The API answered HTTP 200.",
            login=login,
        )
    message = response.status_error().message + " Test connection expects HTTP 200."
    return _result(
        datasource,
        started,
        ok=False,
        status_code=response.status_code,
        url=response.redacted_url,
        category="http_status",
        message=message,
        login=login,
    )


def _log_in_first(datasource: Datasource) -> str:
    """For a mode whose token Test connection renews first (the login call): a new token now, so that the test
    shows the login call itself; its summary, or "" for other modes. Raises DatasourceError."""
    auth = getattr(datasource, "auth", None)
    token_use = mode_spec(auth.mode).token if auth is not None else None
    if token_use is None or not token_use.renewed_by_test:
        return ""
    return oauth.renew_token_now(auth).summary


def target_of(datasource: Datasource) -> dict:
    """Keyword arguments for call_datasource: url= for an absolute test URL, else path_and_query=."""
    test_url = (datasource.test_url or "").strip()
    if url_rules.is_absolute(test_url):
        return {"url": test_url}
    return {"path_and_query": test_url}


def _result(datasource: Datasource, started: float, **fields) -> ConnectionCheck:
    elapsed_ms = round((time.monotonic() - started) * 1000)
    breaker = breaker_state(datasource).text if datasource.pk is not None else ""
    return ConnectionCheck(
        elapsed_ms=elapsed_ms,
        tested_at=timezone.now().isoformat(),
        config_version=datasource.config_version,
        breaker=breaker,
        **fields,
    )


def remember(session, *, datasource: Datasource, check: ConnectionCheck) -> None:
    """Keep the result as the datasource's last one in the admin's session (a few datasources at most)."""
    results = dict(session.get(SESSION_KEY, {}))
    results.pop(str(datasource.pk), None)
    results[str(datasource.pk)] = asdict(check)
    session[SESSION_KEY] = dict(list(results.items())[-KEPT_RESULTS:])


def last_check(session, *, datasource: Datasource) -> ConnectionCheck | None:
    stored = session.get(SESSION_KEY, {}).get(str(datasource.pk))
    if not stored:
        return None
    try:
        return ConnectionCheck(**stored)
    except TypeError:  # stored by an older version of this code
        return None
