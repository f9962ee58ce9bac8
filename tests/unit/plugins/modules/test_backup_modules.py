# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the backup, backup_verify and backup_prune modules: real files, real zstd."""

from __future__ import annotations

import os
import time

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import load_verified
from ansible_collections.fleetops.lifecycle.plugins.modules import backup, backup_prune, backup_verify
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.backup_fixtures import Service, dir_listing, flip_byte
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import AnsibleFailJson, run_module

pytestmark = pytest.mark.usefixtures("ansible_module_exits")


@pytest.fixture
def service(tmp_path):
    return Service(tmp_path)


def fail(main, args, **kwargs):
    with pytest.raises(AnsibleFailJson) as info:
        run_module(main, args, **kwargs)
    return info.value.result


# ----------------------------------------------------------------------- backup


def test_backup_module_makes_an_archive(service):
    result = run_module(backup.main, service.params(kind="scheduled", release="1.0.0"))
    assert result["changed"] is True and os.path.isfile(result["archive"])
    assert result["metadata"]["release"] == "1.0.0" and result["members"] == 8


def test_backup_module_check_mode_writes_nothing(service):
    result = run_module(backup.main, service.params(), check_mode=True)
    assert result["changed"] is True and result["members"] == 8
    assert not os.path.exists(service.dest)


@pytest.mark.parametrize("change, message", [
    (dict(kind="hourly"), "value of kind must be one of"),
    (dict(dest_dir="backups"), "dest_dir: 'backups' must be an absolute path"),
    (dict(paths=[dict(path="/x", kind="cache")]), "value of kind must be one of: config, state, got: cache"),
    (dict(compression_level=0), "compression_level: 0 must be a whole number from 1 to 19"),
    (dict(snapshot_command="true"), "snapshot_command: 'true' must contain {snapshot_dir}"),
])
def test_backup_module_bad_input(service, change, message):
    result = fail(backup.main, service.params(**change))
    assert message in result["msg"]
    assert not os.path.exists(service.dest)


def test_backup_module_refreshes_the_textfile_from_the_archive_it_made(service, tmp_path):
    collector = tmp_path / "node-exporter"
    collector.mkdir()
    textfile = collector / "fleetops_backup.prom"
    result = run_module(backup.main, service.params(kind="pre-upgrade", textfile=str(textfile),
                                                    textfile_only_if_dir=True))
    assert result["textfile"] == str(textfile)
    created = result["metadata"]["created_epoch"]
    metric = textfile.read_text()
    assert 'fleetops_backup_last_success_timestamp_seconds{service="demo",host="app1"} %.3f' % created in metric
    assert 'fleetops_backup_archives{service="demo",host="app1"} 1' in metric
    assert [p.name for p in collector.iterdir()] == ["fleetops_backup.prom"]  # no temp file left


def test_backup_module_writes_no_textfile_without_its_directory_or_in_check_mode(service, tmp_path):
    textfile = tmp_path / "no-collector" / "fleetops_backup.prom"
    result = run_module(backup.main, service.params(textfile=str(textfile), textfile_only_if_dir=True))
    assert result["textfile"] is None and os.path.isfile(result["archive"]) and not textfile.parent.exists()
    collector = tmp_path / "node-exporter"
    collector.mkdir()
    result = run_module(backup.main, service.params(textfile=str(collector / "b.prom")), check_mode=True)
    assert result["textfile"] is None and list(collector.iterdir()) == []


def test_backup_module_keeps_the_archive_when_the_textfile_cannot_be_written(service, tmp_path):
    textfile = tmp_path / "no-collector" / "fleetops_backup.prom"
    result = fail(backup.main, service.params(textfile=str(textfile)))
    assert result["msg"] == ("textfile: %s must be an absolute path in an existing directory (the archive %s is "
                             "complete and kept)" % (textfile, result["archive"]))
    assert os.path.isfile(result["archive"]) and os.path.isfile(result["sidecar"])


# ----------------------------------------------------------------------- verify


def test_verify_module_latest_records_the_result(service):
    service.backup(now=1796004000.0)
    newest = service.backup(now=1796007600.0)["archive"]
    result = run_module(backup_verify.main, dict(dest_dir=service.dest))
    assert result["changed"] is False and [r["archive"] for r in result["results"]] == [newest]
    assert load_verified(newest)["content_verified"] is not None


def test_verify_module_check_mode_records_nothing(service):
    archive = service.backup()["archive"]
    result = run_module(backup_verify.main, dict(path=archive, mode="structure"), check_mode=True)
    assert result["verified"] == 1 and load_verified(archive) == {}


def test_verify_module_fails_naming_the_archive(service):
    good = service.backup(now=1796004000.0)["archive"]
    bad = service.backup(now=1796007600.0)["archive"]
    flip_byte(bad)
    result = fail(backup_verify.main, dict(dest_dir=service.dest, select="all"))
    assert result["msg"].startswith("archive %s failed full verification" % bad)
    assert good not in result["msg"] and (result["verified"], result["failed"]) == (1, 1)
    assert load_verified(bad)["last"]["ok"] is False


@pytest.mark.parametrize("args, message", [
    (dict(mode="subset", subset="3/2"), "subset: '3/2' needs 1 <= n <= t"),
    (dict(mode="subset", subset="x"), "subset: 'x' is not of the form n/t"),
    (dict(mode="subset"), "mode is subset but all of the following are missing: subset"),
    (dict(mode="full", subset="1/2"), "subset: '1/2' is only used with mode=subset"),
    (dict(mode="deep"), "value of mode must be one of"),
    (dict(select="newest"), "value of select must be one of"),
    (dict(tmp_dir="tmp"), "tmp_dir: 'tmp' must be an absolute path"),
])
def test_verify_module_bad_input(service, args, message):
    archive = service.backup()["archive"]
    before = dir_listing(service.dest)
    result = fail(backup_verify.main, dict(args, path=archive))
    assert message in result["msg"]
    assert dir_listing(service.dest) == before


def test_verify_module_missing_archive_and_empty_dir(service, tmp_path):
    missing = str(tmp_path / "nope.tar.zst")
    assert fail(backup_verify.main, dict(path=missing))["msg"] == (
        "path: archive %s does not exist or is not a file" % missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert fail(backup_verify.main, dict(dest_dir=str(empty)))["msg"] == (
        "dest_dir: no complete archive in %s (0 incomplete)" % empty)
    assert "dest_dir: 'rel' must be an absolute path" in fail(backup_verify.main, dict(dest_dir="rel"))["msg"]


# ----------------------------------------------------------------------- prune


def test_prune_module_check_mode_then_real_run(service):
    archives = [service.backup(now=1796004000.0 - day * 86400)["archive"] for day in range(5)]
    args = dict(dest_dir=service.dest, keep_daily=2, keep_weekly=0, keep_monthly=0, keep_oldest=False)
    before = dir_listing(service.dest)
    planned = run_module(backup_prune.main, args, check_mode=True)
    assert planned["changed"] is True and planned["removed"] == []
    assert sorted(d["path"] for d in planned["deleted"]) == sorted(archives[2:])
    assert all(d["reason"] for d in planned["deleted"])
    assert dir_listing(service.dest) == before
    result = run_module(backup_prune.main, args)
    assert [d["path"] for d in result["deleted"]] == [d["path"] for d in planned["deleted"]]
    assert sorted(os.listdir(service.dest)) == sorted(
        n for a in archives[:2] for n in (os.path.basename(a), os.path.basename(a) + ".json"))
    again = run_module(backup_prune.main, args)
    assert again["changed"] is False and again["deleted"] == []


@pytest.mark.parametrize("args, message", [
    (dict(keep_daily=-2), "keep_daily must be a non-negative integer, got -2"),
    (dict(keep_daily=0, keep_weekly=0, keep_monthly=0), "are all 0"),
    (dict(mode="age", keep_oldest=True), "keep_oldest"),
    (dict(stale_age=-1), "stale_age: -1 must be a whole number"),
])
def test_prune_module_bad_input(service, args, message):
    service.backup()
    before = dir_listing(service.dest)
    result = fail(backup_prune.main, dict(args, dest_dir=service.dest))
    assert message in result["msg"]
    assert dir_listing(service.dest) == before


def test_prune_module_reports_a_future_dated_archive_and_keeps_the_real_ones(service):
    now = time.time()
    real = [service.backup(now=now - day * 86400)["archive"] for day in range(4)]
    forged = service.backup(now=now + 14 * 86400)["archive"]
    args = dict(dest_dir=service.dest, mode="age", keep_daily=3, keep_weekly=0, keep_monthly=0)
    result = run_module(backup_prune.main, args, check_mode=True)
    assert result["future_dated"] == [forged]
    # The windows end at the newest real backup, not 14 days ahead: three real days are kept.
    assert sorted(k["path"] for k in result["kept"]) == sorted(real[:3] + [forged])
    assert [d["path"] for d in result["deleted"]] == [real[3]]
