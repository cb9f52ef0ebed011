"""A restarted shadowtap-analyzer reloads its model from the state file:
the first run learns the capacity from prod windows and saves it; the
second run sees only the shadow, and still judges it against the model it
reloaded (without the file it could not: inconclusive). A corrupt state
file is refused with a reason, before any socket is bound.

usage: test_analyzer_state.py ANALYZER KPI_PUB"""
import os
import sys

from anlib import MU, Run, decisive, summary, target
from stlib import check

ANALYZER, KPI_PUB = sys.argv[1], sys.argv[2]
PLAN = {"shadow": "canary", "current_instances": 8, "proposed_instances": 16,
        "forecast_rps": 12000, "slo_p99": "30ms"}
SHADOW = [target("canary", "shadow", 2, 750)]

# Run 1: prod only, at a load that moves from window to window.
r1 = Run("state1", ANALYZER, KPI_PUB)
state = os.path.join(r1.wd, "model.state")
r1.start(r1.config({"web": PLAN}, extra="state_file = %s\n" % state), "3.5s")
r1.publish([target("prod", "prod", 8, 500, jitter=0.15)], count=50, seed=5)
r1.wait()
v1 = r1.results()
check(all(v["verdict"] == "inconclusive" for v in v1), "run 1: no shadow data, no verdict")
check(os.path.exists(state), "run 1 saved the model state")
with open(state, "rb") as f:
    blob = f.read()
check(blob[:4] == b"STAN", "the state file has its header (%d bytes)" % len(blob))
version1 = v1[-1]["model"]["version"]

# Run 2: the same state file, shadow data only.
r2 = Run("state2", ANALYZER, KPI_PUB)
r2.start(r2.config({"web": PLAN}, extra="state_file = %s\n" % state), "3.5s")
r2.publish(SHADOW, count=50, seed=6)
r2.wait()
check("loaded model state" in r2.stderr, "run 2 says it loaded the state")
d = decisive(r2.results())
for v in d[-2:]:
    print("  " + summary(v))
check(len(d) >= 3, "run 2 judges the shadow with the reloaded model (%d decisive)" % len(d))
check(d[-1]["verdict"] == "confirm", "and confirms it")
mu = d[-1]["model"]["params"].get("mu_prod_rps", 0)
check(abs(mu - MU) < 0.1 * MU, "with the capacity learnt in run 1: %.0f rps (true %.0f)" % (mu, MU))
check(d[-1]["model"]["version"] > version1, "the model version goes on from %d: %d"
      % (version1, d[-1]["model"]["version"]))

# Run 3: no state file: the same stream cannot be judged.
r3 = Run("state3", ANALYZER, KPI_PUB)
r3.start(r3.config({"web": PLAN}, extra="state_file = %s/none.state\n" % r3.wd), "3s")
r3.publish(SHADOW, count=40, seed=6)
r3.wait()
v3 = r3.results()
check(v3 and all(v["verdict"] == "inconclusive" for v in v3), "without the state: inconclusive")
check("no saved model" in v3[-1]["reason"], "because: %s" % v3[-1]["reason"])

# A corrupt state file is refused.
bad = os.path.join(r1.wd, "bad.state")
with open(bad, "wb") as f:
    f.write(blob[:40] + bytes([blob[40] ^ 0xff]) + blob[41:])
r4 = Run("state4", ANALYZER, KPI_PUB)
import subprocess
p = subprocess.run([ANALYZER, "--config", r4.config({"web": PLAN}, extra="state_file = %s\n" % bad),
                    "--duration", "1s"], capture_output=True, text=True, timeout=30)
check(p.returncode != 0 and "CRC" in p.stderr, "a corrupt state is refused: %s" % p.stderr.strip()[-200:])
with open(bad, "wb") as f:
    f.write(blob[: len(blob) // 2])
p = subprocess.run([ANALYZER, "--config", r4.config({"web": PLAN}, extra="state_file = %s\n" % bad),
                    "--duration", "1s"], capture_output=True, text=True, timeout=30)
check(p.returncode != 0 and "truncated" in p.stderr, "so is a truncated one: %s" % p.stderr.strip()[-200:])
print("PASS")
