"""{% audit_history object %}: the History section of a datasource, item or application page."""

from django import template

from ..models import AuditEntry

register = template.Library()

HISTORY_LENGTH = 10


@register.inclusion_tag("audit/_history.html", takes_context=True)
def audit_history(context, obj, object_type):
    entries = AuditEntry.objects.filter(object_type=object_type, object_id=str(obj.pk))
    return {
        "entries": list(entries[: HISTORY_LENGTH + 1]),
        "limit": HISTORY_LENGTH,
        "object_type": object_type,
        "obj": obj,
        "perms": context.get("perms"),
    }
