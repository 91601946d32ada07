"""Connected items: a query against a datasource whose JSON answer becomes a list of options. Data only, no I/O."""

import json
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from core.models import VersionedConfiguration
from core.text_rules import null_character_error
from datasources import url_rules
from datasources.models import Datasource

from . import syntax

MAX_DEPENDENCIES = 20
# Large lists (products, cost centres) are read whole once and then sliced and filtered on Connect.
MAX_OPTIONS_LIMIT = 10_000
MAX_PAGES_LIMIT = 20
MAX_BODY_CHARS = 20_000
MAX_CACHE_SECONDS = 24 * 3600


def default_cache_seconds() -> int:
    """A new item keeps its answers as long as the operator's CONNECT_CACHE_TTL_SECONDS says (300: the reference's
    5 minutes), within the range an item may choose."""
    return min(max(int(settings.CONNECT_CACHE_TTL_SECONDS), 0), MAX_CACHE_SECONDS)


def validate_cache_seconds(value) -> None:
    if value is None or not 0 <= value <= MAX_CACHE_SECONDS:
        raise ValidationError(
            f"Enter a number of seconds from 0 (answers are never kept) to {MAX_CACHE_SECONDS:,} (24 hours); "
            "300 is 5 minutes.",
            code="cache_seconds",
        )


class Method(models.TextChoices):
    GET = "GET", "GET"
    POST = "POST", "POST (with a JSON body)"


class LookupMethod(models.TextChoices):
    # Labels of their own: a page has both choices, and a label names one control.
    GET = "GET", "GET the entry"
    POST = "POST", "POST a JSON body"


class ApiFilter(models.TextChoices):
    """How the API matches the typed text against the labels it answers (narrowing, SPEC 10)."""

    NOTHING = "nothing", "Nothing (or not known): every text is asked of the API"
    LABEL_CONTAINS = "label_contains", "Label contains the typed text"
    LABEL_STARTS_WITH = "label_starts_with", "Label starts with the typed text"


class Pagination(models.TextChoices):
    NONE = "none", "None: one page"
    LINK = "link", 'Link header (rel="next")'
    NEXT_URL = "next_url", "The next page's URL, in the answer"
    PAGE = "page", "A page or offset parameter"


class Access(models.TextChoices):
    SIGNED_IN = "signed_in", "Every signed-in user"
    GROUPS = "groups", "Only the chosen groups"


# The form's check and the database's constraint say the same (core/unique_names.py: two saves at once).
NAME_TAKEN = "An item with this name already exists (names ignore case)."


class Item(VersionedConfiguration):
    name = models.CharField(max_length=100, help_text="A unique name, 1-100 characters (case is ignored).")
    datasource = models.ForeignKey(Datasource, on_delete=models.CASCADE, related_name="items")
    query = models.CharField(
        max_length=2000,
        blank=True,
        help_text="A path and query string appended to the datasource's base URL, e.g. "
        "/search?jql=project=$project&q=$userInput. Variables: $userInput, $currentUser (also "
        "$currentUser.email and $currentUser.displayName) and each dependency ($name or ${name}); values "
        "are URL-encoded.",
    )
    method = models.CharField(
        "Method",
        max_length=4,
        choices=Method.choices,
        default=Method.GET,
        help_text="GET, or POST with a JSON body (search and GraphQL APIs).",
    )
    body_template = models.TextField(
        "JSON body",
        blank=True,
        help_text='Sent with POST as application/json, e.g. {"query": "$userInput", "limit": 20}. Variables are '
        "JSON-encoded where they stand: inside a string they are escaped for it, elsewhere they become a "
        "string.",
    )
    # [{"name": "country", "optional": false}, ...]
    dependencies = models.JSONField(default=list, blank=True)
    user_input_optional = models.BooleanField(
        "Typed text may be empty",
        default=False,
        help_text="When unticked, a call without $userInput is an error instead of an empty value.",
    )
    api_filter = models.CharField(
        "The API filters by",
        max_length=20,
        choices=ApiFilter.choices,
        default=ApiFilter.NOTHING,
        help_text="How the API matches the typed text ($userInput) against the labels it answers. When set, an "
        "answer for a longer text is computed on Connect from the complete answer (no next page, fewer than the "
        "maximum options) for a shorter text it starts with, without calling the API. Choose a rule only when the "
        "API filters exactly so, ignoring case and accents as Connect does.",
    )
    list_path = models.CharField(
        "Path to the list",
        max_length=500,
        blank=True,
        help_text="Where the options are in the JSON answer: a dotted path (issues, data.items) or a JSONPath "
        "($.data.items[?@.active == true] keeps only the matching entries). Blank: the answer itself.",
    )
    key_field = models.CharField(
        "Key field",
        max_length=200,
        blank=True,
        default="id",
        help_text="The field of each entry that becomes the option key: id, fields.key or $.fields.key. Blank: the "
        "entry itself.",
    )
    label_template = models.CharField(
        "Label",
        max_length=500,
        blank=True,
        help_text="A field (name, fields.summary or $.fields.summary) or a template with fields in braces "
        "({key} - {fields.summary}; {key} is the option key). Blank: the key.",
    )
    max_options = models.PositiveIntegerField(
        "Maximum options",
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_OPTIONS_LIMIT)],
        help_text=f"At most this many options are read from the API (1-{MAX_OPTIONS_LIMIT:,}); the options endpoint "
        "answers them whole or in slices.",
    )
    pagination = models.CharField(
        "Pagination",
        max_length=10,
        choices=Pagination.choices,
        default=Pagination.NONE,
        help_text="How further pages are found. Pages are read until the maximum options or the page cap.",
    )
    next_url_path = models.CharField(
        "Path to the next page's URL",
        max_length=500,
        blank=True,
        help_text="Where the answer holds the next page's URL, e.g. links.next or $.paging.next.",
    )
    page_parameter = models.CharField(
        "Page parameter",
        max_length=100,
        blank=True,
        help_text="The query parameter that selects a page, e.g. page or offset.",
    )
    page_start = models.IntegerField("First value", default=1, help_text="Its value for the first page, e.g. 1 or 0.")
    page_step = models.PositiveIntegerField(
        "Step",
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="Added for each next page: 1 for page numbers, the page size for an offset.",
    )
    max_pages = models.PositiveSmallIntegerField(
        "Page cap",
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_PAGES_LIMIT)],
        help_text=f"At most this many pages are read (1-{MAX_PAGES_LIMIT}).",
    )
    cache_seconds = models.PositiveIntegerField(
        "Answers are kept for (seconds)",
        default=default_cache_seconds,
        validators=[validate_cache_seconds],
        help_text="How long an answer is reused from the cache before the API is called again: 0 = never kept (every "
        "request calls the API; stale-if-error then has nothing to serve), at most 86,400 (24 hours). 300 is the "
        "usual 5 minutes; reference data may be kept for a day, stock levels for ten seconds.",
    )
    # Labels of keys (SPEC 9): a call that fetches one entry by its key, so a pre-filled key can show its label.
    lookup_query = models.CharField(
        "Key lookup",
        max_length=2000,
        blank=True,
        help_text="Optional: the path and query string of a call that fetches the entry of one key, e.g. "
        "/assets/$key or /search?id=$key, so that a pre-filled key shows its label. Variables: $key, $currentUser "
        "(and its parts) and each dependency. The answer is read like the query's: the entry itself, or the list "
        "at the path to the list. Blank: a list item's labels come from its options; a search item's keys have "
        "none.",
    )
    lookup_method = models.CharField(
        "Key lookup method",
        max_length=4,
        choices=LookupMethod.choices,
        default=LookupMethod.GET,
        help_text="GET, or POST with a JSON body.",
    )
    lookup_body_template = models.TextField(
        "Key lookup JSON body",
        blank=True,
        help_text='Sent with a POST lookup as application/json, e.g. {"ids": ["$key"]}. Variables are JSON-encoded '
        "where they stand, as in the query's body.",
    )
    # Who may use this item through the item API with a Connect session (items/access.py). Embedding tokens are
    # judged by their application's grant instead.
    access = models.CharField(
        "Who may use this item",
        max_length=20,
        choices=Access.choices,
        default=Access.SIGNED_IN,
        help_text="Who may read its options in a form with their Connect account. Applications' embedding tokens "
        "follow the application's grant instead.",
    )
    allowed_groups = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="items_allowed",
        verbose_name="groups allowed",
        help_text="With “Only the chosen groups”: members of these groups may use the item (Connect's Viewers, "
        "Editors and Administrators always may).",
    )
    # config_version (VersionedConfiguration) is in the cache keys: an edit makes old cached answers unreachable.

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="item_name_ci_unique",
                violation_error_message=NAME_TAKEN,
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.name = (self.name or "").strip()
        super().save(*args, **kwargs)

    @property
    def cache_lifetime(self) -> str:
        """The cache lifetime as people say it: "5 minutes", "1 day", "90 seconds", "never kept"."""
        seconds = self.cache_seconds
        if not seconds:
            return "never kept"
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if seconds >= size and seconds % size == 0:
                count = seconds // size
                return f"{count} {unit}{'s' if count != 1 else ''}"
        return f"{seconds} second{'s' if seconds != 1 else ''}"

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
        """A search field (autocomplete) when the query (or a POST body) uses $userInput, otherwise a list loaded
        once (select)."""
        body = self.body_template if self.method == Method.POST else ""
        return syntax.USER_INPUT in syntax.query_variables(self.query) + syntax.query_variables(body)

    @property
    def has_lookup(self) -> bool:
        """True when the item declares a lookup query (a POST lookup may call the base URL itself)."""
        return bool((self.lookup_query or "").strip()) or self.lookup_method == LookupMethod.POST

    def clean(self):
        self.name = (self.name or "").strip()
        errors = {}
        if not self.name:
            errors["name"] = "Enter a name."
        elif Item.objects.filter(name__iexact=self.name).exclude(pk=self.pk).exists():
            errors["name"] = NAME_TAKEN
        checks = {
            "dependencies": null_character_error(self.dependencies) or _dependency_errors(self.dependencies),
            "query": _query_errors(self.query or "", self.dependencies),
            "body_template": _body_errors(self.method, self.body_template or "", self.dependencies),
            "list_path": _path_errors(self.list_path),
            "key_field": _path_errors(self.key_field),
            "label_template": _label_errors(self.label_template),
            "api_filter": _api_filter_errors(self),
            **_pagination_errors(self),
            **_lookup_errors(self),
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
    source = models.ForeignKey(
        Item, on_delete=models.RESTRICT, related_name="bound_by", verbose_name="comes from the item"
    )

    class Meta:
        ordering = ["item", "dependency"]
        constraints = [
            models.UniqueConstraint(
                "item",
                "dependency",
                name="binding_unique_per_dependency",
                violation_error_message="This dependency is already bound.",
            ),
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
            return (
                f"“{name}” is not a valid dependency name: start with a letter or _, then letters, digits "
                "or _ (it is used as $name in the query)."
            )
        if name.lower() in syntax.RESERVED_NAMES:
            return (
                f"“{name}” is reserved (userInput, currentUser, q, offset and limit are built in): choose another name."
            )
        if name.lower() in seen:
            return f"The dependency “{name}” is declared twice."
        if not isinstance(dependency.get("optional", False), bool):
            return f"The dependency “{name}”: optional must be true or false."
        seen.add(name.lower())
    return ""


def _query_errors(query: str, dependencies) -> str:
    """The query's URL rules are the client's (url_rules.check_path_and_query), checked with a sample value in place
    of each variable: values are percent-encoded when the query is evaluated, so they cannot add what is refused."""
    if syntax.has_unclosed_brace(query):
        return "A ${ is not closed: write ${name}."
    try:
        url_rules.check_path_and_query(syntax.with_sample_values(query))
    except url_rules.URLRuleError as exc:
        return exc.message
    return _unknown_variables(query, dependencies)


def _unknown_variables(text: str, dependencies, *, lookup: bool = False) -> str:
    """The query's variables are $userInput, $currentUser (and its parts) and the dependencies; a lookup's are $key
    instead of $userInput (a key is looked up without typed text)."""
    declared = {d.get("name") for d in dependencies if isinstance(d, dict)} if isinstance(dependencies, list) else set()
    first = syntax.KEY if lookup else syntax.USER_INPUT
    known = declared | {first, *syntax.CURRENT_USER_VARIABLES}
    used = syntax.query_variables(text)
    if lookup and syntax.USER_INPUT in used:
        return "A lookup has no typed text: use $key (the key whose label is wanted) instead of $userInput."
    unknown = [n for n in used if n not in known]
    if unknown:
        names = ", ".join(f"${n}" for n in unknown)
        return (
            f"Unknown variable {names}: use ${first}, $currentUser, $currentUser.email, "
            "$currentUser.displayName or declare it as a dependency."
        )
    return ""


def _body_errors(method: str, body: str, dependencies, *, lookup: bool = False) -> str:
    if not body.strip():
        return ""
    if method != Method.POST:
        what = "lookup method" if lookup else "method"
        return f"A body is only sent with POST: choose POST as the {what}, or clear the body."
    if len(body) > MAX_BODY_CHARS:
        return f"The body is longer than {MAX_BODY_CHARS:,} characters."
    if syntax.has_unclosed_brace(body):
        return "A ${ is not closed: write ${name}."
    unknown = _unknown_variables(body, dependencies, lookup=lookup)
    if unknown:
        return unknown
    try:
        json.loads(syntax.fill_json_template(body, lambda name: syntax.SAMPLE_VALUE))
    except ValueError as exc:
        return (
            f"The body is not valid JSON (checked with a sample value for each variable): {exc.msg} at line "
            f"{exc.lineno}, column {exc.colno}."
        )
    return ""


def _lookup_errors(item) -> dict:
    """The lookup query follows the query's rules, with $key as its own variable, which it must use."""
    query, body = item.lookup_query or "", item.lookup_body_template or ""
    errors = {}
    body_error = _body_errors(item.lookup_method, body, item.dependencies, lookup=True)
    if body_error:
        errors["lookup_body_template"] = body_error
    if not item.has_lookup:
        return errors
    if syntax.has_unclosed_brace(query):
        errors["lookup_query"] = "A ${ is not closed: write ${name}."
        return errors
    try:
        url_rules.check_path_and_query(syntax.with_sample_values(query))
    except url_rules.URLRuleError as exc:
        errors["lookup_query"] = exc.message
        return errors
    unknown = _unknown_variables(query, item.dependencies, lookup=True)
    if unknown:
        errors["lookup_query"] = unknown
    elif syntax.KEY in {d.get("name") for d in item.dependencies or [] if isinstance(d, dict)}:
        errors["lookup_query"] = "A dependency is named “key”, which hides the lookup's $key: rename the dependency."
    elif syntax.KEY not in syntax.query_variables(query) + syntax.query_variables(
        body if item.lookup_method == LookupMethod.POST else ""
    ):
        where = "query or its body" if item.lookup_method == LookupMethod.POST else "query"
        errors["lookup_query"] = f"The lookup {where} must use $key, the key whose entry it fetches (/assets/$key)."
    return errors


def _api_filter_errors(item) -> str:
    if item.api_filter == ApiFilter.NOTHING or item.uses_user_input:
        return ""
    return (
        "Only a search item is narrowed: its query (or JSON body) must use $userInput. Choose “Nothing”, or use "
        "$userInput."
    )


def _pagination_errors(item) -> dict:
    if item.pagination == Pagination.NEXT_URL:
        if not (item.next_url_path or "").strip():
            return {"next_url_path": "Enter where the answer holds the next page's URL, e.g. links.next."}
        message = _path_errors(item.next_url_path)
        return {"next_url_path": message} if message else {}
    if item.pagination == Pagination.PAGE:
        name = (item.page_parameter or "").strip()
        if not name:
            return {"page_parameter": "Enter the query parameter that selects a page, e.g. page or offset."}
        if not PARAMETER_NAME_RE.match(name):
            return {"page_parameter": "Use letters, digits and - _ . [ ] only, e.g. page or page[number]."}
    return {}


PARAMETER_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,100}$")


def _path_errors(path: str) -> str:
    try:
        syntax.compile_path(path or "")
    except ValueError as exc:
        return str(exc)
    return ""


def _label_errors(template: str) -> str:
    try:
        syntax.label_fields(template)
    except ValueError as exc:
        return str(exc)
    return ""
