"""A tiny plain-HTTP server on 127.0.0.1 (an ephemeral port) serving fixed pages: a second web origin for the
cross-origin widget tests. The same server reached as localhost is a third origin. It can also receive forms, as the
system behind a page would: `forms` maps a path to a function of the posted fields ({name: [values]}) that returns
the HTML answer (the posted fields are kept in `received`). `headers` are sent with every page (a
Content-Security-Policy, say)."""

import http.server
import socketserver
import threading
from urllib.parse import parse_qs


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False


class PageServer:
    def __init__(self, pages: dict[str, str], forms: dict | None = None, headers: dict[str, str] | None = None):
        self.pages = dict(pages)
        self.headers = dict(headers or {})
        self.forms = dict(forms or {})
        self.received: list[dict[str, list[str]]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = owner.pages.get(self.path.split("?", 1)[0])
                status = 200 if body is not None else 404
                data = (body or "not found").encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in owner.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                receive = owner.forms.get(self.path.split("?", 1)[0])
                length = int(self.headers.get("Content-Length") or 0)
                fields = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                owner.received.append(fields)
                data = (receive(fields) if receive else "not found").encode()
                self.send_response(200 if receive else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def origin(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.thread.join(timeout=5)
