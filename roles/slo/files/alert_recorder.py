#!/usr/bin/python3
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A webhook receiver for Alertmanager that keeps what it receives: each POST to
/<receiver> is appended as one JSON line to <dir>/<receiver>.jsonl. It lets a test or
an operator read exactly what Alertmanager sent; point the webhook URLs at a pager in
production. Usage: alert_recorder.py --listen 127.0.0.1:9095 --dir /var/lib/fleetops/alerts
"""

import argparse
import json
import os
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20
NAME = re.compile(r"/([a-z][a-z0-9_-]{0,63})\Z")


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        match = NAME.match(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if not match or length > MAX_BODY:
            self.send_error(404 if not match else 413)
            return
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            self.send_error(400, "not JSON")
            return
        path = os.path.join(self.server.directory, match.group(1) + ".jsonl")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o640)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(body, sort_keys=True) + "\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, format, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", default="127.0.0.1:9095")
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.directory = args.dir
    server.serve_forever()


if __name__ == "__main__":
    main()
