"""The registry of datasource types: adding a type means adding an entry here, not a branch elsewhere."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasourceType:
    key: str
    label: str
    description: str
    implemented: bool = True


REST_API = DatasourceType(
    key="rest_api",
    label="REST API",
    description="An HTTPS JSON API: base URL, custom headers and authentication (none, basic, API key, OAuth2, a "
    "token from a login call).",
)

REGISTRY: dict[str, DatasourceType] = {t.key: t for t in (REST_API,)}


def type_choices() -> list[tuple[str, str]]:
    return [(t.key, t.label) for t in REGISTRY.values() if t.implemented]


def get_type(key: str) -> DatasourceType:
    return REGISTRY[key]
