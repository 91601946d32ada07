"""Write a local .env with a fresh SECRET_KEY and FERNET key (only when the file is missing)."""

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

path = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
if path.exists():
    sys.exit(0)
path.write_text(
    "# Written by `make run`: local development settings. See .env.example for every variable.\n"
    "DEBUG=true\n"
    f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
    f"FERNET_KEYS={Fernet.generate_key().decode()}\n"
)
path.chmod(0o600)
print(f"wrote {path} with a new SECRET_KEY and FERNET_KEYS")
