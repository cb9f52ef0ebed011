"""shadowtap-whatif end to end (issue #14): a pool of three real UDP servers
in a namespace, each serving one request at a time in D = 20 ms (udp_echo
serial: an M/D/1 server of capacity 50 requests/s), behind a shadow group
of the real dataplane on af_packet veths; the real shadowtap-loadgen
replays a generated capture (100 requests/s of its own, one request per
flow) into the dataplane's inject port from a namespace of its own.

The sweep: loads 0.2x, 0.6x, 1x (20, 60, 100 requests/s, Poisson) x 1-3
instances, SLO p99 400 ms. Queueing theory, with utilisation
rho = rate / (N x 50) and the M/D/1 sojourn time's p99 (Crommelin's
waiting-time distribution, md1_p99 below):
  rho <= 0.7  clearly met (p99 135 ms at 0.67, and the SLO leaves room
              for a 200 ms stall of a busy 2-core machine on top): must
              pass
  rho >= 1.0  no steady state, the queue grows for the whole cell (at
              rho = 1 as a random walk): theory says not met; at >= 1.2
              it must not pass
so theory's fewest instances are 1 at 0.2x, 2 at 0.6x and 3 at 1x, and
the sweep's must match them within one. A row stops past 2 x the SLO, and
the load above is not run (1 instance at 0.6x, rho 1.2, normally stops:
1 x 1x is then skipped).
Also: every cell in the JSON and the CSV, a well-formed HTML page with
the heatmap, the group's instance count and share restored after,
production received nothing; bad configs refused with the key named
before any traffic; a SIGTERM mid-sweep stops the load generator and
restores the group.

usage: test_e2e_whatif.py DATAPLANE LOADGEN WHATIF UDP_ECHO"""
import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import stlib  # noqa: E402
import kpisub  # noqa: E402

try:
    from scapy.all import IP, UDP, Ether, Raw, ARP, wrpcap
except ImportError:
    stlib.skip("python3-scapy is not installed (scripts/setup.sh installs it)")

DP, LG, WI, UDP_ECHO = sys.argv[1:5]
CLIENT, SERVER, PORT = "198.19.0.1", "198.18.0.53", 7
INSTANCES = ["198.18.1.10", "198.18.1.11", "198.18.1.12"]
D_MS = 20.0
MU = 1000.0 / D_MS
SLO_MS = 400.0
FLOWS = 2000
CAPTURE_PPS = 100.0


def md1_p99(lam, d=D_MS / 1e3, q=0.99):
    """The q-quantile of an M/D/1 server's sojourn time (s): d plus the
    waiting time's quantile, P(W <= t) = (1 - rho) sum_{k <= t/d}
    (lam (k d - t))^k / k! e^{-lam (k d - t)} (Crommelin); inf at rho >= 1
    or past 2 s."""
    if lam * d >= 1:
        return float("inf")
    t = 0.0
    while t < 2.0:
        cdf = (1 - lam * d) * sum((lam * (k * d - t)) ** k / math.factorial(k) *
                                  math.exp(-lam * (k * d - t)) for k in range(int(t / d) + 1))
        if cdf >= q:
            return d + t
        t += 0.0005
    return float("inf")


def make_pcap(path):
    pkts = []
    for i in range(FLOWS):
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / \
            IP(src=CLIENT, dst=SERVER) / UDP(sport=10000 + i, dport=PORT) / Raw(b"q%05d" % i)
        p.time = 1700000000.0 + i / CAPTURE_PPS
        pkts.append(p)
    wrpcap(path, pkts)


def wait_ready(paths, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(os.path.exists(p + ".ready") for p in paths):
            return
        time.sleep(0.05)
    stlib.fail("udp_echo servers not ready: %s" % paths)


def group(ctl_ep, name="pool"):
    for g in kpisub.request(ctl_ep, {"cmd": "stats"})["groups"]:
        if g["name"] == name:
            return g
    stlib.fail("no group %s" % name)


def whatif_ini(path, wd, kpi_ep, ctl_ep, lg_eal, lg_ns, **over):
    keys = {
        "service": "web", "group": "pool", "pcap": os.path.join(wd, "req.pcap"),
        "loads": "0.2x, 0.6x, 1x", "instances": "1-3", "warmup": "1.5s", "step": "4s",
        "cooldown": "20s", "slo_p99": "%dms" % SLO_MS, "slo_error_rate": "0.01",
        "stop_factor": "2", "poisson": "true", "instance_cost_per_hour": "0.40",
        "budget_per_hour": "0.80",
        "control_endpoint": ctl_ep, "kpi_endpoint": kpi_ep, "loadgen": LG,
        "loadgen_wrapper": "ip netns exec %s" % lg_ns, "loadgen_eal": lg_eal,
        "loadgen_args": "--no-progress",
    }
    keys.update(over)
    with open(path, "w") as f:
        f.write("; written by test_e2e_whatif.py\n[whatif]\n")
        for k, v in keys.items():
            if v is not None:
                f.write("%s = %s\n" % (k, v))
    return path


def lg_alive(prefix):
    """A load generator of ours still running (its --file-prefix is ours)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
        except OSError:
            continue
        if prefix.encode() in cmd and any(c.endswith(b"shadowtap-loadgen") for c in cmd):
            return True
    return False


def inject_rx(ctl_ep):
    """Packets the dataplane received on its inject port."""
    for port in kpisub.request(ctl_ep, {"cmd": "stats"})["ports"]:
        if port["name"] == "net_af_packet3":
            return port["rx_pkts"]
    stlib.fail("no inject port in the stats")


def bad_configs(wd, mk, ctl_ep):
    """Each a clear error naming the key, exit 2, before any traffic: the
    inject port receives nothing (a started load generator sends 20
    requests a second at the least; a few stray namespace packets are
    allowed)."""
    before = inject_rx(ctl_ep)
    arp = os.path.join(wd, "arp.pcap")
    wrpcap(arp, [Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="198.18.0.1")])
    cases = [
        ({"group": "nope"}, "unknown group 'nope'"),
        ({"group": "noinj", "service": "web2", "instances": "1"}, "no inject path"),
        ({"group": "bare", "service": "web3", "instances": "1"}, "'bare' lists no instances"),
        ({"instances": "1-5"}, "instances: 5 is more than the 3"),
        ({"instances": "3-1"}, "instances: '3-1': an inverted range"),
        ({"loads": ""}, "loads: empty"),
        ({"instances": ""}, "instances: empty"),
        ({"loads": "2x, 0x"}, "loads"),
        ({"pcap": arp}, "no request"),
        ({"slo_p99": None}, "slo_p99: missing"),
        ({"service": "other"}, "service: group 'pool' reports under service 'web'"),
        ({"step": "fast"}, "step"),
        ({"budget_per_hour": "lots"}, "budget_per_hour: 'lots': not a number"),
        ({"instance_cost_per_hour": None}, "budget_per_hour: needs instance_cost_per_hour"),
    ]
    for over, want in cases:
        ini = mk(os.path.join(wd, "bad.ini"), **over)
        p = subprocess.run([WI, "--config", ini], capture_output=True, text=True, timeout=30)
        msg = (p.stdout + p.stderr).strip()
        stlib.check(p.returncode == 2 and want in msg and "[whatif]" in msg,
                    "bad config %s: exit 2, '%s' (%s)" % (over, want, msg[-160:]))
    after = inject_rx(ctl_ep)
    stlib.check(after - before <= 10, "no traffic sent for the refused configs (inject port rx %d -> %d)"
                % (before, after))


def main():
    netns.require()
    tag = "w%d" % (os.getpid() % 100000)
    wd = stlib.workdir("e2e-whatif")
    kpi_ep, ctl_ep = stlib.zmq_endpoints(wd)
    make_pcap(os.path.join(wd, "req.pcap"))
    lg_prefix = "wi-lg-%s" % tag
    with netns.Topology(tag) as t:
        cli, prod, shd, gen = t.ns("c"), t.ns("p"), t.ns("s"), t.ns("g")
        t.veth(cli, "eth0", "%sc" % tag, addr="198.18.0.1/24")
        t.veth(prod, "eth0", "%sp" % tag, addr=SERVER + "/24")
        t.veth(shd, "eth0", "%ss" % tag, addr=INSTANCES[0] + "/24")
        t.veth(shd, "eth1", "%sn" % tag, addr="198.18.2.10/24")
        inside = t.veth(gen, "%sgi" % tag, "%sg" % tag)
        for a in INSTANCES[1:]:
            netns.sh("ip -n %s addr add %s/24 dev eth0" % (shd, a))
        # The injected clients are on-link for the pool: the dataplane
        # answers their ARP.
        netns.sh("ip -n %s route add 198.19.0.0/16 dev eth0" % shd)
        logs = []
        prod_log = os.path.join(wd, "prod.log")
        t.spawn(prod, [UDP_ECHO, SERVER, str(PORT), "0", prod_log])
        logs.append(prod_log)
        for a in INSTANCES:
            lg_ = os.path.join(wd, "inst-%s.log" % a)
            t.spawn(shd, [UDP_ECHO, a, str(PORT), "%g" % D_MS, lg_, "serial"])
            logs.append(lg_)
        wait_ready(logs)

        ini = os.path.join(wd, "dp.ini")
        with open(ini, "w") as f:
            f.write("[dataplane]\n" + stlib.endpoint_lines(wd) + """mode = inline
client_port = net_af_packet0
prod_port = net_af_packet1
inject_port = net_af_packet3
service = web
servers = %s:%d
interval = 500ms
response_timeout = 2s
stats = false

[shadow.pool]
port = net_af_packet2
share = 0.25
inject = true
instances = %s
instances_active = 3

[shadow.noinj]
port = net_af_packet4
share = 0
service = web2
instances = 198.18.2.10

[shadow.bare]
port = net_af_packet4
share = 0
service = web3
inject = true
inject_share = 0.01
""" % (SERVER, PORT, ", ".join(INSTANCES)))
        vdevs = ["net_af_packet0,iface=%sc" % tag, "net_af_packet1,iface=%sp" % tag,
                 "net_af_packet2,iface=%ss" % tag, "net_af_packet3,iface=%sg" % tag,
                 "net_af_packet4,iface=%sn" % tag]
        dp_err = os.path.join(wd, "dataplane.err")
        dp = t.spawn(None, [DP] + stlib.eal_args("e2e-whatif-%s" % tag, vdevs) +
                     ["--", "--config", ini, "--duration", "300s"],
                     stdout=subprocess.DEVNULL, stderr=open(dp_err, "w"))
        ctl_path = ctl_ep[len("ipc://"):]
        end = time.monotonic() + 20
        while time.monotonic() < end and not os.path.exists(ctl_path):
            if dp.poll() is not None:
                stlib.fail("dataplane exited: " + open(dp_err).read())
            time.sleep(0.1)
        g0 = group(ctl_ep)
        stlib.check(g0["instances"] == 3 and g0["inject"] is True and g0["service"] == "web",
                    "the pool: 3 instances in use, takes injected traffic (stats says so)")

        # The loadgen's TX lcore on CPU 0, the dataplane's worker on CPU 1.
        lg_eal = ("-l 0-1 --main-lcore 1 --no-huge --no-pci -m 256 --file-prefix %s "
                  "--log-level *:error --vdev net_af_packet0,iface=%s" % (lg_prefix, inside))

        def mk(path, **over):
            return whatif_ini(path, wd, kpi_ep, ctl_ep, lg_eal, gen, **over)

        bad_configs(wd, mk, ctl_ep)
        inject0 = inject_rx(ctl_ep)

        # The sweep.
        j, c, h = (os.path.join(wd, n) for n in ("sweep.json", "sweep.csv", "sweep.html"))
        # The windows the sweep read, printed for whoever reads a failure.
        sub = kpisub.Collector(kpi_ep, b"kpi.web.synthetic")
        t0 = time.monotonic()
        p = subprocess.run([WI, "--config", mk(os.path.join(wd, "whatif.ini")), "--json", j,
                            "--csv", c, "--report", h],
                           capture_output=True, text=True, timeout=150)
        took = time.monotonic() - t0
        for m in sub.since(t0):
            if m["pkts"] or m["responses"] or m["rx_pkts"]:
                hh = m.get("_hist")
                print("window +%5.1fs n=%d pkts %4d req %4d resp %4d rx %4d tmo %3d p50 %s p99 %s" % (
                    m["_t"] - t0, m["instances"], m["pkts"], m["requests"], m["responses"],
                    m["rx_pkts"], m["timeouts"],
                    "%.1f" % (hh.percentile(50) / 1e6) if hh and hh.total else "-",
                    "%.1f" % (hh.percentile(99) / 1e6) if hh and hh.total else "-"))
        sub.close()
        print(p.stdout)
        print(p.stderr[-3000:])
        stlib.check(p.returncode == 0, "shadowtap-whatif exit 0 in %.0f s" % took)
        r = json.load(open(j))
        cells = {(x["instances"], x["load"]): x for x in r["cells"]}
        loads = ("0.2x", "0.6x", "1x")
        stlib.check(len(r["cells"]) == 9 and set(cells) ==
                    set((n, l) for n in (1, 2, 3) for l in loads),
                    "JSON: every cell of 3 counts x 3 loads")
        stlib.check(abs(r["capture_pps"] - CAPTURE_PPS) < 1,
                    "the capture's own rate: %.1f/s" % r["capture_pps"])
        for (n, l), x in sorted(cells.items()):
            rho = x["offered_rps"] / (n * MU)
            if rho <= 0.7:
                stlib.check(x["status"] == "pass" and x["p99_ms"] < SLO_MS,
                            "%d x %s (rho %.2f): met as M/D/1 says (p99 %.0f ms): p99 %.1f ms, "
                            "errors %.4f, %s" % (n, l, rho, md1_p99(rho * MU) * 1e3, x["p99_ms"],
                                                 x["error_rate"], x["status"]))
            elif rho >= 1.2:
                stlib.check(x["status"] in ("fail", "stop", "skipped"),
                            "%d x %s (rho %.2f): overloaded, not met: %s, p99 %s ms"
                            % (n, l, rho, x["status"], x["p99_ms"]))
        run = [x for x in r["cells"] if x["status"] not in ("skipped", "not_run")]
        stlib.check(all(x["requests"] > 0 and x["windows"] >= 8 for x in run),
                    "every cell run measured >= 4 s of windows with requests (step)")
        # Poisson counts of a few hundred, and a loadgen that drops what it
        # cannot send within 10 ms on a busy machine: within a third.
        stlib.check(all(abs(x["sent_pps"] / x["offered_rps"] - 1) < 0.35 for x in run),
                    "the load generator sent each cell's load (%s)"
                    % ["%.0f/%.0f" % (x["sent_pps"], x["offered_rps"]) for x in run])
        row1 = [cells[(1, l)]["status"] for l in loads]
        stlib.check(row1[1] != "stop" or row1[2] == "skipped",
                    "a row stops past 2 x the SLO: the load above it is not run (%s)" % row1)
        # p90 across the rows: a moment without CPU on a busy machine can
        # make one of 100 samples (a low load's p99) slow, not ten of them.
        p2 = [cells[(2, l)]["p90_ms"] for l in loads]
        stlib.check(p2[0] < p2[1] < p2[2] and cells[(3, "0.2x")]["p90_ms"] < cells[(3, "1x")]["p90_ms"],
                    "latency rises with the load: p90 at 2 instances %s, at 3 %.1f -> %.1f ms"
                    % (p2, cells[(3, "0.2x")]["p90_ms"], cells[(3, "1x")]["p90_ms"]))
        stlib.check(cells[(2, "0.6x")]["p99_ms"] < cells[(1, "0.6x")]["p99_ms"] and
                    cells[(3, "1x")]["p90_ms"] < cells[(2, "1x")]["p90_ms"],
                    "latency falls with instances: p99 at 0.6x on 1 and 2, p90 at 1x on 2 and 3")
        ans = {a["load"]: a["fewest_instances"] for a in r["answers"]}
        theory = {}
        for l, rate in zip(loads, (r["loads"][i]["offered_rps"] for i in range(3))):
            ok = [n for n in (1, 2, 3) if md1_p99(rate / n) * 1e3 <= SLO_MS]
            theory[l] = ok[0] if ok else None
        stlib.check(theory == {"0.2x": 1, "0.6x": 2, "1x": 3} and
                    all(ans[l] is not None and abs(ans[l] - theory[l]) <= 1 for l in loads),
                    "fewest instances per load within one of M/D/1 theory: %s, theory %s" % (ans, theory))
        stlib.check(all(a["cost_per_hour"] is None if a["fewest_instances"] is None else
                        abs(a["cost_per_hour"] - 0.40 * a["fewest_instances"]) < 1e-9 for a in r["answers"]),
                    "each answer priced at 0.40 per instance-hour")
        # The budget of 0.80 an hour pays for 2 instances: each answer within
        # it or over it, and the highest load whose answer fits.
        b = r["budget"]
        fits = [a["load"] for a in r["answers"]
                if a["fewest_instances"] is not None and a["fewest_instances"] <= 2]
        stlib.check(b["per_hour"] == 0.8 and b["affordable_instances"] == 2 and
                    all(a["within_budget"] is (None if a["fewest_instances"] is None else
                                               a["fewest_instances"] <= 2) for a in r["answers"]) and
                    b["highest_load"] == (fits[-1] if fits else None) and
                    "budget 0.80 per hour (2 instances at 0.40): serves " in p.stdout,
                    "budget 0.80/h: answers within it up to 2 instances, the highest load it "
                    "serves %s (%s)" % (b["highest_load"], [a["within_budget"] for a in r["answers"]]))
        # The model beside the measurement: fitted on a passing cell,
        # predicting every cell; the overloaded ones it must call failed.
        m = r["model"]
        fit = cells[(m["fitted_on"]["instances"], m["fitted_on"]["load"])] if m["ok"] else None
        stlib.check(m["ok"] and m["form"] == "mg1" and fit["status"] == "pass" and
                    all(x["predicted_status"] in ("pass", "fail") for x in r["cells"]),
                    "model: mg1 fitted on a passing cell (%s), a prediction for every cell"
                    % m.get("fitted_on"))
        stlib.check(0.5 * MU < m["mu_per_instance"] < 2 * MU,
                    "model: capacity per instance %.1f/s, within 2x of the servers' %.0f/s"
                    % (m["mu_per_instance"], MU))
        for (n, l), x in sorted(cells.items()):
            if x["offered_rps"] / (n * MU) >= 1.2:
                stlib.check(x["predicted_status"] == "fail",
                            "model: %d x %s overloaded, predicted to fail (%s ms)"
                            % (n, l, x["predicted_p99_ms"]))
        stlib.check(m["disagree"] == sum(1 for x in r["cells"] if x["model_agrees"] is False),
                    "model: %d disagreeing cells, each flagged" % m["disagree"])
        stlib.check("fewest instances meeting" in p.stdout and "0.6x" in p.stdout,
                    "the table and the answers on stdout")
        rows = list(csv.DictReader(open(c)))
        stlib.check(len(rows) == 9 and
                    sorted((int(x["instances"]), x["load"], x["status"]) for x in rows) ==
                    sorted((x["instances"], x["load"], x["status"]) for x in r["cells"]),
                    "CSV: the same 9 cells as the JSON")
        html = open(h).read()
        root = ET.fromstring(html.split("\n", 1)[1])
        ns = "{http://www.w3.org/1999/xhtml}"
        heat = [tb for tb in root.iter(ns + "table") if tb.get("class") == "heat"]
        stlib.check(len(heat) == 1 and len(heat[0].findall(ns + "tr")) == 4 and
                    "<script" not in html and "http://" not in html.replace(
                        "http://www.w3.org/", ""),
                    "HTML: well-formed XHTML, a heatmap of 3 counts x 3 loads, no script, "
                    "nothing fetched")
        g = group(ctl_ep)
        stlib.check(g["instances"] == 3 and abs(g["share"] - 0.25) < 1e-9 and r["restored"],
                    "after the sweep: 3 instances and share 0.25 again (%d, %g)"
                    % (g["instances"], g["share"]))
        stlib.check(not lg_alive(lg_prefix), "no load generator left running")
        stlib.check(inject_rx(ctl_ep) - inject0 > 1000,
                    "the inject port's count saw the sweep's load (%d packets): the refused "
                    "configs' check above can see traffic" % (inject_rx(ctl_ep) - inject0))

        # SIGTERM in the middle of a cell.
        ji = os.path.join(wd, "int.json")
        w = subprocess.Popen([WI, "--config", mk(os.path.join(wd, "int.ini"), loads="0.2x",
                                                   instances="1", step="30s"),
                              "--json", ji], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        end = time.monotonic() + 20
        while time.monotonic() < end and group(ctl_ep)["instances"] != 1:
            time.sleep(0.2)
        while time.monotonic() < end and not lg_alive(lg_prefix):
            time.sleep(0.2)
        started = lg_alive(lg_prefix)
        time.sleep(2)
        w.send_signal(signal.SIGTERM)
        out, err = w.communicate(timeout=30)
        print(err[-1500:])
        g = group(ctl_ep)
        ri = json.load(open(ji))
        stlib.check(started and w.returncode == 1 and ri["interrupted"] and
                    ri["cells"][0]["status"] == "not_run",
                    "SIGTERM mid-cell: exit 1, the cell marked not run")
        stlib.check(g["instances"] == 3 and abs(g["share"] - 0.25) < 1e-9 and
                    not lg_alive(lg_prefix),
                    "SIGTERM: the load generator stopped, 3 instances and share 0.25 restored")

        dp.send_signal(signal.SIGINT)
        dp.wait(timeout=30)
        for proc in t.procs:
            if proc is not dp and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
        stlib.check(os.path.getsize(prod_log) == 0,
                    "production received nothing: its server saw no request")
    print("all checks passed")


main()
