"""Support staff's view of datasources: secrets are never shown, only whether they are stored. The admin keeps the
edit page's rules: the same header checks, old-mode secrets dropped, and no stored secret follows a new host."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from . import validators
from .forms import BaseHeaderFormSet, HeaderForm, ModelErrorsOnShownFields, ProtectionFields
from .models import NETWORK_SECRETS, SECRET_FIELDS, TOKEN_STATUS_FIELDS, AuthConfig, Datasource, Header, NetworkConfig
from .services import configuration


class HeaderInline(admin.TabularInline):
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

    state.short_description = field.replace("_", " ")
    state.__name__ = f"{field}_state"
    return state


class AuthConfigAdminForm(ModelErrorsOnShownFields, forms.ModelForm):
    """Secrets cannot be typed here: a mode that needs one says so at the top of the section."""

    unshown_field_hint = "Secrets are entered on the datasource's edit page, not in the admin site."

    class Meta:
        model = AuthConfig
        exclude = SECRET_FIELDS

    def _post_clean(self):
        original = self.instance.token_binding()
        self.instance.mode = getattr(self, "cleaned_data", {}).get("mode") or self.instance.mode
        self.instance.drop_secrets_not_used_by_mode()
        super()._post_clean()
        if not self.errors:
            self.instance.clear_tokens_if_rebound(original=original, moved=False)


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


class DatasourceAdminForm(ProtectionFields, forms.ModelForm):
    class Meta:
        model = Datasource
        fields = "__all__"

    def clean_base_url(self):
        base_url = self.cleaned_data["base_url"].strip()
        validators.validate_https_url(base_url)  # its own message first; the model checks it again
        auth = AuthConfig.objects.filter(datasource_id=self.instance.pk).first() if self.instance.pk else None
        # The admin cannot take secrets: a move that would carry stored ones is refused (the model's rule).
        if auth and self.instance.moves_to(base_url) and auth.secrets_left_behind_by_move():
            raise ValidationError(
                "The API host changed and this datasource has stored secrets: change the base URL on the "
                "datasource's edit page, where the secrets are entered again for the new host."
            )
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
