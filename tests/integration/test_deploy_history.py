"""deploy.yml and rollback.yml on the lab, over a release history: two rollbacks that
follow the ledger (not mtimes), a named rollback, a deploy whose controller is killed
mid-rollout and recovered by a re-run, a deploy with the gate off.

The module builds its own history first (fixture ``history``), so it runs on a lab of
its own beside test_deploy.py: 1.0.0 from site.yml, 2.0.0 promoted, 3.0.0 (5 % errors)
rolled back by the gate.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import APP_HOSTS, INVENTORY, LB_ADDRESS, REPO, Traffic, http_get, lab_host, run_playbook
from deploy_helpers import (
    FAST_GATE,
    deploy,
    half_on_the_new_slot,
    ledger,
    new_slot_by_host,
    servers_serving,
    slot_links,
)


@pytest.fixture(scope="module")
def history(converged, tmp_path_factory):
    """1.0.0 -> 2.0.0 promoted (the gate off: its verdicts are test_deploy's) -> 3.0.0
    rolled back at the first stage, as the ledger must show it."""
    status, body = http_get("http://%s/version" % LB_ADDRESS)
    assert status == 200 and json.loads(body)["version"] == "1.0.0", body
    tmp = tmp_path_factory.mktemp("history")
    promoted = run_playbook("deploy.yml", {"deploy_version": "2.0.0", "deploy_analysis_window": 0}, tmp_path=tmp / "v2")
    assert promoted.rc == 0, promoted.failure_messages()
    with Traffic(threads=2):
        rolled_back = run_playbook("deploy.yml", {"deploy_version": "3.0.0", **FAST_GATE}, tmp_path=tmp / "v3")
    assert rolled_back.rc != 0
    assert "gate failed at 10% of traffic on 3.0.0" in " ".join(rolled_back.failure_messages())
    for name in APP_HOSTS:
        outcomes = [(r["release"], r["event"]) for r in ledger(name) if r["event"] in ("promoted", "rolled_back")]
        assert outcomes[-2:] == [("2.0.0", "promoted"), ("3.0.0", "rolled_back")], outcomes


def test_two_rollbacks_follow_the_ledger_not_mtimes(history, tmp_path):
    # History: 1.0.0 (site.yml), 2.0.0 promoted, 3.0.0 rolled back, 4.0.0 promoted now,
    # with the gate off like 2.0.0 in the fixture: this test is about the ledger, and
    # 4.0.0 answers 300 ms slower, so at a 10 % canary the gate waited minutes for
    # evidence (test_deploy and test_gate judge releases).
    with Traffic(threads=4) as traffic:
        result = run_playbook("deploy.yml", {"deploy_version": "4.0.0", "deploy_analysis_window": 0},
                              tmp_path=tmp_path / "deploy")
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
        # The recovering run needs no long stage: nothing is killed in it.
        quick = dict(slow_gate, deploy_analysis_window=10, deploy_analysis_interval=5)
        recovered = deploy("2.0.0", tmp_path / "recovered", **quick, deploy_break_stale_lock=True,
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
    # Two reports: the recovering run's, and the one it wrote for the killed run it closed.
    summaries = sorted((json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*.json")),
                       key=lambda report: report["outcome"])
    assert [(r["release"], r["outcome"]) for r in summaries] == [("2.0.0", "interrupted"), ("2.0.0", "promoted")]
    assert summaries[1]["outcomes"] == ["promoted"] and set(summaries[1]["hosts"]) == set(APP_HOSTS)


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
