# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mitogen's linear strategy, with what every forked worker would load done once, before
the first fork: the strategy the test suite runs its playbooks under.

Ansible forks a worker for each task and host, and a worker starts from the memory of
the ansible-playbook process. What that process never loaded, every worker loads again
and throws away when it exits: the filter and test plugins a template names (a
``fleetops.lifecycle.*`` filter imports each of the collection's filter files, compiled
from source by the collection loader), the action plugins, and, under mitogen, the list
of installed collections it reads for each module of a collection (ninety-odd
collections come with the ``ansible`` package). Profiled over a 4-host deploy on the
lab, those were about a third of the workers' CPU time.

Loading them here, in the ansible-playbook process, changes what is loaded, never how
a task runs: the workers find the same plugins in ``sys.modules`` instead of importing
them. It costs about 0.3 s of CPU once per playbook run. The suite points
ANSIBLE_STRATEGY_PLUGINS at this directory and mitogen's (tests/integration/conftest.py,
molecule/run.sh).
"""

from __future__ import annotations

import importlib
import pkgutil

import ansible_mitogen.loaders
import ansible_mitogen.strategy
from ansible.collections.list import list_collection_dirs
from ansible.plugins.loader import action_loader, filter_loader, test_loader

COLLECTION = "fleetops.lifecycle"

_preloaded = []


def collection_jinja_plugins(kind):
    """The fully qualified name of one filter (or test) of each of the collection's
    filter (or test) files; looking one up loads its whole file."""
    package = "ansible_collections.%s.plugins.%s" % (COLLECTION, kind)
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
        names.extend("%s.%s" % (COLLECTION, name) for name in list(found)[:1])
    return names


def preload():
    """Load, once per process, what the workers would otherwise each load again."""
    if _preloaded:
        return
    _preloaded.append(True)
    # mitogen reads this for every module of a collection a worker runs; its result
    # (and the path lookups behind it) are cached per process.
    list(list_collection_dirs())
    for loader, kind in ((filter_loader, "filter"), (test_loader, "test")):
        list(loader.all())  # ansible.builtin's
        for name in collection_jinja_plugins(kind):
            loader.get(name)
    # Tasks name their actions by full name (ansible.builtin.copy), which goes through
    # the collection loader's packages for ansible.builtin as well.
    for action in action_loader.all(class_only=True):
        action_loader.get("ansible.builtin." + action.ansible_name.rsplit(".", 1)[-1], class_only=True)


Base = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):
    def run(self, iterator, play_context):
        preload()
        return super().run(iterator, play_context)
