"""The summary at the top of a form sent back with errors (`{% error_summary form formset ... %}`): one home for every
form page (datasources, items, applications). It says nothing was saved and links to each field in error; the
page's script moves the focus to it, so a keyboard or screen reader user starts there (GOV.UK's error summary)."""

from django import template
from django.forms.forms import NON_FIELD_ERRORS
from django.forms.formsets import BaseFormSet

register = template.Library()


@register.inclusion_tag("includes/error_summary.html")
def error_summary(*forms):
    """`forms`: forms and formsets (None is skipped: a section the page does not show)."""
    return {"errors": list(_errors(forms))}


def _errors(forms):
    for form in forms:
        if form is None or not form.is_bound:
            continue
        if isinstance(form, BaseFormSet):
            for message in form.non_form_errors():
                yield {"message": message}
            yield from _errors(form.forms)
            continue
        for name, messages in form.errors.items():
            if name == NON_FIELD_ERRORS or name not in form.fields:
                yield from ({"message": message} for message in messages)
                continue
            field = form[name]
            yield from ({"label": field.label, "message": message, "target": _target(field)} for message in messages)


def _target(field) -> str:
    """The id of the control the link leads to: the input, or a choice list's first choice (radios, checkboxes)."""
    if field.id_for_label:
        return field.id_for_label
    subwidgets = field.subwidgets
    return subwidgets[0].id_for_label if subwidgets else field.auto_id
