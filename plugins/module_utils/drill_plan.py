# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DR drill's inputs, checked before anything changes, and the damage its scenario makes.

Pure functions over plain data, standard library only, run as filters by the backup
role's ``drill_check`` and ``drill`` entry points. Bad input raises ``ValueError``
naming the option and the value. Nothing here knows a particular service: the paths
come from the backup's MANIFEST and the service contract.
"""

from __future__ import annotations

import os

from ansible_collections.fleetops.lifecycle.plugins.module_utils.drill_report import scenario_what
from ansible_collections.fleetops.lifecycle.plugins.module_utils.durations import positive_seconds

DEFAULT_PREFIX = "backup_drill_"


def drill_inputs(params, hosts, prefix=DEFAULT_PREFIX):
    """Check a drill's inputs against the inventory; return them normalised.

    ``params``: ``source``, ``target``, ``scenario``, ``rto_target``, ``rpo_target``,
    ``slot``, ``slots`` (the service's slots), ``ports`` (slot -> port) and
    ``ready_timeout``. ``hosts``: ``inventory`` (every host name), ``app`` and ``lb``
    (the hosts of the app and load-balancer groups) and ``app_group``/``lb_group`` (their
    names, for the messages). Messages name the option as ``prefix`` + key, e.g.
    ``backup_drill_target=app2: is a live host of the app group; a drill needs a spare host``.
    Returns ``{source, target, scenario, what, rto_target, rpo_target, slot, port,
    ready_timeout}``.
    """
    app, lb = list(hosts.get("app") or []), list(hosts.get("lb") or [])
    inventory = set(hosts.get("inventory") or [])
    app_group, lb_group = hosts.get("app_group") or "app", hosts.get("lb_group") or "loadbalancers"
    source, target = params.get("source") or "", params.get("target") or ""
    if not isinstance(source, str) or source not in app:
        raise ValueError("%ssource=%s: must be a host of the %s group (one of: %s)"
                         % (prefix, source, app_group, ", ".join(app) or "none"))
    if not isinstance(target, str) or not target:
        raise ValueError("%starget is required (-e drill_target=<spare host>)" % prefix)
    if target not in inventory:
        raise ValueError("%starget=%s: not in the inventory" % (prefix, target))
    for group, members in ((app_group, app), (lb_group, lb)):
        if target in members:
            raise ValueError("%starget=%s: is a live host of the %s group; a drill needs a spare host"
                             % (prefix, target, group))
    scenario = params.get("scenario")
    what = scenario_what(scenario, prefix + "scenario")
    rto_target = positive_seconds(params.get("rto_target"), prefix + "rto_target")
    rpo_target = positive_seconds(params.get("rpo_target"), prefix + "rpo_target")
    slots = list(params.get("slots") or [])
    slot = params.get("slot")
    if slot not in slots:
        raise ValueError("%sslot=%s: must be one of the service's slots (%s)" % (prefix, slot, ", ".join(slots)))
    ports = params.get("ports") or {}
    port = ports.get(slot)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError("%sslot=%s: the service has no port for it (service_ports: %r)" % (prefix, slot, ports))
    ready_timeout = _whole_seconds(params.get("ready_timeout"), prefix + "ready_timeout")
    return dict(source=source, target=target, scenario=scenario, what=what, rto_target=rto_target,
                rpo_target=rpo_target, slot=slot, port=port, ready_timeout=ready_timeout)


def _whole_seconds(value, option):
    """A whole number of seconds, 1 or more; a string of digits (``-e name=60``) counts."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("%s=%r: must be a whole number of seconds, 1 or more" % (option, value))
    return value


def drill_damage(manifest, scenario):
    """What a scenario damages on the freshly installed target, before the restore.

    The damage is what a real incident leaves: for ``data_corruption``, every state file
    the backup's MANIFEST names is overwritten with bytes no service reads as its state
    (``dirs`` are made first, so the files can be written); ``host_loss`` and
    ``config_loss`` (which removes the config file, ``service_config_file``) damage no
    state. Returns ``{"dirs": [host paths], "files": [host paths]}``.
    """
    scenario_what(scenario)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("paths"), list) \
            or not isinstance(manifest.get("members"), list):
        raise ValueError("manifest: not a MANIFEST of a fleetops backup (needs paths and members)")
    dirs, files = [], []
    if scenario != "data_corruption":
        return dict(dirs=dirs, files=files)
    roots = dict(("%s/%s" % (p["kind"], p["name"]), p) for p in manifest["paths"] if p.get("kind") == "state")
    for member in manifest["members"]:
        root = next((r for r in roots if member["path"] == r or member["path"].startswith(r + "/")), None)
        if root is None:
            continue
        path = os.path.normpath(roots[root]["path"] + member["path"][len(root):])
        if member.get("type") == "dir":
            dirs.append(path)
        elif member.get("type") == "file":
            files.append(path)
    if not files:
        raise ValueError("manifest: names no state file for drill_scenario=data_corruption to damage")
    return dict(dirs=dirs, files=files)
