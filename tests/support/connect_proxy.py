"""A small real HTTP CONNECT proxy on 127.0.0.1 for tests: it counts and records the tunnels asked of it, can ask for
credentials (407), and relays bytes both ways, so TLS runs end to end between the client and the API.

    proxy = CONNECTProxy(credentials=("connect", "pw")).start()
    proxy.url                   # http://127.0.0.1:<port>
    proxy.connects              # how many CONNECT requests it got
    proxy.targets               # ["127.0.0.1:4443", ...] as asked
    proxy.authorizations        # the Proxy-Authorization header of each CONNECT (None when absent)
    proxy.stop()

`refuse_with` makes it answer every CONNECT with that status (a proxy policy refusing a host, 502 for an
unreachable one). Anything but CONNECT gets 405.
"""

import base64
import select
import socket
import socketserver
import threading

import pytest


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        proxy: CONNECTProxy = self.server.owner
        client = self.request
        client.settimeout(5)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 16384:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
        except OSError:
            return
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        target = rest.rpartition(" ")[0]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        with proxy.lock:
            proxy.connects += 1
            proxy.targets.append(target)
            proxy.authorizations.append(headers.get("proxy-authorization"))
        if proxy.credentials is not None:
            expected = "Basic " + base64.b64encode(":".join(proxy.credentials).encode()).decode()
            if headers.get("proxy-authorization") != expected:
                body = b"Proxy authentication required"
                client.sendall(
                    b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n'
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                return
        if proxy.refuse_with is not None:
            client.sendall(b"HTTP/1.1 %d Refused\r\nContent-Length: 0\r\n\r\n" % proxy.refuse_with)
            return
        host, _, port = target.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
        except (OSError, ValueError):
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        # Relayed writes go out at once, as real proxies send them: with Nagle's algorithm, a TLS record written
        # right after another waits for the client's delayed ACK (up to 40 ms).
        for side in (client, upstream):
            side.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _relay(client, upstream, proxy.stopping)


def _relay(a: socket.socket, b: socket.socket, stopping: threading.Event) -> None:
    a.settimeout(None)
    b.settimeout(None)
    try:
        while not stopping.is_set():
            readable, _, _ = select.select([a, b], [], [], 0.1)
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                (b if source is a else a).sendall(data)
    except OSError:
        pass
    finally:
        b.close()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


class CONNECTProxy:
    def __init__(self, *, credentials: tuple[str, str] | None = None):
        self.credentials = credentials
        self.refuse_with: int | None = None
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.connects = 0
        self.targets: list[str] = []
        self.authorizations: list[str | None] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "CONNECTProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def connect_proxy():
    """connect_proxy(credentials=None) -> a running CONNECTProxy, stopped at teardown."""
    from datasources.services import sessions

    proxies = []

    def start(**kwargs) -> CONNECTProxy:
        proxy = CONNECTProxy(**kwargs).start()
        proxies.append(proxy)
        return proxy

    yield start
    sessions.close_all()
    for proxy in proxies:
        proxy.stop()
