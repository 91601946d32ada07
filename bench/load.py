"""A small HTTP load generator: N keep-alive connections (http.client, one thread each) for a fixed time, spread
over one or several ports (several server instances)."""
import http.client
import statistics
import threading
import time


def run_load(*, port: int = 0, ports: tuple[int, ...] = (), path: str, headers: dict, connections: int,
             seconds: float) -> dict:
    """Requests/s over the run, p50/p99 latency in ms, and the number of non-200 answers. Connection i goes to
    ports[i % len(ports)] (or to `port`)."""
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
                conn.request("GET", path, headers=headers)
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
    return {"rps": len(latencies) / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000, "failures": sum(failures)}
