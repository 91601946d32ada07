"""What the test APIs answer."""

import json

ISSUES = {
    "issues": [
        {"id": "1", "key": "OPS-1", "fields": {"summary": "Printer on fire"}},
        {"id": "2", "key": "OPS-2", "fields": {"summary": "Coffee machine empty"}},
    ]
}
ISSUES_BODY = json.dumps(ISSUES).encode()
