"""Support staff's view of datasources: secrets are never shown, only whether they are stored."""
from django.contrib import admin

from .models import SECRET_FIELDS, AuthConfig, Datasource, Header


class HeaderInline(admin.TabularInline):
    model = Header
    extra = 0
    max_num = 20


def _secret_state(field):
    def state(obj):
        return "stored" if obj and getattr(obj, field) else "not set"

    state.short_description = field.replace("_", " ")
    state.__name__ = f"{field}_state"
    return state


class AuthConfigInline(admin.StackedInline):
    model = AuthConfig
    can_delete = False
    exclude = SECRET_FIELDS
    readonly_fields = tuple(_secret_state(f) for f in SECRET_FIELDS) + (
        "token_expires_at", "token_scopes", "connected_at", "last_refresh_at", "last_error", "reconnect_needed")


@admin.register(Datasource)
class DatasourceAdmin(admin.ModelAdmin):
    list_display = ("name", "type", "base_url", "auth_mode", "updated_at")
    search_fields = ("name",)
    list_filter = ("type", "auth__mode")
    readonly_fields = ("config_version", "created_at", "updated_at")
    inlines = [HeaderInline, AuthConfigInline]

    @admin.display(description="auth mode", ordering="auth__mode")
    def auth_mode(self, obj):
        auth = getattr(obj, "auth", None)
        return auth.get_mode_display() if auth else "No auth"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("auth")
