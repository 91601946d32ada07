"""What an administrator may see of an evaluated query or URL: never the datasource's secrets.

(Interim: the HTTP client will expose its own URL redaction; `redact_for_display` is the one place to switch.)
"""
import re
from urllib.parse import quote, quote_plus

from datasources.models import SECRET_FIELDS, ApiKeyLocation, AuthMode

REDACTED = "REDACTED"


def redact_for_display(*, datasource, text: str) -> str:
    """`text` (a path and query, or a URL) with the API key parameter and every stored secret replaced."""
    auth = getattr(datasource, "auth", None)
    if auth is None or not text:
        return text
    if auth.mode == AuthMode.API_KEY and auth.api_key_location == ApiKeyLocation.QUERY and auth.api_key_name:
        text = _redact_parameter(text, auth.api_key_name)
    for field in SECRET_FIELDS:
        secret = getattr(auth, field, "") or ""
        if len(secret) < 4:  # too short to search for without mangling the text; never sent in a query
            continue
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, REDACTED)
    return text


def _redact_parameter(text: str, name: str) -> str:
    base, mark, query = text.partition("?")
    if not mark:
        return text
    pattern = re.compile(r"(^|&)(" + re.escape(quote_plus(name)) + "|" + re.escape(quote(name, safe="")) + r")=[^&]*")
    return base + mark + pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}={REDACTED}", query)
