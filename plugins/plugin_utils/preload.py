# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every forked worker would load again, loaded once in ansible-playbook's own
process (the ``fleetops.lifecycle.preload`` callback calls :func:`preload` when the
playbook starts, before the first fork).

Ansible forks a worker for each task and host, and a worker starts from the memory of
the ansible-playbook process. What that process never loaded, every worker loads again
and throws away when it exits: the filter and test plugins a template names (naming a
``fleetops.lifecycle`` filter imports each of the collection's filter files, compiled
from source by the collection loader), the action plugins, and, under mitogen, the list
of installed collections it reads for each module of a collection (ninety-odd
collections come with the ``ansible`` package). Profiled over a 4-host deploy on the
lab, those were about a third of the workers' CPU time.

Loading them first changes what is loaded, never how a task runs: the workers find the
same plugins in ``sys.modules`` instead of importing them again.

Under mitogen, :func:`share_mitogen_module_scans` also lets mitogen's dependency scan
compile each module_utils file once per run instead of once for every module that
imports it, and :func:`share_mitogen_collection_paths` gives every worker the paths of the
installed collections found once, instead of each worker searching them again.
"""

from __future__ import annotations

import builtins
import importlib
import pkgutil

from ansible import constants as C
from ansible.collections.list import list_collection_dirs
from ansible.plugins.loader import action_loader, filter_loader, test_loader

COLLECTION = "fleetops.lifecycle"


def collection_jinja_plugins(kind, collection=COLLECTION):
    """The full name of one filter (``kind='filter'``) or test of each of the collection's
    filter or test files; looking one up loads its whole file."""
    package = "ansible_collections.%s.plugins.%s" % (collection, kind)
    try:
        files = importlib.import_module(package)
    except ImportError:  # the collection has no plugins of this kind
        return []
    names = []
    for info in pkgutil.iter_modules(files.__path__):
        plugin_file = importlib.import_module("%s.%s" % (package, info.name))
        container = getattr(plugin_file, "FilterModule" if kind == "filter" else "TestModule", None)
        if container is None:
            continue
        found = container().filters() if kind == "filter" else container().tests()
        names.extend("%s.%s" % (collection, name) for name in list(found)[:1])
    return names


def preload(collection=COLLECTION):
    """Load ansible.builtin's filters, tests and action plugins, the collection's filters
    and tests, and the list of installed collections. Returns the names looked up."""
    # mitogen reads this for every module of a collection a worker runs; the lookups
    # behind it are cached per process. Without mitogen it costs about 0.1 s once.
    list(list_collection_dirs())
    looked_up = []
    for loader, kind in ((filter_loader, "filter"), (test_loader, "test")):
        looked_up.extend(plugin.ansible_name for plugin in loader.all())  # ansible.builtin's
        for name in collection_jinja_plugins(kind, collection):
            loader.get(name)
            looked_up.append(name)
    # Tasks name their actions in full (ansible.builtin.copy), a lookup that goes through
    # the collection loader's packages for ansible.builtin as well.
    for action in action_loader.all(class_only=True):
        name = "ansible.builtin." + action.ansible_name.rsplit(".", 1)[-1]
        action_loader.get(name, class_only=True)
        looked_up.append(name)
    return looked_up


# Compiled code objects kept for mitogen's scans: one per module_utils file a run's modules
# import (about 50 for ansible.builtin's, 130 with systemd's); bounded all the same.
MAX_COMPILED = 4096
_compiled = {}


def _compile_once(source, filename, mode, *args, **kwargs):
    """``compile`` for code that only reads the result: the same source, name and mode
    give the same (immutable) code object."""
    key = (source, filename, mode, args, tuple(sorted(kwargs.items())))
    code = _compiled.get(key)
    if code is None:
        code = builtins.compile(source, filename, mode, *args, **kwargs)
        if len(_compiled) < MAX_COMPILED:
            _compiled[key] = code
    return code


def _mitogen_strategy(strategy):
    return str(C.DEFAULT_STRATEGY if strategy is None else strategy).startswith("mitogen")


def share_mitogen_module_scans(strategy=None):
    """When the run's strategy is mitogen's: its scan of the module_utils a module imports
    (run in its mux process, forked after the playbook starts) compiles every file it
    walks, again for each module of the run - about 60 ms a module, mostly
    ``ansible.module_utils.basic`` and what that imports. Give its module the compile
    above. Returns whether it was given."""
    if not _mitogen_strategy(strategy):
        return False
    try:
        module_finder = importlib.import_module("ansible_mitogen.module_finder")  # only under mitogen
    except ImportError:
        return False
    module_finder.compile = _compile_once  # its calls find this before the builtin
    return True


class _PathsRecorder(object):
    """Stands in for a mitogen invocation: records the paths its collection step adds."""

    def __init__(self):
        self._extra_sys_paths = set()


def share_mitogen_collection_paths(strategy=None):
    """When the run's strategy is mitogen's: before a worker runs a module of a
    collection, mitogen adds the path of every installed collection to what the target
    may import from, searching them again in each worker (about 20 ms a task and host,
    94 collections with the ``ansible`` package). Run that step once here, before the
    first fork, and let each worker add the paths it found. Returns whether it did; a
    mitogen whose step does not work this way is left as it is."""
    if not _mitogen_strategy(strategy):
        return False
    try:
        planner = importlib.import_module("ansible_mitogen.planner")
        step = planner._load_collections
        found = _PathsRecorder()
        step(found)
        paths = frozenset(found._extra_sys_paths)
    except Exception:  # pylint: disable=broad-except  # not the mitogen this was written for
        return False

    def add_the_paths_found(invocation):
        invocation._extra_sys_paths.update(paths)

    planner._load_collections = add_the_paths_found
    return True
