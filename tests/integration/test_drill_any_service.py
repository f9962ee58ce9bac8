"""dr_drill.yml drills any service through the service contract, not only the demo.

ledgerly (examples/ledgerly: Node.js, journal files for state, every name different
from the demo's) is converged on the lab by site.yml from an inventory file that holds
only its contract values (examples/ledgerly/service_vars.yml), layered on the lab's.
Entries are written on app1, app1 is backed up, and the backup is drilled onto a fresh
spare (host_loss, and data_corruption, which damages the journal files first): the
restored balances' checksum must equal the source's, the service's own state check must
agree, and the report must measure RTO and RPO. ledgerly is taken off the lab
before and after, so the modules around this one find only the demo.
"""

import json
import shlex
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from conftest import APP_HOSTS, SPARES_INVENTORY, lab_command, lab_host, run_playbook
from lab_helpers_ops import run_checked as run

SERVICE_VARS = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "ledgerly" / "service_vars.yml")
                              .read_text())
NAME = SERVICE_VARS["service_name"]
PORTS = SERVICE_VARS["service_ports"]
UNIT = SERVICE_VARS["service_unit"]
RELEASE = "1.0.0"
TOKEN = "lab-token-not-secret"  # the lab inventory's service_api_token
SOURCE, TARGET = "app1", "spare1"
DRILL_RECORD = "/var/lib/fleetops/%s/drill.json" % NAME


def lab(*args):
    proc = lab_command(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def live_port(host):
    """Port of the slot that runs on the host (read from systemd, not assumed)."""
    for slot, port in PORTS.items():
        if lab_host(host).run("systemctl is-active --quiet %s" % shlex.quote(UNIT.replace("{slot}", slot))).rc == 0:
            return port
    raise AssertionError("no %s slot runs on %s" % (NAME, host))


def accounts(host, port=None):
    return json.loads(run(host, "curl -fsS http://127.0.0.1:%d/accounts" % (port or live_port(host))))


def _cleanup():
    """Take ledgerly off the app hosts and the load balancer (before, in case a run left it, and after)."""
    units = " ".join(UNIT.replace("{slot}", slot) for slot in PORTS)
    for host in APP_HOSTS:
        lab_host(host).run(
            "systemctl disable --now %s; rm -rf /etc/systemd/system/%s %s %s %s /var/lib/fleetops/%s "
            "/var/backups/fleetops/%s; systemctl daemon-reload"
            % (units, UNIT.replace("{slot}", "").replace(".service", ".service*"), SERVICE_VARS["service_root"],
               SERVICE_VARS["service_config_dir"], SERVICE_VARS["service_state_dir"], NAME, NAME))
    lab_host("lb1").run("rm -rf /etc/haproxy/conf.d/%s.cfg /etc/prometheus/fleetops.d/%s.json "
                        "/etc/prometheus/rules/slo-%s.yml /var/lib/fleetops/%s "
                        "&& systemctl reload haproxy prometheus" % (NAME, NAME, NAME, NAME))


@pytest.fixture(scope="module")
def inventories(tmp_path_factory):
    """ledgerly's contract values as an inventory file layered on the lab's; a second one
    adds the lab's spare hosts (a playbook takes one extra inventory)."""
    base = tmp_path_factory.mktemp("ledgerly-inventory")
    only = base / "ledgerly.yml"
    only.write_text(yaml.safe_dump({"all": {"vars": SERVICE_VARS}}))
    spares = yaml.safe_load(SPARES_INVENTORY.read_text())
    spares["all"]["vars"] = dict(spares["all"].get("vars") or {}, **SERVICE_VARS)
    with_spares = base / "ledgerly-spares.yml"
    with_spares.write_text(yaml.safe_dump(spares))
    return {"service": only, "with_spares": with_spares}


@pytest.fixture(scope="module")
def ledgerly_backed_up(converged, inventories, tmp_path_factory):
    """ledgerly converged by site.yml, entries written on the source, the source backed up.
    Yields the source's /accounts at the backup."""
    _cleanup()
    try:
        site = run_playbook("site.yml", {"service_version": RELEASE}, tmp_path=tmp_path_factory.mktemp("site"),
                            extra_inventory=inventories["service"])
        assert site.rc == 0, (site.failure_messages(), site.stdout[-3000:])
        port = live_port(SOURCE)
        for index, (account, amount) in enumerate([("alice", 12500), ("bob", -300), ("alice", -2500),
                                                   ("carol", 99)]):
            body = json.dumps({"amount": amount, "memo": "drill entry %d" % index})
            run(SOURCE, "curl -fsS -X POST -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' "
                        "-d %s http://127.0.0.1:%d/accounts/%s/entries" % (TOKEN, shlex.quote(body), port, account))
        source = accounts(SOURCE, port)
        assert source["entries"] >= 4 and source["accounts"] >= 3, source
        backup = run_playbook("backup.yml", limit=SOURCE, tmp_path=tmp_path_factory.mktemp("backup"),
                              extra_inventory=inventories["service"])
        assert backup.rc == 0, backup.failure_messages()
        # Written after the backup: the drill must give back the state as backed up, not this.
        run(SOURCE, "curl -fsS -X POST -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' "
                    "-d '{\"amount\": 1, \"memo\": \"after the backup\"}' http://127.0.0.1:%d/accounts/dave/entries"
                    % (TOKEN, port))
        assert accounts(SOURCE, port)["checksum"] != source["checksum"]
        yield source
    finally:
        _cleanup()


# Checked against ledgerly's contract (its slots), in Python, before any host changes; the
# other refusals are the demo's in test_backup.py and every one is unit-tested.
BAD_INPUT = [
    ({"drill_slot": "red"}, "backup_drill_slot=red: must be one of the service's slots (blue, green)"),
    ({"drill_ready_timeout": 0}, "backup_drill_ready_timeout=0: must be a whole number of seconds, 1 or more"),
]


@pytest.mark.parametrize("extravars, expected", BAD_INPUT, ids=["slot", "ready-timeout"])
def test_bad_drill_input_is_refused_before_anything_changes(lab, inventories, tmp_path, extravars, expected):
    before = {host: lab_host(host).run("ls /var/backups/fleetops /var/lib/fleetops").stdout for host in APP_HOSTS}
    result = run_playbook("dr_drill.yml", {"drill_source": SOURCE, "drill_target": TARGET, **extravars},
                          tmp_path=tmp_path, extra_inventory=inventories["with_spares"])
    assert result.rc != 0
    messages = " ".join(result.failure_messages())
    assert expected in messages, messages
    assert result.changed() == 0, result.changed_tasks()
    assert {host: lab_host(host).run("ls /var/backups/fleetops /var/lib/fleetops").stdout
            for host in APP_HOSTS} == before


# host_loss restores config and state; data_corruption first overwrites every journal file
# the backup names on the fresh install, then restores the state only.
@pytest.mark.parametrize("scenario, what", [("host_loss", "both"), ("data_corruption", "state")])
def test_ledgerly_drill_on_a_fresh_spare_restores_its_journal(ledgerly_backed_up, inventories, tmp_path,
                                                              scenario, what):
    source = ledgerly_backed_up
    lab("down", "--hosts", TARGET)
    lab("up", "--hosts", TARGET)
    try:
        reports = tmp_path / "drills"
        started = time.monotonic()
        result = run_playbook("dr_drill.yml", {"drill_source": SOURCE, "drill_target": TARGET,
                                               "drill_scenario": scenario, "drill_report_dir": str(reports)},
                              tmp_path=tmp_path / "run", extra_inventory=inventories["with_spares"])
        wall = time.monotonic() - started
        assert result.rc == 0, (result.failure_messages(), result.stdout[-3000:])
        [report_file] = reports.glob("drill-%s-%s-*.json" % (SOURCE, TARGET))
        [junit_file] = reports.glob("drill-%s-%s-*.xml" % (SOURCE, TARGET))
        report = json.loads(report_file.read_text())
        assert report["passed"] and report["failed_checks"] == [], report["checks"]
        assert (report["scenario"], report["what"]) == (scenario, what)
        [restore] = [e["event_data"]["res"] for e in result.events if e["event"] == "runner_on_ok"
                     and e["event_data"].get("task", "").startswith("Restore from the backup")]
        roots = [path for kind, path in (("config", SERVICE_VARS["service_config_dir"]),
                                         ("state", SERVICE_VARS["service_state_dir"])) if what in ("both", kind)]
        assert restore["what"] == what and restore["targets"] == roots, restore
        assert restore["manifest"]["members"], restore
        assert all(any(f == r or f.startswith(r + "/") for r in roots) for f in restore["files"]), restore["files"]
        if scenario == "data_corruption":
            damaged = [e["event_data"]["res"] for e in result.events if e["event"] == "runner_on_ok"
                       and e["event_data"].get("task", "") == "Corrupt the state files (data_corruption)"]
            assert damaged and damaged[0]["results"], damaged  # the journal was damaged before the restore
        assert [p["name"] for p in report["phases"]] == ["fetch", "install", "restore", "start", "healthy"]
        # RTO and RPO measured: the drill's own clock, not a constant.
        assert 0 < report["rto_seconds"] < report["rto_target"] == 3600
        assert report["rto_seconds"] <= wall
        assert 0 < report["rpo_seconds"] < report["rpo_target"] == 86400
        assert report["backup"]["release"] == RELEASE
        assert report["state"]["ok"] and report["state"]["checked"] > 0, report["state"]
        # ledgerly's own state check ran on the restored journal and agrees with the source.
        assert json.loads(report["state"]["state_check"])["checksum"] == source["checksum"]
        suite = ET.parse(junit_file).getroot()
        assert suite.get("failures") == "0"
        assert {case.get("name") for case in suite} >= {"rto", "rpo", "healthy", "state_matches_manifest"}
        # The spare serves the backup's release with the source's balances as backed up.
        slot_port = PORTS["blue"]
        about = json.loads(run(TARGET, "curl -fsS http://127.0.0.1:%d%s"
                                       % (slot_port, SERVICE_VARS["service_version_path"])))
        assert about[SERVICE_VARS["service_version_field"]] == RELEASE
        restored = accounts(TARGET, slot_port)
        assert restored["checksum"] == source["checksum"], (restored, source)
        assert (restored["accounts"], restored["entries"]) == (source["accounts"], source["entries"])
        record = json.loads(run(SOURCE, "cat %s" % DRILL_RECORD))
        assert record["passed"] and record["target"] == TARGET
        print("ledgerly drill %s RTO %.1f s, RPO %.1f s, phases %s, playbook %.1f s"
              % (scenario, report["rto_seconds"], report["rpo_seconds"],
                 {p["name"]: p["seconds"] for p in report["phases"]}, wall))
    finally:
        lab("down", "--hosts", TARGET)
