"""A real Prometheus server (Debian's `prometheus`) scrapes a running
analyzer, with the scrape config and alert rules of docs/integration.md:

  - the `# file:` blocks of docs/integration.md pass `promtool check rules`
    and `promtool check config`;
  - Prometheus loads the rules and scrapes the analyzer (target up);
  - its own HTTP API answers shadowtap_recommended_instances{service="web"}
    with the number the ZeroMQ verdict stream published last.

The server runs on a loopback port with a temporary config and storage,
and is stopped by its pid; every wait is bounded.

usage: test_analyzer_prometheus.py ANALYZER KPI_PUB SOURCE_ROOT"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from anhttp import PLAN, HttpRun, VerdictSub, need, traffic
from stlib import check, fail

ANALYZER, KPI_PUB, ROOT = sys.argv[1], sys.argv[2], sys.argv[3]
PROMTOOL = need("promtool")
PROMETHEUS = need("prometheus")


def doc_files():
    """The blocks of docs/integration.md that start with '# file: NAME'."""
    text = open(os.path.join(ROOT, "docs", "integration.md")).read()
    out = {}
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        m = re.match(r"# file: (\S+)\n", block)
        if m:
            out[m.group(1)] = block
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def prom_get(port, path, params=None):
    url = "http://127.0.0.1:%d%s" % (port, path)
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def wait_for(what, fn, timeout):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except OSError as e:
            last = e
        time.sleep(0.25)
    fail("%s: not within %d s (last: %s)" % (what, timeout, last))


def main():
    files = doc_files()
    check({"prometheus.yml", "shadowtap-rules.yml"} <= set(files),
          "docs/integration.md has the scrape config and the rules (%s)" % sorted(files))
    r = HttpRun("prom", ANALYZER, KPI_PUB)
    rules = os.path.join(r.wd, "shadowtap-rules.yml")
    with open(rules, "w") as f:
        f.write(files["shadowtap-rules.yml"])
    p = subprocess.run([PROMTOOL, "check", "rules", rules], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0 and "2 rules found" in p.stdout,
          "promtool check rules: %s" % (p.stdout + p.stderr).strip().replace("\n", " | "))
    # The doc's config as it is (its token file must exist for the check).
    docdir = os.path.join(r.wd, "doc")
    os.mkdir(docdir)
    with open(os.path.join(docdir, "prometheus.yml"), "w") as f:
        f.write(files["prometheus.yml"].replace("/etc/prometheus/shadowtap.token",
                                                os.path.join(docdir, "token")))
    with open(os.path.join(docdir, "shadowtap-rules.yml"), "w") as f:
        f.write(files["shadowtap-rules.yml"])
    with open(os.path.join(docdir, "token"), "w") as f:
        f.write("0123456789abcdef-token\n")
    p = subprocess.run([PROMTOOL, "check", "config", os.path.join(docdir, "prometheus.yml")],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "promtool check config on the doc's scrape config: %s"
          % (p.stdout + p.stderr).strip().replace("\n", " | "))

    cfg = r.config({"web": PLAN}, extra="http_endpoint = 127.0.0.1:0\n")
    r.start_http(cfg, "90s")
    # The doc's scrape job, aimed at this analyzer (loopback: no token).
    prom_cfg = files["prometheus.yml"]
    prom_cfg = re.sub(r"    authorization:\n(      .*\n)+", "", prom_cfg)
    prom_cfg = prom_cfg.replace("shadowtap-analyzer.shadowtap.svc:9560", "127.0.0.1:%d" % r.port)
    prom_cfg = prom_cfg.replace("scrape_interval: 5s", "scrape_interval: 1s")
    prom_cfg = prom_cfg.replace("evaluation_interval: 15s", "evaluation_interval: 1s")
    with open(os.path.join(r.wd, "prometheus.yml"), "w") as f:
        f.write(prom_cfg)
    pport = free_port()
    plog = open(os.path.join(r.wd, "prometheus.log"), "w")
    prom = subprocess.Popen([PROMETHEUS, "--config.file", os.path.join(r.wd, "prometheus.yml"),
                             "--storage.tsdb.path", os.path.join(r.wd, "tsdb"),
                             "--web.listen-address", "127.0.0.1:%d" % pport,
                             "--log.level", "warn"], stdout=plog, stderr=plog)
    print("prometheus pid %d on port %d" % (prom.pid, pport))
    try:
        wait_for("prometheus ready", lambda: urllib.request.urlopen(
            "http://127.0.0.1:%d/-/ready" % pport, timeout=2).status == 200, 30)
        groups = prom_get(pport, "/api/v1/rules")["data"]["groups"]
        names = [rule["name"] for g in groups for rule in g["rules"]]
        check(names == ["ShadowtapVerdictAdjust", "ShadowtapShadowP99OverSLO"],
              "Prometheus loaded the doc's rules: %s" % names)
        sub = VerdictSub(r.verdicts)
        sub.start()
        time.sleep(0.3)
        pub = r.publish(traffic(), count=80, interval="50ms", seed=9, wait=False)

        def target_up():
            ts = prom_get(pport, "/api/v1/targets")["data"]["activeTargets"]
            return [t for t in ts if t["health"] == "up"]
        up = wait_for("the analyzer's target up", target_up, 20)
        check(up[0]["labels"]["job"] == "shadowtap-analyzer", "Prometheus scrapes the analyzer (up)")
        pub.communicate(timeout=60)
        time.sleep(1.0)   # the last windows close
        sub.stopping = True
        sub.join(5)
        check(len(sub.verdicts) > 0, "verdicts on the ZeroMQ stream (%d)" % len(sub.verdicts))
        want = sub.verdicts[-1]["recommended_instances"]
        query = 'shadowtap_recommended_instances{service="web"}'

        def answered():
            res = prom_get(pport, "/api/v1/query", {"query": query})["data"]["result"]
            return res if res and float(res[0]["value"][1]) == want else None
        # Two scrapes after the last verdict at most (1 s each), with margin.
        res = wait_for("Prometheus answering %s = %d" % (query, want), answered, 15)
        check(float(res[0]["value"][1]) == want,
              "Prometheus's API: %s = %s, the last ZeroMQ verdict's %d"
              % (query, res[0]["value"][1], want))
        res = prom_get(pport, "/api/v1/query",
                       {"query": 'shadowtap_latency_seconds{service="web",target="shadow",'
                                 'kind="observed",percentile="p99"}'})["data"]["result"]
        check(len(res) == 1 and 0 < float(res[0]["value"][1]) < 1,
              "the shadow's p99 in seconds: %s" % (res[0]["value"][1] if res else None))
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=20)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        plog.close()
    check(r.stop() == 0, "the analyzer stopped cleanly")


main()
print("PASS")
