"""An application's secret: made by Connect, rotated on request, and shown once.

"Shown once" keeps the secret itself out of the session: the session only remembers which configuration version
of which application may show its secret, and the page that shows it forgets that at once. The secret is read
from its encrypted column for that one page.
"""

from django.utils import timezone

from ..models import Application, new_secret

OFFER_KEY = "applications:secret_offer"


def rotate_secret(*, application: Application) -> None:
    """A new secret; tokens signed with the old one are refused from the next request (a new config version)."""
    application.secret = new_secret()
    application.secret_rotated_at = timezone.now()
    application.save()


def offer_secret(*, session, application: Application) -> None:
    """The next visit of this application's secret page (in this session) shows the secret, once."""
    session[OFFER_KEY] = {"application": application.pk, "version": application.config_version}


def take_offered_secret(*, session, application: Application) -> str | None:
    """The secret when this session was offered it for the application's current version, else None. Either way
    the offer is gone: a reload, the back button or another tab shows nothing."""
    offer = session.pop(OFFER_KEY, None)
    if offer == {"application": application.pk, "version": application.config_version}:
        return application.secret
    return None
