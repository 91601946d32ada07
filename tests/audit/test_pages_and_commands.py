"""The Audit page (filters, pagination), History on each object's page, the read-only admin, export_audit and
prune_audit."""

import datetime
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEntry
from items.models import Item
from tests.applications.conftest import make_application
from tests.conftest import make_datasource

pytestmark = pytest.mark.django_db


def entry(*, days_ago=0, actor="alice", action="update", object_type="datasource", name="Jira", object_id="1"):
    return AuditEntry.objects.create(
        at=timezone.now() - datetime.timedelta(days=days_ago),
        actor=actor,
        via="page",
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_name=name,
        changes=[{"field": "base_url", "old": "https://a.example.com", "new": "https://b.example.com"}],
    )


@pytest.fixture
def log(db):
    AuditEntry.objects.all().delete()
    return [
        entry(days_ago=3, actor="alice", name="Jira"),
        entry(days_ago=2, actor="bob", action="create", object_type="item", name="Issues", object_id="7"),
        entry(days_ago=1, actor="apply_config", action="delete", object_type="application", name="Portal"),
    ]


def _rows(response) -> list[str]:
    return [e.object_name for e in response.context["page"].object_list]


def test_the_audit_page_lists_every_entry_newest_first(staff_client, log):
    response = staff_client.get("/audit/")

    assert _rows(response) == ["Portal", "Issues", "Jira"]
    assert 'https://a.example.com</span> → <span class="new">https://b.example.com' in response.content.decode()


@pytest.mark.parametrize(
    "query, expected",
    [
        ("actor=BOB", ["Issues"]),
        ("object_type=application", ["Portal"]),
        ("object=jir", ["Jira"]),
        ("object_type=item&object=7", ["Issues"]),
        ("action=delete", ["Portal"]),
        ("since={two_days_ago}", ["Portal", "Issues"]),
        ("until={two_days_ago}", ["Issues", "Jira"]),
    ],
)
def test_the_audit_page_filters(staff_client, log, query, expected):
    two_days_ago = (timezone.localdate() - datetime.timedelta(days=2)).isoformat()

    response = staff_client.get("/audit/?" + query.format(two_days_ago=two_days_ago))

    assert _rows(response) == expected


def test_a_reversed_date_range_is_an_error_next_to_the_field(staff_client, log):
    from tests.datasources.conftest import errors_next_to

    response = staff_client.get("/audit/?since=2026-02-01&until=2026-01-01")

    assert errors_next_to(response, "until") == ["The end date is before the start date."]
    assert _rows(response) == []


def test_the_audit_page_is_paginated_and_keeps_its_filters(staff_client, log):
    for n in range(60):
        entry(actor="carol", name=f"DS {n}")

    first = staff_client.get("/audit/?actor=carol")
    second = staff_client.get("/audit/?actor=carol&page=2")

    assert len(_rows(first)) == 50 and len(_rows(second)) == 10
    assert "?actor=carol&amp;page=2" in first.content.decode()
    assert "Page 1 of 2" in first.content.decode()


def test_history_is_shown_on_the_datasource_item_and_application_pages(staff_client):
    datasource = make_datasource(name="Weather", base_url="https://api.example.com")
    item = Item.objects.create(name="Cities", datasource=datasource, query="/cities")
    application = make_application(name="Portal", items=[item])

    for url in (f"/datasources/{datasource.pk}/", f"/items/{item.pk}/preview/", f"/applications/{application.pk}/"):
        page = staff_client.get(url).content.decode()
        assert 'id="history"' in page and "Created" in page, url


def test_the_admin_shows_the_audit_log_read_only_even_to_superusers(superuser_client, log):
    url = f"/admin/audit/auditentry/{log[0].pk}/"

    assert superuser_client.get("/admin/audit/auditentry/").status_code == 200
    assert superuser_client.get("/admin/audit/auditentry/add/").status_code == 403
    assert superuser_client.post(url + "change/", {"actor": "mallory"}).status_code == 403
    assert superuser_client.post(url + "delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(pk=log[0].pk).actor == "alice"


def test_export_audit_writes_json_lines_since_a_date(log, tmp_path):
    since = (timezone.localdate() - datetime.timedelta(days=2)).isoformat()
    output = tmp_path / "audit.jsonl"

    call_command("export_audit", "--since", since, "--output", str(output))

    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["object_name"] for line in lines] == ["Issues", "Portal"]
    assert set(lines[0]) == {
        "at",
        "actor",
        "address",
        "via",
        "action",
        "object_type",
        "object_id",
        "object_name",
        "changes",
    }


def test_export_audit_refuses_a_date_it_cannot_read(log):
    with pytest.raises(CommandError, match="is not a date"):
        call_command("export_audit", "--since", "last tuesday")


def test_prune_audit_deletes_entries_older_than_the_retention(log, settings, capsys):
    settings.CONNECT_AUDIT_RETENTION_DAYS = 2
    entry(days_ago=400, name="Ancient")

    call_command("prune_audit")

    assert sorted(AuditEntry.objects.values_list("object_name", flat=True)) == ["Portal"]
    assert "Deleted 3 audit entries older than 2 days" in capsys.readouterr().out


def test_prune_audit_keeps_a_year_by_default(log, capsys):
    entry(days_ago=366, name="Ancient")

    call_command("prune_audit")

    assert "Ancient" not in AuditEntry.objects.values_list("object_name", flat=True)
    assert AuditEntry.objects.count() == 3


@pytest.mark.parametrize("kind", ["datasource", "item", "application"])
@pytest.mark.parametrize("role, sees_address", [("Viewer", False), ("Editor", False), ("Administrator", True)])
def test_history_shows_client_addresses_only_to_those_who_may_see_the_audit_log(
    client, django_user_model, kind, role, sees_address
):
    from tests.conftest import with_role

    datasource = make_datasource(name="Jira")
    objects = {
        "datasource": (datasource, "/datasources/{pk}/"),
        "item": (Item.objects.create(name="Issues", datasource=datasource, query="/q"), "/items/{pk}/preview/"),
        "application": (make_application(name="Portal"), "/applications/{pk}/"),
    }
    obj, path = objects[kind]
    AuditEntry.objects.create(
        actor="alice", address="203.0.113.77", via="page", action="update", object_type=kind, object_id=str(obj.pk)
    )
    user = with_role(django_user_model.objects.create_user("reader", is_staff=True), role)
    client.force_login(user)

    page = client.get(path.format(pk=obj.pk)).content.decode()

    history = page.split('id="history"', 1)[1]
    assert "by alice" in history  # the entry is shown to all who see the page
    assert ("203.0.113.77" in page) is sees_address
