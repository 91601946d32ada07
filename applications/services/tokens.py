"""Embedding tokens: JWTs an application signs with its secret (HS256) and Connect verifies with PyJWT.

Claims: `iss` (the application's id, as a string), `sub` (the user, used as $currentUser), optional `email` and
`name`, `items` (the item ids the token may use, within the application's), `aud` (Connect's public URL), `iat` and
`exp` (both required, at most one hour apart), and `nbf` when present. Every refusal is its own error class with a
public message that names the reason and nothing else (never the expected values, the application's grants or
anything of the secret). The signature is checked with the secret kept in memory (lookup.py): no database read.
"""

import time
from dataclasses import dataclass

import jwt

from connect_project.limits import MAX_TOKEN_BYTES
from core.callers import CallerRefused, ItemNotGranted

from .lookup import KnownApplication, find_application, verified_tokens

ALGORITHM = "HS256"
MAX_LIFETIME_SECONDS = 3600
# Clock skew allowed between the application's server and Connect for exp, nbf and iat.
LEEWAY_SECONDS = 30
REQUIRED_CLAIMS = ("iss", "sub", "aud", "iat", "exp", "items")


class TokenRefused(CallerRefused):
    """An embedding token refused: its code, public message and status (core/callers.py)."""


class InvalidToken(TokenRefused):
    pass


class TokenTooLong(TokenRefused):
    code = "token_too_long"
    http_status = 431
    message = f"The embedding token is longer than {MAX_TOKEN_BYTES} bytes: Connect does not read it."


class AlgorithmNotAllowed(TokenRefused):
    code = "algorithm_not_allowed"
    message = "Embedding tokens must be signed with HS256."


class MissingClaim(TokenRefused):
    code = "missing_claim"

    def __init__(self, claim: str):
        super().__init__(f"The embedding token has no “{claim}” claim.")


class UnknownApplication(TokenRefused):
    code = "unknown_application"
    message = "The token's issuer (iss) is not an application registered in Connect."


class InvalidSignature(TokenRefused):
    code = "invalid_signature"
    message = "The token's signature does not match: sign it with the application's current secret."


class TokenExpired(TokenRefused):
    code = "token_expired"
    message = "The embedding token has expired: get a fresh one."


class TokenNotYetValid(TokenRefused):
    code = "token_not_yet_valid"
    message = "The embedding token is not valid yet (nbf or iat is in the future)."


class WrongAudience(TokenRefused):
    code = "wrong_audience"
    message = "The token's audience (aud) is not this Connect."


class LifetimeTooLong(TokenRefused):
    code = "token_lifetime_too_long"
    message = f"The embedding token is valid for more than one hour (exp - iat > {MAX_LIFETIME_SECONDS} s)."


class ApplicationDisabled(TokenRefused):
    code = "application_disabled"
    http_status = 403
    message = "The token's application is disabled."


class OriginNotAllowed(TokenRefused):
    code = "origin_not_allowed"
    http_status = 403
    message = "This page's origin is not allowed to embed the token's application."


@dataclass(frozen=True)
class VerifiedToken:
    application: KnownApplication
    subject: str
    email: str
    name: str
    item_ids: frozenset
    expires_at: float


# PyJWT's exceptions, most specific first, and what each one means to the caller.
_REFUSALS = (
    (jwt.InvalidSignatureError, InvalidSignature),
    (jwt.ExpiredSignatureError, TokenExpired),
    (jwt.ImmatureSignatureError, TokenNotYetValid),
    (jwt.InvalidAudienceError, WrongAudience),
    (jwt.InvalidAlgorithmError, AlgorithmNotAllowed),
)


def verify_embedding_token(*, token: str, audience: str) -> VerifiedToken:
    """The token's application and claims, or a TokenRefused subclass saying why not.

    A token this process verified against the application's current version is not parsed again (lookup.py); its
    expiry is still checked on every call."""
    remembered = verified_tokens.get(token, audience)
    if remembered is not None:
        if remembered.expires_at <= time.time() - LEEWAY_SECONDS:
            verified_tokens.forget(token, audience)
            raise TokenExpired()
        return remembered
    verified = _verify(token, audience)
    verified_tokens.remember(token, audience, verified)
    return verified


def _verify(token: str, audience: str) -> VerifiedToken:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken() from None
    if header.get("alg") != ALGORITHM:
        raise AlgorithmNotAllowed()
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise InvalidToken() from None
    issuer = unverified.get("iss")
    if issuer is None:
        raise MissingClaim("iss")
    application = find_application(int(issuer)) if _is_id(issuer) and isinstance(issuer, str) else None
    if application is None:
        raise UnknownApplication()
    claims = _verified_claims(token, application, issuer, audience)
    if not application.enabled:  # told only to a caller holding a correctly signed token
        raise ApplicationDisabled()
    if float(claims["exp"]) - float(claims["iat"]) > MAX_LIFETIME_SECONDS:
        raise LifetimeTooLong()
    item_ids = _item_ids(claims["items"])
    if not item_ids <= application.item_ids:
        raise ItemNotGranted("The embedding token names items its application may not use.")
    return VerifiedToken(
        application=application,
        subject=claims["sub"],
        email=_text(claims, "email"),
        name=_text(claims, "name"),
        item_ids=item_ids,
        expires_at=float(claims["exp"]),
    )


def _verified_claims(token: str, application: KnownApplication, issuer: str, audience: str) -> dict:
    try:
        claims = jwt.decode(
            token,
            application.secret,
            algorithms=[ALGORITHM],
            audience=[audience, audience + "/"],
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise MissingClaim(exc.claim) from None
    except jwt.PyJWTError as exc:
        for pyjwt_error, refusal in _REFUSALS:
            if isinstance(exc, pyjwt_error):
                raise refusal() from None
        raise InvalidToken("The embedding token's claims are malformed (iat, exp, nbf, sub or aud).") from None
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise InvalidToken("The token's subject (sub) must be a non-empty string: the user's name.")
    return claims


def _item_ids(value) -> frozenset:
    if not isinstance(value, list) or not all(_is_id(v) for v in value):
        raise InvalidToken("The token's items claim must be a list of item ids.")
    return frozenset(int(v) for v in value)


def _is_id(value) -> bool:
    """A database id: a non-negative integer that fits a bigint, or its decimal text."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return value.isascii() and value.isdigit() and len(value) <= 18
    return isinstance(value, int) and 0 <= value < 10**18


def _text(claims: dict, name: str) -> str:
    value = claims.get(name)
    return value if isinstance(value, str) else ""
