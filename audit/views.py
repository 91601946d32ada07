"""The Audit page (Administrators): every recorded change, filtered and paginated."""

from django.core.paginator import Paginator
from django.shortcuts import render

from core.access import permission_required

from .forms import AuditFilterForm

PAGE_SIZE = 50


@permission_required("audit.view_auditentry")
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    entries = form.filtered() if form.is_bound else AuditFilterForm({}).filtered()
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/list.html",
        {"form": form, "page": page, "query": query.urlencode(), "filtered": bool(query)},
    )
