"""shadowtap-analyzer --report writes one self-contained HTML page: inline
SVG, no script, no external asset. Headless Chromium opens it, takes a
screenshot and logs no console error. The page has the model's predicted
heatmap (loads 0.25x-4x the forecast x counts to twice the proposal, p99
rising with load and falling with instances, green to red, the proposal
and the SLO frontier marked) and the forecast alerts on the p99 chart's
time axis (a profile crossing alert_utilization; the plan then given the
count, so the alert is raised and cleared within the run).

usage: test_analyzer_report.py ANALYZER KPI_PUB"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from anlib import Run, target
from stlib import check, skip

ANALYZER, KPI_PUB = sys.argv[1], sys.argv[2]
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
PLAN = {"shadow": "canary", "current_instances": 8, "proposed_instances": 16,
        "forecast_rps": 12000, "slo_p99": "30ms", "instance_cost_per_hour": 0.5}

r = Run("report", ANALYZER, KPI_PUB)
report = os.path.join(r.wd, "report.html")
prof = os.path.join(r.wd, "forecast.csv")
with open(prof, "w") as f:  # 4000 rps now, 7000 from t = 60 s: past 0.8 of 8 x ~1000
    f.write("t_seconds,pps\n0,4000\n60,4000\n60,7000\n600,7000\n")
PLAN.update(forecast_profile=prof, alert_utilization=0.8)
r.start(r.config({"web": PLAN}), "6s", ["--report", report])
r.publish([target("prod", "prod", 8, 500, jitter=0.2), target("canary", "shadow", 2, 750)],
          count=60, seed=3)
rep = r.request({"cmd": "propose", "service": "web", "current_instances": 12})
check(rep.get("ok") is True, "the plan gets 12 instances (%s)" % rep.get("error"))
r.wait()
check("report written" in r.stderr, "the analyzer says it wrote the report")
with open(report) as f:
    html = f.read()
check(html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>"), "a whole HTML page")
check(html.count("<svg") == 4, "four inline SVG charts")
check("<script" not in html, "no script")
check(not re.search(r"(src|href)\s*=|url\(|@import|https?://", html),
      "nothing fetched from anywhere (no src, href, url(), @import, http)")
for part in ("Latency percentiles", "p99 per window", "Load against latency",
             "Predicted p99 over load and instances", "KPIs of the last verdict",
             "Verdicts (newest first)"):
    check(part in html, "section: " + part)

# The predicted heatmap: every cell, monotone, coloured, marked.
heat = html[html.index('<svg class="chart heat"'):]
heat = heat[:heat.index("</svg>")]
cells = {}
for m in re.finditer(r'<rect class="cell" data-load="([^"]+)" data-instances="(\d+)" '
                     r'data-ratio="([^"]+)" data-meets="(\d)" [^>]* fill="(#[0-9a-f]{6})"', heat):
    cells[(float(m.group(1)), int(m.group(2)))] = (
        float("inf") if m.group(3) == "sat" else float(m.group(3)), m.group(4) == "1", m.group(5))
loads = sorted({l for l, _ in cells})
counts = sorted({n for _, n in cells})
check(len(loads) == 9 and counts[0] == 2 and counts[-1] == 32 and 16 in counts
      and len(cells) == len(loads) * len(counts),
      "%d cells: loads %s x counts %s" % (len(cells), loads, counts))
rows_fall = all(cells[(l, a)][0] >= cells[(l, b)][0] for l in loads for a, b in zip(counts, counts[1:]))
cols_rise = all(cells[(a, n)][0] <= cells[(b, n)][0] for n in counts for a, b in zip(loads, loads[1:]))
check(rows_fall and cols_rise, "p99/SLO falls with instances and rises with load")
green = [c for (r_, _, c) in cells.values() if r_ < 0.5]
red = [c for (r_, _, c) in cells.values() if r_ > 2]
check(green and red and all(c == "#43a047" for c in green) and all(c in ("#c62828", "#7a0d0d") for c in red),
      "green within half the SLO (%d), red past twice it or saturated (%d)" % (len(green), len(red)))
check(all(r_ <= 1 for (r_, meets, _) in cells.values() if meets),
      "cells meeting the SLO (under the bound) are within it nominally")
check(heat.count('class="proposal"') == 1 and re.search(r'class="frontier"[^>]*points="\d', heat),
      "the proposal and the SLO frontier are marked")

# The forecast alert, raised then cleared, on the time axis and in the table.
p99c = html[html.index("<title>p99 per window</title>"):]
p99c = p99c[:p99c.index("</svg>")]
raised = re.findall(r'class="alert-raise" data-kind="utilization" d="M([\d.]+) ', p99c)
at = re.findall(r'class="alert-at" data-kind="utilization" x1="([\d.]+)"', p99c)
cleared = re.findall(r'class="alert-clear" data-kind="utilization" cx="([\d.]+)"', p99c)
check(raised and at and cleared, "raised, its crossing and cleared marked (%s, %s, %s)" % (raised, at, cleared))
check(float(at[0]) > float(raised[0]) and float(cleared[-1]) > float(raised[0]),
      "the crossing lies ahead of the raise, the clear after it")
rows = re.findall(r'<tr><td>[^<]*</td><td style="color:[^"]*">utilization</td><td>(raise|clear)</td>', html)
check(rows and rows[0] == "clear" and "raise" in rows, "the alerts table, newest first (%s)" % rows)

if chromium is None:
    skip("chromium is not installed (apt-get install chromium); the page was checked statically")
shot = os.path.join(r.wd, "report.png")
profile = tempfile.mkdtemp(prefix="st-an-chromium-")
cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
       "--disable-background-networking", "--disable-component-update", "--disable-sync",
       "--user-data-dir=" + profile, "--window-size=1100,2400", "--screenshot=" + shot,
       "--enable-logging=stderr", "--v=0", "file://" + report]
print("run: " + " ".join(cmd))
try:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
finally:
    shutil.rmtree(profile, ignore_errors=True)
console = [l for l in p.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
for l in console:
    print("  " + l)
check(not console, "no console message from the page")
check(os.path.exists(shot), "a screenshot was taken (exit %d)" % p.returncode)
with open(shot, "rb") as f:
    png = f.read()
check(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000,
      "the screenshot is a PNG with something on it (%d bytes)" % len(png))
print("PASS")
