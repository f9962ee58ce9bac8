"""Bad input stops site.yml with a message naming the option and value, before any host changes."""

import shutil

import pytest
from conftest import BASE_VERSION, REPO, lab_host, run_playbook


def _live_files():
    lb = lab_host("lb1")
    return {
        "haproxy": lb.file("/etc/haproxy/haproxy.cfg").sha256sum,
        "haproxy_service": lb.file("/etc/haproxy/conf.d/demo.cfg").sha256sum,
        "haproxy service": lb.file("/etc/haproxy/conf.d/demo.cfg").sha256sum,
        "prometheus": lb.file("/etc/prometheus/prometheus.yml").sha256sum,
        "app1": lab_host("app1").file("/opt/demo/current-blue").linked_to,
    }


def _assert_refused(result, expected, before):
    assert result.rc != 0
    messages = " ".join(result.failure_messages())
    assert expected in messages, messages
    assert result.changed() == 0, result.changed_tasks()
    assert _live_files() == before


@pytest.mark.parametrize(
    ("extravars", "expected"),
    [
        ({"service_version": "9.9.9"}, "service_version=9.9.9: no artifact"),
        ({"service_version": "latest"}, 'service_version="latest" is not a release version'),
        (
            {"service_version": BASE_VERSION, "loadbalancer_balance": "bogus"},
            "HAProxy rejects the rendered config",
        ),
        (
            {"service_version": BASE_VERSION, "monitoring_scrape_interval": "5x"},
            "Prometheus rejects the rendered config",
        ),
        (
            {"service_version": BASE_VERSION, "service_slot": "purple"},
            "service_slot=purple has no entry in service_ports",
        ),
        (
            # The contract's types are checked by its one task per host, not by an argument spec task.
            {"service_version": BASE_VERSION, "service_frontend_port": "eighty"},
            "the service contract does not hold: argument 'service_frontend_port' is of type str and we were "
            "unable to convert to int",
        ),
    ],
    ids=["unknown-version", "not-a-version", "haproxy-rejects", "promtool-rejects", "unknown-slot",
         "contract-type"],
)
def test_bad_input_is_refused_before_anything_changes(converged, tmp_path, extravars, expected):
    before = _live_files()
    result = run_playbook("site.yml", extravars, tmp_path=tmp_path)
    _assert_refused(result, expected, before)


def test_checksum_mismatch_is_refused(converged, tmp_path):
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    name = "demo-service-2.0.0.tar.gz"
    shutil.copy(REPO / "dist" / (name + ".sha256"), artifacts / (name + ".sha256"))
    tampered = bytearray((REPO / "dist" / name).read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF
    (artifacts / name).write_bytes(bytes(tampered))
    before = _live_files()
    result = run_playbook(
        "site.yml", {"service_version": "2.0.0", "service_artifact_dir": str(artifacts)}, tmp_path=tmp_path / "run"
    )
    _assert_refused(result, "checksum mismatch for %s" % (artifacts / name), before)
