"""Matching typed text against option labels on Connect: `q` on a select-type item, and narrowing (SPEC 10).

Both ignore case and accents the same way: Unicode NFKD, combining marks dropped, then casefold ("Île-de-France",
"ILE-DE-FRANCE" and "ile-de-france" are one text; "ß" matches "ss"). Folded labels are kept per process
(lru_cache, up to FOLDED_KEPT of them, a few MB): typing in a 5,000-option list folds each label once, not once per
keystroke.
"""

import functools
import unicodedata

from ..models import ApiFilter

FOLDED_KEPT = 50_000


@functools.lru_cache(maxsize=FOLDED_KEPT)
def fold(text: str) -> str:
    """The text compared: NFKD, without combining marks, casefolded."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def filter_options(options: list[dict], text: str, rule: str = ApiFilter.LABEL_CONTAINS) -> list[dict]:
    """The options whose label matches `text` by `rule` (ApiFilter: contains or starts with), in their order."""
    wanted = fold(text)
    if not wanted:
        return list(options)
    if rule == ApiFilter.LABEL_STARTS_WITH:
        return [option for option in options if fold(_label(option)).startswith(wanted)]
    return [option for option in options if wanted in fold(_label(option))]


def _label(option: dict) -> str:
    label = option.get("label")
    return label if type(label) is str else str(label)
