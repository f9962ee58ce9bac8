# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host's part of a triage: collect, redact, sweep, pack.

:func:`validate` checks the options (a ``since`` in the future and caps of zero are
refused by name). :func:`collect` reads, in order of importance (so that when the host
cap runs out it is the logs that lose, not the state): system state, unit status,
health probes, HAProxy state, SLO queries, release ledger, backups, configuration,
journals, logs. Every read has the command timeout and a size cap; a read that fails
or times out is an item with that status, never the end of the collection. Every text is
redacted before it is written to the staging directory, and :func:`sweep_files` runs
the catch-all pass over all of them before :func:`pack` makes the host archive. The
redactor's token -> secret map goes to a separate 0600 file for the controller; it is
not in the archive.

Python 3.8+, standard library only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tarfile
import tempfile
import time
from urllib import parse as urlparse
from urllib import request as urlrequest

from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_report import archive_status
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import CREATE_FLAGS, ResultError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.health import run_probes, validate_probes
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_collectors import (
    cut,
    list_files,
    read_proc,
    read_tail,
    run_command,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_redaction import Redactor
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_timeline import (
    backup_events,
    iso,
    ledger_events,
    log_events,
    parse_since,
    window_lines,
)

SYSTEM_COMMANDS = (
    ("system/uptime.txt", ["uptime"]),
    ("system/memory.txt", ["free", "-m"]),
    ("system/disk.txt", ["df", "-P"]),
    ("system/inodes.txt", ["df", "-Pi"]),
    ("system/processes.txt", ["ps", "-e", "-ww", "-o", "pid,ppid,user,etimes,pcpu,pmem,rss,stat,args", "--sort=-pcpu"]),
    ("system/sockets.txt", ["ss", "-ltunpH"]),
)
SYSTEM_FILES = (("system/loadavg.txt", "/proc/loadavg"), ("system/meminfo.txt", "/proc/meminfo"))
UNIT_PROPERTIES = "ActiveState,SubState,Result,NRestarts,ExecMainStatus,MainPID,ActiveEnterTimestamp"
_SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9@._-]+")
MIN_USEFUL_BYTES = 4096
CAP_OPTIONS = ("max_file_bytes", "max_host_bytes", "max_journal_lines", "max_timeline_events")


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def validate(params, now):
    """The options checked and normalised; ResultError naming the option and value otherwise."""
    since = parse_since(params.get("since"), now)
    for option in CAP_OPTIONS:
        value = params.get(option)
        if not _whole(value) or value < 1:
            raise ResultError("%s: %r must be a whole number above 0 (a cap of 0 would collect nothing)"
                              % (option, value))
    timeout = params.get("command_timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ResultError("command_timeout: %r must be a number of seconds above 0" % (timeout,))
    if not params.get("redaction_key"):
        raise ResultError("redaction_key: must not be empty (the controller's obfuscation map supplies it)")
    probes = validate_probes(params.get("probes") or [], timeout=min(float(timeout), 30.0)) \
        if params.get("probes") else []
    return dict(params, since_epoch=since, probes=probes)


def _safe(path):
    return _SAFE_NAME_RE.sub("_", path.strip("/")) or "_"


class Collection(object):
    """The staging directory, the host cap, the redactor, the report and the timeline."""

    def __init__(self, options, staging, now):
        self.options = options
        self.staging = staging
        self.now = now
        self.redactor = Redactor(options["redaction_key"])
        self.left = options["max_host_bytes"]
        self.items = []
        self.events = []
        self.caps = {}  # relative path -> (allowance, keep) for the sweep's re-cut

    def allowance(self):
        return min(self.options["max_file_bytes"], self.left)

    def write(self, relpath, text, item, keep="head", redacted=False):
        """Redact ``text`` (unless it is already), cut it to the file and host caps, write it; record the item."""
        data = (text if redacted else self.redactor.redact(text)).encode("utf-8")
        allowance = self.allowance()
        if len(data) > allowance:
            data = cut(data, allowance, keep)
            if item.get("status") == "ok":
                item["status"] = "truncated"
                item["message"] = "cut to %d bytes by max_%s_bytes" % (
                    len(data), "file" if allowance == self.options["max_file_bytes"] else "host")
        relpath = self._free(relpath)
        path = os.path.join(self.staging, relpath)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, CREATE_FLAGS, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        self.left -= len(data)
        self.caps[relpath] = (allowance, keep)
        item.update(file=relpath, kept_bytes=len(data))
        self.items.append(item)

    def _free(self, relpath):
        """``relpath``, or ``relpath-2``, ``-3``... when two sources flatten to one name (/a_b and /a/b)."""
        candidate, number = relpath, 1
        while candidate in self.caps:
            number += 1
            candidate = "%s-%d" % (relpath, number)
        return candidate

    def skip(self, item, reason):
        item.update(status="omitted", message=reason)
        self.items.append(item)

    def full(self):
        # Less than a few lines' worth left: a tail read would keep nothing whole.
        return self.left < min(MIN_USEFUL_BYTES, self.options["max_file_bytes"])


def _item(kind, name, outcome=None):
    item = dict(kind=kind, name=name, status="ok", message="")
    if outcome is not None:
        item.update(outcome.report())
    return item


def _system(col, timeout):
    cap = col.options["max_file_bytes"]
    for relpath, source in SYSTEM_FILES:
        outcome = read_proc(source, cap)
        col.write(relpath, outcome.text, _item("system", source, outcome))
    for relpath, argv in SYSTEM_COMMANDS:
        outcome = run_command(argv, timeout, col.allowance())
        col.write(relpath, outcome.text, _item("system", " ".join(argv), outcome))


def _units(col, timeout):
    states = {}
    for unit in col.options.get("units") or []:
        outcome = run_command(["systemctl", "show", unit, "-p", UNIT_PROPERTIES], timeout, 65536)
        states[unit] = dict(line.split("=", 1) for line in outcome.text.splitlines() if "=" in line)
        status = run_command(["systemctl", "status", "--no-pager", "--full", "--lines=0", unit], timeout,
                             col.allowance())
        if status.status == "error" and status.text:  # systemctl status exits 3 for an inactive unit
            status.status, status.message = "ok", ""
        col.write("units/%s.status.txt" % _safe(unit), status.text, _item("unit", unit, status))
    return states


def _probes(col):
    if not col.options["probes"]:
        return []
    started = time.monotonic()
    results = run_probes(col.options["probes"])
    item = _item("probes", "health probes")
    item["seconds"] = round(time.monotonic() - started, 3)
    col.write("health/probes.json", json.dumps(results, indent=1, sort_keys=True) + "\n", item)
    return results


def socket_command(path, command, timeout, cap):
    """Send one command to a UNIX socket (HAProxy's runtime API); read at most ``cap`` bytes."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(timeout)
    try:
        client.connect(path)
        client.sendall(command.encode() + b"\n")
        chunks, size = [], 0
        while size <= cap:
            chunk = client.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)[:cap].decode("utf-8", "replace")
    finally:
        client.close()


def _haproxy(col, timeout):
    path = col.options.get("haproxy_socket")
    if not path:
        return None
    found = {}
    for relpath, command in (("haproxy/show-stat.csv", "show stat"), ("haproxy/servers-state.txt",
                                                                      "show servers state")):
        item = _item("haproxy", command)
        try:
            text = socket_command(path, command, timeout, col.allowance())
        except OSError as exc:
            item.update(status="error", message="%s: %s" % (path, exc.strerror or exc))
            text = ""
        col.write(relpath, text, item)
        found[command] = item["status"]
    return found


def _prometheus(col, timeout):
    url, queries = col.options.get("prometheus_url"), col.options.get("slo_queries") or {}
    if not url or not queries:
        return None
    values = {}
    for name, query in sorted(queries.items()):
        target = "%s/api/v1/query?%s" % (url.rstrip("/"), urlparse.urlencode({"query": query, "time": col.now}))
        try:
            with urlrequest.urlopen(target, timeout=timeout) as response:
                body = json.loads(response.read(1 << 20).decode("utf-8"))
            result = body.get("data", {}).get("result", [])
            values[name] = dict(query=query, value=float(result[0]["value"][1]) if result else None,
                                message="" if result else "no data")
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            values[name] = dict(query=query, value=None, message="%s: %s" % (type(exc).__name__, exc))
    col.write("slo/slo.json", json.dumps(values, indent=1, sort_keys=True) + "\n", _item("slo", url))
    return values


def _ledger(col, host):
    path = col.options.get("ledger_path")
    if not path:
        return
    outcome = read_tail(path, col.allowance())
    if outcome.status == "error" and "No such file" in outcome.message:
        col.skip(_item("ledger", path), "no ledger at %s" % path)
        return
    records = []
    for line in outcome.text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    for event in ledger_events(records, host, col.options["since_epoch"]):
        event["text"] = col.redactor.redact(event["text"])
        col.events.append(event)
    col.write("ledger/ledger.jsonl", outcome.text, _item("ledger", path, outcome), keep="tail")


def _backups(col, host):
    directory = col.options.get("backup_dir")
    if not directory:
        return
    item = _item("backups", directory)
    try:
        status = archive_status(directory, col.options.get("backup_service") or None)
    except (OSError, ResultError, ValueError) as exc:
        col.skip(item, "cannot list %s: %s" % (directory, getattr(exc, "msg", exc)))
        return
    archives = status["archives"][:50]
    col.events.extend(backup_events(archives, host, col.options["since_epoch"]))
    col.write("backups/backups.json", json.dumps(dict(status, archives=archives), indent=1, sort_keys=True) + "\n",
              item)


def _config(col):
    files, notes = list_files(col.options.get("config_paths") or [])
    for note in notes:
        col.skip(_item("config", note.split(":", 1)[0]), note)
    for path, _mtime in files:
        if col.full():
            col.skip(_item("config", path), "max_host_bytes reached")
            continue
        outcome = read_tail(path, col.allowance())
        if outcome.status in ("error", "skipped"):
            col.skip(_item("config", path, outcome), outcome.message)
            continue
        col.write("config/" + _safe(path), outcome.text, _item("config", path, outcome))


def _journal_line(entry):
    stamp = int(entry.get("__REALTIME_TIMESTAMP", "0")) / 1e6
    message = entry.get("MESSAGE", "")
    if isinstance(message, list):  # binary messages come as byte arrays
        message = bytes(b for b in message if isinstance(b, int) and 0 <= b < 256).decode("utf-8", "replace")
    ident = entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM") or "?"
    return stamp, "%s %s[%s]: %s" % (iso(stamp), ident, entry.get("_PID", "-"), message)


def _journals(col, host, timeout):
    for unit in col.options.get("units") or []:
        if col.full():
            col.skip(_item("journal", unit), "max_host_bytes reached")
            continue
        argv = ["journalctl", "--no-pager", "-o", "json", "-u", unit,
                "--since", "@%d" % int(col.options["since_epoch"]), "-n", str(col.options["max_journal_lines"])]
        outcome = run_command(argv, timeout, 4 * col.options["max_file_bytes"], keep="tail")
        lines, stamps = [], []
        for raw in outcome.text.splitlines():
            try:
                stamp, line = _journal_line(json.loads(raw))
            except (ValueError, TypeError, AttributeError):
                continue
            lines.append(col.redactor.redact(line))
            stamps.append(stamp)
        col.events.extend(log_events(lines, stamps, host, "journal:" + unit))
        item = _item("journal", unit, outcome)
        item["lines"] = len(lines)
        col.write("journal/%s.log" % _safe(unit), "\n".join(lines) + ("\n" if lines else ""), item, keep="tail",
                  redacted=True)


def _logs(col, host):
    files, notes = list_files(col.options.get("log_paths") or [], since=col.options["since_epoch"])
    for note in notes:
        col.skip(_item("log", note.split(":", 1)[0]), note)
    for path, _mtime in sorted(files, key=lambda f: f[1], reverse=True):  # newest first: they matter most
        if col.full():
            col.skip(_item("log", path), "max_host_bytes reached")
            continue
        outcome = read_tail(path, col.allowance())
        if outcome.status in ("error", "skipped"):
            col.skip(_item("log", path, outcome), outcome.message)
            continue
        text = col.redactor.redact(outcome.text)
        lines, stamps = window_lines(text.splitlines(True), col.options["since_epoch"], col.now)
        col.events.extend(log_events(lines, stamps, host, "log:" + path))
        item = _item("log", path, outcome)
        item["lines"] = len(lines)
        col.write("logs/%s.log" % _safe(path[:-3] if path.endswith(".gz") else path), "".join(lines), item,
                  keep="tail", redacted=True)


def sweep_files(col):
    """The catch-all pass over every staged file: returns how many secrets it still found."""
    found = 0
    for relpath, (allowance, keep) in sorted(col.caps.items()):
        path = os.path.join(col.staging, relpath)
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
        swept, hits = col.redactor.sweep(text)
        if hits:
            found += hits
            data = cut(swept.encode("utf-8"), allowance, keep)
            with open(path, "wb") as handle:
                handle.write(data)
    return found


def sweep_events(col, events):
    """The catch-all pass over the timeline events that leave the host."""
    found = 0
    for event in events:
        event["text"], hits = col.redactor.sweep(event["text"])
        found += hits
    return found


def pack(staging, host, dest):
    """The staging directory as ``dest`` (tar.gz, members under ``<host>/``), written then renamed."""
    temp = dest + ".part"
    with tarfile.open(temp, "w:gz", compresslevel=6) as archive:
        for root, dirs, names in os.walk(staging):
            dirs.sort()
            for name in sorted(names):
                path = os.path.join(root, name)
                archive.add(path, arcname=os.path.join(host, os.path.relpath(path, staging)), recursive=False)
    os.rename(temp, dest)


def collect(options, now):
    """Run the whole host collection; returns the module's result (without ``changed``)."""
    host = options["host"]
    timeout = float(options["command_timeout"])
    workdir = tempfile.mkdtemp(prefix="fleetops-triage-", dir=options.get("tmp_dir") or None)
    staging = os.path.join(workdir, host)
    os.mkdir(staging, 0o700)
    started = time.monotonic()
    try:
        col = Collection(options, staging, now)
        _config(col)  # first: the secrets it finds are swept out of everything that follows
        _system(col, timeout)
        units = _units(col, timeout)
        probes = _probes(col)
        haproxy = _haproxy(col, timeout)
        slo = _prometheus(col, timeout)
        _ledger(col, host)
        _backups(col, host)
        _journals(col, host, timeout)
        _logs(col, host)
        col.events.sort(key=lambda e: e["ts"])
        dropped = max(0, len(col.events) - options["max_timeline_events"])
        events = col.events[dropped:]
        swept = sweep_files(col) + sweep_events(col, events)
        report = dict(
            host=host, since=iso(options["since_epoch"]), collected_at=iso(now), units=units, probes=probes,
            haproxy=haproxy, slo=slo, items=col.items, bytes=options["max_host_bytes"] - col.left,
            caps=dict((k, options[k]) for k in CAP_OPTIONS), command_timeout=timeout,
            redactions=dict(col.redactor.counts), sweep_found=swept, timeline_events=len(events),
            timeline_dropped=dropped, seconds=round(time.monotonic() - started, 3),
        )
        with open(os.path.join(staging, "timeline.jsonl"), "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(e, sort_keys=True) + "\n" for e in events)
        with open(os.path.join(staging, "collection.json"), "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1, sort_keys=True)
        archive = os.path.join(workdir, "triage-%s.tar.gz" % host)
        pack(staging, host, archive)
        map_path = os.path.join(workdir, "obfuscation-%s.json" % host)
        fd = os.open(map_path, CREATE_FLAGS, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(col.redactor.found, handle)
        shutil.rmtree(staging)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    problems = [i for i in col.items if i["status"] in ("error", "timeout")]
    return dict(
        workdir=workdir, archive=archive, map_path=map_path, archive_bytes=os.path.getsize(archive),
        collected_bytes=report["bytes"], items=len(col.items), problems=problems,
        truncated=[i["name"] for i in col.items if i["status"] == "truncated"],
        redactions=report["redactions"], seconds=report["seconds"],
    )
