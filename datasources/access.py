"""Who may see Connect's configuration pages (signed-in staff only), and how the signed-in user is loaded."""
from functools import wraps

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import router

_PLACEHOLDER_PK = 2_147_483_000  # stands for the real id while the user query is compiled


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
    that query through the ORM cost twice as much as running it. The row is still read on every request, so a
    deactivated, changed or deleted user is seen at once. Passwords, permissions and login are ModelBackend's.
    """

    _sql: dict = {}  # database alias -> SQL of "the user with this id", all columns

    def get_user(self, user_id):
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        alias = router.db_for_read(model)
        user = next(iter(model._default_manager.db_manager(alias).raw(self._user_sql(model, alias), [pk])), None)
        return user if user is not None and self.user_can_authenticate(user) else None

    @classmethod
    def _user_sql(cls, model, alias: str) -> str:
        key = (model._meta.label, alias)
        if key not in cls._sql:
            sql, params = model._default_manager.using(alias).filter(pk=_PLACEHOLDER_PK).query.sql_with_params()
            if tuple(params) != (_PLACEHOLDER_PK,):  # the id must be the query's only parameter
                raise RuntimeError("Unexpected parameters in the user query.")
            cls._sql[key] = sql
        return cls._sql[key]
