"""deploy.yml on the lab: canary stages gated on HAProxy counters, under steady traffic.

The tests run in order and build on each other: v1 (blue, from site.yml) -> v2 on green
(promoted) -> v3 with 5% errors (rolled back to v2) -> 3.0.1 that cannot start (stopped
before traffic moves) -> 4.0.0 and two rollbacks -> a named rollback -> a deploy whose
controller is killed, recovered by a re-run.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import APP_HOSTS, INVENTORY, LB_ADDRESS, REPO, Traffic, http_get, lab_host, run_playbook

SLOTS = ("blue", "green")

# Short analysis for tests: at least 3 samples of 3 s at each stage, at most 90 s while
# the evidence cannot decide; a looser sequential test than the default (10 % error
# rates: 145 clean requests pass a stage, ~10 s at 10 % under one client; the default's
# 303 are exercised by test_gate.py); a breach must last 2 samples.
FAST_GATE = {
    "deploy_analysis_window": 9,
    "deploy_analysis_interval": 3,
    "deploy_analysis_max_window": 90,
    "deploy_gate_false_rollback_rate": 0.1,
    "deploy_gate_false_promotion_rate": 0.1,
    "deploy_gate_conditions": [
        {"type": "error_ratio", "threshold": 0.01, "sustained_for": 2, "min_requests": 20},
        {"type": "health"},
    ],
}


def deploy(version, tmp_path, **extra):
    return run_playbook("deploy.yml", {"deploy_version": version, **FAST_GATE, **extra}, tmp_path=tmp_path)


def ledger(host):
    out = lab_host(host).run("cat /var/lib/fleetops/demo/ledger.jsonl")
    assert out.rc == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def servers_serving():
    stat = lab_host("lb1").run("echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock")
    header = stat.stdout.splitlines()[0].lstrip("# ").split(",")
    serving = set()
    for line in stat.stdout.splitlines()[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == "demo" and row["svname"] not in ("FRONTEND", "BACKEND"):
            if row["status"] == "UP" and int(row["weight"] or 0) > 0:
                serving.add(row["svname"])
    return serving


def app_fingerprint():
    return {
        name: lab_host(name).run("readlink /opt/demo/current-green; systemctl is-active demo@green").stdout
        for name in APP_HOSTS
    }


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


def test_good_release_is_promoted_with_zero_failed_requests(on_v1, tmp_path):
    with Traffic() as traffic:
        result = deploy("2.0.0", tmp_path)
    assert result.rc == 0, result.failure_messages()
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


def test_two_rollbacks_follow_the_ledger_not_mtimes(tmp_path):
    # History: 1.0.0 (site.yml), 2.0.0 promoted, 3.0.0 rolled back, 4.0.0 promoted now.
    # 4.0.0 answers 300 ms slower: more clients keep enough requests on the canary.
    with Traffic(threads=4) as traffic:
        result = deploy("4.0.0", tmp_path / "deploy")
    assert result.rc == 0, result.failure_messages()
    assert traffic.failed == [], traffic.failed[:5]
    # Make mtimes lie: the oldest release directory looks newest.
    for name in APP_HOSTS:
        lab_host(name).run("touch /opt/demo/releases/1.0.0 && sleep 1 && touch /opt/demo/releases/3.0.0")
    with Traffic() as traffic:
        first = run_playbook("rollback.yml", {}, tmp_path=tmp_path / "first")
        second = run_playbook("rollback.yml", {}, tmp_path=tmp_path / "second")
    assert first.rc == 0, first.failure_messages()
    assert second.rc == 0, second.failure_messages()
    assert traffic.failed == [], traffic.failed[:5]
    status, body = http_get("http://%s/version" % LB_ADDRESS)
    assert json.loads(body)["version"] == "1.0.0"
    rollbacks = [(r["from_release"], r["release"]) for r in ledger("app1") if r["event"] == "rollback"]
    assert rollbacks == [("4.0.0", "2.0.0"), ("2.0.0", "1.0.0")]


def test_rollback_to_a_named_release(tmp_path):
    result = run_playbook("rollback.yml", {"rollback_release": "4.0.0"}, tmp_path=tmp_path)
    assert result.rc == 0, result.failure_messages()
    status, body = http_get("http://%s/version" % LB_ADDRESS)
    assert json.loads(body)["version"] == "4.0.0"
    again = run_playbook("rollback.yml", {"rollback_release": "4.0.0"}, tmp_path=tmp_path / "again")
    assert again.rc != 0
    assert "rollback_release=4.0.0 already serves all traffic" in " ".join(again.failure_messages())


def slot_links():
    return {
        name: {slot: lab_host(name).run("readlink -e /opt/demo/current-%s" % slot).stdout.strip() for slot in SLOTS}
        for name in APP_HOSTS
    }


def test_controller_killed_mid_rollout_is_recovered_by_a_rerun(tmp_path):
    # Before: 4.0.0 serves everything (named rollback above). Deploy 2.0.0 with a long
    # analysis at each stage and SIGKILL ansible-playbook once the 50% stage started.
    # 4.0.0 answers 300 ms slower, so few requests reach a 10% canary (~1.5/s): small
    # min_requests, and a looser sequential test (20 % error rates: 92 clean requests pass
    # a stage) so that the 50 % stage starts within a minute or so.
    slow_gate = {
        "deploy_analysis_window": 40,
        "deploy_analysis_interval": 10,
        "deploy_gate_false_rollback_rate": 0.2,
        "deploy_gate_false_promotion_rate": 0.2,
        "deploy_gate_conditions": [
            {"type": "error_ratio", "threshold": 0.01, "sustained_for": 2, "min_requests": 3},
            {"type": "health"},
        ],
    }
    extravars = {"deploy_version": "2.0.0", **slow_gate, "deploy_lock_ttl": 15}
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    command = [playbook, "-i", str(INVENTORY), str(REPO / "playbooks" / "deploy.yml"), "-e", json.dumps(extravars)]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    with Traffic(threads=4) as traffic:
        with open(tmp_path / "killed.log", "w") as log:
            proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None and not half_on_the_new_slot():
            time.sleep(1)
        assert proc.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
        assert half_on_the_new_slot(), "the 50% stage never started"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(2)
        # What the kill left: both slots serve, each link names a complete release.
        for name, links in slot_links().items():
            for slot, target in links.items():
                assert lab_host(name).file(target + "/.fleetops-release").exists, (name, slot, target)
        assert len(servers_serving()) == 2 * len(APP_HOSTS)

        refused = deploy("2.0.0", tmp_path / "refused")
        time.sleep(16)  # past the killed run's 15 s TTL
        stale = deploy("2.0.0", tmp_path / "stale")
        recovered = deploy("2.0.0", tmp_path / "recovered", **slow_gate, deploy_break_stale_lock=True,
                           deploy_summary_dir=str(tmp_path / "runs"))
    assert refused.rc != 0 and "is held by" in " ".join(refused.failure_messages())
    message = " ".join(stale.failure_messages())
    assert stale.rc != 0 and "stale" in message and "deploy_break_stale_lock=true" in message, message
    assert recovered.rc == 0, recovered.failure_messages()
    assert "broke the stale deploy lock" in recovered.stdout
    assert traffic.failed == [], traffic.failed[:5]
    assert servers_serving() == {"%s-%s" % (name, slot) for name, slot in new_slot_by_host().items()}
    status, body = http_get("http://%s/version" % LB_ADDRESS)
    assert json.loads(body)["version"] == "2.0.0"
    for name in APP_HOSTS:
        runs = {}
        for record in ledger(name):
            runs.setdefault(record["run_id"], []).append(record)
        killed = [events for events in runs.values()
                  if events[0]["event"] == "started" and events[-1]["event"] == "interrupted"]
        assert killed and "recorded no outcome" in killed[-1][-1]["message"], runs
        assert list(runs.values())[-1][-1]["event"] == "promoted"
    summaries = list((tmp_path / "runs").glob("*.json"))
    assert len(summaries) == 1
    summary = json.loads(summaries[0].read_text())
    assert summary["release"] == "2.0.0" and summary["outcomes"] == ["promoted"]
    assert set(summary["hosts"]) == set(APP_HOSTS)


def test_window_zero_moves_the_stages_unanalysed_and_says_so_in_the_ledger(tmp_path):
    # No traffic and no gate: with deploy_analysis_window=0 every stage moves traffic
    # unanalysed; nothing may read as a passed gate.
    status, body = http_get("http://%s/version" % LB_ADDRESS)
    target = "1.0.0" if json.loads(body)["version"] != "1.0.0" else "2.0.0"
    result = run_playbook("deploy.yml", {"deploy_version": target, "deploy_analysis_window": 0}, tmp_path=tmp_path)
    assert result.rc == 0, result.failure_messages()
    assert "without analysis: deploy_analysis_window=0 turns the gate off" in result.stdout
    status, body = http_get("http://%s/version" % LB_ADDRESS)
    assert json.loads(body)["version"] == target
    for name in APP_HOSTS:
        records = ledger(name)
        run = [record for record in records if record["run_id"] == records[-1]["run_id"]]
        assert [record["event"] for record in run] == ["started", "gate", "gate", "gate", "promoted"], run
        gates = [record for record in run if record["event"] == "gate"]
        assert [record["details"]["stage"] for record in gates] == [10, 50, 100]
        assert {record["gate"]["verdict"] for record in gates} == {"not_analysed"}
        assert all(record["gate"]["conditions"] == [] for record in gates)


def half_on_the_new_slot():
    """True once HAProxy gives the 2.0.0 slot of every host about half the weight."""
    weights = server_weights()
    new = new_slot_by_host()
    return bool(new) and all(60 <= weights.get("%s-%s" % (name, slot), 0) <= 200 for name, slot in new.items())


def new_slot_by_host():
    slots = {}
    for name, links in slot_links().items():
        for slot, target in links.items():
            if target.endswith("/2.0.0"):
                slots[name] = slot
    return slots


def server_weights():
    stat = lab_host("lb1").run("echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock")
    header = stat.stdout.splitlines()[0].lstrip("# ").split(",")
    weights = {}
    for line in stat.stdout.splitlines()[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == "demo" and row["svname"] not in ("FRONTEND", "BACKEND") and row["status"] == "UP":
            weights[row["svname"]] = int(row["weight"] or 0)
    return weights
