"""Datasources, items and applications have one name each, case ignored: the forms check it (each model's clean()),
and the database's unique constraint decides when two people save the same name at once. Then the second one gets
the constraint's message (the same as the form's check) next to the name field, or at the top of a form without it,
never a server error."""

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import IntegrityError, transaction
from django.db.models import UniqueConstraint


def saved_unless_name_taken(form, save):
    """`save()` (which saves the form's model) in a savepoint, returning what it returns. When the database refuses
    it for the model's unique name constraint, its message goes on the form and None is returned: nothing was saved.
    Any other failure is raised."""
    model = type(form.instance)
    try:
        with transaction.atomic():
            return save()
    except IntegrityError as exc:
        # SQLite and PostgreSQL both name the constraint in the error.
        constraint = next(
            (c for c in model._meta.constraints if isinstance(c, UniqueConstraint) and c.name in str(exc)), None
        )
        if constraint is None or not constraint.name.endswith("_name_ci_unique"):
            raise
        form.add_error("name" if "name" in form.fields else NON_FIELD_ERRORS, constraint.get_violation_error_message())
        return None
