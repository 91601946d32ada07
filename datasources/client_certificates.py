"""The rules of a datasource's client certificate (mTLS, SPEC 12), in one place: a PEM certificate (a chain may
follow it) and its private key (PEM, optionally encrypted with a passphrase) must parse, belong together and be valid
now. Pure functions on the `cryptography` package (already a dependency of fernet_fields): the model checks a
configuration with them at save and the pages show what they found (subject, issuer, expiry).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization

# The page warns this long before the certificate expires.
EXPIRY_WARNING = timedelta(days=30)


class CertificateProblem(ValueError):
    """A certificate, key or passphrase Connect refuses: `field` says which (certificate, key, passphrase)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CertificateSummary:
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime


def inspect(certificate_pem: str, key_pem: str, passphrase: str = "", *, now: datetime | None = None):
    """The certificate's subject, issuer and validity, once the certificate and key are checked; raises
    CertificateProblem naming the field and the reason."""
    now = now or datetime.now(UTC)
    leaf = _leaf(certificate_pem)
    key = _private_key(key_pem, passphrase)
    if _public_bytes(leaf.public_key()) != _public_bytes(key.public_key()):
        raise CertificateProblem(
            "key",
            "The private key does not belong to the certificate (their public keys differ): paste the key "
            "that was made with this certificate.",
        )
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if not_after <= now:
        raise CertificateProblem(
            "certificate",
            f"The certificate expired on {not_after:%Y-%m-%d %H:%M} UTC: paste a certificate that is valid now.",
        )
    if not_before > now:
        raise CertificateProblem(
            "certificate",
            f"The certificate is only valid from {not_before:%Y-%m-%d %H:%M} UTC: paste one that is valid now.",
        )
    return CertificateSummary(
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        not_before=not_before,
        not_after=not_after,
    )


def _leaf(certificate_pem: str) -> x509.Certificate:
    data = (certificate_pem or "").strip().encode()
    try:
        chain = x509.load_pem_x509_certificates(data) if b"-----BEGIN CERTIFICATE-----" in data else []
    except ValueError:
        chain = []
    if not chain:
        raise CertificateProblem(
            "certificate",
            "The certificate is not PEM: paste the text from -----BEGIN CERTIFICATE----- to "
            "-----END CERTIFICATE----- (the issuing certificates may follow it).",
        )
    return chain[0]


def _private_key(key_pem: str, passphrase: str):
    data = (key_pem or "").strip().encode()
    if b"-----BEGIN" not in data or b"PRIVATE KEY-----" not in data:
        raise CertificateProblem(
            "key",
            "The private key is not PEM: paste the text from its -----BEGIN ... PRIVATE KEY----- line to its "
            "-----END ... PRIVATE KEY----- line.",
        )
    try:
        return serialization.load_pem_private_key(data, password=passphrase.encode() if passphrase else None)
    except TypeError:
        if passphrase:
            raise CertificateProblem(
                "passphrase", "The private key is not encrypted: leave the passphrase blank (or clear it)."
            ) from None
        raise CertificateProblem("passphrase", "The private key is encrypted: enter its passphrase.") from None
    except ValueError:
        if passphrase and b"ENCRYPTED" in data:
            raise CertificateProblem("passphrase", "The passphrase does not decrypt the private key.") from None
        raise CertificateProblem(
            "key",
            "The private key could not be read: paste an unencrypted or passphrase-protected PEM key "
            "(PKCS#8, RSA or EC).",
        ) from None
    except Exception:  # an unsupported key type
        raise CertificateProblem("key", "The private key could not be read (an unsupported kind of key).") from None


def _public_bytes(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def expires_soon(not_after: datetime | None, *, now: datetime | None = None) -> bool:
    return not_after is not None and not_after - (now or datetime.now(UTC)) <= EXPIRY_WARNING
