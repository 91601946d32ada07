"""Install Debian's Chromium for the browser tests when it is missing (skipped with a reason when impossible)."""

import os
import shutil
import subprocess
import sys

CHROMIUM = "/usr/bin/chromium"

if os.path.exists(CHROMIUM):
    sys.exit(0)
if os.environ.get("CONNECT_SKIP_BROWSER_INSTALL"):
    print("browser tests: CONNECT_SKIP_BROWSER_INSTALL is set; they will be skipped")
    sys.exit(0)
if os.geteuid() != 0 or not shutil.which("apt-get"):
    print(
        "browser tests: /usr/bin/chromium is missing and this machine cannot apt-get install it; they will be skipped"
    )
    sys.exit(0)
print("browser tests: installing Debian's chromium (apt-get install -y chromium)...")
env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
ok = (
    subprocess.run(["apt-get", "update", "-qq"], env=env).returncode == 0
    and subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, stdout=subprocess.DEVNULL).returncode
    == 0
)
if not ok or not os.path.exists(CHROMIUM):
    print("browser tests: installing chromium failed; they will be skipped")
sys.exit(0)
