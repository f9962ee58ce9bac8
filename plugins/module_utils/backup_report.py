# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a host says of its backups: the live slot a backup records, the archives kept
and the Prometheus textfile metric of the newest ones.

Pure functions, standard library only: they run in the ``backup_status`` module, as the
``backup_live_slot`` filter and in the host-side scheduled backup script
(``roles/backup/files/fleetops-backup``, which gets a copy of the module_utils listed in
``roles/backup/vars/main.yml``), so the timers and the playbooks share one logic. Bad
input raises ``ValueError`` naming the option and the value. The restore check, the DR
drill report and the fleet report are :mod:`restore_check`, :mod:`drill_report` and
:mod:`backup_fleet_report`.
"""

from __future__ import annotations

import os
import tempfile
import time

from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup import list_archives

# Kinds that are not a backup of the service as it ran: "latest" never picks them.
NOT_LATEST_KINDS = ("pre-restore",)


# --- the live slot ----------------------------------------------------------------------


def live_slot(slots, last_good=""):
    """The slot whose release a backup records and whose app.py takes the snapshot.

    ``slots``: ``[{"slot", "active" (unit active), "release" ("" without a current link)}]``
    or ``[slot, active, release]`` sequences.
    A running slot wins over a stopped one; of several running slots (mid-deploy) the one
    running the ledger's last good release, else the first. A host where no slot has a
    release has nothing to back up. Returns ``{"slot", "release", "decided_by"}``.
    """
    if not isinstance(slots, (list, tuple)) or not slots:
        raise ValueError("slots=%r: must be a non-empty list of {slot, active, release}" % (slots,))
    # [slot, active, release] triples too, as a playbook zips them; "active" may be the
    # output of systemctl is-active.
    slots = [dict(zip(("slot", "active", "release"), item)) if isinstance(item, (list, tuple))
             else dict(item) if isinstance(item, dict) else item
             for item in slots]
    for item in slots:
        if not isinstance(item, dict) or not item.get("slot"):
            raise ValueError("slots: %r has no slot name" % (item,))
        item["active"] = item.get("active") in (True, "active")
    installed = [s for s in slots if s.get("release")]
    if not installed:
        raise ValueError("slots: no slot has a release installed (%s); nothing to back up"
                         % ", ".join(s["slot"] for s in slots))
    running = [s for s in installed if s.get("active")]
    candidates = running or installed
    decided_by = "running" if running else "installed"
    if len(candidates) > 1:
        matching = [s for s in candidates if last_good and s["release"] == last_good]
        if matching:
            candidates, decided_by = matching, "ledger"
        else:
            decided_by = "first"
    return dict(slot=candidates[0]["slot"], release=candidates[0]["release"], decided_by=decided_by)


# --- archives on a host -------------------------------------------------------------------


def _summary(archive):
    metadata = archive["sidecar"]["metadata"]
    verified = archive["verified"] if isinstance(archive["verified"], dict) else {}
    content = verified.get("content_verified_epoch")
    last = verified.get("last") if isinstance(verified.get("last"), dict) else {}
    return dict(
        path=archive["path"], name=archive["name"], kind=metadata.get("kind"), release=metadata.get("release"),
        host=metadata.get("host"), created=metadata.get("created"), created_epoch=metadata.get("created_epoch"),
        pinned=metadata.get("pinned") is True, manifest_sha256=archive["sidecar"].get("manifest_sha256"),
        size=archive["sidecar"].get("size"),
        verified_epoch=content if isinstance(content, (int, float)) and not isinstance(content, bool) else None,
        last_verification_ok=last.get("ok") if isinstance(last.get("ok"), bool) else None,
    )


def archive_status(dest_dir, service=None, exclude_kinds=NOT_LATEST_KINDS):
    """The complete archives in ``dest_dir`` and the newest, newest verified and latest restorable one.

    ``latest`` is the newest archive whose kind is not in ``exclude_kinds`` (a safety
    backup taken by a restore is not what "restore the latest backup" means).
    """
    complete, incomplete = list_archives(dest_dir, service)
    archives = sorted((_summary(a) for a in complete), key=lambda a: (a["created_epoch"] or 0, a["name"]),
                      reverse=True)
    verified = [a for a in archives if a["verified_epoch"] is not None]
    latest = [a for a in archives if a["kind"] not in exclude_kinds]
    return dict(
        dest_dir=dest_dir, count=len(archives), archives=archives,
        newest=archives[0] if archives else None,
        newest_verified=verified[0] if verified else None,
        latest=latest[0] if latest else None,
        incomplete=[dict(path=i["path"], reason=i["reason"]) for i in incomplete],
    )


def _label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def prometheus_textfile(status, service, host, now=None):
    """Node-exporter textfile lines: last backup and last verified backup time of ``service``.

    A metric without a backup is left out (absent() is what an alert on a host that never
    backed up tests for), never written as 0, which would read as 1970.
    """
    now = time.time() if now is None else now
    labels = 'service="%s",host="%s"' % (_label(service), _label(host))
    lines = [
        "# HELP fleetops_backup_last_success_timestamp_seconds Created time of the newest complete backup.",
        "# TYPE fleetops_backup_last_success_timestamp_seconds gauge",
    ]
    if status["newest"]:
        lines.append("fleetops_backup_last_success_timestamp_seconds{%s} %.3f"
                     % (labels, status["newest"]["created_epoch"]))
    lines += [
        "# HELP fleetops_backup_last_verified_timestamp_seconds Created time of the newest content-verified backup.",
        "# TYPE fleetops_backup_last_verified_timestamp_seconds gauge",
    ]
    if status["newest_verified"]:
        lines.append("fleetops_backup_last_verified_timestamp_seconds{%s} %.3f"
                     % (labels, status["newest_verified"]["created_epoch"]))
    lines += [
        "# HELP fleetops_backup_archives Complete backup archives kept.",
        "# TYPE fleetops_backup_archives gauge",
        "fleetops_backup_archives{%s} %d" % (labels, status["count"]),
        "# HELP fleetops_backup_incomplete_archives Archives without a valid sidecar (killed or failed runs).",
        "# TYPE fleetops_backup_incomplete_archives gauge",
        "fleetops_backup_incomplete_archives{%s} %d" % (labels, len(status["incomplete"])),
        "# HELP fleetops_backup_textfile_timestamp_seconds When this file was written.",
        "# TYPE fleetops_backup_textfile_timestamp_seconds gauge",
        "fleetops_backup_textfile_timestamp_seconds{%s} %.3f" % (labels, now),
    ]
    return "\n".join(lines) + "\n"


def write_textfile(path, text):
    """Replace the textfile ``path`` atomically: node-exporter reads the old file or the new one.

    Raises ``ValueError`` for a path that is not absolute or whose directory is missing, and
    ``OSError`` from the write; the temp file is never left behind.
    """
    directory = os.path.dirname(path)
    if not os.path.isabs(path) or not os.path.isdir(directory):
        raise ValueError("textfile: %s must be an absolute path in an existing directory" % path)
    # node-exporter reads *.prom only: the temp name must not end in .prom.
    fd, temp = tempfile.mkstemp(prefix=".fleetops-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise


def textfile_problem(path, exc):
    """The message for a textfile :func:`write_textfile` refused (ValueError) or could not write."""
    return str(exc) if isinstance(exc, ValueError) else "textfile: cannot write %s: %s" % (path, exc)


def refresh_textfile(path, dest_dir, service, host):
    """Rewrite the metric of the archives in ``dest_dir``; ``host`` labels it while no archive
    names its host. Returns the archive status the metric was written from."""
    status = archive_status(dest_dir, service)
    write_textfile(path, prometheus_textfile(status, service, status["newest"]["host"] if status["newest"] else host))
    return status
