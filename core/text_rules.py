"""One rule for every text a person gives Connect to store: no NUL character. PostgreSQL's text and jsonb columns
refuse it (a 500 at save), so it is a field error instead, also inside JSON data, where it hides as the escape
\\u0000. Django's form fields already refuse a NUL typed as such; JSON typed into a text box (extra token parameters,
the admin's JSON fields) is parsed first, so its keys and string values are checked here, at any depth."""

from django.core.exceptions import ValidationError

NUL = "\x00"
MESSAGE = "Null characters are not allowed (nor the escape \\u0000 in JSON)."


def validate_no_null_characters(value) -> None:
    """Text, or JSON data: its keys and string values at any depth. Raises ValidationError."""
    if null_character_error(value):
        raise ValidationError(MESSAGE, code="null_characters_not_allowed")


def null_character_error(value) -> str:
    """The message for a model's clean() (which collects messages per field), or "" when the value is fine."""
    return MESSAGE if _has_nul(value) else ""


def _has_nul(value) -> bool:
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, str):
            if NUL in current:
                return True
        elif isinstance(current, dict):
            pending += list(current.keys()) + list(current.values())
        elif isinstance(current, (list, tuple)):
            pending += current
    return False
