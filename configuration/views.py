"""The Configuration page (Administrators): download the export; upload a file, see what it would change, apply it.
Glue only: exporter.py and applier.py do the work, as the management commands do."""

import os

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from audit.recorder import actor_of_request
from core.access import permission_required

from .applier import apply_configuration
from .exporter import dump, export_configuration
from .forms import UploadForm
from .models import ConfigurationUpload


@permission_required("configuration.export_configuration")
def configuration_page(request):
    return render(request, "configuration/page.html", {"form": UploadForm()})


@permission_required("configuration.export_configuration")
def configuration_export(request):
    response = HttpResponse(dump(export_configuration()), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="connect-{timezone.now():%Y%m%d-%H%M}.yaml"'
    return response


@permission_required("configuration.import_configuration")
@require_http_methods(["POST"])
def configuration_upload(request):
    """Keep the file and show what applying it would change (a dry run)."""
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "configuration/page.html", {"form": form}, status=400)
    filename, content = form.cleaned_data["file"]
    ConfigurationUpload.objects.filter(uploaded_by=request.user).delete()
    upload = ConfigurationUpload.objects.create(uploaded_by=request.user, filename=filename[:255], content=content)
    result = _apply(request, upload, dry_run=True, prune=form.cleaned_data["prune"])
    return render(
        request,
        "configuration/page.html",
        {"form": UploadForm(), "upload": upload, "result": result, "prune": form.cleaned_data["prune"]},
    )


@permission_required("configuration.import_configuration")
@require_POST
def configuration_apply(request, pk):
    upload = get_object_or_404(ConfigurationUpload, pk=pk, uploaded_by=request.user)
    prune = request.POST.get("prune") == "1"
    result = _apply(request, upload, dry_run=False, prune=prune)
    if result.errors:
        return render(
            request,
            "configuration/page.html",
            {"form": UploadForm(), "upload": upload, "result": result, "prune": prune},
            status=400,
        )
    upload.delete()
    return render(request, "configuration/page.html", {"form": UploadForm(), "applied": result})


def _apply(request, upload, *, dry_run: bool, prune: bool):
    actor = actor_of_request(request, via="apply_config")
    return apply_configuration(
        upload.content, dry_run=dry_run, prune=prune, actor=actor, environ=os.environ, source=upload.filename
    )
