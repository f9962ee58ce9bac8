#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_files
short_description: Make a service's small files and directories match in one call
version_added: 0.9.0
description:
  - Makes directories exist with their owner and mode, files and then secret files hold their
    content with their owner and mode, and named files absent, in that order, in one task per host.
    The service role writes a slot's config, env files, unit and drop-ins with it, since
    a task each cost a forked worker per host on the controller.
  - Each file is written on its own and atomically - a new temp file beside it (never
    through a link) gets the owner, the mode and the content, is synced, checked by
    O(files[].validate) when given, and renamed over the file. A file whose content
    matches only has its owner and mode set.
  - The last component of each path is never followed - a symbolic link (or anything
    that is not a regular file) where a file is expected, or a non-directory where a
    directory is expected, fails the task naming the option and the path.
  - A failure stops at the entry that failed - the entries before it are done, that one
    and those after it are untouched.
  - Render templates on the controller with the C(ansible.builtin.template) lookup and
    pass the text as O(files[].content).
author:
  - fleetops maintainers (@fleetops)
options:
  directories:
    description: Directories to make or fix, made first. Their parent must exist.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path, without C(..).
        type: str
        required: true
      owner:
        description: User name.
        type: str
        default: root
      group:
        description: Group name.
        type: str
        default: root
      mode:
        description:
          - Octal mode as a string, e.g. C('0755'). A number is taken as the mode itself, as
            YAML reads an unquoted C(0755) (the integer 493).
        type: raw
        required: true
  files:
    description: Files to write or fix. Their directory must exist or be in O(directories).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path, without C(..).
        type: str
        required: true
      content:
        description:
          - The whole text of the file (UTF-8).
          - Shown in the diff; put a secret in O(secret_files).
        type: str
        required: true
      owner:
        description: User name.
        type: str
        default: root
      group:
        description: Group name.
        type: str
        default: root
      mode:
        description:
          - Octal mode as a string, e.g. C('0644'). A number is taken as the mode itself, as
            YAML reads an unquoted C(0644) (the integer 420).
        type: raw
        required: true
      validate:
        description:
          - Command run on the new content before it replaces the file; C(%s) is the temp
            file's path. A non-zero exit fails the task and leaves the file as it was.
          - Not run in check mode. Empty means no check.
        type: str
        default: ""
  secret_files:
    description:
      - Files written like O(files) (after them, without a validate command) whose content is a
        secret, e.g. an env file with an API token. The content is never returned, logged or shown -
        the option is C(no_log), and a diff names the file with C((new secret content, not shown)).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path, without C(..).
        type: str
        required: true
      content:
        description: The whole text of the file (UTF-8).
        type: str
        required: true
      owner:
        description: User name.
        type: str
        default: root
      group:
        description: Group name.
        type: str
        default: root
      mode:
        description: Octal mode as a string, e.g. C('0600'), as O(files[].mode).
        type: raw
        required: true
  absent:
    description: Files to remove (a link is removed itself); a directory here fails the task.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details: Reports what would change and the diff; writes nothing and runs no validate command.
  diff_mode:
    support: full
    details: One diff per file whose content changes or that is removed.
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Write the service config, each slot's env file and the unit, in one task
  fleetops.lifecycle.config_files:
    directories:
      - {path: /etc/systemd/system/shop@.service.d, mode: "0755"}
    files:
      - path: /etc/shop/shop.ini
        content: "{{ lookup('ansible.builtin.template', 'shop.ini.j2') }}"
        group: shop
        mode: "0640"
        validate: /opt/shop/current-blue/bin/shop --check-config %s
      - {path: /etc/shop/slot-blue.env, content: "PORT=8081\n", mode: "0644"}
      - path: /etc/systemd/system/shop@.service
        content: "{{ lookup('ansible.builtin.template', 'shop@.service.j2') }}"
        mode: "0644"
    absent:
      - /etc/systemd/system/shop@.service.d/50-limits.conf
  register: shop_files
  notify: Restart shop
"""

RETURN = r"""
changed_paths:
  description: The paths made, written, fixed or removed (in check mode, that would be), in the order given.
  returned: always
  type: list
  elements: str
  sample: [/etc/shop/shop.ini]
diff:
  description: One entry per file whose content changes or that is removed.
  returned: when diff mode is on
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.config_files import ensure_files
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError

_OWNER = dict(owner=dict(type="str", default="root"), group=dict(type="str", default="root"))

ARGUMENT_SPEC = dict(
    directories=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="str", required=True), mode=dict(type="raw", required=True), **_OWNER)),
    files=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="str", required=True), content=dict(type="str", required=True),
        mode=dict(type="raw", required=True), validate=dict(type="str", default=""), **_OWNER)),
    # no_log is on the content only: paths, owners and modes are no secret.
    secret_files=dict(type="list", elements="dict", default=[], no_log=False, options=dict(
        path=dict(type="str", required=True), content=dict(type="str", required=True, no_log=True),
        mode=dict(type="raw", required=True), **_OWNER)),
    absent=dict(type="list", elements="str", default=[]),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = ensure_files(module.params, check_mode=module.check_mode)
    except ResultError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    except OSError as exc:
        module.fail_json(msg="%s: %s" % (exc.filename or "config_files", exc.strerror or exc))
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
