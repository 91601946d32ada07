"""The web origins an application may embed the widget from: the one home of the rule, used by its form, the
admin and the model.

An origin is `scheme://host[:port]`, exactly as a browser sends it in the Origin header: https only, lower-case
host (IDN as punycode), the default port left out, no path, query, fragment, user or wildcard. `http://localhost`
and `http://127.0.0.1` (any port) are accepted only while DEBUG is on, for development.
"""

import ipaddress
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

MAX_ORIGINS = 20
LOCAL_HTTP_HOSTS = ("localhost", "127.0.0.1")
DEFAULT_PORTS = {"https": 443, "http": 80}
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_origin(text: str, *, allow_local_http: bool) -> str:
    """The origin as a browser sends it, or ValidationError with a message a person can act on."""
    raw = (text or "").strip()
    if any(ch.isspace() or ord(ch) < 32 for ch in raw):
        raise ValidationError("An origin has no spaces or control characters.")
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not raw.lower().startswith(f"{scheme}://"):
        raise ValidationError("Write an origin as https://host or https://host:port.")
    if "@" in parts.netloc:
        raise ValidationError("An origin has no user name or password.")
    if parts.path not in ("", "/") or parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise ValidationError("An origin is only scheme, host and port: remove the path, query or #fragment.")
    if "*" in parts.netloc:
        raise ValidationError("Wildcards are not allowed: list each origin.")
    host = _host(parts.hostname or "")
    try:
        port = parts.port
    except ValueError:
        raise ValidationError("The port must be a number from 1 to 65535.") from None
    if port == 0:
        raise ValidationError("The port must be a number from 1 to 65535.")
    if scheme == "http":
        if host not in LOCAL_HTTP_HOSTS:
            raise ValidationError(
                "Only https:// origins are allowed (http:// only for localhost and 127.0.0.1 while DEBUG is on)."
            )
        if not allow_local_http:
            raise ValidationError(
                "http://localhost and http://127.0.0.1 are only allowed while DEBUG is on "
                "(development); use an https:// origin."
            )
    shown_port = "" if port in (None, DEFAULT_PORTS[scheme]) else f":{port}"
    return f"{scheme}://{host}{shown_port}"


def normalise_origins(lines: list[str], *, allow_local_http: bool) -> list[str]:
    """Each line normalised, duplicates dropped; every bad line is named in one ValidationError."""
    origins, problems = [], []
    for line in lines:
        if not line.strip():
            continue
        try:
            origin = normalise_origin(line, allow_local_http=allow_local_http)
        except ValidationError as exc:
            problems.append(f"“{line.strip()[:100]}”: {exc.messages[0]}")
            continue
        if origin not in origins:
            origins.append(origin)
    if problems:
        raise ValidationError(problems)
    if len(origins) > MAX_ORIGINS:
        raise ValidationError(f"An application can have at most {MAX_ORIGINS} origins.")
    return origins


def _host(hostname: str) -> str:
    if not hostname:
        raise ValidationError("The origin needs a host name, as in https://forms.example.com.")
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        pass
    else:
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    try:
        host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValidationError("The host name is not valid.") from None
    if not all(_LABEL_RE.match(label) for label in host.split(".")):
        raise ValidationError("The host name is not valid: use letters, digits, hyphens and dots.")
    return host
