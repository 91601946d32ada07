"""The circuit breaker of each datasource, shared by every process through Redis.

- Closed: calls go through; each failure (outcomes.py: timeouts, connection, TLS and DNS errors, 5xx) adds to a
  count of consecutive failures, each answer resets it. At CONNECT_BREAKER_FAILURES (0: never) it opens.
- Open for CONNECT_BREAKER_OPEN_SECONDS: calls fail fast with CircuitOpen, nothing is sent.
- Then the first caller to be admitted claims the probe, atomically in Redis (one across all processes; the claim
  expires like a concurrency slot if its process dies); the others still fail fast ("probing"). The probe's
  success closes the breaker, its failure opens it again for the same time, a neutral outcome gives the claim back.
  An answer to a call admitted before the breaker opened (a slow call; a run's page whose outcome is sent when the
  run ends) does not close it: the admission's time (the store's clock) goes with each outcome.
Test connection bypasses the breaker (an administrator is checking) but its outcome counts like any call's.
The last failure is kept as its code, HTTP status and time only: no URL, query or answer text is stored.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from datasources.services.errors import CircuitOpen, label_for

from .outcomes import FAILURE, SUCCESS

STATE_TTL_SECONDS = 24 * 3600  # the last failure stays visible this long after it happened
PROBING_RETRY_SECONDS = 1.0

ADMIT_LUA = """
local breaker = redis.call('HMGET', K_BREAKER, 'open_until', 'probe_until')
local open_until = tonumber(breaker[1]) or 0
local probe = false
if open_until > 0 then
  if now < open_until then
    count_refusal('circuit_open')
    return {'open', tostring(open_until - now)}
  end
  if now < (tonumber(breaker[2]) or 0) then
    count_refusal('circuit_open')
    return {'probing', tostring(PROBING_RETRY)}
  end
  probe = true
end
"""
CLAIM_LUA = """
if probe then redis.call('HSET', K_BREAKER, 'probe_until', tostring(now + hold)) end
return {probe and 'probe' or 'ok', tostring(granted), tostring(now)}
"""
FINISH_LUA = f"""
if outcome == '{SUCCESS}' then
  -- An answer to a call admitted before the breaker opened (a slow call, a run's earlier page) does not close it.
  if redis.call('EXISTS', K_BREAKER) == 1 and
     (admitted_at == nil or (tonumber(redis.call('HGET', K_BREAKER, 'opened_at')) or 0) <= admitted_at) then
    redis.call('HSET', K_BREAKER, 'failures', '0')
    redis.call('HDEL', K_BREAKER, 'open_until', 'probe_until', 'opened_at')
  end
elseif outcome == '{FAILURE}' then
  local failures = redis.call('HINCRBY', K_BREAKER, 'failures', 1)
  local open_until = tonumber(redis.call('HGET', K_BREAKER, 'open_until')) or 0
  redis.call('HSET', K_BREAKER, 'last_code', code, 'last_status', status, 'last_at', tostring(now))
  if threshold > 0 and (probe == '1' or (open_until == 0 and failures >= threshold)
                        or (open_until > 0 and now >= open_until)) then
    redis.call('HSET', K_BREAKER, 'open_until', tostring(now + open_seconds), 'opened_at', tostring(now))
    redis.call('HDEL', K_BREAKER, 'probe_until')
  end
  redis.call('EXPIRE', K_BREAKER, {STATE_TTL_SECONDS})
elseif probe == '1' then
  redis.call('HDEL', K_BREAKER, 'probe_until')
end
"""


def admit_locally(state, now: float):
    """The per-process version of ADMIT_LUA: ("open" or "probing", seconds) to refuse, else ("", is it the probe?)."""
    b = state.breaker
    open_until = b.get("open_until", 0.0)
    if open_until > 0:
        if now < open_until:
            state.count_refusal("circuit_open", now)
            return ("open", open_until - now)
        if now < b.get("probe_until", 0.0):
            state.count_refusal("circuit_open", now)
            return ("probing", PROBING_RETRY_SECONDS)
        return ("", True)
    return ("", False)


def claim_locally(state, now: float, hold: float) -> None:
    state.breaker["probe_until"] = now + hold


def finish_locally(
    state, now: float, *, outcome: str, code: str, status: str, probe: bool, admitted_at: float | None = None
) -> None:
    b = state.breaker
    if outcome == SUCCESS:
        if admitted_at is None or b.get("opened_at", 0.0) <= admitted_at:
            b["failures"] = 0
            for name in ("open_until", "probe_until", "opened_at"):
                b.pop(name, None)
    elif outcome == FAILURE:
        b["failures"] = b.get("failures", 0) + 1
        open_until = b.get("open_until", 0.0)
        b.update(last_code=code, last_status=status, last_at=now)
        threshold = settings.CONNECT_BREAKER_FAILURES
        if threshold > 0 and (
            probe or (open_until == 0 and b["failures"] >= threshold) or (open_until > 0 and now >= open_until)
        ):
            b["open_until"] = now + float(settings.CONNECT_BREAKER_OPEN_SECONDS)
            b["opened_at"] = now
            b.pop("probe_until", None)
    elif probe:
        b.pop("probe_until", None)


# --- what the page and Test connection show ---------------------------------------------------------------------


@dataclass(frozen=True)
class LastFailure:
    code: str
    status_code: int | None
    at: datetime

    @property
    def label(self) -> str:
        if self.code.startswith("http_"):
            return f"HTTP {self.code[5:]}"
        return label_for(self.code)


@dataclass(frozen=True)
class BreakerState:
    state: str  # "closed", "open" or "probing"
    failures: int
    threshold: int
    open_until: datetime | None = None
    last_failure: LastFailure | None = None

    @property
    def probe_due(self) -> bool:
        """Open, but its time is over: the next call admitted is the probe."""
        return self.state == "open" and self.open_until is not None and self.open_until <= timezone.now()

    @property
    def text(self) -> str:
        if self.state == "closed":
            return "closed"
        if self.state == "probing":
            return "probing (one call is testing the API)"
        until = f"{timezone.localtime(self.open_until):%H:%M:%S}"
        return f"open until {until} (the next call tests the API)" if self.probe_due else f"open until {until}"


def state_from(raw: dict, *, now: float) -> BreakerState:
    """The breaker as read from the store (field -> text or number) at the store's time `now`."""
    failures = int(float(raw.get("failures") or 0))
    open_until = float(raw.get("open_until") or 0)
    probe_until = float(raw.get("probe_until") or 0)
    last = None
    if raw.get("last_at"):
        status = str(raw.get("last_status") or "")
        last = LastFailure(
            code=str(raw.get("last_code") or ""),
            status_code=int(status) if status.isdigit() else None,
            at=_moment(float(raw["last_at"])),
        )
    if open_until <= 0:
        state = "closed"
    elif now >= open_until and now < probe_until:
        state = "probing"
    else:
        state = "open"
    return BreakerState(
        state=state,
        failures=failures,
        threshold=settings.CONNECT_BREAKER_FAILURES,
        open_until=_moment(open_until) if open_until > 0 else None,
        last_failure=last,
    )


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def refusal(kind: str, seconds_left: float) -> CircuitOpen:
    threshold = settings.CONNECT_BREAKER_FAILURES
    if kind == "probing":
        return CircuitOpen(
            f"The API failed {threshold} times in a row; one call is testing it now and the others "
            "fail fast until it answers. Try again in a moment.",
            retry_after=seconds_left,
        )
    until = timezone.localtime(timezone.now() + timedelta(seconds=seconds_left))
    return CircuitOpen(
        f"The API failed {threshold} times in a row (timeouts, connection errors or HTTP 5xx): Connect does not "
        f"call it until {until:%H:%M:%S} ({max(1, round(seconds_left))} s left); then one call tests it.",
        retry_after=seconds_left,
    )
