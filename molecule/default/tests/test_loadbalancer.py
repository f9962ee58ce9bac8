"""The load balancer serves the app from every app host."""

import json

from podman_hosts import podman_hosts

testinfra_hosts = podman_hosts("loadbalancers")


def test_haproxy_serves_the_app(host):
    journal = host.run("journalctl -u haproxy --no-pager -n 50 -o cat").stdout
    assert host.service("haproxy").is_running, journal
    assert host.socket("tcp://0.0.0.0:80").is_listening
    hosts = set()
    for _ in range(12):
        reply = json.loads(host.check_output("curl -fsS http://127.0.0.1/"))
        assert reply["version"] == "1.0.0"
        hosts.add(reply["host"])
    assert len(hosts) == 3, hosts


def test_runtime_api_answers(host):
    out = host.check_output("echo 'show servers state demo' | socat stdio unix-connect:/run/haproxy/admin.sock")
    assert "mol-app1-blue" in out
