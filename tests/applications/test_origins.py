"""Allowed web origins: normalised as a browser sends them, anything else refused with a message."""

import pytest
from django.core.exceptions import ValidationError

from applications.origins import normalise_origin, normalise_origins


@pytest.mark.parametrize(
    "typed, origin",
    [
        ("https://forms.example.com", "https://forms.example.com"),
        ("  HTTPS://Forms.Example.COM/ ", "https://forms.example.com"),
        ("https://forms.example.com:443", "https://forms.example.com"),
        ("https://forms.example.com:8443", "https://forms.example.com:8443"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://[2001:DB8::1]:8443", "https://[2001:db8::1]:8443"),
        ("https://192.0.2.10", "https://192.0.2.10"),
    ],
)
def test_origins_are_normalised(typed, origin):
    assert normalise_origin(typed, allow_local_http=False) == origin


@pytest.mark.parametrize(
    "typed, fragment",
    [
        ("forms.example.com", "https://host"),
        ("ftp://forms.example.com", "https://host"),
        ("http://forms.example.com", "Only https://"),
        ("https://forms.example.com/path", "remove the path"),
        ("https://forms.example.com/?q=1", "remove the path"),
        ("https://forms.example.com#top", "remove the path"),
        ("https://user:pw@forms.example.com", "no user name"),
        ("https://*.example.com", "Wildcards"),
        ("https://forms.example.com:99999", "port"),
        ("https://forms.example.com:0", "port"),
        ("https://", "needs a host"),
        ("https://forms example.com", "no spaces"),
        ("https://bad_host!.example.com", "not valid"),
    ],
)
def test_bad_origins_are_refused_with_a_message(typed, fragment):
    with pytest.raises(ValidationError) as caught:
        normalise_origin(typed, allow_local_http=True)
    assert fragment in caught.value.messages[0]


@pytest.mark.parametrize(
    "typed, origin",
    [
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://127.0.0.1", "http://127.0.0.1"),
        ("http://LOCALHOST:80", "http://localhost"),
    ],
)
def test_local_http_only_while_debug_is_on(typed, origin):
    assert normalise_origin(typed, allow_local_http=True) == origin
    with pytest.raises(ValidationError) as caught:
        normalise_origin(typed, allow_local_http=False)
    assert "DEBUG" in caught.value.messages[0]


def test_a_list_names_every_bad_line_and_drops_duplicates():
    assert normalise_origins(["https://a.example.com", "", "HTTPS://A.example.com:443"], allow_local_http=False) == [
        "https://a.example.com"
    ]
    with pytest.raises(ValidationError) as caught:
        normalise_origins(
            ["https://ok.example.com", "http://x.example.com", "https://y.example.com/p"], allow_local_http=False
        )
    assert len(caught.value.messages) == 2
    assert "“http://x.example.com”" in caught.value.messages[0]
