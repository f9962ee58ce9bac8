#!/usr/bin/python3
"""Steady synthetic users for the lab: RATE requests per second through the load
balancer, spread over the demo's endpoints on a fixed schedule (a bounded client: a
slow answer delays nothing after it by more than the timeout). Lab only.

Each request is one GET on a connection of its own, read to its close over a plain
socket: the client shares lb1's CPU with HAProxy, and urllib's machinery cost about
twice the CPU a request for the same bytes on the wire."""

import argparse
import socket
import time
from urllib.parse import urlsplit

PATHS = ["/", "/", "/", "/version", "/workflows", "/healthz"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="base URL of the load balancer")
    parser.add_argument("--rate", type=float, required=True, help="requests per second, above 0")
    args = parser.parse_args()
    if not 0 < args.rate <= 200:
        parser.error("--rate must be in (0, 200], got %s" % args.rate)
    base = urlsplit(args.url)
    if base.scheme != "http" or not base.hostname:
        parser.error("--url must be a plain http:// URL, got %s" % args.url)
    address = (base.hostname, base.port or 80)
    prefix = base.path.rstrip("/")
    start, sent = time.monotonic(), 0
    while True:
        delay = start + sent / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -5:  # fell behind (slow answers): skip, never burst to catch up
            start, sent = time.monotonic(), 0
        path = PATHS[sent % len(PATHS)]
        sent += 1
        request = "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (prefix + path, base.netloc)
        try:
            with socket.create_connection(address, timeout=2) as conn:
                conn.sendall(request.encode("ascii"))
                while conn.recv(65536):
                    pass
        except OSError:
            pass  # the gate counts failures from HAProxy; this client only offers load


if __name__ == "__main__":
    main()
