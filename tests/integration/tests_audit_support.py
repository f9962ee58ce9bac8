"""Reading the audit file in integration tests."""

import json


def read_audit(path):
    """Every record of the audit file; each line must be one JSON object."""
    return [json.loads(line) for line in path.read_text().splitlines()]
