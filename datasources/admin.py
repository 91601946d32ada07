"""Support staff's view of datasources: secrets are never shown, only whether they are stored. The admin keeps the
edit page's rules: the same header checks, old-mode secrets dropped, and no stored secret follows a URL to another
host (secret_binding.py): the admin cannot take secrets, so such a move is made on the edit page."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from core.forms import NAME_REQUIRED, OneMessagePerRefusedField

from . import secret_binding, validators
from .forms import BaseHeaderFormSet, HeaderForm, ModelErrorsOnShownFields, ProtectionFields
from .models import NETWORK_SECRETS, SECRET_FIELDS, TOKEN_STATUS_FIELDS, AuthConfig, Datasource, Header, NetworkConfig
from .services import configuration


# Stacked, not tabular: a tabular row's inputs (name, value, delete) have no <label>, a stacked one's each have one.
class HeaderInline(admin.StackedInline):
    model = Header
    form = HeaderForm
    formset = BaseHeaderFormSet
    extra = 0
    max_num = validators.MAX_HEADERS

    def get_formset(self, request, obj=None, **kwargs):
        # The count is checked across the rows, as on the edit page (the rows skip the per-row count).
        kwargs.setdefault("validate_max", True)
        return super().get_formset(request, obj, **kwargs)


def _secret_state(field):
    def state(obj):
        return "stored" if obj and getattr(obj, field) else "not set"

    state.short_description = {"api_key_value": "API key value"}.get(field, field.replace("_", " "))
    state.__name__ = f"{field}_state"
    return state


class AuthConfigAdminForm(ModelErrorsOnShownFields, forms.ModelForm):
    """Secrets cannot be typed here: a mode that needs one says so at the top of the section."""

    unshown_field_hint = "Secrets are entered on the datasource's edit page, not in the admin site."

    class Meta:
        model = AuthConfig
        exclude = SECRET_FIELDS

    def _post_clean(self):
        data = getattr(self, "cleaned_data", {})
        original = self.instance.token_binding()
        mode = data.get("mode") or self.instance.mode
        # The base URL is the datasource form's (DatasourceAdminForm); the token and authorization URLs are here.
        base_url = self.instance.datasource.base_url if self.instance.datasource_id else ""
        moved = secret_binding.moved_urls(
            before=secret_binding.bound_urls(mode=mode, base_url=base_url, auth_values=original),
            after=secret_binding.bound_urls(mode=mode, base_url=base_url, auth_values={**original, **data}),
        )
        if moved and secret_binding.secrets_left_behind(self.instance, mode=mode):
            for field in moved:
                self.add_error(field, secret_binding.admin_refusal_message([field]))
        self.instance.mode = mode
        self.instance.drop_secrets_not_used_by_mode()
        super()._post_clean()
        if not self.errors:
            self.instance.clear_tokens_if_rebound(original=original, moved=bool(moved))


class AuthConfigInline(admin.StackedInline):
    model = AuthConfig
    form = AuthConfigAdminForm
    can_delete = False
    exclude = SECRET_FIELDS
    readonly_fields = tuple(_secret_state(f) for f in SECRET_FIELDS) + TOKEN_STATUS_FIELDS


class NetworkConfigAdminForm(ModelErrorsOnShownFields, forms.ModelForm):
    """The proxy URL can be repaired here; the proxy password, the client key and its passphrase are entered on the
    datasource's edit page (a certificate is checked with its key, so it is changed there too)."""

    unshown_field_hint = "Secrets are entered on the datasource's edit page, not in the admin site."

    class Meta:
        model = NetworkConfig
        fields = ["proxy_url"]


class NetworkConfigInline(admin.StackedInline):
    model = NetworkConfig
    form = NetworkConfigAdminForm
    can_delete = False
    exclude = NETWORK_SECRETS + ("client_certificate",)
    readonly_fields = tuple(_secret_state(f) for f in NETWORK_SECRETS) + (
        "certificate_subject",
        "certificate_issuer",
        "certificate_expires_at",
    )


class DatasourceAdminForm(OneMessagePerRefusedField, ProtectionFields, forms.ModelForm):
    class Meta:
        model = Datasource
        fields = "__all__"
        error_messages = {"name": {"required": NAME_REQUIRED}}

    def clean_base_url(self):
        base_url = self.cleaned_data["base_url"].strip()
        validators.validate_https_url(base_url)  # its own message first; the model checks it again
        auth = AuthConfig.objects.filter(datasource_id=self.instance.pk).first() if self.instance.pk else None
        if auth is None:
            return base_url
        # The instance still holds the stored base URL here (the form sets the new one after cleaning).
        moved = secret_binding.moved_urls(before={"base_url": self.instance.base_url}, after={"base_url": base_url})
        if moved and secret_binding.secrets_left_behind(auth, mode=auth.mode):
            raise ValidationError(secret_binding.admin_refusal_message(moved))
        return base_url


@admin.register(Datasource)
class DatasourceAdmin(admin.ModelAdmin):
    form = DatasourceAdminForm
    list_display = ("name", "type", "base_url", "auth_mode", "updated_at")
    search_fields = ("name",)
    list_filter = ("type", "auth__mode")
    readonly_fields = ("config_version", "created_at", "updated_at")
    inlines = [HeaderInline, AuthConfigInline, NetworkConfigInline]

    @admin.display(description="auth mode", ordering="auth__mode")
    def auth_mode(self, obj):
        auth = getattr(obj, "auth", None)
        return auth.get_mode_display() if auth else "No auth"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("auth", "network")

    def save_formset(self, request, form, formset, change):
        if formset.model is Header:
            configuration.save_headers(header_formset=formset)
        else:
            formset.save()
