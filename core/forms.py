"""What Connect's model forms share: a field the form refused gets that one message, not a second from the model."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

NAME_REQUIRED = "Enter a name."


class OneMessagePerRefusedField:
    """A field the form already refused (empty, too long, not a number) never reached the model instance, so the
    model's clean() judged the stored value, not the typed one: its message on that field would be a second one
    ("This field is required." and "Enter a name.") or a wrong one. Only the form's message is kept."""

    def _update_errors(self, errors):
        if hasattr(errors, "error_dict"):
            refused = set(self._errors or {}) - {NON_FIELD_ERRORS}
            kept = {field: messages for field, messages in errors.error_dict.items() if field not in refused}
            if not kept:
                return
            errors = ValidationError(kept)
        super()._update_errors(errors)
