"""Trusted choices (SPEC 9): selection proofs, their verification and the labels of keys. Same callers (embedding
token or session), item grants and CORS as the options endpoint; errors are JSON like everywhere under /api/.

POST /api/items/<id>/selections  {"keys": [...], "q": "...", "values": {...}} -> {"proof": JWT, "labels": {...}}
POST /api/items/<id>/verify      {"proof": JWT} or {"keys", "q", "values"} -> {"valid": ..., ...}
GET  /api/items/<id>/labels?key=A&key=B[&dependency=...] -> {"labels": {"A": "Amsterdam", "B": null}}

A bad request changes nothing, and what was typed is never logged.
"""

import logging
import math
from dataclasses import dataclass

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse

from core.json_api import error_response
from datasources.services import errors
from datasources.services.response import loads_within_depth

from .api import current_user_of, failure_response, item_endpoint, unexpected_failure_response
from .services import ItemError
from .services.keys import MAX_KEY_CHARS, MAX_KEYS, key_text
from .services.labels import labels_of_keys
from .services.proofs import ProofRefused, sign_selection, verify_proof
from .services.selections import NotAnOption, check_selection

logger = logging.getLogger("connect.items")

EXAMPLE = '{"keys": ["AMS"], "q": "ams", "values": {"country": "NL"}}'


class BadRequest(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message

    def response(self) -> JsonResponse:
        return error_response(self.code, self.message, 400)


@dataclass(frozen=True)
class Choice:
    keys: list[str]
    texts: list[str]  # the typed text each key was chosen with
    values: dict[str, str]


@item_endpoint(methods=("POST",))
def item_selections(request, item):
    try:
        choice = parse_choice(json_body(request))
    except BadRequest as refused:
        return refused.response()
    try:
        selection = _check(request, item, choice)
    except (ItemError, errors.DatasourceError) as exc:
        return failure_response(request, exc)
    except Exception:
        logger.exception("Selection of item %s failed unexpectedly", item.pk)
        return unexpected_failure_response()
    proof = sign_selection(item=item, caller=request.caller, selection=selection)
    return JsonResponse({"proof": proof, "labels": selection.labels})


@item_endpoint(methods=("POST",))
def item_verify(request, item):
    try:
        body = json_body(request)
        proof = parse_proof(body)
        choice = parse_choice(body) if proof is None else None
    except BadRequest as refused:
        return refused.response()
    if proof is not None:
        try:
            verified = verify_proof(proof=proof, item=item, caller=request.caller)
        except ProofRefused as refusal:
            return JsonResponse({"valid": False, "reason": refusal.reason})
        return JsonResponse({"valid": True, "keys": list(verified.keys), "labels": verified.labels})
    try:
        selection = _check(request, item, choice)
    except NotAnOption:
        return JsonResponse({"valid": False, "reason": NotAnOption.code})
    except (ItemError, errors.DatasourceError) as exc:
        return failure_response(request, exc)
    except Exception:
        logger.exception("Verification of item %s failed unexpectedly", item.pk)
        return unexpected_failure_response()
    return JsonResponse({"valid": True, "keys": list(selection.keys), "labels": selection.labels})


@item_endpoint()
def item_labels(request, item):
    try:
        keys = parse_keys(request.GET.getlist("key"), none_given="Give at least one key: ?key=A&key=B.")
    except BadRequest as refused:
        return refused.response()
    values = {name: request.GET.get(name, "") for name in item.dependency_names}
    try:
        labels = labels_of_keys(
            item=item, keys=list(dict.fromkeys(keys)), current_user=current_user_of(request.caller), values=values
        )
    except Exception:
        logger.exception("Labels of item %s failed unexpectedly", item.pk)
        return unexpected_failure_response()
    return JsonResponse({"labels": labels})


def _check(request, item, choice: Choice):
    return check_selection(
        item=item,
        keys=choice.keys,
        texts=choice.texts,
        current_user=current_user_of(request.caller),
        values=choice.values,
    )


# --- reading the request ----------------------------------------------------------------------------------------


def json_body(request) -> dict:
    try:
        raw = request.body
    except RequestDataTooBig:
        raise BadRequest("invalid_body", "The request body is too large.") from None
    try:
        data = loads_within_depth(raw)
    except ValueError:  # UnicodeDecodeError and a body nested too deep included
        message = f"The request body is not valid JSON: send an object such as {EXAMPLE}."
        raise BadRequest("invalid_body", message) from None
    if not isinstance(data, dict):
        raise BadRequest("invalid_body", f"The request body must be a JSON object, such as {EXAMPLE}.")
    return data


def parse_proof(body: dict) -> str | None:
    """The proof to verify, or None when the body sends keys instead."""
    if "proof" not in body:
        return None
    if "keys" in body:
        raise BadRequest("invalid_body", "Send either a proof, or keys with their variables: not both.")
    proof = body["proof"]
    if not isinstance(proof, str) or not proof.strip():
        raise BadRequest("invalid_body", "proof must be the text of a selection proof (a JWT).")
    return proof.strip()


def parse_choice(body: dict) -> Choice:
    if "keys" not in body:
        raise BadRequest("invalid_keys", f"Send the chosen keys as a list, e.g. {EXAMPLE}.")
    keys = parse_keys(body["keys"], none_given="keys must be a list of at least one key (texts or numbers).")
    return Choice(keys=keys, texts=_texts(body.get("q"), len(keys)), values=_values(body.get("values")))


def parse_keys(value, *, none_given: str) -> list[str]:
    """The keys as texts (a number is written as the form writes it); at most MAX_KEYS."""
    if not isinstance(value, list) or not value:
        raise BadRequest("invalid_keys", none_given)
    if len(value) > MAX_KEYS:
        raise BadRequest("too_many_keys", f"At most {MAX_KEYS} keys per request ({len(value)} sent).")
    keys = []
    for position, key in enumerate(value, start=1):
        if isinstance(key, bool) or not isinstance(key, (str, int, float)):
            raise BadRequest("invalid_keys", f"Key {position} is not a text or a number.")
        if isinstance(key, float) and not math.isfinite(key):
            raise BadRequest("invalid_keys", f"Key {position} is not a finite number.")
        text = key_text(key)
        if not text:
            raise BadRequest("invalid_keys", f"Key {position} is empty.")
        if len(text) > MAX_KEY_CHARS:
            raise BadRequest("invalid_keys", f"Key {position} is longer than {MAX_KEY_CHARS} characters.")
        keys.append(text)
    return keys


def _texts(value, count: int) -> list[str]:
    """q: the text typed when the keys were chosen, or one text per key (keys chosen from several searches)."""
    if value is None:
        return [""] * count
    if isinstance(value, str):
        return [value] * count
    if isinstance(value, list) and len(value) == count and all(isinstance(text, str) for text in value):
        return value
    raise BadRequest("invalid_body", "q must be the typed text, or a list with the text of each key, in order.")


def _values(value) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict) and all(_is_value(v) for v in value.values()):
        return {name: key_text(v) for name, v in value.items()}
    raise BadRequest(
        "invalid_body", 'values must be an object of the dependencies\' values (texts), e.g. {"country": "NL"}.'
    )


def _is_value(value) -> bool:
    return isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool))
