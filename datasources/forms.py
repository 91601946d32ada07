"""The fields an administrator edits: wizard steps, server details, headers and write-only secrets."""

import json

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.forms import BaseInlineFormSet, inlineformset_factory

from core.text_rules import validate_no_null_characters

from . import secret_binding, url_rules, validators
from .auth_modes import AuthMode
from .models import (
    ENTERED_SECRETS,
    MODE_FIELDS,
    NAME_TAKEN,
    NETWORK_SECRETS,
    AuthConfig,
    Datasource,
    Header,
    NetworkConfig,
)
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
            raise ValidationError(NAME_TAKEN)
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
            "login_url",
            "login_body_format",
            "login_body",
            "login_token_path",
            "login_expires_in_path",
            "login_token_seconds",
            "login_header_name",
            "login_header_prefix",
        ]
        widgets = {
            "mode": forms.RadioSelect,
            "api_key_location": forms.RadioSelect,
            "login_body_format": forms.RadioSelect,
            "login_url": forms.URLInput(attrs={"placeholder": "https://auth.example.com/login"}),
            "login_body": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
            "login_token_path": forms.TextInput(attrs={"placeholder": "$.access_token"}),
            "login_expires_in_path": forms.TextInput(attrs={"placeholder": "$.expires_in"}),
        }

    # Each secret right after the field it goes with; a mode shows only its own fields (auth_modes.py).
    field_order = [
        "mode",
        "username",
        "password",
        "clear_password",
        "api_key_location",
        "api_key_name",
        "api_key_value",
        "clear_api_key_value",
        "provider",
        "tenant",
        "authorization_url",
        "token_url",
        "client_id",
        "client_secret",
        "clear_client_secret",
        "scopes",
        "extra_token_params",
        "client_auth_method",
        "login_url",
        "login_body_format",
        "login_body",
        "login_token_path",
        "login_expires_in_path",
        "login_token_seconds",
        "login_header_name",
        "login_header_prefix",
    ]

    def __init__(self, *args, base_url_from: str = "", base_url_to: str = "", **kwargs):
        """`base_url_from` and `base_url_to`: the stored base URL and the one being saved (edit page), so that a move of
        any URL a stored secret is bound to is seen here (secret_binding)."""
        super().__init__(*args, **kwargs)
        self.base_url_from = base_url_from
        self.base_url_to = base_url_to or base_url_from
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
        self.fields["username"].help_text = (
            "Basic: sent with the password as an Authorization: Basic header. Login call: the $username of the "
            "login body."
        )
        seconds = self.fields["login_token_seconds"]
        seconds.validators = [
            v for v in seconds.validators if not isinstance(v, (MinValueValidator, MaxValueValidator))
        ] + [validators.validate_login_token_seconds]
        seconds.widget.attrs.update({"min": 0, "step": 1})
        # Only the login mode shows these: a form of another mode (the admin's, an older page) may leave them out.
        seconds.required = self.fields["login_body_format"].required = False
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
        """A provider preset fills the URLs and scopes left blank; typed values always win. (The preset's tenant
        rule is the model's: AuthConfig.clean.)"""
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

    def clean_login_token_seconds(self):
        value = self.cleaned_data.get("login_token_seconds")
        return AuthConfig._meta.get_field("login_token_seconds").default if value is None else value

    def clean_login_body_format(self):
        return self.cleaned_data.get("login_body_format") or self.instance.login_body_format

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
        validate_no_null_characters(value)
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
        moved = secret_binding.moved_urls(
            before=secret_binding.bound_urls(mode=mode, base_url=self.base_url_from, auth_values=self.original),
            after=secret_binding.bound_urls(
                mode=mode, base_url=self.base_url_to, auth_values={**self.original, **data}
            ),
        )
        left_behind = secret_binding.secrets_left_behind(self.instance, mode=mode, replaced=replaced) if moved else []
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
                self.add_error(secret, secret_binding.enter_again_message(moved, SECRET_LABELS[secret].lower()))
        self.instance.mode = mode
        self.instance.drop_secrets_not_used_by_mode()
        super()._post_clean()
        if self.errors:
            return
        if self.instance.clear_tokens_if_rebound(original=self.original, moved=bool(moved)):
            self.notes.append(
                "The stored token was removed because the login settings or the API host changed: Connect logs in "
                "again at the next call."
                if mode == AuthMode.LOGIN_TOKEN
                else "The stored OAuth tokens were removed because the authentication or the API host "
                "changed: connect again."
            )


class WriteOnlyTextarea(forms.Textarea):
    """A text area for a secret (a private key): what was typed is never sent back, not even after an error."""

    def format_value(self, value):
        return None


def _secret_input(label: str) -> forms.CharField:
    widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
    return forms.CharField(label=label, required=False, strip=False, widget=widget)


NETWORK_SECRET_LABELS = {
    "proxy_password": "proxy password",
    "client_key": "private key",
    "client_key_passphrase": "passphrase",
}


class NetworkForm(forms.ModelForm):
    """How Connect reaches the API: a proxy of its own and a client certificate. The proxy password, the private key
    and its passphrase are write-only secrets, as the authentication's: never rendered, blank keeps the stored
    value, "clear" removes it."""

    proxy_password = _secret_input("Proxy password")
    clear_proxy_password = forms.BooleanField(label="Clear the stored proxy password", required=False)
    client_key = forms.CharField(
        label="Private key (PEM)",
        required=False,
        strip=False,
        widget=WriteOnlyTextarea(attrs={"rows": 4, "spellcheck": "false", "autocomplete": "off"}),
    )
    client_key_passphrase = _secret_input("Passphrase of the private key")
    clear_client_key_passphrase = forms.BooleanField(label="Clear the stored passphrase", required=False)
    clear_client_certificate = forms.BooleanField(
        label="Remove the client certificate, its private key and passphrase", required=False
    )

    class Meta:
        model = NetworkConfig
        fields = ["proxy_url", "client_certificate"]
        widgets = {
            "proxy_url": forms.TextInput(attrs={"placeholder": "http://proxy.example.com:3128"}),
            "client_certificate": forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        }

    field_order = [
        "proxy_url",
        "proxy_password",
        "clear_proxy_password",
        "client_certificate",
        "client_key",
        "client_key_passphrase",
        "clear_client_key_passphrase",
        "clear_client_certificate",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stored = {field: bool(getattr(self.instance, field)) for field in NETWORK_SECRETS}
        self.original_proxy_url = self.instance.proxy_url
        for secret, clear in (
            ("proxy_password", "clear_proxy_password"),
            ("client_key_passphrase", "clear_client_key_passphrase"),
            ("client_key", "clear_client_certificate"),
        ):
            if not self.stored[secret] and not (secret == "client_key" and self.instance.client_certificate):
                del self.fields[clear]
        states = {field: "stored" if self.stored[field] else "not set" for field in NETWORK_SECRETS}
        self.fields["proxy_password"].help_text = (
            f"Currently {states['proxy_password']}. Sent to the proxy only (Proxy-Authorization), with the user name "
            "of the proxy URL. Leave blank to keep the stored value."
        )
        self.fields["client_key"].help_text = (
            f"Currently {states['client_key']}. The key of the certificate above, from its -----BEGIN ... PRIVATE "
            "KEY----- line to its END line; kept encrypted and never shown again. Leave blank to keep the stored key."
        )
        self.fields["client_key_passphrase"].help_text = (
            f"Currently {states['client_key_passphrase']}. Only for an encrypted private key. Leave blank to keep "
            "the stored value."
        )

    def _post_clean(self):
        data = getattr(self, "cleaned_data", {})
        if data.get("clear_client_certificate"):
            data["client_certificate"] = self.instance.client_certificate = ""
            for secret in ("client_key", "client_key_passphrase"):
                if data.get(secret):
                    self.add_error(secret, "Either paste a new certificate and key or tick “remove”, not both.")
                setattr(self.instance, secret, "")
        for secret in ("proxy_password", "client_key", "client_key_passphrase"):
            clear = data.get(f"clear_{secret}")
            if clear and data.get(secret):
                self.add_error(secret, "Either enter a new value or tick “clear”, not both.")
            elif clear:
                setattr(self.instance, secret, "")
            elif data.get(secret) and not data.get("clear_client_certificate"):
                setattr(self.instance, secret, data[secret])
        if "proxy_url" in data and not data["proxy_url"]:
            self.instance.proxy_password = ""  # no proxy, no proxy password
        elif (
            secret_binding.proxy_moved(self.original_proxy_url, data.get("proxy_url", self.original_proxy_url))
            and self.instance.proxy_password
            and not data.get("proxy_password")
        ):
            if not data.get("clear_proxy_password"):
                self.add_error(
                    "proxy_password",
                    "The proxy's host changed: enter the proxy password again (or clear it), so a stored secret "
                    "never follows a datasource to another host.",
                )
        super()._post_clean()
        if "proxy_url" in self.errors:  # a password typed into the URL is never sent back
            data = self.data.copy()
            data[self.add_prefix("proxy_url")] = url_rules.without_password(data.get(self.add_prefix("proxy_url")))
            self.data = data
