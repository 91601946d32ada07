"""Signing in: django-axes counts wrong passwords per account and address and locks the pair for a while; this module
adds the pause that slows guessing before the lock, and the page a locked-out person sees (on /login/ and
/admin/login/ alike). The settings are the CONNECT_SIGN_IN_* ones (README, "Sign-in protection"). The address is
REMOTE_ADDR: behind the trusted proxy, the client's (operations/forwarded.py)."""

import time

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import LogoutView
from django.dispatch import receiver
from django.shortcuts import render

# Wrong passwords answered at once before the pause starts (a typo or two costs nothing).
FREE_FAILURES = 3
# The pause doubles with each further failure, up to this many times the first one.
LONGEST_PAUSE_FACTOR = 4


def pause_after(failures: int) -> float:
    """Seconds to wait before answering the `failures`-th wrong password in a row for one account and address."""
    first = settings.CONNECT_SIGN_IN_PAUSE_SECONDS
    if failures <= FREE_FAILURES or first <= 0:
        return 0.0
    return min(first * 2 ** (failures - FREE_FAILURES - 1), first * LONGEST_PAUSE_FACTOR)


@receiver(user_login_failed, dispatch_uid="connect.sign_in.slow_down")
def slow_down(sender, credentials, request=None, **kwargs):
    """A wrong password is answered after a pause that grows with the failures (axes has counted this one: its app
    comes first in INSTALLED_APPS, so its receiver runs first). A locked-out attempt is answered at once."""
    if request is None or getattr(request, "axes_locked_out", False):
        return
    pause = pause_after(AxesProxyHandler.get_failures(request, credentials))
    if pause:
        time.sleep(pause)


def locked_out(request, original_response=None, credentials=None):
    """The page for a locked account and address (AXES_LOCKOUT_CALLABLE): what happened, and how long to wait."""
    return render(
        request,
        "registration/locked_out.html",
        {"minutes": settings.CONNECT_SIGN_IN_LOCKOUT_MINUTES, "sign_in_url": request.path},
        status=429,
    )


class SignOutView(LogoutView):
    """Signing out says so on the sign-in page it leads to (it showed that page with no word of what happened)."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.success(request, "You are signed out.")
        return response
