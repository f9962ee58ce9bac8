"""Each role's meta/argument_specs.yml is its contract and must match defaults/main.yml.

Ansible does not apply spec defaults, so a default that drifts from the spec goes
unnoticed until someone reads the docs and gets a different behaviour.
"""

from pathlib import Path

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
ROLES = sorted(p.name for p in ROLES_DIR.iterdir() if (p / "meta" / "argument_specs.yml").exists())


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def test_every_role_has_a_contract():
    all_roles = sorted(p.name for p in ROLES_DIR.iterdir() if (p / "tasks").is_dir())
    assert all_roles, "no roles found"
    assert ROLES == all_roles


@pytest.mark.parametrize("role", ROLES)
def test_spec_options_match_defaults(role):
    spec = _load(ROLES_DIR / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults = _load(ROLES_DIR / role / "defaults" / "main.yml")
    assert sorted(spec) == sorted(defaults)
    for name, option in spec.items():
        assert name.startswith(role + "_"), "%s: public variables carry the role prefix" % name
        assert option.get("description"), "%s has no description" % name
        if option.get("required"):
            continue
        assert option.get("default") == defaults[name], "%s: spec default differs from defaults/main.yml" % name


@pytest.mark.parametrize("role", ROLES)
def test_internal_vars_are_prefixed(role):
    internal = _load(ROLES_DIR / role / "vars" / "main.yml")
    for name in internal:
        assert name.startswith("_" + role + "_"), name
