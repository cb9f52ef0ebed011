"""The analyzer's dashboard (GET /) in headless Chromium driven by
selenium (Debian's chromium, chromium-driver, python3-selenium), against a
live run fed by seeded KPI publishers:

  - the page loads with no console errors and no request leaving the
    analyzer (no external assets);
  - it draws the service's plots (SVG bars and lines with points);
  - the numbers it shows change as new windows close, without a reload
    (it follows /api/v1/events);
  - the what-if panel: moving its load and instance sliders (arrow keys,
    as a person would) changes the predicted p99, and the numbers it shows
    are the control socket's `whatif` for the same inputs; the heatmap
    (loads x instances) is green within the SLO and red past it, with the
    proposal and the SLO frontier marked;
  - forecast alerts (a profile stepping past alert_utilization at
    t = 60 s): the card shows the utilization alert with the count
    GET .../alerts names, and drops it, live, once the plan gets that
    count (the `alert` event).

usage: test_analyzer_dashboard.py ANALYZER KPI_PUB"""
import glob
import os
import shutil
import sys
import time

from anhttp import PLAN, HttpRun, get_json, need, traffic
from stlib import check, fail, skip

ANALYZER, KPI_PUB = sys.argv[1], sys.argv[2]
need("chromium")
DRIVER = need("chromedriver")
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError as e:  # pragma: no cover - depends on the machine
    skip("python3-selenium is needed (%s)" % e)


# Chromium's temporary profiles: a --user-data-dir of the test's own would
# have it load its chrome:// pages, which the no-outside-requests check
# (rightly) refuses, so the ones this run created are removed after it.
PROFILES = "/tmp/org.chromium.Chromium.*"


def remove_new_profiles(before):
    for path in set(glob.glob(PROFILES)) - before:
        shutil.rmtree(path, ignore_errors=True)


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
          kpitext: (c.querySelector('table.kpis') || {}).textContent || '',
          error: document.getElementById('error').textContent,
        };""")


def panel(d):
    return d.execute_script("""
        const w = document.querySelector('.whatif[data-service="web"]');
        if (!w) return null;
        const f = k => w.querySelector('[data-field="whatif-' + k + '"]');
        return {
          state: w.dataset.state || "", asked: w.dataset.asked || "", version: w.dataset.version || "",
          p99: f("p99").dataset.value, p99_text: f("p99").textContent,
          cost: f("cost_per_hour").dataset.value, util: f("utilization").dataset.value,
          err: f("error_rate").dataset.value, slo: f("meets_slo").dataset.value,
          load: f("load").textContent, instances: f("instances").textContent,
          cells: [...w.querySelectorAll('svg.heat rect.cell')].map(c => [c.getAttribute('data-ratio'),
                                                                         c.getAttribute('fill')]),
          proposal: w.querySelectorAll('svg.heat rect.proposal').length,
          frontier: w.querySelectorAll('svg.heat polyline.frontier').length,
        };""")


def same_as_control(d, r, shown, load, n):
    """The panel's numbers are the control socket's for the same inputs and
    the same model (version and the verdict it came from: the page asks
    again on every verdict, so it catches up)."""
    deadline = time.time() + 10
    while True:
        rep = r.request({"cmd": "whatif", "service": "web", "load": load, "instances": n})
        if rep.get("ok") is not True:
            fail("control whatif %s on %d: %s" % (load, n, rep.get("error")))
        model = "%s/%s" % (rep["model"]["version"], rep["model"]["verdict_t"])
        ver, _, t = shown["version"].partition("/")
        # the page's verdict_t went through a JavaScript double (ns: 2^-52 of 1.8e18)
        if (ver == str(rep["model"]["version"]) and t and abs(float(t) - rep["model"]["verdict_t"]) < 1e3
                and shown["asked"] == "%s/%d" % (load, n)):
            break
        if time.time() > deadline:
            fail("the page's model %s never caught up with the control's %s"
                 % (shown["version"], model))
        time.sleep(0.3)
        shown = panel(d)
    p = rep["points"][0]
    for k, v in (("p99", p["p99"]), ("util", p["utilization"]), ("err", p["error_rate"]),
                 ("cost", p["cost_per_hour"])):
        check(abs(float(shown[k]) - v) <= 1e-12 * max(1.0, abs(v)),
              "%s at %s on %d: page %s, control %s" % (k, load, n, shown[k], v))
    check(shown["slo"] == ("true" if p["meets_slo"] else "false"), "the SLO as the control says")


def whatif(d, r):
    """The what-if panel: sliders, prediction, heatmap."""
    time.sleep(1.0)  # the last windows judged: the model stops moving
    d.execute_script("document.querySelector('.whatif') && "
                     "document.querySelector('.whatif').scrollIntoView()")
    first = wait("the what-if panel's first prediction",
                 lambda: (lambda p: p if p and p["state"] == "ok" and p["cells"] else None)(panel(d)), 20)
    print("what-if first: %s" % {k: v for k, v in first.items() if k != "cells"})
    check(first["asked"] == "1x/16", "it starts at the forecast on the proposed count (%s)" % first["asked"])
    same_as_control(d, r, first, "1x", 16)
    cells = first["cells"]
    ratios = [float(x) if x else None for x, _ in cells]
    def hue(f):
        return int(f[4:].split(",")[0]) if f.startswith("hsl(") else -1
    red = [f for (x, f) in cells if not x or float(x) > 1]
    green = [f for (x, f) in cells if x and float(x) < 0.5]
    amber = [f for (x, f) in cells if x and 0.9 < float(x) <= 1]
    check(len(cells) % 9 == 0 and len(cells) >= 9 * 8, "a heatmap of 9 loads x counts (%d cells)" % len(cells))
    check(red and green and all(f in ("#d7301f", "#7a0d0d") for f in red)
          and all(hue(f) >= 90 for f in green) and all(0 < hue(f) <= 50 for f in amber),
          "green (hue >= 90) well within the SLO, amber (hue <= 50) near it, red past it or "
          "saturated (%d green, %d amber, %d red)" % (len(green), len(amber), len(red)))
    check(first["proposal"] == 1 and first["frontier"] == 1, "the proposal and the SLO frontier are marked")
    check(any(x is None for x in ratios), "saturated cells shown as such")
    load = d.find_element(By.CSS_SELECTOR, '.whatif[data-service="web"] input.whatif-load')
    load.send_keys(*([Keys.ARROW_RIGHT] * 4))
    up = wait("the prediction after moving the load slider",
              lambda: (lambda p: p if p["asked"] == "1.2x/16" and p["state"] == "ok" else None)(panel(d)), 10)
    print("load 1.2x: %s" % {k: v for k, v in up.items() if k != "cells"})
    check(float(up["p99"]) > float(first["p99"]),
          "more load, longer p99: %s -> %s" % (first["p99_text"], up["p99_text"]))
    check("1.20x" in up["load"], "the slider's value shown (%s)" % up["load"])
    same_as_control(d, r, up, "1.2x", 16)
    inst = d.find_element(By.CSS_SELECTOR, '.whatif[data-service="web"] input.whatif-instances')
    inst.send_keys(*([Keys.ARROW_RIGHT] * 4))
    more = wait("the prediction after moving the instances slider",
                lambda: (lambda p: p if p["asked"] == "1.2x/20" and p["state"] == "ok" else None)(panel(d)), 10)
    print("1.2x on 20: %s" % {k: v for k, v in more.items() if k != "cells"})
    check(float(more["p99"]) < float(up["p99"]),
          "more instances, shorter p99: %s -> %s" % (up["p99_text"], more["p99_text"]))
    check(float(more["cost"]) == 20 * 0.5, "cost follows the count (%s/h)" % more["cost"])
    same_as_control(d, r, more, "1.2x", 20)


def alerts_box(d):
    return d.execute_script("""
        const b = document.querySelector('.alerts[data-service="web"]');
        if (!b) return null;
        return { active: b.dataset.active, text: b.textContent,
                 alerts: [...b.querySelectorAll('.alert')].map(a => ({ kind: a.dataset.kind,
                          instances: +a.dataset.instances, add: +a.dataset.add, at: a.dataset.at })) };""")


def alerts(d, r):
    """The forecast alert on the card, the API's numbers, cleared live."""
    shown = wait("the utilization alert on the card",
                 lambda: (lambda b: b if b and any(a["kind"] == "utilization" for a in b["alerts"])
                          else None)(alerts_box(d)), 20)
    print("alerts shown: %s" % shown)
    doc = get_json(r.port, "/api/v1/services/web/alerts")
    api = [a for a in doc["alerts"] if a["kind"] == "utilization"][0]
    card = [a for a in shown["alerts"] if a["kind"] == "utilization"][0]
    check(api["state"] == "raise" and card["instances"] == api["instances"] and card["add"] == api["add"]
          and abs(float(card["at"]) - api["at"]) < 1e3,
          "the card names the API's crossing and count (%d, add %d)" % (card["instances"], card["add"]))
    check("add %d to reach %d instances" % (api["add"], api["instances"]) in shown["text"],
          "it says what to add")
    rep = r.request({"cmd": "propose", "service": "web", "current_instances": api["instances"]})
    check(rep.get("ok") is True, "propose current_instances=%d: %s" % (api["instances"], rep.get("error")))
    wait("the utilization alert gone from the card, without a reload",
         lambda: (lambda b: b and not any(a["kind"] == "utilization" for a in b["alerts"]))(alerts_box(d)), 15)
    check(True, "the alert left the card once the plan got the count")


def whatif_capped(d, r):
    """A plan whose max_instances is under twice its proposal: the heatmap
    and the instances slider stop at max_instances (the page asked for
    counts to 2x the proposal, which the what-if refuses past
    max_instances: the heatmap stayed as it was, or never showed)."""
    rep = r.request({"cmd": "propose", "service": "web", "max_instances": 20})
    check(rep.get("ok") is True, "propose max_instances=20: %s" % rep.get("error"))

    def capped():
        p = panel(d)
        counts = d.execute_script("""
            const w = document.querySelector('.whatif[data-service="web"]');
            return w ? [[...w.querySelectorAll('svg.heat rect.cell')].map(c => +c.getAttribute('data-instances')),
                        w.querySelector('input.whatif-instances').max] : null;""")
        return (p, counts) if counts and counts[0] and max(counts[0]) == 20 and counts[1] == "20" else None
    p, (counts, top) = wait("the heatmap and slider capped at max_instances 20", capped, 25)
    check(len(counts) % 9 == 0 and max(counts) == 20 and 16 in counts and p["proposal"] == 1,
          "the heatmap's counts stop at 20, the proposal (16) outlined (%d cells, counts %s)"
          % (len(counts), sorted(set(counts))))


def streams_refused(d):
    """Every event stream taken (http_max_connections = 8: four streams):
    the page's is refused with 503, which a browser never retries by
    itself, so the page polls and asks again; once a stream is free it is
    live again (it stayed on polling for good)."""
    import socket
    r = HttpRun("dash-streams", ANALYZER, KPI_PUB)
    cfg = r.config({"web": PLAN}, extra="http_endpoint = 127.0.0.1:0\nhttp_max_connections = 8\n")
    r.start_http(cfg, "60s")
    held = []
    try:
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
            s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = s.recv(4096)
            check(head.startswith(b"HTTP/1.1 200"), "a stream held open (%r)" % head[:20])
            held.append(s)
        d.get("http://127.0.0.1:%d/" % r.port)
        wait("the page's stream refused: polling, asking again",
             lambda: state(d)["mode"].startswith("polling (events refused"), 15)
        for s in held[:2]:
            s.close()
        wait("a stream free again: the page live", lambda: state(d)["mode"] == "live (events)", 20)
        check(True, "all streams taken, the page polled and asked again; live once one was free")
    finally:
        for s in held[2:]:
            s.close()
        d.get("about:blank")
    check(r.stop() == 0, "that analyzer stopped cleanly")


def main():
    r = HttpRun("dash", ANALYZER, KPI_PUB)
    prof = os.path.join(r.wd, "forecast.csv")
    with open(prof, "w") as f:  # 5000 rps, 9000 from t = 60 s: past 0.8 of 8 x ~1000
        f.write("t_seconds,pps\n0,5000\n60,5000\n60,9000\n600,9000\n")
    plan = dict(PLAN, forecast_profile=prof, alert_utilization=0.8)
    cfg = r.config({"web": plan}, extra="http_endpoint = 127.0.0.1:0\n")
    r.start_http(cfg, "90s")
    profiles = set(glob.glob(PROFILES))
    d = browser()
    try:
        pub = r.publish(traffic(), count=140, interval="50ms", seed=5, wait=False)
        d.get("http://127.0.0.1:%d/" % r.port)
        first = wait("the service's plots drawn",
                     lambda: (lambda s: s if s and s["bars"] == 9 and s["points"]
                              and min(s["points"]) >= 2 else None)(state(d)), 30)
        print("first: %s" % {k: v for k, v in first.items() if k != "kpitext"})
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
                              and max(s["points"]) > max(first["points"])
                              and s["kpitext"] != first["kpitext"] else None)(state(d)), 30)
        print("later: %s" % {k: v for k, v in later.items() if k != "kpitext"})
        check(later["kpitext"] != first["kpitext"],
              "the KPI table's numbers changed with the windows (%d characters)" % len(later["kpitext"]))
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
        whatif(d, r)
        alerts(d, r)
        whatif_capped(d, r)
    finally:
        d.quit()
        remove_new_profiles(profiles)
    check(r.stop() == 0, "the analyzer stopped cleanly")
    d = browser()
    try:
        streams_refused(d)
    finally:
        d.quit()
        remove_new_profiles(profiles)
    check(not set(glob.glob(PROFILES)) - profiles, "chromium's temporary profile is removed")


main()
print("PASS")
