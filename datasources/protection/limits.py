"""A datasource's call limits, shared by every process through Redis: calls per second and concurrent calls.

- Calls per second: a token bucket holding up to `burst` tokens, one second's worth of calls (at least 1), refilled
  continuously at the rate; each call takes a token. From idle, up to `burst` calls may start at once, then the rate
  holds: over any L seconds at most burst + rate × L calls start (in any one second at most 2 × rate; sustained,
  the rate). The burst is what lets a few people typing at once be answered at once.
- Concurrent calls: a sorted set of slot holders, each scored with a deadline (the call's deadline plus a margin).
  A call takes a slot and gives it back when it ends, on every path; a holder past its deadline (a process that
  crashed mid-call) is purged by the next admission, so no slot is held forever.
Both are taken by one atomic script (store.py), together or not at all: a caller waiting for a slot burns no token.
- A run of calls (the pages of one resolution, made one after another): its first admission takes one slot for the
  whole run and up to as many tokens as the run may need (never more than the bucket holds, at least one); the
  next pages use them without asking again, and the tokens not used are given back when the run ends (see
  protection.calls_in_a_run).
0 means no limit. A caller over a limit tries again (at the time the bucket gives, or every SLOT_POLL_SECONDS for
a slot) for up to CONNECT_RATE_LIMIT_WAIT_SECONDS, inside the call's deadline, then gets RateLimited.
"""

import math
from dataclasses import dataclass

from datasources.services.errors import RateLimited

SLOT_POLL_SECONDS = 0.02
SLOT_MARGIN_SECONDS = 1.0  # a slot outlives its call's deadline by this much

ADMIT_LUA = f"""
if take_slot and max_concurrent > 0 then
  redis.call('ZREMRANGEBYSCORE', K_SLOTS, '-inf', now)
  if redis.call('ZCARD', K_SLOTS) >= max_concurrent then return {{'wait', '{SLOT_POLL_SECONDS}'}} end
end
if probe and want > 1 then want = 1 end
local granted = want
if rate > 0 and want > 0 then
  local bucket = redis.call('HMGET', K_BUCKET, 'tokens', 'at')
  local tokens = burst
  if bucket[1] then
    tokens = math.min(burst, tonumber(bucket[1]) + math.max(0, now - tonumber(bucket[2])) * rate)
  end
  if tokens < 1 then return {{'wait', tostring((1 - tokens) / rate)}} end
  granted = math.min(want, math.floor(tokens))
  redis.call('HSET', K_BUCKET, 'tokens', tostring(tokens - granted), 'at', tostring(now))
  redis.call('EXPIRE', K_BUCKET, math.ceil(burst / rate) + 1)
end
"""
TAKE_SLOT_LUA = """
if take_slot and max_concurrent > 0 then
  redis.call('ZADD', K_SLOTS, now + hold, holder)
  if redis.call('TTL', K_SLOTS) < math.ceil(hold) + 1 then redis.call('EXPIRE', K_SLOTS, math.ceil(hold) + 1) end
end
"""
RELEASE_LUA = """
if holder ~= '' then redis.call('ZREM', K_SLOTS, holder) end
if refund > 0 then
  local tokens = tonumber(redis.call('HGET', K_BUCKET, 'tokens'))
  if tokens then redis.call('HSET', K_BUCKET, 'tokens', tostring(math.min(burst, tokens + refund))) end
end
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


def admit_locally(state, limits: Limits, now: float, *, want: int = 1, take_slot: bool = True, probe: bool = False):
    """The per-process version of ADMIT_LUA: (None, tokens granted) when admitted, else (seconds to wait, 0)."""
    if take_slot and limits.concurrent_calls > 0:
        for holder, deadline in list(state.slots.items()):
            if deadline <= now:
                del state.slots[holder]
        if len(state.slots) >= limits.concurrent_calls:
            return SLOT_POLL_SECONDS, 0
    want = min(want, 1) if probe else want
    if limits.calls_per_second > 0 and want > 0:
        rate, burst = limits.calls_per_second, limits.burst
        tokens = burst if state.tokens is None else min(burst, state.tokens + max(0.0, now - state.tokens_at) * rate)
        if tokens < 1:
            return (1 - tokens) / rate, 0
        granted = min(want, math.floor(tokens))
        state.tokens, state.tokens_at = tokens - granted, now
        return None, granted
    return None, want


def take_slot_locally(state, limits: Limits, now: float, holder: str, hold: float) -> None:
    if limits.concurrent_calls > 0:
        state.slots[holder] = now + hold


def release_locally(state, holder: str, *, refund: int = 0, burst: float = 0.0) -> None:
    state.slots.pop(holder, None)
    if refund > 0 and state.tokens is not None:
        state.tokens = min(burst, state.tokens + refund)


def refusal(limits: Limits, *, waited: float, retry_in: float) -> RateLimited:
    return RateLimited(
        f"Connect's limits for this datasource ({limits.describe()}, shared by all of Connect) were reached: "
        f"this call waited {waited:.1f} s for its turn, then gave up. If the API allows more, raise the limits "
        "on the datasource's edit page.",
        retry_after=math.ceil(max(retry_in, 1.0)),
    )
