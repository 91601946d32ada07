"""An API whose tokens come from a login call, as routes of the local HTTPS server (tests/support/https_server.py).

    api = LoginAPI(password=SECRET_PASSWORD)
    server = start_server(api.routes())       # /login, /api/items, /api/echo
    api.logins                                # how many login calls were answered with a token

POST /login takes {"user": ..., "secret": ...} as JSON (or user=...&secret=... as a form) and answers
{"data": {"token": "<token>"}, "expires_in": <lifetime>}; a wrong password gets 401 with the request echoed back, as
careless servers do. GET /api/items answers 200 only with `X-Auth-Token: Token <current token>`, else 401.
"""

import json
import threading
import time
from urllib.parse import parse_qs

from tests.support.https_server import send

TOKEN = "s3cr3t-ACCESS-TOKEN-aa01"  # tests.conftest.SECRET_ACCESS_TOKEN: leak tests look for it


class LoginAPI:
    def __init__(self, *, username: str = "connect", password: str, lifetime: int | None = 3600, delay: float = 0):
        self.username, self.password, self.lifetime, self.delay = username, password, lifetime, delay
        self.lock = threading.Lock()
        self.logins = 0
        self.bodies: list[tuple[str, bytes]] = []  # (content type, body) of each login request
        self.rejected: set[str] = set()  # tokens the API no longer accepts
        self.answer_override = None  # a route answering /login instead (a broken login endpoint)

    def token(self, number: int | None = None) -> str:
        return f"{TOKEN}-{self.logins if number is None else number}"

    def routes(self) -> dict:
        return {"/login": self.login, "/api/items": self.items, "/api/echo": self.echo}

    def login(self, handler) -> None:
        body = handler.rfile.read()
        content_type = handler.headers.get("Content-Type", "")
        with self.lock:
            self.bodies.append((content_type, body))
        if self.answer_override is not None:
            self.answer_override(handler)
            return
        if content_type.startswith("application/json"):
            sent = json.loads(body)
        else:
            sent = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if sent.get("user") != self.username or sent.get("secret") != self.password:
            send(handler, 401, b"Login refused for " + body)
            return
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.logins += 1
            token = self.token()
        answer = {"data": {"token": token}}
        if self.lifetime is not None:
            answer["expires_in"] = self.lifetime
        send(handler, 200, json.dumps(answer).encode())

    def accepts(self, handler) -> bool:
        with self.lock:
            current = self.token() if self.logins else None
        sent = handler.headers.get("X-Auth-Token", "")
        return current is not None and sent == f"Token {current}" and current not in self.rejected

    def items(self, handler) -> None:
        if not self.accepts(handler):
            send(handler, 401, b'{"error": "token refused"}')
            return
        send(handler, 200, b'{"items": [{"id": 1, "name": "Pump"}]}')

    def echo(self, handler) -> None:
        """An API that repeats the request's headers (the token included) in its answer."""
        send(handler, 200, json.dumps({"headers": dict(handler.headers.items())}).encode())
