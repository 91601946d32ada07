"""The README's example configuration file is a valid one."""

import re
from pathlib import Path

import pytest

from configuration.applier import apply_configuration
from items.models import Item

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.django_db
def test_the_readme_example_applies():
    section = README.read_text().split("## Configuration as code", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)

    result = apply_configuration(example, environ={"CONNECT_JIRA_PASSWORD": "s3cr3t-README-1234"})

    assert result.errors == []
    assert result.counts() == "4 created, 0 changed, 0 deleted, 0 unchanged"
    assert Item.objects.get(name="City").bindings.get().source.name == "Country"
