"""Roles are assigned on the admin site's Users page (a user's Groups: Viewer, Editor, Administrator). An
Administrator may assign roles of other accounts, but only a superuser may grant or remove superuser status, hand
out single permissions, or change a superuser's account (its password, groups, anything): otherwise an
Administrator could take a superuser's account over."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from .roles import ROLE_DESCRIPTIONS

admin.site.unregister(User)


@admin.register(User)
class ConnectUserAdmin(UserAdmin):
    def has_change_permission(self, request, obj=None):
        # A superuser's account is read-only to anyone but a superuser (the password page checks this too).
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ("is_superuser", "user_permissions")
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "groups" in form.base_fields:
            roles = "; ".join(f"{name}: {text}" for name, text in ROLE_DESCRIPTIONS.items())
            form.base_fields[
                "groups"
            ].help_text = f"Connect's roles are groups ({roles}). A staff account without a role sees nothing."
        return form
