"""The small languages an item is written in: query variables, dotted paths and label templates.

Pure parsing, shared by the model's validation and the resolution service, so both read an item the same way.
"""
import re
from string import Formatter

IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# $name or ${name}; `$$` is a literal dollar sign.
VARIABLE_RE = re.compile(r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
UNCLOSED_BRACE_RE = re.compile(r"(?<!\$)\$\{(?![A-Za-z_][A-Za-z0-9_]*\})")
# One segment of a dotted path: anything but dots, whitespace and braces.
PATH_SEGMENT_RE = re.compile(r"^[^.\s{}\[\]]+$")

USER_INPUT = "userInput"
CURRENT_USER = "currentUser"
# `q` carries $userInput on the options endpoint, so a dependency cannot use it.
RESERVED_NAMES = frozenset(name.lower() for name in (USER_INPUT, CURRENT_USER, "q"))


def query_variables(query: str) -> list[str]:
    """Variable names used in a query, in order of first use."""
    names = []
    for match in VARIABLE_RE.finditer(query or ""):
        name = match.group("braced") or match.group("bare")
        if name and name not in names:
            names.append(name)
    return names


def with_sample_values(query: str) -> str:
    """The query with each variable replaced by a plain sample value (and `$$` by `$`), to check its URL rules."""
    return VARIABLE_RE.sub(lambda m: "$" if m.group(0) == "$$" else "x", query or "")


def has_unclosed_brace(query: str) -> bool:
    return bool(UNCLOSED_BRACE_RE.search((query or "").replace("$$", "")))


def split_path(path: str) -> list[str]:
    """A dotted path (`data.items`) as its segments; blank means the root."""
    path = (path or "").strip()
    return path.split(".") if path else []


def is_valid_path(path: str) -> bool:
    return all(PATH_SEGMENT_RE.match(segment) for segment in split_path(path))


def is_bare_field(template: str) -> bool:
    """A label without braces is one field (`name`, `fields.summary`), not literal text: `{...}` makes a template."""
    return bool(template) and "{" not in template and "}" not in template


def label_fields(template: str) -> list[str]:
    """The field names used in a label: a bare field path (`fields.summary`), or a template such as
    `{key} - {fields.summary}`.

    Raises ValueError with a message for a person when the label is malformed.
    """
    if is_bare_field(template):
        if not is_valid_path(template.strip()):
            raise ValueError("A label without braces is a field: write a field path such as name or "
                             "fields.summary, or a template such as {key} - {fields.summary}.")
        return [template.strip()]
    fields = []
    try:
        parsed = list(Formatter().parse(template or ""))
    except ValueError:
        raise ValueError("Braces do not match: write a field as {name}, and a literal brace as {{ or }}.")
    for _literal, field_name, format_spec, conversion in parsed:
        if field_name is None:
            continue
        if not field_name:
            raise ValueError("Empty {} in the label: name a field, as in {key} or {fields.summary}.")
        if format_spec or conversion:
            raise ValueError(f"“{{{field_name}…}}”: formats and conversions (: or !) are not supported in labels.")
        if not is_valid_path(field_name):
            raise ValueError(f"“{{{field_name}}}” is not a field path: use names separated by dots, "
                             "as in {fields.summary}.")
        fields.append(field_name)
    return fields
