"""Support staff's view of connected items, with their bindings ("$country comes from the item Country")."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from . import bindings
from .models import Binding, Item


class BindingFormSet(forms.BaseInlineFormSet):
    """The item page's rules: a binding names a declared dependency, once, and makes no cycle."""

    def clean(self):
        super().clean()
        item, sources = self.instance, {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("dependency"):
                continue
            name = data["dependency"]
            if bindings.undeclared_message(item=item, name=name):
                form.add_error("dependency", bindings.undeclared_message(item=item, name=name))
            elif name in sources:
                form.add_error("dependency", f"${name} is bound twice.")
            else:
                sources[name] = data.get("source")
        if item.pk and not any(form.errors for form in self.forms):
            cycle = bindings.find_binding_cycle(item=item, sources=sources)
            if cycle:
                raise ValidationError(bindings.cycle_message(cycle))


class BindingInline(admin.StackedInline):
    # Stacked, not tabular: each field (and the delete box) gets its own label, where a table row's have none.
    model = Binding
    fk_name = "item"
    formset = BindingFormSet
    extra = 0
    verbose_name = "binding"
    verbose_name_plural = "bindings (each dependency's value comes from another item's chosen option)"


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("name", "datasource", "query", "max_options", "updated_at")
    list_filter = ("datasource",)
    search_fields = ("name", "query")
    list_select_related = ("datasource",)
    readonly_fields = ("config_version", "created_at", "updated_at")
    inlines = [BindingInline]
    filter_horizontal = ("allowed_groups",)
    fieldsets = (
        (None, {"fields": ("name", "datasource", "query", "dependencies", "user_input_optional", "api_filter")}),
        ("Options", {"fields": ("list_path", "key_field", "label_template", "max_options")}),
        ("Cache", {"fields": ("cache_seconds",)}),
        ("Labels of keys (lookup)", {"fields": ("lookup_query", "lookup_method", "lookup_body_template")}),
        ("Who may use this item", {"fields": ("access", "allowed_groups")}),
        ("Bookkeeping", {"fields": ("config_version", "created_at", "updated_at")}),
    )
