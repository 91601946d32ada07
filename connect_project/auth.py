"""Who may see Connect's configuration pages (signed-in staff only), and how the signed-in user is loaded."""

from functools import wraps

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import router

from .precompiled import sql_by_pk


def staff_required(view):
    """Anonymous visitors go to the login page; signed-in non-staff users get 403."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("Only staff users can see or change datasources and items.")
        return view(request, *args, **kwargs)

    return wrapped


class UserBackend(ModelBackend):
    """Django's ModelBackend, with the per-request user query compiled once per process instead of every time.

    Every request of a signed-in user loads the user (the options endpoint is called on each keystroke); building
    that query through the ORM cost twice as much as running it (precompiled.py). The row is still read on every
    request, so a deactivated, changed or deleted user is seen at once. Passwords, permissions and login are
    ModelBackend's.
    """

    def get_user(self, user_id):
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        alias = router.db_for_read(model)
        sql = sql_by_pk(f"user {model._meta.label}", alias, model._default_manager.using)
        user = next(iter(model._default_manager.db_manager(alias).raw(sql, [pk])), None)
        return user if user is not None and self.user_can_authenticate(user) else None
