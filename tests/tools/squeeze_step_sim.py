#!/usr/bin/python3
"""How often a squeeze step's test passes, fails or stays undecided, by
simulation: the analyzer's step (analyzer/verify.c, judge.c
an_judge_measure) run on simulated windows instead of servers.

Each trial simulates `instances` FIFO single servers with Poisson arrivals
at LAM requests per second each (Lindley's recursion), service times as
tests/integration/test_e2e_recommend.py's udp_echo modes (det, exp, or
bimodal: 90% BASE ms, 10% 8 x BASE), in WINDOW-second windows after a
warm-up. Like the analyzer it pools the windows measured so far and takes
p99's upper bound at the pass confidence and its lower bound at 90%, each
the wider of the order statistics' interval (normal approximation of the
binomial ranks) and the batch-means t interval over the windows' p99s;
it looks first after `first` windows, then after every further window up
to `max` (the sequential test verify_max_time allows).

usage: squeeze_step_sim.py LAM [--conf 0.99] [--trials 300] [--seed 1]
       [--slo 40] [--dist bimodal] [--base 2] [--instances 2] [--window 2]
       [--first 3] [--max 13]
prints: the counts of pass / fail / undecided and the mean windows to a pass.
Used for docs/analyzer.md's squeeze-step confidence (LAM 169: a bimodal
server whose true p99 is 12% over a 40 ms SLO)."""
import argparse
import math
import random
from statistics import NormalDist

# one-sided t quantiles for 1..15 degrees of freedom
T = {0.90: [3.078, 1.886, 1.638, 1.533, 1.476, 1.440, 1.415, 1.397, 1.383, 1.372,
            1.363, 1.356, 1.350, 1.345, 1.341],
     0.95: [6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812,
            1.796, 1.782, 1.771, 1.761, 1.753],
     0.99: [31.82, 6.965, 4.541, 3.747, 3.365, 3.143, 2.998, 2.896, 2.821, 2.764,
            2.718, 2.681, 2.650, 2.624, 2.602]}
FAIL_CONF = 0.90


def service(rng, dist, base):
    if dist == "det":
        return base
    if dist == "exp":
        return rng.expovariate(1.0 / base)
    return base * 8 if rng.random() < 0.1 else base


def windows(rng, a):
    """Sojourn times (ms) per window, the instances pooled."""
    out = [[] for _ in range(a.max)]
    warm = 2 * a.window
    for _ in range(a.instances):
        t = wait = prev = 0.0
        while True:
            gap = rng.expovariate(a.lam / 1000.0)
            t += gap
            wait = max(0.0, wait + prev - gap)
            prev = service(rng, a.dist, a.base)
            at = t / 1000.0 - warm
            if at >= a.max * a.window:
                break
            if at >= 0:
                out[int(at / a.window)].append(wait + prev)
    return out


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.99 * len(xs)))]


def bounds(ws, conf):
    """(lower, upper) one-sided bounds at conf of the pooled p99."""
    xs = sorted(x for w in ws for x in w)
    n = len(xs)
    h = NormalDist().inv_cdf(conf) * math.sqrt(n * 0.99 * 0.01)
    lo, hi = xs[max(0, int(0.99 * n - h))], xs[min(n - 1, int(math.ceil(0.99 * n + h)))]
    ps = [p99(w) for w in ws if w]
    k = len(ps)
    if k >= 2:
        m = sum(ps) / k
        se = math.sqrt(sum((x - m) ** 2 for x in ps) / (k - 1) / k)
        lo, hi = min(lo, m - T[conf][k - 2] * se), max(hi, m + T[conf][k - 2] * se)
    return lo, hi


def trial(rng, a):
    ws = windows(rng, a)
    for k in range(a.first, a.max + 1):
        if bounds(ws[:k], a.conf)[1] <= a.slo:
            return "pass", k
        if bounds(ws[:k], FAIL_CONF)[0] > a.slo:
            return "fail", k
    return "undecided", a.max


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("lam", type=float, help="requests per second per instance")
    ap.add_argument("--conf", type=float, default=0.99, choices=sorted(T))
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--slo", type=float, default=40.0, help="p99 SLO, ms")
    ap.add_argument("--dist", default="bimodal", choices=["det", "exp", "bimodal"])
    ap.add_argument("--base", type=float, default=2.0, help="service time, ms")
    ap.add_argument("--instances", type=int, default=2)
    ap.add_argument("--window", type=float, default=2.0, help="s")
    ap.add_argument("--first", type=int, default=3)
    ap.add_argument("--max", type=int, default=13)
    a = ap.parse_args()
    if not 2 <= a.first <= a.max <= 16:
        ap.error("need 2 <= --first <= --max <= 16")
    rng = random.Random(a.seed)
    res, ks = {"pass": 0, "fail": 0, "undecided": 0}, []
    for _ in range(a.trials):
        r, k = trial(rng, a)
        res[r] += 1
        if r == "pass":
            ks.append(k)
    print("lam %.1f conf %.2f: pass %d, fail %d, undecided %d of %d; mean windows to a pass %.1f"
          % (a.lam, a.conf, res["pass"], res["fail"], res["undecided"], a.trials,
             sum(ks) / len(ks) if ks else float("nan")))


main()
