# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Samples of a Prometheus text-format page (what a service's ``/metrics`` answers).

:func:`parse_metrics_text` reads with ``prometheus_client.parser`` when it is installed,
else with the small :func:`parse_metrics_text_simple`. Standard library only otherwise,
Python 3.8 compatible; unreadable text raises ``ValueError`` naming the line.
"""

from __future__ import annotations

import re

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # pragma: no cover - the small parser below takes over
    text_string_to_metric_families = None

_SAMPLE_RE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s+(\S+)(?:\s+-?[0-9]+)?\s*\Z")
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|\Z)')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _parse_labels(text, number):
    labels = {}
    position = 0
    text = text.strip()
    while position < len(text):
        match = _LABEL_RE.match(text, position)
        if not match:
            raise ValueError("metrics line %d: bad labels {%s}" % (number, text))
        labels[match.group(1)] = re.sub(r"\\[\\\"n]", lambda m: _ESCAPES[m.group(0)], match.group(2))
        position = match.end()
    return labels


def parse_metrics_text_simple(text):
    """Samples ``(name, labels, value)`` of a Prometheus text-format page.

    A small parser for controllers without ``prometheus_client``: comments and
    ``# HELP``/``# TYPE`` lines are skipped, timestamps ignored. Raises ValueError on a
    line it cannot read.
    """
    samples = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE_RE.match(line)
        if not match:
            raise ValueError("metrics line %d is not a sample: %r" % (number, line[:200]))
        try:
            value = float(match.group(3))
        except ValueError:
            raise ValueError("metrics line %d has no numeric value: %r" % (number, line[:200])) from None
        samples.append((match.group(1), _parse_labels(match.group(2) or "", number), value))
    return samples


def parse_metrics_text(text):
    """Samples ``(name, labels, value)`` of a Prometheus text-format page, read with
    ``prometheus_client.parser`` when it is installed, else with
    :func:`parse_metrics_text_simple`. Raises ValueError on unreadable text."""
    if text_string_to_metric_families is None:
        return parse_metrics_text_simple(text)
    samples = []
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.append((sample.name, dict(sample.labels), float(sample.value)))
    except (ValueError, TypeError, IndexError) as exc:
        raise ValueError("not Prometheus text format: %s" % exc) from None
    return samples
