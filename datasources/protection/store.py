"""Where the protection state lives: Redis, shared by every process and host, or this process's memory.

Each call makes two atomic steps: `admit` (pause, breaker, limits: one Lua script, one round trip) before it is
sent, and `finish` (give the slot back, the breaker's count, a Retry-After pause, health: one script) after; the
pages of a run (protection.calls_in_a_run) share one admission while it is fresh, and their finishes are sent
together when the run ends. The
scripts are put together from the rules' own fragments (pause.py, breaker.py, limits.py, health.py); the times in
them are Redis's own clock (TIME), so hosts with skewed clocks still agree.

Each thread talks to Redis over a connection of its own, and the finish of an answered call is sent without waiting
for a reply (CLIENT REPLY SKIP): Redis runs a connection's commands in order, so this thread's next admission or read
always comes after it, while the caller does not wait a round trip for it (a round trip and its thread wake-up cost
about as much as the rest of a warm call's overhead). Another process's admission may come a moment before it, as
it may come a moment before any call ends. A finish that changes what other processes decide (a failure, a pause, a
probe's result) is waited for.

Without Redis (REDIS_URL unset, as with `make run`, or Redis not answering), the same rules run in this process's
memory (LocalStore): every limit then holds per process. That is logged once per interval on connect.protection,
and Redis is tried again after CONNECT_CACHE_RETRY_SECONDS.

Keys: the cache's prefix and version (make_key), then protection:{<datasource id>}:<part> (the braces keep a
datasource's keys in one Redis Cluster slot). Ids and bucket numbers only.
"""

import functools
import logging
import select
import threading
import time
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

from connect_project import hot_settings
from connect_project.hot_settings import hot_setting

from . import breaker, health, limits, pause

logger = logging.getLogger("connect.protection")

OK, PROBE, PAUSED, OPEN, PROBING, WAIT = "ok", "probe", "paused", "open", "probing", "wait"


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs several times more, on every call
class Verdict:
    kind: str
    seconds: float = 0.0  # PAUSED, OPEN, PROBING: time left; WAIT: when to try again
    granted: int = 1  # OK, PROBE: the tokens taken (a run's first call may take some for its next ones)
    clock: float | None = None  # OK, PROBE: the store's time of the admission (Redis's clock, or this process's)


@dataclass(slots=True)
class Outcome:
    """What one finished (or refused) call adds to the state; the rules' settings are read when it is written."""

    datasource_id: int
    holder: str = ""  # the concurrency slot to give back
    kind: str = ""  # outcomes.SUCCESS / FAILURE / NEUTRAL; "" when no call was made
    code: str = ""  # health code ("" for an answer)
    status: str = ""  # HTTP status of a failure, as text
    latency_ms: float | None = None  # None: no call made
    probe: bool = False
    retry_after: float = 0.0
    refusal: str = ""  # "rate_limited" when the caller gave up waiting
    refund: int = 0  # tokens taken for a run of calls and not used: given back
    admitted_at: float | None = None  # the store's time of the call's admission (None: not admitted, or bypassed)
    burst: float = 0.0  # the bucket's size, which a refund never exceeds


class StoreUnavailable(Exception):
    """Redis did not answer."""


# --- Redis ---------------------------------------------------------------------------------------------------

# Each script's arguments: first those fixed by the datasource's rules and the settings (packed once per value,
# _packed_head), then those of this call. A finish has one argument per outcome, its fields joined by "|".
OUTCOME_FIELDS = ("outcome", "code", "status", "latency_ms", "probe", "retry_ms", "refusal", "admitted_at")

ADMIT_SCRIPT = "\n".join(
    [
        "local K_PAUSE, K_BREAKER, K_BUCKET, K_SLOTS, K_HEALTH = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]",
        "local rate, burst, max_concurrent = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])",
        "local HEALTH_TTL, holder, hold = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])",
        "local want, take_slot = tonumber(ARGV[7]), ARGV[8] == '1'",
        f"local PROBING_RETRY = {breaker.PROBING_RETRY_SECONDS}",
        "local clock = redis.call('TIME')",
        "local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000",
        health.REFUSAL_LUA,
        pause.ADMIT_LUA,
        breaker.ADMIT_LUA,
        limits.ADMIT_LUA,
        limits.TAKE_SLOT_LUA,
        breaker.CLAIM_LUA,
    ]
)
FINISH_SCRIPT = "\n".join(
    [
        "local K_PAUSE, K_BREAKER, K_SLOTS = KEYS[1], KEYS[2], KEYS[3]",
        "local K_HEALTH, K_LATENCY, K_BUCKET = KEYS[4], KEYS[5], KEYS[6]",
        "local threshold, open_seconds = tonumber(ARGV[1]), tonumber(ARGV[2])",
        "local HEALTH_TTL, SAMPLE_CAP = tonumber(ARGV[3]), tonumber(ARGV[4])",
        "local holder, refund, burst = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])",
        "local clock = redis.call('TIME')",
        "local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000",
        limits.RELEASE_LUA,
        # Then each outcome, in order (one for a call; a run's calls together): its OUTCOME_FIELDS joined by "|".
        "for i = 8, #ARGV do",
        "  local outcome, code, status, latency_ms, probe, retry_ms, refusal, admitted_at = string.match(ARGV[i], "
        "'^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')",
        "  retry_ms, admitted_at = tonumber(retry_ms), tonumber(admitted_at)",
        health.FINISH_LUA,
        pause.FINISH_LUA,
        breaker.FINISH_LUA,
        "end",
        "return 1",
    ]
)


class _Script:
    """A script run by its SHA1 (loaded again when Redis has forgotten it: a restart, SCRIPT FLUSH)."""

    def __init__(self, source: str):
        import hashlib

        self.source = source.encode()
        self.sha = hashlib.sha1(self.source).hexdigest()

    def run(self, conn, keys: list, fixed: tuple, args: list):
        try:
            return conn.evalsha(self.sha, len(keys), *keys, *fixed, *args)
        except _no_script_error():  # Redis restarted or flushed its scripts: load both again
            for script in (_admit_script, _finish_script):
                conn.script_load(script.source)
            return conn.evalsha(self.sha, len(keys), *keys, *fixed, *args)

    def packed(self, keys: list, fixed: tuple, args: list) -> bytes:
        """EVALSHA of this script as the bytes Redis reads (RESP), built here: redis-py's general packer cost about
        as much as the rest of the call's admission. The keys and the fixed arguments are packed once per value."""
        head = _packed_head(self.sha, tuple(keys), fixed, len(args))
        # This call's own arguments are texts and numbers: one format and one encode for all of them, where the
        # texts' lengths are their sizes in bytes (ASCII, as holders, codes and numbers are).
        texts = [a if type(a) is str else repr(a) for a in args]
        body = "".join([f"${len(text)}\r\n{text}\r\n" for text in texts])
        if body.isascii():
            return head + body.encode()
        return head + b"".join([_packed_argument(a) for a in args])


@functools.lru_cache(maxsize=1024)
def _packed_head(sha: str, keys: tuple, fixed: tuple, arg_count: int) -> bytes:
    head = [b"*%d\r\n" % (3 + len(keys) + len(fixed) + arg_count)]
    head += [_packed_argument(part) for part in ("EVALSHA", sha, len(keys), *keys, *fixed)]
    return b"".join(head)


def _packed_argument(value) -> bytes:
    """One bulk string, encoded as redis-py encodes it (str as UTF-8; int and float by repr)."""
    data = value if isinstance(value, bytes) else (value.encode() if isinstance(value, str) else repr(value).encode())
    return b"$%d\r\n%s\r\n" % (len(data), data)


_REPLY_SKIP = b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n"
_admit_script, _finish_script = _Script(ADMIT_SCRIPT), _Script(FINISH_SCRIPT)


def keys_of(datasource_id: int, bucket: int | None = None, *, backend=None) -> dict:
    """The datasource's keys (health and latency: those of `bucket`, by default the current one)."""
    backend = caches["default"] if backend is None else backend
    bucket = health.current_bucket() if bucket is None else bucket
    return _keys(backend.key_func, backend.key_prefix, backend.version, int(datasource_id), bucket)


@functools.lru_cache(maxsize=1024)
def _keys(key_func, key_prefix, version, datasource_id: int, bucket: int) -> dict:
    """What the cache's make_key gives, built once per datasource and 5 minutes (it cost more than the script)."""

    def key(part):
        return key_func(f"protection:{{{datasource_id}}}:{part}", key_prefix, version)

    keys = {part: key(part) for part in ("pause", "breaker", "bucket", "slots")}
    keys |= {"health": key(f"health:{bucket}"), "latency": key(f"latency:{bucket}")}
    # In the order each script reads them (KEYS[1], KEYS[2], ...).
    keys["admit"] = tuple(keys[part] for part in ("pause", "breaker", "bucket", "slots", "health"))
    keys["finish"] = tuple(keys[part] for part in ("pause", "breaker", "slots", "health", "latency", "bucket"))
    return keys


def _no_script_error():
    from redis.exceptions import NoScriptError

    return NoScriptError


def _redis_failures():
    from redis.exceptions import RedisError

    return (RedisError, OSError)


_threads = threading.local()


def _thread_client(raw):
    """This thread's own connection to the Redis of `raw` (django-redis's client), with the scripts loaded."""
    import redis

    client = getattr(_threads, "client", None)
    if client is None or client.connection_pool is not raw.connection_pool:
        if client is not None:
            client.close()
        client = redis.Redis(connection_pool=raw.connection_pool, single_connection_client=True)
        for script in (_admit_script, _finish_script):
            client.script_load(script.source)
        _threads.client = client
    return client


def _forget_thread_client() -> None:
    client = getattr(_threads, "client", None)
    _threads.client = None
    if client is not None:
        try:
            client.close()
        except Exception:  # the connection is already broken: nothing to give back
            pass


class RedisStore:
    shared = True

    def __init__(self, backend):
        self.backend = backend

    @property
    def raw(self):
        """django-redis's client of the cache (asked each time: it is the one that knows a failover or a reset)."""
        return self.backend.client.get_client(write=True)

    def admit(
        self,
        datasource_id: int,
        rules: "limits.Limits",
        *,
        holder: str,
        hold: float,
        want: int = 1,
        take_slot: bool = True,
    ) -> Verdict:
        call = self._admit_call(datasource_id, rules, holder=holder, hold=hold, want=want, take_slot=take_slot)
        return _verdict(self._run(_admit_script.run, *call))

    def admit_soon(
        self,
        datasource_id: int,
        rules: "limits.Limits",
        *,
        holder: str,
        hold: float,
        want: int = 1,
        take_slot: bool = True,
    ):
        """Send the admission now and return a function that reads its verdict: the caller prepares its request
        meanwhile, so the round trip overlaps that work instead of adding to it. Nothing else may use this
        thread's connection before the verdict is read."""
        call = self._admit_call(datasource_id, rules, holder=holder, hold=hold, want=want, take_slot=take_slot)
        try:
            conn = _fresh_thread_connection(self.raw)
            conn.send_packed_command([_admit_script.packed(*call)], check_health=False)
        except _redis_failures() as exc:
            _forget_thread_client()
            raise StoreUnavailable(type(exc).__name__) from exc

        def verdict() -> Verdict:
            try:
                return _verdict(conn.read_response())
            except _no_script_error():  # Redis restarted or flushed its scripts: load them and run it again
                return self.admit(datasource_id, rules, holder=holder, hold=hold, want=want, take_slot=take_slot)
            except _redis_failures() as exc:
                _forget_thread_client()
                raise StoreUnavailable(type(exc).__name__) from exc

        return verdict

    def _admit_call(
        self, datasource_id: int, rules: "limits.Limits", *, holder: str, hold: float, want: int, take_slot: bool
    ):
        k = keys_of(datasource_id, backend=self.backend)
        fixed = (rules.calls_per_second, rules.burst, rules.concurrent_calls, health.TTL_SECONDS)
        args = [holder, round(hold, 3), int(want), "1" if take_slot else "0"]
        return k["admit"], fixed, args

    def finish(self, *outcomes: Outcome, wait: bool = False) -> None:
        """The outcomes, in order, sent in one write and not waited for (see the module docstring), unless `wait`:
        an outcome that changes what other processes decide (a failure, a pause, a probe's result) is in Redis
        before the call returns."""
        call = self._finish_call(outcomes)
        if wait:
            self._run(_finish_script.run, *call)
            return
        try:
            conn = _fresh_thread_connection(self.raw)
            conn.send_packed_command([_REPLY_SKIP + _finish_script.packed(*call)], check_health=False)
        except _redis_failures() as exc:
            _forget_thread_client()
            raise StoreUnavailable(type(exc).__name__) from exc

    def read(self, datasource_id: int) -> dict:
        """The breaker, the pause, the slots in use and the last hour's health buckets, with Redis's time."""
        buckets = health.last_hour()
        try:
            client = _thread_client(self.raw)
            client.ping()  # answered after this thread's last finish has run (the pipeline has its own connection)
            pipe = client.pipeline(transaction=False)
            pipe.time()
            k = keys_of(datasource_id, backend=self.backend)
            pipe.hgetall(k["breaker"])
            pipe.pttl(k["pause"])
            pipe.zcount(k["slots"], time.time(), "+inf")
            for bucket in buckets:
                bk = keys_of(datasource_id, bucket, backend=self.backend)
                pipe.hgetall(bk["health"])
                pipe.lrange(bk["latency"], 0, -1)
            replies = pipe.execute()
        except _redis_failures() as exc:
            _forget_thread_client()
            raise StoreUnavailable(type(exc).__name__) from exc
        (seconds, micros), raw_breaker, pause_ms, in_flight, rest = (
            replies[0],
            replies[1],
            replies[2],
            replies[3],
            replies[4:],
        )
        return {
            "now": seconds + micros / 1e6,
            "breaker": _decoded(raw_breaker),
            "paused_for": max(pause_ms, 0) / 1000,
            "in_flight": in_flight,
            "health": [
                (bucket, _decoded(rest[2 * i]), [float(v) for v in rest[2 * i + 1]]) for i, bucket in enumerate(buckets)
            ],
        }

    def _finish_call(self, outcomes: tuple) -> tuple[tuple, tuple, list]:
        """One finish script for outcomes of one datasource (a call's, or a run's): the slot and the refund once,
        then each outcome."""
        datasource_id = outcomes[0].datasource_id
        holder, refund, burst, fields = "", 0, 0.0, []
        for o in outcomes:
            assert o.datasource_id == datasource_id, "one datasource per finish"
            holder = holder or o.holder
            refund += o.refund
            burst = max(burst, o.burst)
            if o.kind or o.refusal or o.probe or o.retry_after or o.latency_ms is not None:  # not only a release
                fields.append(_outcome_argument(o))
        return (
            keys_of(datasource_id, backend=self.backend)["finish"],
            _finish_fixed(),
            [holder, int(refund), float(burst), *fields],
        )

    def _run(self, run, keys, fixed, args):
        try:
            return run(_thread_client(self.raw), keys, fixed, args)
        except _redis_failures() as exc:
            _forget_thread_client()
            raise StoreUnavailable(type(exc).__name__) from exc


def _finish_fixed() -> tuple:
    """The finish script's fixed arguments."""
    return (
        hot_setting("CONNECT_BREAKER_FAILURES"),
        float(hot_setting("CONNECT_BREAKER_OPEN_SECONDS")),
        health.TTL_SECONDS,
        health.SAMPLE_CAP,
    )


_last_clock_text = (None, "")  # the pages of a run share their admission's time: written once


def _outcome_argument(o: Outcome) -> str:
    """An outcome's OUTCOME_FIELDS joined by "|" (none of them can hold one: kinds, codes, digits)."""
    global _last_clock_text
    latency = "" if o.latency_ms is None else f"{o.latency_ms:.2f}"
    clock, admitted = _last_clock_text
    if o.admitted_at != clock:
        # Six decimals are exact for the store's clock (Redis gives it with at most four), and cost a third of repr().
        admitted = "" if o.admitted_at is None else f"{o.admitted_at:.6f}"
        _last_clock_text = (o.admitted_at, admitted)
    text = (
        f"{o.kind}|{o.code}|{o.status}|{latency}|{'1' if o.probe else '0'}|{int(o.retry_after * 1000)}|"
        f"{o.refusal}|{admitted}"
    )
    assert text.count("|") == len(OUTCOME_FIELDS) - 1, "an outcome's field holds a |"
    return text


def _verdict(reply) -> Verdict:
    kind, value = reply[0], reply[1]
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind in (OK, PROBE):
        return Verdict(kind, granted=int(value), clock=float(reply[2]))
    return Verdict(kind, seconds=float(value))


def _fresh_thread_connection(raw):
    """This thread's connection, opened again (with the scripts loaded again: a restarted Redis has forgotten them,
    and a skipped reply would hide the NOSCRIPT error) when Redis closed it."""
    client = _thread_client(raw)
    conn = client.connection
    if _closed_by_server(conn):
        conn.disconnect()
        for script in (_admit_script, _finish_script):
            client.script_load(script.source)
    return conn


def _closed_by_server(conn) -> bool:
    """No reply is ever due on a thread's connection between commands: anything to read means Redis closed it
    (an idle timeout, a restart), which a send alone would not notice. One poll of the socket (redis is pinned; the
    tests close the connection from Redis's side); redis-py's can_read where that is not possible."""
    if not hasattr(conn, "_sock") or not hasattr(select, "poll"):
        try:
            return conn.can_read(timeout=0)
        except _redis_failures():
            return True
    sock = conn._sock
    if sock is None:  # never connected, or dropped after an error: connected again and the scripts loaded
        return True
    try:
        if getattr(sock, "pending", None) is not None and sock.pending():  # TLS bytes already decrypted
            return True
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    except (OSError, ValueError):  # a socket already closed here
        return True


def _decoded(mapping: dict) -> dict:
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in mapping.items()
    }


# --- this process's memory -----------------------------------------------------------------------------------


class LocalState:
    """One datasource's state in this process: what the Redis keys hold, as attributes."""

    def __init__(self):
        self.paused_until = 0.0
        self.breaker: dict = {}
        self.tokens: float | None = None
        self.tokens_at = 0.0
        self.slots: dict[str, float] = {}
        self.counts: dict[int, Counter] = {}
        self.latencies: dict[int, list] = {}

    def health_counts(self, bucket: int) -> Counter:
        oldest = bucket - health.BUCKETS
        for old in [b for b in self.counts if b <= oldest]:
            self.counts.pop(old, None)
            self.latencies.pop(old, None)
        return self.counts.setdefault(bucket, Counter())

    def count_refusal(self, field: str, now: float) -> None:
        self.health_counts(health.current_bucket(now))[field] += 1


class LocalStore:
    """The same rules as the scripts, per process (wall-clock time, one lock)."""

    shared = False

    def __init__(self):
        self._lock = threading.Lock()
        self._states: dict[int, LocalState] = {}

    def _state(self, datasource_id: int) -> LocalState:
        return self._states.setdefault(datasource_id, LocalState())

    def admit(
        self,
        datasource_id: int,
        rules: "limits.Limits",
        *,
        holder: str,
        hold: float,
        want: int = 1,
        take_slot: bool = True,
    ) -> Verdict:
        now = time.time()
        with self._lock:
            state = self._state(datasource_id)
            paused = pause.admit_locally(state, now)
            if paused is not None:
                return Verdict(PAUSED, seconds=paused)
            refused, probe = breaker.admit_locally(state, now)
            if refused:
                return Verdict(refused, seconds=probe)
            wait, granted = limits.admit_locally(state, rules, now, want=want, take_slot=take_slot, probe=probe)
            if wait is not None:
                return Verdict(WAIT, seconds=wait)
            if take_slot:
                limits.take_slot_locally(state, rules, now, holder, hold)
            if probe:
                breaker.claim_locally(state, now, hold)
            return Verdict(PROBE if probe else OK, granted=granted, clock=now)

    def admit_soon(
        self,
        datasource_id: int,
        rules: "limits.Limits",
        *,
        holder: str,
        hold: float,
        want: int = 1,
        take_slot: bool = True,
    ):
        verdict = self.admit(datasource_id, rules, holder=holder, hold=hold, want=want, take_slot=take_slot)
        return lambda: verdict

    def finish(self, *outcomes: Outcome, wait: bool = False) -> None:
        for outcome in outcomes:
            self._finish_one(outcome)

    def _finish_one(self, outcome: Outcome) -> None:
        now = time.time()
        with self._lock:
            state = self._state(outcome.datasource_id)
            limits.release_locally(state, outcome.holder, refund=outcome.refund, burst=outcome.burst)
            health.finish_locally(state, now, code=outcome.code, latency_ms=outcome.latency_ms, refusal=outcome.refusal)
            pause.finish_locally(state, now, outcome.retry_after)
            breaker.finish_locally(
                state,
                now,
                outcome=outcome.kind,
                code=outcome.code,
                status=outcome.status,
                probe=outcome.probe,
                admitted_at=outcome.admitted_at,
            )

    def read(self, datasource_id: int) -> dict:
        now = time.time()
        with self._lock:
            state = self._state(datasource_id)
            return {
                "now": now,
                "breaker": dict(state.breaker),
                "paused_for": max(0.0, state.paused_until - now),
                "in_flight": sum(1 for deadline in state.slots.values() if deadline > now),
                "health": [
                    (bucket, dict(state.counts.get(bucket, {})), list(state.latencies.get(bucket, [])))
                    for bucket in health.last_hour(now)
                ],
            }


# --- which one ----------------------------------------------------------------------------------------------


class Stores:
    """Redis when it is configured and answering, else this process's LocalStore (said once per interval)."""

    def __init__(self):
        self.local = LocalStore()
        self._lock = threading.Lock()
        self.down_until = 0.0
        self.last_warning_at: float | None = None

    def current(self):
        # Found again only when a setting changed (tests): asking the cache handler on every call cost more than
        # the rest of finding the store.
        known, generation = getattr(_threads, "store_of", None), hot_settings.generation()
        if known is None or known[0] != generation:
            backend = caches["default"]  # per thread, and new when the cache settings change (tests)
            known = _threads.store_of = (generation, RedisStore(backend) if _is_redis(backend) else None)
        if known[1] is None:
            self._warn("no Redis is configured (REDIS_URL is unset)")
            return self.local
        if time.monotonic() < self.down_until:
            return self.local
        return known[1]

    def failed(self, reason: str) -> None:
        """Redis did not answer: use this process's memory for a while."""
        self.down_until = time.monotonic() + settings.CONNECT_CACHE_RETRY_SECONDS
        self._warn(f"Redis did not answer ({reason})")

    def reset(self) -> None:
        hot_settings.forget()  # and each thread finds its store again
        with self._lock:
            self.local = LocalStore()
            self.down_until = 0.0
            self.last_warning_at = None

    def _warn(self, why: str) -> None:
        now = time.monotonic()
        with self._lock:
            if (
                self.last_warning_at is not None
                and now - self.last_warning_at < settings.CONNECT_CACHE_WARNING_INTERVAL_SECONDS
            ):
                return
            self.last_warning_at = now
        logger.warning(
            "Call limits, Retry-After pauses and circuit breakers are kept per process for now: %s. "
            "Each process enforces the datasources' limits on its own meanwhile.",
            why,
        )


def _is_redis(backend) -> bool:
    try:
        from django_redis.cache import RedisCache
    except ImportError:  # pragma: no cover - django-redis is a dependency
        return False
    return isinstance(backend, RedisCache)


stores = Stores()
