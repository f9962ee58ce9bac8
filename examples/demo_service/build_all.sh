#!/bin/sh
# Builds the standard lab release set into OUT_DIR: the versions the runbooks and
# drills expect (good releases, an error-prone one, one that cannot start, a slow one).
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
