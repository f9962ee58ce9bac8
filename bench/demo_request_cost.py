#!/usr/bin/env python3
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The demo service's CPU per request: the working tree's app.py against a peer from git.

    .venv/bin/python bench/demo_request_cost.py [--peer COMMIT] [--requests 3000] [--rounds 5]

Each round starts both services side by side as subprocesses on loopback (each in a
temp dir: app.py, release.json, a state dir and a config with log level info and 16
workers, as the service role deploys them), sends each 100 warm-up requests, then
--requests GET / to each in batches of 100, taking turns (the first service alternates
from round to round and from batch to batch), so both see the same load of a shared
machine. Requests come from 2 client threads, one per connection (`Connection: close`),
and every reply must be a 200. A service's CPU over its requests (user + sys of all its
threads, from /proc/<pid>/stat; the idle one uses next to none during the other's turn)
divided by their number is its CPU per request; /proc counts it in 10 ms ticks, so a
round's 3000 requests at ~0.2 ms are read to about 2 %. Prints each round and the
medians; the ratio is new / peer, so below 1 means the working tree's app.py costs less.
The peer is `git show COMMIT:examples/demo_service/app.py` (default: bf465ca, app.py
before this script's changes to it). Both run under --python (default: this interpreter;
it needs prometheus_client, e.g. a venv with Debian 12's version, 0.16.0). Not a test:
it prints numbers.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(REPO, "examples", "demo_service", "app.py")
PEER_COMMIT = "bf465ca615391d2d49b6c68f9b9b426520f3480d"  # app.py as it was before bench/demo_request_cost.py existed
CLIENT_THREADS = 2
WARMUP_REQUESTS = 100
BATCH = 100  # requests sent to one service before the other one's turn
START_TIMEOUT = 10
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: demo-request-cost\r\nConnection: close\r\n\r\n"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def git(*args):
    return subprocess.run(["git", "-C", REPO, *args], check=True, capture_output=True).stdout


def peer_source(commit):
    return git("show", "%s:examples/demo_service/app.py" % commit)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid):
    """user + sys of every thread the process has run, from /proc/<pid>/stat."""
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14 and 15


def get_root(port):
    """One GET / on its own connection; returns the whole reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(REQUEST)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def send_requests(port, count):
    """count GET / from CLIENT_THREADS threads; raises unless every reply is a 200."""
    failures = []

    def client(share):
        for _ in range(share):
            reply = get_root(port)
            if not reply.startswith(b"HTTP/1.0 200 "):
                failures.append(reply[:200])

    shares = [count // CLIENT_THREADS + (index < count % CLIENT_THREADS) for index in range(CLIENT_THREADS)]
    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit("bench: %d of %d replies were not 200, e.g. %r" % (len(failures), count, failures[0]))


class Service:
    """app.py from source, in its own temp release and state dirs, as a subprocess."""

    def __init__(self, python, source, base):
        release = os.path.join(base, "release")
        state = os.path.join(base, "state")
        os.makedirs(release)
        os.makedirs(state)
        with open(os.path.join(release, "app.py"), "wb") as handle:
            handle.write(source)
        with open(os.path.join(release, "release.json"), "w") as handle:
            json.dump({"name": "demo-service", "version": "1.0.0",
                       "faults": {"error_ratio": 0.0, "latency_ms": 0, "fail_start": False}}, handle)
        config = os.path.join(base, "demo.ini")
        with open(config, "w") as handle:
            handle.write("[server]\nlisten = 127.0.0.1\nworkers = 16\n\n[state]\ndir = %s\n\n[log]\nlevel = info\n"
                         % state)
        self.port = free_port()
        self.stderr = open(os.path.join(base, "stderr.log"), "wb")
        env = dict(os.environ, DEMO_PORT=str(self.port), DEMO_API_TOKEN="bench-token")
        self.proc = subprocess.Popen([python, os.path.join(release, "app.py"), "--config", config, "--slot", "blue"],
                                     env=env, stdout=subprocess.DEVNULL, stderr=self.stderr)
        self._wait_listening()

    def _wait_listening(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                get_root(self.port)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        sys.exit("bench: the service did not answer within %ds" % START_TIMEOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        self.stderr.close()


def measure_round(python, sources, requests):
    """{name: CPU seconds per request} of both services, run side by side and sent
    batches of requests in turn, so that both see the same state of a shared machine."""
    with tempfile.TemporaryDirectory(prefix="demo-request-cost-") as base:
        services = {}
        try:
            for name, source in sources.items():
                services[name] = Service(python, source, os.path.join(base, name))
            for service in services.values():
                send_requests(service.port, WARMUP_REQUESTS)
            time.sleep(0.2)  # the last handler threads finish their bookkeeping
            before = {name: cpu_seconds(service.proc.pid) for name, service in services.items()}
            names = list(services)
            for batch in range(requests // BATCH):
                for name in names if batch % 2 == 0 else reversed(names):
                    send_requests(services[name].port, BATCH)
            time.sleep(0.2)
            # An idle service uses no CPU to speak of while the other one is sent its batch.
            return {name: (cpu_seconds(service.proc.pid) - before[name]) / (requests // BATCH * BATCH)
                    for name, service in services.items()}
        finally:
            for service in services.values():
                service.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", default=PEER_COMMIT, help="commit of the peer app.py (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per service and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--python", default=sys.executable, help="interpreter of both services")
    args = parser.parse_args()
    sources = {"peer": peer_source(args.peer)}
    with open(APP, "rb") as handle:
        sources["new"] = handle.read()
    print("demo service CPU per GET / (one per connection, %d client threads, %d requests per service and round)"
          % (CLIENT_THREADS, args.requests))
    peer = git("rev-parse", "--short", args.peer).decode().strip()
    print("peer: %s:examples/demo_service/app.py; new: the working tree's; python: %s" % (peer, args.python))
    costs = {"peer": [], "new": []}
    ratios = []
    for index in range(args.rounds):
        order = ("peer", "new") if index % 2 == 0 else ("new", "peer")
        cost = measure_round(args.python, {name: sources[name] for name in order}, args.requests)
        for name in order:
            costs[name].append(cost[name])
        ratios.append(cost["new"] / cost["peer"])
        print("round %d (%s first): peer %.3f ms, new %.3f ms, ratio %.3f"
              % (index + 1, order[0], cost["peer"] * 1000, cost["new"] * 1000, ratios[-1]))
    print("median: peer %.3f ms, new %.3f ms, ratio new/peer %.3f"
          % (statistics.median(costs["peer"]) * 1000, statistics.median(costs["new"]) * 1000,
             statistics.median(ratios)))


if __name__ == "__main__":
    main()
