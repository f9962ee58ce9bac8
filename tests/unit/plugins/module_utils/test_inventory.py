"""host_address: the address other hosts use to reach an inventory host."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter.host_address import FilterModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.inventory import host_address

FACTS = {"ansible_default_ipv4": {"address": "10.0.0.5"}}


@pytest.mark.parametrize(
    ("host_vars", "expected"),
    [
        ({"service_address": "app1.internal", "ansible_host": "1.2.3.4", **FACTS}, "app1.internal"),
        ({"ansible_host": "1.2.3.4", **FACTS}, "10.0.0.5"),
        ({"ansible_host": "1.2.3.4", "ansible_default_ipv4": {}}, "1.2.3.4"),
        ({}, "app1"),
    ],
    ids=["explicit", "facts", "ansible_host", "name"],
)
def test_address_order(host_vars, expected):
    assert host_address(host_vars, "app1") == expected


def test_bad_host_vars_name_the_type():
    with pytest.raises(TypeError, match="expects a host's vars as a mapping, got list"):
        host_address([], "app1")


def test_filter_wraps_the_error():
    host_address_filter = FilterModule().filters()["host_address"]
    assert host_address_filter(FACTS, "app1") == "10.0.0.5"
    with pytest.raises(AnsibleFilterError, match="host_address: expects a host's vars as a mapping, got str"):
        host_address_filter("app1", "app1")
