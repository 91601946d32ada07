"""Who is calling the item API: `request.caller`, set by the caller middleware (applications/middleware.py) for every
request under /api/items/, as django-oauth-toolkit's middleware sets the user of a bearer token.

A caller is the user of an embedding token (with its application) or the signed-in user of a Connect session. A
refused caller is `request.caller_refusal` instead, a CallerRefused: its code, public message and HTTP status. The
item API judges the item itself (`Caller.check_item`): the middleware does not know which item is asked.
"""

from dataclasses import dataclass, field

from django.conf import settings


class CallerRefused(Exception):
    """A caller the item API refuses: `code`, a public `message` naming the reason and nothing else, `http_status`."""

    code = "invalid_token"
    http_status = 401
    message = "The embedding token is not a well-formed JWT."

    def __init__(self, message: str | None = None):
        if message is not None:
            self.message = message
        super().__init__(self.message)

    def __str__(self):
        return self.message


class NotAuthenticated(CallerRefused):
    code = "not_authenticated"
    message = "Sign in to use this API, or send an embedding token (Authorization: Bearer <token>)."


class ItemNotGranted(CallerRefused):
    code = "item_not_granted"
    http_status = 403
    message = "The embedding token does not grant this item."


class ItemNotAllowed(CallerRefused):
    code = "item_not_allowed"
    http_status = 403
    message = "This item is open to chosen groups only, and your account is in none of them."


@dataclass(frozen=True)
class Caller:
    username: str
    email: str = ""
    display_name: str = ""
    # The embedding token's application (applications.services.lookup.KnownApplication); None: a Connect session.
    application: object | None = None
    item_ids: frozenset = field(default_factory=frozenset)  # the items the token grants (a token caller only)
    user: object | None = None  # the signed-in user (a session caller only)

    @classmethod
    def of_user(cls, user) -> "Caller":
        """The caller of a signed-in Connect session."""
        return cls(username=user.get_username(), email=user.email or "", display_name=user.get_full_name(), user=user)

    def check_item(self, item_id: int) -> None:
        """Raise ItemNotGranted when this caller's token does not grant item `item_id` (a session caller: every item
        its account may use, which the item decides)."""
        if self.application is not None and item_id not in self.item_ids:
            raise ItemNotGranted()


def audience_for(request) -> str:
    """The `aud` embedding tokens must carry: CONNECT_PUBLIC_URL, or this request's own origin when it is unset."""
    if settings.CONNECT_PUBLIC_URL:
        return settings.CONNECT_PUBLIC_URL.rstrip("/")
    return f"{request.scheme}://{request.get_host()}"
