"""A datasource's call limits, shared by every process through Redis (0: no limit). Calls per second: a token bucket
of one second's worth of calls (at least 1), refilled at the rate, so over any L seconds at most burst + rate × L
calls start. Concurrent calls: a sorted set of slot holders scored with the end of their lease, which is short and
renewed while the call runs (guard.py): a slot whose release was lost (a process killed, a Redis failover) frees
itself within LEASE_SECONDS. Token and slot are taken together or not at all; a caller over a limit tries again for
up to CONNECT_RATE_LIMIT_WAIT_SECONDS, inside the call's deadline, then gets RateLimited."""

import math
from dataclasses import dataclass

from datasources.services.errors import RateLimited

SLOT_POLL_SECONDS = 0.02
LEASE_SECONDS = 5.0  # a slot's lease, renewed every RENEW_SECONDS while its call runs
RENEW_SECONDS = 2.0
MARGIN_SECONDS = 1.0  # a lease never outlives its call's deadline by more than this

ADMIT_LUA = f"""
if max_concurrent > 0 then
  redis.call('ZREMRANGEBYSCORE', K_SLOTS, '-inf', now)
  if redis.call('ZCARD', K_SLOTS) >= max_concurrent then return {{'wait', '{SLOT_POLL_SECONDS}'}} end
end
if rate > 0 then
  local bucket = redis.call('HMGET', K_BUCKET, 'tokens', 'at')
  local tokens = burst
  if bucket[1] then
    tokens = math.min(burst, tonumber(bucket[1]) + math.max(0, now - tonumber(bucket[2])) * rate)
  end
  if tokens < 1 then return {{'wait', tostring((1 - tokens) / rate)}} end
  redis.call('HSET', K_BUCKET, 'tokens', tostring(tokens - 1), 'at', tostring(now))
  redis.call('EXPIRE', K_BUCKET, math.ceil(burst / rate) + 1)
end
"""
# Taking the slot (at admission, max_concurrent > 0) or renewing it (XX: only a slot still held) sets its lease.
LEASE_LUA = """
local function lease_slot(flag)
  redis.call('ZADD', K_SLOTS, flag, now + lease, holder)
  if redis.call('TTL', K_SLOTS) < math.ceil(lease) + 1 then redis.call('EXPIRE', K_SLOTS, math.ceil(lease) + 1) end
end
"""
RELEASE_LUA = """
if holder ~= '' then redis.call('ZREM', K_SLOTS, holder) end
"""


@dataclass(frozen=True)
class Limits:
    calls_per_second: float
    concurrent_calls: int

    @classmethod
    def of(cls, datasource) -> "Limits":
        return cls(float(datasource.calls_per_second or 0), int(datasource.concurrent_calls or 0))

    @property
    def burst(self) -> float:
        return max(1.0, self.calls_per_second)

    def describe(self) -> str:
        rate = f"{self.calls_per_second:g} calls per second" if self.calls_per_second > 0 else "no rate limit"
        at_once = f"{self.concurrent_calls} at once" if self.concurrent_calls > 0 else "no limit at once"
        return f"{rate}, {at_once}"


def admit_locally(state, limits: Limits, now: float) -> float | None:
    """The per-process version of ADMIT_LUA: None when admitted (a token taken), else the seconds to wait."""
    if limits.concurrent_calls > 0:
        state.slots = {holder: end for holder, end in state.slots.items() if end > now}
        if len(state.slots) >= limits.concurrent_calls:
            return SLOT_POLL_SECONDS
    if limits.calls_per_second > 0:
        rate, burst = limits.calls_per_second, limits.burst
        tokens = burst if state.tokens is None else min(burst, state.tokens + max(0.0, now - state.tokens_at) * rate)
        if tokens < 1:
            return (1 - tokens) / rate
        state.tokens, state.tokens_at = tokens - 1, now
    return None


def refusal(limits: Limits, *, waited: float, retry_in: float) -> RateLimited:
    return RateLimited(
        f"Connect's limits for this datasource ({limits.describe()}, shared by all of Connect) were reached: "
        f"this call waited {waited:.1f} s for its turn, then gave up. If the API allows more, raise the limits "
        "on the datasource's edit page.",
        retry_after=math.ceil(max(retry_in, 1.0)),
    )
