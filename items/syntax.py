"""The small languages an item is written in: query and body variables, paths (dotted or RFC 9535 JSONPath) and
label templates.

Pure parsing, shared by the model's validation and the resolution service, so both read an item the same way.
Paths and templates are compiled once per text (lru_cache): resolution runs them on every cache miss.
"""

import functools
import json
import re

import jsonpath

IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
USER_INPUT = "userInput"
CURRENT_USER = "currentUser"
KEY = "key"  # the lookup query's own variable: the key whose entry it fetches
# $currentUser has parts: $currentUser.email, $currentUser.displayName (SPEC 7).
CURRENT_USER_PARTS = ("email", "displayName")
CURRENT_USER_VARIABLES = (CURRENT_USER,) + tuple(f"{CURRENT_USER}.{part}" for part in CURRENT_USER_PARTS)
_PART = "|".join(CURRENT_USER_PARTS)
# $name or ${name}, and $currentUser.part / ${currentUser.part}; `$$` is a literal dollar sign.
VARIABLE_RE = re.compile(
    r"\$(?:\$"
    rf"|\{{(?P<braced>{CURRENT_USER}\.(?:{_PART})|[A-Za-z_][A-Za-z0-9_]*)\}}"
    rf"|(?P<bare>{CURRENT_USER}\.(?:{_PART})(?![A-Za-z0-9_])|[A-Za-z_][A-Za-z0-9_]*))"
)
UNCLOSED_BRACE_RE = re.compile(rf"(?<!\$)\$\{{(?!(?:{CURRENT_USER}\.(?:{_PART})|[A-Za-z_][A-Za-z0-9_]*)\}})")
# One segment of a dotted path: anything but dots, whitespace, braces and brackets.
PATH_SEGMENT_RE = re.compile(r"^[^.\s{}\[\]]+$")
# `q` carries $userInput on the options endpoint, `offset` and `limit` ask for a slice: a dependency cannot use them.
RESERVED_NAMES = frozenset(name.lower() for name in (USER_INPUT, CURRENT_USER, "q", "offset", "limit"))
SAMPLE_VALUE = "x"

# RFC 9535 only: python-jsonpath's own extensions (keys selectors, pseudo root, ...) are off.
JSONPATH = jsonpath.JSONPathEnvironment(strict=True)


# --- variables ------------------------------------------------------------------------------------------------


def variable_name(match: re.Match) -> str | None:
    """The variable a VARIABLE_RE match names, None for `$$`."""
    return match.group("braced") or match.group("bare")


def query_variables(text: str) -> list[str]:
    """Variable names used in a query or body template, in order of first use."""
    names = []
    for match in VARIABLE_RE.finditer(text or ""):
        name = variable_name(match)
        if name and name not in names:
            names.append(name)
    return names


def has_unclosed_brace(text: str) -> bool:
    return bool(UNCLOSED_BRACE_RE.search((text or "").replace("$$", "")))


def with_sample_values(query: str) -> str:
    """The query with each variable replaced by a plain sample value (and `$$` by `$`), to check its URL rules."""
    return VARIABLE_RE.sub(lambda m: "$" if m.group(0) == "$$" else SAMPLE_VALUE, query or "")


def fill_json_template(template: str, value_of) -> str:
    """A JSON body template with each variable replaced by value_of(name), JSON-encoded where it stands: inside a
    JSON string it is escaped for that string (`"q": "$userInput"`), elsewhere it becomes a JSON string
    (`"q": $userInput`). `$$` is a literal dollar sign."""
    out, in_string, escaped, position = [], False, False, 0
    for match in VARIABLE_RE.finditer(template):
        literal = template[position : match.start()]
        in_string, escaped = _string_state(literal, in_string, escaped)
        out.append(literal)
        name = variable_name(match)
        if name is None:
            out.append("$")
        else:
            encoded = _json_string(value_of(name))
            out.append(encoded[1:-1] if in_string else encoded)
        position = match.end()
    out.append(template[position:])
    return "".join(out)


def _string_state(text: str, in_string: bool, escaped: bool) -> tuple[bool, bool]:
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and in_string:
            escaped = True
        elif char == '"':
            in_string = not in_string
    return in_string, escaped


def _json_string(value) -> str:
    return json.dumps("" if value is None else str(value), ensure_ascii=False)


# --- paths ----------------------------------------------------------------------------------------------------


def split_path(path: str) -> list[str]:
    """A dotted path (`data.items`) as its segments; blank means the root."""
    path = (path or "").strip()
    return path.split(".") if path else []


def is_jsonpath(path: str) -> bool:
    """A path starting with `$` is RFC 9535 JSONPath (`$.items[?@.active == true]`); anything else is dotted."""
    return (path or "").strip().startswith("$")


def is_valid_path(path: str) -> bool:
    try:
        compile_path(path)
    except ValueError:
        return False
    return True


class Path:
    """A compiled path: `values(data)` is every value it selects (a dotted path selects at most one)."""

    def __init__(self, text: str):
        self.text = text.strip()
        self.jsonpath = None
        self.segments: tuple[str, ...] = ()
        if is_jsonpath(self.text):
            try:
                self.jsonpath = JSONPATH.compile(self.text)
            except jsonpath.JSONPathError as exc:
                raise ValueError(jsonpath_error_message(exc)) from None
        else:
            self.segments = tuple(split_path(self.text))
            if not all(PATH_SEGMENT_RE.match(segment) for segment in self.segments):
                raise ValueError(
                    "Enter names separated by dots, as in data.items (no spaces, braces or empty "
                    "parts), or a JSONPath starting with $, as in $.data.items[?@.active == true]."
                )

    @property
    def singular(self) -> bool:
        """True when the path names one place (no wildcard, filter, slice or descendants)."""
        return self.jsonpath is None or self.jsonpath.singular_query()

    def values(self, data) -> list:
        if self.jsonpath is not None:
            try:
                return self.jsonpath.findall(data)
            except jsonpath.JSONPathError as exc:
                raise ValueError(jsonpath_error_message(exc)) from None
        found = lookup(data, self.segments)
        return [] if found is MISSING else [found]


MISSING = object()


def lookup(value, segments):
    """The value at a dotted path's segments, or MISSING (a digit segment indexes a list)."""
    for segment in segments:
        if type(value) is dict:  # what JSON gives: the common case, without a call
            value = value.get(segment, MISSING)
        elif isinstance(value, dict):
            value = value.get(segment, MISSING)
        elif isinstance(value, list) and segment.isdigit():
            index = int(segment)
            value = value[index] if index < len(value) else MISSING
        else:
            return MISSING
        if value is MISSING:
            return MISSING
    return value


@functools.lru_cache(maxsize=512)
def compile_path(text: str) -> Path:
    """The compiled path; ValueError with a message for a person when it is not a valid dotted path or JSONPath."""
    return Path(text or "")


def jsonpath_error_message(exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid query"
    where = re.search(r"' (\d+):(\d+)", str(exc))
    at = f" at character {where.group(2)}" if where else ""
    return f"Not a valid JSONPath (RFC 9535): {first}{at}."


# --- labels ---------------------------------------------------------------------------------------------------


def is_bare_field(template: str) -> bool:
    """A label without braces is one field (`name`, `fields.summary`, `$.fields.summary`), not literal text: `{...}`
    makes a template."""
    return bool(template) and "{" not in template and "}" not in template


@functools.lru_cache(maxsize=256)
def parse_label(template: str) -> tuple[tuple[str, str | None], ...]:
    """A label as (literal text, field or None) parts: a bare field path, or a template such as
    `{key} - {fields.summary}` or `{$.fields.summary}` ({{ and }} are literal braces).

    Raises ValueError with a message for a person when the label is malformed or a field is not a valid path.
    """
    template = template or ""
    if not template:
        return ()
    if is_bare_field(template):
        field = template.strip()
        _check_label_field(field, bare=True)
        return (("", field),)
    parts, literal, i = [], [], 0
    while i < len(template):
        char = template[i]
        if char in "{}" and template[i + 1 : i + 2] == char:
            literal.append(char)
            i += 2
        elif char == "}":
            raise ValueError("Braces do not match: write a field as {name}, and a literal brace as {{ or }}.")
        elif char == "{":
            end = _closing_brace(template, i + 1)
            field = template[i + 1 : end].strip()
            _check_label_field(field, bare=False)
            parts.append(("".join(literal), field))
            literal, i = [], end + 1
        else:
            literal.append(char)
            i += 1
    if literal:
        parts.append(("".join(literal), None))
    return tuple(parts)


def label_fields(template: str) -> list[str]:
    """The fields a label uses (raises ValueError like parse_label)."""
    return [field for _literal, field in parse_label(template) if field is not None]


def _closing_brace(template: str, start: int) -> int:
    """The index of the } closing a field; quotes inside a JSONPath filter may hold braces."""
    quote = None
    for index in range(start, len(template)):
        char = template[index]
        if quote:
            if char == quote and template[index - 1] != "\\":
                quote = None
        elif char in "'\"" and is_jsonpath(template[start:index]):
            quote = char
        elif char == "}":
            return index
        elif char == "{":
            break
    raise ValueError("Braces do not match: write a field as {name}, and a literal brace as {{ or }}.")


def _check_label_field(field: str, *, bare: bool) -> None:
    if not field:
        raise ValueError("Empty {} in the label: name a field, as in {key} or {fields.summary}.")
    if not bare and not is_jsonpath(field) and any(ch in field for ch in ":!"):
        raise ValueError(f"“{{{field}}}”: formats and conversions (: or !) are not supported in labels.")
    try:
        compile_path(field)
    except ValueError as exc:
        shown = field if bare else f"{{{field}}}"
        raise ValueError(f"“{shown}” is not a field path: {exc}") from None
