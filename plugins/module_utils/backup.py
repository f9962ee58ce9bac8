# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups of a service's configuration and state on its host: make, list, prune.

:func:`validate_backup` checks the options, :func:`create_backup` writes an archive
(format in ``backup_archive``): live state is taken from ``snapshot_command`` (a
consistent copy, e.g. an SQLite online backup) rather than read while the service
writes it. The archive is written to a temporary name in the archive directory,
fsynced, linked to its final name (never replacing an existing one), the directory
fsynced, and only then the sidecar is written (atomically), so an interrupted run
never leaves anything that counts as a complete backup; its temporary files are
removed by the next run.

:func:`list_archives` tells complete archives (valid sidecar) from incomplete ones;
:func:`plan_prune` applies ``retention.retention_select`` to the complete ones and
:func:`apply_prune` deletes. No AnsibleModule inside; Python 3.8+, standard library
only, ``zstd`` CLI.
"""

from __future__ import annotations

import errno
import grp
import json
import os
import pwd
import re
import shlex
import socket
import stat
import subprocess
import tarfile
import time

from ansible_collections.fleetops.lifecycle.plugins.module_utils import retention
from ansible_collections.fleetops.lifecycle.plugins.module_utils.archive_safety import unsafe_members
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import (
    FORMAT,
    MANIFEST,
    METADATA,
    SUFFIX,
    TOOL,
    TOOL_VERSION,
    ArchiveWriter,
    BackupError,
    iso_time,
    load_sidecar,
    load_verified,
    sidecar_path,
    verified_path,
    write_json_atomic,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_runs import (
    TempRun,
    find_leftovers,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import (
    CREATE_FLAGS,
    READ_FLAGS,
    fsync_dir,
    remove_path,
)

KINDS = ("scheduled", "pre-upgrade", "manual", "pre-restore")
PATH_KINDS = ("config", "state")
DEFAULT_DEST_ROOT = "/var/backups/fleetops"
DEFAULT_STALE_AGE = 3600
DEFAULT_SNAPSHOT_TIMEOUT = 600
SNAPSHOT_PLACEHOLDER = "{snapshot_dir}"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_PATH_KEYS = ("path", "kind", "name")


# --- options ---------------------------------------------------------------------------


def validate_name(value, option):
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise BackupError("%s: %r is not a valid name (letters, digits, '_', '.', '-'; not starting with "
                          "'.', '_' or '-')" % (option, value))
    return value


def validate_abs_dir(value, option):
    if not isinstance(value, str) or not os.path.isabs(value):
        raise BackupError("%s: %r must be an absolute path" % (option, value))
    return os.path.normpath(value)


def default_dest_dir(service):
    return os.path.join(DEFAULT_DEST_ROOT, service)


def resolve_dest_dir(params, required_service=True):
    """``dest_dir`` from the options, defaulting to ``/var/backups/fleetops/<service>``."""
    dest_dir = params.get("dest_dir")
    if dest_dir:
        return validate_abs_dir(dest_dir, "dest_dir")
    service = params.get("service")
    if service is None and not required_service:
        return None
    if service is None:
        raise BackupError("dest_dir: not given and no service to derive it from (set dest_dir or service)")
    return default_dest_dir(validate_name(service, "service"))


def _validate_path_entry(index, entry):
    option = "paths[%d]" % index
    if not isinstance(entry, dict):
        raise BackupError("%s: %r must be a dict with path, kind and optionally name" % (option, entry))
    unknown = sorted(set(entry) - set(_PATH_KEYS))
    if unknown:
        raise BackupError("%s: unknown key %s (known: %s)" % (option, ", ".join(unknown), ", ".join(_PATH_KEYS)))
    path = validate_abs_dir(entry.get("path"), option + ".path")
    kind = entry.get("kind")
    if kind not in PATH_KINDS:
        raise BackupError("%s.kind: %r is not one of %s" % (option, kind, ", ".join(PATH_KINDS)))
    name = entry.get("name")
    name = validate_name(os.path.basename(path) if name is None else name, option + ".name")
    return dict(path=path, kind=kind, name=name)


def validate_paths(paths):
    """The ``paths`` option as a list of ``{"path", "kind", "name"}``; names unique per kind, no nesting."""
    if not isinstance(paths, list) or not paths:
        raise BackupError("paths: %r must be a non-empty list of {path, kind, name}" % (paths,))
    entries = [_validate_path_entry(index, entry) for index, entry in enumerate(paths)]
    for index, entry in enumerate(entries):
        for other_index, other in enumerate(entries[:index]):
            if (entry["kind"], entry["name"]) == (other["kind"], other["name"]):
                raise BackupError("paths[%d].name: %r is also the name of paths[%d] (kind %s); names must be "
                                  "unique per kind" % (index, entry["name"], other_index, entry["kind"]))
            inner, outer = sorted((entry["path"], other["path"]), key=len, reverse=True)
            if inner == outer or inner.startswith(outer.rstrip("/") + "/"):
                raise BackupError("paths[%d].path: %s overlaps paths[%d].path %s; give paths that do not "
                                  "contain each other" % (index, entry["path"], other_index, other["path"]))
    return entries


def _snapshot_argv(command):
    if command is None or command in ("", []):
        return None
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise BackupError("snapshot_command: %r cannot be split into arguments: %s" % (command, exc)) from exc
    elif isinstance(command, list) and all(isinstance(arg, str) for arg in command):
        argv = list(command)
    else:
        raise BackupError("snapshot_command: %r must be a string or a list of strings" % (command,))
    if not argv or not any(SNAPSHOT_PLACEHOLDER in arg for arg in argv):
        raise BackupError("snapshot_command: %r must contain %s, the directory the snapshot is written to"
                          % (command, SNAPSHOT_PLACEHOLDER))
    return argv


def _int_option(params, key, default, low, high):
    value = params.get(key)
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BackupError("%s: %r must be a whole number from %d to %d" % (key, value, low, high))
    return value


def validate_backup(params):
    """Check the backup module's options; return them normalised (raises BackupError)."""
    service = validate_name(params.get("service"), "service")
    kind = params.get("kind") or "manual"
    if kind not in KINDS:
        raise BackupError("kind: %r is not one of %s" % (kind, ", ".join(KINDS)))
    entries = validate_paths(params.get("paths"))
    argv = _snapshot_argv(params.get("snapshot_command"))
    if argv is not None:
        states = [entry for entry in entries if entry["kind"] == "state"]
        if len(states) != 1:
            raise BackupError("snapshot_command: needs exactly one paths entry with kind=state to replace, "
                              "got %d" % len(states))
    host = params.get("host") or socket.gethostname().split(".")[0]
    release = params.get("release")
    if release is not None and not isinstance(release, str):
        raise BackupError("release: %r must be a string" % (release,))
    return dict(
        service=service,
        host=validate_name(host, "host"),
        kind=kind,
        paths=entries,
        dest_dir=resolve_dest_dir(params),
        snapshot_command=argv,
        snapshot_timeout=_int_option(params, "snapshot_timeout", DEFAULT_SNAPSHOT_TIMEOUT, 1, 86400),
        release=release or None,
        pinned=bool(params.get("pinned")),
        compression_threads=_int_option(params, "compression_threads", 0, 0, 256),
        compression_level=_int_option(params, "compression_level", 3, 1, 19),
    )


# --- what goes into the archive ------------------------------------------------------


def _owner_names(info):
    try:
        uname = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        uname = ""
    try:
        gname = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        gname = ""
    return uname, gname


def _tarinfo(name, info, linkname=""):
    tinfo = tarfile.TarInfo(name)
    tinfo.mode = stat.S_IMODE(info.st_mode)
    tinfo.uid, tinfo.gid = info.st_uid, info.st_gid
    tinfo.uname, tinfo.gname = _owner_names(info)
    tinfo.mtime = int(info.st_mtime)
    if stat.S_ISDIR(info.st_mode):
        tinfo.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(info.st_mode):
        tinfo.type = tarfile.SYMTYPE
        tinfo.linkname = linkname
    else:
        tinfo.size = info.st_size
    return tinfo


def _escapes(root, link_dir, target):
    if os.path.isabs(target):
        return True
    resolved = os.path.normpath(os.path.join(link_dir, target))
    return resolved != root and not resolved.startswith(root.rstrip("/") + "/")


def _walk(source, archive_name, owner_source=None):
    """``(items, skipped)`` for a path: items are ``(archive name, filesystem path, TarInfo)``.

    ``owner_source`` (the live path, when ``source`` is a snapshot of it) gives the
    root's and same-named files' owner and mode.
    """
    items, skipped = [], []
    inodes = {}
    stack = [(source, archive_name)]
    while stack:
        path, name = stack.pop()
        info = os.lstat(path)
        live = _live_counterpart(path, source, owner_source)
        if stat.S_ISLNK(info.st_mode):
            target = os.readlink(path)
            if _escapes(source, os.path.dirname(path), target):
                raise BackupError("paths: %s is a symbolic link to %s, outside %s; restore refuses such links, "
                                  "so it cannot be backed up" % (path, target, source))
            items.append((name, path, _tarinfo(name, info, target)))
        elif stat.S_ISDIR(info.st_mode):
            items.append((name, path, _tarinfo(name, live or info)))
            for child in sorted(os.listdir(path), reverse=True):
                stack.append((os.path.join(path, child), name + "/" + child))
        elif stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) in inodes:
            # Another name of a file already in this path: a hard link, restored as one.
            tinfo = _tarinfo(name, info)
            tinfo.type, tinfo.linkname, tinfo.size = tarfile.LNKTYPE, inodes[(info.st_dev, info.st_ino)], 0
            items.append((name, path, tinfo))
        elif stat.S_ISREG(info.st_mode):
            if info.st_nlink > 1:
                inodes[(info.st_dev, info.st_ino)] = name
            tinfo = _tarinfo(name, info)
            if live is not None:
                tinfo.mode, tinfo.uid, tinfo.gid = stat.S_IMODE(live.st_mode), live.st_uid, live.st_gid
                tinfo.uname, tinfo.gname = _owner_names(live)
            items.append((name, path, tinfo))
        else:
            skipped.append(dict(path=path, reason="not a regular file, directory or symbolic link"))
    return items, skipped


def _live_counterpart(path, source, owner_source):
    if owner_source is None:
        return None
    rel = os.path.relpath(path, source)
    try:
        live = os.lstat(os.path.normpath(os.path.join(owner_source, rel)))
    except OSError:
        return None
    return live if stat.S_IFMT(live.st_mode) == stat.S_IFMT(os.lstat(path).st_mode) else None


def _entry_source(entry, snapshot_dir):
    """Where the entry's content is read from and whose metadata applies."""
    if snapshot_dir is not None and entry["kind"] == "state":
        return snapshot_dir, entry["path"]
    return entry["path"], None


def collect(entries, snapshot_dir=None):
    """Items and skipped files of every entry; raises BackupError naming a missing path."""
    items, skipped, roots = [], [], []
    for index, entry in enumerate(entries):
        source, owner = _entry_source(entry, snapshot_dir)
        if owner is not None and not os.path.isdir(owner):
            owner = None
        if not os.path.lexists(source):
            raise BackupError("paths[%d].path: %s does not exist" % (index, source))
        if os.path.islink(source):
            raise BackupError("paths[%d].path: %s is a symbolic link; give the path it points to"
                              % (index, source))
        archive_name = "%s/%s" % (entry["kind"], entry["name"])
        found, skip = _walk(source, archive_name, owner)
        root_type = "dir" if os.path.isdir(source) else "file"
        refused = unsafe_members([tinfo for _name, _path, tinfo in found], {(entry["kind"], entry["name"]): root_type})
        if refused:
            name, reason = refused[0]
            raise BackupError("paths[%d].path: %s%s: %s; restore refuses that, so it cannot be backed up"
                              % (index, source, name[len(archive_name):], reason))
        items.extend(found)
        skipped.extend(skip)
        roots.append(dict(entry, type=root_type, root=archive_name))
    return items, skipped, roots


# --- writing -------------------------------------------------------------------------


def archive_name(service, host, kind, epoch):
    return "%s-%s-%s-%s%s" % (service, host, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(int(epoch))), kind,
                              SUFFIX)


def _free_archive_name(dest_dir, request, epoch):
    """The archive name for ``epoch``, moved on by a second while that name is taken."""
    for offset in range(3600):
        name = archive_name(request["service"], request["host"], request["kind"], epoch + offset)
        path = os.path.join(dest_dir, name)
        if not os.path.lexists(path) and not os.path.lexists(sidecar_path(path)):
            return name
    raise BackupError("dest_dir: no free archive name in %s" % dest_dir)


def build_metadata(request, roots, epoch):
    return dict(
        format=FORMAT, tool=TOOL, tool_version=TOOL_VERSION, host=request["host"], service=request["service"],
        release=request["release"], kind=request["kind"], pinned=request["pinned"], created=iso_time(epoch),
        created_epoch=round(epoch, 3), compression="zstd",
        paths=[dict(path=r["path"], kind=r["kind"], name=r["name"], type=r["type"], root=r["root"],
                    snapshot=bool(request.get("snapshot_command")) and r["kind"] == "state") for r in roots],
    )


def manifest_entry(name, tinfo, digest):
    entry = dict(path=name, type=_type_name(tinfo), mode="%04o" % tinfo.mode, size=tinfo.size if tinfo.isreg() else 0)
    if digest is not None:
        entry["sha256"] = digest
    if tinfo.issym() or tinfo.islnk():
        entry["linkname"] = tinfo.linkname
    return entry


def _type_name(tinfo):
    return "dir" if tinfo.isdir() else "symlink" if tinfo.issym() else "hardlink" if tinfo.islnk() else "file"


def _open_source(path, tinfo):
    fd = os.open(path, READ_FLAGS)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "changed into something other than a regular file while backing up", path)
    tinfo.size = min(tinfo.size, info.st_size)  # shrank since it was listed: archive what is there now
    return fd


def write_archive(fd, items, metadata, threads, level):
    """Stream METADATA, the items and MANIFEST through zstd into ``fd``; return a summary."""
    writer = ArchiveWriter(fd, threads=threads, level=level)
    try:
        meta_bytes = json.dumps(metadata, indent=2, sort_keys=True).encode("utf-8")
        meta_sha256 = writer.add_bytes(METADATA, meta_bytes, metadata["created_epoch"])
        manifest = dict(format=FORMAT, metadata_sha256=meta_sha256, paths=metadata["paths"], members=[])
        for name, path, tinfo in items:
            source = _open_source(path, tinfo) if tinfo.isreg() else None
            try:
                digest = writer.add(tinfo, source)
            except OSError as exc:
                if exc.filename is None and not isinstance(exc, BrokenPipeError):
                    exc.filename = path
                raise
            finally:
                if source is not None:
                    os.close(source)
            manifest["members"].append(manifest_entry(name, tinfo, digest))
        manifest_sha256 = writer.add_bytes(MANIFEST, json.dumps(manifest, sort_keys=True).encode("utf-8"),
                                           metadata["created_epoch"])
        size = writer.close()
    except BaseException as exc:
        writer.abort(exc)
        raise
    return dict(manifest_sha256=manifest_sha256, size=size, members=len(manifest["members"]),
                data_bytes=writer.data_bytes)


def _run_snapshot(request, snapshot_dir):
    argv = [arg.replace(SNAPSHOT_PLACEHOLDER, snapshot_dir) for arg in request["snapshot_command"]]
    env = dict(os.environ, FLEETOPS_SNAPSHOT_DIR=snapshot_dir)
    try:
        proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=request["snapshot_timeout"], check=False)
    except subprocess.TimeoutExpired as exc:
        raise BackupError("snapshot_command: %s did not finish within %d s (snapshot_timeout); nothing was archived"
                          % (shlex.join(argv), request["snapshot_timeout"])) from exc
    except OSError as exc:
        raise BackupError("snapshot_command: cannot run %s: %s" % (argv[0], exc.strerror or exc)) from exc
    if proc.returncode != 0:
        raise BackupError(
            "snapshot_command: %s failed with exit status %d: %s; nothing was archived"
            % (shlex.join(argv), proc.returncode, proc.stderr.decode("utf-8", "replace").strip()[-2000:]),
            snapshot_stdout=proc.stdout.decode("utf-8", "replace")[-2000:],
        )
    return proc.stdout.decode("utf-8", "replace").strip()[-2000:]


def _publish(temp, final, dest_dir):
    """Give the finished temporary archive its final name without replacing anything."""
    os.link(temp, final)
    os.unlink(temp)
    fsync_dir(dest_dir)


def _prepare_dest_dir(dest_dir):
    try:
        os.makedirs(dest_dir, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise BackupError("dest_dir: cannot create %s: %s" % (dest_dir, exc.strerror or exc)) from exc
    if not os.path.isdir(dest_dir):
        raise BackupError("dest_dir: %s is not a directory" % dest_dir)


def _sidecar(name, summary, metadata):
    return dict(format=FORMAT, archive=name, manifest_sha256=summary["manifest_sha256"], size=summary["size"],
                members=summary["members"], data_bytes=summary["data_bytes"], metadata=metadata)


def _write_backup(request, run, name, started):
    """The part of a backup run that writes: snapshot, archive, publish, sidecar."""
    dest_dir = request["dest_dir"]
    snapshot_dir, snapshot_output = None, None
    if request["snapshot_command"]:
        snapshot_dir = run.path("snapshot")
        os.mkdir(snapshot_dir, 0o700)
        snapshot_output = _run_snapshot(request, snapshot_dir)
    items, skipped, roots = collect(request["paths"], snapshot_dir)
    metadata = build_metadata(request, roots, started)
    temp = run.path("tar.zst")
    fd = os.open(temp, CREATE_FLAGS, 0o600)
    try:
        summary = write_archive(fd, items, metadata, request["compression_threads"], request["compression_level"])
        os.fsync(fd)
    finally:
        os.close(fd)
    final = os.path.join(dest_dir, name)
    _publish(temp, final, dest_dir)
    try:
        write_json_atomic(sidecar_path(final), _sidecar(name, summary, metadata), run.path("json"))
    except BaseException:
        remove_path(final)  # an archive without its sidecar must not stay behind
        raise
    return final, summary, metadata, skipped, snapshot_output


def create_backup(request, check_mode=False, now=None):
    """Make one archive as ``request`` (from :func:`validate_backup`) says; return the result dict."""
    started = time.time() if now is None else now
    clock = time.monotonic()
    dest_dir = request["dest_dir"]
    if check_mode:
        return _predict_backup(request, started)
    _prepare_dest_dir(dest_dir)
    leftovers, in_use = find_leftovers(dest_dir, remove=True)
    name = _free_archive_name(dest_dir, request, started)
    try:
        with TempRun(dest_dir, "backup", target=name) as run:
            final, summary, metadata, skipped, snapshot_output = _write_backup(request, run, name, started)
    except OSError as exc:
        raise BackupError("dest_dir: backup into %s failed, nothing was kept: %s%s"
                          % (dest_dir, exc.strerror or exc, " (%s)" % exc.filename if exc.filename else ""),
                          errno=exc.errno, leftovers_removed=[item["path"] for item in leftovers]) from exc
    duration = max(time.monotonic() - clock, 1e-6)
    return dict(
        changed=True, archive=final, sidecar=sidecar_path(final), size=summary["size"],
        manifest_sha256=summary["manifest_sha256"], members=summary["members"], data_bytes=summary["data_bytes"],
        duration=round(duration, 3),
        throughput_mib_s=round(summary["data_bytes"] / duration / (1 << 20), 1), metadata=metadata,
        skipped=skipped, snapshot_output=snapshot_output,
        leftovers_removed=[item["path"] for item in leftovers], runs_in_progress=in_use,
    )


def _predict_backup(request, started):
    dest_dir = request["dest_dir"]
    entries = [e for e in request["paths"] if not (request["snapshot_command"] and e["kind"] == "state")]
    items, skipped, roots = collect(entries)
    leftovers, in_use = find_leftovers(dest_dir) if os.path.isdir(dest_dir) else ([], [])
    name = _free_archive_name(dest_dir, request, started) if os.path.isdir(dest_dir) else archive_name(
        request["service"], request["host"], request["kind"], started)
    snapshot = [e["path"] for e in request["paths"] if request["snapshot_command"] and e["kind"] == "state"]
    return dict(
        changed=True, archive=os.path.join(dest_dir, name), sidecar=sidecar_path(os.path.join(dest_dir, name)),
        size=None, manifest_sha256=None, members=len(items), data_bytes=sum(t.size for _n, _p, t in items if t.isreg()),
        duration=0.0, throughput_mib_s=None, metadata=build_metadata(request, roots, started), skipped=skipped,
        snapshot_output=None, would_archive=[n for n, _p, _t in items], snapshot_paths=snapshot,
        leftovers_removed=[item["path"] for item in leftovers], runs_in_progress=in_use,
    )


# --- listing and pruning ---------------------------------------------------------------


def list_archives(dest_dir, service=None):
    """``(complete, incomplete)`` archives in ``dest_dir``, newest first by name.

    ``complete``: ``{"path", "name", "sidecar", "verified"}`` (only those of ``service``
    when given); ``incomplete``: ``{"path", "name", "reason", "mtime"}``.
    """
    try:
        names = sorted(os.listdir(dest_dir), reverse=True)
    except FileNotFoundError:
        return [], []
    complete, incomplete = [], []
    for name in names:
        path = os.path.join(dest_dir, name)
        if name.startswith(".") or not name.endswith(SUFFIX) or not os.path.isfile(path):
            continue
        sidecar, reason = load_sidecar(path)
        if sidecar is None:
            incomplete.append(dict(path=path, name=name, reason=reason, mtime=os.lstat(path).st_mtime))
        elif service is None or sidecar["metadata"].get("service") == service:
            complete.append(dict(path=path, name=name, sidecar=sidecar, verified=load_verified(path)))
    return complete, incomplete


def retention_input(archive):
    """The mapping ``retention.retention_select`` takes for a complete archive."""
    metadata = archive["sidecar"]["metadata"]
    verified = archive["verified"]
    last = verified.get("last") if isinstance(verified.get("last"), dict) else {}
    content = verified.get("content_verified_epoch")
    return dict(
        name=archive["name"], created=metadata["created_epoch"],
        verified=content if isinstance(content, (int, float)) and not isinstance(content, bool) else None,
        pinned=metadata.get("pinned") is True, ok=last.get("ok") is not False, kind=metadata.get("kind"),
    )


def plan_prune(dest_dir, policy, service=None, stale_age=DEFAULT_STALE_AGE, now=None):
    """What a prune of ``dest_dir`` deletes and keeps, with reasons (reads only).

    ``policy``: keyword arguments of ``retention.retention_select`` (mode, keep_daily,
    keep_weekly, keep_monthly, keep_oldest, timezone). Returns ``{"keep", "delete",
    "incomplete", "leftovers", "in_use"}``; each deletion has ``path``, ``files``
    (archive, sidecar, verification record) and ``reason``.
    """
    now = time.time() if now is None else now
    complete, incomplete = list_archives(dest_dir, service)
    by_name = dict((a["name"], a) for a in complete)
    try:
        selection = retention.retention_select([retention_input(a) for a in complete], now=now, **policy)
    except (TypeError, ValueError) as exc:
        raise BackupError("retention: %s" % exc) from exc
    delete = []
    for item in selection["delete"]:
        path = by_name[item["name"]]["path"]
        delete.append(dict(path=path, name=item["name"], reason=item["reason"], files=_archive_files(path)))
    stale = []
    for item in incomplete:
        if now - item["mtime"] >= stale_age:
            stale.append(dict(path=item["path"], name=item["name"], files=_archive_files(item["path"]),
                              reason="incomplete archive older than %d s: %s" % (stale_age, item["reason"])))
    leftovers, in_use = find_leftovers(dest_dir, min_age=stale_age, now=now)
    keep = [dict(path=by_name[k["name"]]["path"], name=k["name"], reasons=k["reasons"]) for k in selection["keep"]]
    return dict(keep=keep, delete=delete, incomplete=stale, leftovers=leftovers, in_use=in_use,
                future=[by_name[name]["path"] for name in selection["future"]])


def _archive_files(path):
    # The sidecar first: once it is gone the archive no longer counts as complete.
    return [p for p in (sidecar_path(path), verified_path(path), path) if os.path.lexists(p)]


def apply_prune(dest_dir, plan, stale_age=DEFAULT_STALE_AGE, now=None):
    """Delete what :func:`plan_prune` selected; return the paths removed."""
    removed = []
    try:
        for item in plan["delete"] + plan["incomplete"]:
            for path in item["files"]:
                remove_path(path)
                removed.append(path)
            fsync_dir(dest_dir)
        leftovers, _in_use = find_leftovers(dest_dir, min_age=stale_age, now=now, remove=True)
    except OSError as exc:
        raise BackupError("dest_dir: pruning %s failed after removing %d files: %s"
                          % (dest_dir, len(removed), exc), removed=removed) from exc
    removed.extend(item["path"] for item in leftovers)
    return removed


def validate_prune(params):
    """Check the backup_prune module's options; return ``{"dest_dir", "service", "policy", "stale_age"}``."""
    service = params.get("service")
    if service is not None:
        validate_name(service, "service")
    policy = dict((key, params.get(key)) for key in ("mode", "keep_daily", "keep_weekly", "keep_monthly",
                                                        "keep_oldest", "timezone", "safety_days")
                  if params.get(key) is not None)
    try:
        retention.retention_select([], **policy)
    except (TypeError, ValueError) as exc:
        raise BackupError(str(exc)) from exc
    dest_dir = resolve_dest_dir(params)
    if not os.path.isdir(dest_dir):
        raise BackupError("dest_dir: %s does not exist or is not a directory" % dest_dir)
    return dict(dest_dir=dest_dir, service=service, policy=policy,
                stale_age=_int_option(params, "stale_age", DEFAULT_STALE_AGE, 0, 10 * 365 * 86400))
