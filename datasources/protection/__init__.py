"""Protecting the APIs Connect calls (SPEC 8): every outbound call goes through `guarded_call`.

Before a call is sent: a Retry-After pause (pause.py), the circuit breaker (breaker.py) and the datasource's limits
(limits.py) may refuse it; a caller over a limit waits briefly first. After it: its slot is given back and its
outcome recorded (the breaker's count, a new pause, the health figures: health.py). All of it is shared by every
process through Redis (store.py), or kept per process while there is none.
The client calls this from one place (client.call_datasource); stale-if-error, which answers instead of some of
these errors, is item resolution's (items/services/resolution.py), with `allows_stale` deciding which.

The pages of one resolution are a run (`calls_in_a_run`): one slot for the run, tokens for its next pages taken
with the first admission, no new round trip for a page sent soon after the run's last admission, and the pages'
outcomes sent together when the run ends (at once when one of them decides something: a failure, a pause, a probe).

A datasource without limits (no rate, no concurrent calls) has nothing to count at admission: only the pause and the
breaker are asked. Their answer is reused by this process's calls to it for RUN_FRESH_SECONDS (recent.py), as a run's
pages reuse theirs; this process's own failure, pause, probe or refusal makes its next calls ask Redis again.
"""

import contextlib
import contextvars
import dataclasses
import random
import time
from dataclasses import dataclass

from connect_project import hot_settings
from connect_project.hot_settings import hot_setting
from datasources.services import transport
from datasources.services.errors import DatasourceError, HTTPStatusError, ProtectionRefusal
from operations.metrics import record_protection_event

from . import breaker, health, limits, outcomes, pause
from .outcomes import allows_stale
from .recent import recent
from .store import OK, OPEN, PAUSED, PROBE, PROBING, WAIT, Outcome, StoreUnavailable, stores

__all__ = ["ProtectionStatus", "allows_stale", "breaker_state", "calls_in_a_run", "guarded_call", "reset", "status_for"]

# A run's next call (and, for a datasource without limits, this process's next call) goes without a new admission
# only this soon after the last one: the pause and breaker it was admitted under are then at most this old, as they
# are for any call still on its way when they change.
RUN_FRESH_SECONDS = 0.25


@dataclass(slots=True)
class Ticket:
    """An admitted call: the slot it holds, whether it is the breaker's probe, where it was admitted."""

    holder: str = ""
    probe: bool = False
    store: object = None
    admitted_at: float | None = None  # when the call passed its gate: its latency is counted from there
    clock: float | None = None  # the store's time of the admission (breaker.py: an older answer does not close it)


def guarded_call(*, datasource, send, enforce: bool = True):
    """send(gate=...) makes the call (returns the answer or raises DatasourceError); it calls gate() right before
    anything goes on the network, and gate() admits the call or raises the refusal. The admission is sent to Redis
    at once and its verdict read by gate(), so the round trip overlaps the request's preparation. enforce=False
    (Test connection) skips the pause, the breaker and the limits but still records the outcome."""
    datasource_id = datasource.pk
    if datasource_id is None:  # a datasource being created has no shared state yet
        return send(gate=_open_gate)
    run = _run.get()
    if run is not None and (run.datasource_id != datasource_id or not enforce):
        run = None
    with transport.call_deadline():  # the wait for a turn counts inside the call's deadline
        admission = (run.admission() if run is not None else _admission(datasource)) if enforce else None
        started = time.monotonic()
        try:
            answer = send(gate=admission.wait if admission else _open_gate)
        except ProtectionRefusal:
            raise  # refused by gate(): nothing was sent, and the refusal is already counted
        except DatasourceError as error:
            _finish(datasource, _ticket(admission), started, error=error, run=run)
            raise
        except BaseException:
            _finish(datasource, _ticket(admission), started, unexpected=True, run=run)
            raise
        _finish(datasource, _ticket(admission), started, answer=answer, run=run)
        return answer


@contextlib.contextmanager
def calls_in_a_run(datasource, *, calls: int):
    """The calls to `datasource` made inside, one after another and at most `calls` of them (the pages of one
    resolution), are one run: its first admission takes one concurrency slot for the whole run and up to `calls`
    tokens (as many as the bucket holds, at least one); a next call sent within RUN_FRESH_SECONDS of the run's last
    admission uses a token taken then, without a round trip (later, it is admitted again: pause and breaker checked,
    the slot kept); the calls' outcomes are sent together when the run ends, with the slot and the tokens not used
    given back. An outcome that decides something for other callers (a failure, a pause, a probe's result) is
    sent at once, after those before it."""
    if datasource.pk is None or calls < 2 or _run.get() is not None:
        yield
        return
    run = Run(datasource, calls)
    token = _run.set(run)
    try:
        yield
    finally:
        _run.reset(token)
        run.end()


_run: contextvars.ContextVar["Run | None"] = contextvars.ContextVar("connect_protection_run", default=None)


class Run:
    """The state of one run of calls (calls_in_a_run)."""

    def __init__(self, datasource, calls: int):
        self.datasource, self.datasource_id, self.calls = datasource, datasource.pk, calls
        self.holder = _new_holder()
        self.made = 0  # calls admitted or being admitted
        self.spare = 0  # tokens taken for the run's next calls and not used yet
        self.holds_slot = False
        self.store = None  # where the run's slot and tokens were taken (Redis, or this process while it is down)
        self.checked_at: float | None = None  # when the run's last admission was given (monotonic)
        self.clock: float | None = None  # and its time on the store's clock
        self.outcomes: list[Outcome] = []

    def admission(self):
        self.made += 1
        current = stores.current()
        if self.store is not None and self.store.shared != current.shared:
            # Redis went down (what the run holds there expires by itself) or came back: the run goes on from
            # scratch on the other store.
            self._close_part(store_down=self.store.shared)
        fresh = self.checked_at is not None and time.monotonic() - self.checked_at <= RUN_FRESH_SECONDS
        if self.spare > 0 and fresh:
            self.spare -= 1
            return Admitted(self)
        # With tokens left, only the pause and the breaker are asked again; else tokens for the rest of the run,
        # never more than half the bucket (one second's calls), so that a run does not keep others waiting.
        rules = limits.Limits.of(self.datasource)
        reused = _reused(self.datasource_id, rules, current)
        if reused is not None:
            return reused
        cap = max(1, int(rules.burst // 2)) if rules.calls_per_second > 0 else self.calls
        want = 0 if self.spare > 0 else min(self.calls - self.made + 1, cap)
        return Admission(
            self.datasource,
            holder=self.holder,
            want=want,
            take_slot=not self.holds_slot,
            run=self,
            store=current,
            rules=rules,
        )

    def admitted(self, store, verdict, *, want: int, used: bool) -> None:
        if self.store is not None and store.shared != self.store.shared:
            # Redis failed during this admission, which was made in this process's memory instead (without a slot):
            # what the run holds in Redis expires by itself, its outcomes so far are kept here.
            self._close_part(store_down=True)
            self.store, self.checked_at, self.clock = store, time.monotonic(), verdict.clock
            self.spare = max(0, (verdict.granted if want else 0) - (1 if used else 0))
            return
        self.checked_at, self.clock, self.holds_slot = time.monotonic(), verdict.clock, True
        self.store = store
        taken = verdict.granted if want else 0  # tokens taken now (a check-only admission takes none)
        self.spare = max(0, self.spare + taken - (1 if used else 0))

    def record(self, outcome: Outcome, *, decides: bool) -> None:
        self.outcomes.append(outcome)
        if decides:
            self._send(wait=True)

    def end(self) -> None:
        self._close_part()

    def _close_part(self, *, store_down: bool = False) -> None:
        """Send the outcomes, give back the slot and the tokens not used, where they were taken; with store_down
        (Redis no longer answers), the outcomes go to this process's memory and nothing is given back."""
        if store_down:
            pending, self.outcomes = self.outcomes, []
            if pending:
                _write(stores.local, *pending)
        elif self.holds_slot or self.spare:  # given back with the outcomes, in the same script
            self.outcomes.append(
                Outcome(
                    datasource_id=self.datasource_id,
                    holder=self.holder if self.holds_slot else "",
                    refund=self.spare,
                    burst=limits.Limits.of(self.datasource).burst,
                )
            )
        self._send(wait=False)
        self.holds_slot, self.spare = False, 0
        self.store, self.checked_at, self.clock = None, None, None

    def _send(self, *, wait: bool) -> None:
        outcomes, self.outcomes = self.outcomes, []
        if outcomes:
            _write(self.store or stores.current(), *outcomes, wait=wait)


class Admitted:
    """A run's call admitted by the run's last admission: nothing to ask."""

    def __init__(self, run: Run):
        self.run, self.ticket = run, None

    def wait(self) -> None:
        if self.ticket is None:
            self.ticket = Ticket(store=self.run.store, admitted_at=time.monotonic(), clock=self.run.clock)

    def settled(self) -> "Ticket":
        if self.ticket is None:  # failed before it was sent: its token is the run's again
            self.run.spare += 1
        return self.ticket or Ticket(store=self.run.store)


class Reused:
    """A call admitted by this process's recent admission of its datasource (Recent): nothing to ask."""

    def __init__(self, store, clock: float | None):
        self.store, self.clock, self.ticket = store, clock, None

    def wait(self) -> None:
        if self.ticket is None:
            self.ticket = Ticket(store=self.store, admitted_at=time.monotonic(), clock=self.clock)

    def settled(self) -> "Ticket":
        return self.ticket or Ticket(store=self.store)


def _reused(datasource_id: int, rules: "limits.Limits", store) -> "Reused | None":
    found = recent.reuse(datasource_id, rules, store, fresh_seconds=RUN_FRESH_SECONDS)
    return Reused(store, found[0]) if found is not None else None


def _admission(datasource):
    """A call's admission outside a run: this process's recent one when it may be reused, else asked."""
    current = stores.current()
    rules = limits.Limits.of(datasource)
    return _reused(datasource.pk, rules, current) or Admission(datasource, store=current, rules=rules)


def _open_gate() -> None:
    pass


def _new_holder() -> str:
    """A concurrency slot's holder: 128 random bits in hex, as a UUID4's, without a system call (random is seeded
    again in each forked worker, so processes never share a sequence)."""
    return f"{random.getrandbits(128):032x}"


def _ticket(admission) -> "Ticket":
    return admission.settled() if admission is not None else Ticket()


class Admission:
    """One call's admission: sent when the call starts, its verdict read by wait() before the call goes out."""

    def __init__(
        self,
        datasource,
        *,
        holder: str = "",
        want: int = 1,
        take_slot: bool = True,
        run: "Run | None" = None,
        store=None,
        rules: "limits.Limits | None" = None,
    ):
        self.datasource, self.want, self.take_slot, self.run = datasource, want, take_slot, run
        self.datasource_id = datasource.pk
        self.rules = rules or limits.Limits.of(datasource)
        self.began = time.monotonic()
        self.give_up_at = self.began + max(
            0.0, min(float(hot_setting("CONNECT_RATE_LIMIT_WAIT_SECONDS")), transport.time_left())
        )
        self.holder, self.redis_failed, self.ticket = holder or _new_holder(), False, None
        self.recent_epoch, self.generation = recent.epoch(self.datasource_id), hot_settings.generation()
        self.store, self._pending = self._ask(soon=True, store=store)

    def wait(self) -> None:
        """Admit the call (waiting up to the bound for a turn) or raise the refusal; once admitted, a no-op."""
        while self.ticket is None:
            verdict = self._verdict()
            if verdict.kind in (OK, PROBE):
                self._admitted(verdict, sent=True)
                return
            recent.forget(self.datasource_id)  # refused (or waiting: a datasource with limits, never kept)
            if verdict.kind == PAUSED:
                raise pause.refusal(verdict.seconds)
            if verdict.kind in (OPEN, PROBING):
                raise breaker.refusal(verdict.kind, verdict.seconds)
            assert verdict.kind == WAIT, verdict
            left = self.give_up_at - time.monotonic()
            if left <= 0:
                _write(self.store, Outcome(datasource_id=self.datasource_id, refusal="rate_limited"))
                raise limits.refusal(self.rules, waited=time.monotonic() - self.began, retry_in=verdict.seconds)
            # A little jitter, so that waiting callers do not all come back at the same instant.
            time.sleep(min(left, max(verdict.seconds, 0.005) * random.uniform(1.0, 1.3)))
            self.store, self._pending = self._ask(soon=False)

    def settled(self) -> "Ticket":
        """The ticket to finish with. A call that failed before its gate still reads its verdict (the reply is due
        on this thread's connection), once, and gives back a slot it was given; it never waits for a turn."""
        if self.ticket is None and self._pending is not None:
            verdict = self._verdict()
            if verdict.kind in (OK, PROBE):
                self._admitted(verdict, sent=False)
        return self.ticket or Ticket()

    def _admitted(self, verdict, *, sent: bool) -> None:
        # A run's call leaves its slot to the run, which gives it back when it ends.
        self.ticket = Ticket(
            holder=self.holder if self.run is None else "",
            probe=verdict.kind == PROBE,
            store=self.store,
            admitted_at=time.monotonic() if sent else None,
            clock=verdict.clock,
        )
        if verdict.kind == OK and self.store.shared and not self.rules.any:
            recent.keep(
                self.datasource_id,
                verdict.clock,
                sent_at=self.began,
                epoch=self.recent_epoch,
                generation=self.generation,
            )
        if self.run is not None:
            self.run.admitted(self.store, verdict, want=self.want, used=sent)

    def _ask(self, *, soon: bool, store=None):
        """Send the admission (to `store`, the current one when it is not given)."""
        while True:
            store = stores.local if self.redis_failed else (store or stores.current())
            hold = max(transport.time_left(), 0.0) + limits.SLOT_MARGIN_SECONDS
            try:
                asked = {"holder": self.holder, "hold": hold, "want": self.want, "take_slot": self.take_slot}
                if soon:
                    return store, store.admit_soon(self.datasource_id, self.rules, **asked)
                verdict = store.admit(self.datasource_id, self.rules, **asked)
                return store, lambda verdict=verdict: verdict
            except StoreUnavailable as exc:
                stores.failed(str(exc))
                self.redis_failed = True  # this call goes on in this process's memory

    def _verdict(self):
        """The verdict asked last (read once)."""
        pending, self._pending = self._pending, None
        try:
            return pending()
        except StoreUnavailable as exc:
            stores.failed(str(exc))
            self.redis_failed = True
            store, pending = self._ask(soon=False)
            self.store = store
            return pending()


def _finish(
    datasource, ticket: Ticket, started: float, *, answer=None, error=None, unexpected=False, run: Run | None = None
) -> None:
    latency_ms = (time.monotonic() - (ticket.admitted_at or started)) * 1000
    if answer is not None and answer.status_code < 400 and error is None and not unexpected:
        # An answer without an error status (the most common outcome): a success that decides nothing by itself.
        outcome = Outcome(
            datasource_id=datasource.pk,
            holder=ticket.holder,
            kind=outcomes.SUCCESS,
            latency_ms=latency_ms,
            probe=ticket.probe,
            admitted_at=ticket.clock,
        )
    else:
        outcome = _outcome_of(datasource, ticket, latency_ms, answer=answer, error=error, unexpected=unexpected)
    decides = outcome.kind == outcomes.FAILURE or outcome.retry_after > 0 or ticket.probe
    if decides:
        recent.forget(datasource.pk)  # this process's next calls ask Redis from now on
    try:
        if run is not None:
            run.record(outcome, decides=decides)
        else:
            _write(ticket.store or stores.current(), outcome, wait=decides)
    finally:
        if decides:  # and an "ok" Redis gave another thread before this outcome was written is not kept
            recent.forget(datasource.pk)


def _outcome_of(datasource, ticket: Ticket, latency_ms: float, *, answer, error, unexpected) -> Outcome:
    status = answer.status_code if answer is not None else getattr(error, "status_code", None)
    if unexpected:
        kind, code = outcomes.NEUTRAL, "unexpected_error"
    else:
        kind = outcomes.classify(error=error, status_code=status)
        code = outcomes.health_code(error=error, status_code=status)
    header = None
    if status in pause.PAUSING_STATUSES:  # Retry-After means nothing with another status
        header = (
            answer.header("Retry-After")
            if answer is not None
            else (error.retry_after_header if isinstance(error, HTTPStatusError) else None)
        )
    outcome = Outcome(
        datasource_id=datasource.pk,
        holder=ticket.holder,
        kind=kind,
        code=code,
        status=str(status) if status is not None and kind == outcomes.FAILURE else "",
        latency_ms=latency_ms,
        probe=ticket.probe,
        admitted_at=ticket.clock,
        retry_after=pause.retry_after_seconds(status_code=status, header=header),
    )
    if outcome.retry_after > 0:
        record_protection_event(datasource_id=datasource.pk, event="retry_after")
    return outcome


def _write(store, *outcome: Outcome, wait: bool = False) -> None:
    """Sent before the call returns (store.py: this thread's next admission or read comes after it); with `wait`,
    in Redis before it returns, for every process. When Redis fails, the outcomes go to this process's memory,
    without a refund of tokens it never gave."""
    try:
        store.finish(*outcome, wait=wait)
    except StoreUnavailable as exc:
        stores.failed(str(exc))
        stores.local.finish(*(dataclasses.replace(o, refund=0) if o.refund else o for o in outcome))


# --- what pages show ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtectionStatus:
    limits: limits.Limits
    breaker: breaker.BreakerState
    paused_for: float  # seconds left of a Retry-After pause (0: none)
    in_flight: int
    health: health.HealthSummary
    shared: bool  # read from Redis (every process); False: this process only


def status_for(datasource) -> ProtectionStatus:
    raw, shared = _read(datasource)
    return ProtectionStatus(
        limits=limits.Limits.of(datasource),
        breaker=breaker.state_from(raw["breaker"], now=raw["now"]),
        paused_for=raw["paused_for"],
        in_flight=raw["in_flight"],
        health=health.summary_from(raw["health"]),
        shared=shared,
    )


def breaker_state(datasource) -> breaker.BreakerState:
    raw, _shared = _read(datasource)
    return breaker.state_from(raw["breaker"], now=raw["now"])


def _read(datasource) -> tuple[dict, bool]:
    store = stores.current()
    try:
        return store.read(datasource.pk), store.shared
    except StoreUnavailable as exc:
        stores.failed(str(exc))
        return stores.local.read(datasource.pk), False


def reset() -> None:
    """Forget this process's own state and Redis's down-time (tests: no test inherits another's)."""
    stores.reset()
    recent.clear()
