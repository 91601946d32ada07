"""Settings kept per process for the per-call paths (connect_project/hot_settings.py): a change is seen at once."""

import pytest

from connect_project.hot_settings import hot_setting
from datasources.services import client, errors, transport
from tests.conftest import make_datasource
from tests.support import https_server as srv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca")]


def test_a_changed_setting_is_read_again_at_once(settings):
    settings.CONNECT_CALL_DEADLINE_SECONDS = 7
    assert hot_setting("CONNECT_CALL_DEADLINE_SECONDS") == 7 and transport.deadline_seconds() == 7.0
    settings.CONNECT_CALL_DEADLINE_SECONDS = 3
    assert hot_setting("CONNECT_CALL_DEADLINE_SECONDS") == 3 and transport.deadline_seconds() == 3.0


def test_a_lowered_size_cap_applies_to_the_next_call(start_server, settings):
    server = start_server({"/api/ok": srv.answer(body=b'{"data": "' + b"x" * 2000 + b'"}')})
    datasource = make_datasource(base_url=server.url("/api"))
    assert client.call_datasource(datasource=datasource, path_and_query="/ok").status_code == 200
    settings.CONNECT_MAX_RESPONSE_BYTES = 1000
    with pytest.raises(errors.ResponseTooLarge, match="1,000 bytes"):
        client.call_datasource(datasource=datasource, path_and_query="/ok")
