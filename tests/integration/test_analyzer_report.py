"""shadowtap-analyzer --report writes one self-contained HTML page: inline
SVG, no script, no external asset. Headless Chromium opens it, takes a
screenshot and logs no console error.

usage: test_analyzer_report.py ANALYZER KPI_PUB"""
import os
import re
import shutil
import subprocess
import sys

from anlib import Run, target
from stlib import check, skip, workdir

ANALYZER, KPI_PUB = sys.argv[1], sys.argv[2]
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
PLAN = {"shadow": "canary", "current_instances": 8, "proposed_instances": 16,
        "forecast_rps": 12000, "slo_p99": "30ms", "instance_cost_per_hour": 0.5}

r = Run("report", ANALYZER, KPI_PUB)
report = os.path.join(r.wd, "report.html")
r.start(r.config({"web": PLAN}), "4s", ["--report", report])
r.publish([target("prod", "prod", 8, 500, jitter=0.2), target("canary", "shadow", 2, 750)],
          count=60, seed=3)
r.wait()
check("report written" in r.stderr, "the analyzer says it wrote the report")
with open(report) as f:
    html = f.read()
check(html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>"), "a whole HTML page")
check(html.count("<svg") == 3, "three inline SVG charts")
check("<script" not in html, "no script")
check(not re.search(r"(src|href)\s*=|url\(|@import|https?://", html),
      "nothing fetched from anywhere (no src, href, url(), @import, http)")
for part in ("Latency percentiles", "p99 per window", "Load against latency",
             "KPIs of the last verdict", "Verdicts (newest first)"):
    check(part in html, "section: " + part)

if chromium is None:
    skip("chromium is not installed (apt-get install chromium); the page was checked statically")
shot = os.path.join(r.wd, "report.png")
profile = workdir("an-chromium")
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
