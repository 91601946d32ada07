"""The audit log on the admin site: read-only for everyone, superusers included (SPEC 11)."""

from django.contrib import admin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "address", "via", "action", "object_type", "object_name")
    list_filter = ("action", "object_type", "via")
    search_fields = ("actor", "object_name", "object_id")
    date_hierarchy = "at"
    readonly_fields = ("at", "actor", "address", "via", "action", "object_type", "object_id", "object_name", "changes")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
