"""OAuth2 provider presets: the provider-specific part is data; one generic flow uses it."""

from dataclasses import dataclass, field

from .. import url_rules


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
    # The API's base URL comes from the token answer (Salesforce's instance_url): while the datasource's base URL is
    # still this placeholder (same scheme, host and port), the answer's field `base_url_from_token` replaces its
    # origin, if that URL is https:// on one of `base_url_hosts` (a token answer never sends calls anywhere else).
    base_url_placeholder: str = ""
    base_url_from_token: str = ""
    base_url_hosts: tuple[str, ...] = ()
    # What an administrator should know (or change) when choosing the preset: shown with the preset choice.
    note: str = ""

    def base_url_is_placeholder(self, base_url: str) -> bool:
        if not self.base_url_placeholder:
            return False
        try:
            return url_rules.origin(base_url) == url_rules.origin(self.base_url_placeholder)
        except url_rules.URLRuleError:
            return False

    def base_url_host_allowed(self, host: str) -> bool:
        host = (host or "").lower().rstrip(".")
        return any(host == allowed or host.endswith("." + allowed) for allowed in self.base_url_hosts)


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
            base_url_placeholder="https://your-instance.my.salesforce.com/services/data/v62.0",
            base_url_from_token="instance_url",
            base_url_hosts=("salesforce.com", "force.com"),
            note="Salesforce: keep the base URL https://your-instance.my.salesforce.com/services/data/v62.0 (the "
            "path may name another API version): when you connect, the instance_url of Salesforce's answer "
            "replaces its host.",
        ),
        ProviderPreset(
            "google",
            "Google APIs",
            authorization_url="https://accounts.google.com/o/oauth2/v2/auth",
            token_url="https://oauth2.googleapis.com/token",
            # openid and email only identify the user: Drive read-only is a real API scope, as an example.
            default_scopes="openid email https://www.googleapis.com/auth/drive.readonly",
            authorize_params={"access_type": "offline", "prompt": "consent"},
            note="Google APIs: the scopes include Drive read-only (https://www.googleapis.com/auth/drive.readonly) "
            "as an example of real API access; replace it with the scope of the Google API you call (e.g. "
            "https://www.googleapis.com/auth/spreadsheets.readonly for Sheets). openid and email only identify "
            "the user.",
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


def preset_notes() -> list[str]:
    return [p.note for p in PRESETS.values() if p.note]


def preset_choices() -> list[tuple[str, str]]:
    return [(p.key, p.label) for p in PRESETS.values()]


def get_preset(key: str) -> ProviderPreset:
    return PRESETS.get(key or "custom", PRESETS["custom"])
