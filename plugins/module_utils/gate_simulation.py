# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Seeded traffic simulation of one canary stage, judged by :mod:`gate_judgment`.

Requests reach the canary as a Poisson process of ``rate`` per second; each is bad
with probability ``ratio``, independently (so the good and bad counts of an interval
are independent Poisson variables). The stage samples every ``interval`` seconds, ends
on a failure at once, on a pass once ``window`` seconds have passed, and at
``max_window`` with whatever the evidence says (undecided: inconclusive). The unit
tests pin its outcome rates and ``bench/gate_simulation.py`` prints them.
"""

from __future__ import annotations

import math
import random

from ansible_collections.fleetops.lifecycle.plugins.module_utils import gate_judgment as judgment


def poisson(lam, rng):
    """One Poisson(``lam``) draw: Knuth's product for small means, Hoermann's
    transformed rejection (PTRS, 1993) above 10, exact and O(1)."""
    if lam <= 0:
        return 0
    if lam < 10:
        limit, k, product = math.exp(-lam), 0, rng.random()
        while product > limit:
            k += 1
            product *= rng.random()
        return k
    slam, loglam = math.sqrt(lam), math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2)
    while True:
        u = rng.random() - 0.5
        v = rng.random()
        us = 0.5 - abs(u)
        k = int(math.floor((2 * a / us + b) * u + lam + 0.43))
        if us >= 0.07 and v <= v_r:
            return k
        if k < 0 or (us < 0.013 and v > us):
            continue
        if math.log(v) + math.log(inv_alpha) - math.log(a / (us * us) + b) <= -lam + k * loglam - math.lgamma(k + 1):
            return k


def simulate_stage(rng, *, rate, ratio, threshold=0.01, window=60, interval=10, max_window=600,
                   sustained_for=3, min_requests=10, alpha=judgment.DEFAULT_ALPHA, beta=judgment.DEFAULT_BETA):
    """One stage: ``(verdict, requests seen, seconds)``."""
    plan = judgment.evidence_plan(threshold, alpha, beta)
    states, bad, total, elapsed = [], 0, 0, 0.0
    while elapsed < max_window - 1e-9:
        elapsed += interval
        mean = rate * interval
        sample_bad = poisson(mean * ratio, rng)
        sample_total = sample_bad + poisson(mean * (1 - ratio), rng)
        states.append(judgment.sample_state(sample_bad, sample_total, threshold, min_requests))
        bad, total = bad + sample_bad, total + sample_total
        test = judgment.sequential_test(bad, total, plan)
        verdict, _ = judgment.decide(states, test, sustained_for, above=bad > threshold * total)
        if verdict == judgment.FAIL or (verdict == judgment.PASS and elapsed >= window - 1e-9):
            return verdict, total, elapsed
    return judgment.INCONCLUSIVE, total, elapsed


def outcome_rates(runs, seed, **stage):
    """``{"pass", "fail", "inconclusive"}`` shares over ``runs`` seeded stages, and the
    median requests and seconds of the stages that passed or failed."""
    rng = random.Random(seed)
    tally = {judgment.PASS: 0, judgment.FAIL: 0, judgment.INCONCLUSIVE: 0}
    requests, seconds = [], []
    for _ in range(runs):
        verdict, seen, elapsed = simulate_stage(rng, **stage)
        tally[verdict] += 1
        if verdict != judgment.INCONCLUSIVE:
            requests.append(seen)
            seconds.append(elapsed)
    shares = dict((verdict, tally[verdict] / float(runs)) for verdict in tally)
    shares["median_requests"] = sorted(requests)[len(requests) // 2] if requests else None
    shares["median_seconds"] = sorted(seconds)[len(seconds) // 2] if seconds else None
    return shares
