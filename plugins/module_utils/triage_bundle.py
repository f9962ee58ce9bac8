# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's half of a triage: one archive from every host's, plus what a responder reads first.

:func:`build` takes the hosts' outcomes (collected with an archive, unreachable or
failed, each with a message), extracts each archive under ``hosts/`` with
:func:`extract_host` (regular files under ``<host>/`` only, sizes bounded), merges
the hosts' token maps into the obfuscation map on the controller (:func:`merge_map`,
a 0600 file outside the bundle), sweeps every bundle file for every secret the map
knows (a secret one host redacted and another printed bare is caught here), then
writes the cross-host timeline, the proposed severity with its deadlines, the
manifest, ``SHA256SUMS`` and ``summary.html``, and packs it all as
``triage-<time>.tar.gz`` (written to a temporary name, then renamed).

Runs on the controller; standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import (
    CREATE_FLAGS,
    ResultError,
    fsync_dir,
    sha256_file,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.haproxy import parse_show_stat
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_severity import (
    deadlines,
    host_serving,
    propose,
    validate_policy,
    validate_rules,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_summary import summary_html
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_timeline import iso, merge, render

HOST_STATUSES = ("collected", "unreachable", "failed")
MAX_MEMBER_BYTES = 1 << 30
MIN_SWEEP_LITERAL = 6
REPORT_KEYS = ("bytes", "caps", "redactions", "sweep_found", "seconds", "timeline_events", "timeline_dropped")


def _stamp(now):
    return iso(now).replace("-", "").replace(":", "").split(".")[0] + "Z"


def extract_host(archive, host, dest, max_bytes):
    """Extract ``archive``'s members under ``<host>/`` into ``dest``; refuse anything else.

    Returns the relative paths written. Raises ResultError for a link, device, absolute
    or ``..`` path, a member outside ``<host>/`` or more than ``max_bytes`` in all.
    """
    written, total = [], 0
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            name = member.name
            parts = name.split("/")
            if name.startswith("/") or ".." in parts or parts[0] != host:
                raise ResultError("archive of %s: member %r is outside %s/" % (host, name, host))
            if member.isdir():
                continue
            if not member.isreg():
                raise ResultError("archive of %s: member %r is not a regular file" % (host, name))
            total += member.size
            if total > max_bytes:
                raise ResultError("archive of %s holds more than %d bytes" % (host, max_bytes))
            target = os.path.join(dest, name)
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            source = tar.extractfile(member)
            fd = os.open(target, CREATE_FLAGS, 0o600)
            with os.fdopen(fd, "wb") as handle:
                shutil.copyfileobj(source, handle, 1 << 20)
            written.append(name)
    return written


def _read_json(path, default=None):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default


def write_private_json(path, data):
    """``data`` as JSON at ``path``, mode 0600, written then renamed."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".map-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.rename(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    fsync_dir(directory)


def merge_map(map_path, incoming_paths):
    """Add every host's token -> secret entries to the map; returns the whole map's tokens."""
    tokens = (_read_json(map_path, {}) or {}).get("tokens", {})
    for path in incoming_paths:
        entries = _read_json(path, {})
        if isinstance(entries, dict):
            tokens.update((str(k), str(v)) for k, v in entries.items())
    write_private_json(map_path, {"tokens": tokens})
    return tokens


def sweep_bundle(root, tokens):
    """Replace any secret of the map still found in a bundle file; returns {relpath: count}."""
    secrets = sorted(((s, t) for t, s in tokens.items() if len(s) >= MIN_SWEEP_LITERAL),
                     key=lambda item: len(item[0]), reverse=True)
    found = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                text = handle.read().decode("utf-8", "replace")
            hits = 0
            for secret, token in secrets:
                if secret in text:
                    hits += text.count(secret)
                    text = text.replace(secret, token)
            if hits:
                with open(path, "wb") as handle:
                    handle.write(text.encode("utf-8"))
                found[os.path.relpath(path, root)] = hits
    return found


def _evidence(params, reports, states):
    servers = None
    for host, report in sorted(reports.items()):
        stat = os.path.join(params["_hosts_dir"], host, "haproxy", "show-stat.csv")
        if (report.get("haproxy") or {}).get("show stat") in ("ok", "truncated") and os.path.exists(stat):
            try:
                with open(stat, encoding="utf-8") as handle:
                    rows = parse_show_stat(handle.read())
                servers = dict((app, host_serving(rows, params["haproxy_backend"], app, params["server_prefix"]))
                               for app in params["app_hosts"])
                break
            except ValueError:
                continue
    ratio = None
    for report in reports.values():
        value = ((report.get("slo") or {}).get("error_ratio") or {}).get("value")
        if isinstance(value, (int, float)):
            ratio = value
    hosts = dict((h, dict(states[h], probes=(reports.get(h) or {}).get("probes") or [])) for h in states)
    return dict(app_hosts=params["app_hosts"], hosts=hosts, servers=servers, backend=params["haproxy_backend"],
                error_ratio=ratio, probe_impact=params["probe_impact"])


def host_outcomes(results, incoming_dir):
    """``(hosts, maps)``: each host's entry (collected, unreachable or failed) and the token maps fetched."""
    hosts, maps = [], []
    for host in sorted(results):
        result = results[host] if isinstance(results[host], dict) else {}
        archive = os.path.join(incoming_dir, "%s.tar.gz" % host)
        token_map = os.path.join(incoming_dir, "%s.map.json" % host)
        message = str(result.get("msg") or "").strip()
        if result.get("unreachable"):
            hosts.append(dict(host=host, status="unreachable", message=message or "unreachable"))
        elif result.get("failed") or not result.get("archive"):
            hosts.append(dict(host=host, status="failed", message=message or "the collection returned no archive"))
        elif not os.path.isfile(archive):
            hosts.append(dict(host=host, status="failed", message="its archive was not fetched to %s" % archive))
        else:
            hosts.append(dict(host=host, status="collected", message="", archive=archive))
        if os.path.isfile(token_map):
            maps.append(token_map)
    return hosts, maps


def _check_hosts(hosts):
    if not hosts:
        raise ResultError("hosts: no host to bundle")
    for index, entry in enumerate(hosts):
        if not isinstance(entry, dict) or not entry.get("host"):
            raise ResultError("hosts[%d]: %r needs a host name" % (index, entry))
        if entry.get("status") not in HOST_STATUSES:
            raise ResultError("hosts[%d].status: %r is not one of %s" % (index, entry.get("status"),
                                                                         ", ".join(HOST_STATUSES)))
        if entry["status"] == "collected" and not entry.get("archive"):
            raise ResultError("hosts[%d]: %s was collected but names no archive" % (index, entry["host"]))


def validate(params):
    """The controller options checked before anything is collected (the playbook's preflight)."""
    validate_policy(params.get("severity_policy"))
    validate_rules(params.get("severity_rules"))
    if not params.get("output_dir"):
        raise ResultError("output_dir: must name a directory for the bundle")
    if not params.get("map_path"):
        raise ResultError("map_path: must name the obfuscation map file (kept outside the bundle)")


def _gather(params, hosts_dir):
    """Extract every collected host's archive; returns (states, reports, per-host event lists)."""
    states, reports, events = {}, {}, []
    for entry in params["hosts"]:
        host = entry["host"]
        states[host] = dict(status=entry["status"], message=entry.get("message") or "")
        if entry["status"] != "collected":
            continue
        try:
            extract_host(entry["archive"], host, hosts_dir, params["max_host_archive_bytes"])
        except (OSError, tarfile.TarError, ResultError) as exc:
            states[host] = dict(status="failed", message="archive unusable: %s" % getattr(exc, "msg", exc))
            shutil.rmtree(os.path.join(hosts_dir, host), ignore_errors=True)
            continue
        reports[host] = _read_json(os.path.join(hosts_dir, host, "collection.json"), {})
        with open(os.path.join(hosts_dir, host, "timeline.jsonl"), encoding="utf-8") as handle:
            events.append([json.loads(line) for line in handle if line.strip()])
    return states, reports, events


def _write(path, text):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _seal(root, manifest):
    """manifest.json with every file's size and sha256, then SHA256SUMS over all of them."""
    files = []
    for directory, dirs, names in os.walk(root):
        dirs.sort()
        for filename in sorted(names):
            path = os.path.join(directory, filename)
            files.append(dict(path=os.path.relpath(path, root), bytes=os.path.getsize(path),
                              sha256=sha256_file(path)))
    manifest["files"] = files
    _write(os.path.join(root, "manifest.json"), json.dumps(manifest, indent=1, sort_keys=True))
    sums = "".join("%s  %s\n" % (f["sha256"], f["path"]) for f in files)
    _write(os.path.join(root, "SHA256SUMS"), sums + "%s  manifest.json\n" % sha256_file(
        os.path.join(root, "manifest.json")))


def _pack(root, name, output_dir):
    bundle = os.path.join(output_dir, name + ".tar.gz")
    with tarfile.open(bundle + ".part", "w:gz") as tar:
        tar.add(root, arcname=name)
    os.chmod(bundle + ".part", 0o600)
    os.rename(bundle + ".part", bundle)
    fsync_dir(output_dir)
    return bundle


def build(params, now):
    """Merge the hosts' archives into one bundle; returns the module's result."""
    validate(params)
    _check_hosts(params["hosts"])
    name = "triage-%s" % _stamp(now)
    os.makedirs(params["output_dir"], mode=0o700, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".%s-" % name, dir=params["output_dir"])
    try:
        root = os.path.join(work, name)
        hosts_dir = os.path.join(root, "hosts")
        os.makedirs(hosts_dir, mode=0o700)
        params = dict(params, _hosts_dir=hosts_dir)
        states, reports, events = _gather(params, hosts_dir)
        tokens = merge_map(params["map_path"], params.get("incoming_maps") or [])
        swept = sweep_bundle(hosts_dir, tokens)
        timeline = merge(*events)
        proposal = propose(_evidence(params, reports, states), params.get("severity_rules"))
        severity = dict(proposal, **deadlines(proposal["severity"], params["severity_policy"], now))
        _write(os.path.join(root, "timeline.txt"), render(timeline))
        _write(os.path.join(root, "timeline.jsonl"), "".join(json.dumps(e, sort_keys=True) + "\n" for e in timeline))
        _write(os.path.join(root, "severity.json"), json.dumps(severity, indent=1, sort_keys=True))
        manifest = dict(
            name=name, created=iso(now), since=params.get("since"), hosts=states,
            host_reports=dict((h, dict((k, r.get(k)) for k in REPORT_KEYS)) for h, r in reports.items()),
            controller_sweep=swept, timeline_events=len(timeline), severity=severity["severity"],
        )
        _write(os.path.join(root, "summary.html"),
               summary_html(manifest, severity, reports, timeline, params.get("summary_timeline_lines", 200)))
        _seal(root, manifest)
        bundle = _pack(root, name, params["output_dir"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dict(bundle=bundle, bundle_bytes=os.path.getsize(bundle), bundle_sha256=sha256_file(bundle),
                severity=severity, hosts=states, timeline_events=len(timeline), controller_sweep=swept,
                map_path=params["map_path"])
