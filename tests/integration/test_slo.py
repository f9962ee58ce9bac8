"""SLOs as code on the lab: the deploy gate's conditions come from the SLO definitions
when the deploy names none.

From the converged lab (1.0.0): the +250 ms release (4.1.0) is rolled back at the first
stage by the condition derived from the request_latency SLO (p95 < 200 ms), and a good
release (2.0.0) passes every stage with the same derived conditions. Leaves 2.0.0
serving.
"""

import json
import time

from conftest import APP_HOSTS, LB_ADDRESS, Traffic, http_get, run_playbook

# Short analysis: at least 2 samples of 5 s (the lab's scrape interval), at most a
# minute while the evidence cannot decide. No deploy_gate_conditions: the SLOs decide.
GATE = {
    "deploy_analysis_window": 10,
    "deploy_analysis_interval": 5,
    "deploy_analysis_max_window": 60,
    "deploy_gate_provider": "prometheus",
}


def deploy(version, tmp_path):
    return run_playbook("deploy.yml", {"deploy_version": version, **GATE}, tmp_path=tmp_path)


def serving_version():
    status, body = http_get("http://%s/version" % LB_ADDRESS)
    assert status == 200, body
    return json.loads(body)["version"]


def gate_events(result):
    """The slo_gate results of the stages, as the playbook returned them."""
    return [e["event_data"]["res"] for e in result.events
            if e["event"] in ("runner_on_ok", "runner_on_failed")
            and e["event_data"].get("task_action") == "fleetops.lifecycle.slo_gate"
            and not e["event_data"]["res"].get("validate_only")
            and "verdict" in e["event_data"]["res"]]


def test_a_slow_release_is_rolled_back_at_the_first_stage_by_the_latency_slo(converged, tmp_path):
    before = serving_version()
    with Traffic(threads=4) as traffic:
        result = deploy("4.1.0", tmp_path)
        after_rollback = traffic.mark()
    assert result.rc != 0
    message = " ".join(result.failure_messages())
    assert "gate failed at 10% of traffic on 4.1.0: FAIL: latency from SLO request_latency: p95 of the new slot " \
           "over the stage between 0.25s and 0.3s" in message, message
    assert traffic.failed == [], traffic.failed[:5]
    assert traffic.versions_since(after_rollback) == {before}
    gates = gate_events(result)
    assert len(gates) == 1 and gates[0]["verdict"] == "fail", gates
    names = [c["name"] for c in gates[0]["conditions"]]
    assert names == ["error_ratio from SLO availability", "availability from SLO availability",
                     "latency from SLO request_latency", "health"], names


def test_a_good_release_passes_the_gate_derived_from_the_slos(converged, tmp_path):
    started = time.monotonic()
    with Traffic(threads=4) as traffic:
        result = deploy("2.0.0", tmp_path)
    assert result.rc == 0, result.failure_messages()
    assert traffic.failed == [], traffic.failed[:5]
    assert serving_version() == "2.0.0"
    gates = gate_events(result)
    assert [g["verdict"] for g in gates] == ["pass"] * 3, [g["summary"] for g in gates]
    latency = [c for c in gates[0]["conditions"] if c["name"] == "latency from SLO request_latency"][0]
    assert latency["verdict"] == "pass" and latency["stage_quantile"] < 0.2, latency
    assert set(APP_HOSTS) and time.monotonic() - started < 600
