# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared setup for the unit tests.

Makes ``ansible_collections.fleetops.lifecycle`` importable: when the tests run from
an installed or linked collection (``.../ansible_collections/fleetops/lifecycle``),
that tree's root goes on ``sys.path``; from a plain checkout, the link that
``make collection-link`` creates under ``.build/collections`` does.
"""

from __future__ import annotations

import os
import sys

import pytest


def _collections_root():
    here = os.path.abspath(__file__)
    parts = here.split(os.sep)
    if "ansible_collections" in parts:
        index = len(parts) - 1 - parts[::-1].index("ansible_collections")
        return os.sep.join(parts[:index]) or os.sep
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    linked = os.path.join(checkout, ".build", "collections")
    if os.path.isdir(os.path.join(linked, "ansible_collections", "fleetops", "lifecycle")):
        return linked
    raise RuntimeError(
        "fleetops.lifecycle is not importable: run the tests from "
        ".build/collections/ansible_collections/fleetops/lifecycle after `make collection-link`"
    )


_ROOT = _collections_root()
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from ansible.module_utils import basic  # noqa: E402
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules import utils  # noqa: E402
from hypothesis import settings  # noqa: E402

# No per-example time limit: make test runs the unit tests beside the lab's integration
# groups on 2 cores, where an example that takes 10 ms alone took 295 ms once and
# hypothesis failed the test as flaky. Speed targets live in bench/, not here.
settings.register_profile("fleetops", deadline=None)
settings.load_profile("fleetops")


def pytest_configure(config):
    if config.getoption("--slow"):
        os.environ["FLEETOPS_SLOW"] = "1"


@pytest.fixture
def ansible_module_exits(monkeypatch):
    """Make AnsibleModule.exit_json/fail_json raise AnsibleExitJson/AnsibleFailJson."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", utils.exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", utils.fail_json)


def pytest_addoption(parser):
    parser.addoption(
        "--slow",
        action="store_true",
        default=False,
        help="10x more: property-test examples (hostile archive streams) and seeded simulation runs (gate outcomes)",
    )


SLOW_FACTOR = 10


@pytest.fixture
def slow_factor(request):
    """How many times more runs a seeded simulation takes: 1, or SLOW_FACTOR under ``--slow``."""
    return SLOW_FACTOR if request.config.getoption("--slow") else 1
