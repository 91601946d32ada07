"""Item pages for staff: list, create, edit, delete, the preview and Try it. Glue only: forms, bindings and the
resolution service do the work."""

import json
import logging

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from audit.models import Action
from audit.recorder import audited, record_event
from core.access import permission_required
from core.callers import Caller, audience_for
from core.unique_names import saved_unless_name_taken
from datasources.services import errors
from datasources.services.redaction import redaction_for_datasource
from datasources.services.response import loads_within_depth

from . import bindings
from .forms import ItemForm, PreviewForm
from .models import Item
from .services import ItemError, narrowing, resolve_item
from .services.cache import drop_item_answers
from .try_it import embed_snippet, judge_submitted, try_it_fields

logger = logging.getLogger("connect.items")

RAW_BODY_DISPLAY_CHARS = 20_000


@permission_required("items.view_item")
def item_list(request):
    items = Item.objects.select_related("datasource").all()
    return render(request, "items/list.html", {"items": items})


@permission_required("items.add_item")
@audited
@require_http_methods(["GET", "POST"])
def item_create(request):
    if request.method == "POST":
        form = ItemForm(request.POST)
        item = saved_unless_name_taken(form, form.save) if form.is_valid() else None
        if item is not None:
            messages.success(request, f"Item “{item.name}” created. Fill the variables below to preview it.")
            return redirect("items:preview", pk=item.pk)
    else:
        form = ItemForm(initial={"datasource": request.GET.get("datasource")})
    return render(request, "items/form.html", {"form": form, "item": None})


@permission_required("items.change_item")
@audited
@require_http_methods(["GET", "POST"])
def item_edit(request, pk):
    item = get_object_or_404(Item, pk=pk)
    if request.method == "POST":
        form = ItemForm(request.POST, instance=item)
        if form.is_valid() and saved_unless_name_taken(form, form.save) is not None:
            messages.success(request, f"Item “{item.name}” saved. Its cached answers are no longer used.")
            return redirect("items:preview", pk=item.pk)
        item.refresh_from_db()  # the title shows the stored name, not the invalid one
    else:
        form = ItemForm(instance=item)
    return render(request, "items/form.html", {"form": form, "item": item})


@permission_required("items.delete_item")
@audited
@require_http_methods(["GET", "POST"])
def item_delete(request, pk):
    """An item other items are bound to is not deleted: their fields would lose the value they wait for."""
    item = get_object_or_404(Item, pk=pk)
    bound_by = bindings.items_bound_to(item=item)
    if request.method == "POST":
        if bound_by:
            messages.error(
                request, f"Item “{item.name}” was not deleted: other items are bound to it. Unbind them first."
            )
            return render(request, "items/delete.html", {"item": item, "bound_by": bound_by}, status=409)
        name = item.name
        item.delete()
        messages.success(request, f"Item “{name}” deleted.")
        return redirect("items:list")
    return render(request, "items/delete.html", {"item": item, "bound_by": bound_by})


@permission_required("items.view_item")
@require_http_methods(["GET", "POST"])
def item_preview(request, pk):
    item = get_object_or_404(Item.objects.select_related("datasource", "datasource__auth"), pk=pk)
    context = {
        "item": item,
        "resolution": None,
        "error": None,
        "sources": bindings.bound_sources(item=item),
        "bound_by": bindings.items_bound_to(item=item),
        "calls_saved": narrowing.calls_saved_last_hour(item_id=item.pk) if narrowing.applies(item) else None,
    }
    if request.method == "POST":
        form = PreviewForm(request.POST, item=item)
        if form.is_valid():
            context.update(_preview(item, form))
        # Shown again as typed, but a datasource's own secret typed into a variable is shown as ***.
        form.data = form.data.copy()
        masked = redaction_for_datasource(item.datasource)
        for name in form.fields:
            if isinstance(form.data.get(name), str):
                form.data[name] = masked.values(form.data[name])
    else:
        form = PreviewForm(item=item, initial=PreviewForm.initial_for(request.user))
    context["form"] = form
    if context["resolution"] is not None:
        context["raw"] = _displayed_body(context["resolution"].raw_body)
    return render(request, "items/preview.html", context)


@permission_required("items.change_item")
@require_POST
def item_refresh(request, pk):
    """Refresh now: the item's cached answers are dropped; the page says what happened."""
    item = get_object_or_404(Item, pk=pk)
    deleted = drop_item_answers(item)
    record_event(action=Action.CACHE_REFRESH, instance=item)
    if deleted is None:
        detail = "The cache did not answer, so no key was deleted: the old answers can no longer be read and expire "
        detail += "by themselves."
    else:
        detail = f"{deleted} cache key{'s' if deleted != 1 else ''} deleted."
    messages.success(request, f"Cached answers of “{item.name}” dropped: the next request calls the API. {detail}")
    return redirect(reverse("items:preview", args=[item.pk]) + "#cache")


@permission_required("items.view_item")
@require_http_methods(["GET", "POST"])
def item_try(request, pk):
    """The item's field as a person sees it, after the fields of the items it is bound to (parents first). Its form
    is sent by POST: what a person typed never lands in a URL (access logs, history, Referer)."""
    item = get_object_or_404(Item.objects.select_related("datasource"), pk=pk)
    sent = request.POST if request.method == "POST" else {}
    fields = try_it_fields(item=item, submitted=sent)
    judge_submitted(fields=fields, submitted=sent, caller=Caller.of_user(request.user))
    public_url = audience_for(request)
    return render(
        request,
        "items/try.html",
        {
            "item": item,
            "fields": fields,
            "submitted": _submitted(fields, sent),
            "snippet": embed_snippet(
                fields=fields,
                script_url=public_url + static("connect-field.js"),
                style_url=public_url + static("connect-field.css"),
                public_url=public_url,
            ),
        },
    )


def _submitted(fields, data) -> list[tuple[str, str]]:
    """What the Try it form sent, field by field: the chosen key, then the label and the proof the widget sent
    beside it."""
    names = [name for f in fields for name in (f.name, *((f.label_name, f.proof_name) if f.item else ())) if name]
    return [(name, data[name]) for name in names if name in data]


def _preview(item, form) -> dict:
    try:
        resolution = resolve_item(
            item=item,
            user_input=form.cleaned_data["user_input"],
            current_user=form.current_user_value(),
            values=form.dependency_values(),
            use_cache=not form.cleaned_data["bypass_cache"],
        )
    except (ItemError, errors.DatasourceError) as exc:
        return {"error": exc, "resolution": getattr(exc, "resolution", None)}
    except Exception:
        # Never a traceback on the page; the log has it for the operator.
        logger.exception("Preview of item %s failed unexpectedly", item.pk)
        return {"error": ItemError("Something unexpected went wrong; the server log has the details.")}
    return {"resolution": resolution}


def _displayed_body(body: bytes) -> dict:
    """The raw answer, pretty-printed when it is JSON, cut to a readable length."""
    text = body.decode("utf-8", "replace")
    try:
        text = json.dumps(loads_within_depth(text), indent=2, ensure_ascii=False)
    except ValueError:
        pass
    return {
        "text": text[:RAW_BODY_DISPLAY_CHARS],
        "length": len(text),
        "truncated": len(text) > RAW_BODY_DISPLAY_CHARS,
        "shown": RAW_BODY_DISPLAY_CHARS,
    }
