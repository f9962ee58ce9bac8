"""Each role's meta/argument_specs.yml is its contract and must match defaults/main.yml.

Ansible does not apply spec defaults, so a default that drifts from the spec goes
unnoticed until someone reads the docs and gets a different behaviour.
"""

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES_DIR = ROOT / "roles"
ROLES = sorted(p.name for p in ROLES_DIR.iterdir() if (p / "meta" / "argument_specs.yml").exists())
# The contract's variables describe the service, not a role (docs/service_contract.md).
PREFIXES = {"service_contract": "service_"}
# The contract's spec is not "main": its one task checks the types itself, where ansible-core
# would add a validation task per host (roles/service_contract/meta/argument_specs.yml).
ENTRY_POINTS = {"service_contract": "contract"}


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def test_every_role_has_a_contract():
    all_roles = sorted(p.name for p in ROLES_DIR.iterdir() if (p / "tasks").is_dir())
    assert all_roles, "no roles found"
    assert ROLES == all_roles


@pytest.mark.parametrize("role", ROLES)
def test_spec_options_match_defaults(role):
    specs = _load(ROLES_DIR / role / "meta" / "argument_specs.yml")["argument_specs"]
    spec = specs[ENTRY_POINTS.get(role, "main")]["options"]
    defaults = _load(ROLES_DIR / role / "defaults" / "main.yml")
    assert sorted(spec) == sorted(defaults)
    for name, option in spec.items():
        assert name.startswith(PREFIXES.get(role, role + "_")), "%s: public variables carry the role prefix" % name
        assert option.get("description"), "%s has no description" % name
        if option.get("required"):
            continue
        assert option.get("default") == defaults[name], "%s: spec default differs from defaults/main.yml" % name


def test_the_contract_check_reads_every_option_of_the_contract_spec():
    spec = _load(ROLES_DIR / "service_contract" / "meta" / "argument_specs.yml")["argument_specs"]
    assert "main" not in spec  # else ansible-core adds its own validation task on every host
    task = _load(ROLES_DIR / "service_contract" / "tasks" / "main.yml")[0]
    assert task["vars"]["_service_contract_names"] == list(spec["contract"]["options"])
    assert "types=true" in task["vars"]["_service_contract_problems"]


@pytest.mark.parametrize("role", ROLES)
def test_internal_vars_are_prefixed(role):
    path = ROLES_DIR / role / "vars" / "main.yml"
    internal = _load(path) if path.exists() else {}
    for name in internal:
        assert name.startswith("_" + role + "_"), name


def test_the_host_side_backup_script_gets_every_module_utils_it_imports():
    """The schedule copies _backup_module_utils to the host: a missing import would only fail there."""
    listed = yaml.safe_load((ROOT / "roles" / "backup" / "vars" / "main.yml").read_text())["_backup_module_utils"]
    module_utils = ROOT / "plugins" / "module_utils"
    needed, todo = set(), list(listed)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for node in ast.walk(ast.parse((module_utils / name).read_text())):
            module = getattr(node, "module", None) or ""
            if not isinstance(node, ast.ImportFrom) or "plugins.module_utils" not in module:
                continue
            if module.endswith("plugins.module_utils"):
                todo.extend(alias.name + ".py" for alias in node.names)
            else:
                todo.append(module.rsplit(".", 1)[1] + ".py")
    assert sorted(needed - set(listed)) == []
