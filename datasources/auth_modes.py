"""The registry of authentication modes: what each mode asks an administrator for and how it authenticates a call,
as data. The forms, the model's checks, the pages and the client read this table; adding a mode means adding an
entry here (and, when the client must obtain a token, its renewal: datasources/services/oauth.py RENEWALS), not a
branch in the client.
"""

from dataclasses import dataclass

from django.db import models


class AuthMode(models.TextChoices):
    NONE = "none", "No auth"
    BASIC = "basic", "Basic"
    API_KEY = "api_key", "API key"
    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials", "OAuth2 client credentials"
    OAUTH2_AUTHORIZATION_CODE = "oauth2_authorization_code", "OAuth2 authorization code"
    LOGIN_TOKEN = "login_token", "Token from a login call"


@dataclass(frozen=True)
class TokenUse:
    """A mode whose calls carry a token that Connect obtains, stores (encrypted, with its expiry) and renews once
    across processes, shortly before it expires or after a 401."""

    # How a new token is obtained: a key of oauth.RENEWALS ("client_credentials", "refresh", "login_call").
    renewal: str
    # The header the token is sent in, "<prefix> <token>"; with header_from_config, the AuthConfig's
    # login_header_name and login_header_prefix say it instead.
    header_name: str = "Authorization"
    header_prefix: str = "Bearer"
    header_from_config: bool = False
    # Shown on the datasource page: what the stored token is called there.
    status_title: str = "Access token"
    # Test connection obtains a new token first and shows that request (its HTTP status, never its answer).
    renewed_by_test: bool = False


@dataclass(frozen=True)
class AuthModeSpec:
    mode: AuthMode
    fields: tuple[str, ...]  # the AuthConfig fields the form shows for this mode
    required: tuple[str, ...] = ()  # those that must be filled (secrets: stored or typed)
    token: TokenUse | None = None


REGISTRY: dict[str, AuthModeSpec] = {
    spec.mode.value: spec
    for spec in (
        AuthModeSpec(AuthMode.NONE, fields=()),
        AuthModeSpec(AuthMode.BASIC, fields=("username", "password"), required=("username", "password")),
        AuthModeSpec(
            AuthMode.API_KEY,
            fields=("api_key_location", "api_key_name", "api_key_value"),
            required=("api_key_name", "api_key_value"),
        ),
        AuthModeSpec(
            AuthMode.OAUTH2_CLIENT_CREDENTIALS,
            fields=("token_url", "client_id", "client_secret", "scopes", "extra_token_params", "client_auth_method"),
            required=("token_url", "client_id", "client_secret"),
            token=TokenUse(renewal="client_credentials"),
        ),
        AuthModeSpec(
            AuthMode.OAUTH2_AUTHORIZATION_CODE,
            fields=(
                "provider",
                "tenant",
                "authorization_url",
                "token_url",
                "client_id",
                "client_secret",
                "scopes",
                "client_auth_method",
            ),
            required=("authorization_url", "token_url", "client_id", "client_secret"),
            token=TokenUse(renewal="refresh"),
        ),
        AuthModeSpec(
            AuthMode.LOGIN_TOKEN,
            fields=(
                "login_url",
                "login_body_format",
                "login_body",
                "username",
                "password",
                "login_token_path",
                "login_expires_in_path",
                "login_token_seconds",
                "login_header_name",
                "login_header_prefix",
            ),
            required=("login_url", "login_body", "login_token_path", "login_header_name"),
            token=TokenUse(
                renewal="login_call",
                header_from_config=True,
                status_title="Token from the login call",
                renewed_by_test=True,
            ),
        ),
    )
}


def mode_spec(mode: str) -> AuthModeSpec:
    """The mode's entry; an unknown value (a row written by a newer version) authenticates nothing."""
    return REGISTRY.get(mode) or REGISTRY[AuthMode.NONE]
