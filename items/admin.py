"""Support staff's view of connected items."""
from django.contrib import admin

from .models import Item


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("name", "datasource", "query", "max_options", "updated_at")
    list_filter = ("datasource",)
    search_fields = ("name", "query")
    list_select_related = ("datasource",)
    readonly_fields = ("config_version", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "datasource", "query", "dependencies", "user_input_optional")}),
        ("Options", {"fields": ("list_path", "key_field", "label_template", "max_options")}),
        ("Bookkeeping", {"fields": ("config_version", "created_at", "updated_at")}),
    )
