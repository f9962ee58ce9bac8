"""SLOs as code on the lab.

The slo role (playbooks/slo.yml, also part of site.yml): check mode, converge,
idempotence, the rules loaded into Prometheus, promtool's unit tests of the burn-rate
alerts, bad definitions refused with nothing changed, and a fast burn paging through
Alertmanager to the webhook recorder. Then the deploy gate's conditions from the SLO
definitions: the +250 ms release (4.1.0) rolled back at the first stage by the
request_latency SLO, a good release (2.0.0) passing. Leaves 2.0.0 serving and the
default SLO rules loaded.
"""

import copy
import html
import json
import re
import subprocess
import time
import urllib.parse
from pathlib import Path

import yaml
from conftest import APP_HOSTS, LB_ADDRESS, Traffic, http_get, lab_host, run_playbook

REPO = Path(__file__).resolve().parents[2]
DEMO_SLOS = yaml.safe_load((REPO / "roles" / "slo" / "defaults" / "main.yml").read_text())["slo_definitions"]
PROMETHEUS = "http://%s:9090" % LB_ADDRESS
RULES = "/etc/prometheus/rules/slo-demo.yml"
ALERTS_DIR = "/var/lib/fleetops/alerts"


def slo_playbook(tmp_path, check=False, **extravars):
    return run_playbook("slo.yml", extravars, check=check, tmp_path=tmp_path)


def rules_digest():
    return lab_host("lb1").check_output("sha256sum %s" % RULES)


def prometheus_rule_groups():
    status, body = http_get(PROMETHEUS + "/api/v1/rules")
    assert status == 200, body
    return {g["name"]: g for g in json.loads(body)["data"]["groups"]}


def promql(query):
    status, body = http_get(PROMETHEUS + "/api/v1/query?" + urllib.parse.urlencode({"query": query}))
    assert status == 200, body
    return json.loads(body)["data"]["result"]


def test_slo_role_check_mode_converge_idempotence_and_rules_loaded(converged, tmp_path):
    checked = slo_playbook(tmp_path / "check", check=True)
    assert checked.rc == 0, checked.failure_messages()
    first = slo_playbook(tmp_path / "first")
    assert first.rc == 0, first.failure_messages()
    again = slo_playbook(tmp_path / "again")
    assert again.rc == 0, again.failure_messages()
    assert again.changed() == 0, again.changed_tasks()
    deadline = time.monotonic() + 30
    while set(prometheus_rule_groups()) < {"slo_" + s["name"] for s in DEMO_SLOS} and time.monotonic() < deadline:
        time.sleep(1)
    groups = prometheus_rule_groups()
    assert {"slo_" + s["name"] for s in DEMO_SLOS} <= set(groups), sorted(groups)
    assert all(r["health"] == "ok" for g in groups.values() for r in g["rules"]), groups
    lb1 = lab_host("lb1")
    assert lb1.service("prometheus-alertmanager").is_running
    assert lb1.service("fleetops-alert-recorder").is_running
    status = json.loads(lb1.check_output("curl -sf http://127.0.0.1:9093/api/v2/status"))
    routes = status["config"]["original"]
    assert 'severity="page"' in routes and 'severity="ticket"' in routes, routes


def promtool_test(annotations):
    """promtool's unit tests of the loaded rules: a fast burn pages, a slow burn only
    tickets (availability SLO; the traffic keeps the throughput SLO's 20/s floor)."""
    def alert(severity):
        return [{"exp_labels": {"slo": "availability", "severity": severity,
                                "priority": {"page": "P1", "ticket": "P3"}[severity]},
                 "exp_annotations": annotations[severity]}]
    series = 'demo_http_requests_total{job="demo",method="GET",path="/",code="%s"}'
    return {
        "rule_files": [RULES],
        "evaluation_interval": "1m",
        "tests": [
            {"name": "fast burn: 10 % errors for 70 minutes pages",
             "interval": "1m",
             "input_series": [{"series": series % "500", "values": "0+200x80"},
                              {"series": series % "200", "values": "0+1800x80"}],
             "alert_rule_test": [{"eval_time": "70m", "alertname": "SLOBurnRatePage", "exp_alerts": alert("page")}]},
            {"name": "slow burn: 0.2 % errors for 7 hours only tickets",
             "interval": "1m",
             "input_series": [{"series": series % "500", "values": "0+3x430"},
                              {"series": series % "200", "values": "0+1497x430"}],
             "alert_rule_test": [
                 {"eval_time": "7h", "alertname": "SLOBurnRatePage", "exp_alerts": []},
                 {"eval_time": "7h", "alertname": "SLOBurnRateTicket", "exp_alerts": alert("ticket")}]},
        ],
    }


def test_promtool_unit_tests_fast_burn_pages_slow_burn_only_tickets(converged):
    lb1 = lab_host("lb1")
    rules = yaml.safe_load(lb1.check_output("cat %s" % RULES))
    availability = {g["name"]: g for g in rules["groups"]}["slo_availability"]["rules"]
    annotations = {r["labels"]["severity"]: r["annotations"] for r in availability if "alert" in r}
    text = yaml.safe_dump(promtool_test(annotations), sort_keys=False)
    result = lb1.run("f=$(mktemp --suffix .yml) && cat > $f <<'EOF'\n%sEOF\npromtool test rules $f; rc=$?; rm -f $f; "
                     "exit $rc" % text)
    assert result.rc == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_bad_definitions_are_refused_with_nothing_changed(converged, tmp_path):
    before = rules_digest()
    bad_promql = copy.deepcopy(DEMO_SLOS)
    bad_promql[0]["sli"]["bad"] = 'demo_http_requests_total{job="demo",code=~"(5.."}'
    result = slo_playbook(tmp_path / "promql", slo_definitions=bad_promql)
    assert result.rc != 0
    message = " ".join(result.failure_messages())
    assert "Prometheus rejects the SLO rules (promtool check rules): " in message, message
    assert "error parsing regexp" in message and "the live rules are unchanged" in message, message
    assert result.changed() == 0, result.changed_tasks()
    bad_objective = copy.deepcopy(DEMO_SLOS)
    bad_objective[1]["objective"] = 100
    result = slo_playbook(tmp_path / "objective", slo_definitions=bad_objective)
    assert result.rc != 0
    assert "slo_definitions[1] (request_latency).objective must be a percentage above 0 and below 100, got 100" in (
        " ".join(result.failure_messages()))
    bad_window = copy.deepcopy(DEMO_SLOS)
    bad_window[0]["window"] = "30x"
    result = slo_playbook(tmp_path / "window", slo_definitions=bad_window)
    assert "slo_definitions[0] (availability).window has unknown unit 'x' in '30x'; known units: s, m, h, d, w" in (
        " ".join(result.failure_messages()))
    assert result.changed() == 0, result.changed_tasks()
    assert rules_digest() == before


# A fast burn the test controls: 404s of unknown paths against /version requests.
BURST_SLO = {
    "name": "lab_burst",
    "description": "Lab only: requests to unknown paths count as bad (a burst the test controls)",
    "objective": 99,
    "window": "30d",
    "sli": {"type": "ratio",
            "bad": 'demo_http_requests_total{job="demo",path="other",code="404"}',
            "total": 'demo_http_requests_total{job="demo",path=~"other|/version"}'},
}


def recorded(lb1, receiver):
    path = "%s/%s.jsonl" % (ALERTS_DIR, receiver)
    text = lb1.run("cat %s 2>/dev/null" % path).stdout
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_fast_burn_pages_through_alertmanager_to_the_webhook(converged, tmp_path):
    lb1 = lab_host("lb1")
    lb1.run("rm -f %s/page.jsonl" % ALERTS_DIR)
    loaded = slo_playbook(tmp_path / "burst", slo_definitions=DEMO_SLOS + [BURST_SLO], slo_alertmanager_group_wait="1s")
    assert loaded.rc == 0, loaded.failure_messages()
    started = time.monotonic()
    paged = []
    try:
        with Traffic(url="http://%s/no-such-page" % LB_ADDRESS, rate=50), \
             Traffic(url="http://%s/version" % LB_ADDRESS, rate=50):
            while not paged and time.monotonic() - started < 150:
                time.sleep(3)
                paged = [a for n in recorded(lb1, "page") for a in n["alerts"]
                         if a["labels"].get("slo") == "lab_burst" and a["status"] == "firing"]
        assert paged, (promql('slo:sli_error:ratio_rate5m{slo="lab_burst"}'), recorded(lb1, "page"))
        assert paged[0]["labels"]["alertname"] == "SLOBurnRatePage" and paged[0]["labels"]["severity"] == "page"
        # Routed by severity: the page receiver gets page alerts only.
        assert {a["labels"]["severity"] for n in recorded(lb1, "page") for a in n["alerts"]} == {"page"}
    finally:
        restored = slo_playbook(tmp_path / "restore")
        assert restored.rc == 0, restored.failure_messages()

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
        time.sleep(3)  # requests answered after the rollback
    assert result.rc != 0
    message = " ".join(result.failure_messages())
    # The release adds 250 ms: its p95 lies in a bucket at or above 0.25 s (higher when the
    # machine is loaded; the bucket bounds are what the message gives).
    found = re.search(r"gate failed at 10% of traffic on 4\.1\.0: FAIL: latency from SLO request_latency: p95 of "
                      r"the new slot over the stage between ([0-9.]+)s and ([0-9.]+)s", message)
    assert found and float(found.group(1)) >= 0.25, message
    assert traffic.failed == [], traffic.failed[:5]
    assert traffic.versions_since(after_rollback) == {before}
    gates = gate_events(result)
    assert len(gates) == 1 and gates[0]["verdict"] == "fail", gates
    names = [c["name"] for c in gates[0]["conditions"]]
    assert names == ["error_ratio from SLO availability", "availability from SLO availability",
                     "latency from SLO request_latency", "health"], names


# A lab-only SLO whose selector matches nothing: its report must say no data.
NO_DATA_SLO = dict(BURST_SLO, name="lab_no_data", sli={"type": "ratio", "bad": 'demo_no_such_total{code="500"}',
                                                       "total": "demo_no_such_total"})

CHART_CHECK = """<script>
window.addEventListener("load", function () {
  var out = [];
  document.querySelectorAll("img.chart").forEach(function (img) {
    var c = document.createElement("canvas"); c.width = img.naturalWidth; c.height = img.naturalHeight;
    var ctx = c.getContext("2d"); ctx.drawImage(img, 0, 0);
    var d = ctx.getImageData(0, 0, c.width, c.height).data, colours = {}, n = 0, line = 0;
    for (var i = 0; i < d.length; i += 4) {
      var k = d[i] + "," + d[i + 1] + "," + d[i + 2];
      if (!colours[k]) { colours[k] = 1; n++; }
      if (Math.abs(d[i] - 31) < 8 && Math.abs(d[i + 1] - 119) < 8 && Math.abs(d[i + 2] - 180) < 8) { line++; }
    }
    var box = img.getBoundingClientRect();
    out.push({id: img.id, width: img.naturalWidth, height: img.naturalHeight, colours: n, line_pixels: line,
              shown: box.width > 0 && box.height > 0});
  });
  var pre = document.createElement("pre"); pre.id = "chart-check"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script></body>"""


def chromium(*args):
    result = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_slo_report_equals_independent_promql_and_renders_its_charts(converged, tmp_path):
    exhaust_the_lab_budget()  # a burst of errors (404s) the lab_burst SLO counts
    dest = tmp_path / "report"
    result = run_playbook("slo_report.yml", {"slo_report_dest": str(dest),
                                             "slo_definitions": DEMO_SLOS + [BURST_SLO, NO_DATA_SLO]},
                          tmp_path=tmp_path / "run")
    assert result.rc == 0, result.failure_messages()
    report = json.loads((dest / "slo_report.json").read_text())
    at = report["generated_at"]
    slos = {s["slo"]: s for s in report["slos"]}
    for name, bad, total, budget in (
            ("availability", 'demo_http_requests_total{job="demo",code=~"5.."}', 'demo_http_requests_total{job="demo"}',
             0.001),
            ("lab_burst", BURST_SLO["sli"]["bad"], BURST_SLO["sli"]["total"], 0.01)):
        # Independent: increases over the window (not the rules' rates), at the report's time.
        query = "(sum(increase(%s[30d])) or vector(0)) / sum(increase(%s[30d]))" % (bad, total)
        status, body = http_get(PROMETHEUS + "/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": at}))
        assert status == 200, body
        series = json.loads(body)["data"]["result"]
        if name == "availability" and not series:
            raise AssertionError("no demo traffic in Prometheus over 30d")
        errors = float(series[0]["value"][1])
        assert abs(slos[name]["sli"] - (1 - errors)) < 1e-9, (name, slos[name]["sli"], errors)
        assert abs(slos[name]["remaining"] - (1 - errors / budget)) < 1e-6, (name, slos[name]["remaining"], errors)
    assert slos["lab_burst"]["sli"] < 0.99 and slos["lab_burst"]["status"] == "exhausted", slos["lab_burst"]
    assert (slos["lab_no_data"]["sli"], slos["lab_no_data"]["remaining"], slos["lab_no_data"]["status"]) == (
        None, None, "no data")
    markdown = (dest / "slo_report.md").read_text()
    assert "| lab_no_data | 99% | 30d | n/a | n/a |" in markdown and "| no data |" in markdown, markdown
    # Headless Chromium: a screenshot of the page, and every chart loaded, shown and drawn.
    checks = chart_checks((dest / "slo_report.html").read_text(), tmp_path)
    expected = sorted("%s-%s" % (s, kind) for s in slos for kind in ("sli", "budget"))
    assert sorted(c["id"] for c in checks) == expected
    for check in checks:
        assert check["shown"] and check["width"] >= 300 and check["height"] >= 150, check
        assert check["colours"] > 20, check  # axes, labels, grid: not a blank image
        if check["id"].startswith(("availability-", "lab_burst-")):
            assert check["line_pixels"] > 50, check  # the measured series is drawn
    shot = tmp_path / "report.png"
    chromium("--window-size=1300,2400", "--screenshot=%s" % shot, (dest / "slo_report.html").as_uri())
    assert shot.stat().st_size > 20000
    print("SLO report screenshot: %s" % shot)


def chart_checks(page, tmp_path):
    """Every chart of an HTML report as headless Chromium loaded and drew it."""
    (tmp_path / "check.html").write_text(page.replace("</body>", CHART_CHECK))
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", (tmp_path / "check.html").as_uri())
    return json.loads(html.unescape(dom.split('<pre id="chart-check">')[1].split("</pre>")[0]))


def test_the_capacity_report_measures_every_host_and_projects_the_trend(converged, tmp_path):
    dest = tmp_path / "capacity"
    with Traffic(threads=2):
        time.sleep(12)  # two scrapes of traffic in the 5 m rates
        # 72 minutes at one-minute steps: a lab minutes old already has several points
        # (over a day, steps are 7 minutes and a fresh lab has at most one).
        result = run_playbook("capacity_report.yml", {"capacity_report_dest": str(dest),
                                                      "capacity_report_trend_days": 0.05}, tmp_path=tmp_path / "run")
    assert result.rc == 0, result.failure_messages()
    report = json.loads((dest / "capacity_report.json").read_text())
    assert {h["host"] for h in report["hosts"]} == set(APP_HOSTS), report["hosts"]
    assert all(h["cpu"] > 0 and h["memory"] > 0 for h in report["hosts"]), report["hosts"]
    assert report["now"]["rps"] > 1, report["now"]
    assert report["trend"] is not None and report["trend"]["points"] >= 2, report["trend"]
    assert [p["months"] for p in report["projections"]] == [6, 12, 24]
    assert all(p["hosts"] >= 1 for p in report["projections"]), report["projections"]
    assert "## Projections" in (dest / "capacity_report.md").read_text()
    checks = chart_checks((dest / "capacity_report.html").read_text(), tmp_path)
    assert sorted(c["id"] for c in checks) == ["capacity-hosts", "capacity-trend"]
    assert all(c["shown"] and c["line_pixels"] > 50 for c in checks), checks


# The error-budget policy judged on an SLO the test can exhaust at will (1 h window).
BUDGET_SLO = dict(BURST_SLO, name="lab_budget", window="1h", objective=99.9)
# Without the throughput SLO: on a lab younger than its hour it is always spent (too few
# good timeslices yet), which would make every refusal's numbers depend on the lab's age.
POLICY = {"deploy_budget_policy": True,
          "slo_definitions": [s for s in DEMO_SLOS if s["name"] != "throughput"] + [BUDGET_SLO]}


def exhaust_the_lab_budget():
    """Requests to unknown paths until Prometheus sees the lab_budget SLO spent."""
    query = slo_rules_error(BUDGET_SLO)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for _ in range(50):
            http_get("http://%s/no-such-page" % LB_ADDRESS)
        result = promql(query)
        if result and float(result[0]["value"][1]) > 0.001:
            return float(result[0]["value"][1])
        time.sleep(2)
    raise AssertionError("Prometheus never saw the burst: %s" % promql(query))


def slo_rules_error(slo):
    sli = slo["sli"]
    return "(sum(rate(%s[%s])) or vector(0)) / sum(rate(%s[%s]))" % (sli["bad"], slo["window"], sli["total"],
                                                                     slo["window"])


def test_an_exhausted_budget_refuses_a_normal_change_with_the_numbers(converged, tmp_path):
    exhaust_the_lab_budget()
    log = tmp_path / "budget.jsonl"
    before = serving_version(), {name: lab_host(name).check_output("wc -l < /var/lib/fleetops/demo/ledger.jsonl")
                                 for name in APP_HOSTS}
    result = run_playbook("deploy.yml", {"deploy_version": "2.0.0", **GATE, **POLICY,
                                         "deploy_budget_log": str(log)}, tmp_path=tmp_path)
    assert result.rc != 0
    message = " ".join(result.failure_messages())
    assert "error budget exhausted, a normal change is refused: lab_budget: " in message, message
    assert "over 1h against 99.9%, " in message and "of the error budget spent" in message, message
    assert "Only an emergency or security change (deploy_change_type) may deploy now; nothing was changed" in message
    # The only change is the record of the refusal on the controller.
    assert {task.split(": ", 1)[1] for task in result.changed_tasks()} == {"Record a refused change on the controller"}
    after = serving_version(), {name: lab_host(name).check_output("wc -l < /var/lib/fleetops/demo/ledger.jsonl")
                                for name in APP_HOSTS}
    assert after == before
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["decision"], r["release"], r["change_type"], r["exhausted"]) for r in records] == [
        ("refused", "2.0.0", "normal", ["lab_budget"])]


def test_a_good_release_passes_the_gate_derived_from_the_slos_as_an_emergency_change(converged, tmp_path):
    """The emergency change goes ahead over the exhausted lab_budget SLO and the ledger
    says so; the gate's conditions are still the SLOs' (lab_budget names none)."""
    exhaust_the_lab_budget()
    started = time.monotonic()
    with Traffic(threads=4) as traffic:
        result = run_playbook("deploy.yml", {"deploy_version": "2.0.0", **GATE, **POLICY,
                                             "deploy_change_type": "emergency"}, tmp_path=tmp_path)
    assert result.rc == 0, result.failure_messages()
    assert traffic.failed == [], traffic.failed[:5]
    assert serving_version() == "2.0.0"
    gates = gate_events(result)
    assert [g["verdict"] for g in gates] == ["pass"] * 3, [g["summary"] for g in gates]
    latency = [c for c in gates[0]["conditions"] if c["name"] == "latency from SLO request_latency"][0]
    assert latency["verdict"] == "pass" and latency["stage_quantile"] < 0.2, latency
    assert time.monotonic() - started < 600
    for name in APP_HOSTS:
        ledger = [json.loads(line) for line in lab_host(name).check_output("cat /var/lib/fleetops/demo/ledger.jsonl")
                  .splitlines()]
        started_record = [r for r in ledger if r["release"] == "2.0.0" and r["event"] == "started"][-1]
        policy = started_record["details"]["error_budget_policy"]
        assert policy["change_type"] == "emergency" and "lab_budget" in policy["overridden"], policy
        assert policy["message"].startswith("error budget exhausted, the emergency change goes ahead (recorded): ")
