#!/usr/bin/env python3
"""Builds a reproducible demo-service release.

Writes OUT/demo-service-VERSION.tar.gz (app.py and release.json at the archive root)
and OUT/demo-service-VERSION.tar.gz.sha256 (sha256sum format). The bytes depend only
on app.py and the arguments, so building twice gives identical files.
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
import tempfile
from pathlib import Path

NAME = "demo-service"
APP = Path(__file__).resolve().parent / "app.py"
VERSION_RE = re.compile(r"\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?")
# Fixed member metadata: the archive must not depend on when or by whom it was built.
MEMBER_MTIME = 0
MEMBER_MODE = 0o644
MEMBER_OWNER = (0, "root")


def _version_arg(raw):
    if not VERSION_RE.fullmatch(raw):
        raise argparse.ArgumentTypeError(
            f"invalid version {raw!r}: expected MAJOR.MINOR.PATCH with an optional -PRERELEASE or +BUILD suffix"
        )
    return raw


def _ratio_arg(raw):
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    # Written this way round so that NaN fails too.
    if not 0 <= ratio <= 1:
        raise argparse.ArgumentTypeError(f"invalid error ratio {raw!r}: expected a number from 0 to 1")
    return ratio


def _latency_arg(raw):
    if not (raw.isascii() and raw.isdigit()):
        raise argparse.ArgumentTypeError(f"invalid latency {raw!r}: expected a whole number of milliseconds >= 0")
    return int(raw)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="build_release.py", description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, type=_version_arg, help="release version, e.g. 1.2.3")
    parser.add_argument("--error-ratio", type=_ratio_arg, default=0.0, help="share of / requests answered 500")
    parser.add_argument("--latency-ms", type=_latency_arg, default=0, help="delay added to every / request")
    parser.add_argument("--fail-start", action="store_true", help="the service exits with status 3 at startup")
    parser.add_argument("--out", required=True, type=Path, help="output directory (created if missing)")
    return parser.parse_args(argv)


def release_json(version, error_ratio, latency_ms, fail_start):
    release = {
        "name": NAME,
        "version": version,
        "faults": {"error_ratio": error_ratio, "latency_ms": latency_ms, "fail_start": fail_start},
    }
    return (json.dumps(release, indent=2, sort_keys=True) + "\n").encode()


def _member(name, size):
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = MEMBER_MTIME
    info.mode = MEMBER_MODE
    info.uid = info.gid = MEMBER_OWNER[0]
    info.uname = info.gname = MEMBER_OWNER[1]
    return info


def build_archive(files):
    """tar.gz bytes of files (name -> bytes), members sorted, gzip header without name or time."""
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed:
        with tarfile.open(fileobj=compressed, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name in sorted(files):
                tar.addfile(_member(name, len(files[name])), io.BytesIO(files[name]))
    return raw.getvalue()


def write_atomic(path, data):
    """Readers see the old file or the complete new one, never a partial write."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        try:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
            # NamedTemporaryFile creates 0600; artifacts are meant to be shared.
            os.fchmod(tmp.fileno(), 0o644)
        except BaseException:
            os.unlink(tmp.name)
            raise
    os.replace(tmp.name, path)


def main(argv=None):
    args = parse_args(argv)
    archive = build_archive(
        {
            "app.py": APP.read_bytes(),
            "release.json": release_json(args.version, args.error_ratio, args.latency_ms, args.fail_start),
        }
    )
    digest = hashlib.sha256(archive).hexdigest()
    tarball = args.out / f"{NAME}-{args.version}.tar.gz"
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(tarball, archive)
    # Checksum last: its presence implies a complete tarball.
    write_atomic(tarball.with_name(tarball.name + ".sha256"), f"{digest}  {tarball.name}\n".encode())
    faults = f"error_ratio={args.error_ratio:g} latency_ms={args.latency_ms} fail_start={str(args.fail_start).lower()}"
    print(f"built {tarball} sha256={digest} {faults}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
