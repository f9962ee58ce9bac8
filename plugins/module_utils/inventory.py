# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers over inventory data (no Ansible objects inside)."""

from __future__ import annotations

from collections.abc import Mapping


def host_address(host_vars, host_name):
    """Address other hosts use to reach ``host_name``.

    Order: an explicit ``service_address``, the default IPv4 address from facts, then
    ``ansible_host``, then the inventory name (resolvable on podman networks and in DNS).
    """
    if not isinstance(host_vars, Mapping):
        raise TypeError("expects a host's vars as a mapping, got %s" % type(host_vars).__name__)
    explicit = host_vars.get("service_address")
    if explicit:
        return str(explicit)
    facts_ipv4 = host_vars.get("ansible_default_ipv4") or {}
    if isinstance(facts_ipv4, Mapping) and facts_ipv4.get("address"):
        return str(facts_ipv4["address"])
    if host_vars.get("ansible_host"):
        return str(host_vars["ansible_host"])
    return str(host_name)
