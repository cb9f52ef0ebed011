"""The analyzer's dashboard (GET /) in headless Chromium driven by
selenium (Debian's chromium, chromium-driver, python3-selenium), against a
live run fed by seeded KPI publishers:

  - the page loads with no console errors and no request leaving the
    analyzer (no external assets);
  - it draws the service's plots (SVG bars and lines with points);
  - the numbers it shows change as new windows close, without a reload
    (it follows /api/v1/events).

usage: test_analyzer_dashboard.py ANALYZER KPI_PUB"""
import sys
import time

from anhttp import PLAN, HttpRun, need, traffic
from stlib import check, fail, skip

ANALYZER, KPI_PUB = sys.argv[1], sys.argv[2]
need("chromium")
DRIVER = need("chromedriver")
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError as e:  # pragma: no cover - depends on the machine
    skip("python3-selenium is needed (%s)" % e)


def browser():
    opts = webdriver.ChromeOptions()
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--disable-extensions", "--window-size=1200,1600"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    try:
        return webdriver.Chrome(service=Service(DRIVER), options=opts)
    except Exception as e:  # chromium cannot start here (no /dev/shm, ...)
        skip("headless chromium does not start here: %s" % str(e).splitlines()[0])


def wait(what, fn, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    fail("%s: not within %d s" % (what, timeout))


def state(d):
    """What the page shows now: refresh count, recommended, points drawn."""
    return d.execute_script("""
        const c = document.querySelector('.service[data-service="web"]');
        if (!c) return null;
        const lines = [...c.querySelectorAll('svg.plot.lines polyline')];
        return {
          refreshes: +document.getElementById('refreshes').textContent,
          mode: document.getElementById('mode').textContent,
          recommended: c.querySelector('[data-field="recommended"]').textContent,
          score: c.querySelector('[data-field="score"]').textContent,
          bars: c.querySelectorAll('svg.plot.bars rect').length,
          points: lines.map(l => (l.getAttribute('points') || '').split(' ').filter(p => p).length),
          kpis: c.querySelectorAll('table.kpis tr').length,
          error: document.getElementById('error').textContent,
        };""")


def main():
    r = HttpRun("dash", ANALYZER, KPI_PUB)
    cfg = r.config({"web": PLAN}, extra="http_endpoint = 127.0.0.1:0\n")
    r.start_http(cfg, "90s")
    d = browser()
    try:
        pub = r.publish(traffic(), count=140, interval="50ms", seed=5, wait=False)
        d.get("http://127.0.0.1:%d/" % r.port)
        first = wait("the service's plots drawn",
                     lambda: (lambda s: s if s and s["bars"] == 9 and s["points"]
                              and min(s["points"]) >= 2 else None)(state(d)), 30)
        print("first: %s" % first)
        check(first["bars"] == 9, "p50/p90/p99 bars of prod, shadow and prediction (9 rects)")
        check(len(first["points"]) == 3 and min(first["points"]) >= 2,
              "the recommendation and p99 lines have points (%s)" % first["points"])
        check(first["kpis"] > 4, "the KPI table (%d rows)" % first["kpis"])
        check(first["recommended"].isdigit(), "a recommended count is shown (%s)" % first["recommended"])
        live = wait("the event stream connected",
                    lambda: state(d)["mode"] == "live (events)", 10)
        check(live, "it follows /api/v1/events")
        later = wait("the page to change as windows close",
                     lambda: (lambda s: s if s["refreshes"] > first["refreshes"] + 1
                              and max(s["points"]) > max(first["points"]) else None)(state(d)), 30)
        print("later: %s" % later)
        check(True, "the numbers changed without a reload: refreshes %d -> %d, points %s -> %s"
              % (first["refreshes"], later["refreshes"], first["points"], later["points"]))
        check(later["error"] == "", "no refresh failed (%r)" % later["error"])
        logs = d.get_log("browser")
        severe = [e for e in logs if e.get("level") == "SEVERE"]
        check(not severe, "no console errors (%s)" % severe[:3])
        import json
        urls = set()
        for e in d.get_log("performance"):
            m = json.loads(e["message"])["message"]
            if m.get("method") == "Network.requestWillBeSent":
                urls.add(m["params"]["request"]["url"])
        outside = [u for u in urls if not u.startswith("http://127.0.0.1:%d/" % r.port)]
        check(urls and not outside, "every request went to the analyzer (%d urls, outside: %s)"
              % (len(urls), outside[:3]))
        pub.communicate(timeout=60)
    finally:
        d.quit()
    check(r.stop() == 0, "the analyzer stopped cleanly")


main()
print("PASS")
