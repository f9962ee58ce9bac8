"""Inventory pieces for test_operator.py, derived from the lab's constants (no literal
lab address or inventory path), written next to the test's other files."""

import ipaddress

import yaml
from conftest import LB_ADDRESS, lab_host


def unused_lab_address():
    """An address on the lab's network that no host answers (the .250 of LB_ADDRESS's /24)."""
    network = ipaddress.ip_network(LB_ADDRESS + "/24", strict=False)
    return str(network.network_address + 250)


def extra_inventory(tmp_path, groups):
    """A second inventory source with ``groups`` ({group: {host: vars}}); an empty
    mapping makes a group with no hosts."""
    path = tmp_path / "extra_inventory.yml"
    children = {name: {"hosts": hosts or {}} for name, hosts in groups.items()}
    path.write_text(yaml.safe_dump({"all": {"children": children}}))
    return path


def run_checked(host, command):
    """stdout of ``command`` on a lab host; a non-zero exit fails the test naming the host,
    the command and its stderr."""
    out = lab_host(host).run(command)
    assert out.rc == 0, "%s: %s\n%s" % (host, command, out.stderr)
    return out.stdout
