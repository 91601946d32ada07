"""Read queries about datasources that pages or operations share."""

from django.db import router
from django.db.models import RestrictedError
from django.db.models.deletion import Collector

from .models import Datasource, NetworkConfig


def client_certificate_expiries() -> list[tuple[int, object]]:
    """(datasource id, expiry) of every stored client certificate, for the expiry metric."""
    return list(
        NetworkConfig.objects.exclude(certificate_expires_at=None).values_list(
            "datasource_id", "certificate_expires_at"
        )
    )


def deletion_blockers(datasource: Datasource) -> list[str]:
    """What keeps `datasource` from being deleted, as its delete would find it (the same collection, nothing deleted):
    bindings of other datasources' items that take a value from its items ("Town: $country comes from Country")."""
    collector = Collector(using=router.db_for_write(Datasource), origin=datasource)
    try:
        collector.collect([datasource])
    except RestrictedError as exc:
        return sorted({str(obj) for obj in exc.restricted_objects})
    return []
