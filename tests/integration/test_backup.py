"""backup.yml, restore.yml, dr_drill.yml and backup_report.yml on the lab.

Runs after the deploy and operations tests: whichever release and slot serve is read
from the hosts, never assumed. Leaves spare1 down and every app host serving.
"""

import json
import shlex
import xml.etree.ElementTree as ET

import pytest
from conftest import APP_HOSTS, LB_ADDRESS, SPARES_INVENTORY, Traffic, http_get, lab_command, lab_host, run_playbook
from lab_helpers_ops import run_checked as run

DEST = "/var/backups/fleetops/demo"
TOKEN = "lab-token-not-secret"
PORTS = {"blue": 8081, "green": 8082}
SPARES = SPARES_INVENTORY


def spare_host(name="spare1"):
    return lab_host(name)


def live_port(host):
    """Port of the slot that runs on the host (read from systemd, not assumed)."""
    for slot, port in PORTS.items():
        if lab_host(host).run("systemctl is-active --quiet demo@%s" % slot).rc == 0:
            return port
    raise AssertionError("no slot runs on %s" % host)


def workflows(host):
    return json.loads(run(host, "curl -fsS http://127.0.0.1:%d/workflows" % live_port(host)))


def archives(host, dest=DEST):
    out = lab_host(host).run("ls %s" % dest)
    return sorted(name for name in out.stdout.split() if name.endswith(".tar.zst"))


def live_files(host):
    return run(host, "sha256sum /etc/demo/* /var/lib/demo/state.db")


def lab(*args):
    proc = lab_command(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


# A restore that reached the hosts ends with its report on the controller, also when it
# was refused: those two tasks are the only changes such a run may make.
RESTORE_REPORT_TASKS = ("Create the directory of run reports", "Write the restore report (JSON and Markdown)")


def host_changes(result):
    """Changed tasks other than the restore report written on the controller."""
    return [task for task in result.changed_tasks() if task.split(": ", 1)[1] not in RESTORE_REPORT_TASKS]


def refused(result, expected):
    assert result.rc != 0
    messages = " ".join(result.failure_messages())
    assert expected in messages, messages
    assert result.changed() == 0, result.changed_tasks()


@pytest.fixture(scope="module")
def backed_up(converged, tmp_path_factory):
    """A fresh manual backup on every app host."""
    result = run_playbook("backup.yml", tmp_path=tmp_path_factory.mktemp("backup"))
    assert result.rc == 0, result.failure_messages()
    return result


BAD_INPUT = [
    ("restore.yml", {"restore_what": "everything", "restore_archive": "latest"}, "app1",
     "restore_what='everything': must be one of config, state, both"),
    ("dr_drill.yml", {"drill_source": "app1"}, None, "drill_target is required"),
    ("dr_drill.yml", {"drill_source": "app1", "drill_target": "app2"}, None,
     "drill_target=app2: is a live host of the app group"),
    ("dr_drill.yml", {"drill_source": "app1", "drill_target": "spare1", "drill_rto_target": 0}, None,
     "drill_rto_target=0: must be a number of seconds greater than 0"),
    ("dr_drill.yml", {"drill_source": "app1", "drill_target": "spare1", "drill_rpo_target": -5}, None,
     "drill_rpo_target=-5: must be a number of seconds greater than 0"),
    ("dr_drill.yml", {"drill_source": "app1", "drill_target": "spare1", "drill_scenario": "meteor"}, None,
     "drill_scenario='meteor': must be one of config_loss, data_corruption, host_loss"),
    ("backup.yml", {"backup_action": "nuke"}, None, "backup_action=nuke: must be backup, verify or schedule"),
]


@pytest.mark.parametrize(
    "case", BAD_INPUT,
    ids=["restore-what", "no-drill-target", "drill-target-live", "rto-zero", "rpo-negative", "scenario", "action"],
)
def test_bad_input_is_refused_before_anything_changes(backed_up, tmp_path, case):
    playbook, extravars, limit, expected = case
    before = {host: (archives(host), live_files(host)) for host in APP_HOSTS}
    result = run_playbook(playbook, extravars, limit=limit, tmp_path=tmp_path, extra_inventory=SPARES)
    refused(result, expected)
    assert {host: (archives(host), live_files(host)) for host in APP_HOSTS} == before


def test_backup_change_restore_under_traffic(backed_up, tmp_path):
    port = live_port("app1")
    backup = run_playbook("backup.yml", limit="app1", tmp_path=tmp_path / "backup")
    assert backup.rc == 0, backup.failure_messages()
    saved = workflows("app1")
    for i in range(3):
        run("app1", "curl -fsS -X POST -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' "
                    "-d '{\"name\": \"after-backup-%d\"}' http://127.0.0.1:%d/workflows" % (TOKEN, i, port))
    changed = workflows("app1")
    assert changed["count"] == saved["count"] + 3 and changed["checksum"] != saved["checksum"]

    with Traffic(threads=2) as traffic:
        traffic.mark()
        restore = run_playbook("restore.yml", {"restore_what": "state", "restore_archive": "latest"}, limit="app1",
                               tmp_path=tmp_path / "restore")
        traffic.mark()
    assert restore.rc == 0, restore.failure_messages()
    assert traffic.failed == [], traffic.failed[:5]
    assert traffic.ok > 50
    # Rows and their checksum: the state equals the backup again.
    assert workflows("app1") == saved
    # The state before the restore was kept as a safety backup.
    assert any(name.endswith("-pre-restore.tar.zst") for name in archives("app1"))
    # Back in the pool: HAProxy routes to app1 again.
    stat = run("lb1", "echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock")
    rows = [line.split(",") for line in stat.splitlines() if line.startswith("demo,app1-")]
    assert any(row[17] == "UP" for row in rows), rows


def test_second_backup_adds_one_archive_and_changes_nothing_else(backed_up, tmp_path):
    dest = "/var/backups/fleetops-idem/demo"
    extra = {"backup_dest_dir": dest}
    try:
        first = run_playbook("backup.yml", extra, tmp_path=tmp_path / "first")
        assert first.rc == 0, first.failure_messages()
        before = {host: archives(host, dest) for host in APP_HOSTS}
        second = run_playbook("backup.yml", extra, tmp_path=tmp_path / "second")
        assert second.rc == 0, second.failure_messages()
        assert sorted(second.changed_tasks()) == sorted("%s: Take the backup" % host for host in APP_HOSTS)
        for host in APP_HOSTS:
            after = archives(host, dest)
            assert len(after) == len(before[host]) + 1 and set(before[host]) < set(after), (host, before, after)
    finally:
        for host in APP_HOSTS:
            run(host, "rm -rf /var/backups/fleetops-idem")


def test_check_mode_changes_nothing(backed_up, tmp_path):
    before = {host: (archives(host), live_files(host)) for host in APP_HOSTS}
    backup = run_playbook("backup.yml", check=True, tmp_path=tmp_path / "backup")
    assert backup.rc == 0, backup.failure_messages()
    prune = [e for e in backup.events if e["event"] == "runner_on_ok"
             and e["event_data"].get("task") == "Delete archives the retention policy does not keep"]
    assert len(prune) == len(APP_HOSTS)  # prune ran in check mode on every host
    restore = run_playbook("restore.yml", {"restore_what": "both", "restore_archive": "latest"}, limit="app1",
                           check=True, tmp_path=tmp_path / "restore")
    assert restore.rc == 0, restore.failure_messages()
    assert {host: (archives(host), live_files(host)) for host in APP_HOSTS} == before


def test_flipped_byte_is_refused_and_live_data_untouched(backed_up, tmp_path):
    latest = archives("app1")[-1]
    tampered = "/var/backups/fleetops-tamper/" + latest
    run("app1", "mkdir -p -m 0700 /var/backups/fleetops-tamper && cp %s/%s %s/%s.json /var/backups/fleetops-tamper/"
        % (DEST, latest, DEST, latest))
    size = int(run("app1", "stat -c %%s %s" % tampered))
    run("app1", "printf '\\xff' | dd of=%s bs=1 seek=%d count=1 conv=notrunc status=none" % (tampered, size // 2))
    before = (live_files("app1"), workflows("app1"), archives("app1"))
    try:
        result = run_playbook("restore.yml", {"restore_archive": tampered, "restore_what": "both"}, limit="app1",
                              tmp_path=tmp_path)
        assert result.rc != 0
        messages = " ".join(result.failure_messages())
        assert "zstd cannot decompress it" in messages and latest in messages, messages
        assert "None:" not in messages, messages
        assert host_changes(result) == [], result.changed_tasks()  # refused before the host left the pool
        assert (live_files("app1"), workflows("app1"), archives("app1")) == before
    finally:
        run("app1", "rm -rf /var/backups/fleetops-tamper")


HOSTILE_DIR = "/var/backups/fleetops-hostile"
HOSTILE_SCRIPT = r"""
import hashlib, io, json, os, subprocess, sys, tarfile
dest, target = sys.argv[1], sys.argv[2]
paths = [dict(path=target, kind="config", name="demo", type="dir", root="config/demo", snapshot=False)]
metadata = dict(format=2, tool="attacker", tool_version="0", host="app1", service="demo", release=None,
                kind="manual", pinned=False, created="2026-12-01T00:00:00Z", created_epoch=1796083200.0,
                compression="zstd", paths=paths)
meta = json.dumps(metadata).encode()
def add(tar, name, data=b"", kind=tarfile.REGTYPE, mode=0o644):
    info = tarfile.TarInfo(name); info.type = kind; info.mode = mode; info.mtime = 1796083200
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
evil = hashlib.sha256(b"evil\n").hexdigest()
members = [dict(path="config/demo", type="dir", mode="0755", size=0),
           dict(path="config/demo/evil", type="file", mode="0644", size=5, sha256=evil)]
manifest = json.dumps(dict(format=2, metadata_sha256=hashlib.sha256(meta).hexdigest(), paths=paths,
                           members=members)).encode()
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
    add(tar, "METADATA", meta); add(tar, "config/demo", kind=tarfile.DIRTYPE, mode=0o755)
    add(tar, "config/demo/evil", b"evil\n"); add(tar, "MANIFEST", manifest)
name = "demo-app1-20261201T000000Z-manual.tar.zst"
data = subprocess.run(["zstd", "-q", "-c"], input=raw.getvalue(), stdout=subprocess.PIPE, check=True).stdout
os.makedirs(dest, mode=0o700, exist_ok=True)
open(os.path.join(dest, name), "wb").write(data)
json.dump(dict(format=2, archive=name, manifest_sha256=hashlib.sha256(manifest).hexdigest(), size=len(data),
               members=2, data_bytes=5, metadata=metadata), open(os.path.join(dest, name + ".json"), "w"))
print(os.path.join(dest, name))
"""


def test_archive_naming_a_path_outside_backup_paths_is_refused_before_the_drain(backed_up, tmp_path):
    lab_host("app1").run("rm -rf %s" % HOSTILE_DIR)
    archive = run("app1", "python3 -c %s %s /etc/cron.d" % (shlex.quote(HOSTILE_SCRIPT), HOSTILE_DIR)).strip()
    before = (live_files("app1"), workflows("app1"), run("app1", "ls -la /etc/cron.d"))
    try:
        with Traffic() as traffic:
            traffic.mark()
            result = run_playbook("restore.yml", {"restore_archive": archive, "restore_what": "both"}, limit="app1",
                                  tmp_path=tmp_path)
            traffic.mark()
    finally:
        lab_host("app1").run("rm -rf %s" % HOSTILE_DIR)
    assert result.rc != 0
    messages = " ".join(result.failure_messages())
    assert ("the archive names the target /etc/cron.d for config/demo, which is not one of the paths restore "
            "may write (allowed_paths: /etc/demo, /var/lib/demo)") in messages, messages
    assert host_changes(result) == [], result.changed_tasks()  # refused before the host left the pool
    assert traffic.failed == [] and traffic.ok > 0
    assert (live_files("app1"), workflows("app1"), run("app1", "ls -la /etc/cron.d")) == before


def test_dr_drill_on_a_fresh_spare(backed_up, tmp_path):
    lab("down", "--hosts", "spare1")
    lab("up", "--hosts", "spare1")
    try:
        reports = tmp_path / "drills"
        result = run_playbook("dr_drill.yml", {"drill_source": "app2", "drill_target": "spare1",
                                               "drill_report_dir": str(reports)},
                              tmp_path=tmp_path / "run", extra_inventory=SPARES)
        assert result.rc == 0, (result.failure_messages(), result.stdout[-3000:])
        [report_file] = reports.glob("drill-app2-spare1-*.json")
        [junit_file] = reports.glob("drill-app2-spare1-*.xml")
        report = json.loads(report_file.read_text())
        assert report["passed"] and report["failed_checks"] == []
        assert [p["name"] for p in report["phases"]] == ["fetch", "install", "restore", "start", "healthy"]
        assert 0 < report["rto_seconds"] < report["rto_target"] == 3600
        assert 0 < report["rpo_seconds"] < report["rpo_target"] == 86400
        assert report["state"]["ok"] and report["state"]["checked"] > 0
        suite = ET.parse(junit_file).getroot()
        assert suite.tag == "testsuite" and suite.get("failures") == "0"
        assert {case.get("name") for case in suite} >= {"rto", "rpo", "healthy", "state_matches_manifest"}
        # The spare serves the release the backup names, with the source's data as backed up.
        spare = spare_host()
        version = json.loads(spare.run("curl -fsS http://127.0.0.1:8081/version").stdout)
        assert version["version"] == report["backup"]["release"]
        assert spare.file("/etc/demo/demo.ini").sha256sum == lab_host("app2").file("/etc/demo/demo.ini").sha256sum
        record = json.loads(run("app2", "cat /var/lib/fleetops/demo/drill.json"))
        assert record["passed"] and record["target"] == "spare1"
        print("drill RTO %.1f s, RPO %.1f s, phases %s" % (report["rto_seconds"], report["rpo_seconds"],
                                                           {p["name"]: p["seconds"] for p in report["phases"]}))
    finally:
        lab("down", "--hosts", "spare1")


@pytest.mark.parametrize("scenario, what", [("data_corruption", "state"), ("config_loss", "config")])
def test_dr_drill_scenarios_restore_only_what_was_lost(backed_up, tmp_path, scenario, what):
    lab("down", "--hosts", "spare1")
    lab("up", "--hosts", "spare1")
    try:
        reports = tmp_path / "drills"
        result = run_playbook("dr_drill.yml", {"drill_source": "app2", "drill_target": "spare1",
                                               "drill_scenario": scenario, "drill_report_dir": str(reports)},
                              tmp_path=tmp_path / "run", extra_inventory=SPARES)
        assert result.rc == 0, (result.failure_messages(), result.stdout[-3000:])
        [report_file] = reports.glob("drill-app2-spare1-*.json")
        report = json.loads(report_file.read_text())
        assert report["passed"] and report["scenario"] == scenario, report
        # Only the lost kind was compared with the manifest, and it matched.
        assert report["state"]["ok"] and report["state"]["checked"] > 0, report["state"]
        [restore] = [e["event_data"]["res"] for e in result.events if e["event"] == "runner_on_ok"
                     and e["event_data"].get("task", "").startswith("Restore from the backup")]
        root = {"state": "/var/lib/demo", "config": "/etc/demo"}[what]
        assert restore["what"] == what and restore["files"], restore
        assert all(path == root or path.startswith(root + "/") for path in restore["files"]), restore["files"]
        spare = spare_host()
        if what == "state":
            # The damage the scenario made ("not a database") is gone: the service reads its rows.
            assert spare.run("head -c 15 /var/lib/demo/state.db").stdout == "SQLite format 3"
            assert spare.run("curl -fsS http://127.0.0.1:8081/workflows").rc == 0
        else:
            assert spare.file("/etc/demo/demo.ini").sha256sum == lab_host("app2").file("/etc/demo/demo.ini").sha256sum
    finally:
        lab("down", "--hosts", "spare1")


def test_schedule_installs_timers_and_the_metric(backed_up, tmp_path):
    result = run_playbook("backup.yml", {"backup_action": "schedule"}, tmp_path=tmp_path / "schedule")
    assert result.rc == 0, result.failure_messages()
    again = run_playbook("backup.yml", {"backup_action": "schedule"}, tmp_path=tmp_path / "again")
    assert again.rc == 0 and again.changed() == 0, again.changed_tasks()
    for host in APP_HOSTS:
        for timer in ("fleetops-backup-demo.timer", "fleetops-backup-verify-demo.timer"):
            assert lab_host(host).service(timer).is_enabled
            assert lab_host(host).service(timer).is_running
    # One real timer run on app3: a scheduled archive, pruned, and the metric.
    count = len([a for a in archives("app3") if a.endswith("-scheduled.tar.zst")])
    run("app3", "systemctl start fleetops-backup-demo.service")
    assert len([a for a in archives("app3") if a.endswith("-scheduled.tar.zst")]) >= min(count + 1, 1)
    metric = run("app3", "cat /var/lib/prometheus/node-exporter/fleetops_backup.prom")
    values = dict(line.rsplit(" ", 1) for line in metric.splitlines() if line and not line.startswith("#"))
    key = 'fleetops_backup_last_success_timestamp_seconds{service="demo",host="app3"}'
    assert float(values[key]) > 1.7e9, metric
    run("app3", "systemctl start fleetops-backup-verify-demo.service")
    metric = run("app3", "cat /var/lib/prometheus/node-exporter/fleetops_backup.prom")
    assert 'fleetops_backup_last_verified_timestamp_seconds{service="demo",host="app3"}' in metric


def test_fleet_report_lists_every_app_host(backed_up, tmp_path):
    result = run_playbook("backup_report.yml", {"backup_report_dir": str(tmp_path / "reports")}, tmp_path=tmp_path)
    assert result.rc == 0, result.failure_messages()
    [report_file] = (tmp_path / "reports").glob("backup-report-*.json")
    report = json.loads(report_file.read_text())
    rows = {row["host"]: row for row in report["hosts"]}
    assert set(rows) == set(APP_HOSTS)
    for host, row in rows.items():
        assert row["newest"].startswith("demo-%s-" % host) and row["newest_age"] < 3600, row
        assert "rpo_at_risk" not in row["flags"]
    assert report["at_risk"] == [] and report["ok"]
    status, _ = http_get("http://%s/" % LB_ADDRESS)
    assert status == 200
