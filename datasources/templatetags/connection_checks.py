"""{% last_connection_check datasource as check %}: the admin's last Test connection result for a datasource."""
from django import template

from ..services import connection_check

register = template.Library()


@register.simple_tag(takes_context=True)
def last_connection_check(context, datasource):
    request = context.get("request")
    if request is None or not hasattr(request, "session"):
        return None
    return connection_check.last_check(request.session, datasource=datasource)
