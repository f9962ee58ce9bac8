"""site.yml converges the lab to one release behind HAProxy, scraped by Prometheus."""

import hashlib
import json
import time

from conftest import APP_HOSTS, BASE_VERSION, LB_ADDRESS, http_get, lab_host, run_playbook


def test_service_answers_through_haproxy_from_every_app_host(converged):
    seen_hosts = set()
    for _ in range(30):
        status, body = http_get("http://%s/" % LB_ADDRESS)
        assert status == 200, body
        reply = json.loads(body)
        assert reply["version"] == BASE_VERSION
        assert reply["slot"] == "blue"
        seen_hosts.add(reply.get("host"))
    assert seen_hosts == set(APP_HOSTS), "roundrobin should reach every app host: %s" % seen_hosts


def test_app_hosts_run_the_blue_slot(converged):
    for name in APP_HOSTS:
        host = lab_host(name)
        assert host.service("demo@blue").is_running
        assert host.service("demo@blue").is_enabled
        assert host.socket("tcp://0.0.0.0:8081").is_listening
        link = host.file("/opt/demo/current-blue")
        assert link.is_symlink and link.linked_to == "/opt/demo/releases/%s" % BASE_VERSION
        env = host.file("/etc/demo/demo.env")
        assert env.mode == 0o600 and env.user == "root"


def test_secret_never_reaches_logs_or_playbook_output(converged):
    token = "lab-token-not-secret"
    assert token not in converged.stdout
    for event in converged.events:
        assert token not in json.dumps(event.get("event_data", {}).get("res", {}))
    for name in APP_HOSTS:
        journal = lab_host(name).run("journalctl -u 'demo@*' --no-pager -o cat")
        assert journal.rc == 0
        assert token not in journal.stdout


def test_haproxy_has_both_slots_and_a_runtime_api(converged):
    lb = lab_host("lb1")
    assert lb.service("haproxy").is_running
    stat = lb.run("echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock")
    assert stat.rc == 0, stat.stderr
    rows = {line.split(",")[1]: line.split(",")[17] for line in stat.stdout.splitlines() if line.startswith("demo,")}
    for name in APP_HOSTS:
        assert rows["%s-blue" % name] == "UP"
        assert rows["%s-green" % name] == "MAINT"


def test_prometheus_scrapes_every_active_slot_and_haproxy(converged):
    deadline = time.time() + 60
    while True:
        status, body = http_get("http://%s:9090/api/v1/targets" % LB_ADDRESS)
        assert status == 200
        targets = json.loads(body)["data"]["activeTargets"]
        up = {
            (t["labels"]["job"], t["labels"].get("host"), t["labels"].get("slot"))
            for t in targets
            if t["health"] == "up"
        }
        wanted = {("demo", name, "blue") for name in APP_HOSTS} | {("haproxy", "lb1", None)}
        if wanted <= up or time.time() > deadline:
            break
        time.sleep(2)
    assert wanted <= up, "targets up: %s" % sorted(up, key=str)


def test_second_run_changes_nothing(converged, tmp_path):
    result = run_playbook("site.yml", {"service_version": BASE_VERSION}, tmp_path=tmp_path)
    assert result.rc == 0, result.failure_messages()
    assert result.changed() == 0, result.changed_tasks()


def _fingerprint():
    """What a converge could change on the hosts: links, configs, unit states."""
    parts = []
    for name in list(APP_HOSTS) + ["lb1"]:
        out = lab_host(name).run(
            "readlink /opt/demo/current-blue /opt/demo/current-green; ls /opt/demo/releases 2>/dev/null; "
            "md5sum /etc/demo/* /etc/haproxy/haproxy.cfg /etc/haproxy/conf.d/* /etc/prometheus/prometheus.yml "
            "/etc/prometheus/fleetops.d/* 2>/dev/null; "
            "systemctl is-active demo@blue demo@green haproxy prometheus"
        )
        parts.append(name + ":" + out.stdout)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def test_check_mode_predicts_an_upgrade_and_changes_nothing(converged, tmp_path):
    before = _fingerprint()
    result = run_playbook("site.yml", {"service_version": "2.0.0"}, check=True, tmp_path=tmp_path)
    assert result.rc == 0, result.failure_messages()
    changed = result.changed_tasks()
    for name in APP_HOSTS:
        assert "%s: Unpack the release and point the slot at it" % name in changed
    assert _fingerprint() == before
