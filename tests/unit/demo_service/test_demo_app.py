"""examples/demo_service/app.py, run as a real process on loopback."""

import concurrent.futures
import hashlib
import json
import signal
import sqlite3
import threading
import time

import pytest
from demo_service_helpers import TOKEN, free_port, run_cli, write_config, write_release
from prometheus_client.parser import text_string_to_metric_families


def metric_samples(app, reached=None):
    """{(sample name, frozenset of labels): value} from /metrics.

    The app counts a request once its reply is sent (the duration covers the write), so
    a scrape right after a reply can come first: with ``reached`` ({sample key: value}),
    scrape again for up to 5 s until each of those samples is at least its value."""
    deadline = time.monotonic() + 5
    while True:
        response = app.get("/metrics")
        assert response.status == 200
        samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }
        if all(samples.get(key, 0) >= value for key, value in (reached or {}).items()) or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def db_rows(state_dir):
    with sqlite3.connect(state_dir / "state.db") as db:
        return db.execute("SELECT id, name, created_at FROM workflows ORDER BY id").fetchall()


def labels(**items):
    return frozenset(items.items())


@pytest.fixture(scope="module")
def app(module_launcher):
    return module_launcher.start()


# --- endpoints -------------------------------------------------------------


def test_healthz_answers_ok(app):
    response = app.get("/healthz")
    assert (response.status, response.text) == (200, "ok\n")


def test_readyz_answers_ready(app):
    response = app.get("/readyz")
    assert (response.status, response.text) == (200, "ready\n")


def test_root_greets_with_version_and_slot(app):
    response = app.get("/")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert (body["version"], body["slot"]) == ("1.0.0", "blue")
    assert body["message"] == "hello from demo-service"


def test_version_reports_release_and_faults(app):
    assert app.get("/version").json() == {
        "name": "demo-service",
        "version": "1.0.0",
        "slot": "blue",
        "faults": {"error_ratio": 0.0, "latency_ms": 0, "fail_start": False},
    }


def test_unknown_path_is_404_and_labelled_other(app):
    assert app.get("/no/such/page?x=1").status == 404
    counted = ("demo_http_requests_total", labels(method="GET", path="other", code="404"))
    samples = metric_samples(app, reached={counted: 1})
    assert samples[counted] >= 1
    assert not [key for key in samples if ("path", "/no/such/page") in key[1]]


def test_wrong_method_is_405(app):
    response = app.request("POST", "/healthz", body=b"{}")
    assert response.status == 405
    assert response.json() == {"error": "method not allowed (allowed: GET)"}


def test_metrics_expose_the_contract_names(app):
    app.get("/")
    response = app.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain")
    counted = ("demo_http_requests_total", labels(method="GET", path="/", code="200"))
    samples = metric_samples(app, reached={counted: 1})
    assert samples[("demo_build_info", labels(version="1.0.0", slot="blue"))] == 1
    assert samples[counted] >= 1
    assert ("demo_http_request_duration_seconds_bucket", labels(path="/", le="0.005")) in samples
    assert ("demo_http_request_duration_seconds_bucket", labels(path="/", le="0.25")) in samples
    assert samples[("demo_workflows", frozenset())] == app.get("/workflows").json()["count"]


# --- workflows -------------------------------------------------------------


def test_workflows_checksum_covers_all_rows_in_id_order(app):
    assert app.post_workflow("checksum-a").status == 201
    assert app.post_workflow('quotes " and \n newlines').status == 201
    rows = db_rows(app.state_dir)
    expected = hashlib.sha256(b"".join(json.dumps(list(row)).encode() + b"\n" for row in rows)).hexdigest()
    assert app.get("/workflows").json() == {"count": len(rows), "checksum": expected}


def test_post_adds_a_row_and_changes_the_checksum(app):
    before = app.get("/workflows").json()
    response = app.post_workflow("deploy-42")
    assert response.status == 201
    assert response.json()["name"] == "deploy-42"
    after = app.get("/workflows").json()
    assert after["count"] == before["count"] + 1
    assert after["checksum"] != before["checksum"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "],
    ids=["missing", "wrong", "wrong-scheme", "token-prefix", "empty"],
)
def test_post_without_the_token_is_401(app, authorization):
    before = app.get("/workflows").json()
    headers = {"Authorization": authorization} if authorization else {}
    response = app.request("POST", "/workflows", json.dumps({"name": "x"}), headers)
    assert response.status == 401
    assert app.get("/workflows").json() == before


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"nom": "x"}', b'{"name": ""}', b'{"name": 7}', json.dumps({"name": "x" * 201}).encode()],
    ids=["not-json", "not-object", "no-name", "empty-name", "not-string", "too-long"],
)
def test_post_with_a_bad_body_is_400(app, body):
    response = app.request("POST", "/workflows", body, {"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 400


def test_blue_and_green_share_the_state(app, module_launcher):
    green = module_launcher.start(slot="green", state_dir=app.state_dir)
    assert green.post_workflow("from-green").status == 201
    assert app.post_workflow("from-blue").status == 201
    assert green.get("/workflows").json() == app.get("/workflows").json()
    assert green.get("/version").json()["slot"] == "green"


# --- faults ----------------------------------------------------------------


def test_error_ratio_fails_that_share_of_requests(launcher):
    app = launcher.start(error_ratio=0.25)
    statuses = [app.get("/").status for _ in range(400)]
    failures = statuses.count(500)
    # Binomial(400, 0.25): mean 100, sd ~8.7; +-40 is more than 4.5 sd.
    assert 60 <= failures <= 140
    assert set(statuses) == {200, 500}
    counted = ("demo_http_requests_total", labels(method="GET", path="/", code="500"))
    samples = metric_samples(app, reached={counted: failures})
    assert samples[counted] == failures
    assert app.get("/healthz").status == 200


def test_latency_is_added_to_root_only(launcher):
    app = launcher.start(latency_ms=200)
    started = time.monotonic()
    assert app.get("/").status == 200
    assert time.monotonic() - started >= 0.2
    slow_enough = ("demo_http_request_duration_seconds_bucket", labels(path="/", le="0.5"))
    samples = metric_samples(app, reached={slow_enough: 1})
    assert samples[("demo_http_request_duration_seconds_bucket", labels(path="/", le="0.1"))] == 0
    assert samples[slow_enough] == 1


def test_workers_bound_the_requests_handled_at_once(launcher):
    # One worker and 300 ms per request: four parallel requests take about 4 x 300 ms.
    app = launcher.start(latency_ms=300, config_extra="workers = 1")
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: app.get("/").status, range(4)))
    assert statuses == [200] * 4
    assert time.monotonic() - started >= 1.1


def test_fail_start_exits_3_before_opening_state_or_port(tmp_path):
    release = write_release(tmp_path / "release", fail_start=True)
    config = write_config(tmp_path / "demo.ini", tmp_path)
    result = run_cli("--config", config, "--slot", "green", env={"DEMO_PORT": str(free_port())}, app=release / "app.py")
    assert result.returncode == 3
    assert "ERROR [green] release 1.0.0 has faults.fail_start set: refusing to start" in result.stderr
    assert "listening" not in result.stderr
    assert not (tmp_path / "state.db").exists()


def test_malformed_release_json_is_refused(tmp_path):
    release = write_release(tmp_path / "release", error_ratio=2)
    config = write_config(tmp_path / "demo.ini", tmp_path)
    result = run_cli("--config", config, "--slot", "blue", env={"DEMO_PORT": "8081"}, app=release / "app.py")
    assert result.returncode == 2
    assert result.stderr.strip().endswith("faults.error_ratio = 2: expected a number from 0 to 1")


# --- shutdown --------------------------------------------------------------


def slow_get(app, results):
    thread = threading.Thread(target=lambda: results.append(app.get("/")))
    thread.start()
    time.sleep(0.3)  # let the request reach the handler
    return thread


def test_sigterm_drains_finishes_in_flight_and_persists(launcher):
    app = launcher.start(latency_ms=1500, config_extra="drain_seconds = 1")
    for name in ("keep-1", "keep-2"):
        assert app.post_workflow(name).status == 201
    results = []
    thread = slow_get(app, results)
    app.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    readyz = app.get("/readyz")
    assert (readyz.status, readyz.text) == (503, "draining\n")
    assert app.get("/healthz").status == 200
    assert app.proc.wait(15) == 0
    thread.join(5)
    assert [response.status for response in results] == [200]
    assert [row[1] for row in db_rows(app.state_dir)] == ["keep-1", "keep-2"]
    assert "database checkpointed" in app.stderr()
    assert TOKEN not in app.stderr()


def test_sigint_without_drain_delay_still_finishes_in_flight(launcher):
    app = launcher.start(latency_ms=800)
    results = []
    thread = slow_get(app, results)
    assert app.stop(signal.SIGINT) == 0
    thread.join(5)
    assert [response.status for response in results] == [200]


# --- command line ----------------------------------------------------------


def test_check_config_accepts_a_good_file(tmp_path):
    result = run_cli("--check-config", "--config", write_config(tmp_path / "demo.ini", "/var/lib/demo"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "config ok\n", "")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[server]\nlisten = 127.0.0.1\n[extra]\nx = 1\n", "[extra]: unknown section (known: server, state, log)"),
        ("[DEFAULT]\nlisten = ::\n", "[DEFAULT]: unknown section (known: server, state, log)"),
        ("[server]\nport = 80\n", "[server] port = '80': unknown option (known: listen, drain_seconds, workers)"),
        ("[server]\nworkers = 0\n", "[server] workers = '0': expected a whole number of request workers from 1 to 256"),
        ("[server]\nlisten = localhost\n", "[server] listen = 'localhost': not an IP address"),
        ("[server]\ndrain_seconds = 61\n", "[server] drain_seconds = '61': expected a number of seconds from 0 to 60"),
        ("[state]\ndir = var/lib/demo\n", "[state] dir = 'var/lib/demo': must be an absolute path"),
        (
            "[log]\nlevel = loud\n",
            "[log] level = 'loud': not a log level (expected one of: debug, info, warning, error)",
        ),
    ],
    ids=["section", "default-section", "option", "workers", "listen", "drain", "state-dir", "log-level"],
)
def test_check_config_names_the_bad_option_and_value(tmp_path, content, message):
    config = tmp_path / "demo.ini"
    config.write_text(content)
    result = run_cli("--check-config", "--config", config)
    assert result.returncode == 2
    assert result.stderr == f"demo-service: error: {config}: {message}\n"
    assert result.stdout == ""


def test_check_config_reports_every_problem(tmp_path):
    config = tmp_path / "demo.ini"
    config.write_text("[log]\nlevel = loud\n[state]\ndir = relative\n")
    assert run_cli("--check-config", "--config", config).stderr.count("demo-service: error:") == 2


def test_check_config_rejects_non_ini_and_missing_files(tmp_path):
    config = tmp_path / "demo.ini"
    config.write_text("listen = 0.0.0.0\n")
    result = run_cli("--check-config", "--config", config)
    assert result.returncode == 2
    assert result.stderr.startswith(f"demo-service: error: {config}: not a valid INI file:")
    missing = run_cli("--check-config", "--config", tmp_path / "nope.ini")
    assert missing.returncode == 2
    assert (
        missing.stderr
        == f"demo-service: error: cannot read config {tmp_path / 'nope.ini'}: No such file or directory\n"
    )


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("0", "DEMO_PORT='0': expected an integer port from 1 to 65535"),
        ("65536", "DEMO_PORT='65536': expected an integer port from 1 to 65535"),
        ("http", "DEMO_PORT='http': expected an integer port from 1 to 65535"),
        ("+80", "DEMO_PORT='+80': expected an integer port from 1 to 65535"),
        (None, "DEMO_PORT is not set (set it or pass --port)"),
    ],
)
def test_invalid_demo_port_is_named(tmp_path, port, message):
    release = write_release(tmp_path / "release")
    config = write_config(tmp_path / "demo.ini", tmp_path)
    result = run_cli("--config", config, "--slot", "blue", env={"DEMO_PORT": port}, app=release / "app.py")
    assert result.returncode == 2
    assert result.stderr == f"demo-service: error: {message}\n"


def test_invalid_port_option_and_missing_slot_are_usage_errors(tmp_path):
    config = write_config(tmp_path / "demo.ini", tmp_path)
    bad_port = run_cli("--config", config, "--slot", "blue", "--port", "0")
    assert bad_port.returncode == 2
    assert bad_port.stderr.endswith(
        "demo-service: error: argument --port: '0': expected an integer port from 1 to 65535\n"
    )
    no_slot = run_cli("--config", config)
    assert no_slot.returncode == 2
    assert no_slot.stderr.endswith("demo-service: error: --slot is required to serve\n")


def test_backup_is_a_consistent_self_contained_copy(app, tmp_path):
    for name in ("backup-a", "backup-b"):
        assert app.post_workflow(name).status == 201
    live = app.get("/workflows").json()
    target = tmp_path / "backup.db"
    result = run_cli("--backup-to", target, "--config", app.config)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary == {
        "path": str(target),
        "rows": live["count"],
        "bytes": target.stat().st_size,
        "checksum": live["checksum"],
    }
    with sqlite3.connect(target) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert db.execute("SELECT count(*) FROM workflows").fetchone()[0] == live["count"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["backup.db"]


def test_backup_without_a_database_fails(tmp_path):
    config = write_config(tmp_path / "demo.ini", tmp_path)
    result = run_cli("--backup-to", tmp_path / "backup.db", "--config", config)
    assert result.returncode == 1
    assert result.stderr == f"demo-service: error: no database at {tmp_path / 'state.db'}\n"


# Last in the module: the module's app has by now seen the token in every place a client can put it.
def test_token_never_reaches_the_log(app):
    app.get(f"/?token={TOKEN}")
    app.request("GET", "/readyz", headers={"Authorization": f"Bearer {TOKEN}"})
    app.post_workflow(TOKEN)
    app.request("POST", "/workflows", b"{", {"Authorization": f"Bearer {TOKEN}"})
    app.request("BREW", f"/{TOKEN}")
    stderr = app.stderr()
    assert TOKEN not in stderr
    assert "[REDACTED]" in stderr
