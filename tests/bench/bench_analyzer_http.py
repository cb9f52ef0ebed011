"""The analyzer's ingest rate with its HTTP API read ten times a second,
next to the same without the API (issue #13: within 5%).

The real program replays a recording (kpi_pub --out; shadowtap-analyzer
--replay ingests it as fast as it can, running its main loop's round, the
snapshot the HTTP threads read included, after every message). Rounds
alternate without and with the API; in the second, a scraper reads
/metrics and /api/v1/services ten times a second each over real loopback
sockets for the whole replay. A 60 s window keeps verdicts out of the way,
so ingest dominates. Prints a row per round as it completes, the medians
and their ratio.

usage: bench_analyzer_http.py BUILD_DIR SNAPSHOTS ROUNDS"""
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BUILD, SNAPS, ROUNDS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ANALYZER = os.path.join(BUILD, "analyzer", "shadowtap-analyzer")
KPI_PUB = os.path.join(BUILD, "tests", "integration", "kpi_pub")
TARGETS = 8


class Scraper(threading.Thread):
    """GET /metrics and GET /api/v1/services, ten times a second each."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stopping, self.ok, self.bad = port, False, 0, 0

    def run(self):
        nxt = time.monotonic()
        while not self.stopping:
            for path in ("/metrics", "/api/v1/services"):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                    c.request("GET", path)
                    r = c.getresponse()
                    r.read()
                    c.close()
                    if r.status == 200:
                        self.ok += 1
                    else:
                        self.bad += 1
                except OSError:
                    self.bad += 1
            nxt += 0.1
            time.sleep(max(0.0, nxt - time.monotonic()))


def config(wd, http):
    path = os.path.join(wd, "analyzer-%s.ini" % ("http" if http else "plain"))
    with open(path, "w") as f:
        f.write("[analyzer]\nkpi_endpoints = ipc://%s/kpi.sock\nverdict_endpoint = ipc://%s/v.sock\n"
                "control_endpoint = ipc://%s/c.sock\nwindow = 60s\nstats_interval = 0\n" % (wd, wd, wd))
        f.write("http_endpoint = %s\n" % ("127.0.0.1:0" if http else "none"))
        f.write("\n[service.web]\nshadow = c1\ncurrent_instances = 8\nproposed_instances = 12\n"
                "forecast_rps = 6000\nslo_p99 = 30ms\n")
    return path


def run(wd, rec, http):
    """One replay; returns (seconds, scrapes answered, scrapes failed)."""
    cmd = [ANALYZER, "--config", config(wd, http), "--replay", rec]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    scraper = None
    err = []
    if http:
        for line in p.stderr:
            err.append(line)
            m = re.search(r"http: listening on \S+ port (\d+)", line)
            if m:
                scraper = Scraper(int(m.group(1)))
                scraper.start()
                break
    rest = p.stderr.read()
    p.wait(timeout=600)
    dt = time.monotonic() - t0
    err.append(rest)
    if scraper is not None:
        scraper.stopping = True
        scraper.join(10)
    text = "".join(err)
    m = re.search(r"final: msgs (\d+) merged (\d+)", text)
    if p.returncode != 0 or m is None or int(m.group(2)) != SNAPS:
        sys.exit("bench_analyzer_http: the replay failed (%d): %s" % (p.returncode, text[-1500:]))
    if http and scraper is None:
        sys.exit("bench_analyzer_http: the analyzer did not say its port: %s" % text[-1500:])
    return dt, (scraper.ok if scraper else 0), (scraper.bad if scraper else 0)


def main():
    wd = tempfile.mkdtemp(prefix="st-bench-anhttp-")
    rec = os.path.join(wd, "kpi.rec")
    cmd = [KPI_PUB, "--out", rec, "--service", "web", "--interval", "50ms",
           "--count", str(SNAPS // TARGETS), "--seed", "5"]
    for i in range(TARGETS):
        role, name = ("prod", "prod") if i == 0 else ("shadow", "c%d" % i)
        cmd += ["--target", "name=%s,role=%s,instances=4,lam=400,mu=1000,d0=2ms" % (name, role)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    print("replay: %d snapshots (%d targets x %d intervals), %.1f MB; %d rounds each way"
          % (SNAPS, TARGETS, SNAPS // TARGETS, os.path.getsize(rec) / 1e6, ROUNDS))
    print("%-34s %10s %10s %12s  %s" % ("operation", "snapshots", "seconds", "ops/s", "note"))
    rates = {False: [], True: []}
    for i in range(ROUNDS):
        for http in (False, True):
            dt, ok, bad = run(wd, rec, http)
            rates[http].append(SNAPS / dt)
            name = "ingest, API scraped 10/s" if http else "ingest, API off"
            note = ("%d answers (%.1f/s per path), %d errors" % (ok, ok / 2 / dt, bad)
                    if http else "round %d" % (i + 1))
            print("%-34s %10d %10.3f %12.0f  %s" % (name, SNAPS, dt, SNAPS / dt, note), flush=True)
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    ratio = on / off
    print("%-34s %10s %10s %12.0f" % ("median, API off", "", "", off))
    print("%-34s %10s %10s %12.0f" % ("median, API scraped 10/s", "", "", on))
    print("ratio scraped/off: %.3f (%+.1f%%; target: within 5%%) -> %s" %
          (ratio, (ratio - 1) * 100, "within" if ratio >= 0.95 else "NOT within"))
    print("(a shared 2-core machine: the scraper and any neighbour take the same cores; "
          "read the rounds' spread before the ratio)")
    shutil.rmtree(wd, ignore_errors=True)


main()
