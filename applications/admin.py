"""Support staff's view of applications: the secret is never shown (only "stored"), nor can it be typed or made
here: applications are created and their secrets rotated on Connect's own pages, which show a new secret once."""

from django.contrib import admin
from django.utils.html import escape

from .forms import ApplicationForm
from .models import Application


class ApplicationAdminForm(ApplicationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The admin writes help texts as HTML; these are plain text ("POST /api/items/<id>/cache/purge" lost <id>).
        for field in self.fields.values():
            field.help_text = escape(field.help_text)


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    form = ApplicationAdminForm
    list_display = ("name", "enabled", "created_at", "last_used_at")
    list_filter = ("enabled",)
    search_fields = ("name",)
    filter_horizontal = ("items",)
    readonly_fields = (
        "secret_state",
        "secret_rotated_at",
        "config_version",
        "created_at",
        "updated_at",
        "last_used_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "items", "allowed_origins", "enabled", "may_purge")}),
        ("Secret", {"fields": ("secret_state", "secret_rotated_at")}),
        ("Bookkeeping", {"fields": ("config_version", "created_at", "updated_at", "last_used_at")}),
    )

    @admin.display(description="secret")
    def secret_state(self, obj):
        return "stored (encrypted; rotate it on the application's page)" if obj and obj.secret else "not set"

    def has_add_permission(self, request):
        # A new application's secret must be shown once, which Connect's own create page does.
        return False
