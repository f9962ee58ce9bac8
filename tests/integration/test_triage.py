"""incident_triage.yml on the lab: planted secrets never reach the bundle, hosts that cannot answer do not stop it.

Plants 20 secrets of different kinds on app1 and app2 (a config directory, an env file,
service logs (one of them a gzip rotation), the journal of a unit and the command line
of its process), writes a deploy's ledger events among the log lines, and runs the
playbook with one extra app host at an unused address. Everything planted is removed
afterwards (files, the unit, and the journal files that held its lines).
"""

import base64
import datetime
import gzip
import hashlib
import io
import json
import shlex
import subprocess
import tarfile
import time

import pytest
from conftest import APP_HOSTS, lab_host, run_playbook
from lab_helpers_triage import ghost_inventory

PLANT_HOSTS = ("app1", "app2")
CONF_DIR = "/etc/fleetops-triage-plant"
LOG_DIR = "/var/log/demo"
UNIT = "fleetops-triage-plant.service"
LAB_TOKEN = "lab-token-not-secret"  # the lab inventory's service_api_token, in /etc/demo/demo.env

PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjPlant05PrivateKeyBodyLine"
SECRETS = {
    "config_password": "Plant01-DbPass-x7Q",
    "config_aws_secret": "Plant02AwsSecretKeyAbcdefghijklmnopqrst12",
    "config_aws_key_id": "AKIAPLANT03EXAMPLE78",
    "config_url_password": "Plant04UrlPass",
    "config_private_key": PEM_BODY,
    "config_json_client_secret": "Plant06-ClientSecret",
    "env_redis_password": "Plant07-RedisPw",
    "env_github_token": "ghp_Plant08aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "env_stripe_key": "sk_live_Plant09abcdefghijkl",
    "log_bearer": "Plant10BearerTok123",
    "log_url_password": "Plant11RedisUrl",
    "log_password": "Plant12LogPass",
    "log_gz_api_key": "Plant13GzApiKey",
    "journal_session_key": "Plant14Journal",
    "journal_jwt": "eyJhbGciOiJIUzI1NiJ9.eyJQbGFudDE1IjoxfQ.Plant15JwtSignature",
    "journal_conn_string": "Plant16ConnStr",
    "cmdline_password": "Plant17CmdPass",
    "cmdline_token": "Plant18CmdToken",
    "cmdline_slack": "xoxb-123456789012-Plant19Slack",
    "journal_google_key": "AIzaPlant20abcdefghijklmnopqrstuvwxyz12",
}
# Context next to the secrets that a responder needs: it must survive redaction.
CONTEXT = ["db_host = db.internal", "user=bob", "GET /workflows 200", "User Id=sa", "triage-context-marker",
           "DEMO_PORT=8081"]


def run(host, command):
    result = lab_host(host).run(command)
    assert result.rc == 0, (host, command, result.stderr)
    return result.stdout


def stamp(seconds_ago):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def write(host, path, text, mode="0644"):
    run(host, "install -d -m 0755 %s && printf %%s %s > %s && chmod %s %s" % (
        shlex.quote(path.rsplit("/", 1)[0]), shlex.quote(text), shlex.quote(path), mode, shlex.quote(path)))


def plant(host):
    s = SECRETS
    write(host, CONF_DIR + "/app.ini",
          "[db]\ndb_host = db.internal\ndb_password = %s\ndatabase_url = postgresql://app:%s@db.internal:5432/app\n"
          "[aws]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
          % (s["config_password"], s["config_url_password"], s["config_aws_key_id"], s["config_aws_secret"]))
    write(host, CONF_DIR + "/tls.key",
          "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n" % s["config_private_key"], "0600")
    write(host, CONF_DIR + "/oauth.json",
          json.dumps({"client_id": "demo", "client_secret": s["config_json_client_secret"]}))
    write(host, CONF_DIR + "/plant.env", "export REDIS_PASSWORD=%s\nGITHUB_TOKEN=%s\nSTRIPE_KEY=%s\nDEMO_PORT=8081\n"
          % (s["env_redis_password"], s["env_github_token"], s["env_stripe_key"]), "0600")
    log = "".join([
        "%s INFO triage-context-marker request start\n" % stamp(150),
        "%s INFO GET /workflows 200 Authorization: Bearer %s\n" % (stamp(120), s["log_bearer"]),
        "%s WARN connecting to redis://:%s@cache:6379/0\n" % (stamp(60), s["log_url_password"]),
        "%s INFO login user=bob password=%s\n" % (stamp(20), s["log_password"]),
    ])
    write(host, LOG_DIR + "/app.log", log)
    rotated = gzip.compress(("%s INFO upstream api_key=%s\n" % (stamp(200), s["log_gz_api_key"])).encode())
    run(host, "printf %%s %s | base64 -d > %s/app.log.1.gz" % (shlex.quote(base64.b64encode(rotated).decode()),
                                                                LOG_DIR))
    script = ("echo session_key=%s; echo jwt %s; echo 'Server=db;User Id=sa;Password=%s;'; echo maps key %s; "
              "exec -a 'plantworker --db-password=%s --api-token %s %s' sleep 900"
              % (s["journal_session_key"], s["journal_jwt"], s["journal_conn_string"], s["journal_google_key"],
                 s["cmdline_password"], s["cmdline_token"], s["cmdline_slack"]))
    run(host, "systemctl stop %s 2>/dev/null; systemctl reset-failed %s 2>/dev/null; "
              "systemd-run --unit=%s --quiet /bin/bash -c %s" % (UNIT, UNIT, UNIT, shlex.quote(script)))


def write_ledger(host):
    """A deploy's events, written directly, with times between the planted log lines."""
    records = [
        {"ts": stamp(140), "run_id": "triage-test", "event": "started", "release": "0.0.0-triage"},
        {"ts": stamp(90), "run_id": "triage-test", "event": "gate", "release": "0.0.0-triage",
         "gate": {"verdict": "pass", "action": "promote", "summary": "0 errors in 400 requests"},
         "details": {"stage": {"percent": 10}}},
        {"ts": stamp(40), "run_id": "triage-test", "event": "gate", "release": "0.0.0-triage",
         "gate": {"verdict": "fail", "action": "rollback", "summary": "error ratio 5.1% above 1%"},
         "details": {"stage": {"percent": 50}}},
        {"ts": stamp(30), "run_id": "triage-test", "event": "rolled_back", "release": "0.0.0-triage"},
    ]
    lines = "".join(json.dumps(r) + "\n" for r in records)
    run(host, "install -d /var/lib/fleetops/demo && printf %%s %s >> /var/lib/fleetops/demo/ledger.jsonl"
        % shlex.quote(lines))


def remove(host):
    lab_host(host).run("systemctl stop %s; systemctl reset-failed %s; rm -rf %s %s/app.log %s/app.log.1.gz; "
                       "sleep 1; journalctl --sync; journalctl --rotate >/dev/null 2>&1; "
                       "journalctl --vacuum-time=1s >/dev/null 2>&1"
                       % (UNIT, UNIT, CONF_DIR, LOG_DIR, LOG_DIR))


@pytest.fixture(scope="module")
def planted(converged):
    for host in PLANT_HOSTS:
        plant(host)
    write_ledger("app1")
    time.sleep(1)  # let the unit's lines reach the journal
    yield
    for host in PLANT_HOSTS:
        remove(host)
    for host in PLANT_HOSTS:
        left = lab_host(host).run("grep -rl Plant0 %s %s 2>/dev/null; journalctl -q --no-pager | grep -c Plant1"
                                  % (CONF_DIR, LOG_DIR))
        assert left.stdout.strip() in ("", "0"), (host, left.stdout)


def extravars(tmp_path, **extra):
    values = {"triage_since": "15m", "triage_output_dir": str(tmp_path / "bundles"),
              "triage_map_dir": str(tmp_path / "map"), "triage_extra_units": [UNIT],
              "triage_extra_config_paths": [CONF_DIR], "triage_command_timeout": 10}
    values.update(extra)
    return values


def unpack(bundle):
    """Every file of the bundle as text, compressed members decompressed too."""
    files = {}
    with tarfile.open(bundle) as tar:
        for member in tar:
            if not member.isreg():
                continue
            data = tar.extractfile(member).read()
            files[member.name] = data
            if member.name.endswith(".gz"):
                files[member.name + "!gunzip"] = gzip.decompress(data)
            if member.name.endswith((".tar.gz", ".tgz")):
                with tarfile.open(fileobj=io.BytesIO(data)) as inner:
                    for sub in inner:
                        if sub.isreg():
                            files[member.name + "!" + sub.name] = inner.extractfile(sub).read()
            if member.name.endswith(".zst"):
                files[member.name + "!unzstd"] = subprocess.run(["zstd", "-dc"], input=data, capture_output=True,
                                                                check=True).stdout
    with open(bundle, "rb") as handle:
        files["<whole bundle, decompressed>"] = gzip.decompress(handle.read())
    return dict((name, data.decode("utf-8", "replace")) for name, data in files.items())


@pytest.fixture(scope="module")
def triaged(planted, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("triage")
    started = time.monotonic()
    result = run_playbook("incident_triage.yml", extravars(tmp_path), tmp_path=tmp_path / "run",
                          extra_inventory=ghost_inventory(tmp_path))
    seconds = time.monotonic() - started
    assert result.rc == 0, (result.failure_messages(), result.stdout[-4000:])
    [bundle] = (tmp_path / "bundles").glob("triage-*.tar.gz")
    print("triage of %d hosts (one unreachable) took %.1f s" % (len(APP_HOSTS) + 2, seconds))
    return dict(result=result, bundle=bundle, files=unpack(bundle), tmp=tmp_path,
                map=json.loads((tmp_path / "map" / "obfuscation-map.json").read_text()))


def root_of(files):
    return next(iter(files)).split("/", 1)[0]


def test_no_planted_secret_is_in_the_bundle(triaged):
    leaks = [(kind, name) for kind, secret in list(SECRETS.items()) + [("lab_api_token", LAB_TOKEN)]
             for name, text in triaged["files"].items() if secret in text]
    assert leaks == []
    # ... and each was there to find: the map knows every one of them.
    known = set(triaged["map"]["tokens"].values())
    missing = [kind for kind, secret in SECRETS.items() if not any(secret in value for value in known)]
    assert missing == []
    assert not any("obfuscation" in name or "map.json" in name for name in triaged["files"])


def test_non_secret_context_survives(triaged):
    text = "".join(triaged["files"].values())
    assert [c for c in CONTEXT if c not in text] == []
    # The processes and sockets of the hosts are there, the planted worker's command line redacted.
    root = root_of(triaged["files"])
    processes = triaged["files"]["%s/hosts/app1/system/processes.txt" % root]
    assert "plantworker --db-password=REDACTED-" in processes and "--api-token REDACTED-" in processes


def test_the_same_secret_is_the_same_token_on_every_host(triaged):
    token = next(t for t, s in triaged["map"]["tokens"].items() if s == SECRETS["config_password"])
    root = root_of(triaged["files"])
    for host in PLANT_HOSTS:
        config = triaged["files"]["%s/hosts/%s/config/etc_fleetops-triage-plant_app.ini" % (root, host)]
        assert "db_password = %s" % token in config


def test_the_timeline_is_sorted_and_shows_the_gate_among_log_lines(triaged):
    root = root_of(triaged["files"])
    events = [json.loads(line) for line in triaged["files"][root + "/timeline.jsonl"].splitlines()]
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    sources = [(e["host"], e["source"], e["text"]) for e in events]
    gates = [i for i, (host, source, text) in enumerate(sources)
             if source == "ledger" and " gate " in text and "run=triage-test" in text]
    assert len(gates) == 2
    assert "verdict=fail action=rollback stage=50" in sources[gates[1]][2]
    logs = [i for i, (_h, source, _t) in enumerate(sources) if source.startswith("log:")]
    assert min(logs) < gates[0] < gates[1] < max(logs)
    assert any(source.startswith("journal:") for _h, source, _t in sources)
    text = triaged["files"][root + "/timeline.txt"]
    assert "app1 ledger ledger gate release=0.0.0-triage run=triage-test gate verdict=pass" in text


def test_an_unreachable_host_is_reported_and_the_rest_is_bundled(triaged):
    root = root_of(triaged["files"])
    manifest = json.loads(triaged["files"][root + "/manifest.json"])
    assert manifest["hosts"]["ghost"]["status"] == "unreachable"
    assert [h for h, s in manifest["hosts"].items() if s["status"] == "collected"] == ["app1", "app2", "app3", "lb1"]
    severity = json.loads(triaged["files"][root + "/severity.json"])
    assert severity["severity"] in ("P0", "P1", "P2")
    assert any(reason.startswith("P2: ghost: unreachable") for reason in severity["reasons"])
    assert [step["level"] for step in severity["escalation"]] == ["L1", "L2"] or severity["severity"] != "P2"
    assert "ghost" in triaged["files"][root + "/summary.html"]


def test_manifest_and_sums_match_the_files(triaged):
    files = triaged["files"]
    root = root_of(files)
    sums = [line.split("  ", 1) for line in files[root + "/SHA256SUMS"].splitlines()]
    assert len(sums) > 20
    for digest, name in sums:
        assert hashlib.sha256(files["%s/%s" % (root, name)].encode()).hexdigest() == digest, name
    manifest = json.loads(files[root + "/manifest.json"])
    for host, report in manifest["host_reports"].items():
        assert report["bytes"] <= report["caps"]["max_host_bytes"], host


def test_hosts_keep_nothing_and_a_second_run_changes_nothing(triaged, tmp_path):
    for host in list(APP_HOSTS) + ["lb1"]:
        assert lab_host(host).run("ls -d /tmp/fleetops-triage-* 2>/dev/null").stdout == "", host
    result = run_playbook("incident_triage.yml", extravars(triaged["tmp"]), tmp_path=tmp_path / "run")
    assert result.rc == 0, result.failure_messages()
    assert result.changed() == 0, result.changed_tasks()


def test_check_mode_changes_nothing(planted, tmp_path):
    result = run_playbook("incident_triage.yml", extravars(tmp_path), check=True, tmp_path=tmp_path / "run")
    assert result.rc == 0, result.failure_messages()
    assert result.changed() == 0, result.changed_tasks()


@pytest.mark.parametrize("extra,expected", [
    ({"triage_since": "2099-01-01T00:00:00Z"}, "since: 2099-01-01T00:00:00Z is in the future (now is "),
    ({"triage_max_file_bytes": 0}, "max_file_bytes: 0 must be a whole number above 0 (a cap of 0 would collect "
                                   "nothing)"),
    ({"triage_max_host_bytes": 0}, "max_host_bytes: 0 must be a whole number above 0 (a cap of 0 would collect "
                                   "nothing)"),
])
def test_bad_input_is_refused_before_any_host_is_read(converged, tmp_path, extra, expected):
    result = run_playbook("incident_triage.yml", extravars(tmp_path, **extra), tmp_path=tmp_path / "run")
    assert result.rc != 0
    messages = " ".join(result.failure_messages())
    assert expected in messages, messages
    collected = [e for e in result.events if e["event"] == "runner_on_ok"
                 and e["event_data"].get("task") == "Collect this host's evidence"]
    assert collected == []
    assert not (tmp_path / "bundles").exists()
