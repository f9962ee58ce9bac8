"""The Makefile's `venv` target refuses an interpreter it cannot use before it touches
the virtualenv (make PYTHON=...)."""

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def other_venv():
    """A virtualenv directory (relative to the repository, as VENV is) that another
    interpreter made."""
    relative = Path(".build") / ("test-venv-%s" % uuid.uuid4().hex[:8])
    path = REPO / relative
    path.mkdir(parents=True)
    (path / "pyvenv.cfg").write_text("home = /opt/other/bin\nexecutable = /opt/other/bin/python3.11\n")
    yield relative
    shutil.rmtree(path, ignore_errors=True)


def test_a_python_that_cannot_make_a_venv_is_refused_and_the_venv_kept(other_venv):
    proc = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "venv",
                           "PYTHON=/nonexistent/python3", "VENV=%s" % other_venv],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "PYTHON=/nonexistent/python3: not a Python with venv; %s left as it is" % other_venv in proc.stderr
    assert (REPO / other_venv / "pyvenv.cfg").read_text().startswith("home = /opt/other/bin")
