# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action for slo_gate: on the controller (connection local, as deploy runs it) the
gate runs in this process and prints each sample's measurements and the running
verdict as they are taken, then the stage's verdict with its values; anywhere else,
and for ``validate_only``, the module runs as usual. The documentation is the
module's (plugins/modules/slo_gate.py)."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.fleetops.lifecycle.plugins.module_utils.gate_progress import sample_line
from ansible_collections.fleetops.lifecycle.plugins.module_utils.run_report import condition_values
from ansible_collections.fleetops.lifecycle.plugins.modules.slo_gate import ARGUMENT_SPEC, MUTUALLY_EXCLUSIVE, gate

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def _on_controller(self):
        return getattr(self._connection, "transport", None) == "local"

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if self._task.args.get("validate_only") or not self._on_controller():
            result.update(self._execute_module(module_name="fleetops.lifecycle.slo_gate",
                                               module_args=self._task.args, task_vars=task_vars))
            return result
        _validation, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC,
                                                           mutually_exclusive=MUTUALLY_EXCLUSIVE)
        host = task_vars.get("inventory_hostname", "localhost") if task_vars else "localhost"
        label = self._task.get_name()

        def show(plan, progress):
            display.display("  [%s] %s: %s" % (host, label, sample_line(plan, progress)))

        try:
            outcome = gate(params, on_sample=show)
        except ValueError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        display.display("  [%s] %s: verdict %s, action %s; %s" % (
            host, label, outcome["verdict"].upper(), outcome["action"],
            "; ".join(condition_values(c) for c in outcome["conditions"])))
        result.update(changed=False, **outcome)
        if params["fail_on_verdict"] and outcome["action"] == "rollback":
            result.update(failed=True, msg=outcome["summary"])
        return result
