"""An upstream answer as Connect keeps it: read within the size cap and the deadline, and parsed with the
datasource's own secrets masked, so an API that echoes the request back never shows them (SPEC 1.5)."""

import http.client
import json
import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import requests
from django.conf import settings

from . import transport
from .errors import HTTPStatusError, InvalidJSON, ResponseTooLarge
from .outbound_errors import LIBRARY_ERRORS, translate_request_error
from .redaction import GENERIC, Redaction

CHUNK_BYTES = 64 * 1024
EXCERPT_CHARS = 200
EXCERPT_BYTES_READ = 64 * 1024
# Arrays and objects nested deeper than this are refused (invalid_json): parsing, masking, the preview's indented
# display and JSONPath all recurse once or more per level, and Python's recursion limit is about a thousand frames.
# Real APIs nest a few dozen levels at most.
MAX_JSON_DEPTH = 100

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Brackets only, as "(" and ")": what the nesting check reads (bytes.translate, at C speed).
_BRACKETS = bytes.maketrans(b"[]{}", b"()()")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


@dataclass
class UpstreamResponse:
    status_code: int
    body: bytes
    elapsed_seconds: float
    redacted_url: str
    content_type: str = ""
    headers: dict = field(default_factory=dict)
    # How the datasource's secrets are hidden in messages about this answer and in the answer itself.
    redaction: Redaction = field(default=GENERIC, repr=False, compare=False)
    # The URL that answered, without the API key parameter (to resolve a relative next-page link); never shown.
    request_url: str = field(default="", repr=False)

    def json(self):
        """The decoded JSON body (as sent: secrets not masked); raises errors.InvalidJSON."""
        try:
            return loads_within_depth(self.body)
        except TooDeep:
            raise self.too_deep() from None
        except ValueError:
            raise self.invalid_json() from None

    def json_releasing_body(self) -> tuple[object, str, str]:
        """(data, text, encoding): the answer's JSON with the datasource's own secret values masked as ***, in the
        data and in the text kept for the cache and the preview. Raises errors.InvalidJSON.

        The bytes are released before parsing, so a large answer peaks at its text and its objects instead of
        bytes + text + objects; callers rebuild the bytes from the text (same encoding, byte for byte).
        """
        body = self.body
        encoding = json.detect_encoding(body)
        try:
            text = body.decode(encoding, "surrogatepass")
        except UnicodeDecodeError:
            raise self.invalid_json() from None
        if nested_deeper_than(body, MAX_JSON_DEPTH):
            raise self.too_deep()
        self.body = body = b""
        masked = self.redaction.values(text)
        try:
            data = json.loads(masked)
        except ValueError:
            data = None
        else:
            if not (self.redaction.searches_bodies and "\\u" in masked):
                return data, masked, encoding
            # \u escapes can spell a secret in a way the text search does not know (\u0026 for "&", upper-case
            # hex): look in the decoded texts too, and write the answer again when one was there.
            data, changed = _masked_texts(data, self.redaction)
            if not changed:
                return data, masked, encoding
            return data, json.dumps(data, ensure_ascii=False), "utf-8"
        try:  # a mask that broke the JSON (a secret spanning its syntax): parse the answer, mask its texts
            data, _changed = _masked_texts(json.loads(text), self.redaction)
        except ValueError:
            self.body = text.encode(encoding, "surrogatepass")
            raise self.invalid_json() from None
        return data, json.dumps(data, ensure_ascii=False), "utf-8"

    def invalid_json(self) -> InvalidJSON:
        return InvalidJSON(
            f"The API answered with a body that is not JSON for {self.redacted_url} — "
            f"{body_excerpt(self.body, self.redaction)}",
            status_code=self.status_code,
        )

    def too_deep(self) -> InvalidJSON:
        return InvalidJSON(
            f"The API answered with JSON nested more than {MAX_JSON_DEPTH} levels deep for {self.redacted_url}: "
            f"Connect does not read answers that deep.",
            status_code=self.status_code,
        )

    def status_error(self) -> HTTPStatusError:
        reason = http.client.responses.get(self.status_code, "")
        error = HTTPStatusError(
            f"The API answered HTTP {self.status_code}{' ' + reason if reason else ''} for {self.redacted_url} — "
            f"{body_excerpt(self.body, self.redaction)}",
            status_code=self.status_code,
        )
        error.retry_after_header = self.header("Retry-After")  # for protection/pause.py
        return error

    def header(self, name: str) -> str | None:
        """A header of the answer, whatever its case (Set-Cookie is never kept)."""
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)


class TooDeep(ValueError):
    """A JSON text nested more than MAX_JSON_DEPTH levels deep."""


def nested_deeper_than(text: str | bytes, limit: int) -> bool:
    """Do arrays and objects nest more than `limit` levels deep in this JSON text? It runs on every answer before it
    is parsed, so it works at C speed: the brackets alone, from which each round removes the innermost pairs (a text
    nested d levels deep is empty after d rounds). Brackets inside strings count too at first; only when that says
    "too deep" are the strings taken out (a slower regular expression) and the brackets read again."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if raw.count(b"[") + raw.count(b"{") <= limit or not _deeper_than(raw, limit):
        return False
    unquoted = _JSON_STRING.sub("", raw.decode("utf-8", "replace"))
    return _deeper_than(unquoted.encode("utf-8"), limit)


def _deeper_than(raw: bytes, limit: int) -> bool:
    brackets = raw.translate(_BRACKETS, _NOT_BRACKETS)
    for _ in range(limit):
        shorter = brackets.replace(b"()", b"")
        if len(shorter) == len(brackets):
            return bool(shorter)  # done, or unbalanced (not JSON: the parser says so, or hits its own limit)
        brackets = shorter
    return bool(brackets)


def loads_within_depth(text):
    """json.loads, refusing a text nested more than MAX_JSON_DEPTH levels deep with TooDeep (a ValueError, so that
    callers that treat a ValueError as "not JSON" keep doing so)."""
    if nested_deeper_than(text, MAX_JSON_DEPTH):
        raise TooDeep(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.")
    try:
        return json.loads(text)
    except RecursionError:  # not reachable within the limit; kept so that no depth ever becomes a 500
        raise TooDeep(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.") from None


def _masked_texts(data, redaction: Redaction) -> tuple[object, bool]:
    """(data with the secret values in its texts and keys masked, whether anything was masked)."""
    changed = False

    def masked(value):
        nonlocal changed
        if isinstance(value, str):
            new = redaction.values(value)
            changed = changed or new != value
            return new
        if isinstance(value, list):
            return [masked(item) for item in value]
        if isinstance(value, dict):
            return {masked(key): masked(item) for key, item in value.items()}
        return value

    return masked(data), changed


_bytes_read: ContextVar[list[int] | None] = ContextVar("connect_bytes_read", default=None)


@contextmanager
def size_budget():
    """One size cap for every answer read inside the block (the pages of one resolution); nested blocks share it."""
    if _bytes_read.get() is not None:
        yield
        return
    token = _bytes_read.set([0])
    try:
        yield
    finally:
        _bytes_read.reset(token)


def read_body(response: requests.Response, url: str) -> bytes:
    """The whole (decoded) body, counted while streaming against the size cap (what is left of it inside a
    size_budget block) and the deadline."""
    budget = _bytes_read.get()
    cap = settings.CONNECT_MAX_RESPONSE_BYTES - (budget[0] if budget else 0)
    try:
        if _announced_length(response) > cap:
            raise too_large(cap, url, announced=True)
        chunks, size = [], 0
        for chunk in response.raw.stream(CHUNK_BYTES, decode_content=True):
            size += len(chunk)
            if size > cap:
                raise too_large(cap, url)
            if transport.time_left() <= 0:
                raise transport.deadline_error(url)
            chunks.append(chunk)
        if budget is not None:
            budget[0] += size
        return b"".join(chunks)
    except LIBRARY_ERRORS as exc:
        raise translate_request_error(exc, url=url) from None
    finally:
        response.close()


def _announced_length(response: requests.Response) -> int:
    try:
        return int(response.headers.get("Content-Length", "0"))
    except ValueError:
        return 0


def too_large(cap: int, url: str, *, announced: bool = False) -> ResponseTooLarge:
    how = "announces" if announced else "sent"
    limit = settings.CONNECT_MAX_RESPONSE_BYTES
    left = "" if cap == limit else f" (what was left of the {limit:,}-byte limit after the earlier pages)"
    return ResponseTooLarge(
        f"The answer from {url} {how} more than {cap:,} bytes{left}; the limit is "
        "CONNECT_MAX_RESPONSE_BYTES: refused, nothing is kept."
    )


def body_excerpt(body: bytes, redact: Redaction) -> str:
    """The start of a body, on one line, redacted before it is cut (a cut must never split a secret)."""
    read = body[:EXCERPT_BYTES_READ]
    text = " ".join(read.decode("utf-8", "replace").split())
    if len(body) > len(read):
        text = text.rpartition(" ")[0]  # the last word may be a secret cut in two
    if not text:
        return "(empty body)"
    text = redact.text(text)
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"
