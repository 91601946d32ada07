"""Application pages for staff: list, create, edit, enable/disable, rotate the secret, delete, and the page that
shows a new secret once. Glue only: the form validates, the services do the work."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from audit.models import Action
from audit.recorder import audited, record_event
from core.access import permission_required
from core.callers import audience_for
from core.unique_names import saved_unless_name_taken

from .forms import ApplicationForm
from .models import Application
from .services import secret


@permission_required("applications.view_application")
def application_list(request):
    applications = Application.objects.prefetch_related("items")
    return render(request, "applications/list.html", {"applications": applications})


@permission_required("applications.add_application")
@audited
@require_http_methods(["GET", "POST"])
def application_create(request):
    if request.method == "POST":
        form = ApplicationForm(request.POST)
        application = saved_unless_name_taken(form, form.save) if form.is_valid() else None
        if application is not None:
            secret.offer_secret(session=request.session, application=application)
            messages.success(
                request,
                f"Application “{application.name}” created. Copy its secret now: it is shown only on this page.",
            )
            return redirect("applications:secret", pk=application.pk)
    else:
        form = ApplicationForm()
    return render(request, "applications/form.html", {"form": form, "application": None})


@permission_required("applications.view_application")
def application_detail(request, pk):
    application = get_object_or_404(Application.objects.prefetch_related("items"), pk=pk)
    return render(request, "applications/detail.html", {"application": application, "audience": audience_for(request)})


@permission_required("applications.change_application")
@audited
@require_http_methods(["GET", "POST"])
def application_edit(request, pk):
    application = get_object_or_404(Application, pk=pk)
    if request.method == "POST":
        form = ApplicationForm(request.POST, instance=application)
        if form.is_valid() and saved_unless_name_taken(form, form.save) is not None:
            messages.success(
                request, f"Application “{application.name}” saved. The change applies to its next request."
            )
            return redirect("applications:detail", pk=application.pk)
        application.refresh_from_db()  # the title shows the stored name, not the invalid one
    else:
        form = ApplicationForm(instance=application)
    return render(request, "applications/form.html", {"form": form, "application": application})


@permission_required("applications.change_application")
@audited
@require_POST
def application_toggle(request, pk):
    application = get_object_or_404(Application, pk=pk)
    application.enabled = not application.enabled
    application.save()
    if application.enabled:
        messages.success(request, f"Application “{application.name}” enabled: its tokens are accepted again.")
    else:
        messages.success(
            request, f"Application “{application.name}” disabled: its tokens are refused from the next request on."
        )
    return redirect("applications:detail", pk=application.pk)


@permission_required("applications.change_application")
@audited
@require_http_methods(["GET", "POST"])
def application_rotate(request, pk):
    application = get_object_or_404(Application, pk=pk)
    if request.method == "POST":
        secret.rotate_secret(application=application)
        record_event(action=Action.ROTATE_SECRET, instance=application)
        secret.offer_secret(session=request.session, application=application)
        messages.success(
            request, f"New secret for “{application.name}”. Tokens signed with the old one are refused from now on."
        )
        return redirect("applications:secret", pk=application.pk)
    return render(request, "applications/rotate.html", {"application": application})


@never_cache  # the secret must not stay in the browser's cache or history
@permission_required("applications.change_application")
def application_secret(request, pk):
    application = get_object_or_404(Application, pk=pk)
    shown = secret.take_offered_secret(session=request.session, application=application)
    return render(
        request,
        "applications/secret.html",
        {
            "application": application,
            "secret": shown,
            "audience": audience_for(request),
            "detail_url": reverse("applications:detail", args=[pk]),
        },
    )


@permission_required("applications.delete_application")
@audited
@require_http_methods(["GET", "POST"])
def application_delete(request, pk):
    application = get_object_or_404(Application, pk=pk)
    if request.method == "POST":
        name = application.name
        application.delete()
        messages.success(request, f"Application “{name}” deleted. Its tokens are refused from now on.")
        return redirect("applications:list")
    return render(request, "applications/delete.html", {"application": application})
