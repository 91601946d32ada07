"""Item resolution: query evaluation, the shared answer cache, option extraction."""

from .cache import cache_key_for
from .errors import ExtractionError, InvalidVariableValue, ItemError, MissingVariable
from .evaluation import evaluate_query
from .extraction import extract_options
from .resolution import Resolution, resolve_item, resolve_lookup

__all__ = [
    "ExtractionError",
    "InvalidVariableValue",
    "ItemError",
    "MissingVariable",
    "Resolution",
    "cache_key_for",
    "evaluate_query",
    "extract_options",
    "resolve_item",
    "resolve_lookup",
]
