"""Fetching an item's answer from its API: one call, or the pages of a paginated item, and the options in them.

Every page goes through the same client (address policy, base-URL prefix, authentication, redirect rules); a next
page on another host is refused. One deadline (CONNECT_CALL_DEADLINE_SECONDS) and one size cap
(CONNECT_MAX_RESPONSE_BYTES) cover all the pages together. Pages are read until the item's maximum options or its
page cap; a page that fails fails the whole resolution (nothing is cached) with an error that names the page.

What is cached is the answer as received (the datasource's own secrets masked): the one page's JSON, or for a
paginated item a JSON list of the pages read, which `options_from_cached` reads back. A paginated item's pages may be
read in steps (as far as `want` options, then on from where the last step stopped: `Fetched.following`); where the
next page is is kept only when it holds none of the datasource's secrets.
"""

import time
from dataclasses import dataclass, field

from requests.utils import parse_header_links

from datasources.services import call_url, client, errors, redaction
from datasources.services.redaction import redaction_for_datasource
from datasources.services.response import loads_within_depth

from .. import syntax
from ..models import Pagination
from .errors import ExtractionError, ItemError
from .evaluation import Evaluated
from .extraction import extract_options, lookup_options


@dataclass
class PageCall:
    """One upstream call as the preview shows it: URL and body already redacted."""

    number: int
    method: str
    url: str = ""
    status: int | None = None
    seconds: float | None = None
    body_sent: str = ""
    error: str = ""


@dataclass
class Fetched:
    options: list
    text: str  # what the cache keeps: the answer (or the list of pages), secrets masked
    encoding: str
    pages: list[PageCall] = field(default_factory=list)
    page_texts: list[str] = field(default_factory=list)  # a paginated item: the pages read by this fetch
    following: dict | None = None  # where a later fetch may go on (cache.Entry.following)
    end: bool = True  # the API said nothing follows these pages


def fetch_options(
    *, item, evaluated: Evaluated, pages: list[PageCall], start: dict | None = None, known: int = 0, want=None
) -> Fetched:
    """The options of a fresh call (or calls) of the item; `pages` is filled as each call is made, so a failure
    still shows what was called. Raises DatasourceError or ItemError (naming the page of a paginated item).

    A paginated item's pages are read from page 1, or from `start` (where an earlier fetch stopped, after `known`
    options), until `want` options are known in all (None: every page), the maximum options, the page cap or the
    last page."""
    with redaction.private_path(evaluated.path, evaluated.shown_path):  # what people typed stays out of INFO lines
        return _fetch(item, evaluated, pages, start=start, known=known, want=want)


def _fetch(item, evaluated: Evaluated, pages: list[PageCall], *, start, known: int, want) -> Fetched:
    body = evaluated.body.encode("utf-8") if evaluated.body is not None else None
    if item.pagination == Pagination.NONE:
        response = _call(item, pages, number=1, evaluated=evaluated, body=body, path_and_query=evaluated.query)
        data, text, encoding = response.json_releasing_body()
        try:
            options = extract_options(item=item, data=data)
        except ExtractionError as exc:
            exc.raw_text = text
            raise
        return Fetched(options=options, text=text, encoding=encoding, pages=pages)
    # The pages are one run: one deadline, one size cap, one log line (each page is admitted by the protection).
    with client.calls_in_a_run():
        return _fetch_pages(item, evaluated, body, pages, start=start, known=known, want=want)


def fetch_lookup(*, item, evaluated: Evaluated, pages: list[PageCall], **_steps) -> Fetched:
    """The entries a lookup call answers: one call (a lookup fetches one key's entry; it is never paginated, so the
    steps of a paginated fetch, start, known and want, do not apply)."""
    body = evaluated.body.encode("utf-8") if evaluated.body is not None else None
    with redaction.private_path(evaluated.path, evaluated.shown_path):  # the key stays out of INFO lines
        response = _call(item, pages, number=1, evaluated=evaluated, body=body, path_and_query=evaluated.query)
    data, text, encoding = response.json_releasing_body()
    return Fetched(options=lookup_options(item=item, data=data), text=text, encoding=encoding, pages=pages)


def lookup_from_cached(item, body: bytes) -> list:
    """The entries of a cached lookup answer."""
    try:
        data = loads_within_depth(body)
    except ValueError:
        raise errors.InvalidJSON("The cached answer is not JSON.") from None
    return lookup_options(item=item, data=data)


def _fetch_pages(item, evaluated: Evaluated, body, pages: list[PageCall], *, start, known: int, want) -> Fetched:
    options, texts = [], []
    number = start["number"] if start else 1
    try:
        target = _target_of(item, evaluated.query, start)
    except errors.DatasourceError as exc:
        pages.append(PageCall(number=number, method=evaluated.method))  # refused before it was called
        raise _on_page(exc, number, pages) from None
    following, end = None, False
    while True:
        try:
            response = _call(item, pages, number=number, evaluated=evaluated, body=body, **target)
            data, text, _encoding = response.json_releasing_body()
            texts.append(text)
            found = extract_options(item=item, data=data)[: item.max_options - known - len(options)]
            options += found
        except (errors.DatasourceError, ItemError) as exc:
            raise _on_page(exc, number, pages) from None
        if not found:  # an empty page: the last one
            end = True
            break
        if known + len(options) >= item.max_options or number == item.max_pages:
            break
        try:
            with redaction.redacting(response.redaction):  # the next link may carry the API key parameter
                target = _next_page(item, response, data, number, evaluated.query)
        except (errors.DatasourceError, ItemError) as exc:
            pages.append(PageCall(number=number + 1, method=evaluated.method))  # refused before it was called
            raise _on_page(exc, number + 1, pages) from None
        if target is None:
            end = True
            break
        number += 1
        if want is not None and known + len(options) >= want:
            following = _kept_target(number, target, response.redaction)
            break
    return Fetched(
        options=options,
        text="[" + ",".join(texts) + "]",
        encoding="utf-8",
        pages=pages,
        page_texts=texts,
        following=following,
        end=end,
    )


def _target_of(item, query: str, start: dict | None) -> dict:
    """Where page 1 is, or the page an earlier fetch stopped before (cache.Entry.following). A kept link is checked
    again as a next link (under the base URL) before it is called: the cache is not where that rule lives."""
    if start is None or item.pagination == Pagination.PAGE:
        return {"path_and_query": _page_query(item, query, start["number"] if start else 1)}
    return {"url": call_url.next_page_url(item.datasource.base_url, start["url"], start["url"])}


def _kept_target(number: int, target: dict, masking) -> dict | None:
    """Where the next page is, as the cache may keep it: the page number, and a next link without a secret (the
    client sets the API key parameter on every call, so it is dropped). A link that still holds one of the
    datasource's secrets is not kept: a later fetch starts again at page 1 instead."""
    if "url" not in target:
        return {"number": number}
    url = target["url"]
    for name in masking.secret_params:
        url = call_url.without_query_param(url, name)
    if masking.values(url) != url:
        return None
    return {"number": number, "url": url}


def _call(item, pages: list[PageCall], *, number: int, evaluated: Evaluated, body, **target):
    """One call through the client, recorded as a PageCall (the body as sent, redacted)."""
    datasource = item.datasource
    page = PageCall(number=number, method=evaluated.method)
    if evaluated.body is not None:
        page.body_sent = _redacted(datasource, evaluated.body)
    pages.append(page)
    started = time.monotonic()
    try:
        response = client.call_datasource(datasource=datasource, method=evaluated.method, body=body, **target)
    except errors.DatasourceError as exc:
        page.url, page.status, page.error = exc.shown_url, exc.status_code, exc.message
        page.seconds = time.monotonic() - started
        raise
    page.url, page.status, page.seconds = response.redacted_url, response.status_code, response.elapsed_seconds
    return response


def _next_page(item, response, data, number: int, query: str) -> dict | None:
    """Where the next page is (keyword arguments for the client), or None when this was the last one."""
    if item.pagination == Pagination.PAGE:
        return {"path_and_query": _page_query(item, query, number + 1)}
    if item.pagination == Pagination.LINK:
        link = _link_next(response)
    else:
        found = _next_url_in(item, data)
        link = found if isinstance(found, str) else None
    if not link:
        return None
    return {"url": call_url.next_page_url(item.datasource.base_url, response.request_url, link)}


def _page_query(item, query: str, number: int) -> str:
    if item.pagination != Pagination.PAGE:
        return query
    value = item.page_start + (number - 1) * item.page_step
    return call_url.with_query_param(query, item.page_parameter.strip(), str(value))


def _link_next(response) -> str | None:
    header = response.header("Link")
    for link in parse_header_links(header) if header else ():
        if "next" in (link.get("rel") or "").split():
            return link.get("url")
    return None


def _next_url_in(item, data):
    try:
        found = syntax.compile_path(item.next_url_path).values(data)
    except ValueError as exc:
        raise ExtractionError(f"The path to the next page's URL is not valid: {exc}") from None
    return found[0] if found else None


def _on_page(exc, number: int, pages: list[PageCall]):
    """The error, its message saying which page failed (the earlier pages were read)."""
    exc.page = number
    exc.message = f"Page {number} failed: {exc.message}"
    exc.args = (exc.message,)
    if pages and pages[-1].number == number and not pages[-1].error:
        pages[-1].error = exc.message
    return exc


def options_from_cached(item, body: bytes) -> list:
    """The options of a cached body: the answer, or for a paginated item the list of its pages."""
    try:
        data = loads_within_depth(body)
    except ValueError:
        raise errors.InvalidJSON("The cached answer is not JSON.") from None
    if item.pagination == Pagination.NONE:
        return extract_options(item=item, data=data)
    options = []
    for page in data if isinstance(data, list) else [data]:
        options += extract_options(item=item, data=page)[: item.max_options - len(options)]
        if len(options) >= item.max_options:
            break
    return options


def _redacted(datasource, text: str) -> str:
    return redaction_for_datasource(datasource).text(text)
