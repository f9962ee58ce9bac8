# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The error-budget policy: exhausted budgets refuse normal changes with the numbers,
emergency and security changes pass and say what they overrode, no data is no data."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.parse
from decimal import Decimal

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo_policy

SLOS = [
    {"name": "availability", "objective": 99.9, "window": "30d",
     "sli": {"type": "ratio", "bad": 'x_total{code="500"}', "total": "x_total"}},
    {"name": "workflow_success", "objective": 98, "window": "7d",
     "sli": {"type": "ratio", "bad": 'w_total{code="500"}', "total": "w_total"}},
]


def opener_for(values):
    """A urlopen double answering each SLO's query (matched by its metric) with a value."""
    def opener(url, timeout):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["query"][0]
        value = values["x" if "x_total" in query else "w"]
        if isinstance(value, Exception):
            raise value
        result = [] if value is None else [{"metric": {}, "value": [0, str(value)]}]
        return io.BytesIO(json.dumps({"status": "success", "data": {"result": result}}).encode())
    return opener


def measure(values):
    return slo_policy.measure(SLOS, "http://prom:9090", 5, opener_for(values))


def test_budget_left_allows_a_normal_change():
    lines = measure({"x": 0.0005, "w": 0.01})
    assert [(line["slo"], line["consumed"], line["remaining"]) for line in lines] == [
        ("availability", Decimal("0.5"), Decimal("0.5")), ("workflow_success", Decimal("0.5"), Decimal("0.5"))]
    decision = slo_policy.decide(lines, "normal")
    assert decision["allowed"] is True and decision["exhausted"] == [] and decision["overridden"] == []


def test_an_exhausted_budget_refuses_a_normal_change_with_the_numbers():
    decision = slo_policy.decide(measure({"x": 0.005, "w": 0.01}), "normal")
    assert decision["allowed"] is False and decision["exhausted"] == ["availability"]
    assert decision["message"] == (
        "error budget exhausted, a normal change is refused: availability: 99.5% over 30d against 99.9%, 500% of "
        "the error budget spent (-400% left). Only an emergency or security change (deploy_change_type) may "
        "deploy now")


@pytest.mark.parametrize("change_type", ["emergency", "security"])
def test_emergency_and_security_changes_pass_and_say_what_they_overrode(change_type):
    decision = slo_policy.decide(measure({"x": 0.005, "w": 0.01}), change_type)
    assert decision["allowed"] is True and decision["overridden"] == ["availability"]
    assert decision["message"].startswith("error budget exhausted, the %s change goes ahead (recorded): " % change_type)


def test_no_data_is_no_data_never_a_full_budget():
    lines = measure({"x": None, "w": 0.01})
    assert lines[0]["remaining"] is None and lines[0]["exhausted"] is None
    assert lines[0]["summary"] == "availability: no data over 30d"
    decision = slo_policy.decide(lines, "normal")
    assert decision["allowed"] is True and decision["no_data"] == ["availability"]


def test_a_rejected_query_names_the_slo_and_prometheus_error():
    error = urllib.error.HTTPError("http://prom", 400, "Bad Request", {},
                                   io.BytesIO(b'{"status":"error","error":"parse error: unexpected ("}'))
    with pytest.raises(slo_policy.PolicyError) as err:
        measure({"x": error, "w": 0.0})
    assert str(err.value).startswith("SLO availability: Prometheus rejected the query ((sum(rate(x_total{code=")
    assert str(err.value).endswith(": parse error: unexpected (")


def test_unreachable_prometheus_names_the_url():
    with pytest.raises(slo_policy.PolicyError, match=r"^SLO availability: GET http://prom:9090/api/v1/query\?query="
                                                     r".* failed: .*refused"):
        measure({"x": ConnectionRefusedError("Connection refused"), "w": 0.0})


def test_unknown_change_type():
    with pytest.raises(ValueError, match=r"^change_type must be one of normal, emergency, security, got 'urgent'$"):
        slo_policy.decide([], "urgent")
