# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus text format (module_utils.metrics_text): the small parser agrees with
prometheus_client's and reads escapes, special values and timestamps."""

from __future__ import annotations

import math

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import metrics_text
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, generate_latest

# ------------------------------------------------------------------ text format


def _exposition(label_values):
    registry = CollectorRegistry()
    counter = Counter("demo_http_requests", "Requests.", ["path", "code"], registry=registry)
    for index, value in enumerate(label_values):
        counter.labels(value, str(200 + index)).inc(index + 1)
    return generate_latest(registry).decode()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12), max_size=4, unique=True))
def test_the_small_parser_reads_what_prometheus_client_writes(label_values):
    text = _exposition(label_values)
    assert metrics_text.parse_metrics_text_simple(text) == metrics_text.parse_metrics_text(text)


def test_the_small_parser_reads_escapes_and_special_values():
    text = '# HELP x y\n# TYPE x counter\nx_total{path="a\\"b\\\\c\\nd",le="+Inf"} 3 1700000000000\nup NaN\n'
    samples = metrics_text.parse_metrics_text_simple(text)
    assert samples[0] == ("x_total", {"path": 'a"b\\c\nd', "le": "+Inf"}, 3.0)
    assert samples[1][0] == "up" and math.isnan(samples[1][2])


@pytest.mark.parametrize(
    "text, message",
    [
        ("ok 1\n<html>oops</html>\n", "metrics line 2 is not a sample: '<html>oops</html>'"),
        ('x{a="1" b="2"} 1\n', 'metrics line 1: bad labels {a="1" b="2"}'),
        ("x one\n", "metrics line 1 has no numeric value: 'x one'"),
    ],
)
def test_the_small_parser_names_the_bad_line(text, message):
    with pytest.raises(ValueError) as exc:
        metrics_text.parse_metrics_text_simple(text)
    assert str(exc.value) == message
