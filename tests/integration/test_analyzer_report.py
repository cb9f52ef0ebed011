"""shadowtap-analyzer --report writes one self-contained HTML page: inline
SVG, one inline script (the what-if sliders), no external asset. Headless Chromium opens it, takes a
screenshot and logs no console error. The page has the model's predicted
heatmap (loads 0.25x-4x the forecast x counts to twice the proposal or
max_instances, p99
rising with load and falling with instances, green to red, the proposal
and the SLO frontier marked) and the forecast alerts on the p99 chart's
time axis (a profile crossing alert_utilization; the plan then given the
count, so the alert is raised and cleared within the run), and what-if
sliders (load, instances) which, moved with arrow keys in headless
Chromium (selenium), show the heatmap's numbers for the same cell, p99
rising with load and falling with instances, cost following the count.

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
# max_instances below twice the proposal: the heatmap and the slider stop
# there, as the dashboard's and GET .../whatif do
PLAN = {"shadow": "canary", "current_instances": 8, "proposed_instances": 16,
        "max_instances": 25, "forecast_rps": 12000, "slo_p99": "30ms", "instance_cost_per_hour": 0.5}

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
scripts = re.findall(r"<script[^>]*>", html)
check(scripts.count("<script>") == 1 and
      all(x == '<script type="application/json" class="whatif-data">' for x in scripts if x != "<script>"),
      "one inline script, the rest embedded what-if data (%d)" % len(scripts))
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
check(len(loads) == 9 and counts[0] == 2 and counts[-1] == 25 and 16 in counts
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

def sliders(path):
    """The what-if sliders in headless Chromium (selenium)."""
    driver = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
    except ImportError as e:
        print("note: python3-selenium missing (%s): the sliders were not moved" % e)
        return
    if driver is None:
        print("note: chromedriver missing: the sliders were not moved")
        return
    opts = webdriver.ChromeOptions()
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(driver), options=opts)
    try:
        d.get("file://" + path)
        shown = lambda: d.execute_script("""
            const w = document.querySelector('.whatif[data-service="web"]'), o = {};
            w.querySelectorAll('[data-field]').forEach(e => { o[e.dataset.field] = e.dataset.value; });
            o.text = w.querySelector('[data-field="p99"]').textContent;
            return o;""")
        cell = lambda load, n: d.execute_script(
            "return document.querySelector('svg.heat rect.cell[data-load=\"' + arguments[0] + "
            "'\"][data-instances=\"' + arguments[1] + '\"]').dataset.p99;", load, n)
        first = shown()
        print("sliders at first: %s" % first)
        check(first["load"] == "1" and first["instances"] == "16" and first["cost_per_hour"] == "8",
              "they start at the forecast on the proposed 16, 8.00/h")
        check(abs(float(first["p99"]) - float(cell(1, 16))) <= 1e-5 * float(first["p99"]),
              "p99 at 1x on 16 as the heatmap's cell (%s)" % first["text"])
        load = d.find_element(By.CSS_SELECTOR, ".whatif input.whatif-load")
        inst = d.find_element(By.CSS_SELECTOR, ".whatif input.whatif-instances")
        inst.send_keys(*([Keys.ARROW_RIGHT] * 4))
        more = shown()
        check(more["instances"] == "20" and float(more["p99"]) < float(first["p99"]) and
              more["cost_per_hour"] == "10" and
              abs(float(more["p99"]) - float(cell(1, 20))) <= 1e-5 * float(more["p99"]),
              "20 instances: p99 %s -> %s, 10.00/h, the heatmap's cell" % (first["text"], more["text"]))
        load.send_keys(Keys.ARROW_RIGHT)
        up = shown()
        check(up["load"] == "1.25" and float(up["p99"]) > float(more["p99"]) and
              abs(float(up["p99"]) - float(cell(1.25, 20))) <= 1e-5 * float(up["p99"]),
              "load 1.25x: p99 %s -> %s, the heatmap's cell" % (more["text"], up["text"]))
        load.send_keys(*([Keys.ARROW_RIGHT] * 11))
        top = shown()
        check(top["load"] == "4" and top["p99"] == "" and top["meets_slo"] == "false" and top["text"] == "saturated",
              "4x on 20: saturated, the SLO missed")
        severe = [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]
        check(not severe, "no console errors (%s)" % severe[:3])
    finally:
        d.quit()


if chromium is None:
    skip("chromium is not installed (apt-get install chromium); the page was checked statically")
sliders(report)
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
