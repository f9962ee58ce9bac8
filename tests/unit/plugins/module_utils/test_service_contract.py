"""The service contract's checks name the variable and its value; the demo's defaults hold."""

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils.service_contract import (
    contract_problems,
    install_input_problems,
    prometheus_selector,
    unit_name,
    unit_template,
)
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.contract_defaults import contract as demo_contract


def test_the_demo_defaults_hold():
    assert contract_problems(demo_contract()) == []


def test_the_demo_defaults_name_per_service_paths():
    contract = demo_contract()
    assert contract["service_unit"] == "demo@{slot}.service"
    assert contract["service_ledger_path"] == "/var/lib/fleetops/demo/ledger.jsonl"
    assert contract["service_lock_path"] == "/var/lib/fleetops/demo/deploy.lock"
    assert contract["service_backup_dir"] == "/var/backups/fleetops/demo"
    assert contract["service_config_file"] == "/etc/demo/demo.ini"


def test_a_variable_left_out_is_not_checked():
    assert contract_problems({}) == []
    assert contract_problems({"service_name": "shop"}) == []


@pytest.mark.parametrize("name, value, message", [
    ("service_name", "Shop", "service_name='Shop' is not a short name (lower-case letter, then lower-case letters, "
                             "digits, '-' or '_'; at most 63)"),
    ("service_name", "../x", "service_name='../x' is not a short name (lower-case letter, then lower-case letters, "
                             "digits, '-' or '_'; at most 63)"),
    ("service_backend", "my pool", "service_backend='my pool' is not an HAProxy backend name (letters, digits, "
                                   "'-', '_', '.', ':'; at most 64)"),
    ("service_unit", "shop.service", "service_unit='shop.service' is not a systemd template instance with one "
                                     "{slot}, such as shop@{slot}.service"),
    ("service_unit", "shop@{slot}-{slot}.service", "service_unit='shop@{slot}-{slot}.service' is not a systemd "
                                                   "template instance with one {slot}, such as shop@{slot}.service"),
    ("service_artifact_name", "shop.tar.gz", "service_artifact_name='shop.tar.gz' must be a file name with one "
                                             "{version}, such as shop-{version}.tar.gz"),
    ("service_artifact_name", "a/shop-{version}.tgz", "service_artifact_name='a/shop-{version}.tgz' must be a file "
                                                      "name with one {version}, such as shop-{version}.tar.gz"),
    ("service_snapshot_command", "pg_dump shop", "service_snapshot_command='pg_dump shop' must write the snapshot "
                                                 "under {snapshot_dir}"),
    ("service_config_check_command", [], "service_config_check_command=[] must be a non-empty argv list of strings"),
    ("service_state_check_command", "true", "service_state_check_command='true' must be a non-empty argv list of "
                                            "strings"),
    ("service_root", "opt/shop", "service_root='opt/shop' must be an absolute path without '..'"),
    ("service_ledger_path", "/var/lib/../x", "service_ledger_path='/var/lib/../x' must be an absolute path "
                                             "without '..'"),
    ("service_ready_path", "ready", "service_ready_path='ready' must be a URL path starting with '/' and without "
                                    "spaces"),
    ("service_frontend_port", 0, "service_frontend_port=0 is not a port (an integer from 1 to 65535)"),
    ("service_lb_stats_port", True, "service_lb_stats_port=True is not a port (an integer from 1 to 65535)"),
    ("service_ports", {"blue": 8081}, "service_ports={'blue': 8081} must give a port to each slot and nothing "
                                      "else, such as {blue: 8081, green: 8082}"),
    ("service_ports", {"blue": 8081, "green": 70000}, "service_ports.green=70000 is not a port (an integer from 1 "
                                                      "to 65535)"),
    ("service_ports", {"blue": 8081, "green": "8081"}, "service_ports={'blue': 8081, 'green': '8081'} gives both "
                                                       "slots one port"),
])
def test_each_bad_value_is_named(name, value, message):
    assert contract_problems({name: value}) == [message]


def test_ports_given_as_extra_var_strings_are_ports():
    ports = {"service_ports": {"blue": "8181", "green": "8182"}, "service_frontend_port": "8180"}
    assert contract_problems(ports) == []


def test_the_frontend_cannot_be_the_stats_port():
    assert contract_problems({"service_frontend_port": 8404, "service_lb_stats_port": "8404"}) == [
        "service_frontend_port=8404 is also service_lb_stats_port: the LB cannot serve both on one port"]


def test_every_problem_is_reported_at_once():
    assert len(contract_problems({"service_name": "X", "service_root": "x", "service_frontend_port": -1})) == 3


def test_the_contract_must_be_a_dict():
    with pytest.raises(TypeError, match="the contract must be a dict of service_\\* variables, got list"):
        contract_problems([])


def test_unit_name_and_template():
    assert unit_name("shop@{slot}.service", "green") == "shop@green.service"
    assert unit_template("shop@{slot}.service") == "shop@.service"


@pytest.mark.parametrize("unit, slot, message", [
    ("shop.service", "blue", "service_unit='shop.service' must contain {slot} once"),
    ("shop@{slot}.service", "red", "slot='red' is not one of blue, green"),
])
def test_unit_name_refuses(unit, slot, message):
    with pytest.raises(ValueError, match="^%s$" % message.replace("{", "\\{").replace("}", "\\}").replace(".", "\\.")):
        unit_name(unit, slot)


def test_unit_template_refuses_a_plain_unit():
    with pytest.raises(ValueError) as info:
        unit_template("shop.service")
    assert str(info.value) == "service_unit='shop.service' is not a systemd template instance with one {slot}"


def test_selector_sorts_and_escapes_labels():
    assert prometheus_selector("shop") == '{job="shop"}'
    assert prometheus_selector("shop", slot="green", host='a"b') == '{job="shop",host="a\\"b",slot="green"}'


def test_selector_needs_a_job():
    with pytest.raises(ValueError) as info:
        prometheus_selector("")
    assert str(info.value) == "job='' must be a non-empty string"


PORTS = {"blue": 8081, "green": 8082}


def test_inputs_that_can_install_have_no_problem():
    assert install_input_problems("1.0.0", "blue", PORTS, "secret") == []
    assert install_input_problems("2.1.0-rc.1", "green", PORTS, "secret") == []
    assert install_input_problems("3.0.0+build.7", "green", PORTS, "secret") == []


@pytest.mark.parametrize("version, shown", [
    ("latest", '"latest"'), ("", '""'), ("1.0", '"1.0"'), ("1.0.0\n", '"1.0.0\\n"'), ("../1.0.0", '"../1.0.0"'),
    (None, "null"), (1, "1"),
])
def test_a_version_that_is_no_release_is_named_with_its_value(version, shown):
    assert install_input_problems(version, "blue", PORTS, "secret") == [
        "service_version=%s is not a release version (expected e.g. 1.0.0)" % shown]


def test_the_message_names_the_variable_the_version_came_from():
    assert install_input_problems("latest", "blue", PORTS, "secret", version_from="deploy_version") == [
        'deploy_version="latest" is not a release version (expected e.g. 1.0.0)']


def test_a_slot_without_a_port_names_the_slot_and_the_ports():
    assert install_input_problems("1.0.0", "purple", PORTS, "secret") == [
        'service_slot=purple has no entry in service_ports={"blue": 8081, "green": 8082}']
    assert install_input_problems("1.0.0", "blue", None, "secret") == [
        "service_slot=blue has no entry in service_ports=null"]


@pytest.mark.parametrize("token", ["", None])
def test_an_empty_api_token_is_refused(token):
    assert install_input_problems("1.0.0", "blue", PORTS, token) == [
        "service_api_token is empty; set it (from ansible-vault) in the inventory"]


def test_every_problem_is_listed_at_once():
    assert len(install_input_problems("x", "purple", PORTS, "")) == 3
