"""A datasource's call limits, shared by every process through Redis: calls per second and concurrent calls.

- Calls per second: a token bucket holding up to `burst` tokens, one second's worth of calls (at least 1), refilled
  continuously at the rate; each call takes a token. From idle, up to `burst` calls may start at once, then the rate
  holds: over any L seconds at most burst + rate × L calls start (in any one second at most 2 × rate; sustained,
  the rate). The burst is what lets a few people typing at once be answered at once.
- Concurrent calls: a sorted set of slot holders, each scored with a deadline (the call's deadline plus a margin).
  A call takes a slot and gives it back when it ends, on every path; a holder past its deadline (a process that
  crashed mid-call) is purged by the next admission, so no slot is held forever.
Both are taken by one atomic script (store.py), together or not at all: a caller waiting for a slot burns no token.
0 means no limit. A caller over a limit tries again (at the time the bucket gives, or every SLOT_POLL_SECONDS for
a slot) for up to CONNECT_RATE_LIMIT_WAIT_SECONDS, inside the call's deadline, then gets RateLimited.
"""
import math
from dataclasses import dataclass

from ..errors import RateLimited

SLOT_POLL_SECONDS = 0.02
SLOT_MARGIN_SECONDS = 1.0  # a slot outlives its call's deadline by this much

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
TAKE_SLOT_LUA = """
if max_concurrent > 0 then
  redis.call('ZADD', K_SLOTS, now + hold, holder)
  if redis.call('TTL', K_SLOTS) < math.ceil(hold) + 1 then redis.call('EXPIRE', K_SLOTS, math.ceil(hold) + 1) end
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

    @property
    def any(self) -> bool:
        return self.calls_per_second > 0 or self.concurrent_calls > 0

    def describe(self) -> str:
        rate = f"{self.calls_per_second:g} calls per second" if self.calls_per_second > 0 else "no rate limit"
        at_once = f"{self.concurrent_calls} at once" if self.concurrent_calls > 0 else "no limit at once"
        return f"{rate}, {at_once}"


def admit_locally(state, limits: Limits, now: float):
    """The per-process version of ADMIT_LUA: None when admitted (token taken), else seconds to wait."""
    if limits.concurrent_calls > 0:
        for holder, deadline in list(state.slots.items()):
            if deadline <= now:
                del state.slots[holder]
        if len(state.slots) >= limits.concurrent_calls:
            return SLOT_POLL_SECONDS
    if limits.calls_per_second > 0:
        rate, burst = limits.calls_per_second, limits.burst
        tokens = burst if state.tokens is None else min(burst, state.tokens + max(0.0, now - state.tokens_at) * rate)
        if tokens < 1:
            return (1 - tokens) / rate
        state.tokens, state.tokens_at = tokens - 1, now
    return None


def take_slot_locally(state, limits: Limits, now: float, holder: str, hold: float) -> None:
    if limits.concurrent_calls > 0:
        state.slots[holder] = now + hold


def release_locally(state, holder: str) -> None:
    state.slots.pop(holder, None)


def refusal(limits: Limits, *, waited: float, retry_in: float) -> RateLimited:
    return RateLimited(
        f"Connect's limits for this datasource ({limits.describe()}, shared by all of Connect) were reached: "
        f"this call waited {waited:.1f} s for its turn, then gave up. If the API allows more, raise the limits "
        "on the datasource's edit page.", retry_after=math.ceil(max(retry_in, 1.0)))
