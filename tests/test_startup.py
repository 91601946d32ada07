"""`make run` must start every time: what the development server's threads import at start-up.

The autoreloader scans template directories in one thread (building the template engines, which imports every
installed template tag library) while the system checks import the URL map in another. A module with import cycles
(requests) imported by both at once can be seen half-initialised by one of them, and the server never listens.
So nothing the template engines import may pull in the HTTP stack.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys
import django
django.setup()
from django.template import autoreload
list(autoreload.get_template_directories())  # what the reloader thread does first
from django.template import engines
for engine in engines.all():
    engine.engine.template_libraries  # every template tag library, imported
loaded = sorted(name for name in ("requests", "urllib3", "requests_oauthlib", "datasources.services.client")
                if name in sys.modules)
print(",".join(loaded) or "none")
"""


def test_template_engines_import_no_http_stack():
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"DJANGO_SETTINGS_MODULE": "connect_project.settings", "DEBUG": "true", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none"
