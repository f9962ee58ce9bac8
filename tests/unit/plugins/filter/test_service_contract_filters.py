"""Service contract filters: thin wrappers, errors as AnsibleFilterError naming the filter."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter import service_contract as filters
from ansible_collections.fleetops.lifecycle.plugins.filter.service_contract import (
    FilterModule,
    install_input_problems,
    service_contract_problems,
    service_selector,
    slot_unit,
    unit_template,
)
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.contract_defaults import contract as demo_contract


def test_every_filter_is_registered():
    assert sorted(FilterModule().filters()) == ["install_input_problems", "service_contract_problems",
                                                "service_selector", "slot_unit", "unit_template"]


def test_filters_pass_results_through():
    assert service_contract_problems({"service_name": "shop"}) == []
    assert slot_unit("shop@{slot}.service", "blue") == "shop@blue.service"
    assert unit_template("shop@{slot}.service") == "shop@.service"
    assert install_input_problems("1.0.0", "blue", {"blue": 8081}, "secret") == []
    assert install_input_problems("1.0.0", "green", {"blue": 8081}, "secret", "deploy_version") == [
        'service_slot=green has no entry in service_ports={"blue": 8081}']
    assert service_selector("shop", {"slot": "blue"}) == '{job="shop",slot="blue"}'
    assert service_selector("shop") == '{job="shop"}'


@pytest.mark.parametrize("call, message", [
    (lambda: service_contract_problems("x"), "service_contract_problems: the contract must be a dict of service_* "
                                             "variables, got str"),
    (lambda: slot_unit("shop.service", "blue"), "slot_unit: service_unit='shop.service' must contain {slot} once"),
    (lambda: unit_template("x"), "unit_template: service_unit='x' is not a systemd template instance with one {slot}"),
    (lambda: service_selector("shop", ["slot"]), "service_selector: labels must be a dict, got ['slot']"),
    (lambda: service_selector(None), "service_selector: job=None must be a non-empty string"),
])
def test_errors_name_the_filter(call, message):
    with pytest.raises(AnsibleFilterError) as info:
        call()
    assert str(info.value) == message


def test_types_are_checked_by_the_contract_spec_before_the_rest():
    contract = {"service_name": "Shop", "service_frontend_port": "eighty", "service_lb_stats_port": "8404",
                "service_ports": "blue", "service_root": "/srv/shop"}
    assert service_contract_problems(contract, types=True) == [
        "argument 'service_frontend_port' is of type str and we were unable to convert to int: \"'eighty'\" cannot "
        "be converted to an int",
        "argument 'service_ports' is of type str and we were unable to convert to dict: dictionary requested, "
        "could not parse JSON or key=value",
        "service_name='Shop' is not a short name (lower-case letter, then lower-case letters, digits, '-' or '_'; "
        "at most 63)",
        "service_frontend_port='eighty' is not a port (an integer from 1 to 65535)",
        "service_ports='blue' must give a port to each slot and nothing else, such as {blue: 8081, green: 8082}",
    ]
    # Without types=true only what a spec cannot express; "8404" converts as an argument spec converts it.
    assert service_contract_problems({"service_frontend_port": "eighty"}) == [
        "service_frontend_port='eighty' is not a port (an integer from 1 to 65535)"]
    assert service_contract_problems({"service_lb_stats_port": "8404", "service_name": "shop"}, types=True) == []


def test_the_contract_defaults_hold_with_types():
    assert service_contract_problems(demo_contract(), types=True) == []


def test_types_without_the_contract_spec_are_refused_by_name(monkeypatch):
    monkeypatch.setattr(filters, "_SPEC", None)
    with pytest.raises(AnsibleFilterError) as info:
        filters.service_contract_problems({"service_name": "shop"}, types=True)
    assert str(info.value).startswith("service_contract_problems: types=true needs the service_contract role's "
                                      "argument spec at ")
    assert str(info.value).endswith("roles/service_contract/meta/argument_specs.yml, which could not be read")
    assert filters.service_contract_problems({"service_name": "shop"}) == []
