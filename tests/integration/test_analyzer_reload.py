"""Live reload of the analyzer (issue #17): one run with KPIs flowing the
whole time (kpi_pub: prod and a shadow group of a known capacity).

  - SIGHUP with proposed_instances 16 -> 12 and a new SLO: the verdicts
    that follow judge the new plan, and the model goes on from what it had
    learnt (its version keeps counting, the capacity it fitted stays);
  - a config with a syntax error (SIGHUP) and one that changes the window
    (control `reload`): refused with the reason, naming the key, and the
    plan in force stays;
  - the service removed from the file: no verdict for it after that.

usage: test_analyzer_reload.py ANALYZER KPI_PUB"""
import os
import signal
import sys
import time

from anlib import MU, Run, target
from stlib import check

ANALYZER, KPI_PUB = sys.argv[1], sys.argv[2]
PLAN = {"shadow": "canary", "current_instances": 8, "proposed_instances": 16,
        "forecast_rps": 12000, "slo_p99": "30ms"}
TARGETS = [target("prod", "prod", 8, 500, jitter=0.15), target("canary", "shadow", 2, 750)]

r = Run("reload", ANALYZER, KPI_PUB)
cfg = r.config({"web": PLAN})
good = open(cfg).read()
r.start(cfg, "11s")
pub = r.publish(TARGETS, count=200, seed=5, wait=False)


def wait_for(cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = r.results()
        if cond(v):
            return v
        time.sleep(0.1)
    return r.results()


v = wait_for(lambda v: len([x for x in v if x["model"]["params"].get("mu_prod_rps")]) >= 3, 6)
before = [x for x in v if x["service"] == "web"]
check(before and before[-1]["proposed_instances"] == 16,
      "before: %d verdicts on the plan of 16" % len(before))
ver0 = before[-1]["model"]["version"]
mu0 = before[-1]["model"]["params"].get("mu_prod_rps", 0)
check(abs(mu0 - MU) < 0.15 * MU, "the model has learnt the capacity: %.0f rps" % mu0)

# SIGHUP with a new plan
with open(cfg, "w") as f:
    f.write(good.replace("proposed_instances = 16", "proposed_instances = 12")
                .replace("slo_p99 = 30ms", "slo_p99 = 40ms"))
n0 = len(r.results())
r.proc.send_signal(signal.SIGHUP)
v = wait_for(lambda v: len(v) >= n0 + 3, 4)
after = v[n0 + 1:]
check(after and all(x["proposed_instances"] == 12 for x in after),
      "after SIGHUP: %d verdicts judge the plan of 12" % len(after))
ver1 = after[-1]["model"]["version"]
mu1 = after[-1]["model"]["params"].get("mu_prod_rps", 0)
check(ver1 > ver0 and abs(mu1 - mu0) < 0.1 * mu0,
      "the model was kept: version %d -> %d, capacity %.0f -> %.0f rps" % (ver0, ver1, mu0, mu1))

# a syntax error, by SIGHUP: refused, the plan of 12 stays
with open(cfg, "w") as f:
    f.write(good.replace("proposed_instances = 16", "proposed_instances 20"))
n1 = len(r.results())
r.proc.send_signal(signal.SIGHUP)
time.sleep(0.5)
# a changed window, by control: refused naming the key
with open(cfg, "w") as f:
    f.write(good.replace("window = 200ms", "window = 1s")
                .replace("proposed_instances = 16", "proposed_instances = 20"))
rep = r.request({"cmd": "reload"})
check(rep.get("ok") is False and
      "[analyzer] window: cannot change at run time (restart)" in rep.get("errors", []),
      "a changed window is refused: %s" % rep)
v = wait_for(lambda v: len(v) >= n1 + 3, 4)
check(all(x["proposed_instances"] == 12 for x in v[n1:]),
      "the plan of 12 stays after both refusals (%d verdicts)" % len(v[n1:]))

# the service removed from the file, 70 new ones added: the reply lists
# the first 64 changes and counts all 71
web = good.split("\n[service.web]")[1]
with open(cfg, "w") as f:
    f.write(good.split("\n[service.web]")[0] +
            "".join("\n[service.s%d]%s" % (i, web) for i in range(70)))
rep = r.request({"cmd": "reload"})
check(rep.get("ok") is True and len(rep["changed"]) == 64 and rep.get("changed_total") == 71,
      "71 changes: %d listed, changed_total %s" % (len(rep.get("changed", [])), rep.get("changed_total")))
# and removed again: no longer judged
with open(cfg, "w") as f:
    f.write(good.split("\n[service.web]")[0])
rep = r.request({"cmd": "reload"})
check(rep.get("ok") is True and rep.get("changed_total") == 70 and
      not any(c.startswith("service.web") for c in rep["changed"]),
      "the 70 removed: %s changes" % rep.get("changed_total"))
with open(cfg, "w") as f:
    f.write(good.split("\n[service.web]")[0] + "\n[service.web]" + web)
rep = r.request({"cmd": "reload"})
with open(cfg, "w") as f:
    f.write(good.split("\n[service.web]")[0])
rep = r.request({"cmd": "reload"})
check(rep.get("ok") is True and any(c.startswith("service.web (removed") for c in rep["changed"]),
      "the service removed: %s" % rep)
time.sleep(0.3)
n2 = len(r.results())
time.sleep(1.5)
check(len(r.results()) == n2, "no verdict for web after it left the file (%d, %d)"
      % (n2, len(r.results())))
pub.wait(timeout=30)
err = r.wait()
check("reload of" in err and "refused" in err and "expected" in err.split("refused", 1)[1],
      "the log gives the syntax error's reason")
check("AddressSanitizer" not in err and "runtime error" not in err, "no sanitizer report")
print("ok")
