#!/usr/bin/env python3
"""Builds ledgerly release artifacts: ledgerly-<version>.tar.gz and its .sha256.

    build.py OUT_DIR                       the lab set (LAB_SET below)
    build.py OUT_DIR --version 2.0.0 [--error-ratio R] [--latency-ms N]
                     [--load-delay-ms N] [--fail-start]

The archive holds src/ (server.js, lib/*.js) at its root plus release.json, which
names the version and the injected faults: a faulty release is the same code with
other data. Archives are reproducible: member order, times, owners and modes are
fixed, and the gzip header carries no name or time.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import sys
import tarfile
from pathlib import Path

NAME = "ledgerly"
SOURCE = Path(__file__).resolve().parent / "src"
VERSION_RE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?")

# version -> faults; what the lab's runbook tests deploy.
LAB_SET = {
    "1.0.0": {},
    "1.1.0": {},
    "1.2.0": {"error_ratio": 0.05},  # bad: about 5 % of GET / answer 500
    "1.3.0": {"latency_ms": 250},  # slow: GET / answers 250 ms later
    "1.4.0": {"fail_start": True},  # refuses to start (exit 3)
}
NO_FAULTS = {"error_ratio": 0.0, "latency_ms": 0, "load_delay_ms": 0, "fail_start": False}


def artifact_name(version):
    return f"{NAME}-{version}.tar.gz"


def release_json(version, faults):
    unknown = set(faults) - set(NO_FAULTS)
    if unknown:
        raise ValueError(f"unknown faults: {', '.join(sorted(unknown))}")
    document = {"name": NAME, "version": version, "faults": {**NO_FAULTS, **faults}}
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def source_files():
    """{archive name: bytes} of the service's code: every .js file under src/."""
    files = {}
    for path in sorted(SOURCE.rglob("*.js")):
        files[path.relative_to(SOURCE).as_posix()] = path.read_bytes()
    if "server.js" not in files:
        raise FileNotFoundError(f"{SOURCE}/server.js is missing")
    return files


def tar_gz(files):
    """Reproducible .tar.gz bytes of {name: bytes}."""
    buffer = io.BytesIO()
    # mtime=0 and an empty filename keep the gzip header the same on every build.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz, tarfile.open(
        fileobj=gz, mode="w", format=tarfile.PAX_FORMAT
    ) as tar:
        for name in sorted(files):
            data = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _write(path, data):
    # Complete or absent: written beside the target, then renamed over it.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def build(out_dir, version, faults):
    """Writes the artifact and its checksum file; returns (artifact path, sha256)."""
    if not VERSION_RE.fullmatch(version):
        raise ValueError(f"version {version!r} is not MAJOR.MINOR.PATCH[-pre|+build]")
    files = source_files()
    files["release.json"] = release_json(version, faults)
    data = tar_gz(files)
    digest = hashlib.sha256(data).hexdigest()
    out_dir.mkdir(parents=True, exist_ok=True)
    artifact = out_dir / artifact_name(version)
    _write(artifact, data)
    # The checksum file last: when it exists, the artifact beside it is complete.
    _write(out_dir / (artifact.name + ".sha256"), f"{digest}  {artifact.name}\n".encode())
    return artifact, digest


def _ratio(raw):
    value = float(raw)
    if not 0 <= value <= 1:  # NaN fails too
        raise argparse.ArgumentTypeError(f"{raw!r}: expected a number from 0 to 1")
    return value


def _millis(raw):
    if not re.fullmatch(r"[0-9]{1,6}", raw):
        raise argparse.ArgumentTypeError(f"{raw!r}: expected whole milliseconds from 0 to 999999")
    return int(raw)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output directory (created when missing)")
    parser.add_argument("--version", help="build this one release instead of the lab set")
    parser.add_argument("--error-ratio", type=_ratio, help="share of GET / answered 500")
    parser.add_argument("--latency-ms", type=_millis, help="delay added to every GET /")
    parser.add_argument("--load-delay-ms", type=_millis, help="wait before loading the state (readiness stays 503)")
    parser.add_argument("--fail-start", action="store_true", help="the service exits 3 at startup")
    args = parser.parse_args(argv)
    faults = {
        key: value
        for key, value in (
            ("error_ratio", args.error_ratio),
            ("latency_ms", args.latency_ms),
            ("load_delay_ms", args.load_delay_ms),
            ("fail_start", args.fail_start or None),
        )
        if value is not None
    }
    if faults and not args.version:
        parser.error("fault options need --version (the lab set has its faults built in)")
    return args, faults


def main(argv=None):
    args, faults = parse_args(argv)
    plan = {args.version: faults} if args.version else LAB_SET
    for version, release_faults in plan.items():
        try:
            artifact, digest = build(args.out, version, release_faults)
        except ValueError as exc:
            print(f"build.py: error: {exc}", file=sys.stderr)
            return 2
        print(f"built {artifact} sha256={digest} faults={json.dumps(release_faults, sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
