#!/bin/sh
# Builds the standard lab release set into OUT_DIR: the versions the runbooks and
# drills expect (good releases, error-prone ones, one that cannot start, slow ones).
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)

build() {
    "${PYTHON:-python3}" "$here/build_release.py" --out "$out" "$@"
}

build --version 1.0.0
build --version 2.0.0
build --version 3.0.0 --error-ratio 0.05
build --version 3.0.1 --fail-start
build --version 4.0.0 --latency-ms 300
# For the gate's judgment: a release under the 1 % error threshold, and a slow one a
# latency condition (p95 < 0.2 s) must catch.
build --version 3.1.0 --error-ratio 0.003
build --version 4.1.0 --latency-ms 250
