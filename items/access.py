"""Who may use an item through the item API with a Connect session: "every signed-in user" (the default) or the
members of chosen groups (SPEC 11). The one home of the rule: every item endpoint gets it from `item_endpoint`
(items/api.py). Embedding tokens are judged by their application's grant instead (core/callers.py).

Cost: nothing for an item open to every signed-in user (the flag is on the item row the endpoint loads anyway); one
small query for an item open to chosen groups.
"""

from core.access import may
from core.callers import ItemNotAllowed

from .models import Access, Item


def access_error(*, access: str, groups) -> str:
    """The rule of the item form and the configuration import: "only the chosen groups" needs a group."""
    if access == Access.GROUPS and not groups:
        return "Choose at least one group, or open the item to every signed-in user."
    return ""


def check_item_access(*, item: Item, user) -> None:
    """Raise ItemNotAllowed when `user` (a signed-in account) may not use `item`. Connect's own roles (Viewer and
    above) may use every item: they see its configuration and preview it anyway, and its Try it page calls the API."""
    if item.access != Access.GROUPS:
        return
    if user.is_superuser or may(user, "items.view_item"):
        return
    if not Item.allowed_groups.through.objects.filter(item_id=item.pk, group__user=user).exists():
        raise ItemNotAllowed()
