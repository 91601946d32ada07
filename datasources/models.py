"""Datasources, their custom headers and their authentication: data and invariants only, no I/O."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from fernet_fields import EncryptedTextField

from core.models import VersionedConfiguration
from core.text_rules import validate_no_null_characters

from . import client_certificates, login_template, url_rules, validators
from .auth_modes import REGISTRY as AUTH_MODES
from .auth_modes import AuthMode, mode_spec
from .services.presets import get_preset
from .types import type_choices

# The form's check and the database's constraint say the same (core/unique_names.py: two saves at once).
NAME_TAKEN = "A datasource with this name already exists (names ignore case)."


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
        "for their item's lifetime as usual.",
    )
    # config_version (VersionedConfiguration) changes on every save of the datasource, its headers or its auth.

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="datasource_name_ci_unique",
                violation_error_message=NAME_TAKEN,
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
            raise ValidationError({"name": NAME_TAKEN})

    def save(self, *args, **kwargs):
        self.name = (self.name or "").strip()
        super().save(*args, **kwargs)

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


class ApiKeyLocation(models.TextChoices):
    HEADER = "header", "HTTP header"
    QUERY = "query", "Query parameter"


class ClientAuthMethod(models.TextChoices):
    BASIC = "basic", "HTTP Basic (client_secret_basic)"
    BODY = "body", "In the request body (client_secret_post)"


class LoginBodyFormat(models.TextChoices):
    JSON = login_template.JSON, "JSON"
    FORM = login_template.FORM, "Form (application/x-www-form-urlencoded)"


# Which fields each mode shows and needs (the registry of modes, auth_modes.py); secrets are the encrypted ones.
MODE_REQUIRED_FIELDS = {spec.mode: spec.required for spec in AUTH_MODES.values()}
MODE_FIELDS = {spec.mode: spec.fields for spec in AUTH_MODES.values()}
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
TOKEN_BINDING_FIELDS = (
    "mode",
    "client_id",
    "token_url",
    "authorization_url",
    "scopes",
    "tenant",
    "provider",
    "login_url",
    "login_body",
    "login_body_format",
    "username",
    "login_token_path",
)

REQUIRED_MESSAGES = {
    "username": "Enter the user name for Basic authentication.",
    "password": "Enter the password for Basic authentication.",
    "api_key_name": "Enter the name of the API key header or query parameter.",
    "api_key_value": "Enter the API key value.",
    "token_url": "Enter the token URL.",
    "authorization_url": "Enter the authorization URL.",
    "client_id": "Enter the client ID.",
    "client_secret": "Enter the client secret.",
    "login_url": "Enter the login URL.",
    "login_body": "Enter the login body: the credentials Connect sends to the login URL.",
    "login_token_path": "Enter where the token is in the login answer, e.g. $.access_token.",
    "login_header_name": "Enter the header the token is sent in, e.g. Authorization.",
}
DEFAULT_LOGIN_BODY = '{"username": "$username", "password": "$password"}'


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

    # Token from a login call (auth_modes.py): the credentials are POSTed to the login URL, the token is read from
    # the answer and sent in a header. The body's $password is the password above (a secret).
    login_url = models.CharField(
        "Login URL",
        max_length=2000,
        blank=True,
        validators=[validators.validate_https_url],
        help_text="https:// only: where Connect POSTs the credentials to get a token.",
    )
    login_body_format = models.CharField(
        "Body format", max_length=4, choices=LoginBodyFormat.choices, default=LoginBodyFormat.JSON
    )
    login_body = models.TextField(
        "Login body",
        blank=True,
        default=DEFAULT_LOGIN_BODY,
        help_text="What is POSTed to the login URL. $username is the user name below and $password the password "
        '(a secret, never shown): in JSON put them inside quotes, e.g. {"user": "$username", "pass": "$password"}; '
        "in a form body write username=$username&password=$password. Values are escaped for you.",
    )
    login_token_path = models.CharField(
        "Path to the token",
        max_length=500,
        blank=True,
        default="$.access_token",
        help_text="Where the token is in the login answer: a JSONPath ($.access_token, $.data.token) or a dotted "
        "path (data.token).",
    )
    login_expires_in_path = models.CharField(
        "Path to its lifetime",
        max_length=500,
        blank=True,
        help_text="Optional: where the answer says how many seconds the token lasts, e.g. $.expires_in. Blank, or "
        "nothing there: the lifetime below.",
    )
    login_token_seconds = models.PositiveIntegerField(
        "Token lifetime (seconds)",
        default=3600,
        validators=[validators.validate_login_token_seconds],
        help_text="How long a token is used when the answer does not say: 0 = until the API answers 401. Connect "
        "logs in again shortly before it ends, and once after a 401.",
    )
    login_header_name = models.CharField(
        "Token header name",
        max_length=200,
        blank=True,
        default="Authorization",
        help_text="The header each call sends the token in, e.g. Authorization or X-Auth-Token.",
    )
    login_header_prefix = models.CharField(
        "Token header prefix",
        max_length=100,
        blank=True,
        default="Bearer",
        help_text="Written before the token and a space, e.g. Bearer or Token. Blank: the token alone.",
    )

    # Filled by the OAuth flows and the login call, never by a person.
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
        # An API key sent as a header must be a value a header can carry; in the query string it is percent-encoded.
        in_header = self.mode == AuthMode.API_KEY and self.api_key_location == ApiKeyLocation.HEADER
        checks = [
            ("api_key_value", validators.validate_header_value if in_header else validators.validate_no_line_breaks),
            ("username", validators.validate_basic_user_name if self.mode == AuthMode.BASIC else None),
        ]
        for field, check in checks:
            if check is not None and getattr(self, field) and field not in errors:
                try:
                    check(getattr(self, field))
                except ValidationError as exc:
                    errors[field] = exc.messages
        if self.mode == AuthMode.OAUTH2_AUTHORIZATION_CODE:
            preset = get_preset(self.provider)
            if preset.needs_tenant and not (self.tenant or "").strip():
                errors["tenant"] = f"Enter the tenant (directory id or domain): {preset.label} URLs contain it."
        if not isinstance(self.extra_token_params, dict) or not all(
            isinstance(v, str) for v in (self.extra_token_params or {}).values()
        ):
            errors["extra_token_params"] = 'Enter a JSON object of text values, e.g. {"audience": "https://api"}.'
        else:
            try:
                validate_no_null_characters(self.extra_token_params)
            except ValidationError as exc:
                errors["extra_token_params"] = exc.messages
        if self.mode == AuthMode.LOGIN_TOKEN:
            for field, message in self._login_errors().items():
                errors.setdefault(field, message)
        if errors:
            raise ValidationError(errors)

    def _login_errors(self) -> dict:
        errors = {}
        if self.login_body:
            errors["login_body"] = login_template.body_error(self.login_body, self.login_body_format)
            used = login_template.variables_in(self.login_body)
            if "username" in used and not (self.username or "").strip():
                errors["username"] = "Enter the user name: the login body uses $username."
            if "password" in used and not self.password:
                errors["password"] = "Enter the password: the login body uses $password."
        for field in ("login_token_path", "login_expires_in_path"):
            if getattr(self, field):
                errors[field] = login_template.path_error(getattr(self, field))
        for field, validate in (
            ("login_header_name", validators.validate_token_header_name),
            ("login_header_prefix", validators.validate_token_header_prefix),
        ):
            try:
                validate(getattr(self, field))
            except ValidationError as exc:
                errors[field] = exc.messages
        return {field: message for field, message in errors.items() if message}

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self.datasource.bump_config_version()

    # --- what an edit does to stored tokens (edit page and admin alike; moves are secret_binding.py's) ----------

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
        if mode_spec(self.mode).token is None:
            self.clear_tokens()

    def clear_tokens(self):
        self.access_token = ""
        self.refresh_token = ""
        self.token_expires_at = None
        self.token_scopes = ""
        self.connected_at = None
        self.last_refresh_at = None
        self.reconnect_needed = False


# The secrets of how a datasource is reached (NetworkConfig): encrypted, write-only like the authentication's.
NETWORK_SECRETS = ("proxy_password", "client_key", "client_key_passphrase")


class NetworkConfig(models.Model):
    """How Connect reaches a datasource's API on the network (SPEC 12): through an outbound proxy of its own, and
    with a client certificate (mTLS). Kept apart from the Datasource row, which every cache hit loads, so that only
    a call (which builds the pooled session) decrypts these secrets."""

    datasource = models.OneToOneField(Datasource, on_delete=models.CASCADE, related_name="network")
    proxy_url = models.CharField(
        "Proxy URL",
        max_length=2000,
        blank=True,
        validators=[validators.validate_proxy_url],
        help_text="Optional: http://proxy.example.com:3128, with the user name if the proxy asks for one "
        "(http://connect@proxy.example.com:3128). Calls to this API (and its token requests) go through it, "
        "whatever the operator's CONNECT_OUTBOUND_PROXY says. Blank: the operator's proxy, if any.",
    )
    proxy_password = EncryptedTextField(blank=True, default="")
    client_certificate = models.TextField(
        "Client certificate (PEM)",
        blank=True,
        help_text="Optional, for APIs that ask for a client certificate (mutual TLS): the certificate from "
        "-----BEGIN CERTIFICATE----- to its END line, the issuing certificates after it if the API needs them.",
    )
    client_key = EncryptedTextField(blank=True, default="")
    client_key_passphrase = EncryptedTextField(blank=True, default="")
    # Read from the certificate when it is saved (never typed): shown on the page and in the expiry metric.
    certificate_subject = models.CharField(max_length=1000, blank=True, editable=False)
    certificate_issuer = models.CharField(max_length=1000, blank=True, editable=False)
    certificate_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self):
        return f"Network of {self.datasource_id}"

    @property
    def proxy(self) -> url_rules.ProxyAddress | None:
        """The datasource's own proxy, with its stored password; None when it has none."""
        if not self.proxy_url:
            return None
        address = url_rules.check_proxy_url(self.proxy_url, password_allowed=False)
        return url_rules.ProxyAddress(address.host, address.port, address.username, self.proxy_password)

    @property
    def certificate_expires_soon(self) -> bool:
        return client_certificates.expires_soon(self.certificate_expires_at)

    @property
    def certificate_days_left(self) -> int | None:
        if self.certificate_expires_at is None:
            return None
        return max((self.certificate_expires_at - timezone.now()).days, 0)

    def clean(self):
        errors = {}
        if self.proxy_password and self.proxy_url and "@" not in self.proxy_url:
            errors["proxy_password"] = (
                "Put the proxy user name in the proxy URL (http://user@proxy.example.com:3128) to use a password."
            )
        try:
            self.read_certificate()
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)

    def read_certificate(self) -> None:
        """Check the certificate, key and passphrase together and keep what the page shows of the certificate;
        raises ValidationError naming the field (client_certificate, client_key, client_key_passphrase)."""
        if not self.client_certificate and not self.client_key:
            self.certificate_subject = self.certificate_issuer = ""
            self.certificate_expires_at = None
            return
        if not self.client_key:
            raise ValidationError({"client_key": "Paste the private key that goes with the certificate."})
        if not self.client_certificate:
            raise ValidationError({"client_certificate": "Paste the certificate that goes with the private key."})
        try:
            summary = client_certificates.inspect(self.client_certificate, self.client_key, self.client_key_passphrase)
        except client_certificates.CertificateProblem as problem:
            field = {"certificate": "client_certificate", "key": "client_key"}.get(
                problem.field, "client_key_passphrase"
            )
            raise ValidationError({field: problem.message}) from None
        self.certificate_subject = summary.subject[:1000]
        self.certificate_issuer = summary.issuer[:1000]
        self.certificate_expires_at = summary.not_after

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self.datasource.bump_config_version()


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
