"""Each error class owns its public message (what a form filler is told) and its page label: one home each."""

from datasources.services import errors
from tests.conftest import SECRET_API_KEY


def all_error_classes(cls=errors.DatasourceError):
    yield cls
    for sub in cls.__subclasses__():
        yield from all_error_classes(sub)


def build(cls):
    detail = f"https://api.example.com/x?key={SECRET_API_KEY} answered <html>"
    if issubclass(cls, errors.ProtectionRefusal):
        return cls(detail, retry_after=12)
    return cls(detail, status_code=418 if cls is errors.HTTPStatusError else None)


def test_every_public_message_is_complete_and_names_neither_url_nor_answer():
    for cls in all_error_classes():
        text = build(cls).public_text()
        assert text.endswith(".") and "{" not in text, cls
        assert "http" not in text.lower().replace("http 418", "") and SECRET_API_KEY not in text, cls


def test_every_error_has_a_label_found_by_its_code():
    for cls in all_error_classes():
        assert cls.label and errors.label_for(cls.code) == cls.label


def test_an_unknown_code_has_the_generic_label():
    assert errors.label_for("no_such_code") == errors.DatasourceError.label


def test_a_later_page_is_named_in_the_public_message():
    error = build(errors.UpstreamTimeout)
    error.page = 3
    assert error.public_text() == "The API did not answer in time (page 3)."


def test_a_status_error_says_the_status():
    assert build(errors.HTTPStatusError).public_text() == "The API answered HTTP 418."
