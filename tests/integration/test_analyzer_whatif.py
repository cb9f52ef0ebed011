"""The model what-if (issue #14): GET /api/v1/services/{name}/whatif and the
control socket's `whatif`, against a live analyzer fed by kpi_pub's M/M/1
instances of a known capacity (MU per instance, D0 fixed; anlib.py):

  - the answer's numbers are the closed form of the fits it names (mm1:
    d0 + tail ln(1/(1-q)) / (mu - lam)), and the fitted capacity is the
    simulated one, so the prediction at the shadow's load is the true p99;
  - utilisation, cost, the SLO and the evidence (measured at the loads the
    model saw, extrapolated far beyond them) follow;
  - the control socket answers the same numbers for the same question;
  - bad parameters: 400 (HTTP) and ok: false (control) naming every one.

usage: test_analyzer_whatif.py ANALYZER KPI_PUB"""
import json
import math
import sys
import time
import urllib.parse

from anhttp import PLAN, LAM_SHADOW, HttpRun, request, traffic
from anlib import MU, D0, p99_mm1
from stlib import check, fail

ANALYZER, KPI_PUB = sys.argv[1], sys.argv[2]


def get(port, path):
    st, _, body = request(port, "GET", path)
    return st, json.loads(body)


def mm1_q(fits, lam, q):
    """The worst of the fits' closed forms (s); inf when one saturates."""
    worst = 0.0
    for f in fits:
        if lam >= f["mu"]:
            return float("inf")
        worst = max(worst, f["d0"] + f["tail"] * math.log(1 / (1 - q)) / (f["mu"] - lam))
    return worst


def main():
    r = HttpRun("whatif", ANALYZER, KPI_PUB)
    cfg = r.config({"web": PLAN}, extra="http_endpoint = 127.0.0.1:0\nmodel = mm1\n")
    r.start_http(cfg, "60s")
    st, body = get(r.port, "/api/v1/services/web/whatif")
    check(st in (404, 409), "before any KPI: %d (%s)" % (st, body.get("error")))
    r.publish(traffic(), count=120, interval="50ms", seed=7)
    # the snapshot follows the engine within a round
    deadline = time.time() + 10
    while True:
        st, doc = get(r.port, "/api/v1/services/web/whatif?load=0.5x,1x,2x,30000&instances=4-16,32")
        if st == 200 and doc["model"]["source"] == "verdict" or time.time() > deadline:
            break
        time.sleep(0.3)
    check(st == 200, "GET whatif: %d" % st)
    m = doc["model"]
    print("model: %s" % json.dumps(m))
    check(m["form"] == "mm1", "the form forced by the config is used (%s)" % m["form"])
    check(m["source"] == "verdict" and m["version"] > 0,
          "the model the last verdict recommended with (source %s, version %d)"
          % (m["source"], m["version"]))
    fits = m["fits"]
    check(all(abs(f["mu"] / MU - 1) < 0.15 for f in fits),
          "the fitted capacity is the simulated %g/s per instance (%s)"
          % (MU, [round(f["mu"], 1) for f in fits]))
    pts = doc["points"]
    check(len(pts) == 4 * 14, "4 loads x 14 counts = %d points" % len(pts))
    check([p["rps"] for p in pts[::14]] == [6000, 12000, 24000, 30000],
          "loads in rising order, 0.5x/1x/2x of the 12000 rps forecast and 30000")
    worst, bad = 0.0, []
    for p in pts:
        lam = p["rps"] / p["instances"]
        want99, want50 = mm1_q(fits, lam, 0.99), mm1_q(fits, lam, 0.5)
        hi = float("inf") if p["p99_hi"] is None else p["p99_hi"]
        if math.isinf(want99):
            if p["p99"] is not None or p["meets_slo"] is not False:
                bad.append("saturated at %g rps on %d: a p99 or the SLO met" % (p["rps"], p["instances"]))
            continue
        worst = max(worst, abs(p["p99"] / want99 - 1), abs(p["p50"] / want50 - 1))
        if abs(p["utilization"] - lam / min(f["mu"] for f in fits)) > 1e-9:
            bad.append("utilisation %s at %g on %d" % (p["utilization"], p["rps"], p["instances"]))
        if p["cost_per_hour"] != 0.5 * p["instances"]:
            bad.append("cost %s on %d" % (p["cost_per_hour"], p["instances"]))
        if hi < p["p99"] * (1 - 1e-12):
            bad.append("bound %s below p99 %s" % (hi, p["p99"]))
        if p["meets_slo"] != (hi <= 0.030 and p["error_rate_hi"] <= 0.01):
            bad.append("meets_slo %s against bound %s" % (p["meets_slo"], hi))
    check(not bad, "every point: no p99 where saturated, utilisation lam/mu, cost = instances x "
          "0.5/h, bound >= p99, meets_slo = the bound within the SLO (%s)" % bad[:3])
    check(worst < 1e-9, "every p50 and p99 is the closed form of the fits (worst %.2e)" % worst)
    cell = [p for p in pts if p["rps"] == 12000 and p["instances"] == 16][0]
    truth = p99_mm1(MU, LAM_SHADOW)
    print("12000 rps on 16: %s" % json.dumps(cell))
    # The corrected fit takes the shadow's p99 at the upper end of its 80%
    # interval (the recommendation errs safe), so it sits a little above.
    check(0.9 < cell["p99"] / truth < 1.3,
          "at the shadow's load the prediction is the true p99, or a little above it "
          "(%.2f ms vs %.2f ms)" % (cell["p99"] * 1e3, truth * 1e3))
    check(cell["evidence"] == "measured", "the shadow's load is measured (%s)" % cell["evidence"])
    far = [p for p in pts if p["rps"] == 30000 and p["instances"] == 32][0]
    check(far["evidence"] == "extrapolated", "937 rps per instance is extrapolated (%s)"
          % far["evidence"])
    few = {f["rps"]: f["instances"] for f in doc["fewest"]}
    for rps, n in few.items():
        check(n is not None, "a count meets the SLO at %g rps" % rps)
        ok = [p for p in pts if p["rps"] == rps and p["meets_slo"]]
        if ok:
            check(min(p["instances"] for p in ok) >= n,
                  "no count below the fewest (%d) meets the SLO at %g rps" % (n, rps))
    print("fewest: %s" % few)

    # The control socket: the same question, the same numbers.
    rep = r.request({"cmd": "whatif", "service": "web", "load": ["0.5x", "1x", "2x", 30000],
                     "instances": "4-16,32"})
    check(rep.get("ok") is True, "control whatif: %s" % rep.get("error"))
    st, doc2 = get(r.port, "/api/v1/services/web/whatif?" + urllib.parse.urlencode(
        {"load": "0.5x,1x,2x,30000", "instances": "4-16,32"}))
    same = rep["model"]["version"] == doc2["model"]["version"]
    if same:
        diffs = [(a["rps"], a["instances"]) for a, b in zip(rep["points"], doc2["points"])
                 if a["p99"] != b["p99"] or a["error_rate"] != b["error_rate"]]
        check(not diffs, "control and HTTP agree on every point (%d differ)" % len(diffs))
    else:
        print("note: the model moved between the two requests; compared loosely")
        check(abs(rep["points"][20]["p99"] / doc2["points"][20]["p99"] - 1) < 0.05,
              "control and HTTP agree within 5%")

    # Bad parameters: every one named.
    st, body = get(r.port, "/api/v1/services/web/whatif?load=abc,0,2x&instances=9-3,0&bogus=1")
    print("400: %s" % json.dumps(body))
    check(st == 400, "bad parameters: 400 (%d)" % st)
    keys = sorted((e["key"] or "") for e in body.get("errors", []))
    check(keys == ["bogus", "instances", "instances", "load", "load"],
          "each bad parameter listed: %s" % keys)
    st, body = get(r.port, "/api/v1/services/nope/whatif")
    check(st == 404, "unknown service: 404")
    rep = r.request({"cmd": "whatif", "service": "web", "load": "x1", "instances": [0, "3-2"],
                     "extra": 1})
    print("control refusal: %s" % rep)
    check(rep.get("ok") is False and all(w in rep["error"] for w in ("load", "instances", "extra"))
          and rep["error"].count("instances") >= 2,
          "control whatif: every bad parameter in the error")
    rep = r.request({"cmd": "whatif", "service": "nope"})
    check(rep.get("ok") is False and "unknown service" in rep["error"], "control: unknown service")
    check(r.stop() == 0, "the analyzer stopped cleanly")


main()
print("PASS")
