"""A real Prometheus server (Debian's `prometheus`) scrapes a running
analyzer and a running dataplane during an end-to-end run, with the scrape
config and alert rules of docs/integration.md:

  - the `# file:` blocks of docs/integration.md pass `promtool check rules`
    and `promtool check config`;
  - the analyzer takes KPI snapshots from a seeded publisher (kpi_pub,
    service web) and from a real dataplane (service dns) on DPDK net_pcap
    ports, which answers /metrics too;
  - Prometheus loads the rules and scrapes both (targets up);
  - its own HTTP API answers shadowtap_recommended_instances{service=...}
    for both services with the numbers the ZeroMQ verdict stream published
    last, and a dataplane counter with the dataplane's final counter;
  - every PromQL expression of the Grafana dashboard (docs/grafana/
    shadowtap.json) and of its variables evaluates without error and
    returns data over the run.

The servers run on loopback ports with temporary configs and storage, and
are stopped by their pids; every wait is bounded. Without DPDK (no
DATAPLANE argument) the dataplane's half is skipped and says so.

usage: test_analyzer_prometheus.py ANALYZER KPI_PUB SOURCE_ROOT [DATAPLANE]"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from anhttp import PLAN, HttpRun, VerdictSub, need, traffic
import stlib
from stlib import check, fail

ANALYZER, KPI_PUB, ROOT = sys.argv[1], sys.argv[2], sys.argv[3]
DATAPLANE = sys.argv[4] if len(sys.argv) > 4 else None
PROMTOOL = need("promtool")
PROMETHEUS = need("prometheus")
# The dataplane's service: requests from 200 clients to one UDP server, its
# responses on production's and the shadow group's ports.
DP_PLAN = {"shadow": "canary", "current_instances": 4, "proposed_instances": 2,
           "forecast_rps": 1000, "slo_p99": "30ms"}
DP_N = 2000


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


class Dataplane:
    """shadowtap-dataplane on net_pcap ports, publishing KPI snapshots for
    service dns and serving /metrics on a port the kernel picks."""

    def __init__(self, wd):
        try:
            from scapy.all import IP, UDP, Ether, Raw, wrpcap
        except ImportError:
            fail("python3-scapy is not installed (scripts/setup.sh installs it)")
        req, resp = [], []
        for i in range(DP_N):
            c = "198.18.0.%d" % (1 + i % 200)
            req.append(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                       IP(src=c, dst="198.18.1.53") / UDP(sport=10000 + i, dport=53) /
                       Raw(b"q%05d" % i))
            resp.append(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") /
                        IP(src="198.18.1.53", dst=c) / UDP(sport=53, dport=10000 + i) /
                        Raw(b"r%05d" % i))
        self.wd = wd
        wrpcap(os.path.join(wd, "dp_in.pcap"), req)
        wrpcap(os.path.join(wd, "dp_resp.pcap"), resp)
        self.kpi = "ipc://%s/dpkpi.sock" % wd
        self.ini = os.path.join(wd, "dataplane.ini")
        with open(self.ini, "w") as f:
            f.write("[dataplane]\nkpi_endpoint = %s\ncontrol_endpoint = ipc://%s/dpctl.sock\n"
                    "mode = inline\nclient_port = net_pcap0\nprod_port = net_pcap1\n"
                    "interval = 200ms\nidle_sleep = 1ms\nstats = false\nservice = dns\n"
                    "servers = 198.18.1.53:53\nresponse_timeout = 100ms\nprod_instances = 4\n"
                    "http_endpoint = 127.0.0.1:0\n\n[shadow.canary]\nport = net_pcap2\n"
                    "share = 1\ndst_mac = 02:00:00:00:0a:0a\ninstances_count = 2\n"
                    % (self.kpi, wd))

    def start(self, duration):
        p = lambda n: os.path.join(self.wd, n)
        vdevs = ["net_pcap0,rx_pcap=%s,tx_pcap=%s" % (p("dp_in.pcap"), p("dp_client.pcap")),
                 "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (p("dp_resp.pcap"), p("dp_prod.pcap")),
                 "net_pcap2,rx_pcap=%s,tx_pcap=%s" % (p("dp_resp.pcap"), p("dp_shadow.pcap"))]
        cmd = [DATAPLANE] + stlib.eal_args("prom-dp-%d" % os.getpid(), vdevs) + \
            ["--", "--config", self.ini, "--duration", duration]
        print("run: " + " ".join(cmd))
        self.errpath = p("dataplane.err")
        self.errf = open(self.errpath, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.errf)
        deadline = time.time() + 30
        while time.time() < deadline:
            m = re.search(r"http: listening on \S+ port (\d+)", open(self.errpath).read())
            if m:
                self.port = int(m.group(1))
                print("dataplane pid %d, http port %d" % (self.proc.pid, self.port))
                return
            if self.proc.poll() is not None:
                fail("the dataplane exited: %s" % open(self.errpath).read()[-2000:])
            time.sleep(0.1)
        self.stop()
        fail("the dataplane did not say which port it listens on")

    def wait(self, timeout):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            fail("the dataplane did not end by itself")
        self.errf.close()
        err = open(self.errpath).read()
        check(self.proc.returncode == 0, "the dataplane ended cleanly (%d)" % self.proc.returncode)
        return stlib.parse_final(err)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def grafana_exprs(dash):
    """Every target expression of the dashboard's panels (rows included)."""
    out = []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((p["title"], t["expr"]))
    walk(dash["panels"])
    return out


def check_grafana(pport, t0, t1):
    """The dashboard JSON: valid, its variables' label_values() queries
    answer, and every panel expression evaluates over [t0, t1] without
    error and with data, the variables set to All as Grafana sets them."""
    path = os.path.join(ROOT, "docs", "grafana", "shadowtap.json")
    with open(path) as f:
        dash = json.load(f)
    check(dash.get("uid") and dash.get("panels"), "docs/grafana/shadowtap.json is a dashboard")
    values = {"__rate_interval": "5s", "__interval": "1s"}
    for v in dash["templating"]["list"]:
        if v["type"] != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.match(r"label_values\((\w+), *(\w+)\)$", q)
        check(m is not None, "variable %s: a label_values() query (%s)" % (v["name"], q))
        got = prom_get(pport, "/api/v1/label/%s/values" % m.group(2),
                       {"match[]": m.group(1), "start": t0, "end": t1})["data"]
        check(len(got) > 0, "variable %s: %s -> %s" % (v["name"], q, got))
        # As Grafana writes a multi-value variable into a regex matcher:
        # escaped, and the escapes doubled inside a PromQL string.
        values[v["name"]] = "|".join(re.escape(x).replace("\\", "\\\\") for x in got)
    exprs = grafana_exprs(dash)
    empty = []
    for title, e in exprs:
        q = re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], e)
        try:
            res = prom_get(pport, "/api/v1/query_range", {"query": q, "start": t0, "end": t1,
                                                           "step": "1s"})
        except urllib.error.HTTPError as err:
            fail("panel '%s': %s: %s" % (title, q, err.read()[:300]))
        if res["status"] != "success":
            fail("panel '%s': %s: %s" % (title, q, res))
        if not res["data"]["result"]:
            empty.append("%s: %s" % (title, q))
    check(not empty, "all %d Grafana panel expressions evaluate with data%s"
          % (len(exprs), "" if not empty else "; empty: %s" % empty))


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
        f.write(files["prometheus.yml"].replace("/etc/prometheus/", docdir + "/"))
    with open(os.path.join(docdir, "shadowtap-rules.yml"), "w") as f:
        f.write(files["shadowtap-rules.yml"])
    for name in ("shadowtap.token", "shadowtap-dataplane.token"):
        with open(os.path.join(docdir, name), "w") as f:
            f.write("0123456789abcdef-token\n")
    p = subprocess.run([PROMTOOL, "check", "config", os.path.join(docdir, "prometheus.yml")],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "promtool check config on the doc's scrape config: %s"
          % (p.stdout + p.stderr).strip().replace("\n", " | "))

    services, endpoints, dp = {"web": PLAN}, 1, None
    if DATAPLANE is None:
        print("SKIP (part): no dataplane (built without DPDK): Prometheus scrapes the analyzer only")
    else:
        dp = Dataplane(r.wd)
        services["dns"] = DP_PLAN
        r.kpi[1] = dp.kpi
        endpoints = 2
    cfg = r.config(services, extra="http_endpoint = 127.0.0.1:0\n", endpoints=endpoints)
    r.start_http(cfg, "90s")
    t0 = time.time() - 1
    # The dataplane ends by itself after the run; its pcap is read at once,
    # then it keeps publishing (empty) KPI windows and answering /metrics.
    if dp is not None:
        dp.start("25s")
    # The doc's scrape jobs, aimed at this analyzer and this dataplane
    # (loopback: no token).
    prom_cfg = files["prometheus.yml"]
    prom_cfg = re.sub(r"    authorization:\n(      .*\n)+", "", prom_cfg)
    prom_cfg = prom_cfg.replace("shadowtap-analyzer.shadowtap.svc:9560", "127.0.0.1:%d" % r.port)
    check("gw1.example.net:9561" in prom_cfg, "the doc's scrape config has the dataplane's job")
    if dp is not None:
        prom_cfg = prom_cfg.replace("gw1.example.net:9561", "127.0.0.1:%d" % dp.port)
    else:
        prom_cfg = re.sub(r"  # Each gateway's dataplane.*", "", prom_cfg, flags=re.S)
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

        jobs = {"shadowtap-analyzer"} | ({"shadowtap-dataplane"} if dp else set())

        def targets_up():
            ts = prom_get(pport, "/api/v1/targets")["data"]["activeTargets"]
            up = {t["labels"]["job"] for t in ts if t["health"] == "up"}
            return up if up >= jobs else None
        up = wait_for("the targets up (%s)" % sorted(jobs), targets_up, 20)
        check(up >= jobs, "Prometheus scrapes %s (up)" % sorted(up))
        pub.communicate(timeout=60)
        if dp is not None:
            # Enough windows for the dataplane's service to be judged.
            wait_for("verdicts for dns", lambda: [v for v in sub.verdicts
                                                  if v["service"] == "dns"][4:], 30)
        time.sleep(1.0)   # the last windows close
        sub.stopping = True
        sub.join(5)
        check(len(sub.verdicts) > 0, "verdicts on the ZeroMQ stream (%d)" % len(sub.verdicts))
        for service in sorted(services):
            mine = [v for v in sub.verdicts if v["service"] == service]
            check(len(mine) > 0, "verdicts for %s on the ZeroMQ stream (%d)" % (service, len(mine)))
            want = mine[-1]["recommended_instances"]
            query = 'shadowtap_recommended_instances{service="%s"}' % service

            def answered():
                res = prom_get(pport, "/api/v1/query", {"query": query})["data"]["result"]
                return res if res and float(res[0]["value"][1]) == want else None
            # Two scrapes after the last verdict at most (1 s each), with margin.
            res = wait_for("Prometheus answering %s = %d" % (query, want), answered, 15)
            check(float(res[0]["value"][1]) == want,
                  "Prometheus's API: %s = %s, the last ZeroMQ verdict's %d (%s: %s)"
                  % (query, res[0]["value"][1], want, mine[-1]["verdict"],
                     mine[-1]["reason"][:80]))
        res = prom_get(pport, "/api/v1/query",
                       {"query": 'shadowtap_latency_seconds{service="web",target="shadow",'
                                 'kind="observed",percentile="p99"}'})["data"]["result"]
        check(len(res) == 1 and 0 < float(res[0]["value"][1]) < 1,
              "the shadow's p99 in seconds: %s" % (res[0]["value"][1] if res else None))
        if dp is not None:
            final = dp.wait(60)
            # The target is down now and its series stale: the last sample
            # Prometheus scraped, against what the dataplane printed at exit.
            for metric, labels, key in [
                    ("shadowtap_dp_port_rx_packets_total", 'role="client"', ("ports", "client", "rx")),
                    ("shadowtap_dp_port_tx_packets_total", 'role="prod"', ("ports", "prod", "tx")),
                    ("shadowtap_dp_group_copies_total", 'group="canary",source="mirror"',
                     ("shadows", "canary", "copies"))]:
                q = "last_over_time(%s{%s}[5m])" % (metric, labels)
                res = prom_get(pport, "/api/v1/query", {"query": q})["data"]["result"]
                got = float(res[0]["value"][1]) if len(res) == 1 else None
                fin = final[key[0]][key[1]][key[2]]
                check(got == fin and fin == DP_N,
                      "Prometheus's %s{%s} = %s, the dataplane's final counter %d (sent %d)"
                      % (metric, labels, got, fin, DP_N))
        check_grafana(pport, t0, time.time())
    finally:
        if dp is not None:
            dp.stop()
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
