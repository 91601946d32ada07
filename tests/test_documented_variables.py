"""Every environment variable Connect reads is documented in README.md's configuration tables and in .env.example."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
READERS = ("connect_project/settings.py", "connect_project/environment.py", "gunicorn.conf.py")
READ = re.compile(r"""env\.(?:str|bool|int|float|list|path|db)\(\s*["']([A-Z][A-Z0-9_]+)["']""")


def variables_read() -> set[str]:
    names = set()
    for reader in READERS:
        names |= set(READ.findall((ROOT / reader).read_text()))
    return names


def test_the_readers_are_found():
    assert {"DEBUG", "REDIS_SENTINELS", "CONNECT_CALL_DEADLINE_SECONDS", "CONNECT_WORKERS"} <= variables_read()


@pytest.mark.parametrize("document", ["README.md", ".env.example"])
def test_every_variable_is_documented(document):
    text = (ROOT / document).read_text()
    missing = sorted(name for name in variables_read() if not re.search(rf"\b{name}\b", text))
    assert missing == [], f"{document} does not mention {missing}"
