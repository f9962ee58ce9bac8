"""Lab paths the audit/readiness tests need, derived from conftest's constants."""

import subprocess

from conftest import INVENTORY, REPO


def spares_inventory():
    """The spare hosts' inventory, beside the lab inventory."""
    return INVENTORY.parent / "spares.yml"


def lab_command(*args):
    """lab/lab.sh with arguments (e.g. up --hosts spare1); fails the test when it fails."""
    proc = subprocess.run(["bash", str(REPO / "lab" / "lab.sh"), *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc
