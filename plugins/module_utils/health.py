# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health probes run on a managed host: validate the probe list, run it, explain every result.

This file runs on managed hosts, so it stays compatible with Python 3.8 and uses the
standard library only.

Flow
----
:func:`validate_probes` checks every probe definition and returns normalized copies, or
raises :class:`~fileops.ResultError` listing every problem (each naming the probe, the
option and the value) before anything runs. :func:`run_probes` runs the probes in a
bounded thread pool, so one slow probe does not serialise the others, and returns one
result per probe in input order::

    {"name": "web", "type": "http", "ok": False, "value": {"status": 503, "latency_ms": 4.1},
     "threshold": {"status": [200]}, "message": "GET http://127.0.0.1:8081/readyz answered 503, expected 200",
     "duration_ms": 4.3, "attempts": 1}

``value`` is what was measured and ``threshold`` what it was judged against; their
shape depends on the probe type (see ``health_check``'s RETURN). A probe that cannot
measure (connection refused, missing file, command not found) is not ok and says why.

Every probe only reads. The ``command`` probe runs whatever argv it is given, so the
caller must pass read-only commands; it runs with ``subprocess`` rather than
``AnsibleModule.run_command`` because it needs a timeout and runs in worker threads.

Attempts: a probe that is not ok is tried again ``retries`` times, ``delay`` seconds
apart; the result is the last attempt's, with the number of attempts made.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from urllib import error as urlerror
from urllib import request as urlrequest

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError

DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 0
DEFAULT_DELAY = 1.0
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64
MAX_BODY = 1024 * 1024
SYSTEMD_STATES = ("activating", "active", "deactivating", "failed", "inactive", "maintenance", "refreshing",
                  "reloading")

COMMON_OPTIONS = ("name", "type", "timeout", "retries", "delay")
# type -> (required options, all options of the type). Options of other types are refused.
PROBE_TYPES = {
    "http": (("url",), ("url", "status", "body_contains", "json_field", "json_value", "latency_ms",
                        "validate_certs")),
    "tcp": (("port",), ("host", "port", "expect")),
    "systemd": (("unit",), ("unit", "state")),
    "process": ((), ("pattern", "process_name", "min_count", "absent")),
    "disk": (("path",), ("path", "min_free_percent", "min_free_inodes_percent")),
    "file_age": (("path", "max_age"), ("path", "max_age")),
    "command": (("argv",), ("argv", "rc", "stdout_contains")),
}
PROBE_OPTIONS = tuple(sorted(set(COMMON_OPTIONS).union(*(opts for _, opts in PROBE_TYPES.values()))))


# ------------------------------------------------------------------ validation


class _Problems(object):
    """Collects the problems of every probe, so one run reports all of them."""

    def __init__(self):
        self.items = []

    def add(self, where, text):
        self.items.append("%s: %s" % (where, text))


def _where(index, name, option="probes"):
    if isinstance(name, str) and name:
        return "probe %r (%s[%d])" % (name, option, index)
    return "%s[%d]" % (option, index)


def _number(problems, where, option, value, *, minimum=None, maximum=None, above=None, integer=False):
    """``value`` as a number within bounds, or None after recording a problem."""
    number = None
    if not isinstance(value, bool):
        if isinstance(value, (int, float)):
            number = value
        elif isinstance(value, str):
            try:
                number = int(value) if integer else float(value)
            except ValueError:
                number = None
    if number is None or not math.isfinite(number) or (integer and int(number) != number):
        kind = "a whole number" if integer else "a number"
        problems.add(where, "%s=%r must be %s" % (option, value, kind))
        return None
    if integer:
        number = int(number)
    if above is not None and not number > above:
        problems.add(where, "%s=%r must be above %s" % (option, value, above))
        return None
    if minimum is not None and number < minimum:
        if maximum is not None:
            problems.add(where, "%s=%r must be between %s and %s" % (option, value, minimum, maximum))
        else:
            problems.add(where, "%s=%r must be %s or more" % (option, value, minimum))
        return None
    if maximum is not None and number > maximum:
        if minimum is not None:
            problems.add(where, "%s=%r must be between %s and %s" % (option, value, minimum, maximum))
        else:
            problems.add(where, "%s=%r must be %s or less" % (option, value, maximum))
        return None
    return number


def _int_list(problems, where, option, value, *, minimum, maximum):
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        problems.add(where, "%s=[] must list at least one value" % option)
        return None
    numbers = []
    for item in items:
        number = _number(problems, where, option, item, minimum=minimum, maximum=maximum, integer=True)
        if number is None:
            return None
        numbers.append(number)
    return numbers


def _text(problems, where, option, value):
    if not isinstance(value, str) or not value:
        problems.add(where, "%s=%r must be a non-empty string" % (option, value))
        return None
    return value


def _bool(problems, where, option, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "false", "no"):
        return value.lower() in ("true", "yes")
    problems.add(where, "%s=%r must be true or false" % (option, value))
    return None


def _check_http(problems, where, get):
    out = {}
    url = _text(problems, where, "url", get("url"))
    if url is not None and not url.startswith(("http://", "https://")):
        problems.add(where, "url=%r must start with http:// or https://" % url)
    out["url"] = url
    out["status"] = _int_list(problems, where, "status", [200] if get("status") is None else get("status"),
                              minimum=100, maximum=599)
    if get("body_contains") is not None:
        out["body_contains"] = _text(problems, where, "body_contains", get("body_contains"))
    if get("json_value") is not None and get("json_field") is None:
        problems.add(where, "json_value=%r needs json_field, the dotted path of the value" % (get("json_value"),))
    if get("json_field") is not None:
        out["json_field"] = _text(problems, where, "json_field", get("json_field"))
        if get("json_value") is not None:
            out["json_value"] = get("json_value")
    if get("latency_ms") is not None:
        out["latency_ms"] = _number(problems, where, "latency_ms", get("latency_ms"), above=0)
    out["validate_certs"] = True if get("validate_certs") is None else _bool(
        problems, where, "validate_certs", get("validate_certs"))
    return out


def _check_tcp(problems, where, get):
    out = {}
    out["host"] = "127.0.0.1" if get("host") is None else _text(problems, where, "host", get("host"))
    out["port"] = _number(problems, where, "port", get("port"), minimum=1, maximum=65535, integer=True)
    expect = "open" if get("expect") is None else get("expect")
    if expect not in ("open", "closed"):
        problems.add(where, "expect=%r must be open or closed" % (expect,))
    out["expect"] = expect
    return out


def _check_systemd(problems, where, get):
    out = {}
    out["unit"] = _text(problems, where, "unit", get("unit"))
    states = ["active"] if get("state") is None else get("state")
    states = [states] if isinstance(states, str) else list(states) if isinstance(states, (list, tuple)) else None
    if not states or any(state not in SYSTEMD_STATES for state in states):
        problems.add(where, "state=%r must be one or more of %s" % (get("state"), ", ".join(SYSTEMD_STATES)))
    out["state"] = states
    return out


def _check_process(problems, where, get):
    out = {}
    pattern, name = get("pattern"), get("process_name")
    if (pattern is None) == (name is None):
        problems.add(where, "give exactly one of pattern (a regular expression searched in the command line) "
                            "and process_name (the executable's name), got pattern=%r process_name=%r"
                     % (pattern, name))
    if pattern is not None and _text(problems, where, "pattern", pattern) is not None:
        try:
            out["pattern"] = re.compile(pattern)
        except re.error as exc:
            problems.add(where, "pattern=%r is not a valid regular expression: %s" % (pattern, exc))
    if name is not None:
        out["process_name"] = _text(problems, where, "process_name", name)
    absent = False if get("absent") is None else _bool(problems, where, "absent", get("absent"))
    if absent and get("min_count") is not None:
        problems.add(where, "min_count=%r cannot be used with absent=true" % (get("min_count"),))
    out["absent"] = absent
    out["min_count"] = 1 if get("min_count") is None else _number(
        problems, where, "min_count", get("min_count"), minimum=1, integer=True)
    return out


def _check_disk(problems, where, get):
    out = {}
    out["path"] = _text(problems, where, "path", get("path"))
    if get("min_free_percent") is None and get("min_free_inodes_percent") is None:
        problems.add(where, "give min_free_percent, min_free_inodes_percent or both")
    for option in ("min_free_percent", "min_free_inodes_percent"):
        if get(option) is not None:
            out[option] = _number(problems, where, option, get(option), minimum=0, maximum=100)
    return out


def _check_file_age(problems, where, get):
    out = {}
    out["path"] = _text(problems, where, "path", get("path"))
    out["max_age"] = _number(problems, where, "max_age", get("max_age"), minimum=0)
    return out


def _check_command(problems, where, get):
    out = {}
    argv = get("argv")
    if (not isinstance(argv, (list, tuple)) or not argv
            or not all(isinstance(arg, str) for arg in argv) or not argv[0]):
        problems.add(where, "argv=%r must be a non-empty list of strings (no shell is used)" % (argv,))
    else:
        out["argv"] = list(argv)
    out["rc"] = _int_list(problems, where, "rc", [0] if get("rc") is None else get("rc"), minimum=0, maximum=255)
    if get("stdout_contains") is not None:
        out["stdout_contains"] = _text(problems, where, "stdout_contains", get("stdout_contains"))
    return out


_CHECKS = {
    "http": _check_http,
    "tcp": _check_tcp,
    "systemd": _check_systemd,
    "process": _check_process,
    "disk": _check_disk,
    "file_age": _check_file_age,
    "command": _check_command,
}


def _validate_options(problems, where, kind, probe):
    """Type-specific checks; returns the normalized options of the type."""
    return _CHECKS[kind](problems, where, probe.get)


def validate_probes(probes, timeout=DEFAULT_TIMEOUT, retries=DEFAULT_RETRIES, delay=DEFAULT_DELAY, option="probes"):
    """Check ``probes`` and return normalized probe dicts; raise ResultError listing every problem.

    Options left out (or None, as AnsibleModule fills in suboptions) take the type's
    default; ``timeout``, ``retries`` and ``delay`` default to the global values given here.
    ``option`` is the name messages give the list (a module taking probes under another name).
    """
    problems = _Problems()
    defaults = {}
    defaults["timeout"] = _number(problems, "options", "timeout", timeout, above=0)
    defaults["retries"] = _number(problems, "options", "retries", retries, minimum=0, integer=True)
    defaults["delay"] = _number(problems, "options", "delay", delay, minimum=0)
    if not isinstance(probes, (list, tuple)) or not probes:
        raise ResultError("%s: give a non-empty list of probes, got %r" % (option, probes))
    seen = {}
    normalized = []
    for index, probe in enumerate(probes):
        if not isinstance(probe, Mapping):
            problems.add("%s[%d]" % (option, index), "each probe must be a dictionary, got %r" % (probe,))
            continue
        name = probe.get("name")
        where = _where(index, name, option)
        if not isinstance(name, str) or not name:
            problems.add(where, "name=%r must be a non-empty string (every probe needs a unique name)" % (name,))
        elif name in seen:
            problems.add(where, "name=%r is already used by %s[%d]; probe names must be unique"
                         % (name, option, seen[name]))
        else:
            seen[name] = index
        kind = probe.get("type")
        if kind not in PROBE_TYPES:
            problems.add(where, "type=%r is not a probe type; use one of %s" % (kind, ", ".join(sorted(PROBE_TYPES))))
            continue
        required, allowed = PROBE_TYPES[kind]
        given = dict((key, value) for key, value in probe.items() if value is not None)
        unknown = sorted(key for key in given if key not in allowed and key not in COMMON_OPTIONS)
        for key in unknown:
            problems.add(where, "%s=%r is not an option of %s probes (they take %s)"
                         % (key, given[key], kind, ", ".join(allowed)))
        missing = [key for key in required if key not in given]
        for key in missing:
            problems.add(where, "%s is required for type=%s" % (key, kind))
        if missing:
            continue
        out = _validate_options(problems, where, kind, given)
        out["name"], out["type"], out["index"] = name, kind, index
        out["timeout"] = defaults["timeout"] if given.get("timeout") is None else _number(
            problems, where, "timeout", given["timeout"], above=0)
        out["retries"] = defaults["retries"] if given.get("retries") is None else _number(
            problems, where, "retries", given["retries"], minimum=0, integer=True)
        out["delay"] = defaults["delay"] if given.get("delay") is None else _number(
            problems, where, "delay", given["delay"], minimum=0)
        normalized.append(out)
    if problems.items:
        raise ResultError("bad probe definition: " + "; ".join(problems.items), problems=problems.items)
    return normalized


# ---------------------------------------------------------------------- probes


class Outcome(object):
    """One attempt: ok, the measured value, the threshold and the explanation."""

    __slots__ = ("ok", "value", "threshold", "message")

    def __init__(self, ok, value, threshold, message):
        self.ok, self.value, self.threshold, self.message = ok, value, threshold, message


class System(object):
    """What the probes touch, replaceable in tests."""

    proc_root = "/proc"

    def __init__(self):
        self.exclude_pids = (os.getpid(),)

    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)
    time = staticmethod(time.time)
    statvfs = staticmethod(os.statvfs)

    @staticmethod
    def run(argv, timeout):
        """Run argv without a shell; (rc, stdout, stderr) as text."""
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
        return (proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def _short(text, limit=200, flat=True):
    """The end of ``text``, at most ``limit`` characters; ``flat`` joins its lines."""
    text = " ".join(text.split()) if flat else text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def _ms(seconds):
    return round(seconds * 1000.0, 1)


def _plain(number):
    return int(number) if float(number).is_integer() else number


class _NoRedirect(urlrequest.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_MISSING = object()


def _dig(document, path):
    """The value at a dotted path (list items by index), or _MISSING."""
    value = document
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and re.match(r"^-?\d+$", part) and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _same(actual, expected):
    if actual == expected and type(actual) is not bool and type(expected) is not bool:
        return True
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected or (isinstance(expected, str) and json.dumps(actual) == expected.lower())
    return isinstance(expected, str) and not isinstance(actual, str) and json.dumps(actual) == expected


def _reason(exc):
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, socket.timeout) or "timed out" in str(reason):
        return "no answer (timed out)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    return str(reason)


def _fetch(probe):
    """GET the probe's URL without following redirects: (status, body bytes); raises URLError/OSError."""
    url = probe["url"]
    handlers = [_NoRedirect(), urlrequest.ProxyHandler({})]
    if url.startswith("https://"):
        context = ssl.create_default_context()
        if not probe["validate_certs"]:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        handlers.append(urlrequest.HTTPSHandler(context=context))
    opener = urlrequest.build_opener(*handlers)
    request = urlrequest.Request(url, headers={"User-Agent": "fleetops-health-check"})
    try:
        with opener.open(request, timeout=probe["timeout"]) as reply:
            return reply.status, reply.read(MAX_BODY)
    except urlerror.HTTPError as exc:  # a status outside 2xx is still an answer
        try:
            return exc.code, exc.read(MAX_BODY)
        finally:
            exc.close()


def _judge_http(probe, status, text, value):
    """The failures (and, when none, the checks passed) of an HTTP answer; fills value['json_value']."""
    failures = []
    if status not in probe["status"]:
        failures.append("answered %d, expected %s" % (status, " or ".join(str(s) for s in probe["status"])))
    if "body_contains" in probe and probe["body_contains"] not in text:
        failures.append("body does not contain %r (body starts %r)" % (probe["body_contains"], text[:80]))
    if "json_field" in probe:
        field = probe["json_field"]
        try:
            found = _dig(json.loads(text), field)
        except ValueError:
            found = None
            failures.append("body is not JSON, cannot read %s (body starts %r)" % (field, text[:80]))
        else:
            if found is _MISSING:
                failures.append("JSON field %s is missing" % field)
            else:
                value["json_value"] = found
                if "json_value" in probe and not _same(found, probe["json_value"]):
                    failures.append("JSON field %s is %s, expected %s"
                                    % (field, json.dumps(found), json.dumps(probe["json_value"])))
    latency = value["latency_ms"]
    if "latency_ms" in probe and latency > probe["latency_ms"]:
        failures.append("took %sms, over the latency budget of %sms" % (latency, _plain(probe["latency_ms"])))
    if failures:
        return failures, []
    checks = ["answered %d in %sms" % (status, latency)]
    if "latency_ms" in probe:
        checks[0] += " (budget %sms)" % _plain(probe["latency_ms"])
    if "body_contains" in probe:
        checks.append("body contains %r" % probe["body_contains"])
    if "json_field" in probe:
        checks.append("JSON field %s is %s" % (probe["json_field"], json.dumps(value["json_value"])))
    return failures, checks


def probe_http(probe, system):
    url = probe["url"]
    threshold = {"status": probe["status"]}
    for key in ("latency_ms", "body_contains", "json_field", "json_value"):
        if key in probe:
            threshold[key] = probe[key]
    started = system.monotonic()
    try:
        status, body = _fetch(probe)
    except (urlerror.URLError, OSError, ValueError) as exc:
        latency = _ms(system.monotonic() - started)
        return Outcome(False, {"status": None, "latency_ms": latency}, threshold,
                       "GET %s: %s after %sms" % (url, _reason(exc), latency))
    value = {"status": status, "latency_ms": _ms(system.monotonic() - started)}
    failures, checks = _judge_http(probe, status, body.decode("utf-8", "replace"), value)
    return Outcome(not failures, value, threshold, "GET %s %s" % (url, "; ".join(failures or checks)))


def probe_tcp(probe, system):
    host, port, expect = probe["host"], probe["port"], probe["expect"]
    address = "%s:%d" % (host if ":" not in host else "[%s]" % host, port)
    try:
        with socket.create_connection((host, port), timeout=probe["timeout"]):
            state, why = "open", "a connection was accepted"
    except socket.timeout:
        state, why = "closed", "no answer within %ss" % _plain(probe["timeout"])
    except ConnectionRefusedError:
        state, why = "closed", "connection refused"
    except OSError as exc:
        state, why = "closed", str(exc)
    ok = state == expect
    return Outcome(ok, state, expect, "%s is %s (%s), expected %s" % (address, state, why, expect))


def probe_systemd(probe, system):
    unit, expected = probe["unit"], probe["state"]
    systemctl = shutil.which("systemctl") or "systemctl"
    argv = [systemctl, "show", "--no-pager", "-p", "ActiveState,SubState,LoadState,Result", "--", unit]
    try:
        rc, out, err = system.run(argv, probe["timeout"])
    except (OSError, subprocess.SubprocessError) as exc:
        return Outcome(False, None, expected, "unit %s: cannot run systemctl: %s" % (unit, exc))
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    state = props.get("ActiveState")
    if rc != 0 or not state:
        return Outcome(False, None, expected, "unit %s: systemctl show failed (rc %d): %s"
                       % (unit, rc, _short(err or out) or "no ActiveState"))
    detail = "sub-state %s" % props.get("SubState", "?")
    if props.get("LoadState") not in (None, "loaded"):
        detail += ", load state %s" % props["LoadState"]
    if props.get("Result") not in (None, "", "success"):
        detail += ", result %s" % props["Result"]
    message = "unit %s is %s (%s), expected %s" % (unit, state, detail, " or ".join(expected))
    return Outcome(state in expected, state, expected, message)


def find_processes(system, pattern=None, process_name=None):
    """PIDs (sorted) of the processes whose command line matches, from /proc."""
    found = []
    try:
        entries = os.listdir(system.proc_root)
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) in system.exclude_pids:
            continue
        base = os.path.join(system.proc_root, entry)
        try:
            with open(os.path.join(base, "cmdline"), "rb") as handle:
                argv = [arg.decode("utf-8", "replace") for arg in handle.read().split(b"\0") if arg]
            if process_name is not None:
                with open(os.path.join(base, "comm"), "rb") as handle:
                    comm = handle.read().decode("utf-8", "replace").strip()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if pattern is not None:
            if argv and pattern.search(" ".join(argv)):
                found.append(int(entry))
        elif comm == process_name or (argv and os.path.basename(argv[0]) == process_name):
            found.append(int(entry))
    return sorted(found)


def probe_process(probe, system):
    pattern = probe.get("pattern")
    what = "command line matching %r" % pattern.pattern if pattern is not None else "named %r" % probe["process_name"]
    pids = find_processes(system, pattern, probe.get("process_name"))
    count = len(pids)
    shown = "" if not pids else " (pid %s%s)" % (", ".join(str(p) for p in pids[:5]), ", ..." if count > 5 else "")
    if probe["absent"]:
        return Outcome(count == 0, count, {"max": 0},
                       "%d process(es) with a %s%s, expected none" % (count, what, shown))
    return Outcome(count >= probe["min_count"], count, {"min": probe["min_count"]},
                   "%d process(es) with a %s%s, expected at least %d" % (count, what, shown, probe["min_count"]))


def probe_disk(probe, system):
    path = probe["path"]
    threshold = dict((key, _plain(probe[key])) for key in ("min_free_percent", "min_free_inodes_percent")
                     if key in probe)
    try:
        stats = system.statvfs(path)
    except OSError as exc:
        return Outcome(False, None, threshold, "%s: cannot read file system usage: %s" % (path, exc.strerror or exc))
    value = {
        "free_percent": round(100.0 * stats.f_bavail / stats.f_blocks, 2) if stats.f_blocks else None,
        "free_inodes_percent": round(100.0 * stats.f_favail / stats.f_files, 2) if stats.f_files else None,
        "free_mb": round(stats.f_bavail * stats.f_frsize / 1048576.0, 1),
    }
    failures, checks = [], []
    for key, label, unit in (("min_free_percent", "free_percent", "space"),
                             ("min_free_inodes_percent", "free_inodes_percent", "inodes")):
        if key not in probe:
            continue
        measured = value[label]
        if measured is None:
            checks.append("%s not reported by the file system (not checked)" % unit)
        elif measured < probe[key]:
            failures.append("%s%% of %s free, below the minimum of %s%%" % (measured, unit, _plain(probe[key])))
        else:
            checks.append("%s%% of %s free (minimum %s%%)" % (measured, unit, _plain(probe[key])))
    if failures:
        return Outcome(False, value, threshold, "%s has %s" % (path, "; ".join(failures + checks)))
    return Outcome(True, value, threshold, "%s has %s" % (path, "; ".join(checks)))


def probe_file_age(probe, system):
    pattern, max_age = probe["path"], probe["max_age"]
    newest = None
    for path in glob.glob(pattern):
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            continue
        if newest is None or mtime > newest[1]:
            newest = (path, mtime)
    if newest is None:
        return Outcome(False, None, _plain(max_age), "no file matches %s (max_age %ss)" % (pattern, _plain(max_age)))
    age = round(max(0.0, system.time() - newest[1]), 1)
    ok = age <= max_age
    return Outcome(ok, age, _plain(max_age), "newest file %s is %ss old, %s max_age %ss"
                   % (newest[0], _plain(age), "within" if ok else "over", _plain(max_age)))


def probe_command(probe, system):
    argv = probe["argv"]
    threshold = {"rc": probe["rc"]}
    if "stdout_contains" in probe:
        threshold["stdout_contains"] = probe["stdout_contains"]
    shown = " ".join(argv)
    try:
        rc, out, err = system.run(argv, probe["timeout"])
    except subprocess.TimeoutExpired:
        message = "%s did not finish within %ss" % (shown, _plain(probe["timeout"]))
        return Outcome(False, {"rc": None}, threshold, message)
    except OSError as exc:
        return Outcome(False, {"rc": None}, threshold, "%s could not run: %s" % (shown, exc.strerror or exc))
    value = {"rc": rc, "stdout": _short(out, flat=False), "stderr": _short(err, flat=False)}
    failures = []
    if rc not in probe["rc"]:
        failures.append("exited %d, expected %s" % (rc, " or ".join(str(r) for r in probe["rc"])))
        if err.strip():
            failures[-1] += " (stderr %r)" % _short(err, 120)
    if "stdout_contains" in probe and probe["stdout_contains"] not in out:
        failures.append("stdout does not contain %r (stdout %r)" % (probe["stdout_contains"], _short(out, 120)))
    if failures:
        return Outcome(False, value, threshold, "%s %s" % (shown, "; ".join(failures)))
    message = "%s exited %d" % (shown, rc)
    if "stdout_contains" in probe:
        message += ", stdout contains %r" % probe["stdout_contains"]
    return Outcome(True, value, threshold, message)


PROBES = {
    "http": probe_http,
    "tcp": probe_tcp,
    "systemd": probe_systemd,
    "process": probe_process,
    "disk": probe_disk,
    "file_age": probe_file_age,
    "command": probe_command,
}


def run_probe(probe, system=None):
    """Run one validated probe with its retries; return its result dict."""
    system = system or System()
    started = system.monotonic()
    attempts = 0
    while True:
        attempts += 1
        try:
            outcome = PROBES[probe["type"]](probe, system)
        except Exception as exc:  # a probe must report, never take the others down
            outcome = Outcome(False, None, None, "probe error: %s: %s" % (type(exc).__name__, exc))
        if outcome.ok or attempts > probe["retries"]:
            break
        system.sleep(probe["delay"])
    message = outcome.message
    if attempts > 1:
        message += " (attempt %d of %d)" % (attempts, probe["retries"] + 1)
    return {
        "name": probe["name"],
        "type": probe["type"],
        "ok": outcome.ok,
        "value": outcome.value,
        "threshold": outcome.threshold,
        "message": message,
        "duration_ms": _ms(system.monotonic() - started),
        "attempts": attempts,
    }


def run_probes(probes, concurrency=DEFAULT_CONCURRENCY, system=None):
    """Run validated probes, at most ``concurrency`` at a time; results in input order."""
    system = system or System()
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ResultError("concurrency: %r must be a whole number from 1 to %d" % (concurrency, MAX_CONCURRENCY))
    if len(probes) == 1 or concurrency == 1:
        return [run_probe(probe, system) for probe in probes]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(probes)),
                            thread_name_prefix="health-probe") as pool:
        futures = [pool.submit(run_probe, probe, system) for probe in probes]
        return [future.result() for future in futures]


def summarize(results):
    """The module's result keys: probes, ok, failed_probes and a one-line summary."""
    failed = [result for result in results if not result["ok"]]
    if failed:
        summary = "%d of %d probes failed: %s" % (
            len(failed), len(results), "; ".join("%s: %s" % (r["name"], r["message"]) for r in failed))
    else:
        summary = "all %d probes passed" % len(results)
    return {"probes": results, "ok": not failed, "failed_probes": [r["name"] for r in failed], "summary": summary}


def check_health(params, system=None):
    """Validate everything, then run every probe; the module's result (without ``changed``)."""
    probes = validate_probes(
        params.get("probes"),
        timeout=DEFAULT_TIMEOUT if params.get("timeout") is None else params["timeout"],
        retries=DEFAULT_RETRIES if params.get("retries") is None else params["retries"],
        delay=DEFAULT_DELAY if params.get("delay") is None else params["delay"],
    )
    concurrency = DEFAULT_CONCURRENCY if params.get("concurrency") is None else params["concurrency"]
    return summarize(run_probes(probes, concurrency=concurrency, system=system))



# The options every module that runs probes takes, with the probes' defaults
# (health_check and fleet_probe; documented by the health_run doc fragment).
RUN_OPTIONS_SPEC = dict(
    timeout=dict(type="float", default=DEFAULT_TIMEOUT),
    retries=dict(type="int", default=DEFAULT_RETRIES),
    delay=dict(type="float", default=DEFAULT_DELAY),
    concurrency=dict(type="int", default=DEFAULT_CONCURRENCY),
    fail_on_unhealthy=dict(type="bool", default=True),
)


def exit_with_probes(module, run):
    """Exit ``module`` with ``run(module.params)``'s result: failed on a bad input, or on an
    unhealthy result when ``fail_on_unhealthy`` asks; ``changed`` is always false."""
    try:
        result = run(module.params)
    except ResultError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    if module.params["fail_on_unhealthy"] and not result["ok"]:
        module.fail_json(msg="health check failed, " + result["summary"], **result)
    module.exit_json(changed=False, **result)
