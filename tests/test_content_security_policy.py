"""Connect's pages send a Content-Security-Policy without 'unsafe-inline' (django-csp, core/csp.py), and its templates
hold nothing that policy would refuse; what the pages do under it is tested in Chromium
(tests/browser/test_content_security_policy.py)."""

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
# What a policy without 'unsafe-inline' refuses: a <style> element, a style attribute, an event handler attribute, a
# javascript: URL, and a <script> that is run but has no src (a JSON data block is not run).
INLINE = re.compile(r"<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE)
SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.IGNORECASE)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, signed_in",
    [
        ("/login/", False),
        ("/admin/login/", False),
        ("/datasources/", True),
        ("/items/", True),
        ("/applications/", True),
    ],
)
def test_pages_send_the_policy(client, staff_user, path, signed_in):
    if signed_in:
        client.force_login(staff_user)

    response = client.get(path)

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy


def test_connects_templates_have_no_inline_script_or_style():
    offending = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text()
        run_inline = [tag for tag in SCRIPT_TAG.findall(text) if "src=" not in tag and "application/json" not in tag]
        if INLINE.search(text) or run_inline:
            offending.append(str(template.relative_to(TEMPLATES)))
    assert offending == []
