# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What AWX / automation controller tells a playbook about the job it runs in."""

from __future__ import annotations

from collections.abc import Mapping

# AWX passes its job metadata as extra vars under both prefixes.
JOB_VARIABLE_PREFIXES = ("awx", "tower")


def sliced_job(job_vars):
    """Name of the sliced job template this run is one slice of, or ``None``.

    AWX runs a job template with ``job_slice_count`` > 1 as a workflow job that it
    creates from the template itself (same name), whose nodes each run the playbook on
    one share of the inventory. The slices get no variable saying so; what they do get
    is ``<prefix>_workflow_job_name`` equal to ``<prefix>_job_template_name``. A template
    run as a node of a user's workflow sees the workflow template's name instead.
    """
    if not isinstance(job_vars, Mapping):
        raise TypeError("expects the AWX job variables as a mapping, got %s" % type(job_vars).__name__)
    for prefix in JOB_VARIABLE_PREFIXES:
        template = job_vars.get("%s_job_template_name" % prefix)
        workflow = job_vars.get("%s_workflow_job_name" % prefix)
        if template and workflow and str(template) == str(workflow):
            return str(template)
    return None


def refuse_sliced_run(job_vars, playbook):
    """The refusal for a playbook that needs the whole fleet in one run, or ''."""
    template = sliced_job(job_vars)
    if template is None:
        return ""
    return (
        "%s cannot run as a sliced job: this run is one slice of job template %r "
        "(job_slice_count > 1), but each canary stage moves a share of ALL traffic and "
        "its gate judges the whole fleet, so one run must hold every app host. Set the "
        "job template's job_slice_count to 1 (health_check.yml and backup.yml may run "
        "sliced; see docs/scale.md)." % (playbook, template)
    )
