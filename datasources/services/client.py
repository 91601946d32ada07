"""The one place in Connect that talks to datasources. (Interim version: replaced by the full client.)"""
import time
from dataclasses import dataclass, field

import requests
from django.conf import settings

from ..models import Datasource


@dataclass
class UpstreamResponse:
    status_code: int
    body: bytes
    elapsed_seconds: float
    redacted_url: str
    content_type: str = ""
    headers: dict = field(default_factory=dict)

    def json(self):
        """The decoded JSON body; raises errors.InvalidJSON."""
        import json

        from .errors import InvalidJSON
        try:
            return json.loads(self.body)
        except ValueError:
            raise InvalidJSON("The API answered with a body that is not JSON.", status_code=self.status_code)


def call_datasource(*, datasource: Datasource, path_and_query: str = "", url: str | None = None,
                    expect_success: bool = True) -> UpstreamResponse:
    started = time.monotonic()
    target = url or datasource.base_url.rstrip("/") + "/" + path_and_query.lstrip("/")
    session = requests.Session()
    session.trust_env = False
    r = session.get(target, timeout=settings.CONNECT_CALL_DEADLINE_SECONDS)
    return UpstreamResponse(r.status_code, r.content, time.monotonic() - started, target,
                            r.headers.get("Content-Type", ""))
