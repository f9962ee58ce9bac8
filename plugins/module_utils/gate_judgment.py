# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary verdicts from counted evidence: how many requests were bad, out of how many.

Pure functions, standard library only, Python 3.8+. Bad input raises ``ValueError``
naming the option and the value.

The rule (documented for users in docs/runbooks/deploy.md, "How the gate decides")
---------------------------------------------------------------------------------
A *counted* condition (``error_ratio``: 5xx answers; ``latency``: requests slower
than the threshold, a bucket bound of the service's histogram) is judged on the new
slot's ``bad``/``total`` counts, per sample and summed over the stage.

1. **Over the stage**, a sequential probability ratio test (Wald) between an
   acceptable ratio ``p0 = threshold / 2`` and an unacceptable one
   ``p1 = min(2 * threshold, (1 + threshold) / 2)``. Each good request adds
   ``ln((1 - p1) / (1 - p0))`` to the log-likelihood ratio, each bad one
   ``ln(p1 / p0)``. The stage fails once the sum reaches ``ln((1 - beta) / alpha)``
   and has shown the release acceptable once it falls to ``ln(beta / (1 - alpha))``.
   ``alpha`` (default 1 %) bounds the chance of rolling back a release at half the
   threshold or better, ``beta`` (default 1 %) the chance of promoting one at twice
   the threshold or worse, whatever the traffic: low traffic makes a decision slower,
   never a coin toss. At a 1 % threshold, 303 requests without an error pass; each
   error adds about 92 requests; a release with 5 % errors fails after ~100.
2. **Sustained breaches** (the runbooks' rule): a sample *breaches* when its own
   counts show the ratio above the threshold with ``SAMPLE_CONFIDENCE`` (exact
   one-sided binomial test), so at a 1 % threshold one error among 6 requests or more
   is no breach (among 5 or fewer it is: 1 - 0.99^5 < 5 %). A run of
   ``sustained_for`` breaching samples fails the condition; a sample that is ``ok``
   (at least ``min_requests`` requests, ratio at or below the threshold) ends a run;
   a light, unclear or unmeasured sample neither extends nor ends it.
3. The condition **passes** only when the stage test has decided "acceptable", no
   run of breaches is still open at the newest conclusive sample, and the newest
   interval was measured. Otherwise it stays **undecided**: the stage goes on
   sampling, up to its limit, and is ``inconclusive`` when the limit comes first,
   with what is missing and how to get it.

``availability`` is the share of the new slot's health probes that succeeded over
the stage (probes, not requests: it never duplicates the error ratio), and
``health`` the failing probes of each sample (:mod:`slo` streak rules).
"""

from __future__ import annotations

import datetime
import math

PASS = "pass"
FAIL = "fail"
INCONCLUSIVE = "inconclusive"

BREACH = "breach"
OK = "ok"
UNCLEAR = "unclear"
UNMEASURED = "unmeasured"

DEFAULT_ALPHA = 0.01
DEFAULT_BETA = 0.01
SAMPLE_CONFIDENCE = 0.95
ACCEPTABLE_FACTOR = 0.5
UNACCEPTABLE_FACTOR = 2.0
COUNTED_KINDS = ("error_ratio", "latency")


# ------------------------------------------------------------------------- numbers


def _probability(option, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 0.5:
        raise ValueError("%s must be a probability in (0, 0.5), got %r" % (option, value))
    return float(value)


def evidence_plan(threshold, alpha=DEFAULT_ALPHA, beta=DEFAULT_BETA, name="condition"):
    """The stage test's constants for a bad-share ``threshold`` in (0, 1)."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise ValueError(
            "%s.threshold must be a ratio in (0, 1) for a counted condition (a ratio of 0 could never be "
            "shown to hold), got %r" % (name, threshold)
        )
    alpha = _probability("false_rollback_rate", alpha)
    beta = _probability("false_promotion_rate", beta)
    p0 = threshold * ACCEPTABLE_FACTOR
    p1 = min(threshold * UNACCEPTABLE_FACTOR, (1 + threshold) / 2)
    return {
        "threshold": float(threshold),
        "acceptable": p0,
        "unacceptable": p1,
        "alpha": alpha,
        "beta": beta,
        "bad_step": math.log(p1 / p0),
        "good_step": math.log((1 - p1) / (1 - p0)),
        "fail_at": math.log((1 - beta) / alpha),
        "pass_at": math.log(beta / (1 - alpha)),
    }


def clean_requests_to_pass(plan, bad=0):
    """Requests a stage needs to pass with ``bad`` bad ones among them (the documented
    request count: 303 at a 1 % threshold with no error)."""
    # Solve bad * bad_step + (n - bad) * good_step <= pass_at for n.
    return bad + int(math.ceil((plan["pass_at"] - bad * plan["bad_step"]) / plan["good_step"] - 1e-9))


def sequential_test(bad, total, plan):
    """``{"decision": fail | pass | None, "llr", "more_clean"}`` for a stage's
    counts; ``more_clean`` is how many more good requests would pass it (None once
    decided)."""
    llr = bad * plan["bad_step"] + (total - bad) * plan["good_step"]
    if llr >= plan["fail_at"]:
        return {"decision": FAIL, "llr": llr, "more_clean": None}
    if llr <= plan["pass_at"]:
        return {"decision": PASS, "llr": llr, "more_clean": None}
    more = int(math.ceil((llr - plan["pass_at"]) / -plan["good_step"] - 1e-9))
    return {"decision": None, "llr": llr, "more_clean": max(1, more)}


def binomial_tail(k, n, p):
    """P(X >= k) for X ~ Binomial(n, p), exact in log space (n in the thousands)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    lg_n = math.lgamma(n + 1)

    def log_pmf(i):
        return lg_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q

    if k > n * p:  # the upper tail is the short sum
        terms = [log_pmf(i) for i in range(k, n + 1)]
        top = max(terms)
        return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))
    terms = [log_pmf(i) for i in range(0, k)]
    top = max(terms)
    return max(0.0, 1.0 - math.exp(top) * sum(math.exp(t - top) for t in terms))


def sample_state(bad, total, threshold, min_requests, confidence=SAMPLE_CONFIDENCE):
    """``breach`` | ``ok`` | ``unclear`` | ``unmeasured`` for one sample's counts."""
    if bad is None or total is None:
        return UNMEASURED
    if total <= 0:
        return UNCLEAR
    if binomial_tail(int(round(bad)), int(round(total)), threshold) <= 1 - confidence:
        return BREACH
    if total >= max(1, min_requests) and bad <= threshold * total:
        return OK
    return UNCLEAR


# --------------------------------------------------------------------- formatting


def percent(value):
    """A ratio for messages: ``0.4 %``, ``99.5 %``, ``0.013 %``."""
    if value is None:
        return "n/a"
    return "%s %%" % ("%.3g" % (value * 100))


def count(value):
    """An integer count with thousands separators: ``3,000``."""
    return "{:,}".format(int(round(value)))


def clock(timestamp):
    """Epoch seconds as ``HH:MM:SS`` UTC, for messages."""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return moment.strftime("%H:%M:%S")


# ----------------------------------------------------------------------- judging


def _streaks(states):
    """Index lists of breach runs (ok ends a run, anything else neither extends nor ends)."""
    runs, current = [], []
    for index, state in enumerate(states):
        if state == OK:
            if current:
                runs.append(current)
            current = []
        elif state == BREACH:
            current.append(index)
    if current:
        runs.append(current)
    return runs


def _open_streak(states):
    """Breaches after the newest ok sample."""
    tail = []
    for state in reversed(states):
        if state == OK:
            break
        if state == BREACH:
            tail.append(state)
    return len(tail)


def decide(states, test, sustained_for, above=None):
    """``(verdict, failing_run)`` from the samples' states and the stage's sequential
    test; ``inconclusive`` means undecided (more samples may decide). ``above``: whether
    the stage's ratio is above the threshold (None: not known). The test alone may
    accept a ratio up to ~1.08x the threshold (or, above a 0.5 threshold, reject one
    below it); a verdict never prints a ratio on the wrong side of its threshold."""
    failing = next((run[:sustained_for] for run in _streaks(states) if len(run) >= sustained_for), None)
    if failing is not None:
        return FAIL, failing
    if test["decision"] == FAIL and above is not False:
        return FAIL, None
    if test["decision"] == PASS and above is not True and not _open_streak(states) and states \
            and states[-1] != UNMEASURED:
        return PASS, None
    return INCONCLUSIVE, None


def judge_counted(samples, *, name, label, threshold, sustained_for, min_requests, interval,
                  alpha=DEFAULT_ALPHA, beta=DEFAULT_BETA, describe_bad="bad", rate_hint=None):
    """Judge a counted condition over a stage's samples (rules in the module docstring).

    :param samples: time-ordered ``{"timestamp", "bad", "total"}`` mappings; ``bad``
        and ``total`` are None for an interval that could not be measured (``note``
        says why, and is kept in the messages).
    :param label: what the ratio is, for messages (``error_ratio``,
        ``share of requests slower than 0.2 s``).
    :param interval: seconds per sample, to print ``sustained_for`` as a duration.
    :param rate_hint: requests per second the canary received, to say how long the
        missing evidence would take (None: computed from the samples).
    :returns: ``verdict`` (pass | fail | inconclusive), ``decided`` (whether more
        samples could change it), ``reason`` (one sentence that reads true), the
        stage's totals and test, and each sample's state.
    """
    plan = evidence_plan(threshold, alpha, beta, name=name)
    if isinstance(sustained_for, bool) or not isinstance(sustained_for, int) or sustained_for < 1:
        raise ValueError("%s.sustained_for must be a positive integer, got %r" % (name, sustained_for))
    states = [sample_state(s.get("bad"), s.get("total"), threshold, min_requests) for s in samples]
    measured = [s for s, state in zip(samples, states) if state != UNMEASURED]
    bad = sum(s["bad"] for s in measured)
    total = sum(s["total"] for s in measured)
    test = sequential_test(bad, total, plan)
    ratio = bad / total if total else None
    breaching = [index for index, state in enumerate(states) if state == BREACH]
    verdict, failing = decide(states, test, sustained_for, above=bad > threshold * total)
    stage = "%s over the stage %s (%s of %s)" % (label, percent(ratio), count(bad), count(total)) if total else (
        "%s: no requests measured yet" % label)
    sustained = "%d samples = %gs" % (sustained_for, sustained_for * interval)
    breaches = _breach_summary(samples, breaching)
    decided = verdict != INCONCLUSIVE
    if failing is not None:
        run = [samples[i] for i in failing]
        reason = "%s above %s for %d consecutive samples (%s) from %s to %s: %s; %s" % (
            label, percent(threshold), len(run), sustained, clock(run[0]["timestamp"]), clock(run[-1]["timestamp"]),
            ", ".join("%s (%s of %s)" % (percent(s["bad"] / s["total"]), count(s["bad"]), count(s["total"]))
                      for s in run),
            stage,
        )
    elif verdict == FAIL:
        reason = "%s > %s: the sequential test rejects it (a release at %s or better fails at most %s of stages)%s" % (
            stage, percent(threshold), percent(plan["acceptable"]), percent(alpha),
            "; " + breaches if breaches else "; no single sample breached with confidence (spread out, not a burst)",
        )
    elif verdict == PASS:
        reason = "%s <= %s: the sequential test accepts it (a release at %s or worse passes at most %s of stages); " \
            "%s" % (stage, percent(threshold), percent(plan["unacceptable"]), percent(beta),
                    breaches + ", not sustained (%s needed)" % sustained if breaches else "no sample breached")
    else:
        missing = _missing(samples, states, test, stage=stage, threshold=threshold,
                           sustained=sustained, breaches=breaches, describe_bad=describe_bad,
                           rate_hint=rate_hint, interval=interval)
        reason = "; ".join(missing) or "%s: no samples yet" % label
    return {
        "name": name,
        "verdict": verdict,
        "decided": decided,
        "reason": reason,
        "bad": bad,
        "total": total,
        "ratio": ratio,
        "test": {
            "acceptable": plan["acceptable"],
            "unacceptable": plan["unacceptable"],
            "alpha": alpha,
            "beta": beta,
            "llr": test["llr"],
            "fail_at": plan["fail_at"],
            "pass_at": plan["pass_at"],
            "decision": test["decision"],
            "more_clean_requests": test["more_clean"],
            "clean_requests_to_pass": clean_requests_to_pass(plan),
        },
        "states": states,
        "breaches": len(breaching),
        "failing_streak": [samples[i] for i in failing] if failing else [],
    }


def _missing(samples, states, test, *, stage, threshold, sustained, breaches, describe_bad, rate_hint,
             interval):
    """What keeps a counted condition undecided, and how long more evidence would take."""
    open_run = _open_streak(states)
    newest_measured = bool(samples) and states[-1] != UNMEASURED
    measured = [s for s, state in zip(samples, states) if state != UNMEASURED]
    unmeasured = [s for s, state in zip(samples, states) if state == UNMEASURED]
    total = sum(s["total"] for s in measured)
    bad = sum(s["bad"] for s in measured)
    missing = []
    if test["decision"] is None or (test["decision"] == PASS and bad > threshold * total):
        rate = rate_hint
        if rate is None and measured and interval:
            rate = total / (len(measured) * interval)
        # Enough clean requests for the test to accept and the ratio to be within the threshold.
        more = max(test["more_clean"] or 0, int(math.ceil(bad / threshold - total - 1e-9)), 1)
        missing.append(
            "%s; not yet enough to show it is at most %s, about %s more requests without a %s are needed%s" % (
                stage, percent(threshold), count(more), describe_bad,
                " (~%ds at the %.2g requests/s the new slot received)" % (int(math.ceil(more / rate)), rate)
                if rate else ""))
    elif test["decision"] == PASS:
        missing.append("%s <= %s: the sequential test accepts it" % (stage, percent(threshold)))
    if open_run:
        missing.append("a run of %d breaching sample(s) is still open (%s fails)" % (open_run, sustained))
    if samples and not newest_measured:
        missing.append("the newest interval was not measured")
    if unmeasured:
        notes = []
        for s in unmeasured:
            if s.get("note") and s["note"] not in notes:
                notes.append(s["note"])
        missing.append("%d of %d interval(s) not measured: %s" % (
            len(unmeasured), len(samples), "; ".join(notes[:3]) or "no reason given"))
    if breaches:
        missing.append(breaches)
    return missing


def _breach_summary(samples, breaching):
    if not breaching:
        return ""
    worst = max(breaching, key=lambda i: samples[i]["bad"] / samples[i]["total"])
    return "breached in %d of %d samples (worst %s at %s)" % (
        len(breaching), len(samples), percent(samples[worst]["bad"] / samples[worst]["total"]),
        clock(samples[worst]["timestamp"]))


def judge_availability(samples, *, name, threshold, min_probes=1):
    """Share of successful health probes over the stage against ``threshold``.

    ``samples``: ``{"timestamp", "up", "probes"}`` (None when unmeasured). Fails as
    soon as the stage's share is below the threshold after ``min_probes`` probes;
    passes when it is not and the newest scrape was measured.
    """
    measured = [s for s in samples if s.get("probes") is not None]
    up = sum(s["up"] for s in measured)
    probes = sum(s["probes"] for s in measured)
    share = up / probes if probes else None
    stage = "availability of the new slot over the stage %s (%s of %s health probes up)" % (
        percent(share), count(up), count(probes)) if probes else "availability unknown (no probe measured)"
    down = [s for s in measured if s["up"] < s["probes"]]
    when = ""
    if down:
        when = ", probes failed at %s" % ", ".join(clock(s["timestamp"]) for s in down[:3])
    if probes >= max(1, min_probes) and share < threshold:
        return {"name": name, "verdict": FAIL, "decided": True, "share": share, "up": up, "probes": probes,
                "reason": "%s < %s%s" % (stage, percent(threshold), when)}
    if probes >= max(1, min_probes) and samples and samples[-1].get("probes") is not None:
        return {"name": name, "verdict": PASS, "decided": True, "share": share, "up": up, "probes": probes,
                "reason": "%s >= %s%s" % (stage, percent(threshold), when)}
    notes = [s.get("note") for s in samples if s.get("probes") is None and s.get("note")]
    return {"name": name, "verdict": INCONCLUSIVE, "decided": False, "share": share, "up": up, "probes": probes,
            "reason": "%s: %s" % (stage, "; ".join(sorted(set(notes))[:3]) or "no probe measured yet")}
