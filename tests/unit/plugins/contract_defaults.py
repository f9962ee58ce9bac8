"""Role defaults as Ansible sees them for the demo: the service contract's defaults
(roles/service_contract) resolved, then a role's own defaults rendered over them."""

from pathlib import Path

import jinja2
import yaml

ROOT = Path(__file__).resolve().parents[3]
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined)


def _render(value, context):
    if isinstance(value, str):
        return _ENV.from_string(value).render(context)
    if isinstance(value, list):
        return [_render(v, context) for v in value]
    if isinstance(value, dict):
        return {k: _render(v, context) for k, v in value.items()}
    return value


def _load(role):
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())


def contract():
    """The contract's defaults with their references to each other resolved."""
    raw = _load("service_contract")
    values = dict(raw)
    for _ in range(5):  # references are at most a few levels deep
        values = {k: _render(v, values) for k, v in raw.items()}
    return values


def role_default(role, name):
    """One default of ``role``, rendered with the contract's values."""
    return _render(_load(role)[name], contract())
