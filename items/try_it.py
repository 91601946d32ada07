"""The fields of an item's Try it page: the items it is bound to (recursively, parents first), then the item, each
as the widget's markup; and the snippet a page copies to embed the same fields."""

import re
from dataclasses import dataclass, field

from django.utils.html import escape

from . import bindings
from .models import Item
from .services.proofs import judge_submission

_NOT_NAME = re.compile(r"[^a-z0-9]+")


@dataclass
class TryField:
    name: str  # the form field's name; its key is submitted under it
    label: str
    item: Item | None = None  # None: a plain input for a dependency no item is bound to
    depends: list[tuple[str, str]] = field(default_factory=list)  # (dependency, name of the field it comes from)
    value: str = ""
    value_label: str = ""
    help: str = ""
    verdict: object = None  # proofs.Verdict of a submitted key, as the system receiving the form would judge it

    @property
    def field_id(self) -> str:
        return f"try-{self.name}"

    @property
    def label_name(self) -> str:
        return f"{self.name}_label"

    @property
    def proof_name(self) -> str:
        return f"{self.name}_proof"

    @property
    def depends_attribute(self) -> str:
        return ", ".join(f"{dependency}=#try-{source}" for dependency, source in self.depends)


def try_it_fields(*, item: Item, submitted) -> list[TryField]:
    chain = bindings.parents_first(item=item)
    sources = bindings.bindings_by_item(chain)
    taken: set[str] = set()
    names: dict[int, str] = {}
    fields: list[TryField] = []
    for current in chain:
        names[current.pk] = _unique(_name_for(current.name) or f"item_{current.pk}", taken)
        depends = []
        for dependency in current.dependency_names:
            source = sources[current.pk].get(dependency)
            if source is not None:
                depends.append((dependency, names[source.pk]))
                continue
            plain = TryField(
                name=_unique(f"{names[current.pk]}_{dependency}", taken),
                label=f"${dependency} for {current.name}",
                help="Not bound to an item: type the value a page would give.",
            )
            plain.value = submitted.get(plain.name, "")
            fields.append(plain)
            depends.append((dependency, plain.name))
        this = TryField(name=names[current.pk], label=current.name, item=current, depends=depends)
        this.value, this.value_label = submitted.get(this.name, ""), submitted.get(this.label_name, "")
        fields.append(this)
    return fields


def judge_submitted(*, fields: list[TryField], submitted, caller) -> None:
    """Each submitted key's proof, verified as the system receiving the form would (Try it shows the verdict)."""
    for f in fields:
        if f.item is not None and submitted.get(f.name):
            f.verdict = judge_submission(
                proof=submitted.get(f.proof_name, ""), keys=[submitted[f.name]], item=f.item, caller=caller
            )


def embed_snippet(*, fields: list[TryField], script_url: str, style_url: str, public_url: str) -> str:
    """The markup a page copies: the widget's stylesheet and script once, then one labelled input per field, parents
    first."""
    lines = [
        f'<link rel="stylesheet" href="{escape(style_url)}">',
        f'<script src="{escape(script_url)}" data-connect-url="{escape(public_url)}"',
        '        data-connect-token="EMBEDDING-TOKEN" defer></script>',
    ]
    for f in fields:
        lines.append(f'<label for="{f.name}">{escape(f.label)}</label>')
        if f.item is None:
            comment = escape(f.label).replace("--", "- -")
            lines.append(f"<!-- {comment}: any field of your page; not bound to an item -->")
            lines.append(f'<input id="{f.name}" name="{f.name}">')
            continue
        depends = ", ".join(f"{dependency}=#{source}" for dependency, source in f.depends)
        depends = f' data-connect-depends="{depends}"' if depends else ""
        lines.append(f'<input id="{f.name}" name="{f.name}" data-connect-item="{f.item.pk}"{depends}>')
    return "\n".join(lines)


def _name_for(text: str) -> str:
    return _NOT_NAME.sub("_", text.lower()).strip("_")[:40]


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    taken.add(candidate)
    return candidate
