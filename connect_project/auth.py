"""How the signed-in user is loaded (a measured speed layer)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import router

from .precompiled import select_by_pk


class UserBackend(ModelBackend):
    """Django's ModelBackend, with the per-request user query written once per process (precompiled.py) instead of
    built by the ORM every time.

    Every request of a signed-in user loads the user (the options endpoint is called on each keystroke). Measured
    (bench/README.md, "Ablation"): ModelBackend.get_user instead cost 14-16% of a signed-in cache hit's CPU time.
    The row is still read on every request, so a deactivated, changed or deleted user is seen at once. Passwords,
    permissions and login are ModelBackend's.
    """

    def get_user(self, user_id):
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        alias = router.db_for_read(model)
        user = next(iter(model._default_manager.db_manager(alias).raw(select_by_pk(model), [pk])), None)
        return user if user is not None and self.user_can_authenticate(user) else None
