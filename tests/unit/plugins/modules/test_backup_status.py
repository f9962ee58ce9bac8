# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""backup_status writing the node-exporter textfile: always, or only where its directory exists."""

from __future__ import annotations

import pytest
import yaml
from ansible_collections.fleetops.lifecycle.plugins.modules import backup_status
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    assert_options_match_spec,
    run_module,
)

pytestmark = pytest.mark.usefixtures("ansible_module_exits")


def test_documentation_matches_the_argument_spec():
    assert_options_match_spec(yaml.safe_load(backup_status.DOCUMENTATION)["options"], backup_status.ARGUMENT_SPEC)


def test_the_textfile_is_written_where_its_directory_exists(tmp_path):
    collector = tmp_path / "node-exporter"
    collector.mkdir()
    for only_if_dir in (False, True):
        textfile = collector / ("backup-%s.prom" % only_if_dir)
        result = run_module(backup_status.main, {"service": "shop", "dest_dir": str(tmp_path),
                                                 "textfile": str(textfile), "textfile_only_if_dir": only_if_dir})
        assert result["textfile"] == str(textfile)
        assert 'service="shop"' in textfile.read_text()


def test_without_its_directory_the_textfile_is_skipped_only_when_asked(tmp_path):
    textfile = tmp_path / "no-collector" / "backup.prom"
    result = run_module(backup_status.main, {"service": "shop", "dest_dir": str(tmp_path), "textfile": str(textfile),
                                             "textfile_only_if_dir": True})
    assert result["textfile"] is None and not textfile.parent.exists()
    with pytest.raises(AnsibleFailJson) as info:
        run_module(backup_status.main, {"service": "shop", "dest_dir": str(tmp_path), "textfile": str(textfile)})
    assert info.value.result["msg"] == "textfile: %s must be an absolute path in an existing directory" % textfile


def test_check_mode_writes_no_textfile(tmp_path):
    textfile = tmp_path / "backup.prom"
    result = run_module(backup_status.main, {"service": "shop", "dest_dir": str(tmp_path), "textfile": str(textfile),
                                             "textfile_only_if_dir": True}, check_mode=True)
    assert result["textfile"] is None and not textfile.exists()
