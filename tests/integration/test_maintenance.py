"""maintenance.yml on one app host: check mode changes nothing and lists its actions; the
real run rotates, cleans exactly what the dry run listed and keeps the minimum."""

import re

from conftest import lab_host, run_playbook

HOST = "app1"
DAY = 86400
# Ten old logs 20..29 days old (names logrotate does not renumber) and two recent ones;
# keep_min 5 and max_age 14 d (the role's defaults) leave the newest five.
PLANT = (
    "set -e; mkdir -p /var/log/demo; echo line >> /var/log/demo/app.log; "
    "for i in $(seq 1 10); do f=/var/log/demo/app.log.old-$i.gz; echo x | gzip > $f; "
    "touch -d \"@$(( $(date +%s) - (19 + i) * 86400 ))\" $f; done; "
    "for i in 1 2; do echo x | gzip > /var/log/demo/app.log.recent$i.gz; done; "
    "mkdir -p /opt/demo/releases/.tmp-9.9.9-dead; touch -d '@1700000000' /opt/demo/releases/.tmp-9.9.9-dead"
)


def listing(host):
    out = lab_host(host).run("ls -a /var/log/demo /opt/demo/releases; ls /etc/logrotate.d; "
                             "systemctl is-enabled fleetops-maintenance-demo.timer || true")
    return out.stdout


def table(result):
    lines = []
    for event in result.events:
        res = event.get("event_data", {}).get("res", {})
        task = event.get("event_data", {}).get("task")
        if event["event"] == "runner_on_ok" and task == "Show what maintenance did or would do":
            lines = res["msg"]
    return lines


def test_check_mode_then_real_run(converged, tmp_path):
    lab_host(HOST).run("rm -rf /var/log/demo /etc/logrotate.d/fleetops-demo")
    assert lab_host(HOST).run(PLANT).rc == 0
    assert run_playbook("backup.yml", limit=HOST, tmp_path=tmp_path / "backup").rc == 0
    before = listing(HOST)

    dry = run_playbook("maintenance.yml", check=True, limit=HOST, tmp_path=tmp_path / "dry")
    assert dry.rc == 0, (dry.failure_messages(), dry.stdout[-3000:])
    assert listing(HOST) == before, "check mode changed the host"
    dry_table = table(dry)
    would = sorted(re.search(r"(/\S+)", line).group(1) for line in dry_table if "would delete" in line)
    assert would == sorted(["/var/log/demo/app.log.old-%d.gz" % n for n in range(4, 11)]
                           + ["/opt/demo/releases/.tmp-9.9.9-dead"]), dry_table
    assert any(line.startswith("logrotate config") for line in dry_table)

    real = run_playbook("maintenance.yml", limit=HOST, tmp_path=tmp_path / "real")
    assert real.rc == 0, (real.failure_messages(), real.stdout[-3000:])
    after = lab_host(HOST).run("ls -a /var/log/demo").stdout.split()
    for path in would:
        assert lab_host(HOST).run("test -e %s" % path).rc != 0, path
    kept = [name for name in after if re.match(r"app\.log\.(old|recent)", name)]
    assert sorted(kept) == ["app.log.old-1.gz", "app.log.old-2.gz", "app.log.old-3.gz", "app.log.recent1.gz",
                            "app.log.recent2.gz"], after
    assert "app.log.1" in after, after  # rotated now (delaycompress: the first rotation stays plain)
    assert lab_host(HOST).run("logrotate -d /etc/logrotate.d/fleetops-demo").rc == 0
    assert lab_host(HOST).run("systemctl is-enabled fleetops-maintenance-demo.timer").stdout.strip() == "enabled"
    calendar = lab_host(HOST).run("systemctl show -p TimersCalendar fleetops-maintenance-demo.timer").stdout
    assert "02:00:00" in calendar, calendar
    print("\n".join(table(real)))

    again = run_playbook("maintenance.yml", limit=HOST, tmp_path=tmp_path / "again")
    assert again.rc == 0 and not any("delete" in line.split()[2:3] for line in table(again)[1:])


# Four more logs a month old and a dead temp dir, after the real run above left the
# newest five logs and rotated app.log: the weekly timer's cleanup removes these and
# whatever the newest five no longer cover, on the host alone.
PLANT_WEEKLY = (
    "set -e; for i in $(seq 11 14); do f=/var/log/demo/app.log.old-$i.gz; echo x | gzip > $f; "
    "touch -d \"@$(( $(date +%s) - (19 + i) * 86400 ))\" $f; done; "
    "mkdir -p /opt/demo/releases/.tmp-8.8.8-dead; touch -d '@1700000000' /opt/demo/releases/.tmp-8.8.8-dead"
)


def test_the_weekly_timer_cleans_on_the_host_as_maintenance_would():
    host = lab_host(HOST)
    unit = "fleetops-maintenance-weekly-demo"
    assert host.run("systemctl is-enabled %s.timer" % unit).stdout.strip() == "enabled"
    calendar = host.run("systemctl show -p TimersCalendar %s.timer" % unit).stdout
    assert "Sun" in calendar and "02:00:00" in calendar, calendar  # the window's weekday and start
    assert host.run(PLANT_WEEKLY).rc == 0
    releases = host.run("ls /opt/demo/releases").stdout.split()
    started = host.run("systemctl start %s.service" % unit)  # oneshot: returns when it has run
    assert started.rc == 0, started.stderr
    assert host.run("systemctl show -p Result --value %s.service" % unit).stdout.strip() == "success"
    for path in ["/var/log/demo/app.log.old-%d.gz" % n for n in range(11, 15)] + ["/opt/demo/releases/.tmp-8.8.8-dead"]:
        assert host.run("test -e %s" % path).rc != 0, path
    # The newest five now include app.log.1, which the real run's rotation made: old-3 goes too.
    kept = sorted(n for n in host.run("ls /var/log/demo").stdout.split() if re.match(r"app\.log\.", n))
    assert kept == ["app.log.1", "app.log.old-1.gz", "app.log.old-2.gz", "app.log.recent1.gz",
                    "app.log.recent2.gz"], kept
    # The releases the slots run are never touched.
    assert [r for r in host.run("ls /opt/demo/releases").stdout.split() if not r.startswith(".tmp")] == \
        [r for r in releases if not r.startswith(".tmp")]
    line = host.run("journalctl -u %s.service -o cat --no-pager | grep '\"ok\"' | tail -1" % unit).stdout
    assert '"ok": true' in line, line
