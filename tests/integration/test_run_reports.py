"""Run reports for every outcome on the lab: a deploy that fails before traffic moves,
a deploy whose controller is killed mid-rollout (reported by the report command, closed
and reported by the next run), and restore's closing report (restored and failed).

The tests run in order and build on each other: 1.0.0 serving (site.yml) -> 3.0.1 that
cannot start (failed, 1.0.0 still serves) -> 2.0.0 killed at its 10 % stage, reported,
then rolled back to 1.0.0 by rollback.yml -> app1's state restored from its newest
backup (the deploys' pre-upgrade backups) -> a restore from an archive that is not there
-> a DR drill of app1 onto spare1 (started and removed again)
-> shutdown.yml and health_check.yml with an unreachable host (the shared preflight).
Leaves 1.0.0 serving from every host.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import (
    APP_HOSTS,
    INVENTORY,
    LB_ADDRESS,
    REPO,
    SPARES_INVENTORY,
    Traffic,
    http_get,
    lab_command,
    lab_host,
    run_playbook,
)
from deploy_helpers import FAST_GATE, server_weights
from lab_helpers_ops import extra_inventory, unused_lab_address

LEDGER = "/var/lib/fleetops/demo/ledger.jsonl"
LOCK = "/var/lib/fleetops/demo/deploy.lock"



def ledger(host):
    out = lab_host(host).run("cat %s" % LEDGER)
    assert out.rc == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]



def serving():
    return {name for name, weight in server_weights().items() if weight > 0}


def plain(text):
    """Playbook output without colour codes, each line's wrapped pieces joined."""
    return re.sub(r"\s+", " ", re.sub(r"\x1b\[[0-9;]*m", "", text))


def stats_data(result, key):
    """What the run published with set_stats (the playbook_on_stats event's artifact data)."""
    for event in result.events:
        if event["event"] == "playbook_on_stats":
            return (event["event_data"].get("artifact_data") or {}).get(key)
    return None


def only_report_files_changed(result):
    """The report command changes nothing but its report files on the controller."""
    changed = result.changed_tasks()
    assert changed and all(task.split(": ", 1)[1] in REPORT_TASKS for task in changed), changed
    return True


REPORT_TASKS = ("Create the directory of run reports", "Write the run report (JSON)", "Write the run report (Markdown)")


def reports(directory):
    return sorted(directory.glob("*.json")) if directory.exists() else []


@pytest.fixture(scope="module")
def on_v1(converged):
    status, body = http_get("http://%s/version" % LB_ADDRESS)
    assert status == 200 and json.loads(body)["version"] == "1.0.0"


def test_a_release_that_cannot_start_is_a_failed_run_with_a_complete_report(on_v1, tmp_path):
    runs = tmp_path / "runs"
    before = serving()
    with Traffic(rate=20) as traffic:
        result = run_playbook("deploy.yml", {"deploy_version": "3.0.1", **FAST_GATE, "deploy_summary_dir": str(runs)},
                              tmp_path=tmp_path / "deploy")
    assert result.rc != 0
    message = " ".join(result.failure_messages())
    assert re.search(r"deploy of 3\.0\.1 failed before any traffic moved, the (blue|green) slot serves as before: "
                     r"3\.0\.1 did not start in the (blue|green) slot on app1, app2, app3; no traffic was moved",
                     message), message
    assert traffic.failed == [], traffic.failed[:5]
    assert set(traffic.versions) == {"1.0.0"}
    assert serving() == before

    [report_file] = reports(runs)
    report = json.loads(report_file.read_text())
    assert report["release"] == "3.0.1" and report["outcome"] == "failed" and report["outcomes"] == ["failed"]
    assert sorted(report["hosts"]) == sorted(APP_HOSTS)
    for name, host in report["hosts"].items():
        assert host["outcome"] == "failed" and host["events"] == ["started", "failed"], (name, host)
        assert host["error"], (name, host)  # why its new slot did not start
        assert ledger(name)[-1]["event"] == "failed"
    assert "3.0.1 did not start" in report["failure"] and report["stages"] == []
    assert report["duration"] is not None and report["duration"] > 0
    assert stats_data(result, "fleetops_deploy") == report

    page = report_file.with_suffix(".md").read_text()
    assert page.startswith("# Deploy 3.0.1: failed\n"), page
    for name in APP_HOSTS:
        assert "| %s | failed | started, failed |" % name in page, page
        assert "- %s: " % name in page.split("## Errors", 1)[1], page
    flat = plain(result.stdout)
    assert re.search(r"deploy 3\.0\.1: failed after [\d.]+ s \(run %s\)" % re.escape(report["run_id"]), flat)
    assert "reports: %s, %s" % (report_file, report_file.with_suffix(".md")) in flat

    # The report command gives the same outcome for the newest run, read from the ledgers only.
    ledgers = {name: ledger(name) for name in APP_HOSTS}
    again = run_playbook("run_report.yml", {"deploy_summary_dir": str(tmp_path / "again")}, tmp_path=tmp_path / "r")
    assert again.rc == 0, again.failure_messages()
    assert only_report_files_changed(again)
    assert {name: ledger(name) for name in APP_HOSTS} == ledgers
    [copy] = reports(tmp_path / "again")
    reread = json.loads(copy.read_text())
    assert reread["run_id"] == report["run_id"] and reread["outcome"] == "failed"
    assert {name: host["outcome"] for name, host in reread["hosts"].items()} == {name: "failed" for name in APP_HOSTS}


def test_a_killed_deploy_is_reported_interrupted_and_closed_by_the_next_run(on_v1, tmp_path):
    # A long analysis at each stage and a lock TTL of 60 s: the controller is killed
    # while the 10 % stage analyses, with the lock still live.
    slow = dict(FAST_GATE, deploy_analysis_window=120, deploy_analysis_interval=10, deploy_analysis_max_window=240)
    extravars = {"deploy_version": "2.0.0", **slow, "deploy_lock_ttl": 60}
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    command = [playbook, "-i", str(INVENTORY), str(REPO / "playbooks" / "deploy.yml"), "-e", json.dumps(extravars)]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    before = serving()
    with Traffic(rate=20):
        with open(tmp_path / "killed.log", "w") as log:
            proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None and not serving() - before:
            time.sleep(1)
        assert proc.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
        assert serving() - before, "the 10% stage never started"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed = [r for r in ledger("app1") if r["release"] == "2.0.0"][-1]["run_id"]
    for name in APP_HOSTS:
        assert [r["event"] for r in ledger(name) if r["run_id"] == killed][-1] != "promoted"
    lock = json.loads(lab_host("lb1").run("cat %s" % LOCK).stdout)
    assert lock["holder"].endswith(" run %s" % killed), lock
    expires = lock["started"] + lock["ttl"]

    # The report command: the run recorded no outcome; while its lock lives it is in progress.
    started = time.time()
    live = run_playbook("run_report.yml", {"deploy_summary_dir": str(tmp_path / "live")}, tmp_path=tmp_path / "l")
    ended = time.time()
    assert live.rc == 0, live.failure_messages()
    [live_file] = reports(tmp_path / "live")
    live_report = json.loads(live_file.read_text())
    assert live_report["run_id"] == killed
    if ended < expires:
        assert live_report["outcome"] == "in_progress", live_report
    elif started > expires:
        assert live_report["outcome"] == "interrupted", live_report
    time.sleep(max(0.0, expires - time.time()) + 2)
    late = run_playbook("run_report.yml", {"deploy_summary_dir": str(tmp_path / "late"), "run_report_id": killed},
                        tmp_path=tmp_path / "t")
    assert late.rc == 0, late.failure_messages()
    assert only_report_files_changed(late)
    late_report = json.loads((tmp_path / "late" / ("%s.json" % killed)).read_text())
    assert late_report["outcome"] == "interrupted" and late_report["outcomes"] == ["interrupted"], late_report
    assert late_report["failure"].startswith("run %s recorded no outcome and its deploy lock outlived its TTL" % killed)
    assert late_report["failure"].endswith("the next deploy or rollback closes it in the ledger")
    assert [s["stage"] for s in late_report["stages"]] == []  # killed while the first stage analysed
    assert "# Deploy 2.0.0: interrupted" in (tmp_path / "late" / ("%s.md" % killed)).read_text()
    assert re.search(r"deploy 2\.0\.0: interrupted after unknown time \(run %s\)" % re.escape(killed),
                     plain(late.stdout))

    # The next run (a rollback) breaks the stale lock, closes the killed run and writes its report.
    runs = tmp_path / "runs"
    with Traffic(rate=20) as traffic:
        rollback = run_playbook("rollback.yml", {"deploy_break_stale_lock": True, "deploy_summary_dir": str(runs)},
                                tmp_path=tmp_path / "rollback")
    assert rollback.rc == 0, rollback.failure_messages()
    assert traffic.failed == [], traffic.failed[:5]
    status, body = http_get("http://%s/version" % LB_ADDRESS)
    assert json.loads(body)["version"] == "1.0.0"
    closed = json.loads((runs / ("%s.json" % killed)).read_text())
    assert closed["outcome"] == "interrupted" and sorted(closed["hosts"]) == sorted(APP_HOSTS)
    for name, host in closed["hosts"].items():
        assert host["events"][0] == "started" and host["events"][-1] == "interrupted", (name, host)
    assert "recorded no outcome; closed by rollback" in closed["failure"], closed["failure"]
    assert "# Deploy 2.0.0: interrupted" in (runs / ("%s.md" % killed)).read_text()
    [own] = [path for path in reports(runs) if path.stem != killed]
    report = json.loads(own.read_text())
    assert report["outcome"] == "rollback" and report["release"] == "1.0.0"
    assert report["closed"] == [{"run_id": killed, "release": "2.0.0", "started": closed["hosts"]["app1"]["started"],
                                 "report": str(runs / ("%s.json" % killed))}]
    assert stats_data(rollback, "fleetops_deploy") == report
    assert "| %s | 2.0.0 |" % killed in own.with_suffix(".md").read_text()
    assert "closed interrupted run %s (2.0.0, started" % killed in plain(rollback.stdout)


def test_a_restore_ends_with_its_summary_and_reports(on_v1, tmp_path):
    runs = tmp_path / "runs"
    with Traffic(rate=20) as traffic:
        result = run_playbook("restore.yml", {"restore_what": "state", "restore_archive": "latest",
                                              "backup_run_report_dir": str(runs)},
                              limit="app1", tmp_path=tmp_path / "restore")
    assert result.rc == 0, result.failure_messages()
    assert traffic.failed == [], traffic.failed[:5]
    [report_file] = reports(runs)
    report = json.loads(report_file.read_text())
    assert report["kind"] == "restore" and report["outcome"] == "restored" and report["what"] == "state"
    assert report["archive"] == "latest" and list(report["hosts"]) == ["app1"]
    app1 = report["hosts"]["app1"]
    assert app1["outcome"] == "restored" and app1["release"] == "1.0.0" and app1["targets"], app1
    assert app1["archive"].startswith("/var/backups/fleetops/demo/") and app1["safety_backup"], app1
    assert lab_host("app1").file(app1["safety_backup"]).exists
    assert report["duration"] > 0 and report["failure"] is None
    assert stats_data(result, "fleetops_restore") == report
    page = report_file.with_suffix(".md").read_text()
    assert page.startswith("# Restore of state: restored\n") and "| app1 | restored | %s |" % app1["archive"] in page
    flat = plain(result.stdout)
    assert re.search(r"restore of state: restored after [\d.]+ s \(run %s\)" % re.escape(report["run_id"]), flat)
    assert "app1: restored %s from %s (release 1.0.0" % (", ".join(app1["targets"]), app1["archive"]) in flat
    assert "reports: %s, %s" % (report_file, report_file.with_suffix(".md")) in flat


def test_a_failed_restore_is_reported_before_the_run_stops(on_v1, tmp_path):
    runs = tmp_path / "runs"
    before = serving()
    missing = "/var/backups/fleetops/demo/no-such-archive.tar.zst"
    result = run_playbook("restore.yml", {"restore_what": "state", "restore_archive": missing,
                                          "backup_run_report_dir": str(runs)},
                          tmp_path=tmp_path / "restore")
    assert result.rc != 0
    assert serving() == before
    [report_file] = reports(runs)
    report = json.loads(report_file.read_text())
    assert report["outcome"] == "failed" and report["archive"] == missing
    first = sorted(APP_HOSTS)[0]
    assert report["hosts"][first]["outcome"] == "failed"
    assert report["hosts"][first]["error"].startswith("Verify the archive and its targets before touching anything: ")
    assert {name: host["outcome"] for name, host in report["hosts"].items() if name != first} == \
        {name: "not_run" for name in APP_HOSTS if name != first}
    assert report["failure"].startswith("%s: Verify the archive" % first)
    assert "## Errors" in report_file.with_suffix(".md").read_text()
    flat = plain(result.stdout)
    assert "restore of state: failed after" in flat and "%s: not reached" % sorted(APP_HOSTS)[1] in flat
    messages = result.failure_messages()  # the module's own (rescued), then the run's after the report
    assert messages[0] == "path: %s does not exist or is not a file" % missing, messages
    assert messages[-1] == "Verify the archive and its targets before touching anything: " + messages[0], messages


def spare(*args):
    proc = lab_command(*args, "--hosts", "spare1")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_drill_ends_with_its_summary_and_a_markdown_report(on_v1, tmp_path):
    spare("down")
    spare("up")
    try:
        reports = tmp_path / "drills"
        result = run_playbook("dr_drill.yml", {"drill_source": "app1", "drill_target": "spare1",
                                               "drill_report_dir": str(reports)},
                              tmp_path=tmp_path / "run", extra_inventory=SPARES_INVENTORY)
    finally:
        spare("down")
    assert result.rc == 0, (result.failure_messages(), result.stdout[-3000:])
    [report_file] = reports.glob("drill-app1-spare1-*.json")
    report = json.loads(report_file.read_text())
    assert report["passed"]
    page = report_file.with_suffix(".md").read_text()
    assert page.startswith("# DR drill host_loss: passed\n"), page
    assert "| app1 | spare1 | both | %s | %s |" % (report["backup"]["release"], report["backup"]["name"]) in page
    assert all("- ok %s: %s" % (check["name"], check["message"]) in page for check in report["checks"])
    flat = plain(result.stdout)
    assert re.search(r"drill host_loss app1 -> spare1: passed, RTO [\d.]+ s \(target 3600 s\), "
                     r"RPO [\d.]+ s \(target 86400 s\)", flat), flat[-3000:]
    assert "restored both of release %s from %s" % (report["backup"]["release"], report["backup"]["name"]) in flat
    assert "reports: %s, %s, %s" % (report_file, report_file.with_suffix(".xml"), report_file.with_suffix(".md")) \
        in flat

def app_units():
    return {name: lab_host(name).run("systemctl is-active demo@blue demo@green").stdout for name in APP_HOSTS}


def test_shutdown_with_an_unreachable_host_stops_first_naming_it(on_v1, tmp_path):
    before = (serving(), app_units())
    extra = extra_inventory(tmp_path, {"app": {"app9": {"ansible_host": unused_lab_address(), "ansible_timeout": 5}}})
    result = run_playbook("shutdown.yml", {}, tmp_path=tmp_path / "shutdown", extra_inventory=extra)
    assert result.rc != 0
    assert result.failure_messages() == [
        "unreachable: app9; nothing was changed (every host must be reachable for this playbook)"]
    assert result.changed() == 0, result.changed_tasks()
    assert (serving(), app_units()) == before


def test_health_check_goes_on_with_the_reachable_hosts_and_says_so(on_v1, tmp_path):
    extra = extra_inventory(tmp_path, {"app": {"app9": {"ansible_host": unused_lab_address(), "ansible_timeout": 5}}})
    result = run_playbook("health_check.yml", {}, tmp_path=tmp_path / "health", extra_inventory=extra)
    flat = plain(result.stdout)
    reachable = len(APP_HOSTS) + 1  # and lb1
    assert "unreachable: app9; going on with the %d reachable host(s)" % reachable in flat, flat[-3000:]
    assert result.rc != 0  # app9 has no health result: the fleet is degraded
    assert "fleet: degraded" in flat and "%d of %d hosts healthy" % (reachable, reachable + 1) in flat
