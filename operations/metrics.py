"""Connect's Prometheus metrics: one function per event, called with one line by the place that knows the event.

Labels are ids and fixed codes only (an item or datasource id, a cache status, an error code, a grant), never a URL,
a query, a value a person typed or a secret; `_code` replaces anything else with "other". Under gunicorn the workers
share their values through PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py makes a fresh directory per server start).
"""

import functools
import importlib.metadata
import os
import re
import time

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from .process_metrics import InstanceProcesses, gunicorn_master_pid

BUILD_INFO = Gauge(
    "connect_build_info",
    "Connect's version (always 1; one series per version running).",
    ["version"],
    multiprocess_mode="livemax",
)

OPTIONS_REQUESTS = Counter(
    "connect_options_requests",
    "Options endpoint answers, by item and cache status "
    "(hit, miss, bypassed, not_cached, unavailable, wait_timeout, stale, or error when the call failed).",
    ["item", "cache_status"],
)
UPSTREAM_CALLS = Counter(
    "connect_upstream_calls",
    "Calls to datasource APIs, by datasource and outcome "
    "(ok, or the error code: timeout, dns_failure, http_status, ...).",
    ["datasource", "outcome"],
)
UPSTREAM_SECONDS = Histogram(
    "connect_upstream_call_seconds",
    "Duration of calls to datasource APIs (connect to last "
    "byte, redirects and a token renewal included), by datasource.",
    ["datasource"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
TOKEN_REQUESTS = Counter(
    "connect_token_requests",
    "Token requests: OAuth2, by grant (client_credentials, "
    "authorization_code, refresh_token), and login calls (login_call), by outcome (ok or the error code).",
    ["grant", "outcome"],
)
PROTECTION_EVENTS = Counter(
    "connect_protection_events",
    "What protected a datasource's API (SPEC 8), by datasource and "
    "event: a call refused (rate_limited, upstream_paused, circuit_open), or a Retry-After "
    "pause the API asked for (retry_after).",
    ["datasource", "event"],
)
CACHE_ERRORS = Counter(
    "connect_cache_errors",
    "Redis errors, by what noticed them (item_cache, django_cache, oauth_lock, readiness, protection).",
    ["noticed_by"],
)

_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _code(value) -> str:
    """A label value from a fixed vocabulary; anything else (never expected) becomes "other"."""
    return value if isinstance(value, str) and _CODE.fullmatch(value) else "other"


def _id(value) -> str:
    return str(value) if isinstance(value, int) else "other"


def connect_version() -> str:
    try:
        return importlib.metadata.version("connect")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def record_build_info() -> None:
    """At each process's start (operations' AppConfig.ready): /metrics is never empty, even before any request. A
    management command run beside a server that shares its metrics directory has nothing to add to them."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and gunicorn_master_pid() is None:
        return
    BUILD_INFO.labels(version=_label(connect_version())).set(1)


def _label(value: str) -> str:
    return value if re.fullmatch(r"[0-9A-Za-z.+_-]{1,40}", value) else "other"


def record_options_request(*, item_id: int, cache_status: str) -> None:
    OPTIONS_REQUESTS.labels(item=_id(item_id), cache_status=_code(cache_status)).inc()


def record_upstream_call(*, datasource_id: int, outcome: str, seconds: float) -> None:
    calls, duration = _upstream_children(
        datasource_id if type(datasource_id) is int else None, outcome if type(outcome) is str else ""
    )
    calls.inc()
    duration.observe(seconds)


@functools.lru_cache(maxsize=4096)
def _upstream_children(datasource_id: int, outcome: str) -> tuple:
    """The labelled children of one datasource and outcome, found once: the labels lookup cost more than the
    counting, on every call (a few codes per datasource, so the cache stays small)."""
    datasource = _id(datasource_id)
    return UPSTREAM_CALLS.labels(datasource=datasource, outcome=_code(outcome)), UPSTREAM_SECONDS.labels(
        datasource=datasource
    )


def record_protection_event(*, datasource_id: int, event: str) -> None:
    PROTECTION_EVENTS.labels(datasource=_id(datasource_id), event=_code(event)).inc()


def record_token_request(*, grant: str, outcome: str) -> None:
    TOKEN_REQUESTS.labels(grant=_code(grant), outcome=_code(outcome)).inc()


def record_cache_error(*, noticed_by: str) -> None:
    CACHE_ERRORS.labels(noticed_by=_code(noticed_by)).inc()


def outcome_of(exc: BaseException) -> str:
    """ "ok" for no exception; a Connect error's code; "internal_error" for anything unexpected."""
    return getattr(exc, "code", None) or "internal_error"


# --- decorators: one line on the function that makes the call ------------------------------------------------


def observed_upstream_call(call):
    """For datasources.services.client.call_datasource(*, datasource, ...): each call counted and timed. An answer
    the caller accepted with a non-2xx status (expect_success=False) counts as http_status; a call the API's
    protection refused (nothing sent) is a protection event, not an upstream call."""

    @functools.wraps(call)
    def observed(*args, **kwargs):
        started, outcome = time.monotonic(), "internal_error"
        try:
            response = call(*args, **kwargs)
            outcome = "ok" if 200 <= response.status_code < 300 else "http_status"
            return response
        except Exception as exc:
            outcome = outcome_of(exc)
            raise
        finally:
            datasource_id = kwargs["datasource"].pk
            if outcome in PROTECTION_REFUSALS:
                record_protection_event(datasource_id=datasource_id, event=outcome)
            else:
                record_upstream_call(datasource_id=datasource_id, outcome=outcome, seconds=time.monotonic() - started)

    return observed


PROTECTION_REFUSALS = frozenset({"rate_limited", "upstream_paused", "circuit_open"})


def observed_token_request(request):
    """For datasources.services.oauth._token_request(auth, request, *, refreshing=False) and the login call
    (login_call._log_in): each token request counted by grant and outcome."""

    @functools.wraps(request)
    def observed(auth, *args, refreshing: bool = False, **kwargs):
        outcome = "internal_error"
        try:
            token = request(auth, *args, refreshing=refreshing, **kwargs)
            outcome = "ok"
            return token
        except Exception as exc:
            outcome = outcome_of(exc)
            raise
        finally:
            record_token_request(grant=_grant(auth, refreshing), outcome=outcome)

    return observed


def _grant(auth, refreshing: bool) -> str:
    if refreshing:
        return "refresh_token"
    return {"oauth2_client_credentials": "client_credentials", "login_token": "login_call"}.get(
        auth.mode, "authorization_code"
    )


def client_certificate_expiry(expiries, *, now) -> GaugeMetricFamily:
    """connect_client_certificate_expiry_seconds{datasource}: read from the database at each scrape (a time left
    changes by itself), from (datasource id, expiry) pairs."""
    family = GaugeMetricFamily(
        "connect_client_certificate_expiry_seconds",
        "Seconds until a datasource's client certificate (mTLS) expires, negative once it has; by datasource. "
        "The datasource page warns 30 days before.",
        labels=["datasource"],
    )
    for datasource_id, expires_at in expiries:
        family.add_metric([_id(datasource_id)], (expires_at - now).total_seconds())
    return family


class _Families:
    """A collector of families built for one scrape."""

    def __init__(self, families):
        self.families = list(families)

    def collect(self):
        return iter(self.families)


def exposition(*, families=()) -> bytes:
    """Every metric in Prometheus text format: under gunicorn the values of all workers, and the process metrics of
    the instance (master and workers summed, operations/process_metrics.py); this process's otherwise. Then
    `families`, read for this scrape (from the database: the same for every worker)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        master = gunicorn_master_pid()
        if master is not None:
            registry.register(InstanceProcesses(master))
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    if families:
        scraped = CollectorRegistry(auto_describe=False)
        scraped.register(_Families(families))
        text += generate_latest(scraped)
    return text
