"""Fixtures for the demo service tests; the helpers live in demo_service_helpers."""

import pytest
from demo_service_helpers import Launcher


@pytest.fixture
def launcher(tmp_path):
    launcher = Launcher(tmp_path)
    yield launcher
    launcher.close()


@pytest.fixture(scope="module")
def module_launcher(tmp_path_factory):
    launcher = Launcher(tmp_path_factory.mktemp("apps"))
    yield launcher
    launcher.close()
