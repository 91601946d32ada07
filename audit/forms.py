"""The Audit page's filters."""

from django import forms

from .models import Action, AuditEntry

OBJECT_TYPES = [
    ("", "Any object"),
    ("datasource", "Datasource"),
    ("item", "Item"),
    ("application", "Application"),
    ("user", "User (roles)"),
    ("configuration", "Configuration import"),
]


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        label="Who", required=False, help_text="A username, or apply_config. Exact match, case ignored."
    )
    object_type = forms.ChoiceField(label="Object type", choices=OBJECT_TYPES, required=False)
    object = forms.CharField(label="Object", required=False, help_text="Its name (or part of it), or its id.")
    action = forms.ChoiceField(label="Action", choices=[("", "Any action"), *Action.choices], required=False)
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Inclusive."
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Inclusive."
    )

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end date is before the start date.")
        return data

    def filtered(self):
        entries = AuditEntry.objects.all()
        if not self.is_valid():
            return entries.none()
        data = self.cleaned_data
        if data["actor"]:
            entries = entries.filter(actor__iexact=data["actor"].strip())
        if data["object_type"]:
            entries = entries.filter(object_type=data["object_type"])
        if data["object"]:
            text = data["object"].strip()
            by_name = entries.filter(object_name__icontains=text)
            entries = (by_name | entries.filter(object_id=text)) if text.isdigit() else by_name
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["since"]:
            entries = entries.filter(at__date__gte=data["since"])
        if data["until"]:
            entries = entries.filter(at__date__lte=data["until"])
        return entries
