"""Query evaluation: variables replaced by their values, each URL-encoded for where it stands."""
from urllib.parse import quote

from datasources import url_rules

from .. import syntax
from .errors import InvalidVariableValue, MissingVariable


def evaluate_query(*, item, user_input: str = "", current_user: str = "", values: dict | None = None) -> str:
    """The item's query with $userInput, $currentUser and each dependency replaced.

    Every value is percent-encoded with nothing kept safe, so `/`, `?`, `&`, `#` in a value stay data: a value can
    never add a path segment, start the query string, add a parameter or a fragment, or (with the client's own
    rule) change the host. A required variable without a value raises MissingVariable; an optional one is empty.
    """
    supplied = {name: (values or {}).get(name, "") for name in item.dependency_names}
    supplied[syntax.USER_INPUT] = user_input
    supplied[syntax.CURRENT_USER] = current_user
    supplied = {name: "" if value is None else str(value) for name, value in supplied.items()}

    used = syntax.query_variables(item.query)
    unknown = [name for name in used if name not in supplied]
    if unknown:
        # The model refuses these; an item saved around validation still gets a clear message.
        raise MissingVariable(f"The query uses {_names(unknown)}, which the item does not declare.")
    missing = [name for name in used if not supplied[name] and name not in item.optional_names]
    if missing:
        raise MissingVariable(f"No value for {_names(missing)}: this item needs it to run its query.")

    path, mark, query_string = (item.query or "").partition("?")
    evaluated_path = _substitute(path, supplied)
    _refuse_dot_segments(evaluated_path, path)
    return evaluated_path + mark + _substitute(query_string, supplied)


def _substitute(text: str, supplied: dict) -> str:
    def replace(match):
        name = match.group("braced") or match.group("bare")
        if name is None:  # `$$`
            return "$"
        return quote(supplied[name], safe="")

    return syntax.VARIABLE_RE.sub(replace, text)


def _refuse_dot_segments(evaluated_path: str, template_path: str) -> None:
    # `.` is unreserved, so quoting leaves it alone and HTTP stacks resolve `..` segments: refuse them here, with a
    # message about the value (the client refuses them too, url_rules being the one rule).
    if url_rules.has_dot_segment(evaluated_path):
        names = syntax.query_variables(template_path)
        raise InvalidVariableValue(
            f"A value for {_names(names)} would make a “.” or “..” path segment, which would change the path; it "
            "is refused.")


def _names(names) -> str:
    return ", ".join(f"${name}" for name in names)
