"""A counting JSON-RPC proxy: what a forked node asks its upstream.

Usage: python3 fork_proxy.py UPSTREAM_URL
Listens on a free loopback port (printed as "listening PORT"), forwards each
POST to UPSTREAM_URL as it is, and counts HTTP requests and JSON-RPC calls per
method, and calls asked more than once with the same params. GET /counts
answers them as JSON; GET /reset zeroes them.
"""

import http.client
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

UPSTREAM = urlparse(sys.argv[1])
lock = threading.Lock()


def fresh():
    return {"requests": 0, "calls": 0, "methods": {}, "repeated": {}, "seen": {}, "ms": 0.0}


counts = fresh()
local = threading.local()


def upstream():
    if getattr(local, "conn", None) is None:
        local.conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=120)
    return local.conn


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client went away

    def do_GET(self):
        global counts
        with lock:
            if self.path == "/reset":
                counts = fresh()
            shown = {k: v for k, v in counts.items() if k != "seen"}
            body = json.dumps(shown).encode()
        self.answer(200, body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = []
        calls = parsed if isinstance(parsed, list) else [parsed]
        with lock:
            counts["requests"] += 1
            for c in calls:
                if not isinstance(c, dict):
                    continue
                m = c.get("method", "?")
                counts["calls"] += 1
                counts["methods"][m] = counts["methods"].get(m, 0) + 1
                key = m + json.dumps(c.get("params"), sort_keys=True)
                if counts["seen"].get(key):
                    counts["repeated"][m] = counts["repeated"].get(m, 0) + 1
                counts["seen"][key] = True
        started = time.perf_counter()
        for attempt in range(2):
            try:
                conn = upstream()
                conn.request("POST", UPSTREAM.path or "/", body, {"Content-Type": "application/json"})
                reply = conn.getresponse()
                data = reply.read()
                break
            except (OSError, http.client.HTTPException):
                local.conn = None
                if attempt == 1:
                    self.answer(502, b'{"error":"upstream unreachable"}')
                    return
        with lock:
            counts["ms"] += (time.perf_counter() - started) * 1000
        self.answer(reply.status, data)


class Server(ThreadingHTTPServer):
    # A fork opens many connections at once (anvil: one per account); the
    # default backlog of 5 drops some, and a dropped SYN waits seconds.
    request_queue_size = 256


server = Server(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print("listening", server.server_address[1], flush=True)
server.serve_forever()
