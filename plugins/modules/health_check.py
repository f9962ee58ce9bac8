#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: health_check
short_description: Run health probes on a host (HTTP, TCP, systemd, processes, disk, file age, commands)
version_added: 0.1.0
description:
  - Runs a list of probes on the host and returns one structured result per probe, what was
    measured (RV(probes[].value)), what it was judged against (RV(probes[].threshold)), whether it
    passed and a message naming both.
  - Every probe definition is checked before any probe runs. An unknown type, an option missing
    for the type or not belonging to it, a duplicate name, a negative threshold or a percentage
    above 100 fails the task with a message naming the probe, the option and the value.
  - Probes run concurrently in threads, at most O(concurrency) at a time, so a slow probe does not
    hold up the others; results keep the order of O(probes).
  - A probe that is not ok is tried again O(retries) times, O(delay) seconds apart; its result is
    the last attempt's, with the number of attempts.
  - The module only reads and reports C(changed=false). With O(fail_on_unhealthy=true) (the
    default) a failing probe fails the task, with a message listing every failing probe and its
    message; the result keys are returned either way.
author:
  - fleetops maintainers (@fleetops)
options:
  probes:
    description:
      - The probes. Each has a unique O(probes[].name) and a O(probes[].type); the other options
        depend on the type.
      - C(http), GET O(probes[].url) (redirects are not followed, proxies from the environment are
        not used) and check the status is one of O(probes[].status), and optionally the body, a JSON
        field and the latency.
      - C(tcp), connect to O(probes[].host):O(probes[].port) and check it is O(probes[].expect)
        (C(open), or C(closed) to make sure a port is free before a service starts).
      - C(systemd), read the unit's C(ActiveState) with C(systemctl show) and check it is one of
        O(probes[].state).
      - C(process), count the processes whose command line (C(/proc/*/cmdline), arguments joined by
        spaces) matches O(probes[].pattern), or whose name is O(probes[].process_name); at least
        O(probes[].min_count), or none with O(probes[].absent=true). The module's own process is
        not counted.
      - C(disk), free space and free inodes of the file system holding O(probes[].path) (C(statvfs),
        space available to unprivileged users) against O(probes[].min_free_percent) and
        O(probes[].min_free_inodes_percent).
      - C(file_age), the newest file matching O(probes[].path) (a glob) must be at most
        O(probes[].max_age) seconds old; no match fails.
      - C(command), run O(probes[].argv) (no shell) and check its exit code and output.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Unique name of the probe, used in the results and messages. Required.
        type: str
      type:
        description:
          - Required. One of C(http), C(tcp), C(systemd), C(process), C(disk), C(file_age), C(command).
        type: str
      timeout:
        description: Seconds one attempt may take (C(http), C(tcp), C(systemd), C(command)); defaults to O(timeout).
        type: float
      retries:
        description: Extra attempts for this probe when it is not ok; defaults to O(retries).
        type: int
      delay:
        description: Seconds between attempts of this probe; defaults to O(delay).
        type: float
      url:
        description: C(http), the URL to GET (C(http://) or C(https://)). Required for C(http).
        type: str
      status:
        description: C(http), the status codes that pass. Default C([200]).
        type: list
        elements: int
      body_contains:
        description: C(http), a string the body must contain.
        type: str
      json_field:
        description:
          - C(http), dotted path of a field of the JSON body, such as C(checks.db.status) (list items
            by index, C(items.0)). The field must exist; with O(probes[].json_value) it must also
            equal that value.
        type: str
      json_value:
        description:
          - C(http), the value O(probes[].json_field) must have. A string also matches the JSON text of
            a number or boolean (C("true") matches C(true)). Needs O(probes[].json_field).
        type: raw
      latency_ms:
        description: C(http), the latency budget in milliseconds (request sent to body read); above 0.
        type: float
      validate_certs:
        description: C(http), verify the server certificate of C(https://) URLs. Default C(true).
        type: bool
      host:
        description: C(tcp), host name or address to connect to. Default C(127.0.0.1).
        type: str
      port:
        description: C(tcp), the port, 1 to 65535. Required for C(tcp).
        type: int
      expect:
        description:
          - C(tcp), C(open) (default) passes when a connection is accepted; C(closed) passes when it is
            refused or not answered within the timeout.
        type: str
      unit:
        description: C(systemd), the unit name, such as C(demo-blue.service). Required for C(systemd).
        type: str
      state:
        description:
          - C(systemd), the C(ActiveState) values that pass, such as C(active) (the default) or
            C([inactive, failed]) to check a unit is stopped. A unit that does not exist is C(inactive).
        type: list
        elements: str
      pattern:
        description:
          - C(process), a regular expression searched in the command line. Give this or O(probes[].process_name).
        type: str
      process_name:
        description:
          - C(process), the exact process name (C(/proc/PID/comm), at most 15 characters) or the base
            name of its first argument. Give this or O(probes[].pattern).
        type: str
      min_count:
        description: C(process), how many matching processes are needed at least, 1 or more. Default 1.
        type: int
      absent:
        description: C(process), pass only when no process matches (a service is really stopped).
        type: bool
      path:
        description:
          - C(disk), a path on the file system to check. C(file_age), a file path or glob pattern.
            Required for both.
        type: path
      min_free_percent:
        description: C(disk), the least free space in percent, 0 to 100.
        type: float
      min_free_inodes_percent:
        description:
          - C(disk), the least free inodes in percent, 0 to 100. A file system that reports no inode
            count (btrfs) is not checked.
        type: float
      max_age:
        description:
          - C(file_age), the greatest age in seconds of the newest matching file, 0 or more. Required for C(file_age).
        type: float
      argv:
        description:
          - C(command), the command and its arguments, run without a shell. Required for C(command).
          - B(The command runs in check mode too), as every probe does; pass only commands that
            change nothing.
        type: list
        elements: str
      rc:
        description: C(command), the exit codes that pass. Default C([0]).
        type: list
        elements: int
      stdout_contains:
        description: C(command), a string the standard output must contain.
        type: str
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
  - fleetops.lifecycle.health_run
attributes:
  check_mode:
    support: full
    details:
      - Every probe only reads, so check mode runs them all and returns the same result. This
        includes C(command) probes, which is why they must be given read-only commands.
  diff_mode:
    support: none
notes:
  - Run the task on the host to check. To probe through the load balancer, add an C(http) probe
    whose URL is the load balancer's address; M(fleetops.lifecycle.health_check) results can be
    tabulated and classified with the C(fleetops.lifecycle.health_table) and
    C(fleetops.lifecycle.health_state) filters.
seealso:
  - module: ansible.builtin.uri
  - module: ansible.builtin.wait_for
"""

EXAMPLES = r"""
- name: Check the demo service on every app host
  fleetops.lifecycle.health_check:
    retries: 2
    delay: 2
    probes:
      - name: readyz
        type: http
        url: http://127.0.0.1:8081/readyz
        latency_ms: 500
      - name: version
        type: http
        url: http://127.0.0.1:8081/version
        json_field: version
        json_value: "{{ service_version }}"
      - name: unit
        type: systemd
        unit: demo-blue.service
      - name: data_disk
        type: disk
        path: /var/lib/demo
        min_free_percent: 10
        min_free_inodes_percent: 5
      - name: last_backup
        type: file_age
        path: /var/backups/demo/*.tar.gz
        max_age: 90000
  register: health

- name: Before starting, make sure the slot's port is free and no stale process runs
  fleetops.lifecycle.health_check:
    probes:
      - {name: port_free, type: tcp, port: 8082, expect: closed}
      - {name: no_stale_process, type: process, pattern: 'demo_service.*--port 8082', absent: true}

- name: Collect without failing, then classify the fleet
  fleetops.lifecycle.health_check:
    fail_on_unhealthy: false
    probes:
      - {name: haproxy_config, type: command, argv: [haproxy, -c, -f, /etc/haproxy/haproxy.cfg]}
  register: health
"""

RETURN = r"""
ok:
  description: Whether every probe passed.
  returned: always
  type: bool
  sample: false
failed_probes:
  description: Names of the probes that did not pass, in the order of O(probes).
  returned: always
  type: list
  elements: str
  sample: [readyz]
summary:
  description: One line, every failing probe with its message, or that all passed.
  returned: always
  type: str
  sample: "1 of 5 probes failed: readyz: GET http://127.0.0.1:8081/readyz answered 503, expected 200"
probes:
  description: One result per probe, in the order of O(probes).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The probe's name.
      type: str
      sample: readyz
    type:
      description: The probe's type.
      type: str
      sample: http
    ok:
      description: Whether the probe passed.
      type: bool
      sample: false
    value:
      description:
        - What was measured (null when nothing could be measured).
        - C(http), C({status, latency_ms}) and C(json_value) when O(probes[].json_field) is given.
        - C(tcp), C(open) or C(closed). C(systemd), the C(ActiveState).
        - C(process), the number of matching processes.
        - C(disk), C({free_percent, free_inodes_percent, free_mb}).
        - C(file_age), the age in seconds of the newest match.
        - C(command), C({rc, stdout, stderr}) (output trimmed to its last 200 characters).
      type: raw
      sample: {status: 503, latency_ms: 4.2}
    threshold:
      description:
        - What the value was judged against.
        - C(http), C({status, latency_ms, body_contains, json_field, json_value}), the keys given.
        - C(tcp), the expected state. C(systemd), the list of accepted states.
        - C(process), C({min}) (at least that many) or C({max}) (0 with O(probes[].absent=true)).
          C(disk), the given minimums. C(file_age), O(probes[].max_age).
        - C(command), C({rc, stdout_contains}).
      type: raw
      sample: {status: [200]}
    message:
      description: What was measured against what, in words.
      type: str
      sample: "GET http://127.0.0.1:8081/readyz answered 503, expected 200"
    duration_ms:
      description: Milliseconds the probe took, every attempt and delay included.
      type: float
      sample: 5.1
    attempts:
      description: Attempts made, 1 plus the retries used.
      type: int
      sample: 1
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.health import (
    RUN_OPTIONS_SPEC,
    check_health,
    exit_with_probes,
)

PROBE_SPEC = dict(
    name=dict(type="str"),
    type=dict(type="str"),
    timeout=dict(type="float"),
    retries=dict(type="int"),
    delay=dict(type="float"),
    url=dict(type="str"),
    status=dict(type="list", elements="int"),
    body_contains=dict(type="str"),
    json_field=dict(type="str"),
    json_value=dict(type="raw"),
    latency_ms=dict(type="float"),
    validate_certs=dict(type="bool"),
    host=dict(type="str"),
    port=dict(type="int"),
    expect=dict(type="str"),
    unit=dict(type="str"),
    state=dict(type="list", elements="str"),
    pattern=dict(type="str"),
    process_name=dict(type="str"),
    min_count=dict(type="int"),
    absent=dict(type="bool"),
    path=dict(type="path"),
    min_free_percent=dict(type="float"),
    min_free_inodes_percent=dict(type="float"),
    max_age=dict(type="float"),
    argv=dict(type="list", elements="str"),
    rc=dict(type="list", elements="int"),
    stdout_contains=dict(type="str"),
)

ARGUMENT_SPEC = dict(
    probes=dict(type="list", elements="dict", required=True, options=PROBE_SPEC),
    **RUN_OPTIONS_SPEC
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    exit_with_probes(module, check_health)


if __name__ == "__main__":
    main()
