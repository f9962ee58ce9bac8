# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Under mitogen, the preload callback lets mitogen's module_utils scan compile each file
once per run: the scans return exactly what they return without it, with fewer compiles;
under any other strategy nothing is touched."""

from __future__ import annotations

import builtins
import os

import ansible
import pytest
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils import preload
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.callback.test_preload_callback import (
    _collections_root,
    run_probe,
)
from ansible_mitogen import module_finder, planner  # mitogen is in requirements.txt: a missing one fails

ANSIBLE = os.path.dirname(ansible.__file__)
SEARCH_PATH = [os.path.join(ANSIBLE, "module_utils")]
MODULES = ["copy", "file", "systemd_service", "uri", "command"]


def scans():
    return [module_finder.scan("ansible.modules." + name, os.path.join(ANSIBLE, "modules", name + ".py"), SEARCH_PATH)
            for name in MODULES]


@pytest.fixture
def counted_compile(monkeypatch):
    """Counts the real compiles, whoever calls them; module_finder starts on the builtin."""
    calls = []
    real = builtins.compile

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(builtins, "compile", counting)
    monkeypatch.setattr(module_finder, "compile", counting, raising=False)
    monkeypatch.setattr(preload, "_compiled", {})
    return calls


def test_the_scans_find_the_same_imports_with_one_compile_per_file(counted_compile, monkeypatch):
    unshared = scans()
    compiles_unshared = len(counted_compile)
    del counted_compile[:]
    assert preload.share_mitogen_module_scans("mitogen_linear") is True
    assert scans() == unshared
    assert len(counted_compile) == len(set(counted_compile)), "a file was compiled twice"
    assert len(counted_compile) < compiles_unshared / 2, (len(counted_compile), compiles_unshared)
    del counted_compile[:]
    assert scans() == unshared and counted_compile == []  # the second time, nothing compiles


@pytest.mark.parametrize("strategy", ["linear", "free", "host_pinned"])
def test_other_strategies_are_left_alone(counted_compile, strategy):
    before = module_finder.compile
    assert preload.share_mitogen_module_scans(strategy) is False
    assert module_finder.compile is before


def test_the_kept_code_objects_are_bounded(monkeypatch):
    monkeypatch.setattr(preload, "_compiled", {})
    monkeypatch.setattr(preload, "MAX_COMPILED", 3)
    codes = [preload._compile_once("x = %d\n" % n, "<test>", "exec") for n in range(10)]
    assert len(preload._compiled) == 3
    assert [eval(code, {}) or None for code in codes] == [None] * 10  # each still compiled and usable
    assert preload._compile_once("x = 1\n", "<test>", "exec") is codes[1]


# In a fresh interpreter set up as ansible-playbook sets itself up: the paths mitogen's own
# collection step adds, then those each later module of a collection gets once the
# preload shared them, and how many collection searches those took.
REPLAY = r"""
import json, sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
import ansible.collections.list
from ansible_mitogen import planner
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils import preload
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.callback.test_preload_callback import (
    _collections_root,
    run_probe,
)

class Invocation(object):
    def __init__(self):
        self._extra_sys_paths = set(["/already/there"])

by_mitogen = Invocation()
planner._load_collections(by_mitogen)
shared = preload.share_mitogen_collection_paths("mitogen_linear")
searches = []
real = ansible.collections.list.list_collection_dirs
ansible.collections.list.list_collection_dirs = lambda *a, **k: searches.append(1) or real(*a, **k)
replayed = []
for _ in range(3):
    invocation = Invocation()
    planner._load_collections(invocation)
    replayed.append(sorted(invocation._extra_sys_paths))
print(json.dumps(dict(shared=shared, by_mitogen=sorted(by_mitogen._extra_sys_paths), replayed=replayed,
                      searches=len(searches))))
"""


def test_each_module_of_a_collection_gets_the_paths_mitogen_itself_finds():
    out = run_probe(REPLAY, _collections_root())
    assert out["shared"] is True and out["searches"] == 0, out
    assert out["replayed"] == [out["by_mitogen"]] * 3
    assert "/already/there" in out["by_mitogen"]
    assert any(path.endswith("ansible_collections/fleetops/lifecycle") for path in out["by_mitogen"]), out


def test_a_mitogen_whose_step_works_otherwise_is_left_as_it_is(monkeypatch):
    def needs_more(invocation):
        return invocation.module_path.upper()  # an attribute the recorder does not have

    monkeypatch.setattr(planner, "_load_collections", needs_more)
    assert preload.share_mitogen_collection_paths("mitogen_linear") is False
    assert planner._load_collections is needs_more
    assert preload.share_mitogen_collection_paths("linear") is False
