"""Helpers for the analyzer's tests: run shadowtap-analyzer and the seeded
publisher kpi_pub over real ZeroMQ sockets (ipc:// endpoints in the test's
own directory, so tests can run in parallel), read verdicts as JSON lines,
talk to the control socket."""
import json
import math
import os
import subprocess
import sys
import time

from stlib import check, fail, skip, workdir

try:
    import msgpack
    import zmq
except ImportError as e:  # pragma: no cover - depends on the machine
    skip("python3-zmq and python3-msgpack are needed (%s)" % e)

# The simulated service: every instance an M/M/1 queue of capacity MU
# requests per second behind a fixed latency D0 (tests/integration/kpisim.h).
MU = 1000.0
D0 = 0.002
LN100 = math.log(100.0)


def p99_mm1(mu, lam, d0=D0):
    """True p99 (s) of an M/M/1 instance at per-instance rate lam."""
    return float("inf") if lam >= mu else d0 + LN100 / (mu - lam)


class Run:
    """One analyzer with its own directory and endpoints."""

    def __init__(self, name, analyzer, kpi_pub):
        self.wd = workdir("an-%s" % name)
        self.analyzer = analyzer
        self.kpi_pub = kpi_pub
        self.kpi = ["ipc://%s/kpi%d.sock" % (self.wd, i) for i in range(5)]
        self.verdicts = "ipc://%s/verdict.sock" % self.wd
        self.control = "ipc://%s/control.sock" % self.wd
        self.json = os.path.join(self.wd, "verdicts.jsonl")
        self.proc = None
        self.stderr = ""

    def config(self, services, extra="", endpoints=1):
        text = "[analyzer]\n"
        text += "kpi_endpoints = %s\n" % ", ".join(self.kpi[:endpoints])
        text += "verdict_endpoint = %s\ncontrol_endpoint = %s\n" % (self.verdicts, self.control)
        text += "window = 200ms\nmin_windows = 3\neval_windows = 6\nhysteresis = 2\n"
        text += "min_samples = 1000\nstats_interval = 0\n" + extra
        for name, keys in services.items():
            text += "\n[service.%s]\n" % name
            for k, v in keys.items():
                text += "%s = %s\n" % (k, v)
        path = os.path.join(self.wd, "analyzer.ini")
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, config, duration, args=()):
        cmd = [self.analyzer, "--config", config, "--duration", duration,
               "--json-out", self.json] + list(args)
        print("run: " + " ".join(cmd))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The analyzer binds its sockets at once; give it a moment.
        time.sleep(0.3)
        if self.proc.poll() is not None:
            out, err = self.proc.communicate()
            fail("analyzer exited at start (%d): %s" % (self.proc.returncode, err))

    def wait(self, timeout=60):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            fail("analyzer did not stop: %s" % err[-2000:])
        self.stderr = err
        if self.proc.returncode != 0:
            print(err[-4000:])
            fail("analyzer exit status %d" % self.proc.returncode)
        return err

    def publish(self, targets, count=60, interval="50ms", seed=1, src="gw1", endpoint=0,
                extra=(), wait=True):
        cmd = [self.kpi_pub, "--endpoint", self.kpi[endpoint], "--realtime", "--interval", interval,
               "--count", str(count), "--seed", str(seed), "--src", src] + list(extra)
        for t in targets:
            cmd += ["--target", t]
        print("run: " + " ".join(cmd))
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if wait:
            out, err = p.communicate(timeout=120)
            if p.returncode != 0:
                fail("kpi_pub failed: %s" % err)
        return p

    def results(self):
        out = []
        if os.path.exists(self.json):
            with open(self.json) as f:
                for line in f:
                    out.append(json.loads(line))
        return out

    def request(self, req, timeout_ms=3000):
        ctx = zmq.Context.instance()
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, timeout_ms)
        s.setsockopt(zmq.SNDTIMEO, timeout_ms)
        s.connect(self.control)
        try:
            s.send(msgpack.packb(req))
            return msgpack.unpackb(s.recv(), raw=False)
        finally:
            s.close()

    def counters(self):
        """Parses the analyzer's final counters line."""
        for line in self.stderr.splitlines():
            if "final:" in line:
                out = {}
                words = line.split("final:", 1)[1].replace("|", " ").split()
                for i in range(0, len(words) - 1, 2):
                    try:
                        out[words[i]] = int(words[i + 1])
                    except ValueError:
                        pass
                return out
        fail("no final counters line in the analyzer's stderr")


def target(name, role, instances, lam, mu=MU, d0="2ms", tail=1, err=0.0, jitter=0.0, share=1.0):
    return ("name=%s,role=%s,instances=%d,lam=%g,mu=%g,d0=%s,tail=%g,err=%g,jitter=%g,share=%g"
            % (name, role, instances, lam, mu, d0, tail, err, jitter, share))


def decisive(verdicts):
    return [v for v in verdicts if v["verdict"] != "inconclusive"]


def kpi(v, name):
    for k in v["kpis"]:
        if k["name"] == name:
            return k
    return None


def summary(v):
    return "%s rec=%d conf=%.2f score=%.0f: %s" % (v["verdict"], v["recommended_instances"],
                                                    v["confidence"], v["score"], v["reason"])
