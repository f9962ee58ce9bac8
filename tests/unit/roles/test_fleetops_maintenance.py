"""The weekly maintenance timer's host script (roles/maintenance/files/fleetops-maintenance):
it applies the cleanup sets as the maintenance_cleanup module does, protects what the
slot links point to, and refuses a bad config before removing anything."""

import json
import os
import time

import pytest
from host_scripts import load_host_script

DAY = 86400


def load_script():
    return load_host_script("maintenance", "fleetops-maintenance")


@pytest.fixture
def tree(tmp_path):
    logs, releases = tmp_path / "log", tmp_path / "releases"
    logs.mkdir()
    releases.mkdir()
    now = time.time()
    for n in range(1, 9):  # n days * 10 old
        path = logs / ("app.log.%d.gz" % n)
        path.write_text("x")
        os.utime(path, (now - n * 10 * DAY, now - n * 10 * DAY))
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        (releases / version).mkdir()
        os.utime(releases / version, (now - 90 * DAY, now - 90 * DAY))
    (tmp_path / "current-blue").symlink_to("releases/1.0.0")  # relative, as a user's link may be
    return tmp_path


def write_config(tree, **extra):
    config = {
        "sets": [
            {"name": "logs", "path": str(tree / "log"), "pattern": "*.gz", "max_age": 14 * DAY, "keep_min": 2},
            {"name": "releases", "path": str(tree / "releases"), "pattern": "[0-9]*", "max_age": 30 * DAY,
             "keep_min": 1, "directories": True},
        ],
        "protect_links": [str(tree / "current-blue"), str(tree / "current-green")],
    }
    config.update(extra)
    path = tree / "maintenance.json"
    path.write_text(json.dumps(config))
    return path


def run(capsys, *argv):
    rc = load_script().main(list(argv))
    return rc, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_removes_what_is_old_keeping_the_minimum_and_the_live_release(tree, capsys):
    rc, out = run(capsys, "--config", str(write_config(tree)))
    assert rc == 0 and out["ok"], out
    assert sorted(p.name for p in (tree / "log").iterdir()) == ["app.log.1.gz", "app.log.2.gz"]
    # 1.0.0 is what current-blue runs (protected, not counted); 3.0.0 is the newest by name
    # order among equal mtimes kept for keep_min=1.
    left = sorted(p.name for p in (tree / "releases").iterdir())
    assert "1.0.0" in left and len(left) == 2, left
    assert len(out["removed"]) == 6 + 1


def test_dry_run_lists_and_removes_nothing(tree, capsys):
    before = sorted(p.name for p in (tree / "log").iterdir())
    rc, out = run(capsys, "--config", str(write_config(tree)), "--dry-run")
    assert rc == 0 and out["removed"] == [] and len(out["would_remove"]) == 7, out
    assert sorted(p.name for p in (tree / "log").iterdir()) == before


def test_a_bad_set_is_refused_by_name_before_anything_is_removed(tree, capsys):
    config = write_config(tree)
    data = json.loads(config.read_text())
    data["sets"].append({"name": "temp", "path": "/", "max_age": 1, "keep_min": 0})
    config.write_text(json.dumps(data))
    rc, out = run(capsys, "--config", str(config))
    assert rc == 2
    assert out == {"ok": False, "error": "sets[2] (temp) path='/': must be an absolute directory other than /"}
    assert len(list((tree / "log").iterdir())) == 8


def test_an_unreadable_config_says_which(tree, capsys):
    rc, out = run(capsys, "--config", str(tree / "missing.json"))
    assert rc == 2 and out["error"].startswith("config %s: " % (tree / "missing.json")), out
    (tree / "bad.json").write_text("{not json")
    rc, out = run(capsys, "--config", str(tree / "bad.json"))
    assert rc == 2 and "bad.json" in out["error"], out
