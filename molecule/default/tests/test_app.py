"""App hosts: the blue slot runs the converged release."""

import json

from podman_hosts import podman_hosts

testinfra_hosts = podman_hosts("app")


def test_blue_slot_is_active_and_listening(host):
    service = host.service("demo@blue")
    journal = host.run("journalctl -u demo@blue --no-pager -n 50 -o cat").stdout
    assert service.is_running, journal
    assert service.is_enabled
    assert host.socket("tcp://0.0.0.0:8081").is_listening


def test_blue_slot_runs_the_release(host):
    version = json.loads(host.check_output("curl -fsS http://127.0.0.1:8081/version"))
    assert version["version"] == "1.0.0"
    assert host.file("/opt/demo/current-blue").linked_to == "/opt/demo/releases/1.0.0"


def test_secret_env_file_is_private(host):
    env = host.file("/etc/demo/demo.env")
    assert env.mode == 0o600
    assert env.user == "root"
