import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils.awx import refuse_sliced_run, sliced_job


@pytest.mark.parametrize("prefix", ["awx", "tower"])
def test_a_slice_is_a_workflow_named_after_its_template(prefix):
    job_vars = {"%s_job_template_name" % prefix: "Deploy web", "%s_workflow_job_name" % prefix: "Deploy web"}
    assert sliced_job(job_vars) == "Deploy web"
    message = refuse_sliced_run(job_vars, "deploy.yml")
    assert message.startswith("deploy.yml cannot run as a sliced job: this run is one slice of job template "
                              "'Deploy web' (job_slice_count > 1)")
    assert "Set the job template's job_slice_count to 1" in message


@pytest.mark.parametrize(
    "job_vars",
    [
        {},  # ansible-playbook, ansible-runner
        {"awx_job_template_name": "Deploy web"},  # a plain AWX job
        {"awx_job_template_name": "Deploy web", "awx_workflow_job_name": "Release train"},  # a user's workflow
        {"awx_job_template_name": None, "awx_workflow_job_name": None},
        {"awx_job_template_name": "", "awx_workflow_job_name": ""},
    ],
)
def test_other_runs_are_not_slices(job_vars):
    assert sliced_job(job_vars) is None
    assert refuse_sliced_run(job_vars, "deploy.yml") == ""


def test_job_vars_must_be_a_mapping():
    with pytest.raises(TypeError, match="expects the AWX job variables as a mapping, got list"):
        sliced_job(["awx_job_template_name"])
