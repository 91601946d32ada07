"""Read queries about datasources that pages or operations share."""

from .models import NetworkConfig


def client_certificate_expiries() -> list[tuple[int, object]]:
    """(datasource id, expiry) of every stored client certificate, for the expiry metric."""
    return list(
        NetworkConfig.objects.exclude(certificate_expires_at=None).values_list(
            "datasource_id", "certificate_expires_at"
        )
    )
