"""Errors of item resolution that are not the datasource's: a caller's missing value, an answer of the wrong shape.

They carry the same `code`, `message` and `http_status` as datasources.services.errors.DatasourceError, so the
endpoint and the preview treat both alike.
"""


class ItemError(Exception):
    code = "item_error"
    http_status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


class MissingVariable(ItemError):
    """A required variable has no value for this call."""

    code = "missing_variable"


class InvalidVariableValue(ItemError):
    """A value that would change the query's path (a `.` or `..` segment)."""

    code = "invalid_value"


class ExtractionError(ItemError):
    """The API answered, but not in the shape the item describes (no list there, no key field...)."""

    code = "extraction_error"
    http_status = 502


class InvalidParameter(ItemError):
    """A parameter of the options endpoint that is not a whole number in its range (offset, limit)."""

    code = "invalid_parameter"

    def __init__(self, name: str, *, low: int, high: int):
        super().__init__(f"“{name}” must be a whole number from {low} to {high}.")
        self.name = name
