"""Service contract filters: thin wrappers, errors as AnsibleFilterError naming the filter."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter.service_contract import (
    FilterModule,
    install_input_problems,
    service_contract_problems,
    service_selector,
    slot_unit,
    unit_template,
)


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
