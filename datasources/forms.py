"""The fields an administrator edits: wizard steps, server details, headers and write-only secrets."""

import json

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.forms import BaseInlineFormSet, inlineformset_factory

from . import validators
from .models import ENTERED_SECRETS, MODE_FIELDS, AuthConfig, Datasource, Header
from .services.presets import PRESETS, get_preset, preset_choices, preset_notes
from .types import type_choices

SECRET_LABELS = {"password": "Password", "api_key_value": "Key value", "client_secret": "Client secret"}


class TypeForm(forms.Form):
    type = forms.ChoiceField(
        label="Datasource type",
        choices=type_choices,
        widget=forms.RadioSelect,
        help_text="The kind of system Connect reads options from.",
    )


class NameForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        strip=True,
        help_text="A unique name, shown to administrators (1-100 characters, case is ignored "
        "when checking uniqueness).",
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if Datasource.objects.filter(name__iexact=name).exists():
            raise ValidationError("A datasource with this name already exists (names ignore case).")
        return name


class ModelErrorsOnShownFields:
    """Model validation may name a field that a form does not show (a secret in the admin, the name on wizard
    step 3, after a race): such a message goes to the top of the form instead of failing with "has no field"."""

    unshown_field_hint = ""

    def _update_errors(self, errors):
        if hasattr(errors, "error_dict"):
            unshown = [f for f in errors.error_dict if f != NON_FIELD_ERRORS and f not in self.fields]
            if unshown:
                error_dict = dict(errors.error_dict)
                top = list(error_dict.pop(NON_FIELD_ERRORS, []))
                for field in unshown:
                    top += [
                        ValidationError(f"{message} {self.unshown_field_hint}".strip())
                        for message in ValidationError(error_dict.pop(field)).messages
                    ]
                error_dict[NON_FIELD_ERRORS] = top
                errors = ValidationError(error_dict)
        super()._update_errors(errors)


PROTECTION_FIELDS = ["calls_per_second", "concurrent_calls", "stale_if_error", "stale_max_age_seconds"]
PROTECTION_VALIDATORS = {
    "calls_per_second": validators.validate_calls_per_second,
    "concurrent_calls": validators.validate_concurrent_calls,
    "stale_max_age_seconds": validators.validate_stale_seconds,
}


class ProtectionFields:
    """The limits protecting the API (wizard step 3, edit page, admin): each out-of-range value gets one message
    that says the range, next to its field (instead of Django's generic bound messages, or both)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, validate in PROTECTION_VALIDATORS.items():
            field = self.fields.get(name)
            if field is None:
                continue
            field.validators = [
                v for v in field.validators if not isinstance(v, (MinValueValidator, MaxValueValidator))
            ] + [validate]
            field.widget.attrs.pop("max", None)
            field.widget.attrs.setdefault("min", 0)
        if "calls_per_second" in self.fields:
            self.fields["calls_per_second"].widget.attrs["step"] = "any"


class ServerDetailsForm(ProtectionFields, ModelErrorsOnShownFields, forms.ModelForm):
    class Meta:
        model = Datasource
        fields = ["base_url", "documentation_url", "test_url"] + PROTECTION_FIELDS
        widgets = {
            "base_url": forms.URLInput(attrs={"placeholder": "https://api.example.com/v1"}),
            "documentation_url": forms.URLInput(attrs={"placeholder": "https://docs.example.com"}),
            "test_url": forms.TextInput(attrs={"placeholder": "/health or https://api.example.com/health"}),
        }

    def clean_base_url(self):
        return self.cleaned_data["base_url"].strip()

    def server_fields(self) -> list:
        """For the template: the fields of the "Server details" section (the limits have their own)."""
        return [self[name] for name in self.fields if name not in PROTECTION_FIELDS]

    def protection_fields(self) -> list:
        return [self[name] for name in PROTECTION_FIELDS if name in self.fields]


class DatasourceEditForm(ServerDetailsForm):
    """Edit page: the name and the server details together."""

    class Meta(ServerDetailsForm.Meta):
        fields = ["name"] + ServerDetailsForm.Meta.fields

    def validate_unique(self):
        # Datasource.clean() already reports a clash on the name field; skip the duplicate constraint message.
        pass


class HeaderForm(forms.ModelForm):
    class Meta:
        model = Header
        fields = ["name", "value"]
        widgets = {
            "name": forms.TextInput(attrs={"placeholder": "X-Custom-Header", "aria-label": "Header name"}),
            "value": forms.TextInput(attrs={"aria-label": "Header value"}),
        }

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def _post_clean(self):
        # The formset holds every header of the datasource: it checks names and the count across its rows
        # (rows being removed or renamed included), not each row against the stored headers.
        self.instance._siblings_checked_by_formset = True
        super()._post_clean()


class BaseHeaderFormSet(BaseInlineFormSet):
    default_error_messages = {
        "too_many_forms": f"A datasource can have at most {validators.MAX_HEADERS} custom headers: remove one "
        f"before adding another.",
    }

    def clean(self):
        """Names unique and at most 20 headers, across the submitted rows: the rows replace the per-row checks
        against stored headers (HeaderForm), so that a submit may remove, rename or swap rows."""
        super().clean()
        # Stored headers that are missing from the submit (a stale or tampered form) still count.
        submitted = {form.instance.pk for form in self.initial_forms}
        untouched = [header for header in self.get_queryset() if header.pk not in submitted]
        stored = {header.name.lower() for header in untouched}
        seen = set()
        kept = 0
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or self.can_delete and self._should_delete_form(form):
                continue
            name = form.cleaned_data.get("name")
            if not name:
                continue
            kept += 1
            key = name.lower()
            if key in seen:
                form.add_error("name", f"The header “{name}” appears twice (names ignore case).")
            elif key in stored:
                form.add_error("name", f"The header “{name}” is already set on this datasource.")
            seen.add(key)
        if kept + len(untouched) > validators.MAX_HEADERS:
            raise ValidationError(self.error_messages["too_many_forms"], code="too_many_forms")

    def kept_rows(self) -> list[dict]:
        """The rows a person typed, for the wizard's back/forward (header values are not secrets)."""
        rows = []
        for form in self.forms:
            data = {f: form[f].value() or "" for f in ("name", "value")}
            deleted = self.can_delete and form["DELETE"].value()
            if (data["name"] or data["value"]) and not deleted:
                rows.append(data)
        return rows


def header_formset_class(extra: int = 1):
    return inlineformset_factory(
        Datasource,
        Header,
        form=HeaderForm,
        formset=BaseHeaderFormSet,
        extra=extra,
        max_num=validators.MAX_HEADERS,
        validate_max=True,
        absolute_max=validators.MAX_HEADERS + 50,
        can_delete=True,
    )


class AuthForm(forms.ModelForm):
    """Authentication. Secrets are write-only: never rendered, blank keeps the stored value, "clear" removes it."""

    password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    api_key_value = forms.CharField(
        label="Key value",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    clear_password = forms.BooleanField(label="Clear the stored password", required=False)
    clear_api_key_value = forms.BooleanField(label="Clear the stored key value", required=False)
    clear_client_secret = forms.BooleanField(label="Clear the stored client secret", required=False)
    extra_token_params = forms.CharField(
        label="Extra token parameters",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text='Optional JSON object sent with the token request, e.g. {"audience": "https://api.example.com"}.',
    )

    class Meta:
        model = AuthConfig
        fields = [
            "mode",
            "username",
            "api_key_location",
            "api_key_name",
            "provider",
            "tenant",
            "authorization_url",
            "token_url",
            "client_id",
            "scopes",
            "extra_token_params",
            "client_auth_method",
        ]
        widgets = {"mode": forms.RadioSelect, "api_key_location": forms.RadioSelect}

    def __init__(self, *args, origin_changed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.origin_changed = origin_changed
        self.notes: list[str] = []
        self.stored = {field: bool(getattr(self.instance, field)) for field in ENTERED_SECRETS}
        self.original = self.instance.token_binding()
        self.fields["username"].widget.attrs["autocomplete"] = "off"
        # A provider preset is chosen with a select; the OAuth issue fills the presets.
        self.fields["provider"] = forms.ChoiceField(
            label="Provider preset",
            choices=preset_choices(),
            required=False,
            help_text=" ".join(
                ["Fills the URLs and the provider's quirks; every field stays editable.", *preset_notes()]
            ),
        )
        if not self.is_bound:
            # The model holds a dict; the wizard's back/forward hands back the text that was typed.
            params = self.initial.get("extra_token_params") or ""
            if not isinstance(params, str):
                params = json.dumps(params) if params else ""
            self.initial["extra_token_params"] = params
        self.fields["mode"].help_text = "How Connect authenticates to this API."
        self.fields["username"].help_text = "Sent with the password as an Authorization: Basic header."
        self.fields["client_id"].help_text = "The identifier of the application registered at the provider."
        self.fields["token_url"].help_text = "https:// only: where Connect asks for access tokens."
        self.fields["authorization_url"].help_text = "https:// only: where the administrator gives consent."
        self.fields["api_key_location"].help_text = "A header sent with every call, or a parameter added to every URL."
        self.fields["client_auth_method"].help_text = "How the client ID and secret are sent to the token URL."
        for secret in ENTERED_SECRETS:
            if not self.stored[secret]:
                # Nothing to clear: the box would only confuse.
                del self.fields[f"clear_{secret}"]
            state = "stored" if self.stored[secret] else "not set"
            self.fields[
                secret
            ].help_text = (
                f"Currently {state}. Stored secrets are never shown again; leave blank to keep the stored value."
            )

    def clean(self):
        """A provider preset fills the URLs and scopes left blank; typed values always win."""
        data = super().clean()
        if data.get("mode") != "oauth2_authorization_code":
            return data
        preset = get_preset(data.get("provider"))
        for field, value in (
            ("authorization_url", preset.authorization_url),
            ("token_url", preset.token_url),
            ("scopes", preset.default_scopes),
        ):
            if value and not data.get(field) and field not in self.errors:
                data[field] = value
        if preset.needs_tenant and not (data.get("tenant") or "").strip():
            self.add_error("tenant", f"Enter the tenant (directory id or domain): {preset.label} URLs contain it.")
        return data

    def preset_data(self) -> dict:
        """For the page's script: what each provider preset fills in."""
        return {
            key: {
                "authorization_url": p.authorization_url,
                "token_url": p.token_url,
                "scopes": p.default_scopes,
                "base_url": p.base_url_placeholder,
            }
            for key, p in PRESETS.items()
        }

    def clean_extra_token_params(self):
        raw = (self.cleaned_data.get("extra_token_params") or "").strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            raise ValidationError('Enter a JSON object, e.g. {"audience": "https://api.example.com"}.') from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValidationError('Enter a JSON object of text values, e.g. {"audience": "https://api"}.')
        return value

    def fields_with_modes(self) -> list:
        """For the template: every field but the mode, with the auth modes that show it."""
        modes: dict[str, list[str]] = {}
        for mode, fields in MODE_FIELDS.items():
            for field in fields:
                modes.setdefault(field, []).append(mode.value)
        for secret in ENTERED_SECRETS:
            modes[f"clear_{secret}"] = modes[secret]
        return [(self[name], " ".join(modes.get(name, []))) for name in self.fields if name != "mode"]

    def _post_clean(self):
        data = getattr(self, "cleaned_data", {})
        mode = data.get("mode") or self.instance.mode
        replaced = {s for s in ENTERED_SECRETS if data.get(s) or data.get(f"clear_{s}")}
        left_behind = (
            self.instance.secrets_left_behind_by_move(mode=mode, replaced=replaced) if self.origin_changed else []
        )
        for secret in ENTERED_SECRETS:
            entered = data.get(secret) or ""
            # The refusals below leave the stored value in place (nothing is saved anyway), so that the model's
            # "enter the secret" check does not add a second message to the field.
            if data.get(f"clear_{secret}") and entered:
                self.add_error(secret, "Either enter a new value or tick “clear”, not both.")
            elif data.get(f"clear_{secret}"):
                setattr(self.instance, secret, "")
            elif entered:
                setattr(self.instance, secret, entered)
            elif secret in left_behind:
                self.add_error(
                    secret,
                    f"The API host changed: enter the {SECRET_LABELS[secret].lower()} again, "
                    f"so a stored secret never follows a datasource to another host.",
                )
        self.instance.mode = mode
        self.instance.drop_secrets_not_used_by_mode()
        super()._post_clean()
        if self.errors:
            return
        if self.instance.clear_tokens_if_rebound(original=self.original, moved=self.origin_changed):
            self.notes.append(
                "The stored OAuth tokens were removed because the authentication or the API host "
                "changed: connect again."
            )
