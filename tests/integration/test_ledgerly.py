"""The second example service, ledgerly (examples/ledgerly), through its whole life cycle.

ledgerly shares no name, port, path, metric or stack with the demo. An inventory file
that loads only examples/ledgerly/service_vars.yml, layered on the lab's, runs the
collection's own playbooks on it, with no task file written for it: site converge,
deploy of a good release (canary stages gated on ledgerly's own metrics), deploy of a bad
one (rolled back), rollback.yml, backup and restore of its journal state, health_check,
shutdown and startup, scale in and out. Traffic reaches both services all along and no
request may fail; none of the demo's files change. Tests run in life-cycle order.
"""

import json
import time

import pytest
import yaml
from conftest import APP_HOSTS, LB_ADDRESS, REPO, WATCHER_RATE, Traffic, http_get, lab_host, run_playbook
from deploy_helpers import FAST_GATE

VARS = yaml.safe_load((REPO / "examples" / "ledgerly" / "service_vars.yml").read_text())
URL = "http://%s:%d/" % (LB_ADDRESS, VARS["service_frontend_port"])
TOKEN = "lab-token-not-secret"  # the lab inventory's service_api_token
LEDGER = "/var/lib/fleetops/ledgerly/ledger.jsonl"
SLOTS = ("blue", "green")
# FAST_GATE's short windows, measured by Prometheus on ledgerly's own metrics: its request
# counter by status and its latency histogram.
OWN_METRICS_GATE = {
    **FAST_GATE,
    "deploy_gate_provider": "prometheus",
    "deploy_gate_conditions": [
        *FAST_GATE["deploy_gate_conditions"],
        {"type": "latency", "threshold": 0.2, "percentile": 0.95},
    ],
}
# The demo's files ledgerly must never touch (as in test_contract.py).
DEMO_FILES = {
    "lb1": ["/etc/haproxy/conf.d/demo.cfg", "/etc/prometheus/fleetops.d/demo.json",
            "/etc/prometheus/rules/slo-demo.yml", "/var/lib/fleetops/demo/deploy.lock"],
    "app": ["/etc/demo/demo.ini", "/etc/demo/demo.env", "/etc/systemd/system/demo@.service",
            "/var/lib/fleetops/demo/ledger.jsonl"],
}


def ledgerly_traffic(**kwargs):
    """Requests to ledgerly's frontend; its `GET /` names the release as `release`."""
    return Traffic(url=URL, version_field="release", **kwargs)


def run(host, command):
    out = lab_host(host).run(command)
    assert out.rc == 0, "%s: %s\n%s" % (host, command, out.stderr)
    return out.stdout


def demo_fingerprint():
    """sha256 of the demo's files (absent ones too), and which demo slots run."""
    prints = {}
    for host in ["lb1", *APP_HOSTS]:
        files = DEMO_FILES["lb1" if host == "lb1" else "app"]
        prints[host] = lab_host(host).run(
            "for f in %s; do sha256sum $f 2>/dev/null || echo absent $f; done" % " ".join(files)).stdout
        if host != "lb1":
            prints[host + " units"] = lab_host(host).run("systemctl is-active demo@blue demo@green").stdout
    return prints


def ledger(host):
    return [json.loads(line) for line in run(host, "cat %s" % LEDGER).splitlines() if line.strip()]


def live_slot(host):
    for slot in SLOTS:
        if lab_host(host).run("systemctl is-active --quiet ledgerly@%s" % slot).rc == 0:
            return slot
    raise AssertionError("no ledgerly slot runs on %s" % host)


def host_get(host, path):
    """GET a path of the ledgerly slot that runs on the host, from the host itself."""
    port = VARS["service_ports"][live_slot(host)]
    return json.loads(run(host, "curl -fsS http://127.0.0.1:%d%s" % (port, path)))


def post_entries(host, account, amounts):
    port = VARS["service_ports"][live_slot(host)]
    for amount in amounts:
        run(host, "curl -fsS -X POST -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' "
                  "-d '{\"amount\": %d, \"memo\": \"lab\"}' http://127.0.0.1:%d/accounts/%s/entries"
            % (TOKEN, amount, port, account))


def served_release():
    status, body = http_get(URL + "about")
    assert status == 200, body
    return json.loads(body)["release"]


def pool():
    """{server: (status, weight)} of ledgerly's HAProxy backend, from the runtime API."""
    stat = run("lb1", "echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock")
    header = stat.splitlines()[0].lstrip("# ").split(",")
    servers = {}
    for line in stat.splitlines()[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == VARS["service_backend"] and row["svname"] not in ("FRONTEND", "BACKEND"):
            servers[row["svname"]] = (row["status"], int(row["weight"] or 0))
    return servers


def cleanup():
    """Take ledgerly off the lab (before, in case a run left it, and after), so this module
    starts from the demo alone and later modules find only the demo."""
    for host in APP_HOSTS:
        lab_host(host).run("systemctl disable --now ledgerly@blue ledgerly@green; "
                           "rm -rf /etc/systemd/system/ledgerly@.service* /srv/ledgerly /etc/ledgerly "
                           "/var/lib/ledgerly /var/log/ledgerly /var/lib/fleetops/ledgerly "
                           "/var/backups/fleetops/ledgerly; "
                           "systemctl daemon-reload; userdel ledgerly")
    lab_host("lb1").run("rm -rf /etc/haproxy/conf.d/ledgerly.cfg /etc/prometheus/fleetops.d/ledgerly.json "
                        "/etc/prometheus/rules/slo-ledgerly.yml /var/lib/fleetops/ledgerly "
                        "&& systemctl reload haproxy prometheus")


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    """An inventory file that loads ledgerly's contract variables, layered on the lab's."""
    path = tmp_path_factory.mktemp("ledgerly") / "ledgerly.yml"
    path.write_text(yaml.safe_dump({"all": {"vars": VARS}}))
    return path


@pytest.fixture(scope="module")
def site(converged, inventory, tmp_path_factory):
    """ledgerly converged at 1.0.0 beside the demo by site.yml, and the demo's files before."""
    cleanup()
    before = demo_fingerprint()
    with Traffic(rate=WATCHER_RATE) as demo_traffic:
        result = run_playbook("site.yml", {"service_version": "1.0.0"}, tmp_path=tmp_path_factory.mktemp("site"),
                              extra_inventory=inventory)
    assert result.rc == 0, result.failure_messages()
    yield {"demo_before": before, "demo_traffic": demo_traffic}
    cleanup()


def play(name, inventory, tmp_path, extravars=None, **kwargs):
    return run_playbook(name, extravars or {}, tmp_path=tmp_path, extra_inventory=inventory, **kwargs)


def assert_demo_untouched(site):
    assert demo_fingerprint() == site["demo_before"]


# ----------------------------------------------------------------------- site converge


def test_site_converges_ledgerly_beside_the_demo(site):
    demo_traffic = site["demo_traffic"]
    assert demo_traffic.failed == [], demo_traffic.failed[:5]
    assert demo_traffic.ok > 0
    assert_demo_untouched(site)
    lb = lab_host("lb1")
    config = lb.file("/etc/haproxy/conf.d/ledgerly.cfg").content_string
    assert "backend ledgerly_pool" in config and "bind :8090" in config and "/health/ready" in config
    assert "demo" not in config
    targets = json.loads(lb.file("/etc/prometheus/fleetops.d/ledgerly.json").content_string)
    assert {t["labels"]["job"] for t in targets} == {"ledgerly"}
    assert {t["labels"]["__metrics_path__"] for t in targets} == {"/internal/metrics"}
    for host in APP_HOSTS:
        app = lab_host(host)
        assert app.service("ledgerly@blue").is_running
        assert app.file("/srv/ledgerly/current-blue").linked_to == "/srv/ledgerly/releases/1.0.0"
        assert app.user("ledgerly").exists
        assert app.file("/etc/ledgerly/ledgerly.env").mode == 0o600
        assert json.loads(app.file("/etc/ledgerly/ledgerly.json").content_string)["state_dir"] == "/var/lib/ledgerly"
        assert [r["event"] for r in ledger(host)] == ["installed"] or ledger(host)[-1]["release"] == "1.0.0"
    assert {served_release() for _ in range(10)} == {"1.0.0"}
    assert set(pool()) == {"%s-%s" % (host, slot) for host in APP_HOSTS for slot in SLOTS}
    # Writes need the token, which is in the 0600 env file only, not in the config.
    post_entries("app1", "rent", [12500, -2500])
    assert host_get("app1", "/accounts/rent")["balance"] == "10000"
    status, _ = http_get("http://%s/" % LB_ADDRESS)
    assert status == 200


# ------------------------------------------------------------------------------ deploys


def test_a_good_release_is_promoted_through_the_canary_stages_on_ledgerly_metrics(site, inventory, tmp_path):
    with ledgerly_traffic() as traffic, Traffic(rate=WATCHER_RATE) as demo_traffic:
        result = play("deploy.yml", inventory, tmp_path, {"deploy_version": "1.1.0", **OWN_METRICS_GATE})
    assert result.rc == 0, result.failure_messages()
    assert traffic.failed == [], traffic.failed[:5]
    assert demo_traffic.failed == [], demo_traffic.failed[:5]
    assert traffic.versions.get("1.1.0", 0) > 0 and traffic.versions.get("1.0.0", 0) > 0, traffic.versions
    assert {served_release() for _ in range(10)} == {"1.1.0"}
    for host in APP_HOSTS:
        records = [r for r in ledger(host) if r["release"] == "1.1.0"]
        assert [r["event"] for r in records] == ["started", "gate", "gate", "gate", "promoted"], records
        gates = [r["gate"] for r in records if r["event"] == "gate"]
        assert all(gate["verdict"] == "pass" for gate in gates), gates
        # Measured on ledgerly's own series, not the demo's nor HAProxy's.
        measures = {c["type"]: c["measure"] for c in gates[-1]["conditions"]}
        assert 'ledgerly_requests_total{job="ledgerly",slot="green"}' in measures["error_ratio"], measures
        assert "status=~'5..'" in measures["error_ratio"], measures
        assert 'ledgerly_request_seconds_bucket{job="ledgerly",slot="green"}' in measures["latency"], measures
        assert "route /internal/metrics, /health/live, /health/ready excluded" in measures["latency"], measures
        assert lab_host(host).service("ledgerly@green").is_running
        assert not lab_host(host).service("ledgerly@blue").is_running
        assert lab_host(host).file("/srv/ledgerly/current-green").linked_to == "/srv/ledgerly/releases/1.1.0"
    assert_demo_untouched(site)


def test_a_bad_release_is_rolled_back_automatically(site, inventory, tmp_path):
    with ledgerly_traffic(threads=2) as traffic, Traffic(rate=WATCHER_RATE) as demo_traffic:
        result = play("deploy.yml", inventory, tmp_path, {"deploy_version": "1.2.0", **OWN_METRICS_GATE})
        after_rollback = traffic.mark()
        time.sleep(2)
    assert result.rc != 0
    message = " ".join(result.failure_messages())
    assert "gate failed at 10% of traffic on 1.2.0" in message, message
    assert demo_traffic.failed == [], demo_traffic.failed[:5]
    assert traffic.versions_since(after_rollback) == {"1.1.0"}
    for host in APP_HOSTS:
        records = [r for r in ledger(host) if r["release"] == "1.2.0"]
        assert [r["event"] for r in records] == ["started", "gate", "rolled_back"], records
        # Either rule may fire first (sustained breach or the stage's ratio), depending
        # on how the traffic falls into samples; both are error_ratio failures.
        assert "FAIL: error_ratio" in records[-1]["message"], records[-1]
        assert records[1]["gate"]["action"] == "rollback"
        judged = {c["type"]: c for c in records[1]["gate"]["conditions"]}
        assert judged["error_ratio"]["verdict"] == "fail", judged["error_ratio"]
        assert 'ledgerly_requests_total{job="ledgerly",slot="blue"}' in judged["error_ratio"]["measure"], judged
        assert not lab_host(host).service("ledgerly@blue").is_running
        assert lab_host(host).service("ledgerly@green").is_running
    assert_demo_untouched(site)


def test_rollback_playbook_returns_to_the_previous_good_release(site, inventory, tmp_path):
    with ledgerly_traffic(threads=2) as traffic, Traffic(rate=WATCHER_RATE) as demo_traffic:
        result = play("rollback.yml", inventory, tmp_path)
        after = traffic.mark()
        time.sleep(2)
    assert result.rc == 0, result.failure_messages()
    assert traffic.failed == [], traffic.failed[:5]
    assert demo_traffic.failed == [], demo_traffic.failed[:5]
    assert traffic.versions_since(after) == {"1.0.0"}
    for host in APP_HOSTS:
        last = ledger(host)[-1]
        assert (last["event"], last["release"], last["from_release"]) == ("rollback", "1.0.0", "1.1.0"), last
        assert lab_host(host).service("ledgerly@blue").is_running
        assert not lab_host(host).service("ledgerly@green").is_running
        assert lab_host(host).file("/srv/ledgerly/current-blue").linked_to == "/srv/ledgerly/releases/1.0.0"
    assert_demo_untouched(site)


# --------------------------------------------------------------------- backup, restore

CHECK_STATE = ("runuser -u ledgerly -- sh -c 'exec /usr/bin/node \"$(ls -d /srv/ledgerly/current-* | head -n 1)"
               "/server.js\" --check-state /var/lib/ledgerly'")


def test_backup_then_restore_brings_the_journal_back(site, inventory, tmp_path):
    post_entries("app1", "groceries", [4200, -1200])
    saved = host_get("app1", "/accounts")
    backup = play("backup.yml", inventory, tmp_path / "backup", limit="app1")
    assert backup.rc == 0, backup.failure_messages()
    archive = run("app1", "ls /var/backups/fleetops/ledgerly/ | grep 'tar.zst$' | tail -n 1").strip()
    assert archive, "no ledgerly archive"
    post_entries("app1", "groceries", [-999, -1])
    changed = host_get("app1", "/accounts")
    assert changed["entries"] == saved["entries"] + 2 and changed["checksum"] != saved["checksum"]

    with ledgerly_traffic(threads=2) as traffic, Traffic(rate=WATCHER_RATE) as demo_traffic:
        restore = play("restore.yml", inventory, tmp_path / "restore", {"restore_what": "state",
                                                                         "restore_archive": "latest"}, limit="app1")
        traffic.mark()
    assert restore.rc == 0, restore.failure_messages()
    assert traffic.failed == [], traffic.failed[:5]
    assert demo_traffic.failed == [], demo_traffic.failed[:5]
    assert traffic.ok > 20
    restored = host_get("app1", "/accounts")
    assert (restored["entries"], restored["checksum"]) == (saved["entries"], saved["checksum"])
    assert host_get("app1", "/accounts/groceries")["balance"] == "3000"
    # The contract's state check passes on the restored journals and sums them the same.
    assert json.loads(run("app1", CHECK_STATE))["checksum"] == saved["checksum"]
    kept = run("app1", "ls /var/backups/fleetops/ledgerly").split()
    assert any(name.endswith("-pre-restore.tar.zst") for name in kept), kept  # the state it replaced
    assert pool()["app1-%s" % live_slot("app1")][0] == "UP"
    assert_demo_untouched(site)


# ------------------------------------------------------------------------ health check


def test_health_check_reads_ledgerly(site, inventory, tmp_path):
    report_dir = tmp_path / "reports"
    result = play("health_check.yml", inventory, tmp_path, {"fleet_report_dir": str(report_dir)})
    assert result.rc == 0, result.failure_messages()
    report = json.loads(sorted(report_dir.glob("health-*.json"))[-1].read_text())
    assert report["state"]["state"] == "healthy"
    assert set(report["hosts"]) >= set(APP_HOSTS) | {"lb1"}
    for host in APP_HOSTS:
        slot = live_slot(host)
        probes = {p["name"]: p for p in report["hosts"][host]["probes"]}
        assert probes["ledgerly_%s_active" % slot]["ok"], probes
        assert probes["ledgerly_%s_ready" % slot]["message"].startswith(
            "GET http://127.0.0.1:%d/health/ready answered 200" % VARS["service_ports"][slot]), probes
        assert not [name for name in probes if "demo" in name], probes


# ------------------------------------------------------------------- shutdown, startup


def test_shutdown_and_startup_of_one_host_keep_both_services_serving(site, inventory, tmp_path):
    slot = live_slot("app2")
    before = host_get("app2", "/accounts")
    with ledgerly_traffic(threads=2) as traffic, Traffic(rate=WATCHER_RATE) as demo_traffic:
        down = play("shutdown.yml", inventory, tmp_path / "down", limit="app2")
        stopped = lab_host("app2").service("ledgerly@%s" % slot).is_running
        demo_running = lab_host("app2").run("systemctl is-active --quiet demo@blue || "
                                            "systemctl is-active --quiet demo@green").rc
        up = play("startup.yml", inventory, tmp_path / "up", limit="app2")
        traffic.mark()
    assert down.rc == 0, down.failure_messages()
    assert up.rc == 0, up.failure_messages()
    assert stopped is False and demo_running == 0
    # The stopped slot passed the contract's state check (ledgerly's --check-state).
    assert "ledgerly_%s_state" % slot in stopped_probes(down)["app2"], stopped_probes(down)
    assert traffic.failed == [], traffic.failed[:5]
    assert demo_traffic.failed == [], demo_traffic.failed[:5]
    assert lab_host("app2").service("ledgerly@%s" % slot).is_running
    assert pool()["app2-%s" % slot][0] == "UP"
    after = host_get("app2", "/accounts")
    assert (after["entries"], after["checksum"]) == (before["entries"], before["checksum"])
    assert_demo_untouched(site)


def stopped_probes(result):
    """{host: names of the passed probes} of the task that checks stopped units and their state."""
    passed = {}
    for event in result.events:
        data = event["event_data"]
        if event["event"] == "runner_on_ok" and data.get("task") == "Check the units stopped and left consistent state":
            passed.setdefault(data["host"], set()).update(
                probe["name"] for probe in data["res"].get("probes", []) if probe.get("ok"))
    return passed


def test_shutdown_and_startup_of_ledgerly_app_tier_leave_the_demo_serving(site, inventory, tmp_path):
    before = {host: host_get(host, "/accounts") for host in APP_HOSTS}
    slots = {host: live_slot(host) for host in APP_HOSTS}
    with Traffic(rate=WATCHER_RATE) as demo_traffic:
        down = play("shutdown.yml", inventory, tmp_path / "down", {"fleet_only_tiers": ["app"]})
        status_down, _ = http_get(URL)
        up = play("startup.yml", inventory, tmp_path / "up", {"fleet_only_tiers": ["app"]})
    assert down.rc == 0, down.failure_messages()
    assert up.rc == 0, up.failure_messages()
    assert status_down == 503  # every ledgerly server was down, HAProxy still up
    assert demo_traffic.failed == [], demo_traffic.failed[:5]
    assert demo_traffic.ok > 0
    for host in APP_HOSTS:
        # Each stopped slot passed the contract's state check (ledgerly's --check-state).
        expected = {"ledgerly_%s_stopped" % slots[host], "ledgerly_%s_state" % slots[host]}
        assert expected <= stopped_probes(down).get(host, set()), stopped_probes(down)
        assert lab_host(host).service("ledgerly@%s" % slots[host]).is_running
        after = host_get(host, "/accounts")
        assert (after["entries"], after["checksum"]) == (before[host]["entries"], before[host]["checksum"])
    assert {served_release() for _ in range(6)} == {"1.0.0"}
    assert_demo_untouched(site)


# ----------------------------------------------------------------------------- scaling


def test_scale_in_then_out_keeps_both_services_serving(site, inventory, tmp_path):
    slot = live_slot("app3")
    with ledgerly_traffic(threads=2) as traffic, Traffic(rate=WATCHER_RATE) as demo_traffic:
        scaled_in = play("scale.yml", inventory, tmp_path / "in", {"scale_action": "in", "scale_hosts": ["app3"]})
        out_of_pool = pool().get("app3-%s" % slot)
        scaled_out = play("scale.yml", inventory, tmp_path / "out", {"scale_action": "out", "scale_hosts": ["app3"]})
        traffic.mark()
    assert scaled_in.rc == 0, scaled_in.failure_messages()
    assert scaled_out.rc == 0, scaled_out.failure_messages()
    assert out_of_pool is None or out_of_pool[0] == "MAINT", out_of_pool
    assert traffic.failed == [], traffic.failed[:5]
    assert demo_traffic.failed == [], demo_traffic.failed[:5]
    assert pool()["app3-%s" % slot][0] == "UP"
    hosts = {json.loads(http_get(URL)[1])["host"] for _ in range(40)}
    assert "app3" in hosts, hosts
    assert "performance through the load balancer: p95" in scaled_out.stdout
    assert_demo_untouched(site)
