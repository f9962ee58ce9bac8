#!/usr/bin/python3
"""Steady synthetic users for the lab: RATE requests per second through the load
balancer, spread over the demo's endpoints on a fixed schedule (a bounded client: a
slow answer delays nothing after it by more than the timeout). Lab only."""

import argparse
import time
import urllib.error
import urllib.request

PATHS = ["/", "/", "/", "/version", "/workflows", "/healthz"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="base URL of the load balancer")
    parser.add_argument("--rate", type=float, required=True, help="requests per second, above 0")
    args = parser.parse_args()
    if not 0 < args.rate <= 200:
        parser.error("--rate must be in (0, 200], got %s" % args.rate)
    start, sent = time.monotonic(), 0
    while True:
        delay = start + sent / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -5:  # fell behind (slow answers): skip, never burst to catch up
            start, sent = time.monotonic(), 0
        path = PATHS[sent % len(PATHS)]
        sent += 1
        try:
            with urllib.request.urlopen(args.url.rstrip("/") + path, timeout=2) as reply:
                reply.read()
        except (urllib.error.URLError, OSError):
            pass  # the gate counts failures from HAProxy; this client only offers load


if __name__ == "__main__":
    main()
