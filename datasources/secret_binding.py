"""A stored secret never follows a datasource to another origin: the one home of that rule, called by the edit page,
the admin and the configuration import alike.

A secret was entered for the places it is used with: the API base URL (every call carries the password, the key or the
access token) and, in the OAuth modes, the token URL (the client secret is sent there) and the authorization URL (where
consent, and so the tokens, come from), and in the login-call mode the login URL (the password is sent there). Moving
one of them to another origin (scheme, host, port: url_rules.origin) needs every stored secret of the mode entered
again, and clears the stored tokens.
"""

from . import url_rules
from .models import ENTERED_SECRETS, MODE_FIELDS

# The URLs a stored secret is bound to, and how a message names a move of each.
BOUND_URLS = {
    "base_url": "API host",
    "token_url": "token URL's host",
    "authorization_url": "authorization URL's host",
    "login_url": "login URL's host",
}
OAUTH_URLS = ("token_url", "authorization_url", "login_url")  # the authentication's URLs, in the modes that have them


def bound_urls(*, mode: str, base_url: str, auth_values: dict) -> dict[str, str]:
    """The bound URLs that `mode` uses: the base URL always, the token, authorization and login URLs when the mode
    has them (`auth_values` holds their values)."""
    used = MODE_FIELDS.get(mode, ())
    urls = {"base_url": base_url or ""}
    urls.update({field: auth_values.get(field) or "" for field in OAUTH_URLS if field in used})
    return urls


def moved_urls(*, before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The names in `after` whose origin is not the one in `before`. A URL set where there was none has moved, and so
    has one whose origin cannot be read (its own validator refuses it)."""
    return [name for name, url in after.items() if _origin(url) is None or _origin(url) != _origin(before.get(name))]


def secrets_left_behind(auth, *, mode: str, replaced=()) -> list[str]:
    """The stored secrets that `mode` uses and that a move would carry along unless entered again or cleared
    (`replaced`): a move must refuse them."""
    used = set(MODE_FIELDS.get(mode, ()))
    return [field for field in ENTERED_SECRETS if field in used and getattr(auth, field) and field not in replaced]


def enter_again_message(moved: list[str], secret_label: str) -> str:
    """Next to a secret on the edit page, where it can be entered again."""
    return (
        f"The {described(moved)} changed: enter the {secret_label} again, so a stored secret never follows a "
        f"datasource to another host."
    )


def admin_refusal_message(moved: list[str]) -> str:
    """In the admin, which cannot take secrets: the move is made on the edit page instead."""
    return (
        f"The {described(moved)} changed and this datasource has stored secrets: make this change on the "
        f"datasource's edit page, where the secrets are entered again for the new host."
    )


def described(moved: list[str]) -> str:
    """The moved URLs as a message names them: "API host", "token URL's host and authorization URL's host"."""
    names = [BOUND_URLS[name] for name in moved]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _origin(url: str | None):
    try:
        return url_rules.origin(url or "") if url else ("", "", 0)
    except url_rules.URLRuleError:
        return None


def proxy_moved(before: str, after: str) -> bool:
    """A datasource's proxy password goes to its proxy: a proxy URL naming another host or port is a move (a proxy
    set where there was none is not: nothing was stored for it)."""
    if not before or not after:
        return False
    try:
        old = url_rules.check_proxy_url(before, password_allowed=False)
        new = url_rules.check_proxy_url(after, password_allowed=False)
    except url_rules.URLRuleError:
        return False  # its own validator refuses it
    return (old.host, old.port) != (new.host, new.port)
