# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""triage_collect and triage_bundle in-process: bad inputs, a local collection, a merge with a missing host."""

from __future__ import annotations

import datetime
import gzip
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
import yaml
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_bundle import extract_host
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_collectors import read_tail, run_command
from ansible_collections.fleetops.lifecycle.plugins.modules import triage_bundle, triage_collect
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    assert_options_match_spec,
    run_module,
)

pytestmark = pytest.mark.usefixtures("ansible_module_exits")

ROOT = Path(__file__).resolve().parents[4]
DEFAULTS = yaml.safe_load((ROOT / "roles" / "triage" / "defaults" / "main.yml").read_text())
KEY = "ab" * 32
SECRET = "Planted-Secret-0042"
CMDLINE_SECRET = "UnitCmdPass-0043"


def fail(main, args):
    with pytest.raises(AnsibleFailJson) as exc:
        run_module(main, args)
    return exc.value.result


def future(hours=2):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_documented_options_match_the_specs():
    for module in (triage_collect, triage_bundle):
        documented = yaml.safe_load(module.DOCUMENTATION)["options"]
        assert_options_match_spec(documented, module.ARGUMENT_SPEC)


def test_collect_refuses_a_since_in_the_future():
    since = future()
    result = fail(triage_collect.main, {"host": "h", "since": since, "redaction_key": KEY})
    assert result["msg"].startswith("since: %s is in the future (now is " % since)
    assert result["msg"].endswith("); the window must start in the past")


@pytest.mark.parametrize("option", ["max_file_bytes", "max_host_bytes", "max_journal_lines", "max_timeline_events"])
def test_collect_refuses_a_cap_of_zero(option):
    result = fail(triage_collect.main, {"host": "h", "since": "1h", "redaction_key": KEY, option: 0})
    assert result["msg"] == "%s: 0 must be a whole number above 0 (a cap of 0 would collect nothing)" % option


def test_collect_refuses_a_zero_timeout():
    result = fail(triage_collect.main, {"host": "h", "since": "1h", "redaction_key": KEY, "command_timeout": 0})
    assert result["msg"] == "command_timeout: 0.0 must be a number of seconds above 0"


def bundle_args(tmp_path, **extra):
    args = {"map_path": str(tmp_path / "map" / "obfuscation-map.json"), "output_dir": str(tmp_path / "out"),
            "since": "1h", "severity_policy": DEFAULTS["triage_severity_policy"],
            "severity_rules": DEFAULTS["triage_severity_rules"]}
    args.update(extra)
    return args


def test_preflight_refuses_a_since_in_the_future(tmp_path):
    since = future()
    result = fail(triage_bundle.main, bundle_args(tmp_path, since=since, validate_only=True))
    assert result["msg"].startswith("since: %s is in the future" % since)


@pytest.mark.parametrize("value", [0, "0", -5])
def test_preflight_refuses_caps_of_zero(tmp_path, value):
    result = fail(triage_bundle.main, bundle_args(tmp_path, caps={"max_host_bytes": value}, validate_only=True))
    assert result["msg"] == "max_host_bytes: %r must be a whole number above 0 (a cap of 0 would collect nothing)" % (
        0 if value == "0" else value)


def test_preflight_accepts_the_defaults(tmp_path):
    caps = dict((k[len("triage_"):], DEFAULTS[k]) for k in DEFAULTS if k.startswith("triage_max_"))
    result = run_module(triage_bundle.main, bundle_args(tmp_path, caps=caps, validate_only=True))
    assert result["changed"] is False
    assert not (tmp_path / "out").exists()


def plant(tmp_path):
    conf = tmp_path / "etc"
    logs = tmp_path / "log"
    conf.mkdir()
    logs.mkdir()
    (conf / "demo.env").write_text("DEMO_API_TOKEN=%s\nDEMO_PORT=8081\n" % SECRET)
    now = datetime.datetime.now(datetime.timezone.utc)
    old = (now - datetime.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = (now - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (logs / "app.log").write_text("%s old line\n%s using token %s for upstream\n%s GET /workflows 200\n"
                                  % (old, recent, SECRET, recent))
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(json.dumps({"ts": recent.replace("Z", ".000Z"), "run_id": "r1", "event": "gate",
                                  "release": "2.0.0", "gate": {"verdict": "pass", "action": "promote"},
                                  "details": {"stage": {"percent": 10}}}) + "\n")
    return conf, logs, ledger


def collect_here(tmp_path, **extra):
    conf, logs, ledger = plant(tmp_path)
    args = {"host": "here", "since": "1h", "redaction_key": KEY, "config_paths": [str(conf)],
            "log_paths": [str(logs)], "ledger_path": str(ledger), "units": ["fleetops-no-such.service"],
            "probes": [{"name": "disk", "type": "disk", "path": "/", "min_free_percent": 1}],
            "tmp_dir": str(tmp_path)}
    args.update(extra)
    return run_module(triage_collect.main, args)


def members(archive):
    with tarfile.open(archive) as tar:
        return dict((m.name, tar.extractfile(m).read().decode()) for m in tar if m.isreg())


def test_collect_redacts_and_keeps_the_map_outside_the_archive(tmp_path):
    # A process of our own with a password on its command line; other programs on the machine
    # (a lab's triage test plants some) may add theirs to the process list, so the map is checked
    # for ours and every other pseudonym must come from that list alone.
    planted = subprocess.Popen(["bash", "-c", "exec -a 'unitworker --db-password=%s' sleep 60" % CMDLINE_SECRET])
    try:
        result = collect_here(tmp_path)
    finally:
        planted.kill()
        planted.wait()
    assert result["changed"] is False
    files = members(result["archive"])
    assert all(SECRET not in text and CMDLINE_SECRET not in text for text in files.values())
    originals = json.loads(Path(result["map_path"]).read_text())
    assert SECRET in originals.values() and CMDLINE_SECRET in originals.values()
    for pseudonym, original in originals.items():
        where = sorted(name for name, text in files.items() if pseudonym in text)
        if original == SECRET:
            assert any("/config/" in name for name in where) and any("/logs/" in name for name in where), where
        elif original == CMDLINE_SECRET:
            assert where == ["here/system/processes.txt"], where
        else:
            assert set(where) <= {"here/system/processes.txt"}, (original[:4], where)
    assert "DEMO_PORT=8081" in files["here/config/%s_etc_demo.env" % str(tmp_path).strip("/").replace("/", "_")]
    assert oct(os.stat(result["map_path"]).st_mode & 0o777) == "0o600"
    timeline = [json.loads(line) for line in files["here/timeline.jsonl"].splitlines()]
    assert [e["source"] for e in timeline if e["source"] == "ledger"] == ["ledger"]
    assert not any("old line" in e["text"] for e in timeline)
    report = json.loads(files["here/collection.json"])
    assert report["probes"][0]["ok"] is True
    assert report["units"]["fleetops-no-such.service"].get("ActiveState") in ("inactive", None)


def test_collect_respects_the_caps(tmp_path):
    logs = tmp_path / "big"
    logs.mkdir()
    line = "2026-12-06T05:00:00Z " + "x" * 100 + "\n"
    for index in range(6):
        (logs / ("f%d.log" % index)).write_text(line * 2000)
    result = collect_here(tmp_path, log_paths=[str(logs)], since="3650d", max_file_bytes=50000,
                          max_host_bytes=120000)
    assert result["collected_bytes"] <= 120000
    report = json.loads(members(result["archive"])["here/collection.json"])
    assert all(i.get("kept_bytes", 0) <= 50000 for i in report["items"])
    assert any(i["status"] == "omitted" and i["message"] == "max_host_bytes reached" for i in report["items"]), "%s" % [
        (i["name"], i["status"], i.get("kept_bytes"), i["message"]) for i in report["items"]]


def test_a_command_that_hangs_is_cut_by_its_timeout():
    started = time.monotonic()
    outcome = run_command(["sleep", "30"], 0.5, 1000)
    assert time.monotonic() - started < 5
    assert (outcome.status, outcome.message) == ("timeout", "sleep 30 did not finish within 0.5s")


def test_a_flooding_command_is_capped():
    outcome = run_command(["seq", "1", "100000"], 10, 1000, keep="tail")
    assert outcome.kept <= 1000 and outcome.text.endswith("100000\n")
    assert outcome.status == "truncated"


def test_read_tail_of_gzip_and_refuses_links(tmp_path):
    path = tmp_path / "app.log.1.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("".join("line %d\n" % i for i in range(10000)))
    outcome = read_tail(str(path), 100)
    assert outcome.text.endswith("line 9999\n") and len(outcome.text) <= 100
    (tmp_path / "link").symlink_to(path)
    assert read_tail(str(tmp_path / "link"), 100).status == "error"


def test_bundle_merges_a_collected_host_and_reports_an_unreachable_one(tmp_path):
    result = collect_here(tmp_path)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    os.rename(result["archive"], incoming / "here.tar.gz")
    os.rename(result["map_path"], incoming / "here.map.json")
    results = {"here": result, "gone": {"unreachable": True, "msg": "ssh: connect to host 10.0.0.99: timed out"}}
    out = run_module(triage_bundle.main, bundle_args(tmp_path, results=results, incoming_dir=str(incoming),
                                                     app_hosts=["here", "gone"]))
    assert out["hosts"]["gone"] == {"status": "unreachable", "message": "ssh: connect to host 10.0.0.99: timed out"}
    assert out["hosts"]["here"]["status"] == "collected"
    assert out["severity"]["severity"] in ("P1", "P2")
    assert "P2: gone: unreachable (ssh: connect to host 10.0.0.99: timed out)" in out["severity"]["reasons"]
    files = members(out["bundle"])
    name = os.path.basename(out["bundle"])[:-len(".tar.gz")]
    assert {"manifest.json", "SHA256SUMS", "summary.html", "timeline.txt", "severity.json"} <= {
        n.split("/", 1)[1] for n in files}
    assert all(SECRET not in text for text in files.values())
    assert "obfuscation" not in " ".join(files)
    saved = json.loads(Path(tmp_path / "map" / "obfuscation-map.json").read_text())
    assert SECRET in saved["tokens"].values()
    assert "gone" in files[name + "/summary.html"]
    sums = dict(line.split("  ")[::-1] for line in files[name + "/SHA256SUMS"].splitlines())
    assert set(sums) >= {"summary.html", "manifest.json", "timeline.txt"}


def test_extract_refuses_a_member_outside_the_host(tmp_path):
    archive = tmp_path / "a.tar.gz"
    (tmp_path / "x").write_text("x")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "x", arcname="other/x")
    with pytest.raises(ResultError) as error:
        extract_host(str(archive), "here", str(tmp_path / "dest"), 1000)
    assert error.value.msg == "archive of here: member 'other/x' is outside here/"


def test_two_sources_with_the_same_flat_name_are_both_kept(tmp_path):
    (tmp_path / "x" / "a").mkdir(parents=True)
    (tmp_path / "x" / "a" / "b").write_text("first=1\n")
    (tmp_path / "x" / "a_b").write_text("second=2\n")
    result = collect_here(tmp_path, config_paths=[str(tmp_path / "x")])
    texts = members(result["archive"]).values()
    assert any("first=1" in t for t in texts) and any("second=2" in t for t in texts)
