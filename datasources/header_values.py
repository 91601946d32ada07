"""What Connect can put in an HTTP header, in one place: the validators (at save) and the outbound client (at call
time, for values stored before a rule existed) call these, so a value accepted at save is a value the client can send.

- A header value (a custom header, an API key sent as a header, an OAuth access token) goes on the wire as ISO-8859-1
  bytes: RFC 9110's field-value characters, read as Latin-1, are tab, space, visible ASCII and U+0080-U+00FF. Line
  breaks and NUL would split or end the header; anything beyond U+00FF (Cyrillic, Chinese, the euro sign, emoji, the
  invisible U+2028 line separator) has no Latin-1 byte at all.
- Basic credentials are not limited so: they go Base64-encoded, as UTF-8 (RFC 7617's charset, what browsers send).
  The user name cannot contain ":" (it separates the name from the password).

A rule never quotes the value it refuses (it may be a secret).
"""

import re

LINE_BREAKS = re.compile(r"[\r\n\x00]")
# RFC 9110 field-value characters (HTAB, SP, VCHAR, obs-text) as Latin-1 code points.
SENDABLE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


class HeaderValueError(ValueError):
    """A value Connect cannot send in a header; `code` names the rule, `message` is for people."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


def check_line_breaks(value: str) -> str:
    """No CR, LF or NUL: what every value bound for a request line or header needs. Returns it; raises
    HeaderValueError."""
    if LINE_BREAKS.search(value or ""):
        raise HeaderValueError("A header value cannot contain line breaks (CR, LF) or NUL characters.", "header_value")
    return value


def check_header_value(value: str) -> str:
    """A value an HTTP header can carry (see the module docstring). Returns it; raises HeaderValueError."""
    check_line_breaks(value)
    if SENDABLE.fullmatch(value or ""):
        return value
    if any(ord(ch) > 0xFF for ch in value):
        raise HeaderValueError(
            "This value has characters an HTTP header cannot carry: only Latin-1 letters and symbols can be sent "
            "(not Cyrillic, Greek, Chinese, the euro sign, emoji or invisible separators such as U+2028). If the API "
            "expects such text, enter it encoded as the API documents (for example percent-encoded or Base64).",
            "header_value_charset",
        )
    raise HeaderValueError(
        "A header value cannot contain control characters (tabs and spaces are fine).", "header_value_control"
    )


def check_basic_user_name(value: str) -> str:
    if ":" in (value or ""):
        raise HeaderValueError(
            "A Basic authentication user name cannot contain “:”: it separates the name from the password.",
            "basic_user_name",
        )
    return value


def basic_credentials(username: str, password: str) -> tuple[bytes, bytes]:
    """The user name and password as Basic authentication sends them: UTF-8 (RFC 7617), whatever their script."""
    return (username or "").encode("utf-8"), (password or "").encode("utf-8")
