"""The rules of the "token from a login call" mode, in one place: the login body template (JSON or a form body with
$username and $password in it), and the paths that find the token and its lifetime in the login answer. Pure
functions: the model checks a configuration with them at save, the login call (services/login_call.py) uses them to
build its request and read the answer.
"""

import json
import re
from urllib.parse import quote_plus

import jsonpath

JSON, FORM = "json", "form"
VARIABLES = ("username", "password")
# $username or ${username}; "$usernames" or "$username_2" are not the variable.
_VARIABLE = re.compile(r"\$(?:\{(username|password)\}|(username|password)(?![A-Za-z0-9_]))")
# RFC 9535 only, as the items' paths (python-jsonpath's own extensions are off).
_JSONPATH = jsonpath.JSONPathEnvironment(strict=True)
_DOTTED_SEGMENT = re.compile(r"^[^.\[\]$]+$")


def variables_in(template: str) -> set[str]:
    return {match.group(1) or match.group(2) for match in _VARIABLE.finditer(template or "")}


def fill(template: str, body_format: str, values: dict[str, str]) -> bytes:
    """The body to send: each variable replaced by its value, escaped for a JSON string or form-encoded."""

    def value_of(match: re.Match) -> str:
        value = values.get(match.group(1) or match.group(2), "")
        return json.dumps(value)[1:-1] if body_format == JSON else quote_plus(value)

    return _VARIABLE.sub(value_of, template or "").encode("utf-8")


def content_type(body_format: str) -> str:
    return "application/json" if body_format == JSON else "application/x-www-form-urlencoded"


def body_error(template: str, body_format: str) -> str:
    """Why the template cannot be sent ("" when it can): JSON that does not parse once filled, or a form body that is
    not name=value pairs."""
    text = template or ""
    if "\r" in text or "\x00" in text or (body_format == FORM and "\n" in text.strip()):
        return "The login body cannot contain control characters" + (
            " or line breaks in a form body." if body_format == FORM else "."
        )
    if body_format == JSON:
        # Each variable stands for a text of its own length, so the line and column are the template's. (Values are
        # escaped when the body is filled, so they cannot break the JSON.)
        try:
            json.loads(_VARIABLE.sub(lambda match: "x" * len(match.group(0)), text))
        except ValueError as exc:
            return (
                "The login body is not valid JSON (checked with a sample value in place of $username and $password, "
                f'which must stand inside quotes, as in "$password"): {exc.msg} at line {exc.lineno}, column '
                f"{exc.colno}."
            )
        return ""
    pairs = text.strip().split("&")
    if not all("=" in pair and pair.split("=", 1)[0] for pair in pairs) or " " in text.strip():
        return (
            "Write a form body as name=value pairs joined by &, without spaces, e.g. "
            "username=$username&password=$password."
        )
    return ""


def compile_path(text: str):
    """A JSONPath ($.access_token, $.data.token) or a dotted path (data.token, items.0.token), compiled; ValueError
    with a message for a person when it is neither."""
    text = (text or "").strip()
    if not text.startswith("$"):
        segments = text.split(".")
        if not text or not all(_DOTTED_SEGMENT.match(segment) for segment in segments):
            raise ValueError(
                f"“{text}” is not a path: write a JSONPath such as $.access_token or a dotted path such as data.token."
            )
        text = "$" + "".join(
            f"[{segment}]" if segment.isdigit() else f"[{json.dumps(segment)}]" for segment in segments
        )
    try:
        return _JSONPATH.compile(text)
    except jsonpath.JSONPathError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid query"
        raise ValueError(f"The path is not valid JSONPath: {first}.") from None


def path_error(text: str) -> str:
    try:
        compile_path(text)
    except ValueError as exc:
        return str(exc)
    return ""


MISSING = object()


def first_value(path: str, data):
    """The first value the path selects in `data`, or MISSING."""
    try:
        found = compile_path(path).findall(data)
    except (ValueError, jsonpath.JSONPathError):
        return MISSING
    return found[0] if found else MISSING
