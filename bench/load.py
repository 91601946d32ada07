"""Small HTTP load generators: N keep-alive connections (http.client, one thread each) for a fixed time, spread over
one or several ports (several server instances), and people typing in a connected field (one thread and connection
each, a request per keystroke)."""

import http.client
import statistics
import threading
import time


def run_load(
    *,
    port: int = 0,
    ports: tuple[int, ...] = (),
    path: str,
    headers: dict,
    connections: int,
    seconds: float,
    method: str = "GET",
    body: bytes | None = None,
) -> dict:
    """Requests/s over the run, p50/p99 latency in ms, and the number of non-200 answers. Connection i goes to
    ports[i % len(ports)] (or to `port`); each request is `method` with `body`."""
    ports = ports or (port,)
    latencies, failures = [], []
    lock = threading.Lock()
    start = threading.Barrier(connections + 1)
    stop_at = [0.0]

    def client(number):
        conn = http.client.HTTPConnection("127.0.0.1", ports[number % len(ports)], timeout=10)
        mine, bad = [], 0
        start.wait()
        while time.perf_counter() < stop_at[0]:
            began = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                bad += response.status != 200
            except (OSError, http.client.HTTPException):
                conn.close()  # the server closed a kept-alive connection: reconnect on the next request
                bad += 1
                continue
            mine.append(time.perf_counter() - began)
        conn.close()
        with lock:
            latencies.extend(mine)
            failures.append(bad)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "requests": len(latencies),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "failures": sum(failures),
    }


def _get(conn: http.client.HTTPConnection, path: str, headers: dict) -> int:
    """One request on a typist's keep-alive connection: the answer's status, 0 when none came (the connection is
    closed; the next request opens it again)."""
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        conn.close()
        return 0


def run_typists(*, port: int, path_for, headers: dict, typists: int, keystrokes: int, pause: float) -> dict:
    """Each typist types `keystrokes` keys, `pause` seconds apart, and waits for each answer (path_for(typist, key)
    is the request of a keystroke); all start together. Latencies in s and answers' statuses."""
    latencies, statuses, lock = [], [], threading.Lock()
    start = threading.Barrier(typists + 1)

    def typist(number):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine, codes = [], []
        start.wait()
        for key in range(keystrokes):
            if key:
                time.sleep(pause)
            began = time.perf_counter()
            codes.append(_get(conn, path_for(number, key), headers))
            mine.append(time.perf_counter() - began)
        conn.close()
        with lock:
            latencies.extend(mine)
            statuses.extend(codes)

    threads = [threading.Thread(target=typist, args=(n,)) for n in range(typists)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    return {"latencies": sorted(latencies), "statuses": statuses, "seconds": time.perf_counter() - began}


def run_paced_typists(*, port: int, path_for, headers: dict, typists: int, seconds: float) -> dict:
    """Each typist sends one request per second for `seconds` (path_for(typist, n) is its n-th request), starting
    spread over the first second; a request due while the previous one is still waiting goes as soon as that one is
    answered. Latencies in s (each from its sending), answers' statuses (0: no answer), and the run's length."""
    latencies, statuses, lock = [], [], threading.Lock()
    start = threading.Barrier(typists + 1)
    began = [0.0]

    def typist(number):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, codes = [], []
        start.wait()
        first = began[0] + number / typists
        for n in range(int(seconds)):
            wait = first + n - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            codes.append(_get(conn, path_for(number, n), headers))
            mine.append(time.perf_counter() - sent)
        conn.close()
        with lock:
            latencies.extend(mine)
            statuses.extend(codes)

    threads = [threading.Thread(target=typist, args=(n,)) for n in range(typists)]
    for thread in threads:
        thread.start()
    began[0] = time.perf_counter() + 0.05
    start.wait()
    for thread in threads:
        thread.join()
    return {"latencies": sorted(latencies), "statuses": statuses, "seconds": time.perf_counter() - began[0]}
