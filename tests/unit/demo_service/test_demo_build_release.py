"""examples/demo_service/build_release.py and build_all.sh."""

import hashlib
import json
import subprocess
import sys
import tarfile

import pytest
from demo_service_helpers import APP, BUILD_RELEASE, DEMO_DIR, merged_env


def build(out, *args):
    return subprocess.run(
        [sys.executable, str(BUILD_RELEASE), "--out", str(out), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=20,
    )


def release_json(tarball):
    with tarfile.open(tarball) as tar:
        return json.load(tar.extractfile("release.json"))


def test_building_twice_gives_identical_bytes(tmp_path):
    for out in ("a", "b"):
        assert build(tmp_path / out, "--version", "1.0.0", "--error-ratio", "0.05").returncode == 0
    for name in ("demo-service-1.0.0.tar.gz", "demo-service-1.0.0.tar.gz.sha256"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_archive_holds_app_and_release_json_with_fixed_metadata(tmp_path):
    result = build(tmp_path, "--version", "1.2.3-rc.1")
    assert result.returncode == 0, result.stderr
    tarball = tmp_path / "demo-service-1.2.3-rc.1.tar.gz"
    header = tarball.read_bytes()[:10]
    # gzip: no FNAME flag, MTIME zero.
    assert (header[3] & 0x08, header[4:8]) == (0, b"\0\0\0\0")
    with tarfile.open(tarball) as tar:
        members = tar.getmembers()
        assert [member.name for member in members] == ["app.py", "release.json"]
        for member in members:
            assert member.isfile()
            assert (member.mode, member.mtime, member.uid, member.gid) == (0o644, 0, 0, 0)
            assert (member.uname, member.gname) == ("root", "root")
        assert tar.extractfile("app.py").read() == APP.read_bytes()
    assert release_json(tarball) == {
        "name": "demo-service",
        "version": "1.2.3-rc.1",
        "faults": {"error_ratio": 0.0, "latency_ms": 0, "fail_start": False},
    }


def test_checksum_file_is_in_sha256sum_format(tmp_path):
    assert build(tmp_path, "--version", "2.0.0").returncode == 0
    tarball = tmp_path / "demo-service-2.0.0.tar.gz"
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    assert (tmp_path / f"{tarball.name}.sha256").read_text() == f"{digest}  {tarball.name}\n"
    # No temp files left behind, and artifacts are world-readable.
    assert sorted(path.name for path in tmp_path.iterdir()) == [tarball.name, f"{tarball.name}.sha256"]
    assert {path.stat().st_mode & 0o777 for path in tmp_path.iterdir()} == {0o644}


def test_fault_options_land_in_release_json(tmp_path):
    result = build(tmp_path, "--version", "3.0.0", "--error-ratio", "0.05", "--latency-ms", "300", "--fail-start")
    assert result.returncode == 0
    assert result.stdout.startswith(f"built {tmp_path / 'demo-service-3.0.0.tar.gz'} sha256=")
    assert release_json(tmp_path / "demo-service-3.0.0.tar.gz")["faults"] == {
        "error_ratio": 0.05,
        "latency_ms": 300,
        "fail_start": True,
    }


VERSION_HINT = "expected MAJOR.MINOR.PATCH with an optional -PRERELEASE or +BUILD suffix"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--version", "1.0"], f"argument --version: invalid version '1.0': {VERSION_HINT}"),
        (["--version", "v1.0.0"], f"argument --version: invalid version 'v1.0.0': {VERSION_HINT}"),
        (["--version", "1.0.0/../x"], f"argument --version: invalid version '1.0.0/../x': {VERSION_HINT}"),
        (["--version", "1.0.0\n"], f"argument --version: invalid version '1.0.0\\n': {VERSION_HINT}"),
        (["--error-ratio", "1.5"], "argument --error-ratio: invalid error ratio '1.5': expected a number from 0 to 1"),
        (["--error-ratio", "nan"], "argument --error-ratio: invalid error ratio 'nan': expected a number from 0 to 1"),
        (
            ["--error-ratio", "lots"],
            "argument --error-ratio: invalid error ratio 'lots': expected a number from 0 to 1",
        ),
        (
            ["--latency-ms", "-1"],
            "argument --latency-ms: invalid latency '-1': expected a whole number of milliseconds >= 0",
        ),
        (
            ["--latency-ms", "1.5"],
            "argument --latency-ms: invalid latency '1.5': expected a whole number of milliseconds >= 0",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(tmp_path, args, message):
    defaults = {"--version": "1.0.0"}
    given = dict(zip(args[::2], args[1::2]))
    argv = [part for option, value in {**defaults, **given}.items() for part in (option, value)]
    result = build(tmp_path / "out", *argv)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"build_release.py: error: {message}"
    assert not (tmp_path / "out").exists()


def test_build_all_builds_the_lab_set(tmp_path):
    result = subprocess.run(
        [str(DEMO_DIR / "build_all.sh"), str(tmp_path)],
        env=merged_env({"PYTHON": sys.executable}),
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 7
    expected = {
        "1.0.0": {"error_ratio": 0.0, "latency_ms": 0, "fail_start": False},
        "2.0.0": {"error_ratio": 0.0, "latency_ms": 0, "fail_start": False},
        "3.0.0": {"error_ratio": 0.05, "latency_ms": 0, "fail_start": False},
        "3.0.1": {"error_ratio": 0.0, "latency_ms": 0, "fail_start": True},
        "4.0.0": {"error_ratio": 0.0, "latency_ms": 300, "fail_start": False},
        "3.1.0": {"error_ratio": 0.003, "latency_ms": 0, "fail_start": False},
        "4.1.0": {"error_ratio": 0.0, "latency_ms": 250, "fail_start": False},
    }
    built = {v: release_json(tmp_path / f"demo-service-{v}.tar.gz")["faults"] for v in expected}
    assert built == expected
    assert len(list(tmp_path.glob("*.sha256"))) == len(expected)


def test_the_built_artifact_runs(tmp_path, launcher):
    assert build(tmp_path / "dist", "--version", "2.0.0").returncode == 0
    release_dir = tmp_path / "releases" / "2.0.0"
    release_dir.mkdir(parents=True)
    # By hand: Debian 12's Python 3.11.2 has no tarfile extraction filters.
    with tarfile.open(tmp_path / "dist" / "demo-service-2.0.0.tar.gz") as tar:
        for member in tar.getmembers():
            (release_dir / member.name).write_bytes(tar.extractfile(member).read())
    app = launcher.start(slot="green", release_dir=release_dir)
    assert app.get("/version").json()["version"] == "2.0.0"
