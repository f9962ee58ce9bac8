# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the restore module (and module_utils.restore, archive_safety): real files, real zstd."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from unittest import mock

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import restore as restore_utils
from ansible_collections.fleetops.lifecycle.plugins.module_utils.archive_safety import unsafe_members
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_verify import scan_archive
from ansible_collections.fleetops.lifecycle.plugins.module_utils.restore_check import manifest_compare
from ansible_collections.fleetops.lifecycle.plugins.modules import restore
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.backup_fixtures import (
    Service,
    craft_archive,
    dir_listing,
    flip_byte,
    info,
    tree,
)
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import AnsibleFailJson, run_module

pytestmark = pytest.mark.usefixtures("ansible_module_exits")


@pytest.fixture
def service(tmp_path):
    return Service(tmp_path)


def run(args, **kwargs):
    return run_module(restore.main, args, **kwargs)


def fail(args, **kwargs):
    with pytest.raises(AnsibleFailJson) as info_:
        run(args, **kwargs)
    return info_.value.result


def modify(service):
    service.write(os.path.join(service.config, "demo.ini"), b"[state]\ndir = /elsewhere\n")
    os.unlink(os.path.join(service.config, "conf.d", "extra.ini"))
    service.write(os.path.join(service.config, "new.ini"), b"x")
    service.write(os.path.join(service.state, "state.db"), b"corrupted")
    service.write(os.path.join(service.state, "state.db-wal"), b"stale wal")


def manifest_tree(archive, kind):
    """What the archive's manifest says the ``kind`` root holds, in :func:`tree` form."""
    scan = scan_archive(archive)
    prefix = "%s/demo" % kind
    listing = {}
    for entry in scan.manifest["members"]:
        if entry["path"] == prefix or entry["path"].startswith(prefix + "/"):
            rel = os.path.relpath(entry["path"], prefix)
            mode = None if entry["type"] == "symlink" else int(entry["mode"], 8)
            value = entry.get("sha256") if entry["type"] == "file" else entry.get("linkname")
            listing[rel] = (entry["type"], mode, entry["size"], value)
    return listing


# ----------------------------------------------------------------------- round trips


def test_backup_modify_restore_gives_back_the_backup(service):
    archive = service.backup()["archive"]
    before = service.live()
    modify(service)
    result = run(dict(path=archive))
    assert result["changed"] is True
    assert service.live() == before
    assert tree(service.config) == manifest_tree(archive, "config")
    assert tree(service.state) == manifest_tree(archive, "state")
    assert result["targets"] == [service.config, service.state]
    assert os.path.join(service.config, "demo.ini") in result["files"]
    # The safety backup holds the modified state and is a complete, verifiable archive.
    assert result["safety_backup"].endswith("-pre-restore.tar.zst")
    safety = scan_archive(result["safety_backup"], lambda name: True)
    assert "state/demo/state.db-wal" in [m.name for m in safety.members]
    # No staging or aside paths are left next to the targets.
    assert sorted(os.listdir(os.path.dirname(service.config))) == ["demo"]
    assert sorted(os.listdir(os.path.dirname(service.state))) == ["demo"]


@pytest.mark.parametrize("what", ["config", "state"])
def test_restore_of_one_kind_leaves_the_other_alone(service, what):
    archive = service.backup()["archive"]
    before = service.live()
    modify(service)
    modified = service.live()
    result = run(dict(path=archive, what=what, safety_backup=False))
    other = "state" if what == "config" else "config"
    after = service.live()
    assert after[what] == before[what]
    assert after[other] == modified[other]
    assert result["safety_backup"] is None


def test_check_mode_reports_and_touches_nothing(service):
    archive = service.backup()["archive"]
    modify(service)
    before = dir_listing(service.base)
    result = run(dict(path=archive), check_mode=True)
    assert result["changed"] is True and result["safety_backup_planned"] is True
    assert os.path.join(service.state, "state.db") in result["files"]
    assert dir_listing(service.base) == before


def _archive_manifest(archive):
    """The MANIFEST read independently with tarfile (what the drill used to read with zstd | tar)."""
    data = subprocess.run(["zstd", "-dcq", archive], check=True, stdout=subprocess.PIPE).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return json.loads(tar.extractfile("MANIFEST").read())


@pytest.mark.parametrize("check_mode", [False, True], ids=["restore", "check-mode"])
def test_restore_returns_the_manifest_it_verified(service, check_mode):
    archive = service.backup()["archive"]
    result = run(dict(path=archive, what="state"), check_mode=check_mode)
    assert result["manifest"] == _archive_manifest(archive)
    sidecar = json.loads(open(archive + ".json").read())
    assert result["manifest_sha256"] == sidecar["manifest_sha256"]
    # The restored files compare clean against it (what the DR drill does).
    stats = {path: dict(exists=True, isdir=os.path.isdir(path), islnk=os.path.islink(path),
                        size=os.path.getsize(path), checksum=_sha256(path) if os.path.isfile(path) else None)
             for path in result["files"]}
    compared = manifest_compare(result["manifest"], "state", stats)
    assert compared["ok"] and compared["checked"] == len(result["files"]), compared


def _sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_dest_root_restores_elsewhere(service, tmp_path):
    archive = service.backup()["archive"]
    drill = str(tmp_path / "drill")
    result = run(dict(path=archive, dest_root=drill))
    restored = os.path.join(drill, service.config.lstrip("/"))
    assert result["targets"][0] == restored
    assert tree(restored) == tree(service.config)
    assert result["safety_backup"] is None  # nothing existed there


def test_a_failed_swap_puts_the_previous_state_back(service):
    archive = service.backup()["archive"]
    modify(service)
    before = dir_listing(service.base)
    real_rename = os.rename
    calls = []

    def rename(src, dst):
        calls.append(dst)
        if dst == service.state and ".fleetops-staged-" in src:  # the second swap fails
            raise OSError(5, "Input/output error", dst)
        return real_rename(src, dst)

    with mock.patch.object(restore_utils.os, "rename", rename):
        result = fail(dict(path=archive, safety_backup=False))
    assert "the previous state is in place" in result["msg"]
    assert service.config in calls
    assert dir_listing(service.base) == before


def test_an_interrupted_swap_is_recovered_by_the_next_restore(service):
    archive = service.backup()["archive"]
    aside = os.path.join(os.path.dirname(service.state), ".demo.fleetops-old-0123abcd")
    os.rename(service.state, aside)  # killed between renaming aside and renaming in
    result = run(dict(path=archive, what="state"))
    assert result["recovered"] == ["put back %s as %s" % (aside, service.state)]
    assert result["safety_backup"] is not None  # of the state that was put back
    assert sorted(os.listdir(os.path.dirname(service.state))) == ["demo"]


# ----------------------------------------------------------------------- refusals


def test_a_flipped_byte_is_refused_without_touching_live_data(service):
    archive = service.backup()["archive"]
    modify(service)
    flip_byte(archive)
    before = dir_listing(service.base)
    result = fail(dict(path=archive))
    assert archive in result["msg"] and "zstd cannot decompress it" in result["msg"]
    assert "nothing was restored" in result["msg"]
    assert dir_listing(service.base) == before


def test_an_incomplete_archive_is_refused(service):
    archive = service.backup()["archive"]
    os.unlink(archive + ".json")
    result = fail(dict(path=archive))
    assert result["msg"].startswith("path: %s is incomplete, nothing was restored: no sidecar" % archive)


ROOT = info("config/demo", tarfile.DIRTYPE, mode=0o755)
GOOD = info("config/demo/ok.ini", data=b"ok\n")

UNSAFE = [
    ("dotdot", info("config/demo/../../x", data=b"evil"), "config/demo/../../x (path contains '..')"),
    ("absolute", info("/etc/x", data=b"evil"), "/etc/x (absolute path)"),
    ("outside", info("elsewhere/x", data=b"evil"), "elsewhere/x (not under any backed-up path"),
    ("symlink", info("config/demo/link", tarfile.SYMTYPE, linkname="../../../etc/passwd"),
     "config/demo/link (symbolic link to ../../../etc/passwd escapes its destination config/demo)"),
    ("abs-symlink", info("config/demo/link", tarfile.SYMTYPE, linkname="/etc/passwd"),
     "config/demo/link (symbolic link to the absolute path /etc/passwd)"),
    ("hardlink", info("config/demo/hard", tarfile.LNKTYPE, linkname="etc/passwd"),
     "config/demo/hard (hard link to etc/passwd escapes its destination config/demo)"),
    ("hardlink-dotdot", info("config/demo/hard", tarfile.LNKTYPE, linkname="../etc/passwd"),
     "config/demo/hard (hard link to ../etc/passwd outside its destination"),
    ("device", info("config/demo/null", tarfile.CHRTYPE), "config/demo/null (device node)"),
    ("block", info("config/demo/sda", tarfile.BLKTYPE), "config/demo/sda (device node)"),
    ("fifo", info("config/demo/pipe", tarfile.FIFOTYPE), "config/demo/pipe (FIFO)"),
]


@pytest.mark.parametrize("member, text", [(m, t) for _n, m, t in UNSAFE], ids=[n for n, _m, _t in UNSAFE])
def test_crafted_archives_are_refused_and_nothing_is_written(tmp_path, member, text):
    target = tmp_path / "live" / "etc" / "demo"
    target.mkdir(parents=True)
    (target / "demo.ini").write_bytes(b"live\n")
    paths = [dict(path=str(target), kind="config", name="demo", type="dir", root="config/demo", snapshot=False)]
    archive = craft_archive(str(tmp_path / "backups"), [ROOT, GOOD, member], paths=paths)
    before = dir_listing(str(tmp_path))
    result = fail(dict(path=archive))
    assert "has unsafe members, nothing was restored" in result["msg"]
    assert text in result["msg"]
    assert result["unsafe_members"][0]["name"] == member[0].name
    assert dir_listing(str(tmp_path)) == before
    assert not os.path.exists("/etc/x") or member[0].name != "/etc/x"


def test_path_through_a_symlink_and_duplicates_are_refused():
    members = [ROOT[0], info("config/demo/dir", tarfile.SYMTYPE, linkname=".")[0],
               info("config/demo/dir/x", data=b"")[0], GOOD[0], GOOD[0]]
    problems = unsafe_members(members, {("config", "demo"): "dir"})
    assert problems == [("config/demo/dir/x", "parent config/demo/dir is a symlink, not a directory"),
                        ("config/demo/ok.ini", "duplicate member (the path is already in the archive)")]


def test_inside_links_are_allowed_and_restored(tmp_path):
    target = tmp_path / "live" / "etc" / "demo"
    paths = [dict(path=str(target), kind="config", name="demo", type="dir", root="config/demo", snapshot=False)]
    members = [ROOT, GOOD, info("config/demo/link", tarfile.SYMTYPE, linkname="ok.ini"),
               info("config/demo/hard", tarfile.LNKTYPE, linkname="config/demo/ok.ini")]
    archive = craft_archive(str(tmp_path / "backups"), members, paths=paths)
    run(dict(path=archive))
    assert os.readlink(str(target / "link")) == "ok.ini"
    assert os.stat(str(target / "hard")).st_ino == os.stat(str(target / "ok.ini")).st_ino


# ----------------------------------------------------------------------- bad input


def test_bad_options_name_the_option_and_value(service, tmp_path):
    archive = service.backup()["archive"]
    assert fail(dict(path="relative.tar.zst"))["msg"] == (
        "path: 'relative.tar.zst' must be the absolute path of an archive")
    missing = str(tmp_path / "missing.tar.zst")
    assert fail(dict(path=missing))["msg"] == "path: %s does not exist or is not a file" % missing
    assert "value of what must be one of" in fail(dict(path=archive, what="data"))["msg"]
    assert fail(dict(path=archive, dest_root="srv"))["msg"] == "dest_root: 'srv' must be an absolute path"
    assert fail(dict(path=archive, safety_dest_dir="b"))["msg"] == "safety_dest_dir: 'b' must be an absolute path"
    with pytest.raises(restore_utils.BackupError) as info_:
        restore_utils.validate_restore(dict(path=archive, what="data"))
    assert info_.value.msg == "what: 'data' is not one of config, state, both"


def test_a_kind_the_archive_lacks_is_refused(service):
    archive = service.backup(paths=[dict(path=service.config, kind="config")])["archive"]
    result = fail(dict(path=archive, what="state"))
    assert result["msg"].startswith("what: archive has no state paths (it holds: config %s)" % service.config)


def test_a_target_of_another_type_is_refused(service):
    archive = service.backup()["archive"]
    os.rename(service.state, service.state + ".moved")
    service.write(service.state, b"now a file")
    before = dir_listing(service.base)
    result = fail(dict(path=archive))
    assert "restore target %s is not a directory as in the archive" % service.state in result["msg"]
    assert dir_listing(service.base) == before
