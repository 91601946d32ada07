"""Datasources, their custom headers and their authentication: data and invariants only, no I/O."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from fernet_fields import EncryptedTextField

from core.models import VersionedConfiguration

from . import url_rules, validators
from .services.presets import get_preset
from .types import type_choices


class Datasource(VersionedConfiguration):
    type = models.CharField(max_length=40, choices=type_choices, default="rest_api")
    name = models.CharField(max_length=100, help_text="A unique name, 1-100 characters.")
    base_url = models.CharField(
        "API base URL",
        max_length=2000,
        validators=[validators.validate_https_url],
        help_text="https:// only. Item queries are appended to it, e.g. https://jira.example.com/rest/api/2",
    )
    documentation_url = models.CharField(
        "API documentation URL",
        max_length=2000,
        blank=True,
        validators=[validators.validate_https_url],
        help_text="Optional link to the API's documentation, shown on the datasource and item pages.",
    )
    test_url = models.CharField(
        "API test URL",
        max_length=2000,
        blank=True,
        validators=[validators.validate_test_url],
        help_text="Optional https:// URL or a path relative to the base URL (e.g. /serverInfo) that answers "
        "HTTP 200. Without it, Test connection tries the base URL.",
    )
    # Protecting the API (SPEC 8, datasources/protection/): shared by every process through Redis.
    calls_per_second = models.FloatField(
        "Calls per second",
        default=10,
        validators=[validators.validate_calls_per_second],
        help_text="At most this many calls to the API per second, from all of Connect (bursts of up to one "
        "second's worth). 0 = no limit.",
    )
    concurrent_calls = models.PositiveIntegerField(
        "Concurrent calls",
        default=5,
        validators=[validators.validate_concurrent_calls],
        help_text="At most this many calls to the API at the same time. 0 = no limit. A caller over a limit "
        "waits briefly, then gets a “rate limited” error.",
    )
    stale_if_error = models.BooleanField(
        "Serve the last good answer when the API fails",
        default=False,
        help_text="Off: a failed call is an error, as usual. On: when a call fails (or Connect is holding calls "
        "back), the last good answer for the same query is served, marked as stale with its age.",
    )
    stale_max_age_seconds = models.PositiveIntegerField(
        "Oldest answer served when the API fails (seconds)",
        default=3600,
        validators=[validators.validate_stale_seconds],
        help_text="Only with the option above: 60 to 86,400 (24 hours). Fresh answers are still cached "
        "for 5 minutes as usual.",
    )
    # config_version (VersionedConfiguration) changes on every save of the datasource, its headers or its auth.

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="datasource_name_ci_unique",
                violation_error_message="A datasource with this name already exists.",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        self.name = (self.name or "").strip()
        if not self.name:
            raise ValidationError({"name": "Enter a name."})
        clash = Datasource.objects.filter(name__iexact=self.name).exclude(pk=self.pk)
        if clash.exists():
            raise ValidationError({"name": "A datasource with this name already exists (names ignore case)."})

    def save(self, *args, **kwargs):
        self.name = (self.name or "").strip()
        super().save(*args, **kwargs)

    @property
    def origin(self) -> tuple[str, str, int]:
        """(scheme, host, port) of the base URL: what the stored secrets are bound to."""
        return url_rules.origin(self.base_url)

    def moves_to(self, base_url: str) -> bool:
        """True when `base_url` has another scheme, host or port than the stored base URL."""
        return url_rules.origin(base_url) != self.origin

    @property
    def type_label(self) -> str:
        return dict(type_choices()).get(self.type, self.type)


class Header(models.Model):
    datasource = models.ForeignKey(Datasource, on_delete=models.CASCADE, related_name="headers")
    name = models.CharField(max_length=200, validators=[validators.validate_header_name])
    value = models.CharField(max_length=4000, blank=True, validators=[validators.validate_header_value])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                "datasource",
                Lower("name"),
                name="header_name_ci_unique_per_datasource",
                violation_error_message="This header is already set on this datasource.",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        # A header formset edits every header of the datasource at once (rows may be removed, renamed or
        # swapped in one submit), so it checks names and the count across its rows instead of against the
        # stored siblings; it marks its rows with this flag.
        if not self.datasource_id or self.siblings_checked_by_formset:
            return
        siblings = Header.objects.filter(datasource_id=self.datasource_id).exclude(pk=self.pk)
        if self.name and siblings.filter(name__iexact=self.name).exists():
            raise ValidationError({"name": f"The header “{self.name}” is already set on this datasource."})
        if self.pk is None and siblings.count() >= validators.MAX_HEADERS:
            raise ValidationError(f"A datasource can have at most {validators.MAX_HEADERS} custom headers.")

    @property
    def siblings_checked_by_formset(self) -> bool:
        return getattr(self, "_siblings_checked_by_formset", False)

    def validate_constraints(self, exclude=None):
        if self.siblings_checked_by_formset:
            # The name constraint compares with stored siblings; the formset compares the submitted rows.
            exclude = {*(exclude or ()), "name"}
        super().validate_constraints(exclude=exclude)

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self.datasource.bump_config_version()

    def delete(self, *args, **kwargs):
        datasource = self.datasource
        result = super().delete(*args, **kwargs)
        datasource.bump_config_version()
        return result


class AuthMode(models.TextChoices):
    NONE = "none", "No auth"
    BASIC = "basic", "Basic"
    API_KEY = "api_key", "API key"
    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials", "OAuth2 client credentials"
    OAUTH2_AUTHORIZATION_CODE = "oauth2_authorization_code", "OAuth2 authorization code"


class ApiKeyLocation(models.TextChoices):
    HEADER = "header", "HTTP header"
    QUERY = "query", "Query parameter"


class ClientAuthMethod(models.TextChoices):
    BASIC = "basic", "HTTP Basic (client_secret_basic)"
    BODY = "body", "In the request body (client_secret_post)"


# Which fields each mode needs; secrets are the encrypted ones.
MODE_REQUIRED_FIELDS = {
    AuthMode.NONE: (),
    AuthMode.BASIC: ("username", "password"),
    AuthMode.API_KEY: ("api_key_name", "api_key_value"),
    AuthMode.OAUTH2_CLIENT_CREDENTIALS: ("token_url", "client_id", "client_secret"),
    AuthMode.OAUTH2_AUTHORIZATION_CODE: ("authorization_url", "token_url", "client_id", "client_secret"),
}
MODE_FIELDS = {
    AuthMode.NONE: (),
    AuthMode.BASIC: ("username", "password"),
    AuthMode.API_KEY: ("api_key_location", "api_key_name", "api_key_value"),
    AuthMode.OAUTH2_CLIENT_CREDENTIALS: (
        "token_url",
        "client_id",
        "client_secret",
        "scopes",
        "extra_token_params",
        "client_auth_method",
    ),
    AuthMode.OAUTH2_AUTHORIZATION_CODE: (
        "provider",
        "tenant",
        "authorization_url",
        "token_url",
        "client_id",
        "client_secret",
        "scopes",
        "client_auth_method",
    ),
}
ENTERED_SECRETS = ("password", "api_key_value", "client_secret")
TOKEN_SECRETS = ("access_token", "refresh_token")
SECRET_FIELDS = ENTERED_SECRETS + TOKEN_SECRETS
# What the OAuth flows record about the stored token (not secret: shown on pages, in the admin and the API).
TOKEN_STATUS_FIELDS = (
    "token_expires_at",
    "token_scopes",
    "connected_at",
    "last_refresh_at",
    "last_error",
    "reconnect_needed",
)
TOKEN_STATE_FIELDS = TOKEN_SECRETS + TOKEN_STATUS_FIELDS
# Changing one of these makes stored OAuth tokens meaningless.
TOKEN_BINDING_FIELDS = ("mode", "client_id", "token_url", "authorization_url", "scopes", "tenant", "provider")

REQUIRED_MESSAGES = {
    "username": "Enter the user name for Basic authentication.",
    "password": "Enter the password for Basic authentication.",
    "api_key_name": "Enter the name of the API key header or query parameter.",
    "api_key_value": "Enter the API key value.",
    "token_url": "Enter the token URL.",
    "authorization_url": "Enter the authorization URL.",
    "client_id": "Enter the client ID.",
    "client_secret": "Enter the client secret.",
}


class AuthConfig(models.Model):
    datasource = models.OneToOneField(Datasource, on_delete=models.CASCADE, related_name="auth")
    mode = models.CharField("Authentication", max_length=40, choices=AuthMode.choices, default=AuthMode.NONE)

    username = models.CharField(max_length=200, blank=True)
    password = EncryptedTextField(blank=True, default="")

    api_key_location = models.CharField(
        "Send the key as", max_length=10, choices=ApiKeyLocation.choices, default=ApiKeyLocation.HEADER
    )
    api_key_name = models.CharField(
        "Key name",
        max_length=200,
        blank=True,
        help_text="The header or query parameter name, e.g. X-API-Key or api_key.",
    )
    api_key_value = EncryptedTextField("Key value", blank=True, default="")

    provider = models.CharField("Provider preset", max_length=40, blank=True, default="custom")
    tenant = models.CharField(max_length=200, blank=True, help_text="Microsoft Graph only: tenant id or domain.")
    authorization_url = models.CharField(
        "Authorization URL", max_length=2000, blank=True, validators=[validators.validate_https_url]
    )
    token_url = models.CharField("Token URL", max_length=2000, blank=True, validators=[validators.validate_https_url])
    client_id = models.CharField("Client ID", max_length=500, blank=True)
    client_secret = EncryptedTextField(blank=True, default="")
    scopes = models.CharField(max_length=2000, blank=True, help_text="Space-separated scopes.")
    extra_token_params = models.JSONField(
        "Extra token parameters",
        default=dict,
        blank=True,
        help_text='Sent with the token request, e.g. {"audience": "https://api.example.com"}.',
    )
    client_auth_method = models.CharField(
        "Client authentication", max_length=10, choices=ClientAuthMethod.choices, default=ClientAuthMethod.BASIC
    )

    # Filled by the OAuth flows, never by a person.
    access_token = EncryptedTextField(blank=True, default="", editable=False)
    refresh_token = EncryptedTextField(blank=True, default="", editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    token_scopes = models.CharField(max_length=2000, blank=True, editable=False)
    connected_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_refresh_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=1000, blank=True, editable=False)
    reconnect_needed = models.BooleanField(default=False, editable=False)

    class Meta:
        # Connecting an account gives Connect a user's access at the provider: an Administrator's act (core/roles.py).
        permissions = [("connect_oauth", "Can connect and disconnect an OAuth account")]

    def __str__(self):
        return f"{self.get_mode_display()} for {self.datasource_id}"

    def clean(self):
        errors = {}
        for field in MODE_REQUIRED_FIELDS.get(self.mode, ()):
            if not (getattr(self, field) or "").strip():
                errors[field] = REQUIRED_MESSAGES[field]
        if self.mode == AuthMode.API_KEY and self.api_key_name and self.api_key_location == ApiKeyLocation.HEADER:
            try:
                validators.validate_header_name(self.api_key_name)
            except ValidationError as exc:
                errors["api_key_name"] = exc.messages
        if self.api_key_value:
            try:
                validators.validate_header_value(self.api_key_value)
            except ValidationError as exc:
                errors["api_key_value"] = exc.messages
        if self.mode == AuthMode.OAUTH2_AUTHORIZATION_CODE:
            preset = get_preset(self.provider)
            if preset.needs_tenant and not (self.tenant or "").strip():
                errors["tenant"] = f"Enter the tenant (directory id or domain): {preset.label} URLs contain it."
        if not isinstance(self.extra_token_params, dict) or not all(
            isinstance(v, str) for v in (self.extra_token_params or {}).values()
        ):
            errors["extra_token_params"] = 'Enter a JSON object of text values, e.g. {"audience": "https://api"}.'
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self.datasource.bump_config_version()

    # --- a stored secret never follows a datasource to another host (edit page and admin alike) ---------------

    def secrets_left_behind_by_move(self, *, mode: str | None = None, replaced=()) -> list[str]:
        """The stored secrets that `mode` (default: this one) uses and that would follow the datasource to a new
        host unless entered again or cleared (`replaced`): a move must refuse them."""
        used = set(MODE_FIELDS.get(mode or self.mode, ()))
        return [field for field in ENTERED_SECRETS if field in used and getattr(self, field) and field not in replaced]

    def clear_tokens_if_rebound(self, *, original: dict, moved: bool) -> bool:
        """Stored OAuth tokens are cleared when the datasource moves or a TOKEN_BINDING_FIELDS value changed since
        `original`; True when tokens were cleared."""
        rebound = moved or any(getattr(self, field) != original[field] for field in TOKEN_BINDING_FIELDS)
        if rebound and (self.access_token or self.refresh_token):
            self.clear_tokens()
            return True
        return False

    def token_binding(self) -> dict:
        """The values of TOKEN_BINDING_FIELDS, to compare after an edit (clear_tokens_if_rebound)."""
        return {field: getattr(self, field) for field in TOKEN_BINDING_FIELDS}

    def drop_secrets_not_used_by_mode(self):
        """Secrets of another mode never linger: switching mode drops them."""
        used = set(MODE_FIELDS.get(self.mode, ()))
        for field in ENTERED_SECRETS:
            if field not in used:
                setattr(self, field, "")
        if self.mode != AuthMode.OAUTH2_CLIENT_CREDENTIALS and self.mode != AuthMode.OAUTH2_AUTHORIZATION_CODE:
            self.clear_tokens()

    def clear_tokens(self):
        self.access_token = ""
        self.refresh_token = ""
        self.token_expires_at = None
        self.token_scopes = ""
        self.connected_at = None
        self.last_refresh_at = None
        self.reconnect_needed = False


class OAuthState(models.Model):
    """One authorization-code consent in flight: single use, bound to the admin's session and the datasource.

    Only hashes of the state and the session key are stored; the PKCE verifier is encrypted and never leaves
    the server.
    """

    state_hash = models.CharField(max_length=64, unique=True)
    session_hash = models.CharField(max_length=64)
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE)
    datasource = models.ForeignKey(Datasource, on_delete=models.CASCADE, related_name="oauth_states")
    config_version = models.CharField(max_length=32)
    redirect_uri = models.CharField(max_length=2000)
    code_verifier = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"OAuth consent for {self.datasource_id} at {self.created_at:%Y-%m-%d %H:%M}"
