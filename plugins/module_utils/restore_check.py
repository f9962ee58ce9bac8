# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a restore restores, and whether the restored files match the archive's MANIFEST.

Pure functions over plain data, standard library only, run as filters by the restore
and DR drill playbooks. Bad input raises ``ValueError`` naming the option and the value.
"""

from __future__ import annotations

RESTORE_WHAT = ("config", "state", "both")


def restore_kinds(what, option="restore_what"):
    """Check a restore_what value; return it."""
    if what not in RESTORE_WHAT:
        raise ValueError("%s=%r: must be one of %s" % (option, what, ", ".join(RESTORE_WHAT)))
    return what


def manifest_compare(manifest, what, stats):
    """Compare restored files with the archive's MANIFEST.

    ``manifest``: the MANIFEST (``paths`` and ``members``); ``what``: config, state or
    both; ``stats``: host path -> ``{"exists", "isdir", "islnk", "size", "checksum"}``
    (as ``ansible.builtin.stat`` with sha256 returns them). Returns ``{"ok", "checked",
    "problems"}``; each problem names the member and the path.
    """
    restore_kinds(what, "what")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("members"), list) \
            or not isinstance(manifest.get("paths"), list):
        raise ValueError("manifest: not a MANIFEST of a fleetops backup (needs paths and members)")
    kinds = ("config", "state") if what == "both" else (what,)
    roots = dict(("%s/%s" % (p["kind"], p["name"]), p["path"]) for p in manifest["paths"] if p["kind"] in kinds)
    problems, checked = [], 0
    for member in manifest["members"]:
        root = next((r for r in roots if member["path"] == r or member["path"].startswith(r + "/")), None)
        if root is None:
            continue
        path = roots[root] + member["path"][len(root):]
        checked += 1
        found = stats.get(path) or {}
        if not found.get("exists"):
            problems.append(dict(member=member["path"], path=path, problem="missing"))
        elif member["type"] == "dir" and not found.get("isdir"):
            problems.append(dict(member=member["path"], path=path, problem="not a directory"))
        elif member["type"] == "symlink" and not found.get("islnk"):
            problems.append(dict(member=member["path"], path=path, problem="not a symbolic link"))
        elif member["type"] == "file":
            if found.get("size") != member["size"]:
                problems.append(dict(member=member["path"], path=path,
                                     problem="size %s, manifest %s" % (found.get("size"), member["size"])))
            elif found.get("checksum") != member.get("sha256"):
                problems.append(dict(member=member["path"], path=path,
                                     problem="sha256 %s, manifest %s" % (found.get("checksum"), member.get("sha256"))))
    if not checked:
        raise ValueError("manifest: no %s members to compare" % " or ".join(kinds))
    return dict(ok=not problems, checked=checked, problems=problems)
