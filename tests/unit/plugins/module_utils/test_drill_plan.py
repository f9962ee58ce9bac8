"""The DR drill's input checks and scenario damage (module_utils.drill_plan, its filters)."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter import backup_report as filters
from ansible_collections.fleetops.lifecycle.plugins.module_utils.drill_plan import drill_damage, drill_inputs

HOSTS = {"inventory": ["lb1", "app1", "app2", "spare1"], "app": ["app1", "app2"], "lb": ["lb1"],
         "app_group": "app", "lb_group": "loadbalancers"}
GOOD = {"source": "app1", "target": "spare1", "scenario": "host_loss", "rto_target": 3600, "rpo_target": 86400,
        "slot": "blue", "slots": ["blue", "green"], "ports": {"blue": 9181, "green": 9182}, "ready_timeout": 60}


def test_good_inputs_are_normalised():
    assert drill_inputs(GOOD, HOSTS) == {
        "source": "app1", "target": "spare1", "scenario": "host_loss", "what": "both", "rto_target": 3600.0,
        "rpo_target": 86400.0, "slot": "blue", "port": 9181, "ready_timeout": 60}


def test_strings_from_the_command_line_count():
    # -e drill_rto_target=600 -e drill_ready_timeout=30 arrive as strings.
    result = drill_inputs(dict(GOOD, rto_target="600", ready_timeout="30", scenario="data_corruption"), HOSTS)
    assert (result["rto_target"], result["ready_timeout"], result["what"]) == (600.0, 30, "state")


BAD = [
    ({"source": "spare1"}, "backup_drill_source=spare1: must be a host of the app group (one of: app1, app2)"),
    ({"source": ""}, "backup_drill_source=: must be a host of the app group (one of: app1, app2)"),
    ({"target": ""}, "backup_drill_target is required (-e drill_target=<spare host>)"),
    ({"target": None}, "backup_drill_target is required (-e drill_target=<spare host>)"),
    ({"target": "spare9"}, "backup_drill_target=spare9: not in the inventory"),
    ({"target": "app2"}, "backup_drill_target=app2: is a live host of the app group; a drill needs a spare host"),
    ({"target": "lb1"},
     "backup_drill_target=lb1: is a live host of the loadbalancers group; a drill needs a spare host"),
    ({"scenario": "meteor"},
     "backup_drill_scenario='meteor': must be one of config_loss, data_corruption, host_loss"),
    ({"rto_target": 0}, "backup_drill_rto_target=0: must be a number of seconds greater than 0"),
    ({"rpo_target": -5}, "backup_drill_rpo_target=-5: must be a number of seconds greater than 0"),
    ({"rpo_target": "soon"}, "backup_drill_rpo_target='soon': must be a number of seconds"),
    ({"slot": "red"}, "backup_drill_slot=red: must be one of the service's slots (blue, green)"),
    ({"ports": {"green": 9182}},
     "backup_drill_slot=blue: the service has no port for it (service_ports: {'green': 9182})"),
    ({"ready_timeout": 0}, "backup_drill_ready_timeout=0: must be a whole number of seconds, 1 or more"),
    ({"ready_timeout": "1.5"}, "backup_drill_ready_timeout='1.5': must be a whole number of seconds, 1 or more"),
    ({"ready_timeout": True}, "backup_drill_ready_timeout=True: must be a whole number of seconds, 1 or more"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m.split(":")[0].split(" ")[0] + "-%d" % i
                                                      for i, (_c, m) in enumerate(BAD)])
def test_each_bad_input_is_refused_by_name(change, message):
    with pytest.raises(ValueError) as info:
        drill_inputs(dict(GOOD, **change), HOSTS)
    assert str(info.value) == message


def test_the_filter_names_itself_and_the_option():
    with pytest.raises(AnsibleFilterError) as info:
        filters.drill_inputs(dict(GOOD, target="app1"), HOSTS)
    assert "backup_drill_target=app1: is a live host of the app group; a drill needs a spare host" in str(info.value)
    assert filters.drill_inputs(GOOD, HOSTS, "drill_")["target"] == "spare1"
    with pytest.raises(AnsibleFilterError, match="drill_slot=red: must be one of"):
        filters.drill_inputs(dict(GOOD, slot="red"), HOSTS, "drill_")


MANIFEST = {
    "paths": [{"kind": "config", "name": "ledgerly", "path": "/etc/ledgerly"},
              {"kind": "state", "name": "ledgerly", "path": "/var/lib/ledgerly"}],
    "members": [
        {"path": "config/ledgerly", "type": "dir"},
        {"path": "config/ledgerly/ledgerly.json", "type": "file", "size": 10, "sha256": "a"},
        {"path": "state/ledgerly", "type": "dir"},
        {"path": "state/ledgerly/journals", "type": "dir"},
        {"path": "state/ledgerly/journals/0001.jsonl", "type": "file", "size": 20, "sha256": "b"},
        {"path": "state/ledgerly/journals/current", "type": "symlink", "size": 0, "linkname": "0001.jsonl"},
    ],
}


def test_data_corruption_damages_every_state_file_the_backup_names():
    assert drill_damage(MANIFEST, "data_corruption") == {
        "dirs": ["/var/lib/ledgerly", "/var/lib/ledgerly/journals"],
        "files": ["/var/lib/ledgerly/journals/0001.jsonl"]}


@pytest.mark.parametrize("scenario", ["host_loss", "config_loss"])
def test_other_scenarios_damage_no_state(scenario):
    assert drill_damage(MANIFEST, scenario) == {"dirs": [], "files": []}


def test_damage_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="drill_scenario='fire': must be one of"):
        drill_damage(MANIFEST, "fire")
    with pytest.raises(ValueError, match="manifest: not a MANIFEST of a fleetops backup"):
        drill_damage({"members": []}, "data_corruption")
    no_state = dict(MANIFEST, members=MANIFEST["members"][:2])
    with pytest.raises(ValueError, match="manifest: names no state file for drill_scenario=data_corruption"):
        drill_damage(no_state, "data_corruption")
    with pytest.raises(AnsibleFilterError, match="drill_damage: manifest: not a MANIFEST"):
        filters.drill_damage("nonsense", "data_corruption")
