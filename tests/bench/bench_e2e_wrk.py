"""scripts/bench.sh tcp: wrk against nginx through the dataplane (inline,
af_packet ports on veth pairs into namespaces), with TCP shadowing of 50% of
the connections to a second nginx against shadowing off (share 0), in one
dataplane run, plus the same without the dataplane (a veth-bridge ceiling
is not possible here: the namespaces only meet through the dataplane).

usage: bench_e2e_wrk.py BUILD_DIR SECONDS"""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import netns  # noqa: E402
import nginx  # noqa: E402
import stlib  # noqa: E402
import kpisub  # noqa: E402

build, secs = sys.argv[1], float(sys.argv[2])
DP = os.path.join(build, "dataplane", "shadowtap-dataplane")
CLIENT, SERVER = "198.18.0.1", "198.18.0.53"


def wrk(ns):
    out = subprocess.run(["ip", "netns", "exec", ns, "wrk", "-t1", "-c32", "-d%ds" % secs,
                          "http://%s/" % SERVER], capture_output=True, text=True,
                         timeout=secs + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = "Socket errors" in out or "Non-2xx" in out
    return (float(m.group(1)) if m else 0.0), errors


def main():
    if os.geteuid() != 0:
        print("tcp: SKIP (needs root for network namespaces)")
        return
    tag = "b%d" % (os.getpid() % 100000)
    wd = stlib.workdir("bench-wrk")
    kpi_ep, ctl_ep = stlib.zmq_endpoints(wd)
    with netns.Topology(tag) as t:
        cli, prod, shd = t.ns("c"), t.ns("p"), t.ns("s")
        t.veth(cli, "eth0", "%sc" % tag, addr=CLIENT + "/24")
        t.veth(prod, "eth0", "%sp" % tag, addr=SERVER + "/24")
        t.veth(shd, "eth0", "%ss" % tag, addr=SERVER + "/24")
        pconf, _ = nginx.write_conf(wd, "prod", SERVER + ":80", access_log=False)
        sconf, _ = nginx.write_conf(wd, "shadow", SERVER + ":80", access_log=False)
        t.spawn(prod, nginx.argv(pconf))
        t.spawn(shd, nginx.argv(sconf))
        ini = os.path.join(wd, "dp.ini")
        with open(ini, "w") as f:
            f.write("[dataplane]\n" + stlib.endpoint_lines(wd) + """client_port = net_af_packet0
prod_port = net_af_packet1
servers = %s
stats = false

[shadow.s]
port = net_af_packet2
share = 0
""" % SERVER)
        vdevs = ["net_af_packet0,iface=%sc" % tag, "net_af_packet1,iface=%sp" % tag,
                 "net_af_packet2,iface=%ss" % tag]
        dp = t.spawn(None, [DP] + stlib.eal_args("bench-wrk-%s" % tag, vdevs) +
                     ["--", "--config", ini, "--duration", "600s"],
                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(wd, "dp.err"), "w"))
        time.sleep(2.5)
        rows = []
        for share in (0.0, 0.5, 0.0, 0.5):
            kpisub.request(ctl_ep, {"cmd": "set_share", "group": "s", "share": share})
            time.sleep(0.5)
            rps, err = wrk(cli)
            rows.append((share, rps, err))
        st = kpisub.request(ctl_ep, {"cmd": "stats"})
        dp.terminate()
        dp.wait(timeout=30)
    print("%-34s %12s %8s" % ("wrk -c32 through the dataplane", "req/s", "errors"))
    for share, rps, err in rows:
        print("%-34s %12.0f %8s" % ("TCP shadowing share %.1f" % share, rps, "yes" if err else "no"))
    off = sum(r for s, r, _ in rows if s == 0) / 2
    on = sum(r for s, r, _ in rows if s > 0) / 2
    print("\nshadowing 50%% vs off: %.0f%% of the requests/s (two runs each, interleaved); "
          "shadow ACKs sent %d, retransmits %d" % (100 * on / off if off else 0,
                                                   st["tcp"]["acks"], st["tcp"]["retransmits"]))


main()
