#!/usr/bin/env python3
"""Analyzers that shard (`shard = I/N`, `services = a,b`):

- replay: four services in one recorded stream; shards 1/2 and 2/2 each
  judge exactly the services whose name hashes to them (CRC32C mod N,
  computed here independently), and their verdicts together equal one
  unsharded analyzer's on the same stream, verdict for verdict;
  `services = ...` picks by name the same way;
- live: four publishers (as four gateways) over real ZeroMQ sockets, two
  shard analyzers each connected to all four: each receives only its own
  services' messages -- the subscription filters at the publishers, so its
  counters show no message of the other shard's -- and judges them;
- a plan for a service of the other shard is refused by the control socket;
- bad shard specs (3/2, 0/0, 1/x, shard and services both) are refused
  naming the key, exit 2.

usage: test_analyzer_shard.py ANALYZER KPI_PUB
"""
import json
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import anlib  # noqa: E402
import stlib  # noqa: E402
import msgpack  # noqa: E402

AN, PUB = sys.argv[1], sys.argv[2]
SERVICES = ["web", "api", "search", "media"]
# per service: prod 4 instances, shadow 2, plan and load, so that verdicts
# differ between services
LOADS = {"web": 380, "api": 500, "search": 650, "media": 420}


def crc32c(data):
    """CRC-32C (Castagnoli), reflected, init and final xor ~0."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def owner(name, n):
    return crc32c(name.encode()) % n + 1


def services_config(extra=""):
    svc = {}
    for name in SERVICES:
        svc[name] = {"shadow": "canary", "current_instances": 4, "proposed_instances": 3,
                     "forecast_rps": 4 * LOADS[name], "slo_p99": "30ms"}
    return svc


def targets(name):
    lam = LOADS[name]
    return [anlib.target("prod", "prod", 4, lam), anlib.target("canary", "shadow", 2, lam * 4 / 3)]


def read_records(path):
    out = []
    with open(path, "rb") as f:
        while True:
            h = f.read(4)
            if len(h) < 4:
                break
            n = struct.unpack(">I", h)[0]
            frames = []
            for _ in range(n):
                ln = struct.unpack(">I", f.read(4))[0]
                frames.append(f.read(ln))
            out.append(frames)
    return out


def record_merged(wd):
    """Four services' recordings interleaved by their windows: one stream."""
    recs = []
    for i, name in enumerate(SERVICES):
        path = os.path.join(wd, "%s.rec" % name)
        cmd = [PUB, "--out", path, "--service", name, "--src", "gw%d" % i, "--count", "60",
               "--interval", "50ms",
               "--seed", str(11 + i)]
        for t in targets(name):
            cmd += ["--target", t]
        stlib.run(cmd, timeout=60)
        for frames in read_records(path):
            body = msgpack.unpackb(frames[1], raw=False)
            recs.append((body["t0"], i, frames))
    recs.sort(key=lambda r: (r[0], r[1]))
    merged = os.path.join(wd, "all.rec")
    with open(merged, "wb") as f:
        for _, _, frames in recs:
            f.write(struct.pack(">I", len(frames)))
            for fr in frames:
                f.write(struct.pack(">I", len(fr)) + fr)
    return merged, len(recs)


def replay(run, rec, extra, tag):
    cfg = run.config(services_config(), extra=extra)
    out = os.path.join(run.wd, tag + ".jsonl")
    p = subprocess.run([AN, "--config", cfg, "--replay", rec, "--json-out", out],
                       capture_output=True, text=True, timeout=120)
    stlib.check(p.returncode == 0, "replay %s: exit %d %s" % (tag, p.returncode, p.stderr[-300:]))
    vs = [json.loads(x) for x in open(out) if x.strip()]
    return vs, p.stderr


def key(v):
    return (v["service"], v["t"], v["verdict"], v["recommended_instances"],
            round(v["confidence"], 6), v["reason"])


def check_replay(run):
    rec, n = record_merged(run.wd)
    print("recorded %d snapshots of %d services; owners at N=2: %s" %
          (n, len(SERVICES), {s: owner(s, 2) for s in SERVICES}))
    stlib.check(len({owner(s, 2) for s in SERVICES}) == 2,
                "the four services fall in both shards")
    whole, _ = replay(run, rec, "", "whole")
    per = {s: [v for v in whole if v["service"] == s] for s in SERVICES}
    stlib.check(all(anlib.decisive(per[s]) for s in SERVICES),
                "unsharded: decisive verdicts for every service (%s)"
                % {s: len(per[s]) for s in SERVICES})
    union = []
    for i in (1, 2):
        vs, err = replay(run, rec, "shard = %d/2\n" % i, "shard%d" % i)
        mine = {s for s in SERVICES if owner(s, 2) == i}
        got = {v["service"] for v in vs}
        stlib.check(got == mine, "shard %d/2 judges exactly %s (%s)" % (i, sorted(mine),
                                                                         sorted(got)))
        stlib.check("shard %d/2: judging %d of the %d services configured"
                    % (i, len(mine), len(SERVICES)) in err, "shard %d/2 says what it judges" % i)
        union += vs
    stlib.check(sorted(map(key, union)) == sorted(map(key, whole)),
                "shards 1/2 and 2/2 together: the unsharded analyzer's %d verdicts, each equal"
                % len(whole))
    vs, _ = replay(run, rec, "services = api, media\n", "named")
    stlib.check({v["service"] for v in vs} == {"api", "media"} and
                sorted(map(key, vs)) == sorted(key(v) for v in whole
                                               if v["service"] in ("api", "media")),
                "services = api, media: their verdicts, the unsharded analyzer's")


def check_live(wd):
    runs = [anlib.Run("shard%d" % i, AN, PUB) for i in (1, 2)]
    # the four gateways' endpoints, in the first run's directory
    eps = runs[0].kpi
    for i, r in enumerate(runs):
        r.kpi = eps
        cfg = r.config(services_config(), extra="shard = %d/2\n" % (i + 1), endpoints=4)
        r.start(cfg, "9s")
    time.sleep(0.7)
    pubs = []
    for i, name in enumerate(SERVICES):
        cmd = [PUB, "--endpoint", eps[i], "--realtime", "--interval", "50ms", "--count", "140",
               "--seed", str(31 + i), "--service", name, "--src", "gw%d" % i]
        for t in targets(name):
            cmd += ["--target", t]
        pubs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True))
    time.sleep(1.5)
    other = [s for s in SERVICES if owner(s, 2) == 2][0]
    rep = runs[0].request({"cmd": "propose", "service": other, "proposed_instances": 5})
    stlib.check(rep.get("ok") is False and "another shard" in rep.get("error", ""),
                "shard 1/2 refuses a plan for %s, judged by 2/2 (%s)" % (other, rep))
    for p in pubs:
        p.communicate(timeout=60)
    for i, r in enumerate(runs):
        r.wait(timeout=60)
        c = r.counters()
        mine = {s for s in SERVICES if owner(s, 2) == i + 1}
        vs = r.results()
        stlib.check({v["service"] for v in anlib.decisive(vs)} == mine,
                    "live shard %d/2 judged %s (%s)" % (i + 1, sorted(mine),
                                                        sorted({v["service"] for v in vs})))
        # 140 intervals x 2 targets per service it owns, all received; none
        # of the other shard's reached it (filtered at the publishers)
        want = 140 * 2 * len(mine)
        stlib.check(c.get("other_shard") == 0 and c.get("unknown_topic") == 0 and
                    want * 0.95 <= c.get("msgs", 0) <= want,
                    "live shard %d/2 received %d messages, its own %d at most, none of the "
                    "other shard's (other_shard %s)" % (i + 1, c.get("msgs", 0), want,
                                                        c.get("other_shard")))


def check_live_gaps():
    """A gateway fronting services of both shards: each shard gets only its
    own services' share of that publisher's seq, and counts no gap for the
    other's."""
    a = [s for s in SERVICES if owner(s, 2) == 1][0]
    b = [s for s in SERVICES if owner(s, 2) == 2][0]
    runs = [anlib.Run("gaps%d" % i, AN, PUB) for i in (1, 2)]
    ep = runs[0].kpi[0]
    for i, r in enumerate(runs):
        r.kpi = [ep]
        r.start(r.config(services_config(), extra="shard = %d/2\n" % (i + 1)), "4s")
    time.sleep(0.7)
    cmd = [PUB, "--endpoint", ep, "--realtime", "--interval", "50ms", "--count", "40",
           "--seed", "41", "--service", a, "--also-service", b, "--src", "gwab"]
    for t in targets(a):
        cmd += ["--target", t]
    subprocess.run(cmd, capture_output=True, check=True, timeout=60)
    for i, r in enumerate(runs):
        r.wait(timeout=60)
        c = r.counters()
        stlib.check(c.get("gaps") == 0 and c.get("msgs", 0) >= 40 * 2 * 0.95,
                    "shard %d/2: %d of gwab's messages (%s), gaps %s" % (
                        i + 1, c.get("msgs", 0), [a, b][i], c.get("gaps")))


def check_bad(run):
    for extra, want in (("shard = 3/2\n", "[analyzer] shard: '3/2'"),
                        ("shard = 0/0\n", "[analyzer] shard: '0/0'"),
                        ("shard = 1/x\n", "[analyzer] shard"),
                        ("shard = 1/2\nservices = web\n", "shard and services: give one"),
                        ("services = web, b@d\n", "[analyzer] services")):
        cfg = run.config(services_config(), extra=extra)
        p = subprocess.run([AN, "--config", cfg, "--check"], capture_output=True, text=True,
                           timeout=30)
        stlib.check(p.returncode == 2 and want in p.stderr,
                    "%s refused (exit %d): %s" % (extra.strip().replace("\n", "; "),
                                                  p.returncode, p.stderr.strip()[:160]))


def main():
    run = anlib.Run("shard", AN, PUB)
    check_bad(run)
    check_replay(run)
    check_live(run.wd)
    check_live_gaps()
    print("all checks passed")


main()
