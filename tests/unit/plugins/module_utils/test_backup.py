# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for module_utils.backup, backup_archive and backup_verify: real files, real zstd."""

from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import random
import signal
import subprocess
import sys
import tarfile
import time

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import backup, backup_archive, backup_verify
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import (
    BackupError,
    load_sidecar,
    load_verified,
    sidecar_path,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_runs import (
    TempRun,
    find_leftovers,
)
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.backup_fixtures import (
    Service,
    craft_archive,
    flip_byte,
    info,
)
from hypothesis import given, settings
from hypothesis import strategies as st

COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(backup.__file__), "..", "..", "..", "..", ".."))


@pytest.fixture
def service(tmp_path):
    return Service(tmp_path)


def archive_names(tar_path):
    proc = subprocess.run(["zstd", "-dc", tar_path], stdout=subprocess.PIPE, check=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        return tar.getnames()


# ----------------------------------------------------------------------- options


@pytest.mark.parametrize("change, message", [
    (dict(service="bad name"), "service: 'bad name' is not a valid name"),
    (dict(kind="weekly"), "kind: 'weekly' is not one of scheduled, pre-upgrade, manual, pre-restore"),
    (dict(dest_dir="relative/dir"), "dest_dir: 'relative/dir' must be an absolute path"),
    (dict(paths=[]), "paths: [] must be a non-empty list"),
    (dict(paths=[dict(path="etc/demo", kind="config")]), "paths[0].path: 'etc/demo' must be an absolute path"),
    (dict(paths=[dict(path="/etc/demo", kind="cache")]), "paths[0].kind: 'cache' is not one of config, state"),
    (dict(paths=[dict(path="/etc/demo", kind="config", name="../x")]), "paths[0].name: '../x' is not a valid name"),
    (dict(paths=[dict(path="/etc/demo", kind="config", colour="red")]), "paths[0]: unknown key colour"),
    (dict(paths=[dict(path="/a/demo", kind="config"), dict(path="/b/demo", kind="config")]),
     "paths[1].name: 'demo' is also the name of paths[0]"),
    (dict(paths=[dict(path="/etc/demo", kind="config"), dict(path="/etc/demo/x", kind="state")]),
     "paths[1].path: /etc/demo/x overlaps paths[0].path /etc/demo"),
    (dict(snapshot_command="cp a b"), "snapshot_command: 'cp a b' must contain {snapshot_dir}"),
    (dict(snapshot_command=["cp", 3]), "snapshot_command: ['cp', 3] must be a string or a list of strings"),
    (dict(snapshot_command="cp 'a {snapshot_dir}"), "snapshot_command: \"cp 'a {snapshot_dir}\" cannot be split"),
    (dict(snapshot_command="cp x {snapshot_dir}", paths=[dict(path="/etc/demo", kind="config")]),
     "snapshot_command: needs exactly one paths entry with kind=state"),
    (dict(compression_threads=-1), "compression_threads: -1 must be a whole number from 0 to 256"),
    (dict(compression_level=20), "compression_level: 20 must be a whole number from 1 to 19"),
    (dict(snapshot_timeout=0), "snapshot_timeout: 0 must be a whole number from 1 to 86400"),
    (dict(host="a/b"), "host: 'a/b' is not a valid name"),
])
def test_bad_backup_options_name_the_option_and_value(service, change, message):
    with pytest.raises(BackupError) as info:
        backup.validate_backup(service.params(**change))
    assert message in info.value.msg
    assert not os.path.exists(service.dest)


def test_dest_dir_defaults_to_the_service_directory(service):
    params = service.params()
    del params["dest_dir"]
    assert backup.validate_backup(params)["dest_dir"] == "/var/backups/fleetops/demo"


def test_a_missing_path_fails_naming_it_and_writes_nothing(service):
    with pytest.raises(BackupError) as info:
        service.backup(paths=[dict(path=service.config + "-gone", kind="config")])
    assert info.value.msg == "dest_dir: backup into %s failed, nothing was kept: paths[0].path: %s-gone does not " \
        "exist" % (service.dest, service.config) or "does not exist" in info.value.msg
    assert os.listdir(service.dest) == []


def test_a_symlink_leading_out_of_a_path_is_refused(service):
    os.symlink("/etc/passwd", os.path.join(service.config, "passwd"))
    with pytest.raises(BackupError) as info:
        service.backup()
    assert "is a symbolic link to /etc/passwd, outside" in info.value.msg
    assert os.listdir(service.dest) == []


# ----------------------------------------------------------------------- making archives


def test_backup_writes_archive_sidecar_and_manifest(service):
    result = service.backup(now=1796004000.0, kind="scheduled", release="1.2.0", pinned=True)
    name = "demo-app1-20261130T020000Z-scheduled.tar.zst"
    assert result["archive"] == os.path.join(service.dest, name)
    assert sorted(os.listdir(service.dest)) == [name, name + ".json"]
    assert oct(os.stat(result["archive"]).st_mode & 0o777) == "0o600"
    sidecar, reason = load_sidecar(result["archive"])
    assert reason is None
    assert sidecar["size"] == result["size"] == os.path.getsize(result["archive"])
    scan = backup_verify.scan_archive(result["archive"])
    assert sidecar["manifest_sha256"] == result["manifest_sha256"] == scan.manifest_sha256
    meta = sidecar["metadata"]
    assert (meta["service"], meta["host"], meta["kind"], meta["release"], meta["pinned"]) == (
        "demo", "app1", "scheduled", "1.2.0", True)
    assert meta["created"] == "2026-11-30T02:00:00Z" and meta["created_epoch"] == 1796004000.0
    names = archive_names(result["archive"])
    assert names[0] == "METADATA" and names[-1] == "MANIFEST"
    assert "config/demo/demo.ini" in names and "state/demo/state.db" in names
    assert result["members"] == len(names) - 2
    assert result["leftovers_removed"] == [] and result["throughput_mib_s"] > 0


def test_same_second_backups_get_distinct_names(service):
    first = service.backup(now=1796004000.0)
    second = service.backup(now=1796004000.0)
    assert first["archive"] != second["archive"]
    assert second["archive"].endswith("20261130T020001Z-manual.tar.zst")


def test_check_mode_predicts_and_writes_nothing(service):
    request = backup.validate_backup(service.params(snapshot_command="cp x {snapshot_dir}/y"))
    result = backup.create_backup(request, check_mode=True)
    assert result["changed"] is True and result["manifest_sha256"] is None
    assert "config/demo/demo.ini" in result["would_archive"]
    assert result["snapshot_paths"] == [service.state]
    assert not os.path.exists(service.dest)


def test_snapshot_command_replaces_the_live_state(service):
    live_db = os.path.join(service.state, "state.db")
    os.chmod(live_db, 0o640)
    command = [sys.executable, "-c", "import sys; open(sys.argv[1] + '/state.db', 'wb').write(b'snapshot')",
               "{snapshot_dir}"]
    result = service.backup(snapshot_command=command)
    names = archive_names(result["archive"])
    assert "state/demo/state.db" in names and "state/demo/notes.txt" not in names
    scan = backup_verify.scan_archive(result["archive"], lambda name: True)
    entry = [m for m in scan.manifest["members"] if m["path"] == "state/demo/state.db"][0]
    assert entry["size"] == len(b"snapshot") and entry["mode"] == "0640"  # mode of the live file
    assert result["metadata"]["paths"][1]["snapshot"] is True
    assert [n for n in os.listdir(service.dest) if n.startswith(".")] == []


def test_a_failing_snapshot_command_keeps_nothing(service):
    with pytest.raises(BackupError) as info:
        service.backup(snapshot_command=["sh", "-c", "echo disk on fire >&2; exit 3", "{snapshot_dir}"])
    assert "snapshot_command:" in info.value.msg and "exit status 3" in info.value.msg
    assert "disk on fire" in info.value.msg
    assert os.listdir(service.dest) == []


# ----------------------------------------------------------------------- verification


@pytest.mark.parametrize("mode", backup_verify.MODES)
def test_every_mode_accepts_a_good_archive(service, tmp_path, mode):
    archive = service.backup()["archive"]
    result = backup_verify.verify_archive(archive, mode, (1, 2) if mode == "subset" else None, str(tmp_path))
    assert result["ok"], result["problems"]
    assert result["members"] == 8
    if mode == "full":
        assert result["checked_members"] == 4 and result["checked_bytes"] > 200000


def test_a_flipped_byte_fails_verification_naming_archive_and_member(service):
    archive = service.backup()["archive"]
    # Inside the compressed state.db data: zstd's frame checksum fails.
    flip_byte(archive, os.path.getsize(archive) // 2)
    result = backup_verify.verify_archive(archive, "full")
    assert not result["ok"]
    text = backup_verify.describe_failure(result)
    assert archive in text and "zstd cannot decompress it" in text
    record = backup_verify.record_verification(result)
    assert record["last"]["ok"] is False and record["content_verified"] is None


def test_a_member_changed_inside_a_consistent_archive_is_named(service, tmp_path):
    # Rebuild the archive with one member's content changed but the old manifest kept.
    good = craft_archive(str(tmp_path / "a"), [info("config/demo", tarfile.DIRTYPE, mode=0o755),
                                               info("config/demo/a.ini", data=b"a=1\n")])
    scan = backup_verify.scan_archive(good, lambda name: True)
    manifest = scan.manifest
    manifest["members"][1]["sha256"] = "0" * 64
    # Re-pack with the tampered manifest and a matching sidecar.
    bad = craft_archive(str(tmp_path / "b"), [info("config/demo", tarfile.DIRTYPE, mode=0o755),
                                              info("config/demo/a.ini", data=b"a=2\n")])
    result = backup_verify.verify_archive(bad, "full")
    assert result["ok"]  # consistent with its own manifest
    scan = backup_verify.scan_archive(bad, lambda name: True)
    scan.manifest["members"][1]["sha256"] = manifest["members"][1]["sha256"]
    problems = backup_verify.manifest_problems(scan)
    assert problems == [dict(member="config/demo/a.ini", problem=problems[0]["problem"])]
    assert "differs from the MANIFEST" in problems[0]["problem"]


def test_a_flipped_byte_anywhere_fails_even_the_structure_check(service):
    # Nothing hashes the compressed bytes: zstd's frame checksum, the member sha256s and
    # the MANIFEST's sha256 in the sidecar must catch damage at any offset.
    archive = service.backup()["archive"]
    size = os.path.getsize(archive)
    rng = random.Random(7)
    for offset in [0, 5, size - 1, size - 5] + rng.sample(range(size), 12):
        flip_byte(archive, offset)
        try:
            result = backup_verify.verify_archive(archive, "structure")
            assert not result["ok"], "byte %d of %d flipped and the structure check passed" % (offset, size)
        finally:
            flip_byte(archive, offset)  # flip it back for the next offset
    assert backup_verify.verify_archive(archive, "full")["ok"]


def test_a_manifest_that_differs_from_the_sidecar_is_refused(service, tmp_path):
    archive = craft_archive(str(tmp_path / "a"), [info("config/demo", tarfile.DIRTYPE, mode=0o755),
                                                  info("config/demo/a.ini", data=b"a=1\n")])
    with open(sidecar_path(archive)) as handle:
        sidecar = json.load(handle)
    sidecar["manifest_sha256"] = "0" * 64  # as if the archive had been swapped for another consistent one
    with open(sidecar_path(archive), "w") as handle:
        json.dump(sidecar, handle)
    result = backup_verify.verify_archive(archive, "structure")
    assert not result["ok"]
    assert "MANIFEST: sha256 " in backup_verify.describe_failure(result)
    assert "differs from the sidecar's manifest_sha256 " + "0" * 64 in backup_verify.describe_failure(result)


def test_writeback_starts_on_what_zstd_wrote_and_the_archive_stays_whole(service, monkeypatch):
    ranges = []
    monkeypatch.setattr(backup_archive, "_sync_file_range", lambda: lambda fd, start, count, flags: ranges.append(
        (start, count, flags)))
    monkeypatch.setattr(backup_archive, "WRITEBACK_STEP", 4096)
    monkeypatch.setattr(backup_archive, "WRITEBACK_POLL", 0.001)
    with open(os.path.join(service.state, "media.bin"), "wb") as handle:
        handle.write(os.urandom(6 << 20))  # incompressible: zstd writes ~6 MiB over a while
    result = service.backup()
    assert ranges, "no writeback was started"
    assert all(flags == 2 for _s, _c, flags in ranges)
    position = 0
    for start, count, _flags in ranges:  # contiguous, each range once, inside the file
        assert start == position and count >= 4096
        position += count
    assert position <= result["size"]
    assert backup_verify.verify_archive(result["archive"], "full")["ok"]


def test_verification_is_recorded_atomically(service):
    archive = service.backup()["archive"]
    result = backup_verify.verify_archive(archive, "full")
    record = backup_verify.record_verification(result, now=1796004000.0)
    assert record["content_verified"] == "2026-11-30T02:00:00Z"
    assert load_verified(archive)["last"]["mode"] == "full"
    assert [n for n in os.listdir(service.dest) if n.startswith(".")] == []
    structure = backup_verify.verify_archive(archive, "structure")
    record = backup_verify.record_verification(structure, now=1796004100.0)
    assert record["content_verified"] == "2026-11-30T02:00:00Z"  # structure does not check content


def test_a_full_subset_cycle_counts_as_content_verified(service):
    archive = service.backup()["archive"]
    for part in (1, 2, 3):
        record = backup_verify.record_verification(backup_verify.verify_archive(archive, "subset", (part, 3)),
                                                   now=1796004000.0 + part)
        assert (record.get("content_verified_epoch") is not None) == (part == 3)


@pytest.mark.parametrize("value, message", [
    ("3/2", "subset: '3/2' needs 1 <= n <= t"),
    ("0/4", "subset: '0/4' needs 1 <= n <= t"),
    ("1/0", "subset: '1/0' needs 1 <= n <= t"),
    ("half", "subset: 'half' is not of the form n/t"),
    (None, "subset: None is not of the form n/t"),
])
def test_bad_subsets_are_refused(value, message):
    with pytest.raises(BackupError) as info:
        backup_verify.parse_subset(value)
    assert message in info.value.msg


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=30), unique=True, max_size=60), st.integers(1, 12))
def test_subsets_partition_members_exactly(paths, total):
    parts = [set(p for p in paths if backup_verify.in_subset(p, part, total)) for part in range(1, total + 1)]
    assert set().union(*parts) == set(paths)
    assert sum(len(part) for part in parts) == len(paths)


def test_subset_runs_cover_every_member_once(service):
    archive = service.backup()["archive"]
    checked = []
    for part in range(1, 4):
        scan = backup_verify.scan_archive(archive, lambda name, p=part: backup_verify.in_subset(name, p, 3))
        checked.extend(scan.digests)
    full = backup_verify.scan_archive(archive, lambda name: True)
    assert sorted(checked) == sorted(full.digests)


def test_an_archive_without_sidecar_is_incomplete(service):
    archive = service.backup()["archive"]
    os.unlink(sidecar_path(archive))
    result = backup_verify.verify_archive(archive, "full")
    assert not result["ok"] and "incomplete archive: no sidecar" in result["problems"][0]["problem"]
    complete, incomplete = backup.list_archives(service.dest)
    assert complete == [] and [i["path"] for i in incomplete] == [archive]


@pytest.mark.parametrize("change, reason", [
    (lambda sidecar: [], "the sidecar is not a JSON object"),
    (lambda sidecar: dict(sidecar, format=1), "the sidecar has format 1, expected 2"),
    (lambda sidecar: dict(sidecar, archive="other.tar.zst"), "the sidecar names archive 'other.tar.zst'"),
    (lambda sidecar: dict(sidecar, manifest_sha256="abc"), "the sidecar has no valid manifest_sha256"),
    (lambda sidecar: dict(sidecar, metadata={}), "the sidecar has no metadata with created_epoch"),
    (lambda sidecar: dict(sidecar, size="12"), "the sidecar has no size"),
])
def test_a_bad_sidecar_makes_the_archive_incomplete_and_says_why(service, change, reason):
    archive = service.backup()["archive"]
    with open(sidecar_path(archive)) as handle:
        sidecar = json.load(handle)
    assert backup_archive.sidecar_problem(archive, sidecar) is None
    with open(sidecar_path(archive), "w") as handle:
        json.dump(change(sidecar), handle)
    assert load_sidecar(archive) == (None, reason)
    result = backup_verify.verify_archive(archive, "structure")
    assert not result["ok"] and result["problems"][0]["problem"] == "incomplete archive: " + reason


def test_a_truncated_archive_with_a_stale_sidecar_is_incomplete(service):
    archive = service.backup()["archive"]
    with open(archive, "r+b") as handle:
        handle.truncate(100)
    assert "bytes, the sidecar says" in load_sidecar(archive)[1]


# ----------------------------------------------------------------------- leftovers and SIGKILL


def test_leftovers_of_a_dead_run_are_found_and_removed_live_runs_are_not(service):
    os.makedirs(service.dest)
    live = TempRun(service.dest, "backup")
    open(live.path("tar.zst"), "wb").close()
    # A dead run: its lock is not held by anyone.
    dead = TempRun(service.dest, "backup", target="demo-app1-20261130T020000Z-manual.tar.zst")
    open(dead.path("tar.zst"), "wb").close()
    open(os.path.join(service.dest, "demo-app1-20261130T020000Z-manual.tar.zst"), "wb").close()
    os.close(dead._fd)
    dead._fd = None
    leftovers, in_use = find_leftovers(service.dest, remove=True)
    assert in_use == [live.lock_path]
    assert [os.path.basename(item["path"]) for item in leftovers] == [
        "demo-app1-20261130T020000Z-manual.tar.zst", os.path.basename(dead.path("tar.zst")),
        os.path.basename(dead.lock_path)]
    assert sorted(os.listdir(service.dest)) == sorted(os.path.basename(live.path(s)) for s in ("lock", "tar.zst"))
    live.close()
    assert os.listdir(service.dest) == []


def _lock_seen_by_another_run(lock_path):
    """What a prober reads: the lock's content, and whether its flock is held."""
    fd = os.open(lock_path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = False
        except BlockingIOError:
            held = True
        return json.loads(os.read(fd, 65536).decode()), held
    finally:
        os.close(fd)


def test_a_runs_lock_appears_locked_and_filled(tmp_path):
    run = TempRun(str(tmp_path), "verify", target="x.tar.zst")
    info, held = _lock_seen_by_another_run(run.lock_path)
    assert held and info["purpose"] == "verify" and info["target"] == "x.tar.zst" and info["pid"] == os.getpid()
    assert oct(os.stat(run.lock_path).st_mode & 0o777) == "0o600"
    run.close()
    assert os.listdir(str(tmp_path)) == []


def test_a_lock_in_a_linked_directory(tmp_path):
    os.makedirs(str(tmp_path / "disk"))
    os.symlink(str(tmp_path / "disk"), str(tmp_path / "archives"))
    run = TempRun(str(tmp_path / "archives"), "backup")
    assert _lock_seen_by_another_run(run.lock_path)[1]
    assert os.listdir(str(tmp_path / "disk")) == [os.path.basename(run.lock_path)]
    run.close()


@pytest.mark.parametrize("refusal", [errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL])
def test_without_unnamed_files_the_lock_is_made_in_place(tmp_path, monkeypatch, refusal):
    real_open = os.open

    def no_tmpfile(path, flags, *args, **kwargs):
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(refusal, os.strerror(refusal))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_tmpfile)
    run = TempRun(str(tmp_path), "backup")
    monkeypatch.setattr(os, "open", real_open)
    info, held = _lock_seen_by_another_run(run.lock_path)
    assert held and info["purpose"] == "backup"
    run.close()


def test_a_lock_never_replaces_a_file_of_its_name(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "urandom", lambda size: b"\x01" * size)
    first = TempRun(str(tmp_path), "backup")
    with pytest.raises(FileExistsError):
        TempRun(str(tmp_path), "restore")
    assert _lock_seen_by_another_run(first.lock_path)[0]["purpose"] == "backup"
    assert os.listdir(str(tmp_path)) == [os.path.basename(first.lock_path)]  # nothing else was left
    first.close()


_KILL_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.fleetops.lifecycle.plugins.module_utils import backup
request = backup.validate_backup(dict(service="demo", host="app1", dest_dir=sys.argv[2],
                                      paths=[dict(path=sys.argv[3], kind="state")], compression_threads=1))
print("started", flush=True)
backup.create_backup(request)
"""


def _kill_data(path):
    os.makedirs(path)
    rng = random.Random(7)
    for index in range(16):
        with open(os.path.join(path, "f%02d" % index), "wb") as handle:
            if index % 2:
                handle.write(rng.randbytes(1 << 20) if hasattr(rng, "randbytes") else os.urandom(1 << 20))
            else:
                handle.write((b"row %d of a text-ish file\n" % index) * 40000)


def _assert_complete_ones_verify(dest, checked):
    """Every archive that counts as complete passes a full verification."""
    complete, _incomplete = backup.list_archives(dest)
    for archive in complete:
        if archive["path"] not in checked:
            result = backup_verify.verify_archive(archive["path"], "full")
            assert result["ok"], result["problems"]
            checked.add(archive["path"])
    return len(complete)


def test_sigkill_at_random_points_never_leaves_a_complete_looking_archive(tmp_path):
    data = str(tmp_path / "data")
    dest = str(tmp_path / "dest")
    _kill_data(data)
    rng = random.Random(1234)
    start = time.monotonic()
    completed, checked = 0, set()
    for _iteration in range(10):
        proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, COLLECTIONS_ROOT, dest, data],
                                stdout=subprocess.PIPE)
        proc.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        completed = _assert_complete_ones_verify(dest, checked)
    assert time.monotonic() - start < 20
    # The next run removes every leftover and succeeds.
    request = backup.validate_backup(dict(service="demo", host="app1", dest_dir=dest,
                                          paths=[dict(path=data, kind="state")]))
    result = backup.create_backup(request)
    assert backup_verify.verify_archive(result["archive"], "full")["ok"]
    left = [n for n in os.listdir(dest) if n.startswith(".")]
    assert left == []
    complete, incomplete = backup.list_archives(dest)
    assert incomplete == [] and len(complete) == completed + 1


# ----------------------------------------------------------------------- disk full


@pytest.fixture
def small_tmpfs(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root: run the unit tests as root, as make test does")
    mount = tmp_path / "full"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True,
                          check=False)
    if proc.returncode != 0:
        pytest.fail("cannot mount a tmpfs here: %s" % proc.stderr.decode().strip())
    yield str(mount)
    subprocess.run(["umount", str(mount)], check=True)


def test_disk_full_fails_cleanly_and_leaves_nothing(tmp_path, small_tmpfs):
    data = tmp_path / "data"
    data.mkdir()
    for index in range(4):
        (data / ("blob%d" % index)).write_bytes(os.urandom(1 << 20))
    request = backup.validate_backup(dict(service="demo", host="app1", dest_dir=small_tmpfs,
                                          paths=[dict(path=str(data), kind="state")]))
    with pytest.raises(BackupError) as info:
        backup.create_backup(request)
    assert "No space left on device" in info.value.msg
    assert info.value.result["errno"] == 28
    assert os.listdir(small_tmpfs) == []


# ----------------------------------------------------------------------- prune


def _backups_over_days(service, days):
    archives = []
    for day in range(days):
        archives.append(service.backup(now=1796004000.0 - (days - 1 - day) * 86400)["archive"])
    return archives


def test_prune_plan_keeps_policy_and_deletes_exactly_the_rest(service):
    archives = _backups_over_days(service, 6)
    policy = dict(keep_daily=2, keep_weekly=0, keep_monthly=0, keep_oldest=False)
    plan = backup.plan_prune(service.dest, policy)
    assert [k["path"] for k in plan["keep"]] == archives[:-3:-1]
    assert sorted(d["path"] for d in plan["delete"]) == sorted(archives[:4])
    assert all("older than every period" in d["reason"] for d in plan["delete"])
    before = sorted(os.listdir(service.dest))
    assert len(before) == 12  # planning changes nothing
    removed = backup.apply_prune(service.dest, plan)
    assert sorted(removed) == sorted(p for a in archives[:4] for p in (a, sidecar_path(a)))
    assert sorted(os.listdir(service.dest)) == sorted(
        n for a in archives[-2:] for n in (os.path.basename(a), os.path.basename(a) + ".json"))


def test_prune_never_deletes_the_newest_verified_or_pinned(service):
    archives = _backups_over_days(service, 4)
    backup_verify.record_verification(backup_verify.verify_archive(archives[0], "full"))
    pinned = service.backup(now=1796004000.0 - 10 * 86400, pinned=True)["archive"]
    plan = backup.plan_prune(service.dest, dict(keep_daily=1, keep_weekly=0, keep_monthly=0, keep_oldest=False))
    kept = dict((k["path"], k["reasons"]) for k in plan["keep"])
    assert "newest verified" in kept[archives[0]] and "pinned" in kept[pinned]
    assert sorted(d["path"] for d in plan["delete"]) == sorted(archives[1:3])


def test_incomplete_archives_do_not_count_and_are_removed_when_stale(service):
    archives = _backups_over_days(service, 3)
    os.unlink(sidecar_path(archives[-1]))  # the newest is incomplete
    plan = backup.plan_prune(service.dest, dict(keep_daily=1, keep_weekly=0, keep_monthly=0, keep_oldest=False),
                             stale_age=0)
    assert [k["path"] for k in plan["keep"]] == [archives[1]]
    assert [d["path"] for d in plan["delete"]] == [archives[0]]
    assert [i["path"] for i in plan["incomplete"]] == [archives[2]]
    assert "no sidecar" in plan["incomplete"][0]["reason"]
    young = backup.plan_prune(service.dest, dict(keep_daily=1, keep_weekly=0, keep_monthly=0), stale_age=3600)
    assert young["incomplete"] == []


def test_a_failed_verification_makes_an_archive_not_ok(service):
    archives = _backups_over_days(service, 2)
    flip_byte(archives[0])
    result = backup_verify.verify_archive(archives[0], "full")
    backup_verify.record_verification(result)
    complete, _ = backup.list_archives(service.dest)
    ok = dict((a["path"], backup.retention_input(a)["ok"]) for a in complete)
    assert ok == {archives[0]: False, archives[1]: True}


@pytest.mark.parametrize("change, message", [
    (dict(keep_daily=-1), "keep_daily must be a non-negative integer, got -1"),
    (dict(mode="newest"), "mode must be one of counts, age, got 'newest'"),
    (dict(keep_daily=0, keep_weekly=0, keep_monthly=0), "are all 0"),
    (dict(timezone="Mars/Base"), "timezone must be"),
    (dict(dest_dir="rel"), "dest_dir: 'rel' must be an absolute path"),
    (dict(stale_age=-5), "stale_age: -5 must be a whole number"),
    (dict(service="a b", dest_dir=None), "service: 'a b' is not a valid name"),
])
def test_bad_prune_options(service, change, message):
    os.makedirs(service.dest)
    params = dict(dest_dir=service.dest)
    params.update(change)
    with pytest.raises(BackupError) as info:
        backup.validate_prune(params)
    assert message in info.value.msg


def test_prune_of_a_missing_directory_fails(service):
    with pytest.raises(BackupError) as info:
        backup.validate_prune(dict(dest_dir=service.dest))
    assert "dest_dir: %s does not exist" % service.dest in info.value.msg


def test_sidecar_json_is_what_list_archives_reads(service):
    archive = service.backup()["archive"]
    with open(sidecar_path(archive)) as handle:
        data = json.load(handle)
    data["size"] += 1
    with open(sidecar_path(archive), "w") as handle:
        json.dump(data, handle)
    complete, incomplete = backup.list_archives(service.dest)
    assert complete == [] and "the sidecar says" in incomplete[0]["reason"]
