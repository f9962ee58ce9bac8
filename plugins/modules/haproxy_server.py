#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: haproxy_server
short_description: Set, wait for and save the state of HAProxy backend servers over the runtime API
version_added: 0.1.0
description:
  - Reads C(show stat) from the HAProxy runtime API socket, compares the servers of one
    backend with the requested weights and states, and sends only the
    C(set server <backend>/<server> weight|state) commands needed.
  - Commands are ordered so that the backend never loses its last serving server on the
    way when the requested state has one. Servers that serve afterwards are raised and
    made ready first, then weights of servers that keep serving are lowered, then the
    servers that stop serving are drained, put in maintenance or weighted to 0.
  - A server serves when its state is C(ready) and its weight is above 0.
  - Weights come from C(show stat), states from C(show servers state), which keeps the
    drain flag of a server whose health checks fail (C(show stat) then shows C(DOWN)).
  - After sending, the module reads both again and fails if HAProxy does not report the
    requested weights and states.
  - Changes made over the runtime API last until HAProxy restarts or reloads without a
    server-state file; keep the configuration in line for a permanent change.
  - With O(wait_servers) and O(wait_status), waits until HAProxy reports each named server
    in one of the given statuses (for example C(UP) or C(DRAIN) once its health checks pass),
    and fails after O(wait_timeout) seconds naming each server still elsewhere and the
    status it had last.
  - With O(save_state), writes HAProxy's C(show servers state) to a file, the
    C(server-state-file) that C(load-server-state-from-file) reads back on a reload or
    restart, so runtime weights and states survive it.
  - In one task the operations run in this order - O(servers) (and O(wait_drained)),
    O(wait_servers), O(save_state).
author:
  - fleetops maintainers (@fleetops)
options:
  socket:
    description:
      - Path of the HAProxy runtime API (stats) socket on the target host.
      - The socket must be declared with C(level admin).
    type: path
    default: /run/haproxy/admin.sock
  backend:
    description:
      - Name of the backend whose servers are changed or waited for, as in C(show stat).
      - Required with O(servers) or O(wait_servers).
    type: str
  servers:
    description:
      - Mapping of server name to the wanted settings. Servers of the backend that are
        not named keep their settings. Every named server must exist in the backend.
      - Each value is a mapping with C(weight), C(state) or both; a key left out keeps
        its current value.
      - C(weight) is the absolute user weight, an integer from 0 to 256. Weight 0 keeps
        the server out of load balancing while it stays C(ready).
      - C(state) is the administrative state, one of C(ready) (takes traffic),
        C(drain) (no new traffic except persistent sessions) and C(maint) (no traffic,
        health checks stopped).
      - One of O(servers), O(wait_servers) and O(save_state) is required.
    type: dict
  wait_drained:
    description:
      - After the changes, wait until every named server that takes no new traffic
        (state C(drain) or C(maint), or weight 0) has no current sessions.
      - Fails when O(drain_timeout) passes first. Not done in check mode.
    type: bool
    default: false
  drain_timeout:
    description:
      - Seconds to wait for O(wait_drained).
    type: int
    default: 30
  wait_servers:
    description:
      - Servers of O(backend) to wait for until each has one of the O(wait_status) statuses.
      - Every named server must exist in the backend.
      - In check mode the statuses are read once and returned; the module does not wait.
    type: list
    elements: str
  wait_status:
    description:
      - The statuses that end the wait for O(wait_servers), as the C(status) column of
        C(show stat) spells them. C(MAINT) also matches C(MAINT (via ...)) and C(DRAIN)
        matches C(DRAIN (agent)).
      - A server in transition (C(UP 1/3) going down, C(DOWN 1/2) going up) has none of
        them yet.
      - HAProxy shows C(DRAIN) only while the health checks pass; a drained server they
        see down is C(DOWN).
      - Required with O(wait_servers).
    type: list
    elements: str
    choices: [UP, DOWN, DRAIN, MAINT, NOLB, NO CHECK]
  wait_timeout:
    description:
      - Seconds to wait for O(wait_servers); 0 checks once.
    type: int
    default: 30
  save_state:
    description:
      - Absolute path of the server state file to write with the reply to
        C(show servers state) (the global C(server-state-file) of the configuration).
      - The file is replaced at once (a new file beside it, renamed over it), never
        followed when it is a symbolic link, and written with mode C(0644).
      - Reports a change when the file's content changes; the state holds the seconds
        since each server's last change, so it nearly always does.
    type: path
  if_running:
    description:
      - When HAProxy is not running (the socket does not exist or refuses connections),
        do nothing and return RV(running=false) instead of failing.
      - Meant for a state save before a reload, where a stopped HAProxy has no state to
        keep.
    type: bool
    default: false
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details: Reports the commands it would send and the states they would give; sends nothing.
  diff_mode:
    support: full
    details: Shows weight and state of every server of the backend before and after.
notes:
  - A server drained while its health checks failed stays drained when they pass again;
    the module sees the flag and asking for C(ready) sends the command.
  - A server that leaves C(maint) becomes C(ready) at once but takes traffic only after
    its health checks pass. Wait for it to be C(UP) before draining the others when the
    gap matters.
seealso:
  - name: HAProxy management guide, runtime API
    description: The C(show stat), C(show servers state), C(set server) and C(set weight) commands.
    link: https://docs.haproxy.org/2.6/management.html
"""

EXAMPLES = r"""
- name: Canary - send a third of the traffic to the green slot of app1
  fleetops.lifecycle.haproxy_server:
    backend: demo
    servers:
      app1-green: {weight: 50, state: ready}
      app1-blue: {weight: 100}

- name: Switch app1 to green and wait for blue to have no sessions left
  fleetops.lifecycle.haproxy_server:
    backend: demo
    servers:
      app1-green: {weight: 100, state: ready}
      app1-blue: {state: drain}
    wait_drained: true
    drain_timeout: 60

- name: Wait until HAProxy's checks see app1's blue server up (drained or ready)
  fleetops.lifecycle.haproxy_server:
    backend: demo
    wait_servers: [app1-blue]
    wait_status: [UP, DRAIN]
    wait_timeout: 60

- name: Save the server state before HAProxy reloads, if it runs
  fleetops.lifecycle.haproxy_server:
    save_state: /var/lib/haproxy/server-state
    if_running: true

- name: Put app2 in maintenance on a non-default socket
  fleetops.lifecycle.haproxy_server:
    socket: /var/run/haproxy/admin.sock
    backend: demo
    servers:
      app2-blue: {state: maint}
      app2-green: {state: maint}
"""

RETURN = r"""
commands:
  description: Runtime API commands sent, in order (in check mode, those that would be sent).
  returned: always
  type: list
  elements: str
  sample:
    - set server demo/app1-green weight 100
    - set server demo/app1-green state ready
    - set server demo/app1-blue state drain
running:
  description: Whether HAProxy's runtime API answered; false only with O(if_running=true).
  returned: success
  type: bool
  sample: true
statuses:
  description:
    - The last C(show stat) status of each of O(wait_servers) (in check mode, read once
      without waiting).
    - When O(wait_timeout) runs out, the statuses that were not as wanted are named in
      the message.
  returned: when O(wait_servers) is given
  type: dict
  sample:
    app1-blue: DRAIN
state_servers:
  description: Number of servers in the state file written with O(save_state).
  returned: when O(save_state) is given and HAProxy runs
  type: int
  sample: 4
servers:
  description:
    - Weight and state of every server of the backend after the task (in check mode, as
      they would be).
    - After real changes this is read back from HAProxy.
  returned: when O(servers) is given
  type: dict
  sample:
    app1-blue: {weight: 100, state: drain}
    app1-green: {weight: 100, state: ready}
commands_sent:
  description: The commands HAProxy took before it refused one; the rest were not sent.
  returned: when HAProxy refuses a command
  type: list
  elements: str
  sample:
    - set server demo/app1-green weight 100
sessions:
  description: Current sessions per server when O(drain_timeout) ran out.
  returned: when O(wait_drained=true) times out
  type: dict
  sample:
    app1-blue: 3
drained:
  description: Current sessions of the servers waited for with O(wait_drained) (all 0).
  returned: when O(wait_drained=true) and not in check mode
  type: dict
  sample:
    app1-blue: 0
diff:
  description: Weight and state of every server of the backend before and after.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: States before the task.
      type: dict
      returned: when diff mode is on
      sample: {app1-blue: {weight: 100, state: ready}, app1-green: {weight: 0, state: maint}}
    after:
      description: States after the task.
      type: dict
      returned: when diff mode is on
      sample: {app1-blue: {weight: 100, state: drain}, app1-green: {weight: 100, state: ready}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.haproxy import (
    DEFAULT_SOCKET,
    DrainTimeout,
    NotRunning,
    RuntimeApi,
    RuntimeApiError,
    current_servers,
    drained_candidates,
    option_view,
    plan_server_changes,
    verify_applied,
    wait_until_drained,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.haproxy_pool import (
    WAIT_STATUSES,
    StatusTimeout,
    check_wait_options,
    save_server_state,
    wait_for_status,
)

ARGUMENT_SPEC = dict(
    socket=dict(type="path", default=DEFAULT_SOCKET),
    backend=dict(type="str"),
    servers=dict(type="dict"),
    wait_drained=dict(type="bool", default=False),
    drain_timeout=dict(type="int", default=30),
    wait_servers=dict(type="list", elements="str"),
    wait_status=dict(type="list", elements="str", choices=list(WAIT_STATUSES)),
    wait_timeout=dict(type="int", default=30),
    save_state=dict(type="path"),
    if_running=dict(type="bool", default=False),
)
REQUIRED_ONE_OF = [("servers", "wait_servers", "save_state")]
REQUIRED_TOGETHER = [("wait_servers", "wait_status")]
REQUIRED_BY = dict(servers="backend", wait_servers="backend")


class ModuleFailure(Exception):
    """A failure to report with fail_json: a message plus result keys."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.msg = msg
        self.result = result


def _apply(api, commands):
    sent = []
    for command in commands:
        try:
            api.command(command, expect_empty=True)
        except RuntimeApiError as exc:
            raise ModuleFailure(
                "%s; sent before the failure: %s" % (exc, sent or "nothing"),
                changed=bool(sent), commands=commands, commands_sent=sent,
            ) from exc
        sent.append(command)


def _read_servers(api, backend):
    """show stat rows and ``{server: admin}``: the drain flag comes from show servers
    state, as show stat hides it while the health checks see a server DOWN."""
    rows = api.show_stat()
    current_servers(rows, backend)  # names an unknown backend before the second read
    return rows, api.servers_admin(backend)


def _read_back(api, backend, expected):
    """The servers' states as HAProxy reports them; fails unless they are as planned."""
    rows, admin_states = _read_servers(api, backend)
    problems = verify_applied(expected, rows, backend, admin_states)
    if problems:
        raise RuntimeApiError("HAProxy did not take the changes: %s" % "; ".join(problems))
    return option_view(current_servers(rows, backend, admin_states))


def ensure_servers(api, params, check_mode, diff_mode):
    """Read, plan, apply (unless check mode), verify, wait drained; return the result dict."""
    if params["drain_timeout"] < 0:
        raise ModuleFailure("drain_timeout: %d must be 0 or more seconds" % params["drain_timeout"])
    backend = params["backend"]
    try:
        rows, admin_states = _read_servers(api, backend)
        current = current_servers(rows, backend, admin_states)
        commands, diff = plan_server_changes(current, params["servers"], backend)
    except NotRunning:
        raise
    except (RuntimeApiError, ValueError) as exc:
        raise ModuleFailure(str(exc)) from exc
    result = dict(changed=bool(commands), commands=commands, servers=option_view(diff["after"]))
    if diff_mode:
        result["diff"] = dict(before=option_view(diff["before"]), after=option_view(diff["after"]))
    if check_mode:
        return result
    _apply(api, commands)
    try:
        if commands:
            result["servers"] = _read_back(api, backend, diff["after"])
        if params["wait_drained"]:
            names = drained_candidates(diff["after"], params["servers"])
            result["drained"] = wait_until_drained(api, backend, names, params["drain_timeout"])
    except DrainTimeout as exc:
        raise ModuleFailure(str(exc), sessions=exc.sessions, **result) from exc
    except (RuntimeApiError, ValueError) as exc:
        raise ModuleFailure(str(exc), **result) from exc
    return result


def wait_statuses(api, params, check_mode, result):
    """Wait until the wait_servers have a wait_status (check mode: read them once)."""
    try:
        names, wanted = check_wait_options(
            params["wait_servers"], params["wait_status"], params["wait_timeout"], params["backend"])
        timeout = 0 if check_mode else params["wait_timeout"]
        result["statuses"] = wait_for_status(api, params["backend"], names, wanted, timeout)
    except StatusTimeout as exc:
        if check_mode:
            # The servers would be waited for; a check run reports what it saw.
            result["statuses"] = exc.statuses
            return
        raise ModuleFailure(exc.args[0], statuses=exc.statuses, **result) from exc
    except NotRunning:
        raise
    except (RuntimeApiError, ValueError) as exc:
        raise ModuleFailure(str(exc), **result) from exc


def save_state(api, params, check_mode, result):
    """Write HAProxy's server state file (check mode: say whether it would change)."""
    try:
        saved = save_server_state(api, params["save_state"], check_mode)
    except NotRunning:
        raise
    except (RuntimeApiError, ValueError, OSError) as exc:
        raise ModuleFailure("save_state: %s" % exc if isinstance(exc, OSError) else str(exc), **result) from exc
    result["changed"] = result["changed"] or saved["changed"]
    result["state_servers"] = saved["servers"]


def run(params, check_mode, diff_mode):
    """Every operation the options ask for, in order: set servers, wait, save state."""
    api = RuntimeApi(params["socket"])
    result = dict(changed=False, commands=[])
    try:
        if params["servers"] is not None:
            result = ensure_servers(api, params, check_mode, diff_mode)
        if params["wait_servers"]:
            wait_statuses(api, params, check_mode, result)
        if params["save_state"]:
            save_state(api, params, check_mode, result)
    except NotRunning as exc:
        if params["if_running"] and not result["commands"]:
            return dict(changed=False, commands=[], running=False)
        raise ModuleFailure(str(exc), **result) from exc
    result["running"] = True
    return result


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_one_of=REQUIRED_ONE_OF,
        required_together=REQUIRED_TOGETHER,
        required_by=REQUIRED_BY,
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode, module._diff)
    except ModuleFailure as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
