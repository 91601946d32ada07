"""The fields an administrator edits for an item, and the preview form."""

from django import forms
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator

from core.forms import NAME_REQUIRED, OneMessagePerRefusedField

from . import bindings
from .access import access_error
from .models import Access, ApiFilter, Item, LookupMethod, default_cache_seconds, validate_cache_seconds
from .services.evaluation import CurrentUser
from .syntax import IDENTIFIER_RE

BINDING_PREFIX = "bind_"


class ItemForm(OneMessagePerRefusedField, forms.ModelForm):
    dependencies = forms.CharField(
        required=False,
        label="Dependencies",
        widget=forms.TextInput(attrs={"placeholder": "country, region?"}),
        help_text="Variables whose values come from the caller (another field's current value), separated by "
        "commas. Use them as $name in the query. End a name with ? to make it optional (empty when "
        "missing); without ?, a call without a value is an error.",
    )

    class Meta:
        model = Item
        fields = [
            "name",
            "datasource",
            "query",
            "dependencies",
            "user_input_optional",
            "api_filter",
            "method",
            "body_template",
            "list_path",
            "key_field",
            "label_template",
            "max_options",
            "pagination",
            "next_url_path",
            "page_parameter",
            "page_start",
            "page_step",
            "max_pages",
            "cache_seconds",
            "lookup_query",
            "lookup_method",
            "lookup_body_template",
            "access",
            "allowed_groups",
        ]
        error_messages = {"name": {"required": NAME_REQUIRED}, "datasource": {"required": "Choose a datasource."}}
        widgets = {
            "access": forms.RadioSelect,
            "allowed_groups": forms.CheckboxSelectMultiple,
            "query": forms.TextInput(attrs={"placeholder": "/search?jql=project=$project&text=$userInput"}),
            "method": forms.RadioSelect,
            "api_filter": forms.RadioSelect,
            "body_template": forms.Textarea(
                attrs={"rows": 4, "spellcheck": "false", "placeholder": '{"query": "$userInput", "limit": 20}'}
            ),
            "list_path": forms.TextInput(attrs={"placeholder": "issues or $.data.items[?@.active == true]"}),
            "label_template": forms.TextInput(attrs={"placeholder": "{key} - {fields.summary}"}),
            "next_url_path": forms.TextInput(attrs={"placeholder": "links.next"}),
            "page_parameter": forms.TextInput(attrs={"placeholder": "page"}),
            "lookup_query": forms.TextInput(attrs={"placeholder": "/assets/$key"}),
            "lookup_method": forms.RadioSelect,
            "lookup_body_template": forms.Textarea(
                attrs={"rows": 3, "spellcheck": "false", "placeholder": '{"ids": ["$key"]}'}
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["dependencies"] = format_dependencies(self.instance.dependencies or [])
        self.fields["datasource"].empty_label = "Choose a datasource"
        # One message that says the range, instead of Django's generic bound message beside it.
        cache_seconds = self.fields["cache_seconds"]
        cache_seconds.validators = [
            v for v in cache_seconds.validators if not isinstance(v, (MinValueValidator, MaxValueValidator))
        ] + [validate_cache_seconds]
        cache_seconds.widget.attrs.update({"min": 0, "step": 1})
        cache_seconds.required = False
        cache_seconds.help_text += f" Blank: Connect's default, {default_cache_seconds()} seconds."
        self.fields["api_filter"].required = False  # a post without it (a script, an older page) means "nothing"
        self.fields["lookup_method"].required = False  # likewise: GET
        # Nothing chosen (a form built without the section) keeps the default: every signed-in user.
        self.fields["access"].required = False
        self.fields["allowed_groups"].queryset = Group.objects.order_by("name")
        if not Group.objects.exists():
            self.fields["allowed_groups"].help_text = "There is no group yet: create groups on the admin site."
        self._add_binding_fields()

    def _add_binding_fields(self):
        """One "comes from" choice per declared dependency: the submitted ones, or the stored ones.

        The page's script adds a choice as soon as a dependency is typed; without it the choices appear when the
        form is shown again (after saving, or with an error)."""
        if self.is_bound:
            names = [d["name"] for d in parse_dependencies(self.data.get("dependencies", ""))]
        else:
            names = self.instance.dependency_names
        stored = bindings.bound_sources(item=self.instance) if self.instance.pk else {}
        choices = self.binding_choices()
        for name in dict.fromkeys(n for n in names if IDENTIFIER_RE.match(n)):
            self.fields[BINDING_PREFIX + name] = forms.ModelChoiceField(
                queryset=choices,
                required=False,
                label=f"${name} comes from",
                empty_label="Not bound (the page supplies the value)",
                initial=stored[name].pk if name in stored else None,
                help_text=f"The item whose chosen option fills ${name}: its field is shown before this one and "
                "this field waits for it.",
            )

    def binding_rows(self):
        """(dependency name, bound field) for each binding choice, in the order the dependencies are declared."""
        return [(name[len(BINDING_PREFIX) :], self[name]) for name in self.fields if name.startswith(BINDING_PREFIX)]

    def binding_choices(self):
        """Every item a dependency may come from (not this one): for the choices the page's script adds."""
        return Item.objects.exclude(pk=self.instance.pk) if self.instance.pk else Item.objects.all()

    def binding_sources(self) -> dict:
        return {
            name[len(BINDING_PREFIX) :]: self.cleaned_data.get(name)
            for name in self.fields
            if name.startswith(BINDING_PREFIX)
        }

    def clean_cache_seconds(self):
        value = self.cleaned_data.get("cache_seconds")
        return default_cache_seconds() if value is None else value

    def clean_api_filter(self):
        return self.cleaned_data["api_filter"] or ApiFilter.NOTHING

    def clean_lookup_method(self):
        return self.cleaned_data.get("lookup_method") or LookupMethod.GET

    def clean_access(self):
        return self.cleaned_data.get("access") or Access.SIGNED_IN

    def clean_dependencies(self):
        return parse_dependencies(self.cleaned_data["dependencies"])

    def clean(self):
        cleaned = super().clean()
        message = access_error(access=cleaned.get("access"), groups=cleaned.get("allowed_groups"))
        if message and "allowed_groups" not in self.errors:
            self.add_error("allowed_groups", message)
        if self.instance.pk and not any(name.startswith(BINDING_PREFIX) for name in self.errors):
            cycle = bindings.find_binding_cycle(item=self.instance, sources=self.binding_sources())
            if cycle:
                name = (cleaned.get("name") or "").strip() or self.instance.name
                cycle[0] = cycle[-1] = name  # the name as typed, not yet saved
                first = next(
                    dependency
                    for dependency, source in self.binding_sources().items()
                    if source is not None and source.name == cycle[1]
                )
                self.add_error(BINDING_PREFIX + first, bindings.cycle_message(cycle))
        return cleaned

    def save(self, commit=True):
        item = super().save(commit=commit)
        if commit:
            bindings.save_bindings(item=item, sources=self.binding_sources())
        return item

    def validate_unique(self):
        # Item.clean() already reports a name clash on the name field; skip the duplicate constraint message.
        pass


def parse_dependencies(text: str) -> list[dict]:
    """`country, region?` -> [{"name": "country", "optional": False}, {"name": "region", "optional": True}].

    Names are checked by Item.clean(); here a name is only split from its `?`.
    """
    dependencies = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        optional = part.endswith("?")
        name = part[:-1].strip() if optional else part
        dependencies.append({"name": name.lstrip("$"), "optional": optional})
    return dependencies


def format_dependencies(dependencies: list[dict]) -> str:
    return ", ".join(d["name"] + ("?" if d.get("optional") else "") for d in dependencies)


class PreviewForm(forms.Form):
    """$userInput, $currentUser (and its parts) and one field per dependency; blank means "no value" (an error
    unless optional)."""

    user_input = forms.CharField(
        required=False, label="$userInput", strip=False, help_text="What a person would have typed."
    )
    current_user = forms.CharField(
        required=False, label="$currentUser", help_text="The signed-in user's username (yours by default)."
    )
    current_user_email = forms.CharField(
        required=False, label="$currentUser.email", help_text="Their email address (yours by default)."
    )
    current_user_display_name = forms.CharField(
        required=False,
        label="$currentUser.displayName",
        help_text="Their full name, else the username (yours by default).",
    )
    bypass_cache = forms.BooleanField(required=False, label="Bypass the cache (call the API, store nothing)")

    def __init__(self, *args, item: Item, **kwargs):
        super().__init__(*args, **kwargs)
        self.item = item
        for dependency in item.dependencies or []:
            name = dependency["name"]
            if not IDENTIFIER_RE.match(name):
                continue
            optional = " (optional)" if dependency.get("optional") else ""
            self.fields[f"dep_{name}"] = forms.CharField(
                required=False,
                label=f"${name}",
                strip=False,
                help_text=f"The value of the dependency “{name}”{optional}.",
            )

    def current_user_value(self) -> CurrentUser:
        data = self.cleaned_data
        return CurrentUser(
            username=data["current_user"],
            email=data["current_user_email"],
            display_name=data["current_user_display_name"],
        )

    @staticmethod
    def initial_for(user) -> dict:
        me = CurrentUser.of_account(user)
        return {
            "current_user": me.username,
            "current_user_email": me.email,
            "current_user_display_name": me.display_name,
        }

    def dependency_values(self) -> dict:
        return {name: self.cleaned_data.get(f"dep_{name}", "") for name in self.item.dependency_names}

    def dependency_fields(self):
        return [self[f"dep_{name}"] for name in self.item.dependency_names if f"dep_{name}" in self.fields]
