# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The change_policy module: allowed runs exit, refusals fail with the ruling."""

from __future__ import annotations

import pytest
import yaml
from ansible_collections.fleetops.lifecycle.plugins.modules import change_policy
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    assert_options_match_spec,
    run_module,
)

pytestmark = pytest.mark.usefixtures("ansible_module_exits")


def test_documentation_matches_the_spec():
    assert_options_match_spec(yaml.safe_load(change_policy.DOCUMENTATION)["options"], change_policy.ARGUMENT_SPEC)


def test_allowed_run_returns_the_ruling():
    result = run_module(change_policy.main, {"change_id": "CHG-9", "production": True, "now": "2026-12-06T03:00:00Z"})
    assert result["allowed"] and not result["changed"]
    assert result["fleetops_decision"]["kind"] == "change_policy" and result["fleetops_decision"]["in_window"]


def test_refusal_fails_and_still_carries_the_ruling():
    with pytest.raises(AnsibleFailJson) as exc:
        run_module(change_policy.main, {"production": True, "now": "2026-12-06T03:00:00Z"})
    assert exc.value.result["msg"].startswith("a normal change to a production inventory needs a change id")
    assert exc.value.result["fleetops_decision"]["allowed"] is False


@pytest.mark.parametrize("args, message", [
    ({"change_type": "urgent"}, "change_type='urgent': must be one of standard, normal, emergency"),
    ({"window": "sundays"}, "change_policy_window='sundays': must look like"),
    ({"now": "soon"}, "now='soon': not an ISO 8601 time"),
])
def test_bad_input_names_the_option(args, message):
    with pytest.raises(AnsibleFailJson) as exc:
        run_module(change_policy.main, args)
    assert exc.value.result["msg"].startswith(message)
