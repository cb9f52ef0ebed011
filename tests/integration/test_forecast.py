"""shadowtap-forecast from the command line: a noisy seasonal history gives
MASE below 1 (and below the seasonal naive forecast's) and the right
season; a constant history is forecast as constant; bad and short
histories are refused with a message; a capture can be the history; and
the profile it writes is one shadowtap-loadgen follows.

usage: test_forecast.py FORECAST_BINARY [LOADGEN_BINARY]
"""
import json
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stlib  # noqa: E402

FC = sys.argv[1]
LG = sys.argv[2] if len(sys.argv) > 2 else None


def write_history(path, values, step=3600, t0=1764000000):
    with open(path, "w") as f:
        f.write("timestamp,rate\n")
        for i, v in enumerate(values):
            f.write("%.3f,%.4f\n" % (t0 + i * step, v))


def read_profile(path):
    with open(path) as f:
        lines = f.read().split()
    stlib.check(lines[0] == "t_seconds,pps", "the output is a loadgen profile (%s)" % lines[0])
    return [tuple(float(x) for x in ln.split(",")) for ln in lines[1:]]


def main():
    wd = stlib.workdir("forecast")
    rnd = random.Random(4)
    seas = [1000 + 2 * i + 300 * math.sin(2 * math.pi * i / 24) + 90 * math.cos(2 * math.pi * i / 6) +
            rnd.gauss(0, 35) for i in range(24 * 21)]
    hist = os.path.join(wd, "seasonal.csv")
    write_history(hist, seas)
    out = os.path.join(wd, "profile.csv")
    _, _, err = stlib.run([FC, "--history", hist, "--horizon", "48", "--json", "--output", out])
    rep = json.loads(err.strip().splitlines()[-1])
    print(rep)
    stlib.check(rep["season"] == 24 and rep["season_detected"], "seasonal: season 24 detected")
    stlib.check(rep["mase"] < 1 and rep["mase"] < rep["mase_seasonal_naive"],
                "seasonal: MASE %.3f < 1 and below the seasonal naive's %.3f" % (
                    rep["mase"], rep["mase_seasonal_naive"]))
    stlib.check(rep["smape"] < rep["smape_seasonal_naive"], "seasonal: sMAPE %.2f%% below seasonal naive's %.2f%%" % (
        rep["smape"], rep["smape_seasonal_naive"]))
    prof = read_profile(out)
    stlib.check(len(prof) == 49 and prof[-1][0] == 48 * 3600, "seasonal: 48 hourly points and the end")
    stlib.check(all(1200 < v < 2800 for _, v in prof), "seasonal: forecasts in the series' range")

    # a horizon past what shadowtap-loadgen --profile reads (a year of
    # hourly points): refused with the reason, no profile written
    far = os.path.join(wd, "far.csv")
    rc, _, err = stlib.run([FC, "--history", hist, "--horizon", "9000", "--output", far], check_rc=False)
    stlib.check(rc != 0 and "reads at most" in err and not os.path.exists(far),
                "--horizon 9000 hourly (over a year): refused, said (%d: %s)" % (rc, err.strip()[-160:]))

    q = os.path.join(wd, "q90.csv")
    _, _, err = stlib.run([FC, "--history", hist, "--season", "24", "--horizon", "48", "--quantile", "0.9",
                           "--json", "--output", q])
    rep = json.loads(err.strip().splitlines()[-1])
    stlib.check(0.6 <= rep["coverage_quantile"] <= 1.0, "q0.9: %.0f%% of held-out points at or below it" % (
        100 * rep["coverage_quantile"]))
    upper = read_profile(q)
    stlib.check(all(u[1] > p[1] for u, p in zip(upper, prof)), "q0.9: the profile lies above the point forecast")

    const = os.path.join(wd, "const.csv")
    write_history(const, [640.0] * 200, step=60)
    cout = os.path.join(wd, "const_profile.csv")
    stlib.run([FC, "--history", const, "--season", "12", "--horizon", "30", "--output", cout])
    stlib.check(all(abs(v - 640) < 1e-6 for _, v in read_profile(cout)), "constant: forecast as constant 640")
    stlib.run([FC, "--history", const, "--horizon", "5", "--output", cout])
    stlib.check(all(abs(v - 640) < 1e-6 for _, v in read_profile(cout)), "constant, season auto: constant too")

    bad = [
        ("too short", "timestamp,rate\n0,1\n60,2\n120,3\n", ["--season", "24"], "history too short"),
        ("uneven", "timestamp,rate\n0,1\n60,2\n90,3\n", [], ":4: uneven spacing"),
        ("not a number", "timestamp,rate\n0,1\n60,lots\n", [], ":3: rate 'lots'"),
        ("bad header", "when,rate\n0,1\n", [], ":1: header must be 'timestamp,rate'"),
        ("one point", "timestamp,rate\n0,1\n", [], "a history needs at least two"),
        ("empty", "", [], "a history needs at least two"),
    ]
    for name, text, args, want in bad:
        p = os.path.join(wd, name.replace(" ", "_") + ".csv")
        with open(p, "w") as f:
            f.write(text)
        rc, _, err = stlib.run([FC, "--history", p] + args, check_rc=False)
        stlib.check(rc == 1 and want in err, "bad history, %s: exit 1 with '%s'" % (name, want))
    rc, _, err = stlib.run([FC, "--history", os.path.join(wd, "nope.csv")], check_rc=False)
    stlib.check(rc == 1 and "No such file" in err, "missing history: exit 1")
    rc, _, err = stlib.run([FC], check_rc=False)
    stlib.check(rc == 1 and "--history" in err, "no input: exit 1")
    rc, so, _ = stlib.run([FC, "--help"])
    stlib.check("--quantile" in so and "--from-pcap" in so, "--help lists the options")

    try:
        from scapy.all import IP, UDP, Ether, wrpcap
    except ImportError:
        print("SKIP part: no scapy for --from-pcap")
        return
    # A capture whose packet rate has a season of 8 bins of 100 ms.
    pkts, t = [], 1000.0
    for b in range(64):
        n = 20 + 15 * (b % 8 < 4)
        for k in range(n):
            p = Ether() / IP(src="198.18.0.%d" % (k + 1), dst="198.18.1.53") / UDP(sport=1000 + b, dport=53)
            p.time = t + b * 0.1 + k * 0.1 / n
            pkts.append(p)
    cap = os.path.join(wd, "rate.pcap")
    wrpcap(cap, pkts)
    pout = os.path.join(wd, "pcap_profile.csv")
    _, _, err = stlib.run([FC, "--from-pcap", cap, "--bin", "100ms", "--horizon", "16", "--json", "--output", pout])
    rep = json.loads(err.strip().splitlines()[-1])
    stlib.check(rep["season"] == 8 and abs(rep["step_s"] - 0.1) < 1e-9 and rep["points"] == 63,
                "--from-pcap --bin 100ms: 63 bins, season 8 found")
    prof = read_profile(pout)
    stlib.check(all(150 < v < 400 for _, v in prof), "--from-pcap: forecast between 200 and 350 pps")
    if LG:
        rc, so, err = stlib.run([LG] + stlib.eal_args("fcl%d" % os.getpid(), ["net_null0"], mem=256) +
                                ["--", "--pcap", cap, "--profile", pout, "--json", "--no-progress", "--max-lag", "30s"],
                                timeout=60)
        res = json.loads(so)
        want = sum((a[1] + b[1]) / 2 * (b[0] - a[0]) for a, b in zip(prof, prof[1:]))
        stlib.check(abs(res["target_pkts"] - want) <= 2 and res["sent_pkts"] == res["target_pkts"],
                    "the loadgen follows the forecast profile: %d packets due and sent (profile: %.1f)" % (
                        res["target_pkts"], want))
    print("all checks passed")


main()
