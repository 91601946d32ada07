"""The Configuration page (Administrators): download the export, upload a file, see the diff, apply it."""

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEntry
from configuration.models import ConfigurationUpload
from datasources.models import Datasource
from tests.conftest import ALL_SECRETS, SECRET_PASSWORD, assert_no_secret, make_datasource
from tests.datasources.conftest import errors_next_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def jira(db):
    return make_datasource(
        name="Jira",
        base_url="https://jira.example.com/rest",
        mode="basic",
        username="elements",
        password=SECRET_PASSWORD,
    )


def upload(client, text: str, *, name="connect.yaml", prune=False):
    data = {"file": SimpleUploadedFile(name, text.encode(), content_type="application/yaml")}
    if prune:
        data["prune"] = "on"
    return client.post("/configuration/upload/", data, REMOTE_ADDR="192.0.2.10")


def changed_file(client) -> str:
    document = yaml.safe_load(client.get("/configuration/export.yaml").content)
    document["datasources"][0]["base_url"] = "https://jira.example.com/v2"
    del document["datasources"][0]["auth"]["password"]  # keep the stored secret
    return yaml.safe_dump(document)


def test_the_export_downloads_as_yaml_without_secrets(staff_client, jira):
    response = staff_client.get("/configuration/export.yaml")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="connect-')
    text = response.content.decode()
    assert "password: ${env:CONNECT_JIRA_PASSWORD}" in text
    assert_no_secret(text, ALL_SECRETS)


def test_an_upload_shows_the_changes_and_applies_nothing(staff_client, jira):
    response = upload(staff_client, changed_file(staff_client))

    page = response.content.decode()
    assert response.status_code == 200
    assert "update</strong> datasource “Jira”" in page
    assert 'https://jira.example.com/rest</span> → <span class="new">https://jira.example.com/v2' in page
    assert "Apply these changes" in page
    assert Datasource.objects.get(pk=jira.pk).base_url == "https://jira.example.com/rest"


def test_applying_the_upload_changes_the_configuration_and_audits_it(staff_client, jira):
    upload(staff_client, changed_file(staff_client), name="prod.yaml")
    AuditEntry.objects.all().delete()
    upload_id = ConfigurationUpload.objects.get().pk

    response = staff_client.post(f"/configuration/{upload_id}/apply/", REMOTE_ADDR="192.0.2.10")

    assert response.status_code == 200
    assert "0 created, 1 changed, 0 deleted" in response.content.decode()
    assert Datasource.objects.get(pk=jira.pk).base_url == "https://jira.example.com/v2"
    entry = AuditEntry.objects.get(object_type="datasource")
    assert (entry.actor, entry.address, entry.via) == ("admin", "192.0.2.10", "apply_config")
    assert AuditEntry.objects.filter(object_type="configuration", object_name="prod.yaml").exists()


def test_a_bad_file_lists_each_problem_with_its_place_and_offers_no_apply(staff_client, jira):
    response = upload(staff_client, "connect: 1\ndatasources:\n- name: Jira\n  base_url: http://x.example.com\n")

    page = response.content.decode()
    assert "The file cannot be applied" in page
    assert "datasources[0].base_url: " in page
    assert "Apply these changes" not in page


def test_a_file_over_5_mb_is_refused_next_to_the_field(staff_client, jira):
    response = upload(staff_client, "connect: 1\n# " + "x" * (5 * 1024 * 1024))

    assert response.status_code == 400
    assert errors_next_to(response, "file") == ["The file is 5.0 MB: a configuration file may be at most 5 MB."]


def test_a_secret_change_shows_as_changed_and_never_its_value(staff_client, jira, monkeypatch):
    monkeypatch.setenv("CONNECT_JIRA_PASSWORD", "s3cr3t-FROM-THE-ENV-3131")
    text = staff_client.get("/configuration/export.yaml").content.decode()

    page = upload(staff_client, text).content.decode()

    assert "<code>auth.password</code>: <em>changed</em>" in page
    assert_no_secret(page, (*ALL_SECRETS, "s3cr3t-FROM-THE-ENV-3131"))


def test_the_exported_file_uploads_and_applies_without_the_secret_variables(staff_client, jira, monkeypatch):
    monkeypatch.delenv("CONNECT_JIRA_PASSWORD", raising=False)
    exported = staff_client.get("/configuration/export.yaml").content.decode()

    response = upload(staff_client, exported)

    page = response.content.decode()
    assert response.status_code == 200 and "cannot be applied" not in page
    assert "<code>auth.password</code>: <em>kept</em>" in page
    assert_no_secret(page, ALL_SECRETS)
    applied = staff_client.post(f"/configuration/{ConfigurationUpload.objects.get().pk}/apply/")
    assert applied.status_code == 200
    jira.auth.refresh_from_db()
    assert jira.auth.password == SECRET_PASSWORD
