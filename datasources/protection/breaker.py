"""The circuit breaker of each datasource, shared by every process through Redis: CONNECT_BREAKER_FAILURES failures
in a row (outcomes.py; 0: never) open it for CONNECT_BREAKER_OPEN_SECONDS (calls fail fast with CircuitOpen); then the
first caller admitted claims the probe (one across all processes, leased like a slot; a neutral outcome gives it
back), whose success closes it and failure opens it again. An answer to a call admitted before it opened does not
close it. The last failure is kept as its code, HTTP status and time only (read by datasources/protection_status.py)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from datasources.services.errors import CircuitOpen

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
if probe then redis.call('HSET', K_BREAKER, 'probe_until', tostring(now + lease)) end
"""
RENEW_LUA = """
if probe and redis.call('HEXISTS', K_BREAKER, 'probe_until') == 1 then
  redis.call('HSET', K_BREAKER, 'probe_until', tostring(now + lease))
end
"""
FINISH_LUA = f"""
if outcome == '{SUCCESS}' then
  -- An answer to a call admitted before the breaker opened (a slow call) does not close it.
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


def finish_locally(state, now: float, call) -> None:
    """The per-process version of FINISH_LUA, for a finished call (store.Call)."""
    b, outcome, probe = state.breaker, call.kind, call.probe
    if outcome == SUCCESS:
        if call.admitted_at is None or b.get("opened_at", 0.0) <= call.admitted_at:
            b["failures"] = 0
            for name in ("open_until", "probe_until", "opened_at"):
                b.pop(name, None)
    elif outcome == FAILURE:
        b["failures"] = b.get("failures", 0) + 1
        open_until = b.get("open_until", 0.0)
        b.update(last_code=call.code, last_status=call.status, last_at=now)
        threshold = settings.CONNECT_BREAKER_FAILURES
        if threshold > 0 and (
            probe or (open_until == 0 and b["failures"] >= threshold) or (open_until > 0 and now >= open_until)
        ):
            b["open_until"] = now + float(settings.CONNECT_BREAKER_OPEN_SECONDS)
            b["opened_at"] = now
            b.pop("probe_until", None)
    elif probe:
        b.pop("probe_until", None)


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
