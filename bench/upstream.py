"""The bench's upstream API: tests/support's HTTPS server, in its own process so its work and memory are not the
runner's. `python -m bench.upstream CERT KEY` prints its port, then serves until it is killed.

Routes: /options and /paged (a small issue list, whatever page is asked; /options after `delay` milliseconds when
its query string has one: ?delay=20 is an API answering in 20 ms), /slow (the same after 200 ms), /large (about
5 MiB), /token (a client-credentials token after 100 ms), /typist (the small list after 50 ms, counting the requests
worked on at once), /cities (the cities whose name contains the text `q`, ignoring case, after `delay` ms: an API
that filters as a narrowing item's rule says), /_stats (requests per path, TLS handshakes so far, the most /typist
requests at once and, with ?arrivals=/typist, when each request for that path arrived: time.monotonic(), the
machine's clock).
"""

import collections
import json
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

from tests.support import https_server
from tests.support.https_server import HTTPSTestServer, answer, send

from .answers import cities_answer, large_answer, small_answer


def query_of(handler) -> dict:
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query).items()}


def delayed(body: bytes):
    """The body, after the request's `delay` (milliseconds, default 0)."""

    def route(handler):
        delay = float(query_of(handler).get("delay", 0)) / 1000
        if delay:
            time.sleep(delay)
        send(handler, 200, body)

    return route


def cities(handler):
    query = query_of(handler)
    delay = float(query.get("delay", 0)) / 1000
    if delay:
        time.sleep(delay)
    send(handler, 200, cities_answer(query.get("q", "")))


def slow(body: bytes, seconds: float):
    def route(handler):
        time.sleep(seconds)
        send(handler, 200, body)

    return route


def token(handler):
    handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    time.sleep(0.1)
    send(
        handler,
        200,
        json.dumps({"access_token": f"bench-{uuid.uuid4().hex}", "token_type": "Bearer", "expires_in": 3600}).encode(),
    )


def stats(handler):
    owner = handler.server.owner
    wanted = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query).get("arrivals", [None])[0]
    with owner.lock:
        paths = collections.Counter(r["path"].split("?", 1)[0] for r in owner.requests)
        body = {"requests": dict(paths), **owner.counts, "max_in_flight": owner.max_in_flight}
        if wanted:
            body["arrivals"] = [r["at"] for r in owner.requests if r["path"].split("?", 1)[0] == wanted]
    send(handler, 200, json.dumps(body).encode())


def main(cert: str, key: str) -> None:
    # Headers and body are two writes: without TCP_NODELAY, Nagle and the client's delayed ACK add 40 ms to
    # every answer on a kept-alive connection (production servers set it too).
    https_server._Handler.disable_nagle_algorithm = True
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    small = small_answer()
    routes = {
        "/options": delayed(small),
        "/paged": answer(200, small),
        "/slow": slow(small, 0.2),
        "/large": answer(200, large_answer()),
        "/token": token,
        "/typist": https_server.working(answer(200, small), seconds=0.05),
        "/cities": cities,
        "/_stats": stats,
    }
    server = HTTPSTestServer(context, routes).start()
    print(server.port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(*sys.argv[1:3])
