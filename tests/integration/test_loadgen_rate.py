"""shadowtap-loadgen's pacing, measured twice: by the loadgen's own
TSC-stamped per-interval counts (--json series) and by the timestamps
net_pcap writes at transmit time.

- A profile with a step (100k -> 50k pps) and a ramp (50k -> 100k pps) is
  followed within 2% in every 100 ms interval, with no drop.
- --poisson gives exponential gaps (coefficient of variation ~1) at the
  asked rate.
- --mbps paces frame bytes.
- It stops when it should: a rate no lcore can keep (--pps 1e10 for 1 s,
  every packet too late) ends a few seconds after its duration, and
  SIGINT during a 1000 s gap (--pps 0.001) ends it at once, with its
  summary. Before, the first ran about ten times its duration (the walk
  never caught up with the clock and saw no stop) and the second slept
  to its next deadline.

Timed: runs alone (is_parallel: false in meson).

usage: test_loadgen_rate.py LOADGEN_BINARY
"""
import json
import math
import os
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stlib  # noqa: E402

try:
    from scapy.all import IP, UDP, Ether, Raw, wrpcap
except ImportError:
    stlib.skip("python3-scapy is not installed (scripts/setup.sh installs it)")

LG = sys.argv[1]
PROFILE = [(0, 100000), (1, 100000), (1, 50000), (2, 50000), (3, 100000)]


def cum(t):
    """Packets the profile asks for from 0 to t."""
    total = 0.0
    for (t0, r0), (t1, r1) in zip(PROFILE, PROFILE[1:]):
        if t <= t0 or t1 == t0:
            continue
        u = min(t, t1) - t0
        total += r0 * u + (r1 - r0) / (t1 - t0) * u * u / 2
    return total


def pcap_times(path):
    """Timestamps of a pcap (micro or nano), read with struct: fast enough
    for a few hundred thousand records."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    scale = 1e-9 if magic == 0xa1b23c4d else 1e-6
    off, out = 24, []
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append(sec + frac * scale)
        off += 16 + caplen
    return out


def run(wd, name, pcap, args, timeout=60):
    # The TX lcore on CPU 0 and the (mostly sleeping) main lcore on CPU 1:
    # the other DPDK tests poll on CPU 1.
    out = os.path.join(wd, name + ".pcap")
    cmd = [LG] + stlib.eal_args("lgr%s%d" % (name, os.getpid()), ["net_pcap0,tx_pcap=%s" % out],
                                lcores="0@1,1@0", mem=256) + \
        ["--", "--pcap", pcap, "--json", "--no-progress"] + args
    _, so, se = stlib.run(cmd, timeout=timeout)
    print(se)
    return json.loads(so), out


def profile_attempt(wd, pcap, prof, attempt):
    """One run of the profile. Exact counts are checked at once; returns
    (within 2%, what was measured) for the timing."""
    res, out = run(wd, "profile%d" % attempt, pcap, ["--profile", prof])
    want_total = round(cum(3))
    stlib.check(res["target_pkts"] == want_total and
                res["sent_pkts"] + sum(res["drops"].values()) == want_total,
                "profile: %d packets due, each sent or counted as dropped (sent %d, drops %s)" % (
                    want_total, res["sent_pkts"], res["drops"]))
    s = res["series"]
    stlib.check(s["full_intervals"] == 30 and abs(s["interval_s"] - 0.1) < 1e-9,
                "profile: 30 whole 100 ms intervals in the series")
    worst_t = worst_s = 0.0
    for i in range(30):
        want = cum((i + 1) / 10) - cum(i / 10)
        worst_t = max(worst_t, abs(s["target"][i] - want) / want)
        worst_s = max(worst_s, abs(s["sent"][i] - want) / want)
    stlib.check(worst_t < 0.001, "profile: the schedule is the profile in every interval (worst %.4f%%)" % (100 * worst_t))

    ts = pcap_times(out)
    stlib.check(len(ts) == res["sent_pkts"], "profile: net_pcap wrote all %d packets sent" % res["sent_pkts"])
    t0 = ts[0]
    bins = [0] * 30
    for t in ts:
        i = int((t - t0) * 10)
        if 0 <= i < 30:
            bins[i] += 1
    worst_p = max(abs(bins[i] - (cum((i + 1) / 10) - cum(i / 10))) / (cum((i + 1) / 10) - cum(i / 10))
                  for i in range(30))
    os.unlink(out)
    why = ("worst interval %.3f%% by the loadgen's TSC, %.3f%% by net_pcap's timestamps; RMSE %.3f%%; "
           "drops %d; send lag p99 %.1f us, max %.1f us" % (
               100 * worst_s, 100 * worst_p, 100 * res["rmse"]["relative"], sum(res["drops"].values()),
               res["lag_ns"]["p99"] / 1e3, res["lag_ns"]["max"] / 1e3))
    return (worst_s < 0.02 and worst_p < 0.02 and sum(res["drops"].values()) == 0, why,
            res["lag_ns"]["max"] > 5e6)


def poisson_attempt(wd, pcap, attempt):
    res, out = run(wd, "poisson%d" % attempt, pcap, ["--pps", "20000", "--poisson", "--duration", "2s",
                                                     "--seed", str(7 + attempt)])
    n = res["sent_pkts"]
    ts = pcap_times(out)
    os.unlink(out)
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    mean = sum(gaps) / len(gaps)
    sd = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps))
    # Quantiles of an exponential: P(gap < m ln 2) = 1/2, P(gap < m ln 4) =
    # 3/4; deterministic pacing would give 0 and 1.
    q50 = sum(1 for g in gaps if g < mean * math.log(2)) / len(gaps)
    q75 = sum(1 for g in gaps if g < mean * math.log(4)) / len(gaps)
    why = "%d packets in 2 s, mean gap %.1f us, cv %.2f, %.1f%% under the median, %.1f%% under the " \
          "upper quartile, send lag p99 %.1f us" % (n, mean * 1e6, sd / mean, 100 * q50, 100 * q75,
                                                   res["lag_ns"]["p99"] / 1e3)
    return (abs(n - 40000) < 5 * math.sqrt(40000) and abs(mean - 50e-6) < 2.5e-6 and 0.8 < sd / mean < 1.6 and
            0.46 < q50 < 0.54 and 0.72 < q75 < 0.78), why


def main():
    wd = stlib.workdir("loadgen-rate")
    pcap = os.path.join(wd, "in.pcap")
    wrpcap(pcap, [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                  IP(src="198.18.%d.%d" % (i // 250, i % 250 + 1), dst="198.18.10.53") /
                  UDP(sport=1000 + i, dport=53) / Raw(b"x" * 18) for i in range(256)])
    prof = os.path.join(wd, "step_ramp.csv")
    with open(prof, "w") as f:
        f.write("t_seconds,pps\n# a step down and a ramp back up\n")
        for t, r in PROFILE:
            f.write("%g,%d\n" % (t, r))

    # Pacing is measured on a shared machine: another process taking the
    # core for a few ms at an interval boundary moves hundreds of packets
    # across it. Such an attempt shows as a send lag in the milliseconds;
    # it is reported and the run repeated (at most 3 times). A pacing bug
    # fails every attempt.
    stalls = []
    for attempt in range(1, 4):
        ok, why, stall = profile_attempt(wd, pcap, prof, attempt)
        if ok:
            break
        stalls.append(stall)
        print("attempt %d missed: %s" % (attempt, why))
    if not ok and all(stalls):
        stlib.skip("every attempt was stalled by the machine for more than 5 ms (%s): pacing "
                   "cannot be measured on a machine this busy" % why)
    stlib.check(ok, "profile: followed within 2%% per 100 ms interval (%s)" % why)

    for attempt in range(1, 4):
        ok, why = poisson_attempt(wd, pcap, attempt)
        if ok:
            break
        print("attempt %d missed: %s" % (attempt, why))
    stlib.check(ok, "poisson: exponential gaps at 20 kpps (%s)" % why)

    # The capture's own gaps (5 ms) and --speed 4 (1.25 ms), from net_pcap's
    # transmit timestamps.
    gaps_pcap = os.path.join(wd, "gaps.pcap")
    pk = [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="198.18.0.%d" % (i + 1), dst="198.18.10.53") /
          UDP(sport=2000 + i, dport=53) for i in range(40)]
    for i, p in enumerate(pk):
        p.time = 1000 + i * 0.005
    wrpcap(gaps_pcap, pk)
    for speed, gap in ((1, 0.005), (4, 0.00125)):
        for attempt in range(1, 4):
            res, out = run(wd, "gaps%d_%d" % (speed, attempt), gaps_pcap, ["--speed", str(speed)])
            g = sorted(b - a for a, b in zip(pcap_times(out), pcap_times(out)[1:]))
            ok = res["sent_pkts"] == 40 and abs(g[len(g) // 2] - gap) < 0.05 * gap and \
                abs(g[len(g) // 10] - gap) < 0.2 * gap and abs(g[-len(g) // 10] - gap) < 0.2 * gap
            why = "median gap %.3f ms, 10th-90th %.3f-%.3f ms" % (g[len(g) // 2] * 1e3, g[len(g) // 10] * 1e3,
                                                                  g[-len(g) // 10] * 1e3)
            if ok:
                break
            print("attempt %d missed: %s" % (attempt, why))
        stlib.check(ok, "--speed %d: the capture's 5 ms gaps become %.2f ms (%s)" % (speed, gap * 1e3, why))

    big = os.path.join(wd, "big.pcap")
    wrpcap(big, [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                 IP(src="198.18.0.%d" % (i + 1), dst="198.18.10.53") / UDP(sport=1000 + i, dport=53) /
                 Raw(b"y" * (1000 - 42)) for i in range(16)])
    res, out = run(wd, "mbps", big, ["--mbps", "40", "--duration", "1s"])
    stlib.check(abs(res["achieved_mbps"] - 40) < 0.4 and res["sent_pkts"] == 5000,
                "--mbps 40 with 1000-byte frames: %.2f Mbps, %d packets" % (res["achieved_mbps"], res["sent_pkts"]))
    stop_cases(wd, pcap)
    print("all checks passed")


def stop_cases(wd, pcap):
    def start(name, args):
        cmd = [LG] + stlib.eal_args("lgr%s%d" % (name, os.getpid()), ["net_null0"], lcores="0@1,1@0",
                                    mem=256) + ["--", "--pcap", pcap, "--json", "--no-progress"] + args
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(p, limit):
        t0 = time.monotonic()
        try:
            so, se = p.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return None, limit
        print(se[-600:])
        return (json.loads(so) if so.strip() else {}), time.monotonic() - t0

    # Every packet due before the end is walked: sent, or dropped too
    # late. A walk behind at the end stopped there, and the packets due in
    # its last --max-lag were in no count (59,400,026 of 60,000,000 at
    # --pps 60M here, where it sends 46 Mpps). At three times the rate
    # this build sends at:
    res, _ = finish(start("top", ["--topspeed", "--duration", "0.5s"]), 40)
    pps = int(3 * res["sent_pkts"] / 0.5) if res else 1000000
    res, _ = finish(start("end", ["--pps", str(pps), "--duration", "1s"]), 40)
    stlib.check(res is not None and res["target_pkts"] == pps and
                res["sent_pkts"] + sum(res["drops"].values()) == pps and
                abs(res["elapsed_s"] - 1) < 0.2,
                "--pps %d --duration 1s (three times what it sends): %d due, each sent or counted as "
                "dropped (%s)" % (pps, pps, (None if res is None else (res["target_pkts"], res["sent_pkts"],
                                                                          res["drops"])),))
    t0 = time.monotonic()
    res, _ = finish(start("fast", ["--pps", "1e10", "--duration", "1s"]), 40)
    took = time.monotonic() - t0
    stlib.check(res is not None and took < 10,
                "--pps 1e10 --duration 1s: ends %.1f s after its start (at most 10)" % took)
    p = start("gap", ["--pps", "0.001", "--loop", "0"])
    time.sleep(3)
    stlib.check(p.poll() is None, "--pps 0.001: still running after 3 s, asleep before its second packet")
    p.send_signal(signal.SIGINT)
    res, took = finish(p, 20)
    stlib.check(res is not None and took < 2 and res.get("sent_pkts") == 1,
                "SIGINT during a 1000 s gap: ended %.2f s later with its summary (%s packet sent)"
                % (took, None if res is None else res.get("sent_pkts")))


main()
