"""Helpers for the analyzer's HTTP tests: run shadowtap-analyzer with its
HTTP surface on a port the kernel picks (http_endpoint = ADDR:0; the
analyzer logs the port), talk HTTP with the standard library, follow the
SSE stream and the ZeroMQ verdict stream in threads."""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

from anlib import Run, target
from stlib import fail, skip

try:
    import msgpack
    import zmq
except ImportError as e:  # pragma: no cover - depends on the machine
    skip("python3-zmq and python3-msgpack are needed (%s)" % e)

PLAN = {
    "shadow": "canary",
    "current_instances": 8,
    "proposed_instances": 16,
    "forecast_rps": 12000,
    "slo_p99": "30ms",
    "slo_error_rate": 0.01,
    "instance_cost_per_hour": 0.5,
}
LAM_SHADOW = 12000.0 / 16


def traffic(mu_shadow=1000.0):
    """A prod group and a shadow group of M/M/1 instances (kpisim)."""
    return [target("prod", "prod", 8, 500.0), target("canary", "shadow", 2, LAM_SHADOW, mu=mu_shadow)]


def need(program):
    path = shutil.which(program)
    if path is None:
        skip("%s is not installed (Debian package: see scripts/setup.sh)" % program)
    return path


class HttpRun(Run):
    """An analyzer whose stderr goes to a file, so the port can be read
    while it runs."""

    def start_http(self, config, duration, args=(), expect_port=True):
        self.errpath = os.path.join(self.wd, "analyzer.err")
        cmd = [self.analyzer, "--config", config, "--duration", duration,
               "--json-out", self.json] + list(args)
        print("run: " + " ".join(cmd))
        self.errf = open(self.errpath, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.errf, text=True)
        self.port = None
        if not expect_port:
            return
        deadline = time.time() + 10
        while time.time() < deadline and self.port is None:
            m = re.search(r"http: listening on \S+ port (\d+)", self.err_text())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                fail("analyzer exited at start (%d): %s" % (self.proc.returncode, self.err_text()))
            else:
                time.sleep(0.05)
        if self.port is None:
            fail("the analyzer did not say which port it listens on")
        print("analyzer http port %d" % self.port)

    def err_text(self):
        with open(self.errpath) as f:
            return f.read()

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail("analyzer did not stop on SIGTERM")
        self.errf.close()
        self.stderr = self.err_text()
        return self.proc.returncode


def request(port, method, path, body=None, headers=None, host="127.0.0.1", timeout=10):
    """One request on a fresh connection. Returns (status, headers, body bytes)."""
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def get_json(port, path, headers=None):
    st, _, body = request(port, "GET", path, headers=headers)
    if st != 200:
        fail("GET %s: %d %s" % (path, st, body[:300]))
    return json.loads(body)


class SseReader(threading.Thread):
    """Follows /api/v1/events; keeps (id, event, data) in arrival order."""

    def __init__(self, port, headers=None):
        super().__init__(daemon=True)
        self.port, self.headers = port, headers or {}
        self.events = []
        self.status = None
        self.error = None
        self.ready = threading.Event()

    def run(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            c.request("GET", "/api/v1/events", headers=self.headers)
            r = c.getresponse()
            self.status = r.status
            self.ready.set()
            ev = {}
            while True:
                line = r.fp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line == "":
                    if "data" in ev:
                        self.events.append((int(ev.get("id", 0)), ev.get("event", "message"),
                                            json.loads(ev["data"])))
                    ev = {}
                elif not line.startswith(":") and ":" in line:
                    k, v = line.split(":", 1)
                    ev[k] = v[1:] if v.startswith(" ") else v
        except Exception as e:  # the test reads it
            self.error = e
        finally:
            self.ready.set()

    def verdicts(self):
        return [d for (_, kind, d) in self.events if kind == "verdict"]


class VerdictSub(threading.Thread):
    """Subscribes to the analyzer's verdict PUB socket (ZeroMQ, msgpack)."""

    def __init__(self, endpoint):
        super().__init__(daemon=True)
        self.endpoint = endpoint
        self.verdicts = []
        self.stopping = False
        ctx = zmq.Context.instance()
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, 200)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"verdict.")
        self.sock.connect(endpoint)

    def run(self):
        while not self.stopping:
            try:
                frames = self.sock.recv_multipart()
            except zmq.Again:
                continue
            self.verdicts.append(msgpack.unpackb(frames[1], raw=False))
        self.sock.close()


def slow_reader(port):
    """An event stream that never reads: a tiny receive buffer, so the
    server's send blocks on it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return s


def slow_headers(port):
    """A client that sends half a request line and then nothing."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /metr")
    return s


def trickle_headers(port, every=0.5):
    """A client that sends a header byte every `every` seconds, more often
    than an idle timeout: its request never arrives whole. Returns the
    socket; a thread keeps sending until the socket fails."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")

    def drip():
        try:
            while True:
                time.sleep(every)
                s.sendall(b"a")
        except OSError:
            pass
    threading.Thread(target=drip, daemon=True).start()
    return s


def closed_within(s, seconds):
    """True when the server closes s within seconds."""
    s.settimeout(seconds)
    t0 = time.time()
    try:
        while time.time() - t0 < seconds:
            d = s.recv(65536)
            if not d:
                return True
    except (socket.timeout, TimeoutError):
        return False
    except OSError:
        return True
    return False
