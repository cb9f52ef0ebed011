"""shadowtap-analyzer keeps running on a hostile or broken input stream:
malformed, oversized, wrong-version, unknown-topic, three-frame,
mismatched-topic and bad-histogram messages, duplicates, late and future
snapshots are each counted and ignored; a publisher that restarts (its seq
starts over) is noticed and its data still used; two publishers left on one
src (two gateways on the default publisher_id, their intervals out of step)
are told apart from duplicates, counted and warned about; verdicts keep
coming.

usage: test_analyzer_robust.py ANALYZER KPI_PUB"""
import subprocess
import sys
import time

from anlib import Run, decisive, summary, target
from stlib import check

ANALYZER, KPI_PUB = sys.argv[1], sys.argv[2]
# An SLO with room (true p99 20 ms): this test is about the stream, not
# about a close call.
PLAN = {"shadow": "canary", "current_instances": 8, "proposed_instances": 16,
        "forecast_rps": 12000, "slo_p99": "40ms"}
TARGETS = [target("prod", "prod", 8, 500), target("canary", "shadow", 2, 750)]
# gw1 carries 80% of the traffic, gw2 the rest: the pools are the same.
GW1 = [target("prod", "prod", 8, 500, share=0.8), target("canary", "shadow", 2, 750, share=0.8)]
GW2 = [target("prod", "prod", 8, 500, share=0.2), target("canary", "shadow", 2, 750, share=0.2)]

r = Run("robust", ANALYZER, KPI_PUB)
r.start(r.config({"web": PLAN}, endpoints=5), "7s")

# gw1: a clean stream that restarts halfway (a new process on the same
# endpoint, seq from 1 again).
first = r.publish(GW1, count=40, seed=1, src="gw1", endpoint=0, wait=False)
# gw2: the same service through another gateway, with every kind of bad
# message each interval and every snapshot sent twice.
junk = r.publish(GW2, count=70, seed=2,
                 src="gw2", endpoint=1, extra=["--garbage", "--dup"], wait=False)
# gw4: two gateways on one publisher_id, for another service, their
# intervals 100 ms out of step from one start (about a second ahead).
start = (time.time_ns() // 10**8 + 10) * 10**8
shared = [r.publish([target("prod", "prod", 8, 500)], count=15, interval="200ms", seed=4 + i,
                    src="gw4", endpoint=3 + i, wait=False,
                    extra=["--service", "other", "--t0", str(start + 100 * 10**6 * i)])
          for i in (0, 1)]
first.communicate(timeout=60)
stats_mid = r.request({"cmd": "stats"})
second = r.publish(GW1, count=50, seed=3, src="gw1", endpoint=0, wait=False, extra=["--wait", "0"])
# gw3: snapshots from long ago (late) and from the future.
now = int(time.time() * 1e9)
for t0, what in ((now - 100 * 10**9, "late"), (now + 3600 * 10**9, "future")):
    cmd = [r.kpi_pub, "--endpoint", r.kpi[2], "--count", "5", "--interval", "50ms",
           "--t0", str(t0), "--src", "gw3-" + what, "--wait", "300ms"]
    for t in TARGETS:
        cmd += ["--target", t]
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)
second.communicate(timeout=60)
junk.communicate(timeout=60)
for p in shared:
    p.communicate(timeout=60)
r.wait()
c = r.counters()
print("counters: %s" % c)
vs = r.results()
for v in vs[-3:]:
    print("  " + summary(v))

check(stats_mid.get("ok") is True and stats_mid["counters"]["msgs"] > 0,
      "the control socket answers 'stats' while the stream runs")
n_junk = 60   # at least this many intervals of garbage arrived
for name in ("malformed", "oversized", "bad_version", "unknown_topic", "bad_frames",
             "topic_mismatch", "bad_hist", "duplicates"):
    check(c[name] >= n_junk, "%s counted: %d" % (name, c[name]))
check(13 <= c["shared_src"] <= 15 and "two publishers share this src" in r.stderr,
      "gw4's second publisher counted (%d of 15 windows) and warned about" % c["shared_src"])
check(c["restarts"] == 1, "the restarted publisher noticed once: %d" % c["restarts"])
check(c["late"] >= 10, "late snapshots counted: %d" % c["late"])
check(c["future"] >= 10, "future snapshots counted: %d" % c["future"])
check(c["gaps"] == 0, "no gap invented by restarts, duplicates or junk: %d" % c["gaps"])
check(c["merged"] >= 2 * (40 + 50) + 2 * 60, "good snapshots merged: %d" % c["merged"])
d = decisive(vs)
# Windows a publisher missed (gw1 restarting, the ragged end of the run, a
# publisher late on a loaded machine) are left out of the judgement, so
# some evaluations lack windows: 12 to 16 of 24 are decisive on a quiet
# machine, 7 was seen on a busy one; an analyzer that junk had stopped
# would give none.
check(len(vs) >= 15 and len(d) >= 6, "verdicts kept coming: %d, %d decisive" % (len(vs), len(d)))
for v in d:
    if v["verdict"] == "adjust":
        print("  adjust: " + v.get("reason", ""))
check(d[-1]["verdict"] == "confirm" and all(v["verdict"] != "adjust" for v in d),
      "and they are right: confirm, never adjust")
print("PASS")
