# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""maintenance_cleanup: the dry run removes nothing, the real run removes what it listed."""

from __future__ import annotations

import os
import time

import pytest
import yaml
from ansible_collections.fleetops.lifecycle.plugins.modules import maintenance_cleanup
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    assert_options_match_spec,
    run_module,
)

pytestmark = pytest.mark.usefixtures("ansible_module_exits")
DAY = 86400


def test_documentation_matches_the_spec():
    assert_options_match_spec(yaml.safe_load(maintenance_cleanup.DOCUMENTATION)["options"],
                              maintenance_cleanup.ARGUMENT_SPEC)


def make_logs(directory, ages_in_days):
    now = time.time()
    for index, age in enumerate(ages_in_days):
        path = directory / ("app.log.%d.gz" % index)
        path.write_text("x")
        os.utime(path, (now - age * DAY, now - age * DAY))
    return now


def dry_deleted(result):
    return [a["path"] for a in result["actions"] if a["action"] == "delete"]


def test_dry_run_lists_and_real_run_removes_the_same(tmp_path):
    now = make_logs(tmp_path, [1, 20, 30, 40])
    args = {"sets": [{"name": "logs", "path": str(tmp_path), "pattern": "*.gz", "max_age": 14 * DAY, "keep_min": 2}],
            "now": now}
    dry = run_module(maintenance_cleanup.main, args, check_mode=True)
    planned = sorted(a["path"] for a in dry["actions"] if a["action"] == "delete")
    assert dry["changed"] and dry["removed"] == [] and len(os.listdir(tmp_path)) == 4
    assert dry["fleetops_decision"] == {"kind": "cleanup", "check_mode": True, "deleted": dry_deleted(dry)}
    real = run_module(maintenance_cleanup.main, args)
    assert sorted(real["removed"]) == planned == [str(tmp_path / "app.log.2.gz"), str(tmp_path / "app.log.3.gz")]
    assert sorted(os.listdir(tmp_path)) == ["app.log.0.gz", "app.log.1.gz"]
    again = run_module(maintenance_cleanup.main, args)
    assert not again["changed"] and again["removed"] == []


def test_bad_set_fails_by_name(tmp_path):
    with pytest.raises(AnsibleFailJson) as exc:
        run_module(maintenance_cleanup.main, {"sets": [{"name": "logs", "path": str(tmp_path), "max_age": -1}]})
    assert exc.value.result["msg"] == "sets[0] (logs) max_age=-1: must be a positive number of seconds"
