# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preload callback loads, before the first fork, everything a worker would otherwise
import: after it ran, looking up any filter or test of the collection or of
ansible.builtin, or a builtin action plugin, imports nothing new.

Each check runs in a fresh interpreter: Ansible's plugin loader is set up once per
process, as in ansible-playbook.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))

# Prints the full name of every filter and test of the collection (importing their files).
NAMES = r"""
import importlib, json, os, pkgutil, sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
names = []
for kind, container_name, listing in (("filter", "FilterModule", "filters"), ("test", "TestModule", "tests")):
    try:
        package = importlib.import_module("ansible_collections.fleetops.lifecycle.plugins." + kind)
    except ImportError:  # no plugins of this kind
        continue
    for info in pkgutil.iter_modules(package.__path__):
        container = getattr(importlib.import_module(package.__name__ + "." + info.name), container_name, None)
        if container is not None:
            names.extend([kind, "fleetops.lifecycle." + name] for name in getattr(container(), listing)())
print(json.dumps(names))
"""

# Looks up each named plugin, after the callback's playbook start or without it, and
# prints the modules the lookups imported.
LOOKUPS = r"""
import json, os, sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible.plugins.loader import action_loader, callback_loader, filter_loader, test_loader

if sys.argv[2] == "preload":
    callback = callback_loader.get("fleetops.lifecycle.preload")
    callback.set_options()
    callback.v2_playbook_on_start(None)
before = set(sys.modules)
loaders = {"filter": filter_loader, "test": test_loader}
for kind, name in json.loads(sys.argv[3]):
    if kind == "action":
        assert action_loader.get(name, class_only=True) is not None, name
    else:
        assert loaders[kind].get(name) is not None, name
print(json.dumps(sorted(set(sys.modules) - before)))
"""

BUILTINS = [["filter", "ansible.builtin.to_json"], ["filter", "to_json"], ["filter", "ansible.builtin.urlsplit"],
            ["test", "ansible.builtin.match"], ["test", "ansible.builtin.subset"]] + [
    ["action", name] for name in ("ansible.builtin.template", "ansible.builtin.copy", "ansible.builtin.set_fact",
                                  "ansible.builtin.assert", "ansible.builtin.uri", "ansible.builtin.command")]


def _collections_root():
    """The directory holding ansible_collections/fleetops/lifecycle: the tree the tests
    run from when it is one (make test-unit runs them from the linked collection)."""
    if CHECKOUT.endswith(os.path.join("ansible_collections", "fleetops", "lifecycle")):
        return os.path.dirname(os.path.dirname(os.path.dirname(CHECKOUT)))
    return os.path.join(CHECKOUT, ".build", "collections")


def run_probe(*args):
    proc = subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def imported_by_lookups(mode):
    collection = run_probe(NAMES, _collections_root())
    assert any(kind == "filter" for kind, _ in collection)
    return run_probe(LOOKUPS, _collections_root(), mode, json.dumps(collection + BUILTINS))


def test_after_the_preload_no_lookup_imports_anything():
    assert imported_by_lookups("preload") == []


def test_without_the_preload_the_same_lookups_import_plugin_files():
    # The control: the test above would pass for nothing if lookups never imported.
    imported = imported_by_lookups("none")
    assert any(".lifecycle.plugins.filter." in name for name in imported), imported
    assert any(name.startswith("ansible.plugins.filter.") for name in imported), imported
    assert any(".builtin.plugins.action." in name for name in imported), imported
