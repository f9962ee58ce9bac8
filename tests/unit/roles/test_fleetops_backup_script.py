"""The backup timers' host script (roles/backup/files/fleetops-backup), action metrics: it
rewrites the node-exporter textfile with the same module_utils code the backup and
backup_status modules use, and a textfile it cannot write is a failed run that names it."""

import json

from ansible_collections.fleetops.lifecycle.tests.unit.plugins.backup_fixtures import Service
from host_scripts import load_host_script


def load_script():
    return load_host_script("backup", "fleetops-backup")


def run_metrics(tmp_path, capsys, textfile):
    config = tmp_path / "backup-demo.json"
    config.write_text(json.dumps({"service": "demo", "dest_dir": str(tmp_path / "backups"), "textfile": textfile}))
    status = load_script().main(["--config", str(config), "metrics"])
    return status, json.loads(capsys.readouterr().out)


def test_metrics_rewrites_the_textfile_from_the_archives_kept(tmp_path, capsys):
    archive = Service(tmp_path).backup(kind="scheduled", release="1.0.0")
    textfile = tmp_path / "node-exporter" / "fleetops_backup.prom"  # the script makes its directory
    status, out = run_metrics(tmp_path, capsys, str(textfile))
    assert status == 0 and out["textfile"] == str(textfile), out
    metric = textfile.read_text()
    assert ('fleetops_backup_last_success_timestamp_seconds{service="demo",host="app1"} %.3f'
            % archive["metadata"]["created_epoch"]) in metric
    assert 'fleetops_backup_archives{service="demo",host="app1"} 1' in metric
    assert [p.name for p in textfile.parent.iterdir()] == ["fleetops_backup.prom"]


def test_a_relative_textfile_fails_the_run_naming_it(tmp_path, capsys):
    Service(tmp_path).backup(kind="scheduled", release="1.0.0")
    status, out = run_metrics(tmp_path, capsys, "fleetops_backup.prom")
    assert status == 1 and out["ok"] is False, out
    assert out["textfile_error"] == ("textfile: fleetops_backup.prom must be an absolute path in an existing "
                                     "directory"), out
