# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What surrounds a release directory: shared paths linked into it, and retention.

Shared paths (``shared`` option of the ``release`` module) are data that must outlive
a release, e.g. ``uploads`` or ``var/cache``: each lives once under
``<root>/shared/<path>`` and every release gets ``<release>/<path>`` as a symlink to
it. A release that ships a real file or directory at a shared path is refused rather
than overwritten: deleting what an artifact ships is the operator's call.

Retention (``keep``/``protect`` options) removes releases beyond the newest *keep*
(semantic version order), never one a slot link points at, the release being
installed, or any version in *protect* (the ledger's last good release). The slot
being switched counts with its *new* target, so check mode predicts exactly what a
real run removes.

Pure planners plus small appliers, standard library only (runs on managed hosts,
Python 3.8+).
"""

from __future__ import annotations

import os
import posixpath

from ansible_collections.fleetops.lifecycle.plugins.module_utils.release import (
    ReleaseError,
    atomic_symlink,
    list_releases,
    prunable_releases,
    read_link,
    remove_release,
    validate_version,
)

SHARED_DIR = "shared"


def validate_shared(paths, option="shared"):
    """Normalised relative shared paths; ReleaseError naming the bad entry."""
    if paths is None:
        return []
    if isinstance(paths, (str, bytes)) or not isinstance(paths, (list, tuple)):
        raise ReleaseError("%s: %r must be a list of relative paths" % (option, paths))
    seen = []
    for index, path in enumerate(paths):
        where = "%s[%d]" % (option, index)
        if not isinstance(path, str) or not path.strip():
            raise ReleaseError("%s: %r must be a non-empty relative path" % (where, path))
        if path.startswith("/"):
            raise ReleaseError("%s: %r must be relative to the release, not absolute" % (where, path))
        parts = [part for part in path.split("/") if part not in ("", ".")]
        if not parts or ".." in parts:
            raise ReleaseError("%s: %r must stay inside the release (no '..')" % (where, path))
        normal = "/".join(parts)
        if normal in seen:
            raise ReleaseError("%s: %r is listed twice" % (where, path))
        if any(normal.startswith(other + "/") or other.startswith(normal + "/") for other in seen):
            raise ReleaseError("%s: %r overlaps another shared path" % (where, path))
        seen.append(normal)
    return seen


def plan_shared(root, release_dir, paths, release_exists):
    """Actions that link every shared path into ``release_dir``.

    ``{"action": "mkdir", "path"}`` for a missing ``<root>/shared/<path>`` and
    ``{"action": "link", "path", "target"}`` for a link that is missing or points
    elsewhere. When the release is not unpacked yet (``release_exists`` false) the
    links are planned without looking inside it.
    """
    actions = []
    for path in paths:
        target = posixpath.join(root, SHARED_DIR, path)
        if not os.path.isdir(target):
            actions.append(dict(action="mkdir", path=target))
        link_path = posixpath.join(release_dir, path)
        if release_exists:
            kind, current = read_link(link_path)
            if kind == "other":
                raise ReleaseError(
                    "shared: the release at %s ships %s itself; remove it from the artifact or from "
                    "shared" % (release_dir, path)
                )
            if kind == "symlink" and current == target:
                continue
        actions.append(dict(action="link", path=link_path, target=target))
    return actions


def apply_shared(actions):
    for action in actions:
        try:
            if action["action"] == "mkdir":
                os.makedirs(action["path"], mode=0o755, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(action["path"]), mode=0o755, exist_ok=True)
                atomic_symlink(action["target"], action["path"])
        except OSError as exc:
            raise ReleaseError("shared: %s of %s failed: %s" % (action["action"], action["path"], exc)) from exc


def plan_prune(root, keep, protect, version, slot=None):
    """Releases retention removes once ``version`` is installed (and ``slot`` points at it).

    Returns ``[{"version", "path", "reason"}]``, oldest first. ``keep`` None means no
    retention.
    """
    if keep is None:
        return []
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ReleaseError("keep: %r must be a whole number of 1 or more (the release being installed counts)"
                           % (keep,))
    protected = set([version])
    for index, name in enumerate(protect or []):
        if name:
            protected.add(validate_version(name, option="protect[%d]" % index))
    releases = []
    for release in list_releases(root):
        slots = [s for s in release["slots"] if s != slot]
        if slot and release["version"] == version:
            slots.append(slot)
        releases.append(dict(release, slots=slots))
    if all(release["version"] != version for release in releases):  # not unpacked yet (check mode)
        releases.append(dict(version=version, path=None, slots=[slot] if slot else []))
    paths = dict((release["version"], release["path"]) for release in releases)
    return [
        dict(version=name, path=paths[name],
             reason="older than the %d newest releases, not linked by a slot, not protected" % keep)
        for name in prunable_releases(releases, keep, sorted(protected))
    ]


def apply_prune(removals):
    for removal in removals:
        try:
            remove_release(removal["path"])
        except OSError as exc:
            raise ReleaseError("keep: removing release %s failed: %s" % (removal["path"], exc)) from exc
