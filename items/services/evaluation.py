"""Query and body evaluation: variables replaced by their values, each encoded for where it stands (URL-encoded in
the query, JSON-encoded in a POST body)."""

import functools
from dataclasses import dataclass
from urllib.parse import quote

from datasources import url_rules

from .. import syntax
from .errors import InvalidVariableValue, MissingVariable


@dataclass(frozen=True)
class CurrentUser:
    """Who is asking: $currentUser is the username; .email and .displayName its parts (display name: the full name,
    else the username). From the signed-in account, or from an embedding token's claims."""

    username: str = ""
    email: str = ""
    display_name: str = ""

    @classmethod
    def of_account(cls, user) -> "CurrentUser":
        username = user.get_username() if user is not None else ""
        full_name = (user.get_full_name() if user is not None and hasattr(user, "get_full_name") else "").strip()
        return cls(username=username, email=getattr(user, "email", "") or "", display_name=full_name or username)

    @classmethod
    def of(cls, value) -> "CurrentUser":
        """A CurrentUser as it is, or one made from a username."""
        if isinstance(value, CurrentUser):
            return value
        return cls(username=value or "", display_name=value or "")

    def variables(self) -> dict:
        return {
            syntax.CURRENT_USER: _text(self.username),
            f"{syntax.CURRENT_USER}.email": _text(self.email),
            f"{syntax.CURRENT_USER}.displayName": _text(self.display_name or self.username),
        }


@dataclass(frozen=True)
class Evaluated:
    """One call of an item: the query (path and query string) and, for POST, the JSON body."""

    query: str
    method: str = "GET"
    body: str | None = None
    # The query's path as sent, and as logged at INFO: each variable's value there shown as "…" (personal data).
    path: str = ""
    shown_path: str = ""


def evaluate_query(*, item, user_input: str = "", current_user="", values: dict | None = None) -> str:
    """The item's query with $userInput, $currentUser (and its parts) and each dependency replaced."""
    return evaluate_call(item=item, user_input=user_input, current_user=current_user, values=values).query


def evaluate_call(*, item, user_input: str = "", current_user="", values: dict | None = None) -> Evaluated:
    """The item's query, and its JSON body for POST, with every variable replaced.

    In the query every value is percent-encoded with nothing kept safe, so `/`, `?`, `&`, `#` in a value stay data:
    a value can never add a path segment, start the query string, add a parameter or a fragment, or (with the
    client's own rule) change the host. In the body every value is JSON-encoded where it stands. A required
    variable without a value raises MissingVariable; an optional one is empty.
    """
    supplied = _supplied(item, current_user, values)
    supplied[syntax.USER_INPUT] = _text(user_input)
    return _evaluated(item, item.query or "", item.method, item.body_template or "", supplied)


def evaluate_lookup(*, item, key: str, current_user="", values: dict | None = None) -> Evaluated:
    """The item's lookup query (and body) for one key: $key is the key, the other variables as in the query."""
    supplied = _supplied(item, current_user, values)
    supplied[syntax.KEY] = _text(key)
    return _evaluated(item, item.lookup_query or "", item.lookup_method, item.lookup_body_template or "", supplied)


def _supplied(item, current_user, values: dict | None) -> dict:
    values = values or {}
    supplied = {name: _text(values.get(name, "")) for name in item.dependency_names}
    if isinstance(current_user, CurrentUser):
        supplied.update(current_user.variables())
    else:
        supplied[syntax.CURRENT_USER] = supplied[f"{syntax.CURRENT_USER}.displayName"] = _text(current_user)
        supplied[f"{syntax.CURRENT_USER}.email"] = ""
    return supplied


def _evaluated(item, query: str, method: str, body_template: str, supplied: dict) -> Evaluated:
    body_template = body_template if method == "POST" else ""
    template = _template(query, body_template)
    _check_supplied(item, template.used, supplied)

    evaluated_path = _substitute(template.path, supplied)
    _refuse_dot_segments(evaluated_path, template.path)
    query = evaluated_path + template.mark + _substitute(template.query_string, supplied)
    paths = {"path": evaluated_path, "shown_path": _substitute(template.path, supplied, shown=True)}
    if method != "POST":
        return Evaluated(query=query, **paths)
    body = syntax.fill_json_template(body_template, supplied.__getitem__) if body_template.strip() else None
    return Evaluated(query=query, method="POST", body=body, **paths)


@dataclass(frozen=True)
class _Template:
    path: str
    mark: str
    query_string: str
    used: tuple[str, ...]  # the variables of the query and the body, in order of first use


@functools.lru_cache(maxsize=512)
def _template(query: str, body_template: str) -> _Template:
    """An item's query split and its variables listed, once per text (evaluation runs on every keystroke)."""
    path, mark, query_string = query.partition("?")
    used = tuple(dict.fromkeys(syntax.query_variables(query) + syntax.query_variables(body_template)))
    return _Template(path=path, mark=mark, query_string=query_string, used=used)


def _text(value) -> str:
    return "" if value is None else value if type(value) is str else str(value)


def _check_supplied(item, used: tuple[str, ...], supplied: dict) -> None:
    unknown = [name for name in used if name not in supplied]
    if unknown:
        # The model refuses these; an item saved around validation still gets a clear message.
        raise MissingVariable(f"The query uses {_names(unknown)}, which the item does not declare.")
    missing = [name for name in used if not supplied[name]]
    if missing:
        optional = item.optional_names
        missing = [name for name in missing if name not in optional]
        if missing:
            raise MissingVariable(f"No value for {_names(missing)}: this item needs it to run its query.")


def _substitute(text: str, supplied: dict, *, shown: bool = False) -> str:
    """The text with each variable's value, percent-encoded; shown=True: "…" in place of each non-empty value."""

    def replace(match):
        name = syntax.variable_name(match)
        if name is None:  # `$$`
            return "$"
        if shown:
            return "…" if supplied[name] else ""
        return quote(supplied[name], safe="")

    return syntax.VARIABLE_RE.sub(replace, text)


def _refuse_dot_segments(evaluated_path: str, template_path: str) -> None:
    # `.` is unreserved, so quoting leaves it alone and HTTP stacks resolve `..` segments: refuse them here, with a
    # message about the value (the client refuses them too, url_rules being the one rule).
    if url_rules.has_dot_segment(evaluated_path):
        names = syntax.query_variables(template_path)
        raise InvalidVariableValue(
            f"A value for {_names(names)} would make a “.” or “..” path segment, which would change the path; it "
            "is refused."
        )


def _names(names) -> str:
    return ", ".join(f"${name}" for name in names)
