"""What the options endpoint answers: an item's options whole, or one slice of them (`offset`, `limit`), with how
many are known and whether more follow; for a select-type item (no $userInput), `q` filters the labels on Connect.

A slice is taken from Connect's own list of options (the cached answer), so a paginated item reads its further
pages only when an offset reaches past the pages read (resolution.py). Filtering a select-type item reads its whole
list once (the cached answer, one upstream call) and then never calls the API for a text: what is typed is not in
the query, so every text shares the one cache entry.
"""

from dataclasses import dataclass

from ..models import MAX_OPTIONS_LIMIT
from . import label_match
from .errors import InvalidParameter
from .resolution import Resolution, resolve_item

MAX_LIMIT = 200


@dataclass(frozen=True)
class Slice:
    """offset and limit as asked; limit None: the whole list."""

    offset: int = 0
    limit: int | None = None

    @property
    def want(self) -> int | None:
        """How many options from the start of the list this slice needs read."""
        return None if self.limit is None else self.offset + self.limit


@dataclass
class OptionsList:
    resolution: Resolution
    options: list  # the slice asked for
    total_known: int  # options known so far (after `q` on a select-type item)
    has_more: bool  # another slice follows: known options after this one, or pages not read yet
    complete: bool  # the known options are all there are: no next page, fewer than the item's maximum


def slice_asked(*, item, parameters) -> Slice:
    """`offset` (0 up to the largest maximum options) and `limit` (1-200) from the request's parameters; neither:
    the whole list; `offset` alone: a slice of MAX_LIMIT. An empty value counts as none; anything else out of its
    range raises InvalidParameter. An item saved before the two names were reserved that declares a dependency so
    named keeps the parameter for its dependency."""
    offset = _whole_number(item, parameters, "offset", low=0, high=MAX_OPTIONS_LIMIT)
    limit = _whole_number(item, parameters, "limit", low=1, high=MAX_LIMIT)
    if offset is None and limit is None:
        return Slice()
    return Slice(offset=offset or 0, limit=MAX_LIMIT if limit is None else limit)


def _whole_number(item, parameters, name: str, *, low: int, high: int) -> int | None:
    text = "" if name in item.dependency_names else (parameters.get(name) or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise InvalidParameter(name, low=low, high=high)
    return int(text)


def list_options(*, item, text: str = "", current_user="", values: dict | None = None, asked: Slice) -> OptionsList:
    """The slice of the item's options asked for. Raises as resolve_item does."""
    search = item.uses_user_input
    filtered = bool(text) and not search
    resolution = resolve_item(
        item=item,
        user_input=text if search else "",
        current_user=current_user,
        values=values,
        want=None if filtered else asked.want,
    )
    options = label_match.filter_options(resolution.options, text) if filtered else resolution.options
    end = len(options) if asked.limit is None else min(asked.offset + asked.limit, len(options))
    return OptionsList(
        resolution=resolution,
        options=options[asked.offset : end],
        total_known=len(options),
        has_more=end < len(options) or resolution.more_upstream,
        complete=resolution.complete,
    )
