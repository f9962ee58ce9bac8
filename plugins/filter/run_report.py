# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run report filters; the logic lives in module_utils.run_report.

Several filters in one file, each documented in its own sidecar file
(``run_report.yml``, ``run_report_markdown.yml``, ``run_report_lines.yml``,
``run_unfinished_verdict.yml``, ``run_closed_by_host.yml``).
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import run_report as report
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def run_report(host_runs, run, failure=None, ended=True, *, interrupted=False, host_errors=None):
    """The report of a run from each host's ledger summary of it."""
    return wrap("run_report", report.build_report, run, host_runs, failure=failure or None, ended=ended,
                interrupted=interrupted, host_errors=host_errors)


def run_unfinished_verdict(lock_text, run_id, now):
    """Whether a run without an outcome still runs (its live lock) or was interrupted."""
    outcome, why = wrap("run_unfinished_verdict", lambda: report.unfinished_verdict(run_id, lock_text, float(now)))
    return dict(outcome=outcome, why=why)


def run_closed_by_host(closings, run_id):
    """Each host's summary of a run that release_ledger closed as interrupted there."""
    return wrap("run_closed_by_host", report.closed_run_by_host, closings, run_id)


def run_report_markdown(run_report_data, title="Deploy"):
    """The report as a Markdown page."""
    return wrap("run_report_markdown", report.render_markdown, run_report_data, title=title)


def run_report_lines(run_report_data, paths=None, title="deploy"):
    """A few lines of human summary for the end of a run."""
    return wrap("run_report_lines", report.human_summary, run_report_data, paths, title=title)


class FilterModule(object):
    def filters(self):
        return {
            "run_report": run_report,
            "run_report_markdown": run_report_markdown,
            "run_report_lines": run_report_lines,
            "run_unfinished_verdict": run_unfinished_verdict,
            "run_closed_by_host": run_closed_by_host,
        }
