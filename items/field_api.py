"""What the field widget needs to know of an item before it asks for options: whether it is a search field or a
list, and its dependencies. Same callers (embedding token or session) and CORS as the options endpoint."""

from django.http import JsonResponse

from applications.services.callers import identify_caller
from applications.services.tokens import TokenRefused
from connect_project.json_api import error_response, json_view

from .api import refusal_response
from .selectors import find_item


@json_view(sign_in=False)  # the caller is a session or an embedding token: identify_caller decides
def item_field(request, pk):
    try:
        request.connect_caller = identify_caller(request, item_id=pk)
    except TokenRefused as refusal:
        return refusal_response(refusal)
    item = find_item(pk)
    if item is None:
        return error_response("not_found", f"There is no item {pk}.", 404)
    return JsonResponse(describe_field(item))


def describe_field(item) -> dict:
    """The item as a form field: nothing about its datasource, query or answer."""
    return {
        "item": item.pk,
        "name": item.name,
        "search": item.uses_user_input,
        "user_input_optional": item.user_input_optional,
        "dependencies": [{"name": d["name"], "optional": bool(d.get("optional"))} for d in item.dependencies or []],
    }
