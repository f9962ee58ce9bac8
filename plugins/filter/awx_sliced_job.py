# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter over AWX job variables; the logic lives in module_utils.awx."""

from __future__ import annotations

DOCUMENTATION = r"""
name: awx_sliced_job
short_description: Refusal for a playbook run as one slice of a sliced AWX job
version_added: 0.1.0
description:
  - AWX and automation controller run a job template with C(job_slice_count) > 1 as a
    workflow of the template's own name, one playbook run per share of the inventory.
  - Returns the message refusing such a run for a playbook that needs the whole fleet in
    one run (a deploy's canary stages), or an empty string when the run is not sliced.
positional: playbook
options:
  _input:
    description:
      - The AWX job variables, e.g. C(awx_job_template_name), C(awx_workflow_job_name) and
        their C(tower_) twins; missing ones may be V(null).
    type: dict
    required: true
  playbook:
    description: The playbook named in the message.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse a sliced run
  ansible.builtin.assert:
    that: _refusal | length == 0
    fail_msg: "{{ _refusal }}"
  vars:
    _refusal: >-
      {{ {'awx_job_template_name': awx_job_template_name | default(none),
          'awx_workflow_job_name': awx_workflow_job_name | default(none)}
         | fleetops.lifecycle.awx_sliced_job('deploy.yml') }}
"""

RETURN = r"""
_value:
  description: The refusal, or an empty string.
  type: str
"""

from ansible_collections.fleetops.lifecycle.plugins.module_utils.awx import refuse_sliced_run
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def awx_sliced_job(job_vars, playbook):
    return wrap("awx_sliced_job", refuse_sliced_run, job_vars, playbook)


class FilterModule(object):
    def filters(self):
        return {"awx_sliced_job": awx_sliced_job}
