"""What the field widget needs to know of an item before it asks for options: whether it is a search field or a
list, and its dependencies. Same callers (embedding token or session) and CORS as the options endpoint."""

from django.http import JsonResponse

from .api import item_endpoint


@item_endpoint()
def item_field(request, item):
    return JsonResponse(describe_field(item))


def describe_field(item) -> dict:
    """The item as a form field: nothing about its datasource, query or answer."""
    return {
        "item": item.pk,
        "name": item.name,
        "search": item.uses_user_input,
        # A list (no $userInput): `q` filters its labels on Connect (case and accents ignored), so a long list can
        # be a searchable combobox; the widget decides from the first answer's total_known and has_more.
        "searchable": not item.uses_user_input,
        "user_input_optional": item.user_input_optional,
        "lookup": item.has_lookup,  # the labels of pre-filled keys can be looked up (/labels)
        "dependencies": [{"name": d["name"], "optional": bool(d.get("optional"))} for d in item.dependencies or []],
    }
