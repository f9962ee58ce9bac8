#!/usr/bin/env python3
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Outcome table of the canary gate's first stage on seeded traffic, against the old streak rule.

    .venv/bin/python bench/gate_simulation.py [--runs 2000] [--seed 1]

Needs `make collection-link`. Rows are the release's error ratio, columns the requests
per second the canary receives; the gate is at its defaults (threshold 1 %, window
60 s, interval 10 s, max_window 600 s, sustained_for 3, min_requests 10). Each run
draws Poisson traffic (module_utils/gate_simulation.py) and judges it twice:

* ours: gate_simulation.simulate_stage (module_utils/gate_judgment.py's rule);
* peer: the old rule on the same draws - a sample breaches when its error ratio is
  above the threshold with at least min_requests requests (fewer: neither extends nor
  ends a streak), the stage fails at once on 3 consecutive breaches, and at the end of
  the 60 s window passes when the newest sample is ok, else is inconclusive.

A cell reads pass/fail/inconclusive in % of runs and the median requests the stage saw
when it decided (pass or fail). Wrong verdicts: a release at half the threshold or
better (0.1 %, 0.3 %, 0.5 %) rolled back - fail, or inconclusive, which the default
on_inconclusive: fail rolls back too; a release at twice the threshold or worse (2 %,
5 %) promoted. A release at the threshold (1 %) has no wrong verdict. Not a test: the
unit tests (tests/unit/plugins/module_utils/test_gate_simulation.py) pin the promises.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".build", "collections"))

from ansible_collections.fleetops.lifecycle.plugins.module_utils import gate_judgment as judgment  # noqa: E402
from ansible_collections.fleetops.lifecycle.plugins.module_utils import gate_simulation as simulation  # noqa: E402

RATIOS = (0.001, 0.003, 0.005, 0.01, 0.02, 0.05)
RATES = (1, 3, 10, 30)
THRESHOLD = 0.01
WINDOW, INTERVAL, SUSTAINED_FOR, MIN_REQUESTS = 60, 10, 3, 10
VERDICTS = (judgment.PASS, judgment.FAIL, judgment.INCONCLUSIVE)


def peer_stage(rng, *, rate, ratio):
    """The old streak rule on the draws simulate_stage makes from the same ``rng``:
    ``(verdict, requests seen)``."""
    streak, total, state = 0, 0, None
    for _ in range(int(round(WINDOW / INTERVAL))):
        mean = rate * INTERVAL
        bad = simulation.poisson(mean * ratio, rng)
        requests = bad + simulation.poisson(mean * (1 - ratio), rng)
        total += requests
        if requests < MIN_REQUESTS:
            state = judgment.UNCLEAR
        elif bad / requests > THRESHOLD:
            state, streak = judgment.BREACH, streak + 1
            if streak >= SUSTAINED_FOR:
                return judgment.FAIL, total
        else:
            state, streak = judgment.OK, 0
    return (judgment.PASS if state == judgment.OK else judgment.INCONCLUSIVE), total


def wrong(ratio, verdict):
    if ratio <= THRESHOLD * judgment.ACCEPTABLE_FACTOR:
        return verdict != judgment.PASS
    if ratio >= THRESHOLD * judgment.UNACCEPTABLE_FACTOR:
        return verdict == judgment.PASS
    return False


def cell(ratio, rate, runs, seed):
    """Verdict counts, median requests to a decision and wrong verdicts, ours and the peer's."""
    result = {}
    for rule in ("ours", "peer"):
        result[rule] = {"counts": dict.fromkeys(VERDICTS, 0), "decided_at": [], "wrong": 0}
    base = (seed * 1000003 + RATIOS.index(ratio) * 100 + RATES.index(rate)) * 1000003
    for run in range(runs):
        verdict, seen, _seconds = simulation.simulate_stage(random.Random(base + run), rate=rate, ratio=ratio,
                                                            threshold=THRESHOLD, window=WINDOW, interval=INTERVAL,
                                                            sustained_for=SUSTAINED_FOR, min_requests=MIN_REQUESTS)
        outcomes = {"ours": (verdict, seen), "peer": peer_stage(random.Random(base + run), rate=rate, ratio=ratio)}
        for rule, (verdict, seen) in outcomes.items():
            tally = result[rule]
            tally["counts"][verdict] += 1
            if verdict != judgment.INCONCLUSIVE:
                tally["decided_at"].append(seen)
            tally["wrong"] += wrong(ratio, verdict)
    return result


def median(values):
    return sorted(values)[len(values) // 2] if values else None


def text(tally, runs):
    shares = "/".join("%.1f" % (100.0 * tally["counts"][v] / runs) for v in VERDICTS)
    at = median(tally["decided_at"])
    return "%s n=%s" % (shares, "-" if at is None else at)


def table(title, rows, width):
    print(title)
    print("  %-8s" % "errors" + "".join(("%d req/s" % rate).rjust(width) for rate in RATES))
    for ratio, cells in rows:
        print("  %-8s" % judgment.percent(ratio) + "".join(c.rjust(width) for c in cells))
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="runs per cell (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    start = time.monotonic()
    results = dict(((ratio, rate), cell(ratio, rate, args.runs, args.seed)) for ratio in RATIOS for rate in RATES)
    seconds = time.monotonic() - start

    plans = dict((t, judgment.evidence_plan(t)) for t in (0.01, 0.05))
    print("Gate at its defaults: threshold %s, window %ds, interval %ds, max_window 600s, sustained_for %d, "
          "min_requests %d; %d runs per cell, seed %d." % (judgment.percent(THRESHOLD), WINDOW, INTERVAL,
                                                           SUSTAINED_FOR, MIN_REQUESTS, args.runs, args.seed))
    for t, plan in plans.items():
        needed = [judgment.clean_requests_to_pass(plan, bad) for bad in range(4)]
        print("Documented count at a %s threshold: %d requests without an error pass a stage; with 1, 2, 3 "
              "errors: %s (+%.1f requests per error)." % (
                  judgment.percent(t), needed[0], ", ".join(str(n) for n in needed[1:]),
                  1 - plan["bad_step"] / plan["good_step"]))
    print("Cells: pass/fail/inconclusive % of runs, n = median requests the stage saw when it decided.\n")
    width = 24
    for rule, title in (("ours", "ours (sequential test + sustained breaches, stage extended up to 600s)"),
                        ("peer", "peer (old rule: 3 consecutive samples > threshold, one 60s window)")):
        table(title, [(ratio, [text(results[ratio, rate][rule], args.runs) for rate in RATES]) for ratio in RATIOS],
              width)

    rows = []
    for ratio in RATIOS:
        if not wrong(ratio, judgment.PASS) and not wrong(ratio, judgment.FAIL):
            rows.append((ratio, ["-"] * len(RATES)))
            continue
        cells = []
        for rate in RATES:
            ours, peer = (results[ratio, rate][rule]["wrong"] for rule in ("ours", "peer"))
            cells.append("%5.1f %5.1f" % (100.0 * ours / args.runs, 100.0 * peer / args.runs))
        rows.append((ratio, cells))
    table("wrong verdicts, % of runs (ours  peer): good releases rolled back, bad ones promoted", rows, width)
    good = [r for r in RATIOS if wrong(r, judgment.FAIL)]
    bad = [r for r in RATIOS if wrong(r, judgment.PASS)]

    def share(rule, ratios, rates, verdicts):
        return sum(results[r, rate][rule]["counts"][v] for r in ratios for rate in rates for v in verdicts)

    def line(what, ratios, verdicts):
        print("  " + what)
        for rates in (RATES, (10, 30), (1, 3)):
            runs = args.runs * len(ratios) * len(rates)
            ours, peer = (share(rule, ratios, rates, verdicts) for rule in ("ours", "peer"))
            print("    %-15s ours %6d (%5.2f %%)   peer %6d (%5.2f %%)   peer/ours %s" % (
                "all rates" if rates == RATES else "%s req/s" % " and ".join(str(r) for r in rates),
                ours, 100.0 * ours / runs, peer, 100.0 * peer / runs,
                "%.1fx" % (float(peer) / ours) if ours else ("-" if not peer else "inf")))

    print("Wrong verdicts over %d runs per rule (the 1 %% row excluded):" % (args.runs * len(RATES) * len(good + bad)))
    line("bad releases (%s) promoted" % ", ".join(judgment.percent(r) for r in bad), bad, (judgment.PASS,))
    line("good releases (%s) rolled back (fail or inconclusive)" % ", ".join(judgment.percent(r) for r in good),
         good, (judgment.FAIL, judgment.INCONCLUSIVE))
    line("good releases rolled back by a fail verdict", good, (judgment.FAIL,))
    both = dict((rule, share(rule, bad, RATES, (judgment.PASS,))
                 + share(rule, good, RATES, (judgment.FAIL, judgment.INCONCLUSIVE))) for rule in ("ours", "peer"))
    print("All wrong verdicts: ours %d, peer %d: the peer makes %s as many." % (
        both["ours"], both["peer"], "%.1fx" % (float(both["peer"]) / both["ours"]) if both["ours"] else "infinitely"))
    print("(%.1fs)" % seconds)


if __name__ == "__main__":
    main()
