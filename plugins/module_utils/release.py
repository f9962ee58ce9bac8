# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release directories on an app host: verify, unpack, switch slots, retain.

Layout under a service root (e.g. ``/opt/demo``)::

    releases/<version>/            one unpacked release each
    releases/<version>/.fleetops-release   marker: the artifact's sha256, written last
    releases/.tmp-<version>-<hex>  an unpack in progress (renamed into place when done)
    releases/.old-<version>-<hex>  a release being removed (renamed away first)
    current-<slot>                 symlink per slot to the absolute release path

A release directory counts as complete only when it holds the marker. Unpacking
happens in a temporary directory next to the releases, which gets its marker last
and is then renamed into place, so a reader never sees a half-written release under
its final name; a directory without a marker (an interrupted unpack from an older
tool, or one made by hand) is unpacked again. Slot links are switched by making a
new symlink under a temporary name and renaming it over the old one.

Decisions are pure functions over plain data (:func:`validate_version`,
:func:`version_key`, :func:`unsafe_members`, :func:`plan_release`,
:func:`prunable_releases`); :func:`observe` only reads the host and
:func:`apply_plan` acts. No AnsibleModule inside. This file runs on managed hosts,
so it stays compatible with Python 3.8 and uses the standard library only.
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import re
import shutil
import stat
import tarfile
import zlib

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError, fsync_dir

MARKER = ".fleetops-release"
LINK_PREFIX = "current-"
STATES = ("present", "absent")
VERSION_PATTERN = r"^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$"

_VERSION_RE = re.compile(VERSION_PATTERN)
_VERSION_PARTS_RE = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)(.*)\Z", re.DOTALL)
_SHA256_RE = re.compile(r"[0-9a-f]{64}\Z")
_SLOT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_CHUNK = 1024 * 1024
_MAX_NAME_TRIES = 100


class ReleaseError(ResultError, ValueError):
    """A refusal or failure to report with fail_json: a message plus result keys."""


# --- validation ------------------------------------------------------------------


def validate_version(version, option="version"):
    """Return ``version`` when it is a release version, else raise ReleaseError.

    Accepted: ``MAJOR.MINOR.PATCH`` with an optional ``-prerelease`` or ``+build``
    suffix (:data:`VERSION_PATTERN`), matched against the whole string (a trailing
    newline is not a version). Such a version is also a safe directory name.
    """
    if not isinstance(version, str) or not _VERSION_RE.fullmatch(version):
        raise ReleaseError(
            "%s: %r is not a release version (expected MAJOR.MINOR.PATCH with an "
            "optional -prerelease or +build suffix, e.g. 1.2.0 or 1.2.0-rc.1)" % (option, version)
        )
    return version


def validate_checksum(checksum, option="checksum"):
    """A sha256 hex digest, lower-cased; ``sha256:`` in front is accepted."""
    value = checksum.strip().lower() if isinstance(checksum, str) else checksum
    if isinstance(value, str) and value.startswith("sha256:"):
        value = value[len("sha256:"):]
    if not isinstance(value, str) or not _SHA256_RE.match(value):
        raise ReleaseError(
            "%s: %r is not a sha256 checksum (expected 64 hexadecimal digits)" % (option, checksum)
        )
    return value


def validate_slot(slot, option="slot"):
    """A slot name usable in ``current-<slot>``: letters, digits, '_', '.', '-'."""
    if not isinstance(slot, str) or not _SLOT_RE.match(slot):
        raise ReleaseError(
            "%s: %r is not a slot name (letters, digits, '_', '.', '-'; not starting "
            "with '.', '_' or '-')" % (option, slot)
        )
    return slot


def _identifier_key(identifier):
    # Semantic versioning: numeric identifiers compare numerically and sort before
    # alphanumeric ones, which compare as ASCII text.
    if identifier.isdigit():
        return (0, int(identifier), "")
    return (1, 0, identifier)


def version_key(version):
    """Sort key giving semantic version order.

    ``1.9.0 < 1.10.0``; a prerelease sorts before its release
    (``1.0.0-rc.1 < 1.0.0-rc.2 < 1.0.0``), with prerelease identifiers compared
    as semantic versioning says. Build metadata (``+build``) does not change the
    precedence; it and the literal text only break ties, so the order is total.
    """
    validate_version(version)
    match = _VERSION_PARTS_RE.match(version)
    major, minor, patch, rest = match.groups()
    prerelease, build = (), ""
    if rest.startswith("-"):
        prerelease = tuple(_identifier_key(part) for part in rest[1:].split("."))
    elif rest.startswith("+"):
        build = rest[1:]
    return (int(major), int(minor), int(patch), 0 if prerelease else 1, prerelease, build, version)


def sort_versions(versions):
    """Versions oldest first, in semantic version order."""
    return sorted(versions, key=version_key)


def parse_request(params):
    """Validate the module's options; return them normalised.

    ``root`` must be absolute (it is normalised, so ``/opt/demo/`` and
    ``/opt/demo`` are the same root). Raises ReleaseError naming the option.
    """
    root = params.get("root")
    if not isinstance(root, str) or not os.path.isabs(root):
        raise ReleaseError("root: %r must be an absolute path" % (root,))
    state = params.get("state") or "present"
    if state not in STATES:
        raise ReleaseError("state: %r is not one of %s" % (state, ", ".join(STATES)))
    request = dict(
        root=os.path.normpath(root),
        version=validate_version(params.get("version")),
        artifact=params.get("artifact") or None,
        checksum=None,
        slot=None,
        state=state,
    )
    if params.get("checksum") is not None:
        request["checksum"] = validate_checksum(params["checksum"])
    if params.get("slot") is not None:
        request["slot"] = validate_slot(params["slot"])
        if state == "absent":
            raise ReleaseError(
                "slot: %r is only used with state=present; state=absent never changes a "
                "slot link" % (params["slot"],)
            )
    return request


# --- reading the host --------------------------------------------------------------


def sha256_file(path):
    """The sha256 hex digest of the file at ``path``."""
    with open(path, "rb") as handle:
        return _sha256_handle(handle)


def _sha256_handle(handle):
    digest = hashlib.sha256()
    while True:
        chunk = handle.read(_CHUNK)
        if not chunk:
            return digest.hexdigest()
        digest.update(chunk)


def read_marker(release_dir):
    """The checksum in a release's marker file, or None (missing, unreadable, not a digest)."""
    path = os.path.join(release_dir, MARKER)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(256)
    except OSError:
        return None
    value = data.decode("ascii", "replace").strip().lower()
    return value if _SHA256_RE.match(value) else None


def release_status(release_dir):
    """``(status, marker_checksum)`` of a release directory.

    status: ``absent``; ``complete`` (a real directory holding a valid marker);
    ``incomplete`` (a directory without one); ``other`` (a file, a symlink, ...).
    """
    try:
        info = os.lstat(release_dir)
    except FileNotFoundError:
        return "absent", None
    if not stat.S_ISDIR(info.st_mode):
        return "other", None
    marker = read_marker(release_dir)
    return ("complete", marker) if marker else ("incomplete", None)


def read_link(path):
    """``(kind, target)``: ``("absent", None)``, ``("symlink", target)`` or ``("other", None)``."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "absent", None
    if stat.S_ISLNK(info.st_mode):
        return "symlink", os.readlink(path)
    return "other", None


def slot_links(root):
    """``{slot: raw link target}`` for every ``current-<slot>`` symlink in ``root``."""
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return {}
    links = {}
    for name in sorted(names):
        slot = name[len(LINK_PREFIX):]
        if not name.startswith(LINK_PREFIX) or not _SLOT_RE.match(slot):
            continue
        kind, target = read_link(os.path.join(root, name))
        if kind == "symlink":
            links[slot] = target
    return links


def resolve_link(root, target):
    """Where a link in ``root`` with ``target`` points, lexically normalised."""
    return posixpath.normpath(posixpath.join(root, target))


def linked_slots(root, release_dir, links=None):
    """Slots whose ``current-<slot>`` link points at ``release_dir``.

    A link counts when its target names the directory (absolute or relative to
    ``root``) or when both resolve to the same real path.
    """
    if links is None:
        links = slot_links(root)
    real = os.path.realpath(release_dir) if os.path.lexists(release_dir) else None
    slots = []
    for slot, target in sorted(links.items()):
        link_path = os.path.join(root, LINK_PREFIX + slot)
        if resolve_link(root, target) == release_dir or (
            real is not None and os.path.realpath(link_path) == real
        ):
            slots.append(slot)
    return slots


def _leftover_re(version):
    return re.compile(r"\.(tmp|old)-%s-[0-9a-f]{8}\Z" % re.escape(version))


def find_leftovers(releases_dir, version):
    """Temporary directories of ``version`` left by an interrupted unpack or removal."""
    try:
        names = os.listdir(releases_dir)
    except FileNotFoundError:
        return []
    pattern = _leftover_re(version)
    return [os.path.join(releases_dir, name) for name in sorted(names) if pattern.match(name)]


def list_releases(root):
    """Release directories under ``<root>/releases``, oldest first (version order).

    Each is ``{"version", "path", "complete", "slots"}``: ``complete`` when it holds
    the marker, ``slots`` the slots whose ``current-<slot>`` link points at it.
    Entries whose name is not a release version (temporary directories, files)
    are left out.
    """
    releases_dir = os.path.join(os.path.normpath(root), "releases")
    try:
        names = os.listdir(releases_dir)
    except FileNotFoundError:
        return []
    links = slot_links(root)
    releases = []
    for name in names:
        if not _VERSION_RE.fullmatch(name):
            continue
        path = os.path.join(releases_dir, name)
        status, _marker = release_status(path)
        if status in ("complete", "incomplete"):
            releases.append(dict(
                version=name, path=path, complete=status == "complete",
                slots=linked_slots(os.path.normpath(root), path, links),
            ))
    return sorted(releases, key=lambda release: version_key(release["version"]))


def observe(request, check_mode=False):
    """Everything :func:`plan_release` needs to know about the host (read only)."""
    root = request["root"]
    if os.path.lexists(root) and not os.path.isdir(root):
        raise ReleaseError("root: %s exists and is not a directory" % root)
    releases_dir = os.path.join(root, "releases")
    release_dir = os.path.join(releases_dir, request["version"])
    status, marker = release_status(release_dir)
    links = slot_links(root)
    state = dict(request)
    state.update(
        releases_dir=releases_dir,
        release_dir=release_dir,
        release=status,
        marker_checksum=marker,
        artifact_exists=bool(request.get("artifact")) and os.path.exists(request["artifact"]),
        linked_slots=linked_slots(root, release_dir, links),
        leftovers=find_leftovers(releases_dir, request["version"]),
        check_mode=bool(check_mode),
        link_path=None,
        link="absent",
        link_target=None,
    )
    if request.get("slot"):
        link_path = os.path.join(root, LINK_PREFIX + request["slot"])
        kind, target = read_link(link_path)
        state.update(link_path=link_path, link=kind, link_target=target)
    return state


# --- deciding ----------------------------------------------------------------------


def plan_release(state):
    """The actions that take the host from the observed ``state`` to the request.

    ``state`` is what :func:`observe` returns. The result is a list of dicts, in the
    order to run them, each with an ``action`` key:

    - ``remove_leftover`` (``path``): a temporary directory of this version;
    - ``unpack`` (``artifact``, ``checksum``, ``release_dir``, ``replace``): verify
      and unpack; ``replace`` when an incomplete directory is in the way;
    - ``link`` (``path``, ``target``, ``before``): point a slot link at the release;
    - ``remove`` (``path``): remove the release directory.

    An empty list means nothing to do. Raises ReleaseError, naming the option and
    its value, when the request cannot or must not be carried out: the release
    path is not a directory; removing a release a slot points at; a release to
    unpack without ``artifact``/``checksum`` (or, outside check mode, with an
    artifact that does not exist); the same version already unpacked from an
    artifact with another checksum; a slot link path that is not a symlink.
    """
    version = state["version"]
    release_dir = state["release_dir"]
    status = state["release"]
    if status == "other":
        raise ReleaseError(
            "version: the path of release %s, %s, exists but is not a directory; "
            "refusing to replace it" % (version, release_dir)
        )
    leftovers = [dict(action="remove_leftover", path=path) for path in state.get("leftovers") or ()]
    if state["state"] == "absent":
        if status == "absent":
            return leftovers
        slots = list(state.get("linked_slots") or ())
        if slots:
            raise ReleaseError(
                "version: release %s (%s) is in use by slot %s (%s); point the slot at "
                "another release before removing this one"
                % (version, release_dir, ", ".join(slots),
                   ", ".join(os.path.join(state["root"], LINK_PREFIX + s) for s in slots)),
                slots=slots,
            )
        return leftovers + [dict(action="remove", path=release_dir)]

    actions = []
    checksum = state.get("checksum")
    if status == "complete":
        if checksum and state.get("marker_checksum") != checksum:
            raise ReleaseError(
                "checksum: %s differs from the sha256 %s that release %s was unpacked "
                "from; the same version with other content is refused (remove the "
                "release with state=absent to unpack it again)"
                % (checksum, state.get("marker_checksum"), release_dir),
                expected_checksum=checksum, release_checksum=state.get("marker_checksum"),
            )
    else:
        why = (
            "is not unpacked in %s" % state["releases_dir"] if status == "absent"
            else "in %s has no %s marker (an interrupted unpack) and must be unpacked "
                 "again" % (release_dir, MARKER)
        )
        artifact = state.get("artifact")
        if not artifact:
            raise ReleaseError("artifact: required because release %s %s" % (version, why))
        if not checksum:
            raise ReleaseError("checksum: required with artifact=%s" % artifact)
        if not state.get("artifact_exists") and not state.get("check_mode"):
            raise ReleaseError("artifact: %s does not exist on the host" % artifact)
        actions.extend(leftovers)
        actions.append(dict(
            action="unpack", artifact=artifact, checksum=checksum, release_dir=release_dir,
            replace=status == "incomplete",
        ))
    if state.get("slot"):
        if state.get("link") == "other":
            raise ReleaseError(
                "slot: the link of slot %s, %s, exists and is not a symbolic link; "
                "refusing to replace it"
                % (state["slot"], state["link_path"])
            )
        if state.get("link_target") != release_dir:
            actions.append(dict(
                action="link", path=state["link_path"], target=release_dir,
                before=state.get("link_target"),
            ))
    return actions


def prunable_releases(releases, keep, protected=()):
    """Releases that retention may remove, oldest first.

    ``releases``: version strings or :func:`list_releases` records (a record with
    non-empty ``slots`` is linked). The ``keep`` newest versions (semantic version
    order) are kept; so is every linked release and every version in
    ``protected`` (e.g. the ledger's last good release), whether or not it is
    among the newest. Returns version strings.
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise ReleaseError("keep: %r must be an integer of 0 or more" % (keep,))
    linked = {}
    for release in releases:
        if isinstance(release, str):
            version, slots = release, ()
        else:
            version, slots = release.get("version"), release.get("slots") or ()
        validate_version(version, option="releases")
        linked[version] = linked.get(version, False) or bool(slots)
    protected = set(p for p in (protected or ()) if p)
    newest_first = sorted(linked, key=version_key, reverse=True)
    prune = [
        version for version in newest_first[keep:]
        if version not in protected and not linked[version]
    ]
    return sort_versions(prune)


# --- archive safety ----------------------------------------------------------------


def _member_parts(name):
    """``(parts, problem)`` of a member path relative to the archive root."""
    if name.startswith("/"):
        return None, "absolute path"
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        return None, "path contains '..'"
    return parts, None


def _symlink_problem(parts, target):
    if not target:
        return "symbolic link with an empty target"
    if target.startswith("/"):
        return "symbolic link to absolute path %s" % target
    resolved = list(parts[:-1])
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return "symbolic link to %s escapes the release directory" % target
            resolved.pop()
        else:
            resolved.append(part)
    return None


def _member_problem(member, parts, seen, symlinks):
    if not parts:
        return None if member.isdir() else "the archive root entry is not a directory"
    if parts == (MARKER,):
        return "%s is reserved for the release marker" % MARKER
    for index in range(1, len(parts)):
        parent = parts[:index]
        if parent in symlinks:
            return "path goes through symbolic link %s" % "/".join(parent)
        if seen.get(parent, "dir") != "dir":
            return "parent %s is not a directory" % "/".join(parent)
    if parts in seen and not (member.isdir() and seen[parts] == "dir"):
        return "duplicate member (the path is already in the archive)"
    if member.isdir() or member.isreg():
        return None
    if member.issym():
        return _symlink_problem(parts, member.linkname)
    if member.islnk():
        target, problem = _member_parts(member.linkname)
        if problem:
            return "hard link to %s outside the release directory" % member.linkname
        if seen.get(target) != "file":
            return ("hard link to %s, which is not a regular file earlier in the archive"
                    % member.linkname)
        return None
    if member.ischr() or member.isblk():
        return "device node"
    if member.isfifo():
        return "FIFO"
    return "unsupported member type %r" % member.type


def _kind(member):
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    return "file"


def unsafe_members(tar):
    """Members that must not be unpacked, as ``[(name, reason), ...]`` in archive order.

    ``tar`` is a ``tarfile.TarFile`` or a list of ``TarInfo``. Refused: absolute
    paths, paths with ``..``, paths through a symbolic link or a non-directory of
    the archive, duplicate paths, the marker name at the root, symbolic links that
    are absolute or lead out of the release directory, hard links to anything but
    a regular file earlier in the archive, device nodes, FIFOs and other special
    types. An empty list means the archive is safe to unpack with
    :func:`extract_members`.
    """
    members = tar.getmembers() if hasattr(tar, "getmembers") else list(tar)
    problems = []
    seen = {}
    symlinks = set()
    for member in members:
        parts, problem = _member_parts(member.name)
        if problem is None:
            problem = _member_problem(member, parts, seen, symlinks)
        if problem:
            problems.append((member.name, problem))
            continue
        if parts:
            seen[parts] = _kind(member)
            if member.issym():
                symlinks.add(parts)
    return problems


# --- writing -----------------------------------------------------------------------


def _make_temp_dir(parent, prefix):
    for _attempt in range(_MAX_NAME_TRIES):
        path = os.path.join(parent, prefix + os.urandom(4).hex())
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path
    raise OSError(errno.EEXIST, "no free temporary name", os.path.join(parent, prefix + "*"))


def _write_new_file(path, data, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, mode)


def _set_mtime(path, mtime):
    try:
        os.utime(path, (mtime, mtime))
    except (OSError, OverflowError, ValueError, TypeError):
        pass


def _file_mode(mode):
    # No set-id or sticky bits, no group/other write; the owner can always read and write.
    return (mode & 0o755) | 0o600


def _dir_mode(mode):
    return (mode & 0o755) | 0o700


def _ensure_parents(dest, parts):
    path = dest
    for part in parts:
        path = os.path.join(path, part)
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                raise OSError(errno.ENOTDIR, "not a directory", path) from None
        else:
            os.chmod(path, 0o755)


def extract_members(tar, members, dest):
    """Unpack ``members`` of ``tar`` into the existing directory ``dest``.

    Call only with members :func:`unsafe_members` accepted. Files are created
    exclusively without following symlinks, written, fsynced and given the
    member's mode without set-id, sticky and group/other write bits; owners are
    not restored (files belong to the user running this). Directories get their
    modes last, then every directory is fsynced.
    """
    directories = []
    for member in members:
        parts, _problem = _member_parts(member.name)
        if not parts:
            continue
        path = os.path.join(dest, *parts)
        _ensure_parents(dest, parts[:-1])
        if member.isdir():
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    raise OSError(errno.ENOTDIR, "not a directory", path) from None
            directories.append((path, member))
        elif member.isreg():
            source = tar.extractfile(member)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            with os.fdopen(os.open(path, flags, 0o600), "wb") as handle:
                shutil.copyfileobj(source, handle, _CHUNK)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(path, _file_mode(member.mode))
            _set_mtime(path, member.mtime)
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            target, _problem = _member_parts(member.linkname)
            os.link(os.path.join(dest, *target), path, follow_symlinks=False)
    for path, member in reversed(directories):
        os.chmod(path, _dir_mode(member.mode))
        _set_mtime(path, member.mtime)
    for directory, _dirs, _files in os.walk(dest, topdown=False):
        fsync_dir(directory)


def _remove_path(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _move_aside(path, version):
    """Rename ``path`` to ``.old-<version>-<hex>`` next to it; return the new path."""
    parent = os.path.dirname(path)
    for _attempt in range(_MAX_NAME_TRIES):
        aside = os.path.join(parent, ".old-%s-%s" % (version, os.urandom(4).hex()))
        if os.path.lexists(aside):
            continue
        os.rename(path, aside)
        return aside
    raise OSError(errno.EEXIST, "no free temporary name", parent)


def install_release(artifact, checksum, release_dir, replace=False, check_mode=False):
    """Verify ``artifact`` and unpack it as ``release_dir``; return its sha256.

    The file is hashed and then read as a tar archive through the same open file.
    A checksum mismatch or an unsafe member raises ReleaseError before anything is
    written. In check mode that is all. Otherwise the members go into
    ``releases/.tmp-<version>-<hex>``, which is fsynced, gets the marker (the
    checksum), is fsynced again and renamed to ``release_dir``; an incomplete
    directory in the way (``replace``) is renamed aside just before and removed
    after. On a failure the temporary directory is removed and the old state kept.
    """
    try:
        handle = open(artifact, "rb")
    except OSError as exc:
        raise ReleaseError("artifact: cannot read %s: %s" % (artifact, exc.strerror or exc)) from exc
    with handle:
        computed = _sha256_handle(handle)
        if computed != checksum:
            raise ReleaseError(
                "checksum: %s has sha256 %s, expected %s (checksum=%s); nothing was unpacked"
                % (artifact, computed, checksum, checksum),
                expected_checksum=checksum, computed_checksum=computed,
            )
        handle.seek(0)
        try:
            with tarfile.open(fileobj=handle, mode="r:*") as tar:
                members = tar.getmembers()
                problems = unsafe_members(members)
                if problems:
                    raise ReleaseError(
                        "artifact: %s has unsafe members, nothing was unpacked: %s"
                        % (artifact, "; ".join("%s (%s)" % item for item in problems)),
                        unsafe_members=[dict(name=name, reason=reason) for name, reason in problems],
                    )
                if not check_mode:
                    _unpack(tar, members, release_dir, checksum, replace)
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise ReleaseError(
                "artifact: %s is not a readable tar archive: %s; nothing was unpacked"
                % (artifact, exc)
            ) from exc
    return computed


def _unpack(tar, members, release_dir, checksum, replace):
    releases_dir, version = os.path.split(release_dir)
    os.makedirs(releases_dir, mode=0o755, exist_ok=True)
    tmp = _make_temp_dir(releases_dir, ".tmp-%s-" % version)
    aside = None
    try:
        extract_members(tar, members, tmp)
        _write_new_file(os.path.join(tmp, MARKER), (checksum + "\n").encode("ascii"), 0o644)
        os.chmod(tmp, 0o755)
        fsync_dir(tmp)
        if replace:
            aside = _move_aside(release_dir, version)
        os.rename(tmp, release_dir)
        fsync_dir(releases_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if aside and not os.path.lexists(release_dir):
            os.rename(aside, release_dir)
        raise
    if aside:
        shutil.rmtree(aside)


def remove_release(release_dir):
    """Rename the release aside (it disappears at once), fsync, then delete it."""
    releases_dir, version = os.path.split(release_dir)
    aside = _move_aside(release_dir, version)
    fsync_dir(releases_dir)
    _remove_path(aside)


def atomic_symlink(target, link_path):
    """Make ``link_path`` a symlink to ``target``, replacing any old link atomically.

    The new link is made under a temporary name in the same directory and renamed
    over ``link_path`` (``os.replace``), so readers see the old target or the new
    one, never no link. The directory is fsynced afterwards. Returns the previous
    target, or None.
    """
    link_path = os.path.abspath(link_path)
    directory, name = os.path.split(link_path)
    kind, before = read_link(link_path)
    if kind == "other":
        raise OSError(errno.EEXIST, "exists and is not a symbolic link", link_path)
    for _attempt in range(_MAX_NAME_TRIES):
        tmp = os.path.join(directory, ".%s.tmp-%s" % (name, os.urandom(4).hex()))
        try:
            os.symlink(target, tmp)
        except FileExistsError:
            continue
        break
    else:
        raise OSError(errno.EEXIST, "no free temporary name", directory)
    try:
        os.replace(tmp, link_path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(directory)
    return before


def apply_plan(actions, check_mode=False):
    """Carry out :func:`plan_release` actions (in check mode: only the verifications).

    Returns ``{"checksum": sha256 of the unpacked artifact or None}``. An unpack is
    verified (checksum, member safety) in check mode too when the artifact exists.
    OSErrors are raised as ReleaseError naming the action's path.
    """
    outcome = dict(checksum=None)
    for action in actions:
        kind = action["action"]
        if kind == "unpack":
            if check_mode and not os.path.exists(action["artifact"]):
                continue
            try:
                outcome["checksum"] = install_release(
                    action["artifact"], action["checksum"], action["release_dir"],
                    replace=action["replace"], check_mode=check_mode,
                )
            except OSError as exc:
                raise ReleaseError(
                    "artifact: unpacking %s into %s failed: %s"
                    % (action["artifact"], action["release_dir"], exc)
                ) from exc
            continue
        if check_mode:
            continue
        try:
            if kind == "remove_leftover":
                _remove_path(action["path"])
            elif kind == "remove":
                remove_release(action["path"])
            elif kind == "link":
                atomic_symlink(action["target"], action["path"])
            else:
                raise ValueError("unknown release action %r" % kind)
        except OSError as exc:
            option = "slot" if kind == "link" else "version"
            raise ReleaseError("%s: %s of %s failed: %s" % (option, kind, action["path"], exc)) from exc
    return outcome
