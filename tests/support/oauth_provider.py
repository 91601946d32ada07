"""A real OAuth2 authorization server for tests: django-oauth-toolkit under gunicorn, over TLS, on 127.0.0.1.

    with running_oauth_provider(workdir=tmp_path) as provider:
        provider.authorize_url, provider.token_url, provider.api_url, provider.ca_pem, ...
        location = provider.consent(authorize_url)   # sign in as the user and allow; the redirect to the client

The server (tests/support/oauth_server) is its own Django project with its own SQLite file in `workdir`; it gets
an explicit environment, so nothing of Connect's (DATABASE_URL, REDIS_URL, .env, proxies, CA bundles) reaches it.
Its certificate comes from a throwaway trustme CA and names 127.0.0.1, localhost and `hostname`.

Connect side: settings.CONNECT_CA_BUNDLE = str(provider.ca_pem), CONNECT_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1"],
and fake_dns[provider.hostname] = ["127.0.0.1"] to use the URLs of provider.base(host=provider.hostname).

In a browser (Playwright + Chromium): launch with args + provider.chromium_args() (maps `hostname` to 127.0.0.1 and
trusts this server's key only), call provider.add_redirect_uri(live_server.url + "/oauth/callback/") (any port on
http://127.0.0.1 is registered already), then on the server's pages fill "Username"/"Password" with
provider.username/provider.password, click "Sign in", then "Authorize" (or "Cancel").
"""

import atexit
import base64
import hashlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from tests.support.processes import stop_process_group

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS_MODULE = "tests.support.oauth_server.settings"
WSGI_APP = "tests.support.oauth_server.wsgi:application"

HOSTNAME = "auth.connect.test"
USERNAME = "alice"
PASSWORD = "s3cr3t-ALICE-PASSWORD-3c9a"
WEB_CLIENT_ID = "connect-e2e-web"
WEB_CLIENT_SECRET = "s3cr3t-AS-WEB-CLIENT-SECRET-5d71"
SERVICE_CLIENT_ID = "connect-e2e-service"
SERVICE_CLIENT_SECRET = "s3cr3t-AS-SERVICE-CLIENT-SECRET-8e29"
# Connect's callback as the Django test client sees it, and any port on 127.0.0.1 (a loopback redirect URI
# matches every port, RFC 8252), which suits pytest-django's live_server started with --liveserver=127.0.0.1.
DEFAULT_REDIRECT_URIS = ("http://testserver/oauth/callback/", "http://127.0.0.1/oauth/callback/")


def unavailable_reason() -> str | None:
    """Why the server cannot run here, or None."""
    for module, package in (
        ("gunicorn", "gunicorn"),
        ("oauth2_provider", "django-oauth-toolkit"),
        ("trustme", "trustme"),
    ):
        if importlib.util.find_spec(module) is None:
            return f"the OAuth end-to-end tests need {package} (pip install -e '.[dev]')"
    return None


class ConsentFailed(AssertionError):
    """The authorization server did not redirect back to the client; the message says what it showed."""


@dataclass
class OAuthProvider:
    """A running authorization server and everything a test needs to point a client at it."""

    port: int
    workdir: Path
    ca_pem: Path
    cert_pem: Path
    key_pem: Path
    spki_sha256: str  # base64 SHA-256 of the server key, for Chromium's --ignore-certificate-errors-spki-list
    access_token_seconds: int
    hostname: str = HOSTNAME
    username: str = USERNAME
    password: str = PASSWORD
    web_client_id: str = WEB_CLIENT_ID
    web_client_secret: str = WEB_CLIENT_SECRET
    service_client_id: str = SERVICE_CLIENT_ID
    service_client_secret: str = SERVICE_CLIENT_SECRET
    scopes: str = "read"
    _process: subprocess.Popen | None = field(default=None, repr=False)
    _env: dict = field(default_factory=dict, repr=False)

    # --- addresses ----------------------------------------------------------------------------------------

    def base(self, host: str = "127.0.0.1") -> str:
        """https://<host>:<port>; pass host=provider.hostname for the name on the certificate (map it to 127.0.0.1)."""
        return f"https://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.base()

    @property
    def authorize_url(self) -> str:
        return self.base() + "/o/authorize/"

    @property
    def token_url(self) -> str:
        return self.base() + "/o/token/"

    @property
    def api_url(self) -> str:
        """The protected API's prefix: a datasource base URL. GET <api_url>/issues/ needs a bearer token."""
        return self.base() + "/api"

    @property
    def login_url(self) -> str:
        return self.base() + "/accounts/login/"

    @property
    def access_log(self) -> Path:
        return self.workdir / "access.log"

    @property
    def request_log(self) -> Path:
        return self.workdir / "requests.log"

    @property
    def server_log(self) -> Path:
        return self.workdir / "server.log"

    # --- helpers for tests --------------------------------------------------------------------------------

    def chromium_args(self) -> list[str]:
        """Chromium flags to reach the server by `hostname` and trust its certificate (and only it) without a
        system-wide CA install: add them to the browser's launch args."""
        return [
            f"--host-resolver-rules=MAP {self.hostname} 127.0.0.1",
            f"--ignore-certificate-errors-spki-list={self.spki_sha256}",
        ]

    def session(self) -> requests.Session:
        """A requests session that trusts only the test CA and ignores the machine's proxy/CA variables."""
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.ca_pem)
        return session

    def served_requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request answered so far, in order; complete once its answer arrived."""
        if not self.request_log.exists():
            return []
        lines = (line.split(" ") for line in self.request_log.read_text().splitlines())
        return [(method, path, int(status)) for method, path, status in lines]

    def request_count(self, method: str, path: str) -> int:
        """How many `METHOD /path` requests the server has answered, e.g. ("POST", "/o/token/")."""
        return sum((m, p) == (method.upper(), path) for m, p, _ in self.served_requests())

    def add_redirect_uri(self, uri: str) -> None:
        """Let the authorization-code client use one more redirect URI (e.g. a live server's callback)."""
        _run_setup(self._env, self.workdir, redirect_uris=[uri], migrate=False)

    def consent(self, authorize_url: str, *, allow: bool = True, session: requests.Session | None = None) -> str:
        """Do what the user does in a browser: sign in, then Authorize (or Cancel) on the consent page.

        Returns the Location the server redirects to (the client's redirect URI with code and state, or with
        error=access_denied); it is not followed. The URL's host is replaced by 127.0.0.1, so an authorize URL
        on `hostname` works without DNS.
        """
        session = session or self.session()
        page = session.get(self._local(authorize_url), timeout=15)
        page.raise_for_status()
        if urlsplit(page.url).path == "/accounts/login/":
            form = _form(page.text, action="/accounts/login/")
            if form is None:
                raise ConsentFailed(f"no sign-in form at {page.url}")
            data = dict(form, username=self.username, password=self.password)
            page = session.post(page.url, data=data, headers={"Referer": page.url}, timeout=15)
            page.raise_for_status()
        form = _form(page.text, form_id="authorizationForm")
        if form is None:
            raise ConsentFailed(f"no consent form at {urlsplit(page.url).path}: {_text(page.text)[:500]}")
        if allow:
            form["allow"] = "Authorize"
        answer = session.post(page.url, data=form, headers={"Referer": page.url}, allow_redirects=False, timeout=15)
        if answer.status_code not in (301, 302, 303) or not answer.headers.get("Location"):
            raise ConsentFailed(f"the consent was answered with {answer.status_code}: {_text(answer.text)[:500]}")
        return answer.headers["Location"]

    def _local(self, url: str) -> str:
        parts = urlsplit(url)
        return urlunsplit(("https", f"127.0.0.1:{self.port}", parts.path, parts.query, ""))

    # --- lifecycle ----------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop gunicorn and its workers (graceful, 2 s for running requests; then SIGKILL for anything left)."""
        process, self._process = self._process, None
        stop_process_group(process, grace=10)


def start_oauth_provider(
    *,
    workdir: Path,
    redirect_uris=DEFAULT_REDIRECT_URIS,
    access_token_seconds: int = 300,
    workers: int = 2,
    hostname: str = HOSTNAME,
    timeout: float = 30,
) -> OAuthProvider:
    """Certificates, database and clients in `workdir`; gunicorn on a free 127.0.0.1 port; returns once it answers."""
    import trustme

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost", hostname)
    ca_pem, cert_pem, key_pem = workdir / "ca.pem", workdir / "server.pem", workdir / "server.key"
    ca.cert_pem.write_to_path(str(ca_pem))
    cert_pem.write_bytes(b"".join(blob.bytes() for blob in server_cert.cert_chain_pems))
    server_cert.private_key_pem.write_to_path(str(key_pem))

    env = _server_env(workdir, hostname, access_token_seconds)
    _run_setup(env, workdir, redirect_uris=list(redirect_uris), migrate=True)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))  # the port is ours from here on: gunicorn inherits the bound socket
    listener.listen(128)
    port = listener.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        WSGI_APP,
        "--bind",
        f"fd://{listener.fileno()}",
        "--workers",
        str(workers),
        "--certfile",
        str(cert_pem),
        "--keyfile",
        str(key_pem),
        "--timeout",
        "30",
        "--graceful-timeout",
        "2",
        "--log-level",
        "warning",
        "--access-logfile",
        str(workdir / "access.log"),
        "--error-logfile",
        str(workdir / "server.log"),
    ]
    try:
        with open(workdir / "server.out", "ab") as out:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(listener.fileno(),),
                start_new_session=True,
            )
    finally:
        listener.close()

    provider = OAuthProvider(
        port=port,
        workdir=workdir,
        ca_pem=ca_pem,
        cert_pem=cert_pem,
        key_pem=key_pem,
        spki_sha256=_spki_sha256(server_cert.cert_chain_pems[0].bytes()),
        access_token_seconds=access_token_seconds,
        hostname=hostname,
        _process=process,
        _env=env,
    )
    atexit.register(provider.stop)
    try:
        _wait_until_answering(provider, process, timeout)
    except BaseException:
        provider.stop()
        raise
    return provider


@contextmanager
def running_oauth_provider(**options):
    provider = start_oauth_provider(**options)
    try:
        yield provider
    finally:
        provider.stop()


def _server_env(workdir: Path, hostname: str, access_token_seconds: int) -> dict:
    """The whole environment of the server: built from nothing, so Connect's variables cannot leak in."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO_ROOT),
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "OAUTH_SERVER_DB": str(workdir / "oauth_server.sqlite3"),
        "OAUTH_SERVER_REQUEST_LOG": str(workdir / "requests.log"),
        "OAUTH_SERVER_HOSTS": f"127.0.0.1,localhost,{hostname}",
        "OAUTH_SERVER_ACCESS_TOKEN_SECONDS": str(access_token_seconds),
        "OAUTH_SERVER_USERNAME": USERNAME,
        "OAUTH_SERVER_PASSWORD": PASSWORD,
        "OAUTH_SERVER_WEB_CLIENT_ID": WEB_CLIENT_ID,
        "OAUTH_SERVER_WEB_CLIENT_SECRET": WEB_CLIENT_SECRET,
        "OAUTH_SERVER_SERVICE_CLIENT_ID": SERVICE_CLIENT_ID,
        "OAUTH_SERVER_SERVICE_CLIENT_SECRET": SERVICE_CLIENT_SECRET,
    }


def _run_setup(env: dict, workdir: Path, *, redirect_uris: list[str], migrate: bool) -> None:
    command = [sys.executable, "-m", "django", "setup_oauth_server"]
    command += [f"--redirect-uri={uri}" for uri in redirect_uris]
    if not migrate:
        command.append("--skip-migrate")
    done = subprocess.run(
        command, env=env, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"setting up the OAuth test server failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
        )


def _wait_until_answering(provider: OAuthProvider, process: subprocess.Popen, timeout: float) -> None:
    session = provider.session()
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the OAuth test server exited with {process.returncode}:\n{_log_tail(provider)}")
        try:
            if session.get(provider.base_url + "/healthz/", timeout=2).status_code == 200:
                return
        except requests.RequestException as exc:
            last_error = exc
        time.sleep(0.1)
    raise RuntimeError(
        f"the OAuth test server did not answer within {timeout} s ({last_error}):\n{_log_tail(provider)}"
    )


def _log_tail(provider: OAuthProvider) -> str:
    parts = []
    for path in (provider.workdir / "server.out", provider.server_log):
        if path.exists():
            parts.append(path.read_text(errors="replace")[-4000:])
    return "\n".join(parts)


def _spki_sha256(cert_pem: bytes) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class _Forms(HTMLParser):
    """The forms of a page: id, action and the values a browser would submit (submit buttons left out)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"id": a.get("id"), "action": a.get("action") or "", "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            if (a.get("type") or "text").lower() not in ("submit", "button", "image", "reset"):
                self.forms[-1]["fields"][a["name"]] = a.get("value") or ""


def _form(html: str, *, form_id: str | None = None, action: str | None = None) -> dict | None:
    parser = _Forms()
    parser.feed(html)
    for form in parser.forms:
        if (form_id and form["id"] == form_id) or (action and urljoin("/", form["action"]).startswith(action)):
            return dict(form["fields"])
    return None


def _text(html: str) -> str:
    """The visible words of a page, for failure messages."""

    class Text(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.parts, self.skip = [], 0

        def handle_starttag(self, tag, attrs):
            self.skip += tag in ("style", "script")

        def handle_endtag(self, tag):
            self.skip -= tag in ("style", "script")

        def handle_data(self, data):
            if not self.skip and data.strip():
                self.parts.append(data.strip())

    parser = Text()
    parser.feed(html)
    return " ".join(parser.parts)
