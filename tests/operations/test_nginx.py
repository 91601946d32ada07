"""The README's nginx configuration, run as written in front of Connect under gunicorn, on ports that are not 443/80:
signing in works (the Host nginx forwards keeps the port, which Django's CSRF check compares with the form's
Origin), the plain-HTTP redirect goes to the HTTPS port, and nginx's access log has no query strings. Skipped where
nginx is not installed (`apt-get install nginx`)."""

import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser

import pytest
import requests
import trustme

from tests.support.connect_server import (
    REPO_ROOT,
    connect_env,
    free_port,
    http_session,
    run_connect_tasks,
    start_connect,
)

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")

PASSWORD = "pw-through-nginx-7a31"
TYPED = "typed-THROUGH-NGINX-5c2e"


def readme_nginx_configuration() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index("```nginx\n") + len("```nginx\n")
    return "\n".join(
        line[3:] if line.startswith("   ") else line for line in text[start : text.index("```", start)].splitlines()
    )


def as_deployed_here(configuration: str, *, tls_port: int, http_port: int, connect_port: int, files) -> str:
    """The README's configuration with this test's ports, host name, certificate and log file: only the values an
    operator fills in are changed (the test fails if one of them is no longer where the README had it)."""
    replacements = [
        ("listen 443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("https://$host:443$request_uri", f"https://$host:{tls_port}$request_uri"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{connect_port};"),
        ("/etc/ssl/connect.example.com.pem", str(files / "cert.pem")),
        ("/etc/ssl/connect.example.com.key", str(files / "key.pem")),
        ("/var/log/nginx/connect.access.log", str(files / "connect.access.log")),
        ("server_name connect.example.com;", "server_name localhost;"),
    ]
    for old, new in replacements:
        assert old in configuration, f"the README's nginx configuration no longer has {old!r}"
        configuration = configuration.replace(old, new)
    return configuration


@pytest.fixture(scope="module")
def through_nginx(tmp_path_factory, sqlite_url, suite_redis_url, static_root):
    files = tmp_path_factory.mktemp("nginx")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    cert.cert_chain_pems[0].write_to_path(str(files / "cert.pem"))
    cert.private_key_pem.write_to_path(str(files / "key.pem"))
    ca.cert_pem.write_to_path(str(files / "ca.pem"))

    env = connect_env(
        files,
        database_url=sqlite_url,
        redis_url=suite_redis_url,
        static_root=static_root,
        CONNECT_BEHIND_TLS_PROXY="true",
        SESSION_COOKIE_SECURE="true",
        CSRF_COOKIE_SECURE="true",
    )
    run_connect_tasks(env, ("create_user", {"username": "operator", "password": PASSWORD, "staff": True}))
    connect = start_connect(files / "connect", env)
    tls_port, http_port = free_port(), free_port()
    site = as_deployed_here(
        readme_nginx_configuration(), tls_port=tls_port, http_port=http_port, connect_port=connect.port, files=files
    )
    (files / "connect.conf").write_text(site)
    (files / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"""worker_processes 1;
pid {files}/nginx.pid;
error_log {files}/error.log;
daemon off;
events {{}}
http {{
    access_log {files}/other.access.log;
    client_body_temp_path {files}/client_body;
    proxy_temp_path {files}/proxy;
    fastcgi_temp_path {files}/fastcgi;
    uwsgi_temp_path {files}/uwsgi;
    scgi_temp_path {files}/scgi;
    include {files}/connect.conf;
}}
"""
    )
    nginx = subprocess.Popen(
        ["nginx", "-p", str(files), "-c", str(files / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        session = http_session()
        session.verify = str(files / "ca.pem")
        public = f"https://localhost:{tls_port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if session.get(f"{public}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if nginx.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not serve the README's configuration:\n{nginx.stderr.read().decode()}")
            time.sleep(0.1)
        yield {"session": session, "public": public, "http_port": http_port, "files": files, "connect": connect}
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        connect.stop()


class _CSRFToken(HTMLParser):
    token = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") == "csrfmiddlewaretoken":
            self.token = attrs["value"]


def test_signing_in_through_the_readme_nginx_on_another_port_works(through_nginx):
    session, public = through_nginx["session"], through_nginx["public"]
    page = session.get(f"{public}/login/")
    assert page.status_code == 200
    parser = _CSRFToken()
    parser.feed(page.text)
    # As a browser posts the form: with its Origin and Referer, which carry the port.
    signed_in = session.post(
        f"{public}/login/",
        data={"username": "operator", "password": PASSWORD, "csrfmiddlewaretoken": parser.token},
        headers={"Origin": public, "Referer": f"{public}/login/"},
        allow_redirects=False,
    )
    assert signed_in.status_code == 302, signed_in.text[:2000]
    assert signed_in.headers["Location"] == "/datasources/"
    assert session.cookies.get("sessionid") and "secure" in signed_in.headers["Set-Cookie"].lower()
    listed = session.get(f"{public}/datasources/")
    assert listed.status_code == 200 and "Sign out (operator)" in listed.text


def test_the_plain_http_redirect_goes_to_the_https_port(through_nginx):
    answer = through_nginx["session"].get(
        f"http://localhost:{through_nginx['http_port']}/login/?next=/items/", allow_redirects=False
    )
    assert answer.status_code == 301
    assert answer.headers["Location"] == f"{through_nginx['public']}/login/?next=/items/"


def test_nginx_access_log_has_no_query_strings(through_nginx):
    assert through_nginx["session"].get(f"{through_nginx['public']}/login/", params={"q": TYPED}).status_code == 200
    time.sleep(0.2)
    log = (through_nginx["files"] / "connect.access.log").read_text()
    assert re.search(r'"GET /login/ HTTP/1\.1" 200 ', log), log
    assert TYPED not in log and "?" not in log


def test_metrics_are_not_served_through_the_public_name(through_nginx):
    assert through_nginx["session"].get(f"{through_nginx['public']}/metrics").status_code == 404
