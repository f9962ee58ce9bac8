"""Prometheus scrapes every active slot."""

import json
import time

from podman_hosts import podman_hosts

testinfra_hosts = podman_hosts("monitoring")


def test_every_blue_slot_target_is_up(host):
    journal = host.run("journalctl -u prometheus --no-pager -n 50 -o cat").stdout
    assert host.service("prometheus").is_running, journal
    up = {}
    for _ in range(30):
        reply = json.loads(host.check_output("curl -fsS 'http://127.0.0.1:9090/api/v1/query?query=up'"))
        up = {
            (r["metric"]["job"], r["metric"].get("host"), r["metric"].get("slot")): r["value"][1]
            for r in reply["data"]["result"]
        }
        blue = {k: v for k, v in up.items() if k[0] == "demo" and k[2] == "blue"}
        if len(blue) == 3 and set(blue.values()) == {"1"}:
            return
        time.sleep(2)
    raise AssertionError("blue targets not all up: %s" % up)
