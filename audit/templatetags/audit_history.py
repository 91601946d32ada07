"""{% audit_history object %}: the History section of a datasource, item or application page. Everyone who may see
the page sees its history; the client address of each change only those who may see the audit log."""

from django import template

from core.access import may

from ..models import AuditEntry

register = template.Library()

HISTORY_LENGTH = 10


@register.inclusion_tag("audit/_history.html", takes_context=True)
def audit_history(context, obj, object_type):
    entries = AuditEntry.objects.filter(object_type=object_type, object_id=str(obj.pk))
    request = context.get("request")
    return {
        # Where a change came from is personal data: for those who may read the audit log (Administrators) only.
        "show_addresses": request is not None and may(request.user, "audit.view_auditentry"),
        "entries": list(entries[: HISTORY_LENGTH + 1]),
        "limit": HISTORY_LENGTH,
        "object_type": object_type,
        "obj": obj,
        "perms": context.get("perms"),
    }
