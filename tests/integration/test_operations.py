"""health_check.yml, startup.yml, shutdown.yml and scale.yml on the lab.

Runs after test_deploy.py: any release may be live, in either slot. The tests run in
file order; each leaves every app host serving.
"""

import json
import subprocess
import time

import pytest
from conftest import (
    APP_HOSTS,
    LAB_KEY,
    LB_ADDRESS,
    REPO,
    SPARE_HOSTS,
    Traffic,
    http_get,
    lab_command,
    lab_host,
    run_playbook,
)

TOKEN = "lab-token-not-secret"
SPARE = "spare2"
SPARE_ADDRESS = SPARE_HOSTS[SPARE]


def health(tmp_path, **extra):
    report_dir = tmp_path / "reports"
    result = run_playbook("health_check.yml", {"fleet_report_dir": str(report_dir), **extra}, tmp_path=tmp_path)
    reports = sorted(report_dir.glob("health-*.json"))
    return result, json.loads(reports[-1].read_text()) if reports else None


def failed_probes(report, host):
    return [probe["name"] for probe in report["hosts"][host]["probes"] if not probe["ok"]]


def live_slot(host):
    for slot in ("blue", "green"):
        if lab_host(host).run("systemctl is-enabled demo@%s" % slot).stdout.strip() == "enabled":
            return slot
    raise AssertionError("no enabled demo slot on %s" % host)


def server_admin():
    """{server: (status, weight)} of the demo backend, from the runtime API."""
    stat = lab_host("lb1").run("echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock")
    header = stat.stdout.splitlines()[0].lstrip("# ").split(",")
    servers = {}
    for line in stat.stdout.splitlines()[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == "demo" and row["svname"] not in ("FRONTEND", "BACKEND"):
            servers[row["svname"]] = (row["status"], int(row["weight"] or 0))
    return servers


def assert_every_host_serves(wait=15):
    """Every app host's live slot is UP with a weight in HAProxy (health checks get ``wait`` s)."""
    wanted = ["%s-%s" % (name, live_slot(name)) for name in APP_HOSTS]
    for _ in range(wait):
        servers = server_admin()
        if all(servers[name][0] == "UP" and servers[name][1] > 0 for name in wanted):
            return
        time.sleep(1)
    raise AssertionError("not every app host serves: %r" % (server_admin(),))


def state_fingerprint():
    """Per app host: row count and checksum of the demo state (same db for both slots)."""
    query = "select count(*) || ' ' || coalesce(sum(length(name)), 0) from workflows"
    return {
        name: lab_host(name).run("runuser -u demo -- sqlite3 /var/lib/demo/state.db \"%s\" && "
                                 "runuser -u demo -- sqlite3 /var/lib/demo/state.db .dump | md5sum" % query).stdout
        for name in APP_HOSTS
    }


def started_at(host, unit):
    """When the unit last became active, in µs of the monotonic clock (one kernel for the lab)."""
    return int(lab_host(host).run("systemctl show -p ActiveEnterTimestampMonotonic --value %s" % unit).stdout)


def add_workflows(count):
    for index in range(count):
        request = subprocess.run(
            ["curl", "-fsS", "-X", "POST", "-H", "Authorization: Bearer %s" % TOKEN,
             "-H", "Content-Type: application/json", "-d", json.dumps({"name": "ops-%d" % index}),
             "http://%s/workflows" % LB_ADDRESS],
            capture_output=True, text=True, check=False)
        assert request.returncode == 0, request.stderr


# ------------------------------------------------------------------- health checks


def test_health_check_passes_on_a_healthy_lab(converged, tmp_path):
    result, report = health(tmp_path)
    assert result.rc == 0, result.failure_messages()
    assert report["state"]["state"] == "healthy"
    assert set(report["hosts"]) >= set(APP_HOSTS) | {"lb1"}
    assert "haproxy_ready" in [probe["name"] for probe in report["hosts"]["lb1"]["probes"]]
    assert "fleet: healthy" in result.stdout
    # set_stats for the workflow's next node, as AWX passes it on
    stats = [e["event_data"].get("artifact_data", {}) for e in result.events if e["event"] == "playbook_on_stats"]
    assert stats and stats[-1]["fleetops_health"]["state"] == "healthy", stats
    assert stats[-1]["fleetops_health"]["reasons"] == report["state"]["reasons"]


def test_health_check_names_a_stopped_unit(tmp_path):
    lb = lab_host("lb1")
    lb.run("systemctl stop prometheus")
    try:
        result, report = health(tmp_path)
    finally:
        lb.run("systemctl start prometheus")
    assert result.rc != 0
    assert failed_probes(report, "lb1") == ["prometheus_active", "prometheus_ready"]
    # HAProxy on the same host still serves: only the monitoring tier is down.
    assert report["state"]["tiers"]["edge"]["unhealthy"] == 0
    assert report["state"]["tiers"]["monitoring"]["unhealthy"] == 1
    assert "fleet is down: tier monitoring has no healthy host" in " ".join(result.failure_messages())


def test_health_check_names_a_full_disk(tmp_path):
    # /mnt/small is a full 2 MiB tmpfs on app1 and a plain directory elsewhere.
    hosts = [*APP_HOSTS, "lb1"]
    for name in hosts:
        lab_host(name).run("mkdir -p /mnt/small")
    app1 = lab_host("app1")
    app1.run("mount -t tmpfs -o size=2m tmpfs /mnt/small && head -c 2M /dev/zero > /mnt/small/fill 2>/dev/null; true")
    probe = {"name": "data_disk", "type": "disk", "path": "/mnt/small", "min_free_percent": 10}
    try:
        result, report = health(tmp_path, fleet_extra_probes=[probe])
    finally:
        app1.run("umount /mnt/small")
        for name in hosts:
            lab_host(name).run("rmdir /mnt/small")
    assert result.rc != 0
    assert failed_probes(report, "app1") == ["data_disk"]
    assert failed_probes(report, "app2") == failed_probes(report, "app3") == []
    assert report["state"]["state"] == "degraded"


def test_health_check_names_a_failing_http_endpoint(tmp_path):
    slot_port = {"blue": 8081, "green": 8082}[live_slot("app2")]
    probe = {"name": "missing_page", "type": "http", "url": "http://127.0.0.1:%d/no-such-page" % slot_port}
    result, report = health(tmp_path, fleet_extra_probes=[probe])
    assert result.rc != 0
    for name in APP_HOSTS:
        assert failed_probes(report, name) == ["missing_page"]
    message = next(p["message"] for p in report["hosts"]["app2"]["probes"] if p["name"] == "missing_page")
    assert "404" in message


# ------------------------------------------------------------- startup and shutdown


@pytest.mark.parametrize("extravars, message", [
    ({"fleet_tiers": {"app": {"group": "app", "depends_on": ["edge"]},
                      "edge": {"group": "loadbalancers", "depends_on": ["app"]}}},
     "fleet_tiers has a dependency cycle: app -> edge -> app"),
    ({"fleet_only_tiers": ["database"]}, "database"),
])
def test_startup_refuses_a_cycle_or_an_unknown_tier_before_anything_starts(tmp_path, extravars, message):
    result = run_playbook("startup.yml", extravars, tmp_path=tmp_path)
    assert result.rc != 0
    assert message in " ".join(result.failure_messages())
    assert result.changed() == 0, result.changed_tasks()


def test_shutdown_then_startup_returns_the_lab_to_healthy_with_state_intact(tmp_path):
    add_workflows(5)
    before = state_fingerprint()
    check = run_playbook("shutdown.yml", {}, check=True, tmp_path=tmp_path / "check")
    assert check.rc == 0, check.failure_messages()
    assert lab_host("app1").service("demo@%s" % live_slot("app1")).is_running

    down = run_playbook("shutdown.yml", {}, tmp_path=tmp_path / "down")
    assert down.rc == 0, down.failure_messages()
    for name in APP_HOSTS:
        assert not lab_host(name).service("demo@%s" % live_slot(name)).is_running
    assert not lab_host("lb1").service("haproxy").is_running
    assert not lab_host("lb1").service("prometheus").is_running
    again = run_playbook("shutdown.yml", {}, tmp_path=tmp_path / "down-again")
    assert again.rc == 0 and again.changed() == 0, again.changed_tasks()

    startup_check = run_playbook("startup.yml", {}, check=True, tmp_path=tmp_path / "up-check")
    assert startup_check.rc == 0, startup_check.failure_messages()
    assert not lab_host("lb1").service("haproxy").is_running

    up = run_playbook("startup.yml", {}, tmp_path=tmp_path / "up")
    assert up.rc == 0, up.failure_messages()
    assert "pre-start checks" in up.stdout and "start app" in up.stdout  # phase times printed
    # Start order: every app slot before HAProxy, HAProxy before Prometheus.
    started = {}
    for name in APP_HOSTS:
        unit = "demo@%s" % live_slot(name)
        started[name] = started_at(name, unit)
    for unit in ("haproxy", "prometheus"):
        started[unit] = started_at("lb1", unit)
    assert max(started[name] for name in APP_HOSTS) < started["haproxy"] < started["prometheus"], started
    assert state_fingerprint() == before
    status, _ = http_get("http://%s/" % LB_ADDRESS)
    assert status == 200
    second = run_playbook("startup.yml", {}, tmp_path=tmp_path / "up-again")
    assert second.rc == 0 and second.changed() == 0, second.changed_tasks()
    result, report = health(tmp_path / "health")
    assert result.rc == 0 and report["state"]["state"] == "healthy", result.failure_messages()
    assert_every_host_serves()


def test_shutdown_of_one_host_keeps_the_rest_serving(tmp_path):
    slot = live_slot("app2")
    with Traffic(threads=2) as traffic:
        down = run_playbook("shutdown.yml", {}, limit="app2", tmp_path=tmp_path / "down")
        during = traffic.mark()
        up = run_playbook("startup.yml", {}, limit="app2", tmp_path=tmp_path / "up")
    assert down.rc == 0, down.failure_messages()
    assert up.rc == 0, up.failure_messages()
    assert traffic.failed == [], traffic.failed[:5]
    assert traffic.ok > 0 and during
    assert server_admin()["app2-%s" % slot][0] == "UP"
    assert_every_host_serves()


# ---------------------------------------------------------------------- scaling


def scale(tmp_path, **extravars):
    extra_inventory = extravars.pop("extra_inventory", None)
    return run_playbook("scale.yml", extravars, tmp_path=tmp_path, extra_inventory=extra_inventory)


def test_rolling_vertical_change_drops_no_request(tmp_path):
    limits = {name: lab_host(name).run("systemctl show -p MemoryMax --value demo@%s" % live_slot(name)).stdout
              for name in APP_HOSTS}
    # Values no run sets for real, so check mode always has a change to predict.
    check = run_playbook("scale.yml", {"scale_action": "vertical", "scale_workers": 3, "scale_memory_max_mb": 640,
                                       "scale_cpu_quota_percent": 120}, check=True, tmp_path=tmp_path / "check")
    assert check.rc == 0, check.failure_messages()
    # The service role writes its files in one config_files task, which names each path it would change.
    predicted = [e["event_data"]["res"].get("changed_paths", []) for e in check.events
                 if e["event"] == "runner_on_ok" and e["event_data"].get("res", {}).get("changed")]
    assert any("/etc/systemd/system/demo@.service.d/50-limits.conf" in paths for paths in predicted), predicted
    assert limits == {name: lab_host(name).run("systemctl show -p MemoryMax --value demo@%s" % live_slot(name)).stdout
                      for name in APP_HOSTS}
    assert_every_host_serves()  # check mode took no server out
    with Traffic(threads=2) as traffic:
        result = scale(tmp_path / "apply", scale_action="vertical", scale_workers=4, scale_memory_max_mb=512,
                       scale_cpu_quota_percent=150)
    assert result.rc == 0, (result.failure_messages(), server_admin())
    assert traffic.failed == [], traffic.failed[:5]
    for name in APP_HOSTS:
        unit = "demo@%s" % live_slot(name)
        shown = lab_host(name).run("systemctl show -p MemoryMax -p CPUQuotaPerSecUSec --value %s" % unit).stdout.split()
        assert sorted(shown) == ["1.500000s", "536870912"], (name, shown)
        assert "workers = 4" in lab_host(name).file("/etc/demo/demo.ini").content_string
    assert "performance through the load balancer: p95" in result.stdout
    assert_every_host_serves()  # none left drained by a restart its checks saw DOWN
    again = scale(tmp_path / "again", scale_action="vertical", scale_workers=4, scale_memory_max_mb=512,
                  scale_cpu_quota_percent=150)
    assert again.rc == 0 and again.changed() == 0, again.changed_tasks()


@pytest.mark.parametrize("extravars, message", [
    ({"scale_action": "vertical", "scale_memory_max_mb": 10000000},
     "memory_max_mb=10000000 is above what app1 can give"),
    ({"scale_action": "vertical", "scale_workers": -2}, "workers=-2"),
    ({"scale_action": "vertical"}, "set at least one of scale_cpu_quota_percent, scale_memory_max_mb, scale_workers"),
    ({"scale_action": "sideways"}, 'scale_action="sideways" is not one of out, in, vertical, recommend'),
    ({"scale_action": "in", "scale_hosts": list(APP_HOSTS)}, "scale_in_check"),
    ({"scale_action": "out", "scale_hosts": ["nohost"]}, 'scale_hosts=["nohost"] must name hosts of the app group'),
])
def test_bad_scaling_requests_are_refused_before_anything_changes(tmp_path, extravars, message):
    result = scale(tmp_path, **extravars)
    assert result.rc != 0
    assert message in " ".join(result.failure_messages()), result.failure_messages()
    assert result.changed() == 0, result.changed_tasks()


def set_server_state(server, state):
    lab_host("lb1").run("echo 'set server demo/%s state %s' | socat stdio unix-connect:/run/haproxy/admin.sock"
                        % (server, state))


def test_scaling_a_pool_that_serves_nothing_is_refused_before_anything_changes(tmp_path):
    serving = sorted(name for name, (status, weight) in server_admin().items() if status.startswith("UP") and weight)
    assert len(serving) == len(APP_HOSTS), server_admin()
    for server in serving:
        set_server_state(server, "maint")
    try:
        result = scale(tmp_path, scale_action="in", scale_hosts=["app3"])
    finally:
        for server in serving:
            set_server_state(server, "ready")
    message = " ".join(result.failure_messages())
    assert result.rc != 0
    assert "scale_action=in: no host of the app group serves in HAProxy backend demo on lb1 (" in message, message
    assert "%s maint weight" % serving[0] in message, message
    assert result.changed() == 0, result.changed_tasks()
    for name in APP_HOSTS:
        assert lab_host(name).service("demo@%s" % live_slot(name)).is_running
    # Out of maintenance the servers wait for their health checks; the next test sends traffic.
    assert_every_host_serves(wait=30)


def test_scale_in_then_out_drops_no_request(tmp_path):
    spare_inventory = tmp_path / "spare.yml"
    # Paths in group_vars are relative to inventory_dir, which is this file's directory.
    spare_inventory.write_text(json.dumps({"all": {"children": {"app": {"hosts": {SPARE: {
        "ansible_host": SPARE_ADDRESS,
        "ansible_ssh_private_key_file": str(LAB_KEY),
        "service_artifact_dir": str(REPO / "dist"),
    }}}}}}))
    up = lab_command("up", "--hosts", SPARE)
    assert up.returncode == 0, up.stderr
    try:
        with Traffic(threads=2) as traffic:
            scaled_in = scale(tmp_path / "in", scale_action="in", scale_hosts=["app3"])
            out = scale(tmp_path / "out", scale_action="out", scale_hosts=[SPARE], extra_inventory=spare_inventory)
            joined = traffic.mark()
            back = scale(tmp_path / "back", scale_action="out", scale_hosts=["app3"], extra_inventory=spare_inventory)
        assert scaled_in.rc == 0, (scaled_in.failure_messages(), server_admin())
        assert out.rc == 0, out.failure_messages()
        assert back.rc == 0, back.failure_messages()
        assert traffic.failed == [], traffic.failed[:5]
        assert joined
        servers = server_admin()
        slot = live_slot("app1")
        assert servers["%s-%s" % (SPARE, slot)][0] == "UP"
        hosts_answering = set()
        for _ in range(60):
            status, body = http_get("http://%s/" % LB_ADDRESS)
            assert status == 200
            hosts_answering.add(json.loads(body)["host"])
        assert {SPARE, "app3"} <= hosts_answering
        again = scale(tmp_path / "out-again", scale_action="out", scale_hosts=[SPARE], extra_inventory=spare_inventory)
        assert again.rc == 0 and again.changed() == 0, again.changed_tasks()
        with Traffic() as traffic:
            gone = scale(tmp_path / "spare-in", scale_action="in", scale_hosts=[SPARE], extra_inventory=spare_inventory)
        assert gone.rc == 0, gone.failure_messages()
        assert traffic.failed == [], traffic.failed[:5]
        in_again = scale(tmp_path / "in-again", scale_action="in", scale_hosts=[SPARE],
                         extra_inventory=spare_inventory)
        assert in_again.rc == 0 and in_again.changed() == 0, in_again.changed_tasks()
    finally:
        lab_command("down", "--hosts", SPARE)
