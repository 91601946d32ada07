"""Item bindings: which item each dependency's value comes from, the no-cycle rule, and the parents of an item.

The one home of the binding rules: the item form, the admin and the Try it page all call these functions.
"""

from django.db import transaction

from .models import Binding, Item


def find_binding_cycle(*, item: Item, sources: dict[str, Item | None]) -> list[str]:
    """The names along a cycle the proposed bindings of `item` would make (["City", "Region", "City"]), or [].

    `sources` maps each of the item's dependencies to the item it would come from (None: not bound). The other
    items' bindings are read from the database as they are.
    """
    edges = _stored_edges()
    edges[item.pk] = {source.pk for source in sources.values() if source is not None}
    names = dict(Item.objects.values_list("pk", "name"))
    names[item.pk] = item.name
    names.update({source.pk: source.name for source in sources.values() if source is not None})
    path = _path_back_to(item.pk, edges)
    return [names.get(pk, f"item {pk}") for pk in path]


def cycle_message(cycle: list[str]) -> str:
    return (
        f"These bindings would make a cycle: {' -> '.join(cycle)}. A field cannot wait for itself; bind the "
        "dependency to another item or leave it unbound."
    )


def undeclared_message(*, item: Item, name: str) -> str:
    """A binding must name one of the item's declared dependencies ("" when it does)."""
    if name in item.dependency_names:
        return ""
    return f"“{name}” is not a dependency of this item (declared: {', '.join(item.dependency_names) or 'none'})."


def _stored_edges() -> dict[int, set[int]]:
    edges: dict[int, set[int]] = {}
    for item_id, source_id in Binding.objects.values_list("item_id", "source_id"):
        edges.setdefault(item_id, set()).add(source_id)
    return edges


def _path_back_to(start: int, edges: dict[int, set[int]]) -> list[int]:
    """A path start -> ... -> start following the edges (depth first), or [] when there is none."""
    stack = [(start, [start])]
    seen = set()
    while stack:
        node, path = stack.pop()
        for following in sorted(edges.get(node, ())):
            if following == start:
                return path + [start]
            if following not in seen:
                seen.add(following)
                stack.append((following, path + [following]))
    return []


def bound_sources(*, item: Item) -> dict[str, Item]:
    """The item's bindings as {dependency name: source item}, for its declared dependencies only."""
    declared = set(item.dependency_names)
    return {b.dependency: b.source for b in item.bindings.select_related("source") if b.dependency in declared}


@transaction.atomic
def save_bindings(*, item: Item, sources: dict[str, Item | None]) -> None:
    """Replace the item's bindings with `sources` (None: unbound); bindings of undeclared names are removed."""
    declared = set(item.dependency_names)
    wanted = {name: source for name, source in sources.items() if source is not None and name in declared}
    item.bindings.exclude(dependency__in=list(wanted)).delete()
    for name, source in wanted.items():
        Binding.objects.update_or_create(item=item, dependency=name, defaults={"source": source})


def items_bound_to(*, item: Item) -> list[Binding]:
    """The bindings that take a value from `item` (they keep it from being deleted)."""
    return list(Binding.objects.filter(source=item).select_related("item", "source").order_by("item__name"))


def parents_first(*, item: Item) -> list[Item]:
    """The items `item` is bound to, recursively, each after the items it is bound to itself; `item` last.

    A stored cycle (only possible around validation) is cut where it closes instead of looping.
    """
    bindings: dict[int, list[Binding]] = {}
    for binding in Binding.objects.select_related("source", "source__datasource").order_by("dependency"):
        bindings.setdefault(binding.item_id, []).append(binding)
    ordered: list[Item] = []
    placed: set[int] = set()

    def place(current: Item, visiting: frozenset) -> None:
        if current.pk in placed or current.pk in visiting:
            return
        declared = set(current.dependency_names)
        for binding in bindings.get(current.pk, ()):
            if binding.dependency in declared:
                place(binding.source, visiting | {current.pk})
        placed.add(current.pk)
        ordered.append(current)

    place(item, frozenset())
    return ordered


def bindings_by_item(items: list[Item]) -> dict[int, dict[str, Item]]:
    """{item id: {dependency name: source item}} for these items' declared dependencies."""
    found: dict[int, dict[str, Item]] = {item.pk: {} for item in items}
    declared = {item.pk: set(item.dependency_names) for item in items}
    for binding in Binding.objects.filter(item__in=[i.pk for i in items]).select_related("source"):
        if binding.dependency in declared[binding.item_id]:
            found[binding.item_id][binding.dependency] = binding.source
    return found
