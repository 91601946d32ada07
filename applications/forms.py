"""The fields staff edit for an application. The secret is never a field: it is made by Connect and shown once."""

from django import forms
from django.conf import settings

from core.text_rules import validate_no_null_characters
from items.models import Item

from . import origins
from .models import Application


class OriginsField(forms.CharField):
    """One origin per line in the form, a normalised list in the model."""

    widget = forms.Textarea(
        attrs={"rows": 4, "placeholder": "https://forms.example.com\nhttps://intranet.example.com:8443"}
    )

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value) or ""
        validate_no_null_characters(text)  # before the lines are read as origins, whose messages would quote it
        return origins.normalise_origins(text.splitlines(), allow_local_http=settings.DEBUG)


class ApplicationForm(forms.ModelForm):
    allowed_origins = OriginsField(required=False, label="Allowed web origins")

    class Meta:
        model = Application
        fields = ["name", "items", "allowed_origins", "enabled", "may_purge"]
        widgets = {"items": forms.CheckboxSelectMultiple}
        help_texts = {"enabled": "A disabled application's tokens are refused at the next request."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The admin leaves out the fields a role may only read (a Viewer's or an Editor's read-only page).
        if "items" in self.fields:
            self.fields["items"].queryset = Item.objects.order_by("name")
            self.fields["items"].help_text = (
                "The items its embedding tokens may name; a token can only narrow this list."
                if Item.objects.exists()
                else "There is no item yet: create items first, then grant them here."
            )
        if "allowed_origins" in self.fields:
            self.fields["allowed_origins"].help_text = (
                "The pages that may embed the widget, one per line, as the browser's address bar shows them: "
                "https://host or https://host:port, no path."
                + (
                    " While DEBUG is on, http://localhost[:port] and http://127.0.0.1[:port] are accepted too."
                    if settings.DEBUG
                    else ""
                )
                + " Leave it empty for a server-to-server caller (no browser)."
            )

    def validate_unique(self):
        # Application.clean() already reports a name clash on the name field.
        pass
