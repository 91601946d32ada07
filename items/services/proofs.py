"""Selection proofs (SPEC 9): a JWT (HS256) saying that a caller chose these keys of an item, as options for these
values, so the system receiving the form can trust them offline.

Claims: `iss` "connect", `aud` the embedding token's application id as a text ("connect" for Connect's own pages),
`sub` the caller's user name, `item` the item id, `keys` (texts, as the form submits them), `labels` ({key: label}),
`values` (the item's dependency values), `iat`, `exp` (CONNECT_PROOF_LIFETIME_SECONDS later).

The signing key is the application's secret for an embedding token's caller: its server verifies the proof with the
library that mints its tokens. Connect's own pages (a session) sign with a key derived from SECRET_KEY for this one
use (salted HMAC), never SECRET_KEY itself. Verification refuses with a reason code: `proof_forged` (not a JWT, not
HS256, a wrong signature, not Connect's claims), `proof_expired`, `other_item`, `other_caller` (another application's
or another user's proof, genuinely signed for them: a proof naming another audience but signed with a key Connect
does not hold for it is forged).
"""

import functools
import time
from dataclasses import dataclass

import jwt
from django.apps import apps
from django.conf import settings
from django.utils.crypto import salted_hmac

ISSUER = "connect"
ALGORITHM = "HS256"
SESSION_AUDIENCE = "connect"
_SESSION_KEY_SALT = "connect.items.selection-proofs"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "item", "keys", "labels", "values", "iat", "exp")


class ProofRefused(Exception):
    """A proof that does not hold, with its reason code."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedProof:
    keys: tuple[str, ...]
    labels: dict
    values: dict
    subject: str
    expires_at: int


def audience_of(caller) -> str:
    """Whose proof it is: the embedding token's application id, or "connect" for a session."""
    return str(caller.application.pk) if caller.application is not None else SESSION_AUDIENCE


def signing_key_of(caller) -> str:
    return caller.application.secret if caller.application is not None else session_proof_key()


def session_proof_key() -> str:
    """The key of proofs made for Connect's own pages: derived from SECRET_KEY for this use only."""
    return _session_key(settings.SECRET_KEY)


@functools.lru_cache(maxsize=4)
def _session_key(secret_key: str) -> str:
    return salted_hmac(_SESSION_KEY_SALT, "selection proofs", secret=secret_key, algorithm="sha256").hexdigest()


def sign_selection(*, item, caller, selection) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": audience_of(caller),
        "sub": caller.username,
        "item": item.pk,
        "keys": list(selection.keys),
        "labels": selection.labels,
        "values": selection.values,
        "iat": now,
        "exp": now + settings.CONNECT_PROOF_LIFETIME_SECONDS,
    }
    return jwt.encode(claims, signing_key_of(caller), algorithm=ALGORITHM)


def verify_proof(*, proof: str, item, caller) -> VerifiedProof:
    """The proof's content when it is Connect's proof for this item and this caller; ProofRefused otherwise."""
    try:
        header = jwt.get_unverified_header(proof)
        unverified = jwt.decode(proof, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise ProofRefused("proof_forged") from None
    if header.get("alg") != ALGORITHM:  # alg "none" above all: never accepted
        raise ProofRefused("proof_forged")
    audience = unverified.get("aud")
    if audience != audience_of(caller):
        # Another application's (or Connect's own pages') proof, if that caller's key signed it; a proof signed with
        # any other key is forged, whatever audience it names.
        raise ProofRefused("other_caller" if _signed_for(proof, audience) else "proof_forged")
    try:
        claims = jwt.decode(
            proof,
            signing_key_of(caller),
            algorithms=[ALGORITHM],
            audience=audience_of(caller),
            issuer=ISSUER,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError:
        raise ProofRefused("proof_expired") from None
    except jwt.PyJWTError:
        raise ProofRefused("proof_forged") from None
    if not _well_formed(claims):
        raise ProofRefused("proof_forged")
    if claims["item"] != item.pk:
        raise ProofRefused("other_item")
    if claims["sub"] != caller.username:
        raise ProofRefused("other_caller")
    return VerifiedProof(
        keys=tuple(claims["keys"]),
        labels=claims["labels"],
        values=claims["values"],
        subject=claims["sub"],
        expires_at=claims["exp"],
    )


def _signed_for(proof: str, audience) -> bool:
    """Whether `proof` carries the signature of the caller `audience` names (an application id, or Connect's own
    pages): then it is a real proof, made for someone else. Its lifetime does not matter here."""
    if audience == SESSION_AUDIENCE:
        key = session_proof_key()
    elif isinstance(audience, str) and audience.isdigit():
        # The model by name: applications sit above items (an application grants items), so no import of it here.
        application = apps.get_model("applications", "Application").objects.filter(pk=int(audience)).first()
        key = application.secret if application is not None else None
    else:
        key = None
    if not key:
        return False
    try:
        jwt.decode(proof, key, algorithms=[ALGORITHM], audience=audience, issuer=ISSUER, options={"verify_exp": False})
    except jwt.PyJWTError:
        return False
    return True


def _well_formed(claims: dict) -> bool:
    """Connect's own claims, as it signs them (a correctly signed token of another shape is not a proof)."""
    keys, labels, values = claims["keys"], claims["labels"], claims["values"]
    return (
        type(claims["item"]) is int
        and isinstance(claims["sub"], str)
        and isinstance(keys, list)
        and all(isinstance(key, str) for key in keys)
        and isinstance(labels, dict)
        and isinstance(values, dict)
    )


@dataclass(frozen=True)
class Verdict:
    """What the system receiving a form concludes of a submitted key and its proof: `code` is "valid", "missing" (no
    proof sent), "other_keys" (a valid proof of other keys: the key was changed after the choice) or a refusal reason;
    `proof` is the verified proof, when it was one."""

    code: str
    proof: VerifiedProof | None = None


def judge_submission(*, proof: str, keys: list[str], item, caller) -> Verdict:
    if not proof:
        return Verdict("missing")
    try:
        verified = verify_proof(proof=proof, item=item, caller=caller)
    except ProofRefused as refusal:
        return Verdict(refusal.reason)
    if set(keys) != set(verified.keys):
        return Verdict("other_keys", verified)
    return Verdict("valid", verified)
