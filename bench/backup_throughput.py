#!/usr/bin/env python3
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helper of bench/backup_throughput.sh: make the data set, and run our backup, verify and
restore through module_utils directly, printing the seconds each took.

    backup_throughput.py generate DATA_DIR [MIB]
    backup_throughput.py backup DATA_DIR DEST_DIR      -> prints "<seconds> <cpu seconds> <archive>"
    backup_throughput.py verify ARCHIVE                -> prints "<seconds>"
    backup_throughput.py restore ARCHIVE DEST_ROOT     -> prints "<seconds>"
"""

from __future__ import annotations

import os
import random
import resource
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".build", "collections"))

from ansible_collections.fleetops.lifecycle.plugins.module_utils import (  # noqa: E402
    backup,
    backup_verify,
    restore,
)

MIB = 1 << 20


def _text_block(rng, words, size):
    out = []
    total = 0
    while total < size:
        line = " ".join(rng.choices(words, k=12)) + "\n"
        out.append(line)
        total += len(line)
    return "".join(out).encode()[:size]


def generate(data, mib=1024):
    """~mib MiB: 3/8 random files (media-like), 3/8 text files in many dirs, 1/4 one SQLite db."""
    rng = random.Random(42)
    words = ["w%x" % rng.getrandbits(20) for _ in range(20000)] + ["GET", "/api/v1/workflows", "200", "INFO"]
    random_mib = mib * 3 // 8
    text_mib = mib * 3 // 8
    db_mib = mib - random_mib - text_mib
    media = os.path.join(data, "media")
    os.makedirs(media)
    for index in range(random_mib // 4):
        with open(os.path.join(media, "blob%04d.bin" % index), "wb") as handle:
            handle.write(os.urandom(4 * MIB))
    for index in range(text_mib * 8):  # 128 KiB files in 32 directories
        directory = os.path.join(data, "logs", "d%02d" % (index % 32))
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "log%05d.txt" % index), "wb") as handle:
            handle.write(_text_block(rng, words, 128 * 1024))
    state = os.path.join(data, "state")
    os.makedirs(state)
    db = sqlite3.connect(os.path.join(state, "state.db"))
    db.execute("CREATE TABLE workflows (id INTEGER PRIMARY KEY, name TEXT, created_at TEXT, body TEXT)")
    row = 0
    while os.path.getsize(os.path.join(state, "state.db")) < db_mib * MIB:
        rows = [(row + i, " ".join(rng.choices(words, k=4)), "2026-11-30T02:00:%02d.000Z" % (i % 60),
                 " ".join(rng.choices(words, k=20))) for i in range(50000)]
        row += len(rows)
        with db:
            db.executemany("INSERT INTO workflows VALUES (?, ?, ?, ?)", rows)
    db.close()


def cpu_seconds():
    """User + system CPU seconds of this process and its waited-for children (zstd)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def main(argv):
    command = argv[1]
    start = time.monotonic()
    start_cpu = cpu_seconds()
    if command == "generate":
        generate(argv[2], int(argv[3]) if len(argv) > 3 else 1024)
        print("%.3f" % (time.monotonic() - start))
    elif command == "backup":
        request = backup.validate_backup(dict(service="bench", host="bench", dest_dir=argv[3], kind="manual",
                                              paths=[dict(path=argv[2], kind="state", name="data")]))
        result = backup.create_backup(request)
        print("%.3f %.2f %s" % (time.monotonic() - start, cpu_seconds() - start_cpu, result["archive"]))
    elif command == "verify":
        result = backup_verify.verify_archive(argv[2], "full")
        if not result["ok"]:
            raise SystemExit(backup_verify.describe_failure(result))
        print("%.3f" % (time.monotonic() - start))
    elif command == "restore":
        restore.restore(restore.validate_restore(dict(path=argv[2], dest_root=argv[3], safety_backup=False)))
        print("%.3f" % (time.monotonic() - start))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
