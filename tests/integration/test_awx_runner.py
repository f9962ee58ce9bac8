"""A playbook run through ansible-runner from a private data directory laid out as AWX
lays it out: project/ (the checkout), inventory/ (hosts and group_vars), env/extravars
(survey answers, AWX's own variables), env/envvars, env/settings; then its events and
artifacts are read, and the audit record names AWX's user."""

import json
import shutil

import ansible_runner
import yaml
from conftest import INVENTORY, LAB_KEY, REPO
from tests_audit_support import read_audit


def awx_private_dir(tmp_path, extravars):
    private = tmp_path / "awx"
    (private / "env").mkdir(parents=True)
    (private / "project").symlink_to(REPO, target_is_directory=True)  # the project's SCM checkout
    (private / "inventory").mkdir()
    shutil.copy(INVENTORY, private / "inventory" / "hosts.yml")
    shutil.copytree(INVENTORY.parent / "group_vars", private / "inventory" / "group_vars")
    # AWX passes the machine credential separately; here the lab key, as an extra var.
    extravars = dict(extravars, ansible_ssh_private_key_file=str(LAB_KEY),
                     awx_user_name="alice", awx_job_id=4242, tower_job_template_name="fleetops backup report")
    (private / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    (private / "env" / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "FLEETOPS_AUDIT_FILE": str(tmp_path / "audit.jsonl"),
    }))
    (private / "env" / "settings").write_text(yaml.safe_dump({"job_timeout": 600, "suppress_ansible_output": True}))
    return private


def test_backup_report_through_runner_as_awx(converged, tmp_path):
    private = awx_private_dir(tmp_path, {"backup_report_dir": str(tmp_path / "reports")})
    runner = ansible_runner.run(private_data_dir=str(private), playbook="playbooks/backup_report.yml",
                                ident="job-4242", quiet=True)
    assert runner.status == "successful" and runner.rc == 0, runner.stdout.read()[-3000:]

    artifacts = private / "artifacts" / "job-4242"
    assert (artifacts / "rc").read_text().strip() == "0"
    assert (artifacts / "status").read_text().strip() == "successful"
    events = sorted((json.loads(p.read_text()) for p in (artifacts / "job_events").glob("*.json")),
                    key=lambda event: event["counter"])  # file names sort as text, counters as numbers
    assert events and events[-1]["event"] == "playbook_on_stats"
    # set_stats reaches AWX as the stats event's artifact_data: a workflow's next job gets it.
    report = events[-1]["event_data"]["artifact_data"]["backup_report"]
    assert sorted(row["host"] for row in report["hosts"]) == ["app1", "app2", "app3"], report
    assert {e["event"] for e in events} >= {"playbook_on_start", "playbook_on_task_start", "runner_on_ok"}
    assert "Report the fleet's backups" in (artifacts / "stdout").read_text()

    [record] = read_audit(tmp_path / "audit.jsonl")
    assert record["who"] == {"user": "alice", "via": "awx", "job_id": 4242}
    assert record["status"] == "successful" and record["playbook"].endswith("playbooks/backup_report.yml")
