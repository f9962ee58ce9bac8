#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-core's validate-modules over every module, filter and callback, offline.

``ansible-test sanity --test validate-modules`` needs a virtual environment per test,
which it fills by downloading a pip bootstrap script (no network here), and it skips
filter plugins. This runs the same validator (``validate.py`` from the installed
``ansible_test`` package, with the arguments ``ansible-test`` gives it) in this
virtualenv, on:

* ``plugins/modules/*.py`` (documentation and argument spec, ``--arg-spec``);
* every filter's documentation: each ``plugins/filter/*.yml`` sidecar, and each filter
  ``.py`` file with its own ``DOCUMENTATION`` (a file named after its one filter);
* ``plugins/callback/*.py``.

Known findings are listed in ``tests/sanity/ignore-<ansible-core X.Y>.txt``, one a line:
``<path or glob> validate-modules:<code>[:<message prefix>]  # why``. A line without a
reason, or that matches nothing, is an error itself, so the list cannot go stale.

Usage: ``python tests/sanity/validate_modules.py COLLECTION_DIR`` where COLLECTION_DIR is
the collection under an ``ansible_collections/<namespace>/<name>`` path (``make
collection-link`` makes one). Exit 0 when every finding is listed, else 1.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import subprocess
import sys

import ansible_test
import yaml
from ansible.release import __version__ as ansible_version

VALIDATOR = os.path.join(os.path.dirname(ansible_test.__file__), "_util", "controller", "sanity",
                         "validate-modules", "validate.py")


def targets():
    """``{plugin type: [paths]}`` relative to the collection root (the working directory)."""
    filters = sorted(glob.glob("plugins/filter/*.yml"))
    for path in sorted(glob.glob("plugins/filter/*.py")):
        with open(path, encoding="utf-8") as handle:
            documented = "\nDOCUMENTATION = " in handle.read()
        if documented and path[:-3] + ".yml" not in filters:
            filters.append(path)
    return {
        "module": sorted(glob.glob("plugins/modules/*.py")),
        "filter": sorted(filters),
        "callback": sorted(glob.glob("plugins/callback/*.py")),
    }


def run_validator(collection_dir, plugin_type, paths):
    """validate.py's findings: ``[(path, code, message)]``."""
    parts = os.path.abspath(collection_dir).split(os.sep)
    if len(parts) < 4 or parts[-3] != "ansible_collections":
        raise SystemExit("validate_modules: %s is not under ansible_collections/<namespace>/<name>" % collection_dir)
    with open("galaxy.yml", encoding="utf-8") as handle:
        version = str(yaml.safe_load(handle)["version"])
    command = [sys.executable, VALIDATOR, "--format", "json", "--collection", "/".join(parts[-3:]),
               "--collection-version", version]
    if plugin_type == "module":
        command.append("--arg-spec")
    else:
        command += ["--plugin-type", plugin_type]
    env = dict(os.environ, PYTHONPATH=os.sep.join(parts[:-3]), ANSIBLE_COLLECTIONS_PATH=os.sep.join(parts[:-3]))
    done = subprocess.run(command + paths, env=env, capture_output=True, text=True, check=False)
    # 3 means "findings reported"; anything on stderr or another status is the validator failing.
    if done.returncode not in (0, 3) or done.stderr.strip():
        raise SystemExit("validate_modules: validate.py failed (%s) on %s:\n%s%s"
                         % (done.returncode, plugin_type, done.stdout[-2000:], done.stderr[-4000:]))
    findings = []
    for path, report in sorted(json.loads(done.stdout or "{}").items()):
        for error in report.get("errors", []):
            findings.append((path, error["code"], error["msg"]))
    return findings


def read_ignores(path):
    """``[(line number, pattern, code, message prefix)]``; a malformed line is a finding."""
    ignores, problems = [], []
    if not os.path.exists(path):
        return ignores, problems
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            entry, _, reason = line.partition(" # ")
            fields = entry.split(None, 1)
            if len(fields) != 2 or not fields[1].startswith("validate-modules:") or not reason.strip():
                problems.append("%s:%d: want '<path> validate-modules:<code>[:<message prefix>]  # why', got %r"
                                % (path, number, line))
                continue
            code, _, prefix = fields[1].strip()[len("validate-modules:"):].partition(":")
            ignores.append((number, fields[0], code, prefix))
    return ignores, problems


def main(argv):
    if len(argv) != 2:
        raise SystemExit(__doc__)
    os.chdir(argv[1])
    ignore_file = "tests/sanity/ignore-%s.txt" % ".".join(ansible_version.split(".")[:2])
    ignores, problems = read_ignores(ignore_file)
    used = set()
    checked = 0
    for plugin_type, paths in targets().items():
        if not paths:
            continue
        checked += len(paths)
        for path, code, message in run_validator(argv[1], plugin_type, paths):
            match = next((i for i in ignores if fnmatch.fnmatchcase(path, i[1]) and i[2] == code
                          and message.startswith(i[3])), None)
            if match is None:
                problems.append("%s:0:0: %s: %s" % (path, code, message))
            else:
                used.add(match[0])
    problems += ["%s:%d: ignore entry matches no finding; remove it" % (ignore_file, i[0])
                 for i in ignores if i[0] not in used]
    for problem in problems:
        print(problem)
    print("validate-modules: %d plugins checked, %d finding(s) not listed in %s"
          % (checked, len(problems), ignore_file))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
