"""Loads a role's host-side script (a Python file without .py under roles/<role>/files) as a module."""

import importlib.machinery
import importlib.util
from pathlib import Path

ROLES = Path(__file__).resolve().parents[3] / "roles"


def load_host_script(role, name):
    """roles/<role>/files/<name>, executed afresh as the module ``name`` with dashes as underscores."""
    module_name = name.replace("-", "_")
    loader = importlib.machinery.SourceFileLoader(module_name, str(ROLES / role / "files" / name))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(module_name, loader))
    loader.exec_module(module)
    return module
