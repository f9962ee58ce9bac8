"""Lab facts the triage tests need, derived from conftest's constants (never literal addresses)."""

import ipaddress

from conftest import APP_HOSTS, LB_ADDRESS


def unused_address():
    """An address in the lab's /24 that no lab host uses (the last one before broadcast)."""
    network = ipaddress.ip_network(LB_ADDRESS + "/24", strict=False)
    used = {LB_ADDRESS, *APP_HOSTS.values()}
    for candidate in reversed(list(network.hosts())):
        if str(candidate) not in used:
            return str(candidate)
    raise AssertionError("no unused address in %s" % network)


def ghost_inventory(directory, name="ghost"):
    """A second inventory source adding an app host at an unused address (unreachable by ssh)."""
    path = directory / "ghost.yml"
    path.write_text("all:\n  children:\n    app:\n      hosts:\n        %s:\n          ansible_host: %s\n"
                    % (name, unused_address()))
    return path
