"""Connected items: a query against a datasource whose JSON answer becomes a list of options. Data only, no I/O."""
from urllib.parse import unquote

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from datasources.models import Datasource, VersionedConfiguration
from datasources.models import new_config_version  # noqa: F401 - named by the first migration

from . import syntax

MAX_DEPENDENCIES = 20
MAX_OPTIONS_LIMIT = 1000


class Item(VersionedConfiguration):
    name = models.CharField(max_length=100, help_text="A unique name, 1-100 characters (case is ignored).")
    datasource = models.ForeignKey(Datasource, on_delete=models.CASCADE, related_name="items")
    query = models.CharField(
        max_length=2000, blank=True,
        help_text="A path and query string appended to the datasource's base URL, e.g. "
                  "/search?jql=project=$project&q=$userInput. Variables: $userInput, $currentUser and each "
                  "dependency ($name or ${name}); values are URL-encoded.")
    # [{"name": "country", "optional": false}, ...]
    dependencies = models.JSONField(default=list, blank=True)
    user_input_optional = models.BooleanField(
        "Typed text may be empty", default=False,
        help_text="When unticked, a call without $userInput is an error instead of an empty value.")
    list_path = models.CharField(
        "Path to the list", max_length=500, blank=True,
        help_text="Where the options are in the JSON answer, e.g. issues or data.items. Blank: the answer "
                  "itself is the list.")
    key_field = models.CharField(
        "Key field", max_length=200, blank=True, default="id",
        help_text="The field of each entry that becomes the option key, e.g. id or key. Blank: the entry itself.")
    label_template = models.CharField(
        "Label", max_length=500, blank=True,
        help_text="A field or a template, e.g. {key} - {fields.summary}. {key} is the option key. "
                  "Blank: the key.")
    max_options = models.PositiveIntegerField(
        "Maximum options", default=100,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_OPTIONS_LIMIT)],
        help_text=f"At most this many options are returned (1-{MAX_OPTIONS_LIMIT}).")
    # config_version (VersionedConfiguration) is in the cache keys: an edit makes old cached answers unreachable.

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="item_name_ci_unique",
                                    violation_error_message="An item with this name already exists."),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.name = (self.name or "").strip()
        super().save(*args, **kwargs)

    @property
    def dependency_names(self) -> list[str]:
        return [d["name"] for d in self.dependencies or []]

    @property
    def optional_names(self) -> set[str]:
        names = {d["name"] for d in self.dependencies or [] if d.get("optional")}
        if self.user_input_optional:
            names.add(syntax.USER_INPUT)
        return names

    @property
    def uses_user_input(self) -> bool:
        """A search field (autocomplete) when the query uses $userInput, otherwise a list loaded once (select)."""
        return syntax.USER_INPUT in syntax.query_variables(self.query)

    def clean(self):
        self.name = (self.name or "").strip()
        errors = {}
        if not self.name:
            errors["name"] = "Enter a name."
        elif Item.objects.filter(name__iexact=self.name).exclude(pk=self.pk).exists():
            errors["name"] = "An item with this name already exists (names ignore case)."
        checks = {
            "dependencies": _dependency_errors(self.dependencies),
            "query": _query_errors(self.query or "", self.dependencies),
            "list_path": _path_errors(self.list_path),
            "key_field": _path_errors(self.key_field),
            "label_template": _label_errors(self.label_template),
        }
        errors.update({field: message for field, message in checks.items() if message})
        if errors:
            raise ValidationError(errors)


class Binding(models.Model):
    """One dependency of an item bound to another item: "$country comes from the item Country".

    The value of the dependency is the key a person chose in the source item's field, so Connect can lay out
    cascading fields itself (the Try it page). A source item that is bound cannot be deleted: the forms using the
    chain would lose a field silently (RESTRICT, so a whole chain still goes with its datasource). Cycles are
    refused by items/bindings.py.
    """

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="bindings")
    dependency = models.CharField(max_length=100, help_text="The dependency's name, without the $.")
    source = models.ForeignKey(Item, on_delete=models.RESTRICT, related_name="bound_by",
                               verbose_name="comes from the item")

    class Meta:
        ordering = ["item", "dependency"]
        constraints = [
            models.UniqueConstraint("item", "dependency", name="binding_unique_per_dependency",
                                    violation_error_message="This dependency is already bound."),
        ]

    def __str__(self):
        return f"{self.item.name}: ${self.dependency} comes from {self.source.name}"


def _dependency_errors(dependencies) -> str:
    if not isinstance(dependencies, list):
        return "Dependencies must be a list."
    if len(dependencies) > MAX_DEPENDENCIES:
        return f"An item can declare at most {MAX_DEPENDENCIES} dependencies."
    seen = set()
    for dependency in dependencies:
        name = dependency.get("name", "") if isinstance(dependency, dict) else ""
        if not syntax.IDENTIFIER_RE.match(name or ""):
            return (f"“{name}” is not a valid dependency name: start with a letter or _, then letters, digits "
                    "or _ (it is used as $name in the query).")
        if name.lower() in syntax.RESERVED_NAMES:
            return f"“{name}” is reserved (userInput, currentUser and q are built in): choose another name."
        if name.lower() in seen:
            return f"The dependency “{name}” is declared twice."
        if not isinstance(dependency.get("optional", False), bool):
            return f"The dependency “{name}”: optional must be true or false."
        seen.add(name.lower())
    return ""


def _query_errors(query: str, dependencies) -> str:
    path = query.split("?", 1)[0]
    if syntax.has_scheme(query):
        return "Enter a path and query string (e.g. /search?q=$userInput), not a full URL: the host comes " \
               "from the datasource."
    if "//" in query:
        return "“//” is not allowed in a query: it could name another host. Use a single /."
    if "\\" in query:
        return "Backslashes are not allowed in a query."
    if "@" in query:
        return "“@” is not allowed in a query: write it as %40."
    if "#" in query:
        return "Remove the #fragment: it is never sent to a server."
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in query):
        return "The query contains line breaks or control characters."
    if any(unquote(segment) in (".", "..") for segment in path.split("/")):
        return "“.” and “..” path segments are not allowed: write the path the API expects."
    if syntax.has_unclosed_brace(query):
        return "A ${ is not closed: write ${name}."
    declared = {d.get("name") for d in dependencies if isinstance(d, dict)} if isinstance(dependencies, list) else set()
    unknown = [n for n in syntax.query_variables(query)
               if n not in declared and n not in (syntax.USER_INPUT, syntax.CURRENT_USER)]
    if unknown:
        names = ", ".join(f"${n}" for n in unknown)
        return f"Unknown variable {names}: use $userInput, $currentUser or declare it as a dependency."
    return ""


def _path_errors(path: str) -> str:
    if not syntax.is_valid_path(path):
        return "Enter names separated by dots, as in data.items (no spaces, braces or empty parts)."
    return ""


def _label_errors(template: str) -> str:
    try:
        syntax.label_fields(template)
    except ValueError as exc:
        return str(exc)
    return ""
