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
:func:`version_key`, :func:`plan_release`, :func:`prunable_releases`; which members
may be unpacked is ``archive_safety.Checker``, shared with restore, through
:func:`release_checker`); :func:`observe` only reads the host and :func:`apply_plan`
acts. Unpacking is the shared ``safe_extract`` path: the artifact is opened once,
hashed as it is decompressed and unpacked in the same pass. No AnsibleModule inside. This file runs on managed hosts,
so it stays compatible with Python 3.8 and uses the standard library only.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import hashlib
import lzma
import os
import posixpath
import re
import shutil
import stat
import zlib

from ansible_collections.fleetops.lifecycle.plugins.module_utils.archive_safety import Checker
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_tarstream import TarStream
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import (
    CREATE_FLAGS,
    READ_FLAGS,
    ResultError,
    fsync_dir,
    remove_path,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.safe_extract import (
    Budget,
    Extractor,
    Refused,
    space_limit,
)

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


def is_release_version(version):
    """Whether ``version`` is a release version (see :func:`validate_version`)."""
    return isinstance(version, str) and _VERSION_RE.fullmatch(version) is not None


def validate_version(version, option="version"):
    """Return ``version`` when it is a release version, else raise ReleaseError.

    Accepted: ``MAJOR.MINOR.PATCH`` with an optional ``-prerelease`` or ``+build``
    suffix (:data:`VERSION_PATTERN`), matched against the whole string (a trailing
    newline is not a version). Such a version is also a safe directory name.
    """
    if not is_release_version(version):
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


def read_marker(release_dir):
    """The checksum in a release's marker file, or None (missing, unreadable, not a digest)."""
    path = os.path.join(release_dir, MARKER)
    try:
        fd = os.open(path, READ_FLAGS)
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


# --- reading an artifact ------------------------------------------------------------


class _HashingReader(object):
    """The artifact's bytes, hashed as the decompressor reads them (one pass, one fd)."""

    def __init__(self, handle):
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size=-1):
        data = self.handle.read(size if size is not None and size >= 0 else _CHUNK)
        self.digest.update(data)
        return data

    def readinto(self, buf):
        count = self.handle.readinto(buf)
        if count:
            self.digest.update(memoryview(buf)[:count])
        return count

    def drain(self):
        while self.read(_CHUNK):
            pass
        return self.digest.hexdigest()

    @staticmethod
    def readable():
        return True


def _decompressed(raw):
    """A file object of the tar stream in ``raw``: gzip, bzip2, xz or plain tar, by magic number."""
    magic = raw.handle.peek(6)[:6] if hasattr(raw.handle, "peek") else b""
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic[:3] == b"BZh":
        return bz2.BZ2File(raw, "rb")
    if magic[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(raw, "rb")
    return raw


def release_checker():
    """The member rules of a release artifact (``archive_safety.Checker`` over the whole archive)."""
    return Checker({(): "dir"}, reserved={MARKER: "the release marker"}, label="the release directory",
                   repeat_dirs=True, implied_parents=True)


def _stream_release(handle, dest, checksum, limit):
    """Check (and unless ``dest`` is None write into it) every member; return the artifact's sha256.

    A checksum mismatch wins over anything the content says: an artifact that is not
    the one asked for is reported as such, whatever it holds.
    """
    raw = _HashingReader(handle)
    extractor = Extractor(release_checker(), {(): dest} if dest else {(): "/"}, file_mode=_file_mode,
                          dir_mode=_dir_mode, exists=True, dry=dest is None, budget=Budget(*limit))
    try:
        stream = TarStream(_decompressed(raw))
        for member in stream:
            extractor.add(stream, member)
        computed = raw.drain()
        if computed == checksum:
            extractor.finish()
    except (ValueError, EOFError, OSError, zlib.error, lzma.LZMAError):
        computed = raw.drain()
        if computed == checksum:
            raise
    finally:
        extractor.close()
    return computed


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
    fd = os.open(path, CREATE_FLAGS, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, mode)


def _file_mode(mode):
    # No set-id or sticky bits, no group/other write; the owner can always read and write.
    return (mode & 0o755) | 0o600


def _dir_mode(mode):
    return (mode & 0o755) | 0o700


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


def install_release(artifact, checksum, release_dir, *, replace=False, check_mode=False, max_unpacked_bytes=None):
    """Verify ``artifact`` and unpack it as ``release_dir`` in one pass; return its sha256.

    The artifact is opened once; its bytes are hashed as they are decompressed and
    every member goes through ``safe_extract`` (checked, then written under a
    directory-fd walk) into ``releases/.tmp-<version>-<hex>``. Only when the whole
    artifact's sha256 equals ``checksum`` and every link stays inside does that
    directory get its marker, and is fsynced and renamed to ``release_dir``; an
    incomplete directory in the way (``replace``) is renamed aside just before and
    removed after. In check mode the same pass runs without writing. On any failure
    the temporary directory is removed and the old state kept.
    """
    try:
        handle = open(artifact, "rb")
    except OSError as exc:
        raise ReleaseError("artifact: cannot read %s: %s" % (artifact, exc.strerror or exc)) from exc
    where = os.path.dirname(release_dir)
    while not os.path.isdir(where):
        where = os.path.dirname(where)
    limit = space_limit(where, max_unpacked_bytes)
    with handle:
        if check_mode:
            _unpack_checked(artifact, handle, None, checksum, limit)
        else:
            _unpack(artifact, handle, release_dir, checksum, (replace, limit))
    return checksum


def _unpack_checked(artifact, handle, dest, checksum, limit):
    try:
        computed = _stream_release(handle, dest, checksum, limit)
    except Refused as exc:
        raise ReleaseError(
            "artifact: %s has unsafe members, nothing was unpacked: %s" % (artifact, exc),
            unsafe_members=[dict(name=exc.member, reason=exc.reason)] if exc.member else [],
        ) from exc
    except (ValueError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, (EOFError, gzip.BadGzipFile)):
            raise
        raise ReleaseError(
            "artifact: %s is not a readable tar archive: %s; nothing was unpacked" % (artifact, exc)
        ) from exc
    if computed != checksum:
        raise ReleaseError(
            "checksum: %s has sha256 %s, expected %s (checksum=%s); nothing was unpacked"
            % (artifact, computed, checksum, checksum),
            expected_checksum=checksum, computed_checksum=computed,
        )


def _unpack(artifact, handle, release_dir, checksum, options):
    replace, limit = options
    releases_dir, version = os.path.split(release_dir)
    made = _missing_dirs(releases_dir)
    if made:
        # Nothing of this service is on disk yet: prove the artifact good before the first
        # directory appears (the writing pass below verifies every byte again).
        _unpack_checked(artifact, handle, None, checksum, limit)
        handle.seek(0)
    os.makedirs(releases_dir, mode=0o755, exist_ok=True)
    tmp = _make_temp_dir(releases_dir, ".tmp-%s-" % version)
    aside = None
    try:
        _unpack_checked(artifact, handle, tmp, checksum, limit)
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
        for path in made:
            try:
                os.rmdir(path)
            except OSError:
                break
        raise
    if aside:
        shutil.rmtree(aside)


def _missing_dirs(path):
    """The directories ``os.makedirs(path)`` would create, deepest first."""
    missing = []
    while not os.path.lexists(path) and path != os.path.dirname(path):
        missing.append(path)
        path = os.path.dirname(path)
    return missing


def remove_release(release_dir):
    """Rename the release aside (it disappears at once), fsync, then delete it."""
    releases_dir, version = os.path.split(release_dir)
    aside = _move_aside(release_dir, version)
    fsync_dir(releases_dir)
    remove_path(aside)


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
                    max_unpacked_bytes=action.get("max_unpacked_bytes"),
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
                remove_path(action["path"])
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
