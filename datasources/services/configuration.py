"""Saving a datasource's configuration: the server details, the headers, the authentication and the network (proxy,
client certificate), all or nothing."""

from django.db import transaction

from ..models import Datasource, Header


@transaction.atomic
def create_datasource(*, type_key: str, name: str, server_form, header_formset, auth_form, network_form) -> Datasource:
    datasource = server_form.save(commit=False)
    datasource.type = type_key
    datasource.name = name
    datasource.save()
    _save_the_rest(datasource=datasource, header_formset=header_formset, auth_form=auth_form, network_form=network_form)
    return datasource


@transaction.atomic
def update_datasource(*, server_form, header_formset, auth_form, network_form) -> Datasource:
    datasource = server_form.save()
    _save_the_rest(datasource=datasource, header_formset=header_formset, auth_form=auth_form, network_form=network_form)
    return datasource


def _save_the_rest(*, datasource: Datasource, header_formset, auth_form, network_form) -> None:
    header_formset.instance = datasource
    save_headers(header_formset=header_formset)
    for form in (auth_form, network_form):
        if form is network_form and form.instance.pk is None and not form.has_changed():
            continue  # no proxy or certificate yet: no row (nothing to record in the audit log either)
        row = form.save(commit=False)
        row.datasource = datasource
        row.save()


def save_headers(*, header_formset) -> None:
    """Save a valid header formset (edit page or admin) so that one submit may remove, re-add, rename or swap rows."""
    # Deletions first, so that renaming a header by removing one row and adding another cannot clash.
    for form in header_formset.deleted_forms:
        if form.instance.pk:
            form.instance.delete()
    _park_renamed_headers(header_formset)
    header_formset.save()


def _park_renamed_headers(header_formset) -> None:
    """Give renamed rows a temporary name first, so that swapping or chaining names never hits the unique
    constraint half-way. The temporary name is not a valid header name, so it cannot clash with a real one."""
    deleted = set(header_formset.deleted_forms)
    for form in header_formset.initial_forms:
        if form not in deleted and form.instance.pk and "name" in form.changed_data:
            Header.objects.filter(pk=form.instance.pk).update(name=f"(renaming {form.instance.pk})")
