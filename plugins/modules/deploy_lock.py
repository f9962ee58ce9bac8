#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: deploy_lock
short_description: Take, give back or break the deploy lock of a service
version_added: 0.1.0
description:
  - Manages one lock file that says who is deploying, why, since when and for how long,
    so that a second deploy or rollback is refused while one runs. Run it on one host
    (the lock host), e.g. with C(run_once) and C(delegate_to).
  - The lock file holds a JSON object with C(holder), C(message), C(change_id),
    C(started) (epoch seconds), C(started_iso) (the same time in UTC), C(ttl) (seconds),
    and C(pid) and C(host) of the process that wrote it.
  - A lock is stale when C(started + ttl) is in the past. A stale lock still blocks
    acquiring; it is removed only by O(state=broken).
  - O(state=acquired) creates the lock when there is none. The lock is written in full to
    a temporary file made with C(O_CREAT|O_EXCL), fsynced and hard-linked to O(path);
    linking fails when the path exists, so of two deploys racing for the lock exactly one
    gets it and nobody reads a half-written lock. When O(holder) already holds the lock,
    nothing changes (re-entrant). When anyone else holds it, the task fails with a message
    naming the holder, their change id and message, the start time and the TTL; a stale
    lock is refused too, the message says it is stale and how to break it, and the result
    has RV(stale=true).
  - O(state=released) removes the lock when O(holder) holds it and fails naming the real
    holder otherwise. No lock is no change.
  - O(state=broken) removes a stale lock, or any lock with O(force=true), and returns it
    in RV(broken_lock). No lock is no change.
  - A lock file that cannot be read as a lock (empty, not JSON, fields missing) is held by
    C(unknown); it is never overwritten or released, only broken with O(force=true).
  - Releasing and breaking read the file again just before removing it and fail, removing
    nothing, when another task changed it meanwhile.
author:
  - fleetops maintainers (@fleetops)
options:
  path:
    description:
      - Absolute path of the lock file. Missing parent directories are made (mode 0755)
        when the lock is acquired.
    type: path
    default: /var/lib/fleetops/deploy.lock
  state:
    description:
      - V(acquired) takes the lock for O(holder), V(released) gives it back, V(broken)
        removes a stale lock (any lock with O(force=true)).
    type: str
    choices: [acquired, released, broken]
    default: acquired
  holder:
    description:
      - Who takes or gives back the lock, e.g. C(alice@ctl1) or an AWX job id. The same
        holder acquiring again is a no-op, so make it unique per deploy run when runs
        must exclude each other.
      - Required with O(state=acquired) and O(state=released). Not used with
        O(state=broken).
      - V(unknown) is reserved for lock files that cannot be read.
    type: str
  reason:
    description:
      - Why the lock is held, e.g. C(upgrade to 2.0.0). Stored in the lock (key C(message))
        and shown to whoever is refused. Used with O(state=acquired).
      - Called C(message) before 0.1.0 was released; Ansible reserves that name for itself.
    type: str
  change_id:
    description:
      - Change ticket of the deploy, e.g. C(CHG-1). Stored in the lock and shown to
        whoever is refused. Used with O(state=acquired).
    type: str
  ttl:
    description:
      - Seconds after C(started) during which the lock is fresh; after that it is stale
        and may be broken. A whole number above 0. Used with O(state=acquired).
    type: int
    default: 3600
  force:
    description:
      - With O(state=broken), break the lock even when it is not stale, or cannot be read.
      - Only allowed with O(state=broken).
    type: bool
    default: false
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the lock and reports exactly what would be acquired, released or broken, or
        the refusal; writes nothing.
  diff_mode:
    support: full
    details: Shows the lock file's text before and after.
notes:
  - Staleness is decided by the lock's TTL and the clock of the host that runs the task;
    the stored C(pid) is informational (the module process ends right after acquiring).
  - Give the lock a TTL longer than the longest deploy including its analysis windows;
    a deploy that outlives its TTL can have its lock broken by the next one.
seealso:
  - module: fleetops.lifecycle.release_ledger
"""

EXAMPLES = r"""
- name: Take the deploy lock for this run
  fleetops.lifecycle.deploy_lock:
    holder: "{{ lookup('ansible.builtin.env', 'USER') }} run {{ deploy_run_id }}"
    reason: upgrade to {{ service_version }}
    change_id: CHG-1
    ttl: 3600
  run_once: true
  delegate_to: "{{ groups['lb'][0] }}"

- name: Give the lock back (in an always block, so that it is released on failure too)
  fleetops.lifecycle.deploy_lock:
    state: released
    holder: "{{ lookup('ansible.builtin.env', 'USER') }} run {{ deploy_run_id }}"
  run_once: true
  delegate_to: "{{ groups['lb'][0] }}"

- name: Break a lock left behind by a killed run, once its TTL has passed
  fleetops.lifecycle.deploy_lock:
    state: broken
  register: broken
  run_once: true
  delegate_to: "{{ groups['lb'][0] }}"

- name: Break a fresh lock after making sure its deploy is dead
  fleetops.lifecycle.deploy_lock:
    path: /var/lib/fleetops/deploy.lock
    state: broken
    force: true
"""

RETURN = r"""
lock:
  description:
    - The lock after the task (in check mode, as it would be); null when there is none.
    - On a refusal, the lock that is in the way.
    - An unreadable lock file is shown with holder C(unknown), C(started) and C(ttl) null,
      C(unreadable) (why) and C(content) (the start of the file).
  returned: always
  type: dict
  sample:
    holder: alice@ctl1 run 42
    message: upgrade to 2.0.0
    change_id: CHG-1
    started: 1700000000
    started_iso: "2023-11-14T22:13:20Z"
    ttl: 3600
    pid: 4242
    host: lb1
previous:
  description: The lock found before the task; null when there was none.
  returned: always
  type: dict
  sample: &old_lock
    holder: alice@ctl1 run 41
    message: upgrade to 1.9.0
    change_id: CHG-0
    started: 1699990000
    started_iso: "2023-11-14T19:26:40Z"
    ttl: 3600
    pid: 4100
    host: lb1
stale:
  description: Whether the lock found before the task was past its TTL.
  returned: always
  type: bool
  sample: true
broken_lock:
  description: The lock that O(state=broken) removed (or would remove in check mode); null otherwise.
  returned: always
  type: dict
  sample: *old_lock  # the same lock as in previous: the one that was broken
path:
  description: The lock file's path.
  returned: always
  type: str
  sample: /var/lib/fleetops/deploy.lock
msg:
  description: What the task did, or why it was refused.
  returned: always
  type: str
  sample: acquired deploy lock /var/lib/fleetops/deploy.lock for alice@ctl1 run 42
diff:
  description: The lock file's text before and after.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: Text before the task (empty when there was no lock).
      type: str
      returned: when diff mode is on
    after:
      description: Text after the task (empty when there is no lock).
      type: str
      returned: when diff mode is on
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.lock import (
    DEFAULT_PATH,
    DEFAULT_TTL,
    STATES,
    LockError,
    ensure_lock,
)

ARGUMENT_SPEC = dict(
    path=dict(type="path", default=DEFAULT_PATH),
    state=dict(type="str", default="acquired", choices=list(STATES)),
    holder=dict(type="str"),
    reason=dict(type="str"),
    change_id=dict(type="str"),
    ttl=dict(type="int", default=DEFAULT_TTL),
    force=dict(type="bool", default=False),
)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        required_if=[("state", "acquired", ["holder"]), ("state", "released", ["holder"])],
    )
    try:
        result = ensure_lock(module.params, check_mode=module.check_mode, diff_mode=module._diff)
    except LockError as exc:
        module.fail_json(msg=exc.msg, path=module.params["path"], **exc.result)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
