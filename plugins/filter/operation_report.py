# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore and DR drill report filters; the logic lives in module_utils.operation_report.

Each filter is documented in its sidecar file (``restore_report.yml``,
``operation_report_markdown.yml``, ``operation_report_lines.yml``).
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import operation_report as report
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def restore_report(host_results, run):
    """The report of a restore run from each host's result."""
    return wrap("restore_report", report.restore_report, run, host_results)


def operation_report_markdown(report_data, kind):
    """A restore or drill report as a Markdown page."""
    return wrap("operation_report_markdown", report.render_markdown, report_data, kind)


def operation_report_lines(report_data, paths=None, kind="restore"):
    """A few lines of human summary for the end of a restore or a drill."""
    return wrap("operation_report_lines", report.human_summary, report_data, paths, kind=kind)


class FilterModule(object):
    def filters(self):
        return {
            "restore_report": restore_report,
            "operation_report_markdown": operation_report_markdown,
            "operation_report_lines": operation_report_lines,
        }
