"""Saving a datasource's configuration: the server details, the headers and the authentication, all or nothing."""
from django.db import transaction

from ..models import Datasource


@transaction.atomic
def create_datasource(*, type_key: str, name: str, server_form, header_formset, auth_form) -> Datasource:
    datasource = server_form.save(commit=False)
    datasource.type = type_key
    datasource.name = name
    datasource.save()
    _save_headers_and_auth(datasource=datasource, header_formset=header_formset, auth_form=auth_form)
    return datasource


@transaction.atomic
def update_datasource(*, server_form, header_formset, auth_form) -> Datasource:
    datasource = server_form.save()
    _save_headers_and_auth(datasource=datasource, header_formset=header_formset, auth_form=auth_form)
    return datasource


def _save_headers_and_auth(*, datasource: Datasource, header_formset, auth_form) -> None:
    header_formset.instance = datasource
    # Deletions first, so that renaming a header by removing one row and adding another cannot clash.
    for form in header_formset.deleted_forms:
        if form.instance.pk:
            form.instance.delete()
    header_formset.save()
    auth = auth_form.save(commit=False)
    auth.datasource = datasource
    auth.save()
