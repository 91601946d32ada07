"""OAuth2 provider presets: the provider-specific part is data; one generic flow uses it."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProviderPreset:
    key: str
    label: str
    authorization_url: str = ""
    token_url: str = ""
    default_scopes: str = ""
    # Extra query parameters on the authorization URL (e.g. offline access).
    authorize_params: dict = field(default_factory=dict)
    # Extra headers on the token request (e.g. GitHub answers form-encoded unless asked for JSON).
    token_headers: dict = field(default_factory=dict)
    # The URLs contain {tenant}.
    needs_tenant: bool = False


PRESETS: dict[str, ProviderPreset] = {
    p.key: p
    for p in (
        ProviderPreset("custom", "Custom"),
        ProviderPreset(
            "salesforce",
            "Salesforce",
            authorization_url="https://login.salesforce.com/services/oauth2/authorize",
            token_url="https://login.salesforce.com/services/oauth2/token",
            default_scopes="api refresh_token",
        ),
        ProviderPreset(
            "google",
            "Google APIs",
            authorization_url="https://accounts.google.com/o/oauth2/v2/auth",
            token_url="https://oauth2.googleapis.com/token",
            default_scopes="openid email",
            authorize_params={"access_type": "offline", "prompt": "consent"},
        ),
        ProviderPreset(
            "microsoft",
            "Microsoft Graph",
            authorization_url="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
            token_url="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
            default_scopes="offline_access https://graph.microsoft.com/.default",
            needs_tenant=True,
        ),
        ProviderPreset(
            "github",
            "GitHub",
            authorization_url="https://github.com/login/oauth/authorize",
            token_url="https://github.com/login/oauth/access_token",
            default_scopes="read:user",
            token_headers={"Accept": "application/json"},
        ),
        ProviderPreset(
            "dropbox",
            "Dropbox",
            authorization_url="https://www.dropbox.com/oauth2/authorize",
            token_url="https://api.dropboxapi.com/oauth2/token",
            authorize_params={"token_access_type": "offline"},
        ),
    )
}


def preset_choices() -> list[tuple[str, str]]:
    return [(p.key, p.label) for p in PRESETS.values()]


def get_preset(key: str) -> ProviderPreset:
    return PRESETS.get(key or "custom", PRESETS["custom"])
