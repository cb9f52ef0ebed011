"""shadowtap-analyzer over real ZeroMQ sockets, fed by seeded publishers
whose instances are M/M/1 queues of known capacity (kpi_pub):

  - a shadow that meets the prediction gets `confirm` (two gateways, merged);
  - one twice as slow at p99 gets `adjust`, to a count that meets the SLO
    under the simulated true capacity (plan sent with `propose` at run time);
  - a tail-only regression (p50 equal, p99 3x) is caught;
  - too few samples give `inconclusive`;
  - `last` on the control socket returns the newest verdict.

usage: test_analyzer_verdicts.py ANALYZER KPI_PUB"""
import math
import sys
import time

from anlib import MU, D0, LN100, Run, decisive, kpi, p99_mm1, summary, target
from stlib import check, fail

ANALYZER, KPI_PUB = sys.argv[1], sys.argv[2]
SLO = 0.030
FORECAST = 12000.0
PROPOSED = 16
PLAN = {
    "shadow": "canary",
    "current_instances": 8,
    "proposed_instances": PROPOSED,
    "forecast_rps": FORECAST,
    "slo_p99": "30ms",
    "slo_error_rate": 0.01,
    "instance_cost_per_hour": 0.5,
}
LAM_PROD = 500.0
LAM_SHADOW = FORECAST / PROPOSED    # the proposal's per-instance load


def prod(lam=LAM_PROD, share=1.0):
    return target("prod", "prod", 8, lam, share=share)


def show(vs):
    for v in vs:
        print("  " + summary(v))


def scenario_confirm():
    print("== confirm: the shadow meets the prediction (two gateways)")
    r = Run("confirm", ANALYZER, KPI_PUB)
    r.start(r.config({"web": PLAN}, endpoints=2), "5s")
    # Each gateway carries half the traffic to the same instances.
    a = r.publish([prod(share=0.5), target("canary", "shadow", 2, LAM_SHADOW, share=0.5)],
                  seed=11, src="gw1", endpoint=0, wait=False)
    b = r.publish([prod(share=0.5), target("canary", "shadow", 2, LAM_SHADOW, share=0.5)],
                  seed=12, src="gw2", endpoint=1, wait=False)
    a.communicate(timeout=60)
    b.communicate(timeout=60)
    last = r.request({"cmd": "last", "service": "web"})
    r.wait()
    vs = r.results()
    show(vs)
    d = decisive(vs)
    check(len(d) >= 3, "at least three decisive verdicts (%d)" % len(d))
    check(d[-1]["verdict"] == "confirm", "the last verdict is confirm")
    check(all(v["verdict"] == "confirm" for v in d), "no adjust at any point")
    rate = d[-1]["observed_rps_per_instance"]
    check(abs(rate - LAM_SHADOW) < 0.15 * LAM_SHADOW,
          "both gateways merged: %.0f rps per shadow instance (%.0f sent)" % (rate, LAM_SHADOW))
    check(kpi(d[-1], "p99")["status"] == "pass", "p99 passes")
    check(d[-1]["model"]["kind"] == "mm1", "the model picked per-instance queues (mm1): %s"
          % d[-1]["model"]["kind"])
    mu = d[-1]["model"]["params"].get("mu_prod_rps", 0)
    check(abs(mu - MU) < 0.1 * MU, "capacity estimated from prod: %.0f rps (true %.0f)" % (mu, MU))
    check("cost" in d[-1] and abs(d[-1]["cost"]["proposed"] - 8.0) < 1e-9,
          "cost of the proposal: %s" % d[-1].get("cost"))
    check(last.get("ok") is True and last["verdict"]["service"] == "web",
          "control 'last' returns the newest verdict (%s)" % last.get("verdict", {}).get("verdict"))
    c = r.counters()
    check(c["gaps"] == 0 and c["duplicates"] == 0 and c["malformed"] == 0,
          "clean stream: no gaps, duplicates or malformed (%s)" % c)


def scenario_adjust():
    print("== adjust: the shadow is twice as slow at p99 (plan by propose)")
    r = Run("adjust", ANALYZER, KPI_PUB)
    r.start(r.config({}), "5s")
    bad = r.request({"cmd": "propose", "service": "web", "current_instances": 8,
                     "proposed_instances": 0, "forecast_rps": FORECAST, "slo_p99": "30ms",
                     "shadow": "canary"})
    check(bad.get("ok") is False and "proposed_instances" in bad.get("error", ""),
          "a bad propose is refused: %s" % bad.get("error"))
    bad = r.request({"cmd": "propose", "service": "web", "bogus": 1})
    check(bad.get("ok") is False, "an unknown key is refused: %s" % bad.get("error"))
    # An SLO whose instance count is not on a knife edge under the true
    # capacity: 17 instances give 30.3 ms, 16 give 40.8 ms.
    slo = 0.032
    req = dict(PLAN, cmd="propose", service="web")
    req["slo_p99"] = int(slo * 1e9)   # a number is nanoseconds
    ok = r.request(req)
    check(ok.get("ok") is True, "propose accepted: %s" % ok)
    # Twice the p99 at the same load: a lower true capacity.
    p99_target = 2 * p99_mm1(MU, LAM_SHADOW)
    mu_slow = LAM_SHADOW + LN100 / (p99_target - D0)
    r.publish([prod(), target("canary", "shadow", 2, LAM_SHADOW, mu=mu_slow)], seed=21)
    r.wait()
    vs = r.results()
    show(vs)
    d = decisive(vs)
    check(len(d) >= 2, "decisive verdicts (%d)" % len(d))
    v = d[-1]
    check(v["verdict"] == "adjust", "the last verdict is adjust")
    check(kpi(v, "p99")["status"] == "high", "p99 is high (ratio %.2f)" % kpi(v, "p99")["ratio"])
    n = v["recommended_instances"]
    true_p99 = p99_mm1(mu_slow, FORECAST / n)
    check(true_p99 <= slo, "%d instances meet the SLO under the true capacity %.0f rps: p99 %.1f ms"
          % (n, mu_slow, true_p99 * 1e3))
    need = math.ceil(FORECAST / (mu_slow - LN100 / (slo - D0)))
    check(n <= need + 3, "and do not overshoot: %d vs %d needed" % (n, need))
    check(p99_mm1(mu_slow, FORECAST / PROPOSED) > slo, "(the proposal really misses the SLO)")
    check(v["cost"]["recommended"] == n * 0.5, "cost of the recommendation")
    check(str(n) in v["reason"] and "p99" in v["reason"], "the reason names the KPI and count")


def scenario_tail():
    print("== tail-only regression: p50 equal, p99 three times")
    r = Run("tail", ANALYZER, KPI_PUB)
    r.start(r.config({"web": PLAN}), "5s")
    r.publish([prod(), target("canary", "shadow", 2, LAM_SHADOW, tail=3)], seed=31)
    r.wait()
    vs = r.results()
    show(vs)
    d = decisive(vs)
    check(len(d) >= 2, "decisive verdicts (%d)" % len(d))
    v = d[-1]
    check(kpi(v, "p50")["status"] == "pass", "p50 passes (ratio %.2f)" % kpi(v, "p50")["ratio"])
    check(kpi(v, "p99")["status"] == "high", "p99 is high (ratio %.2f)" % kpi(v, "p99")["ratio"])
    check(v["verdict"] == "adjust" and v["recommended_instances"] > PROPOSED,
          "caught: adjust to %d instances" % v["recommended_instances"])


def scenario_inconclusive():
    print("== inconclusive: too few samples")
    r = Run("inconcl", ANALYZER, KPI_PUB)
    r.start(r.config({"web": PLAN}), "4s")
    r.publish([prod(), target("canary", "shadow", 2, 10)], seed=41, count=50)
    r.wait()
    vs = r.results()
    show(vs[-3:])
    check(len(vs) >= 5, "verdicts were published (%d)" % len(vs))
    check(all(v["verdict"] == "inconclusive" for v in vs), "every verdict is inconclusive")
    check("samples" in vs[-1]["reason"], "the reason says why: %s" % vs[-1]["reason"])
    check(vs[-1]["confidence"] == 0, "with zero confidence")


scenario_confirm()
scenario_adjust()
scenario_tail()
scenario_inconclusive()
print("PASS")
