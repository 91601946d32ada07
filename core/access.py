"""Who may see and change what on Connect's pages: one decorator, `permission_required`, checks the permission a
page needs (core/roles.py says which role holds it). The item API has its own rule, the item's "who may use this
item" (items/access.py), and the admin site checks the same permissions itself."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render

from .roles import ROLE_DESCRIPTIONS, ROLES, role_for


def permission_required(permission: str):
    """A page for staff holding `permission` ("app_label.codename"). Anonymous visitors go to the login page; a
    signed-in account without it gets a 403 page that names the role to ask for."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not may(user, permission):
                return refusal_page(request, permission)
            return view(request, *args, **kwargs)

        wrapped.required_permission = permission
        return wrapped

    return decorate


def may(user, permission: str) -> bool:
    """Connect's configuration is for staff accounts with a role (or superusers)."""
    return user.is_authenticated and user.is_staff and user.has_perm(permission)


def refusal_page(request, permission: str, *, status: int = 403):
    role = role_for(permission)
    return render(
        request,
        "403_role.html",
        {
            "role": role,
            "role_description": ROLE_DESCRIPTIONS.get(role, ""),
            "is_staff": request.user.is_staff,
            "roles": [(name, ROLE_DESCRIPTIONS[name]) for name in ROLES],
        },
        status=status,
    )
