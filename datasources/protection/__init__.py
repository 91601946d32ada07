"""Protecting the APIs Connect calls (SPEC 8): every outbound call goes through `guarded_call` (guard.py).

The rules, each a Lua fragment for Redis and its Python twin: limits.py, pause.py (Retry-After), breaker.py,
health.py; outcomes.py says what a finished call means for them. store.py runs them in Redis, local.py in this
process's memory. What pages show of it: datasources/protection_status.py."""

from .guard import guarded_call, read_state, reset
from .outcomes import allows_stale

__all__ = ["allows_stale", "guarded_call", "read_state", "reset"]
