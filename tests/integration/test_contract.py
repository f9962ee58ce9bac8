"""The service contract on the lab (docs/service_contract.md).

A second copy of the demo runs beside it under other names, set only in an inventory
file layered on the lab's: its own HAProxy backend and frontend port, unit name,
install root, config and state directories, user and slot ports. The same playbooks
converge it, deploy a good release (promoted) and a bad one (3.0.0, 5% errors, rolled
back), while the demo keeps serving every request and none of its files change.
"""

import json
import time

import pytest
import yaml
from conftest import APP_HOSTS, LB_ADDRESS, WATCHER_RATE, Traffic, http_get, lab_host, run_playbook
from deploy_helpers import FAST_GATE

RENAMED = {
    "service_name": "orders",
    "service_backend": "orders_pool",
    "service_unit": "orders-app@{slot}.service",
    "service_root": "/srv/orders",
    "service_config_dir": "/etc/orders",
    "service_state_dir": "/var/lib/orders",
    "service_log_dir": "/var/log/orders",
    "service_user": "orders",
    "service_ports": {"blue": 8181, "green": 8182},
    "service_frontend_port": 8180,
}
RENAMED_URL = "http://%s:%d/" % (LB_ADDRESS, RENAMED["service_frontend_port"])
LEDGER = "/var/lib/fleetops/orders/ledger.jsonl"
# The demo's files the second service must never touch.
DEMO_FILES = {
    "lb1": ["/etc/haproxy/conf.d/demo.cfg", "/etc/prometheus/fleetops.d/demo.json",
            "/etc/prometheus/rules/slo-demo.yml", "/var/lib/fleetops/demo/deploy.lock"],
    "app": ["/etc/demo/demo.ini", "/etc/demo/demo.env", "/etc/systemd/system/demo@.service",
            "/var/lib/fleetops/demo/ledger.jsonl"],
}


def _demo_fingerprint():
    """sha256 of the demo's files (absent ones too), and which demo slots run."""
    prints = {}
    for host in ["lb1", *APP_HOSTS]:
        files = DEMO_FILES["lb1" if host == "lb1" else "app"]
        out = lab_host(host).run("for f in %s; do sha256sum $f 2>/dev/null || echo absent $f; done" % " ".join(files))
        prints[host] = out.stdout
        if host != "lb1":
            prints[host + " units"] = lab_host(host).run("systemctl is-active demo@blue demo@green").stdout
    return prints


def _ledger(host):
    return [json.loads(line) for line in lab_host(host).run("cat %s" % LEDGER).stdout.splitlines() if line]


def _renamed_version():
    status, body = http_get(RENAMED_URL + "version")
    assert status == 200, body
    return json.loads(body)["version"]


@pytest.fixture(scope="module")
def renamed_inventory(tmp_path_factory):
    """An inventory file that sets only the contract's variables, layered on the lab's."""
    path = tmp_path_factory.mktemp("contract") / "orders.yml"
    path.write_text(yaml.safe_dump({"all": {"vars": RENAMED}}))
    return path


def _cleanup():
    """Take the renamed service off the lab (before, in case a run left it, and after), so
    this module starts from the demo alone and later modules find only the demo."""
    for host in APP_HOSTS:
        lab_host(host).run("systemctl disable --now orders-app@blue orders-app@green; "
                           "rm -rf /etc/systemd/system/orders-app@.service* /srv/orders /etc/orders /var/lib/orders "
                           "/var/lib/fleetops/orders /var/backups/fleetops/orders; systemctl daemon-reload")
    lab_host("lb1").run("rm -rf /etc/haproxy/conf.d/orders.cfg /etc/prometheus/fleetops.d/orders.json "
                        "/etc/prometheus/rules/slo-orders.yml /var/lib/fleetops/orders "
                        "&& systemctl reload haproxy prometheus")


@pytest.fixture(scope="module")
def renamed(converged, renamed_inventory, tmp_path_factory):
    """The renamed service converged at 1.0.0 beside the demo, and the demo's files before."""
    _cleanup()
    before = _demo_fingerprint()
    with Traffic(rate=WATCHER_RATE) as demo_traffic:
        result = run_playbook("site.yml", {"service_version": "1.0.0"}, tmp_path=tmp_path_factory.mktemp("site"),
                              extra_inventory=renamed_inventory)
    assert result.rc == 0, result.failure_messages()
    yield {"demo_before": before, "demo_failed": demo_traffic.failed, "demo_ok": demo_traffic.ok}
    _cleanup()


def test_a_bad_contract_is_refused_before_anything_changes(converged, renamed_inventory, tmp_path):
    before = _demo_fingerprint()
    result = run_playbook("deploy.yml", {"deploy_version": "2.0.0", "service_unit": "orders.service"},
                          tmp_path=tmp_path, extra_inventory=renamed_inventory)
    assert result.rc != 0
    assert ("the service contract does not hold: service_unit='orders.service' is not a systemd template instance "
            "with one {slot}, such as shop@{slot}.service") in result.failure_messages()
    assert result.changed() == 0, result.changed_tasks()
    assert _demo_fingerprint() == before


def test_the_renamed_service_runs_beside_the_demo(renamed):
    assert renamed["demo_failed"] == [], renamed["demo_failed"][:5]
    assert renamed["demo_ok"] > 0
    assert _demo_fingerprint() == renamed["demo_before"]
    lb = lab_host("lb1")
    config = lb.file("/etc/haproxy/conf.d/orders.cfg").content_string
    assert "backend orders_pool" in config and "bind :8180" in config
    assert "demo" not in config
    targets = json.loads(lb.file("/etc/prometheus/fleetops.d/orders.json").content_string)
    assert {t["labels"]["job"] for t in targets} == {"orders"}
    assert sorted(t["targets"][0].rsplit(":", 1)[1] for t in targets) == sorted(["8181", "8182"] * len(APP_HOSTS))
    for host in APP_HOSTS:
        app = lab_host(host)
        assert app.service("orders-app@blue").is_running
        assert app.file("/srv/orders/current-blue").linked_to == "/srv/orders/releases/1.0.0"
        assert app.file("/etc/orders/orders.ini").exists
        assert app.service("demo@%s" % ("blue" if app.service("demo@blue").is_enabled else "green")).is_running
    assert _renamed_version() == "1.0.0"
    status, _ = http_get("http://%s/" % LB_ADDRESS)
    assert status == 200


def test_the_renamed_service_promotes_a_good_release(renamed, renamed_inventory, tmp_path):
    with Traffic(url=RENAMED_URL) as traffic, Traffic(rate=WATCHER_RATE) as demo_traffic:
        result = run_playbook("deploy.yml", {"deploy_version": "2.0.0", **FAST_GATE}, tmp_path=tmp_path,
                              extra_inventory=renamed_inventory)
    assert result.rc == 0, result.failure_messages()
    assert traffic.failed == [], traffic.failed[:5]
    assert demo_traffic.failed == [], demo_traffic.failed[:5]
    assert traffic.versions.get("2.0.0", 0) > 0
    assert {_renamed_version() for _ in range(10)} == {"2.0.0"}
    for host in APP_HOSTS:
        events = [r["event"] for r in _ledger(host) if r["release"] == "2.0.0"]
        assert events == ["started", "gate", "gate", "gate", "promoted"], events
        assert lab_host(host).service("orders-app@green").is_running
        assert not lab_host(host).service("orders-app@blue").is_running
        assert lab_host(host).file("/srv/orders/current-green").linked_to == "/srv/orders/releases/2.0.0"
    assert _demo_fingerprint() == renamed["demo_before"]


def test_the_renamed_service_rolls_back_a_bad_release(renamed, renamed_inventory, tmp_path):
    with Traffic(url=RENAMED_URL, threads=2) as traffic, Traffic(rate=WATCHER_RATE) as demo_traffic:
        result = run_playbook("deploy.yml", {"deploy_version": "3.0.0", **FAST_GATE}, tmp_path=tmp_path,
                              extra_inventory=renamed_inventory)
        after_rollback = traffic.mark()
        time.sleep(3)
    assert result.rc != 0
    message = " ".join(result.failure_messages())
    assert "gate failed at 10% of traffic on 3.0.0" in message, message
    assert demo_traffic.failed == [], demo_traffic.failed[:5]
    assert traffic.versions_since(after_rollback) == {"2.0.0"}
    for host in APP_HOSTS:
        records = [r for r in _ledger(host) if r["release"] == "3.0.0"]
        assert records[-1]["event"] == "rolled_back"
        assert "error_ratio" in records[-1]["message"]
        assert not lab_host(host).service("orders-app@blue").is_running
        assert lab_host(host).service("orders-app@green").is_running
    assert _demo_fingerprint() == renamed["demo_before"]
