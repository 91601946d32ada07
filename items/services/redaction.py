"""What an administrator may see of an evaluated query or URL: never the datasource's secrets.

The HTTP client owns the rules (secret values, the API key parameter, secret-looking parameters as ***);
this is the one place items ask for them.
"""
from datasources.services import client


def redact_for_display(*, datasource, text: str) -> str:
    """`text` (a path and query, or a URL) as it may be shown or logged."""
    if not text:
        return text
    return client.redact_url(text, datasource)
