# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile archives and releases through the module entry points (issue 11).

One test per defect class with the exact message, a second process swapping the
archive mid-restore, a genuine round trip of the modes and links restore must keep,
and a property test that builds random tar streams (self-consistent MANIFEST, sidecar
and checksum) and extracts them with restore and release inside a sentinel tree.
Real files, real zstd, no mocks.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import time

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import FORMAT, sidecar_path
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_tarstream import HEADER_LIMIT
from ansible_collections.fleetops.lifecycle.plugins.modules import backup, backup_verify, release, restore
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.backup_fixtures import craft_archive, dir_listing, info
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import AnsibleFailJson, run_module
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.release_fixtures import make_tarball, member
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.usefixtures("ansible_module_exits")

EXAMPLES = 3000 if os.environ.get("FLEETOPS_SLOW") else 300
ROOT = info("config/demo", tarfile.DIRTYPE, mode=0o755)
GOOD = info("config/demo/ok.ini", data=b"ok\n")


def fail(main, args, **kwargs):
    with pytest.raises(AnsibleFailJson) as raised:
        run_module(main, args, **kwargs)
    return raised.value.result


def config_paths(target):
    return [dict(path=str(target), kind="config", name="demo", type="dir", root="config/demo", snapshot=False)]


def live_target(tmp_path):
    target = tmp_path / "live" / "etc" / "demo"
    target.mkdir(parents=True)
    (target / "demo.ini").write_bytes(b"live\n")
    return target


def release_args(tmp_path, members, **extra):
    root = tmp_path / "opt" / "demo"
    root.mkdir(parents=True, exist_ok=True)
    artifact = str(tmp_path / "demo-1.0.0.tar.gz")
    digest = make_tarball(artifact, members)
    args = dict(root=str(root), version="1.0.0", artifact=artifact, checksum=digest, slot="blue")
    args.update(extra)
    return args


# ------------------------------------------------------------- 1. symlink chains


CHAIN = [info("config/demo/l1", tarfile.SYMTYPE, linkname="."),
         info("config/demo/esc", tarfile.SYMTYPE, linkname="l1/l1/l1/../../../outside")]


@pytest.mark.parametrize("check_mode", [True, False])
def test_restore_refuses_a_symlink_chain_that_leaves_the_root(tmp_path, check_mode):
    target = live_target(tmp_path)
    archive = craft_archive(str(tmp_path / "backups"), [ROOT, GOOD] + CHAIN, paths=config_paths(target))
    before = dir_listing(str(tmp_path))
    result = fail(restore.main, dict(path=archive), check_mode=check_mode)
    assert result["msg"] == (
        "path: archive %s has unsafe members, nothing was restored: config/demo/esc (symbolic link to "
        "l1/l1/l1/../../../outside escapes its destination config/demo)" % archive)
    assert dir_listing(str(tmp_path)) == before


def test_restore_refuses_a_link_that_a_later_link_turns_into_an_escape(tmp_path):
    # esc is harmless when written (l1 does not exist yet); l1 -> . makes it leave the root.
    members = [ROOT, info("config/demo/esc", tarfile.SYMTYPE, linkname="l1/../x"),
               info("config/demo/l1", tarfile.SYMTYPE, linkname=".")]
    target = live_target(tmp_path)
    archive = craft_archive(str(tmp_path / "backups"), members, paths=config_paths(target))
    before = dir_listing(str(tmp_path))
    result = fail(restore.main, dict(path=archive))
    assert result["msg"] == (
        "path: archive %s has unsafe members, nothing was restored: config/demo/esc (symbolic link to l1/../x "
        "escapes its destination config/demo (resolved against the whole archive))" % archive)
    assert dir_listing(str(tmp_path)) == before


def test_restore_test_refuses_a_symlink_chain(tmp_path):
    archive = craft_archive(str(tmp_path / "backups"), [ROOT, GOOD] + CHAIN,
                            paths=config_paths(tmp_path / "never" / "etc" / "demo"))
    result = fail(backup_verify.main, dict(path=archive, mode="restore_test"))
    assert result["results"][0]["problems"] == [dict(
        member="config/demo/esc",
        problem="unsafe member: symbolic link to l1/l1/l1/../../../outside escapes its destination config/demo")]


@pytest.mark.parametrize("shared", [None, ["esc/data"]])
def test_release_refuses_a_symlink_chain(tmp_path, shared):
    members = [member("app.py", data=b"x"), member("l1", tarfile.SYMTYPE, linkname="."),
               member("esc", tarfile.SYMTYPE, linkname="l1/l1/../../outside")]
    args = release_args(tmp_path, members, shared=shared)
    before = dir_listing(str(tmp_path))
    result = fail(release.main, args)
    assert result["msg"] == (
        "artifact: %s has unsafe members, nothing was unpacked: esc (symbolic link to l1/l1/../../outside "
        "escapes the release directory)" % args["artifact"])
    assert dir_listing(str(tmp_path)) == before
    assert not (tmp_path / "outside").exists()


# -------------------------------------------------------- 2. restore destinations


@pytest.mark.parametrize("check_mode", [True, False])
def test_restore_refuses_a_target_outside_allowed_paths(tmp_path, check_mode):
    target = live_target(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    archive = craft_archive(str(tmp_path / "backups"), [ROOT, GOOD], paths=config_paths(elsewhere))
    before = dir_listing(str(tmp_path))
    result = fail(restore.main, dict(path=archive, allowed_paths=[str(target)]), check_mode=check_mode)
    assert result["msg"] == (
        "path: the archive names the target %s for config/demo, which is not one of the paths restore may "
        "write (allowed_paths: %s); nothing was restored" % (elsewhere, target))
    assert dir_listing(str(tmp_path)) == before


def test_restore_refuses_a_target_with_dotdot(tmp_path):
    target = live_target(tmp_path)
    crafted = str(target) + "/../../../outside"
    archive = craft_archive(str(tmp_path / "backups"), [ROOT, GOOD],
                            paths=[dict(config_paths(target)[0], path=crafted)])
    result = fail(restore.main, dict(path=archive, dest_root=str(tmp_path / "drill")))
    assert result["msg"] == (
        "path: the archive names the target %r for config/demo, which is not a normalised absolute path; "
        "nothing was restored" % crafted)
    assert not (tmp_path / "outside").exists() and not (tmp_path / "drill").exists()


def test_restore_under_dest_root_stays_under_it(tmp_path):
    target = tmp_path / "live" / "etc" / "demo"
    archive = craft_archive(str(tmp_path / "backups"), [ROOT, GOOD], paths=config_paths(target))
    drill = tmp_path / "drill"
    drill.mkdir()
    result = run_module(restore.main, dict(path=archive, dest_root=str(drill)))
    assert result["targets"] == [str(drill) + str(target)]
    assert not target.exists()


# ------------------------------------------------------------- 3. time of check / use


def _swapper(watch_dir, marker, action, archive, replacement=None):
    """A second process: waits until restore stages its first path, then changes the archive."""
    script = r"""
import os, sys, time
watch, marker, action, archive, replacement = sys.argv[1:6]
deadline = time.time() + 60
while time.time() < deadline:
    if any(".fleetops-staged-" in n or n.startswith(".fleetops-tmp-") for n in os.listdir(watch)):
        break
    time.sleep(0.0005)
if action == "rename":
    os.rename(replacement, archive)
else:
    with open(archive, "r+b") as handle:
        handle.seek(-65536, 2)
        handle.write(os.urandom(65536))
open(marker, "w").close()
"""
    return subprocess.Popen([sys.executable, "-c", script, watch_dir, marker, action, archive, replacement or ""])


def _big_archive(tmp_path, target, name, fill):
    data = os.urandom(48 << 20) if fill is None else fill * (48 << 20)
    members = [ROOT, info("config/demo/big.bin", data=data)]
    return craft_archive(str(tmp_path / "backups"), members, paths=config_paths(target), name=name), data


def test_restore_reads_the_archive_it_opened_when_another_process_renames_one_over_it(tmp_path):
    target = live_target(tmp_path)
    archive, data = _big_archive(tmp_path, target, "demo-app1-20261130T020000Z-manual.tar.zst", None)
    evil = craft_archive(str(tmp_path / "evil"), [ROOT, info("config/demo/big.bin", data=b"evil")],
                         paths=config_paths(target), name="demo-app1-20261130T020000Z-manual.tar.zst")
    marker = str(tmp_path / "swapped")
    proc = _swapper(str(target.parent), marker, "rename", archive, evil)
    try:
        run_module(restore.main, dict(path=archive, safety_backup=False))
    finally:
        proc.wait(timeout=60)
    assert os.path.exists(marker)
    with open(str(target / "big.bin"), "rb") as handle:
        assert hashlib.sha256(handle.read()).digest() == hashlib.sha256(data).digest()


def test_restore_refuses_an_archive_overwritten_in_place_mid_restore(tmp_path):
    target = live_target(tmp_path)
    archive, _data = _big_archive(tmp_path, target, "demo-app1-20261130T020000Z-manual.tar.zst", None)
    before = dir_listing(str(target))
    marker = str(tmp_path / "swapped")
    proc = _swapper(str(target.parent), marker, "overwrite", archive)
    try:
        result = fail(restore.main, dict(path=archive, safety_backup=False))
    finally:
        proc.wait(timeout=60)
    assert os.path.exists(marker)
    assert result["msg"].startswith("path: archive %s is damaged, nothing was restored: " % archive)
    assert dir_listing(str(target)) == before
    assert [n for n in os.listdir(str(target.parent)) if "fleetops" in n] == []


def test_restore_test_reads_the_archive_it_opened(tmp_path):
    target = tmp_path / "never" / "etc" / "demo"
    archive, _data = _big_archive(tmp_path, target, "demo-app1-20261130T020000Z-manual.tar.zst", None)
    evil = craft_archive(str(tmp_path / "evil"), [ROOT] + CHAIN, paths=config_paths(target),
                         name="demo-app1-20261130T020000Z-manual.tar.zst")
    marker = str(tmp_path / "swapped")
    proc = _swapper(str(tmp_path / "backups"), marker, "rename", archive, evil)
    try:
        result = run_module(backup_verify.main, dict(path=archive, mode="restore_test"))
    finally:
        proc.wait(timeout=60)
    assert os.path.exists(marker)
    assert result["results"][0]["ok"] is True


# ---------------------------------------------------------------- 4. oversized headers


def _raw_archive(dest_dir, raw_members, paths, name="demo-app1-20261130T020000Z-manual.tar.zst"):
    """An archive whose tar stream is METADATA + raw bytes + MANIFEST, with a matching sidecar."""
    metadata = dict(format=FORMAT, tool="test", tool_version="0", host="app1", service="demo", release=None,
                    kind="manual", pinned=False, created="x", created_epoch=1796004000.0, compression="zstd",
                    paths=paths)
    meta_bytes = json.dumps(metadata).encode()
    manifest = dict(format=FORMAT, metadata_sha256=hashlib.sha256(meta_bytes).hexdigest(), paths=paths,
                    members=[])
    manifest_bytes = json.dumps(manifest).encode()
    out = io.BytesIO()
    for name_, data in (("METADATA", meta_bytes),):
        out.write(_reg(name_, data))
    out.write(raw_members)
    out.write(_reg("MANIFEST", manifest_bytes))
    out.write(bytes(1024))
    os.makedirs(dest_dir, exist_ok=True)
    path = os.path.join(dest_dir, name)
    compressed = subprocess.run(["zstd", "-q", "-c"], input=out.getvalue(), stdout=subprocess.PIPE,
                                check=True).stdout
    with open(path, "wb") as handle:
        handle.write(compressed)
    with open(sidecar_path(path), "w") as handle:
        json.dump(dict(format=FORMAT, archive=name, manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
                       size=len(compressed), members=0, data_bytes=0, metadata=metadata), handle)
    return path


def _reg(name, data):
    tinfo = tarfile.TarInfo(name)
    tinfo.size = len(data)
    return tinfo.tobuf(tarfile.PAX_FORMAT) + data + bytes(-len(data) % 512)


def _oversized(kind, size=1 << 50):
    tinfo = tarfile.TarInfo("PaxHeaders/x" if kind == tarfile.XHDTYPE else "././@LongLink")
    tinfo.type = kind
    tinfo.size = size
    return tinfo.tobuf(tarfile.GNU_FORMAT)


@pytest.mark.parametrize("kind, label", [(tarfile.XHDTYPE, "pax extended"),
                                         (tarfile.GNUTYPE_LONGNAME, "GNU long name")])
@pytest.mark.parametrize("check_mode", [True, False])
def test_restore_refuses_an_oversized_header_with_a_message(tmp_path, kind, label, check_mode):
    target = live_target(tmp_path)
    archive = _raw_archive(str(tmp_path / "backups"), _oversized(kind), config_paths(target))
    before = dir_listing(str(tmp_path))
    result = fail(restore.main, dict(path=archive), check_mode=check_mode)
    name = "PaxHeaders/x" if kind == tarfile.XHDTYPE else "././@LongLink"
    assert result["msg"] == (
        "path: archive %s is damaged, nothing was restored: unreadable: a %s header (before member %s) declares "
        "%d bytes, more than the %d bytes allowed; refusing to read it; MANIFEST: MANIFEST is missing"
        % (archive, label, name, 1 << 50, HEADER_LIMIT))
    assert dir_listing(str(tmp_path)) == before


def test_restore_test_refuses_an_oversized_header(tmp_path):
    archive = _raw_archive(str(tmp_path / "backups"), _oversized(tarfile.XHDTYPE),
                           config_paths(tmp_path / "never"))
    result = fail(backup_verify.main, dict(path=archive, mode="restore_test"))
    assert result["results"][0]["problems"][0]["problem"] == (
        "unreadable: a pax extended header (before member PaxHeaders/x) declares %d bytes, more than the %d "
        "bytes allowed; refusing to read it" % (1 << 50, HEADER_LIMIT))


def test_release_refuses_an_oversized_header(tmp_path):
    artifact = str(tmp_path / "demo-1.0.0.tar")
    with open(artifact, "wb") as handle:
        handle.write(_reg("app.py", b"x") + _oversized(tarfile.XHDTYPE) + bytes(1024))
    with open(artifact, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    root = tmp_path / "opt" / "demo"
    root.mkdir(parents=True)
    result = fail(release.main, dict(root=str(root), version="1.0.0", artifact=artifact, checksum=digest))
    assert result["msg"] == (
        "artifact: %s is not a readable tar archive: a pax extended header (before member PaxHeaders/x) declares "
        "%d bytes, more than the %d bytes allowed; refusing to read it; nothing was unpacked"
        % (artifact, 1 << 50, HEADER_LIMIT))
    assert os.listdir(str(root)) == []


# --------------------------------------------------------------------- 5. size limits


def test_restore_refuses_more_than_max_unpacked_bytes_before_writing(tmp_path):
    target = live_target(tmp_path)
    members = [ROOT, info("config/demo/big.bin", data=b"x" * 200000)]
    archive = craft_archive(str(tmp_path / "backups"), members, paths=config_paths(target))
    before = dir_listing(str(tmp_path))
    for check_mode in (True, False):
        result = fail(restore.main, dict(path=archive, max_unpacked_bytes=1000), check_mode=check_mode)
        assert result["msg"] == (
            "path: archive %s: the archive declares 200000 bytes of data, more than the 1000 bytes allowed by "
            "max_unpacked_bytes=1000; nothing was restored" % archive)
    assert dir_listing(str(tmp_path)) == before


def test_restore_stops_when_the_stream_holds_more_than_declared(tmp_path):
    target = live_target(tmp_path)
    members = [ROOT, info("config/demo/big.bin", data=b"x" * 200000)]
    archive = craft_archive(str(tmp_path / "backups"), members, paths=config_paths(target))
    with open(sidecar_path(archive)) as handle:
        sidecar = json.load(handle)
    sidecar["data_bytes"] = 1000
    with open(sidecar_path(archive), "w") as handle:
        json.dump(sidecar, handle)
    before = dir_listing(str(tmp_path))
    result = fail(restore.main, dict(path=archive))
    assert result["msg"] == (
        "path: archive %s has unsafe members, nothing was restored: config/demo/big.bin (declares 200000 bytes; "
        "with the 0 bytes before it that is more than the 1000 bytes allowed by the 1000 bytes of data the "
        "sidecar declares)" % archive)
    assert dir_listing(str(tmp_path)) == before


def test_release_refuses_more_than_max_unpacked_bytes(tmp_path):
    args = release_args(tmp_path, [member("a.bin", data=b"a" * 600), member("b.bin", data=b"b" * 600)],
                        max_unpacked_bytes=1000)
    before = dir_listing(str(tmp_path))
    result = fail(release.main, args)
    assert result["msg"] == (
        "artifact: %s has unsafe members, nothing was unpacked: b.bin (declares 600 bytes; with the 600 bytes "
        "before it that is more than the 1000 bytes allowed by max_unpacked_bytes=1000)" % args["artifact"])
    assert dir_listing(str(tmp_path)) == before


# ------------------------------------------------------------------ 6. round trip


def _fidelity_tree(base):
    config = os.path.join(base, "etc", "demo")
    state = os.path.join(base, "var", "lib", "demo")
    os.makedirs(os.path.join(config, "shared"))
    os.makedirs(os.path.join(state, "spool"))
    os.makedirs(os.path.join(state, "empty"))
    for path, data, mode in ((os.path.join(config, "demo.ini"), b"[x]\n", 0o640),
                             (os.path.join(state, "state.db"), os.urandom(50000), 0o600),
                             (os.path.join(config, "shared", "a.txt"), b"a\n", 0o664)):
        with open(path, "wb") as handle:
            handle.write(data)
        os.chmod(path, mode)
    os.link(os.path.join(state, "state.db"), os.path.join(state, "state.hardlink"))
    os.symlink("../demo.ini", os.path.join(config, "shared", "ini"))
    os.chmod(os.path.join(config, "shared"), 0o2775)
    os.chmod(os.path.join(state, "spool"), 0o1777)
    os.chmod(os.path.join(state, "empty"), 0o700)
    return config, state


def _full_tree(path):
    """Modes, owners, sizes, contents, link targets and which names share an inode."""
    listing, inodes = {}, {}
    for directory, dirs, files in os.walk(path):
        for name in [None] + dirs + files:
            full = directory if name is None else os.path.join(directory, name)
            if name is None and directory != path:
                continue
            st = os.lstat(full)
            rel = os.path.relpath(full, path)
            content = None
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as handle:
                    content = hashlib.sha256(handle.read()).hexdigest()
                inodes.setdefault(st.st_ino, []).append(rel)
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(full)
            listing[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode) if not stat.S_ISLNK(st.st_mode)
                            else None, st.st_uid, st.st_gid, content)
    return listing, sorted(sorted(group) for group in inodes.values())


def test_round_trip_keeps_setgid_sticky_hard_links_and_passes_restore_test(tmp_path):
    config, state = _fidelity_tree(str(tmp_path))
    dest = str(tmp_path / "backups")
    made = run_module(backup.main, dict(service="demo", host="app1", dest_dir=dest,
                                        paths=[dict(path=config, kind="config"), dict(path=state, kind="state")]))
    archive = made["archive"]
    for mode in ("full", "restore_test"):
        assert run_module(backup_verify.main, dict(path=archive, mode=mode))["results"][0]["ok"] is True
    before = (_full_tree(config), _full_tree(state))
    assert [g for g in before[1][1] if len(g) > 1] == [["state.db", "state.hardlink"]]
    # Damage the live tree, then restore.
    os.chmod(os.path.join(state, "spool"), 0o755)
    os.unlink(os.path.join(state, "state.hardlink"))
    os.rmdir(os.path.join(state, "empty"))
    result = run_module(restore.main, dict(path=archive, safety_backup=False, allowed_paths=[config, state]))
    assert result["dropped_mode_bits"] == []
    assert (_full_tree(config), _full_tree(state)) == before


def test_restore_drops_setuid_and_reports_it(tmp_path):
    target = tmp_path / "live" / "etc" / "demo"
    members = [ROOT, info("config/demo/helper", data=b"#!/bin/sh\n", mode=0o4755)]
    archive = craft_archive(str(tmp_path / "backups"), members, paths=config_paths(target))
    assert run_module(backup_verify.main, dict(path=archive, mode="restore_test"))["results"][0]["ok"] is True
    result = run_module(restore.main, dict(path=archive))
    assert result["dropped_mode_bits"] == [dict(member="config/demo/helper", mode="4755", restored="0755")]
    assert stat.S_IMODE(os.stat(str(target / "helper")).st_mode) == 0o755


# ------------------------------------------------------- 7. path problems before the drain


def test_check_mode_finds_nested_targets(tmp_path):
    target = tmp_path / "live" / "etc" / "demo"
    paths = config_paths(target) + [dict(path=str(target / "sub"), kind="state", name="demo", type="dir",
                                         root="state/demo", snapshot=False)]
    archive = craft_archive(str(tmp_path / "backups"), [ROOT, info("state/demo", tarfile.DIRTYPE)], paths=paths)
    result = fail(restore.main, dict(path=archive), check_mode=True)
    assert result["msg"] == (
        "path: the targets %s (config/demo) and %s (state/demo) are the same or one holds the other; nothing was "
        "restored" % (target, target / "sub"))


def test_check_mode_finds_a_member_name_too_long(tmp_path):
    target = live_target(tmp_path)
    long_name = "config/demo/" + "n" * 256
    archive = craft_archive(str(tmp_path / "backups"), [ROOT, info(long_name, data=b"x")],
                            paths=config_paths(target))
    result = fail(restore.main, dict(path=archive), check_mode=True)
    assert result["msg"] == (
        "path: archive %s has members whose restored path is too long, nothing was restored: %s (a name longer "
        "than 255 bytes (%s...))" % (archive, long_name, "n" * 40))


def test_check_mode_finds_a_target_name_too_long(tmp_path):
    target = tmp_path / ("t" * 240)
    archive = craft_archive(str(tmp_path / "backups"), [ROOT], paths=config_paths(target))
    result = fail(restore.main, dict(path=archive), check_mode=True)
    assert result["msg"] == "path: the target %s has a name longer than 255 bytes (.%s...); nothing was restored" % (
        target, "t" * 39)


# ------------------------------------------------------------- property: random streams


NAMES = st.sampled_from(["a", "b", "l1", "..", ".", "d/e", "a/b", "/etc/x", "l1/x", "a/../b"])
TARGETS = st.sampled_from([".", "..", "a", "l1", "l1/l1/../..", "../outside", "/etc", "a/../..", "b/c", "l1/..", ""])


@st.composite
def entries(draw):
    kind = draw(st.sampled_from(["file", "dir", "symlink", "hardlink", "bigpax"]))
    name = draw(NAMES)
    if kind == "file":
        return (kind, name, draw(st.binary(max_size=64)))
    if kind in ("symlink", "hardlink"):
        return (kind, name, draw(TARGETS))
    return (kind, name, None)


def _entry_bytes(kind, name, extra):
    if kind == "bigpax":
        return _oversized(tarfile.XHDTYPE, 1 << 40)
    tinfo = tarfile.TarInfo(name)
    tinfo.mtime = 1700000000
    tinfo.mode = 0o755 if kind == "dir" else 0o644
    if kind == "file":
        tinfo.size = len(extra)
        return tinfo.tobuf(tarfile.PAX_FORMAT) + extra + bytes(-len(extra) % 512)
    tinfo.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
    tinfo.linkname = extra or ""
    return tinfo.tobuf(tarfile.PAX_FORMAT)


def _backup_stream(items, target):
    """Members under config/demo with a MANIFEST describing them exactly."""
    raw, members = io.BytesIO(), []
    raw.write(_entry_bytes("dir", "config/demo", None))
    members.append(dict(path="config/demo", type="dir", mode="0755", size=0))
    for kind, name, given_extra in items:
        full = name if name.startswith("/") else "config/demo/" + name
        extra = given_extra
        if kind == "hardlink" and extra and not extra.startswith("/"):
            extra = "config/demo/" + extra
        raw.write(_entry_bytes(kind, full, extra))
        if kind == "bigpax":
            continue
        entry = dict(path=full.rstrip("/"), type=kind, mode="0755" if kind == "dir" else "0644",
                     size=len(extra) if kind == "file" else 0)
        if kind == "file":
            entry["sha256"] = hashlib.sha256(extra).hexdigest()
        if kind in ("symlink", "hardlink"):
            entry["linkname"] = extra
        members.append(entry)
    return raw.getvalue(), members


def _write_backup(dest_dir, items, target):
    paths = config_paths(target)
    body, members = _backup_stream(items, target)
    metadata = dict(format=FORMAT, tool="test", tool_version="0", host="app1", service="demo", release=None,
                    kind="manual", pinned=False, created="x", created_epoch=1796004000.0, compression="zstd",
                    paths=paths)
    meta_bytes = json.dumps(metadata).encode()
    manifest = dict(format=FORMAT, metadata_sha256=hashlib.sha256(meta_bytes).hexdigest(), paths=paths,
                    members=members)
    manifest_bytes = json.dumps(manifest).encode()
    stream = _reg("METADATA", meta_bytes) + body + _reg("MANIFEST", manifest_bytes) + bytes(1024)
    name = "demo-app1-20261130T020000Z-manual.tar.zst"
    os.makedirs(dest_dir, exist_ok=True)
    path = os.path.join(dest_dir, name)
    compressed = subprocess.run(["zstd", "-q", "-c"], input=stream, stdout=subprocess.PIPE, check=True).stdout
    with open(path, "wb") as handle:
        handle.write(compressed)
    data_bytes = sum(len(extra) for kind, _n, extra in items if kind == "file")
    with open(sidecar_path(path), "w") as handle:
        json.dump(dict(format=FORMAT, archive=name, manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
                       size=len(compressed), members=len(members), data_bytes=data_bytes, metadata=metadata), handle)
    return path, members


def _sentinel(base):
    """A tree around the scratch root whose every byte and inode must stay as it is."""
    for rel in ("outside", "etc/x", "live/etc/other"):
        os.makedirs(os.path.join(base, os.path.dirname(rel)), exist_ok=True)
        with open(os.path.join(base, rel), "w") as handle:
            handle.write("sentinel " + rel)
    return dir_listing(base)


def _outside(listing, prefix):
    return dict((k, v) for k, v in listing.items() if not (k == prefix or k.startswith(prefix + "/")))


def _manifest_view(members):
    view = {}
    for entry in members:
        rel = os.path.relpath(entry["path"], "config/demo")
        view[rel] = "file" if entry["type"] == "hardlink" else entry["type"]
    return view


def _disk_view(path):
    view = {".": "dir"}
    for directory, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(directory, name)
            st = os.lstat(full)
            kind = "dir" if stat.S_ISDIR(st.st_mode) else "symlink" if stat.S_ISLNK(st.st_mode) else "file"
            view[os.path.relpath(full, path)] = kind
    return view


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entries(), max_size=8))
def test_random_backup_streams_never_write_outside_and_restore_exactly_or_refuse(items):
    base = tempfile.mkdtemp(prefix="fleetops-prop-")
    try:
        target = os.path.join(base, "live", "etc", "demo")
        archive, members = _write_backup(os.path.join(base, "backups"), items, target)
        before = _outside(_sentinel(base), "live/etc")
        try:
            run_module(restore.main, dict(path=archive, safety_backup=False, allowed_paths=[target]))
            refused = None
        except AnsibleFailJson as exc:
            refused = exc.result["msg"]
        after = _outside(dir_listing(base), "live/etc")
        assert after == before
        assert sorted(os.listdir(os.path.join(base, "live", "etc"))) == (["demo", "other"] if refused is None
                                                                          else ["other"])
        if refused is None:
            assert _disk_view(target) == _manifest_view(members)
        else:
            assert refused.startswith("path: ")
    finally:
        subprocess.run(["rm", "-rf", "--", base], check=True)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entries(), max_size=8))
def test_random_release_artifacts_never_write_outside_and_unpack_exactly_or_refuse(items):
    base = tempfile.mkdtemp(prefix="fleetops-prop-")
    try:
        root = os.path.join(base, "opt", "demo")
        os.makedirs(root)
        artifact = os.path.join(base, "demo-1.0.0.tar")
        with open(artifact, "wb") as handle:
            for kind, name, extra in items:
                handle.write(_entry_bytes(kind, name, extra))
            handle.write(bytes(1024))
        with open(artifact, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        before = _outside(_sentinel(base), "opt/demo")
        try:
            run_module(release.main, dict(root=root, version="1.0.0", artifact=artifact, checksum=digest,
                                          shared=["data"]))
            refused = None
        except AnsibleFailJson as exc:
            refused = exc.result["msg"]
        assert _outside(dir_listing(base), "opt/demo") == before
        release_dir = os.path.join(root, "releases", "1.0.0")
        if refused is None:
            view = _disk_view(release_dir)
            expected = {".": "dir", ".fleetops-release": "file", "data": "symlink"}
            for kind, name, _extra in items:
                parts = [p for p in name.split("/") if p not in ("", ".")]
                for index in range(1, len(parts)):
                    expected.setdefault("/".join(parts[:index]), "dir")
                if parts:
                    expected["/".join(parts)] = "file" if kind == "hardlink" else kind
            assert view == expected
        else:
            assert refused.startswith(("artifact: ", "checksum: ", "shared: "))
            assert not os.path.exists(release_dir) or refused.startswith("shared: ")
    finally:
        subprocess.run(["rm", "-rf", "--", base], check=True)


def test_the_slow_flag_raises_the_number_of_examples(pytestconfig):
    assert EXAMPLES == (3000 if pytestconfig.getoption("--slow") else 300)
    assert time.time() > 0


def test_backup_refuses_a_tree_whose_links_restore_would_refuse(tmp_path):
    config = tmp_path / "etc" / "demo"
    config.mkdir(parents=True)
    os.symlink(".", str(config / "l1"))
    os.symlink("l1/../elsewhere", str(config / "x"))  # text says inside; resolved through l1 it leaves
    result = fail(backup.main, dict(service="demo", host="app1", dest_dir=str(tmp_path / "backups"),
                                    paths=[dict(path=str(config), kind="config")]))
    assert result["msg"] == (
        "paths[0].path: %s/x: symbolic link to l1/../elsewhere escapes its destination config/demo; restore "
        "refuses that, so it cannot be backed up" % config)


def test_check_mode_finds_a_root_named_twice(tmp_path):
    target = tmp_path / "live" / "etc" / "demo"
    paths = config_paths(target) + config_paths(tmp_path / "other")
    archive = craft_archive(str(tmp_path / "backups"), [ROOT], paths=paths)
    result = fail(restore.main, dict(path=archive), check_mode=True)
    assert result["msg"] == ("path: archive %s is damaged, nothing was restored: MANIFEST: MANIFEST names the "
                             "backed-up path config/demo twice" % archive)


TREE_OPS = st.lists(st.tuples(st.sampled_from(["dir", "file", "symlink", "hardlink"]),
                              st.sampled_from(["a", "b", "a/c", "b/d", "a/c/e"]),
                              st.sampled_from([0o755, 0o2775, 0o1777, 0o700, 0o640, 0o4755, 0o600]),
                              st.sampled_from(["a", "../b", "c/..", ".", "a/c/e", "..", "b/d/../.."])),
                    max_size=10)


@settings(max_examples=max(EXAMPLES // 6, 50), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TREE_OPS)
def test_every_backup_it_makes_passes_restore_test_and_restores_identically(ops):
    base = tempfile.mkdtemp(prefix="fleetops-rt-")
    try:
        config = os.path.join(base, "etc", "demo")
        os.makedirs(config)
        for kind, rel, mode, link in ops:
            path = os.path.join(config, rel)
            if os.path.lexists(path) or not os.path.isdir(os.path.dirname(path)) \
                    or os.path.islink(os.path.dirname(path)):
                continue
            if kind == "dir":
                os.mkdir(path)
                os.chmod(path, mode & 0o3777 | 0o700)
            elif kind == "file":
                with open(path, "wb") as handle:
                    handle.write(rel.encode())
                os.chmod(path, mode)
            elif kind == "symlink":
                os.symlink(link, path)
            else:
                source = os.path.join(config, link)
                if os.path.isfile(source) and not os.path.islink(source) \
                        and os.path.realpath(source).startswith(config + "/"):
                    os.link(source, path)
        args = dict(service="demo", host="app1", dest_dir=os.path.join(base, "backups"),
                    paths=[dict(path=config, kind="config")])
        try:
            archive = run_module(backup.main, args)["archive"]
        except AnsibleFailJson as exc:
            assert "cannot be backed up" in exc.result["msg"], exc.result["msg"]
            return
        verified = run_module(backup_verify.main, dict(path=archive, mode="restore_test"))
        assert verified["results"][0]["ok"] is True
        before = _full_tree(config)
        run_module(restore.main, dict(path=archive, safety_backup=False, allowed_paths=[config]))
        after = _full_tree(config)
        # Files lose set-user-ID/set-group-ID (reported); everything else comes back as it was.
        strip = dict((k, v[:1] + ((v[1] & ~0o6000) if v[0] == stat.S_IFREG else v[1],) + v[2:])
                     for k, v in before[0].items())
        assert after[0] == strip and after[1] == before[1]
    finally:
        subprocess.run(["rm", "-rf", "--", base], check=True)
