# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loads, before the first task, the plugins every forked worker would load again; what
is loaded is decided in plugin_utils.preload."""

from __future__ import annotations

DOCUMENTATION = r"""
name: preload
type: aggregate
short_description: Load once the plugins every forked worker would load again
version_added: 0.9.0
author: fleetops maintainers (@fleetops)
description:
  - When a playbook starts, loads in the ansible-playbook process the filter, test and
    action plugins of C(ansible.builtin), the filters and tests of C(fleetops.lifecycle),
    and the list of installed collections (mitogen reads it for every module of a
    collection). Ansible forks a worker per task and host from that process, so the
    workers find them loaded instead of each importing them again.
  - Under mitogen (the configured strategy is one of mitogen's), mitogen's scan of the
    module_utils each module imports compiles every file once per run instead of once per
    module (about 60 ms less for each module a run uses after the first), and the paths
    of the installed collections mitogen gives each module of a collection are searched
    once per run instead of once per task and host (about 20 ms each).
  - It also compiles, just before a task is handed to its first worker, the templates of
    that task's arguments, loop and conditions and of the variables the worker gets, and
    keeps every template compiled in the run by its text and compile options. The
    workers, forked from this process, find them compiled instead of compiling each
    again (ansible-core keeps no compiled template between renders); see
    O(template_compiles).
  - It changes what is loaded and compiled before a fork, never how a task runs; it
    writes nothing and prints nothing.
  - On the 4-host lab a deploy used 25-30 % less controller CPU with the plugins loaded
    first, and about 11 % less again with the templates compiled once (docs/scale.md).
    Loading costs about 0.2 s of CPU once per playbook run; each template is compiled
    once in ansible-playbook instead of in every worker that renders it.
options:
  template_compiles:
    description:
      - Share compiled templates with the workers as described above. It relies on
        ansible-core internals; with an ansible-core where they differ it does nothing.
    type: bool
    default: true
    env:
      - name: FLEETOPS_PRELOAD_TEMPLATE_COMPILES
    ini:
      - section: callback_fleetops_preload
        key: template_compiles
requirements:
  - Enable it in C(ansible.cfg) (C([defaults] callbacks_enabled = fleetops.lifecycle.preload))
    or with C(ANSIBLE_CALLBACKS_ENABLED).
"""

from ansible.plugins.callback import CallbackBase
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.preload import (
    preload,
    share_mitogen_collection_paths,
    share_mitogen_module_scans,
)
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.template_compiles import share_template_compiles


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fleetops.lifecycle.preload"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        preload()
        share_mitogen_module_scans()
        share_mitogen_collection_paths()
        if self.get_option("template_compiles"):
            share_template_compiles()
