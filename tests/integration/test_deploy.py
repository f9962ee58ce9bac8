"""deploy.yml on the lab: canary stages gated on HAProxy counters, under steady traffic.

The tests run in order and build on each other: v1 (blue, from site.yml) -> v2 on green
(promoted) -> v3 with 5% errors (rolled back to v2) -> 3.0.1 that cannot start (stopped
before traffic moves) -> a held lock and a sliced AWX job refused. Rollbacks and the
killed controller are in test_deploy_history.py, on a lab of their own.
"""

import json
import re
import time

import pytest
from conftest import APP_HOSTS, LB_ADDRESS, Traffic, http_get, lab_host, run_playbook
from deploy_helpers import FAST_GATE, app_fingerprint, deploy, ledger, servers_serving


@pytest.fixture(scope="module")
def on_v1(converged):
    status, body = http_get("http://%s/version" % LB_ADDRESS)
    assert status == 200 and json.loads(body)["version"] == "1.0.0"


def test_check_mode_reports_the_rollout_and_changes_nothing(on_v1, tmp_path):
    before = (servers_serving(), app_fingerprint())
    result = run_playbook("deploy.yml", {"deploy_version": "2.0.0", **FAST_GATE}, check=True, tmp_path=tmp_path)
    assert result.rc == 0, result.failure_messages()
    changed = result.changed_tasks()
    assert any("Move traffic to the new slot (10%)" in task for task in changed), changed
    assert any("Install and start the release" in task or "Unpack the release" in task for task in changed), changed
    assert (servers_serving(), app_fingerprint()) == before


def test_bad_stages_are_refused_before_anything_changes(on_v1, tmp_path):
    before = (servers_serving(), app_fingerprint())
    result = deploy("2.0.0", tmp_path, deploy_stages=[50, 10, 100])
    assert result.rc != 0
    assert "deploy_stages[1] = 10 does not increase over the previous stage 50" in " ".join(result.failure_messages())
    assert result.changed() == 0, result.changed_tasks()
    assert (servers_serving(), app_fingerprint()) == before


def test_a_negative_analysis_window_is_refused_before_anything_changes(on_v1, tmp_path):
    before = (servers_serving(), app_fingerprint())
    result = deploy("2.0.0", tmp_path, deploy_analysis_window=-5)
    assert result.rc != 0
    assert ("deploy_analysis_window must be a whole number of seconds, at least 0 (0: no gate, traffic moves "
            "through the stages unanalysed), got -5") in " ".join(result.failure_messages())
    assert result.changed() == 0, result.changed_tasks()
    assert (servers_serving(), app_fingerprint()) == before


def test_every_host_short_of_space_is_named_before_anything_changes(on_v1, tmp_path):
    before = (servers_serving(), app_fingerprint())
    result = deploy("2.0.0", tmp_path, deploy_min_free_mb=10 ** 9)  # a petabyte: no lab host has it
    assert result.rc != 0
    messages = result.failure_messages()
    assert len(messages) == 1 and messages[0].endswith("; nothing was changed"), messages
    for name in APP_HOSTS:
        assert re.search(r"\b%s has \d+ MB free, deploy_min_free_mb=1000000000\b" % name, messages[0]), messages
    assert result.changed() == 0, result.changed_tasks()
    assert (servers_serving(), app_fingerprint()) == before


@pytest.mark.parametrize("value, message", [
    ("lots", "argument 'deploy_min_free_mb' is of type str and we were unable to convert to int"),  # role arg spec
    (-5, "deploy_min_free_mb must be a whole number of MB, 0 or more, got -5"),
])
def test_a_free_space_minimum_that_is_no_size_is_named(on_v1, tmp_path, value, message):
    result = deploy("2.0.0", tmp_path, deploy_min_free_mb=value)
    assert result.rc != 0
    assert message in " ".join(result.failure_messages()), result.failure_messages()
    assert result.changed() == 0, result.changed_tasks()


# The backup RPO metric; the backup schedule makes its directory (not installed on this lab).
BACKUP_TEXTFILE = "/var/lib/prometheus/node-exporter/fleetops_backup.prom"


def test_good_release_is_promoted_with_zero_failed_requests(on_v1, tmp_path):
    for name in APP_HOSTS:
        lab_host(name).run_test("mkdir -p %s" % BACKUP_TEXTFILE.rsplit("/", 1)[0])
    with Traffic() as traffic:
        result = deploy("2.0.0", tmp_path)
    assert result.rc == 0, result.failure_messages()
    for name in APP_HOSTS:
        # The pre-upgrade backup's own task refreshed the metric from the archive it made.
        sidecar = lab_host(name).check_output("ls -t /var/backups/fleetops/demo/*-pre-upgrade.tar.zst.json | head -1")
        created = json.loads(lab_host(name).file(sidecar).content_string)["metadata"]["created_epoch"]
        metric = lab_host(name).file(BACKUP_TEXTFILE).content_string
        assert ('fleetops_backup_last_success_timestamp_seconds{service="demo",host="%s"} %.3f'
                % (name, created)) in metric, (name, metric)
    assert traffic.failed == [], traffic.failed[:5]
    assert traffic.versions.get("2.0.0", 0) > 0
    assert servers_serving() == {"%s-green" % name for name in APP_HOSTS}
    for _ in range(20):
        status, body = http_get("http://%s/" % LB_ADDRESS)
        assert status == 200 and json.loads(body)["version"] == "2.0.0"
    for name in APP_HOSTS:
        records = ledger(name)
        assert [r["event"] for r in records if r["release"] == "2.0.0"] == [
            "started",
            "gate",
            "gate",
            "gate",
            "promoted",
        ]
        assert all(r["gate"]["verdict"] == "pass" for r in records if r["event"] == "gate")
        assert not lab_host(name).service("demo@blue").is_running


def test_second_deploy_of_the_same_release_changes_nothing(tmp_path):
    result = deploy("2.0.0", tmp_path)
    assert result.rc == 0, result.failure_messages()
    assert result.changed() == 0, result.changed_tasks()


def test_bad_release_fails_the_first_stage_and_rolls_back(tmp_path):
    with Traffic(threads=2) as traffic:
        result = deploy("3.0.0", tmp_path)
        after_rollback = traffic.mark()
        time.sleep(3)
    assert result.rc != 0
    message = " ".join(result.failure_messages())
    assert "gate failed at 10% of traffic on 3.0.0" in message, message
    assert "error_ratio" in message, message
    assert servers_serving() == {"%s-green" % name for name in APP_HOSTS}
    assert traffic.versions_since(after_rollback) == {"2.0.0"}
    for name in APP_HOSTS:
        records = [r for r in ledger(name) if r["release"] == "3.0.0"]
        assert records[-1]["event"] == "rolled_back"
        assert "error_ratio" in records[-1]["message"]
        assert not lab_host(name).service("demo@blue").is_running


def test_release_that_cannot_start_stops_before_traffic_moves(tmp_path):
    with Traffic() as traffic:
        result = deploy("3.0.1", tmp_path)
    assert result.rc != 0
    message = " ".join(result.failure_messages())
    assert "3.0.1 did not start in the blue slot on app1, app2, app3; no traffic was moved" in message, message
    assert traffic.failed == [], traffic.failed[:5]
    assert set(traffic.versions) == {"2.0.0"}
    assert servers_serving() == {"%s-green" % name for name in APP_HOSTS}


def test_deploy_is_refused_while_another_holds_the_lock(tmp_path):
    lb = lab_host("lb1")
    lock = {
        "holder": "alice run 42",
        "message": "deploy 9.9.9",
        "change_id": "CHG-7",
        "started": 4102444800,
        "started_iso": "2100-01-01T00:00:00Z",
        "ttl": 3600,
        "pid": 1,
        "host": "elsewhere",
    }
    lb.run("mkdir -p /var/lib/fleetops/demo && echo '%s' > /var/lib/fleetops/demo/deploy.lock" % json.dumps(lock))
    before = {name: ledger(name) for name in APP_HOSTS}
    try:
        result = deploy("1.0.0", tmp_path)
    finally:
        lb.run("rm -f /var/lib/fleetops/demo/deploy.lock")
    assert result.rc != 0
    message = " ".join(result.failure_messages())
    assert "is held by alice run 42" in message and "CHG-7" in message, message
    assert "deploy_break_stale_lock" not in message  # a fresh lock is not offered for breaking
    assert result.changed() == 0, result.changed_tasks()
    assert {name: ledger(name) for name in APP_HOSTS} == before
    assert servers_serving() == {"%s-green" % name for name in APP_HOSTS}


def test_deploy_refuses_to_run_as_one_slice_of_a_sliced_awx_job(tmp_path):
    # What AWX passes to each slice of a job template with job_slice_count > 1: the
    # workflow it runs the slices in carries the template's name.
    awx = {"awx_job_template_name": "Deploy web", "awx_workflow_job_name": "Deploy web",
           "awx_job_launch_type": "workflow"}
    before = {name: ledger(name) for name in APP_HOSTS}
    result = run_playbook("deploy.yml", {"deploy_version": "1.0.0", **awx}, tmp_path=tmp_path)
    assert result.rc != 0
    message = " ".join(result.failure_messages())
    assert message.startswith("deploy.yml cannot run as a sliced job: this run is one slice of job template "
                              "'Deploy web' (job_slice_count > 1)"), message
    assert result.changed() == 0, result.changed_tasks()
    assert {name: ledger(name) for name in APP_HOSTS} == before
    assert not lab_host("lb1").file("/var/lib/fleetops/demo/deploy.lock").exists
