"""A real HTTPS server on 127.0.0.1 for tests where TLS, addresses, timing, pooling or streaming is what is tested.

Certificates come from trustme CAs. The server counts accepted connections and completed TLS handshakes, records
the SNI names and requests it saw (with their arrival times, time.monotonic(), the same clock in every process of
the machine), and serves routes: plain functions that write a raw HTTP answer. `working(...)` routes count the
requests they are working on at once (`in_flight`, `max_in_flight`). It runs in threads and is shut down (slow
routes included) by `stop()`.
"""

import gzip
import http.server
import io
import json
import socketserver
import ssl
import threading
import time

import pytest
import trustme


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner: "HTTPSTestServer"):
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request, client_address):
        """The TLS handshake happens here, in the connection's own thread, so the accept loop never blocks."""
        self.owner.count("connections")
        request.settimeout(5)
        try:
            tls = self.owner.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            self.owner.count("failed_handshakes")
            return
        self.owner.count("handshakes")
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except OSError:
            pass
        finally:
            tls.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with owner.lock:
            owner.requests.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "method": self.command,
                    "body": body,
                    "at": time.monotonic(),
                }
            )
        route = owner.routes.get(path)
        if route is None:
            send(self, 404, b'{"error": "no such route"}')
            return
        connection, self.rfile = self.rfile, io.BytesIO(body)  # a route may read the body again
        try:
            route(self)
        finally:
            self.rfile = connection

    do_POST = do_GET

    def log_message(self, *args):  # quiet
        pass


class HTTPSTestServer:
    def __init__(self, ssl_context: ssl.SSLContext, routes: dict):
        self.ssl_context = ssl_context
        self.routes = dict(routes)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.counts = {"connections": 0, "handshakes": 0, "failed_handshakes": 0}
        self.requests: list[dict] = []
        self.sni_names: list[str | None] = []
        self.in_flight = 0
        self.max_in_flight = 0
        ssl_context.sni_callback = self._sni
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        self.thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _sni(self, ssl_socket, name, context):
        with self.lock:
            self.sni_names.append(name)

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def arrivals(self, path: str) -> list[float]:
        """When each request for `path` (query string ignored) arrived, in order (time.monotonic())."""
        with self.lock:
            return [r["at"] for r in self.requests if r["path"].split("?", 1)[0] == path]

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"

    def start(self) -> "HTTPSTestServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self.thread.join(timeout=5)


def server_context(ca: trustme.CA, *hostnames: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*hostnames).configure_cert(context)
    return context


# --- routes: each writes one raw answer --------------------------------------------------------------------------


def send(handler, status: int, body: bytes, content_type: str = "application/json", headers=()) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers:
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def answer(status: int = 200, body: bytes = b'{"ok": true}', content_type: str = "application/json", headers=()):
    return lambda handler: send(handler, status, body, content_type, headers)


def working(route, *, seconds: float):
    """`route`, after working `seconds` on the request. The requests being worked on are counted (owner.in_flight,
    owner.max_in_flight); a request stops counting before its answer is written, so a client that has read its
    answer never finds its own request still counted."""

    def wrapped(handler):
        owner = handler.server.owner
        with owner.lock:
            owner.in_flight += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
        try:
            owner.stopping.wait(seconds)
        finally:
            with owner.lock:
                owner.in_flight -= 1
        route(handler)

    return wrapped


def switchable(route):
    """A route whose answer a test changes while it runs: `switchable(r)` has `.use(other_route)`."""
    current = [route]

    def wrapped(handler):
        current[0](handler)

    wrapped.use = lambda other: current.__setitem__(0, other)
    return wrapped


def once_then(first, then):
    """A route answering `first` to its first request and `then` to the others."""
    route = switchable(first)

    def wrapped(handler):
        route(handler)
        route.use(then)

    return wrapped


def echo_request(status: int, content_type: str = "text/plain"):
    """An answer that repeats the request line (query string included), as careless servers do in errors."""
    return lambda handler: send(handler, status, f"Bad request: GET {handler.path}".encode(), content_type)


def echo_json(handler):
    """An answer that repeats the whole request as JSON, as echo endpoints (httpbin's /anything) do: the query
    arguments, every header, and a list with one entry per argument and header ({"id": value, "name": name})."""
    from urllib.parse import parse_qs, urlsplit

    args = parse_qs(urlsplit(handler.path).query)
    headers = dict(handler.headers.items())
    results = [{"id": v[0], "name": k} for k, v in args.items()] + [{"id": v, "name": k} for k, v in headers.items()]
    body = json.dumps({"args": args, "headers": headers, "results": results}).encode()
    send(handler, 200, body)


def redirect(location: str, status: int = 302):
    return answer(status, b"", "text/plain", headers=[("Location", location)])


def slow_body(*, length: int = 100, interval: float = 1.0):
    """Announces `length` bytes, then sends one byte per `interval` seconds."""

    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        handler.wfile.flush()
        for _ in range(length):
            if handler.server.owner.stopping.wait(interval):
                return
            handler.wfile.write(b" ")
            handler.wfile.flush()

    return route


def slow_headers(*, interval: float = 0.25):
    """A status line, then header bytes one at a time, never finishing the headers."""

    def route(handler):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        handler.wfile.flush()
        while not handler.server.owner.stopping.wait(interval):
            handler.wfile.write(b"X")
            handler.wfile.flush()

    return route


def chunked(total: int, *, chunk: int = 8192):
    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        sent = 0
        while sent < total and not handler.server.owner.stopping.is_set():
            size = min(chunk, total - sent)
            handler.wfile.write(b"%x\r\n" % size + b"a" * size + b"\r\n")
            sent += size
        handler.wfile.write(b"0\r\n\r\n")

    return route


def announced_length(announced: int, actual: int):
    """Content-Length says `announced`, `actual` bytes follow (a lie either way), then the connection closes."""

    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(announced))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(b"a" * actual)
        handler.close_connection = True

    return route


def until_close(total: int):
    """No Content-Length, no chunking: the body ends when the connection closes."""

    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(b"a" * total)
        handler.close_connection = True

    return route


def gzip_bomb(decoded: int):
    """A small gzip body (honest Content-Length) that decodes to `decoded` bytes."""
    body = gzip.compress(b"a" * decoded)
    return answer(200, body, headers=[("Content-Encoding", "gzip")])


def wait_until(predicate, timeout: float = 2.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# --- fixtures (import them into a test module to use them) ----------------------------------------------------


@pytest.fixture(scope="session")
def trusted_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def untrusted_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trust_test_ca(settings, trusted_ca, tmp_path):
    """CONNECT_CA_BUNDLE = the test CA only, and 127.0.0.1 allowed, as an operator would set them."""
    pem = tmp_path / "connect-test-ca.pem"
    trusted_ca.cert_pem.write_to_path(str(pem))
    settings.CONNECT_CA_BUNDLE = str(pem)
    settings.CONNECT_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1"]
    return pem


@pytest.fixture
def start_server(trusted_ca):
    """start_server(routes, hostnames=..., ca=...) -> a running HTTPSTestServer, stopped at teardown."""
    from datasources.services import sessions

    servers = []

    def start(routes: dict, *, hostnames=("127.0.0.1",), ca: trustme.CA | None = None) -> HTTPSTestServer:
        server = HTTPSTestServer(server_context(ca or trusted_ca, *hostnames), routes).start()
        servers.append(server)
        return server

    yield start
    sessions.close_all()
    for server in servers:
        server.stop()
