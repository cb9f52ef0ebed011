"""A shadow group of several instances: flows are spread over the instance
addresses by hash, copies get the instance's MAC (resolved with ARP) and
address (checksums fixed), and the instances' answers, which come from
their own addresses, are mapped back to their flows: timed for UDP, and
carried through TCP session shadowing (nginx serving wrk's connections).
Then the same with two workers (af_packet qpairs=2: the kernel's fanout
hash picks each answer's worker by the instance's address, not by the
flow's), where an answer its worker cannot place is handed to the other.

usage: test_e2e_instances.py DATAPLANE_BINARY UDP_ECHO_BINARY"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import nginx  # noqa: E402
import stlib  # noqa: E402
import sthash  # noqa: E402
import kpisub  # noqa: E402

DP, UDP_ECHO = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
CLIENT, SERVER = "198.18.0.1", "198.18.0.53"
INSTANCES = ["198.18.1.10", "198.18.1.11"]


def instance_of(h, n):
    """The dataplane's choice of instance: the flow hash remixed, scaled."""
    return (((h * 2654435761) & 0xFFFFFFFF) * n) >> 32


def start_dp(t, prefix, vdevs, ini, err, lcores="0-1"):
    """The dataplane on vdevs, and a KPI subscriber once it runs."""
    dp = t.spawn(None, [DP] + stlib.eal_args(prefix, vdevs, lcores=lcores) +
                 ["--", "--config", ini, "--duration", "120s"],
                 stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    sub = kpisub.Collector(stlib.zmq_endpoints(os.path.dirname(ini))[0])
    time.sleep(3)
    if dp.poll() is not None:
        stlib.fail("dataplane exited: " + open(err).read())
    return dp, sub


def udp_run(cli, sub):
    """400 UDP requests from the client; returns its result and the
    group's KPI snapshots over them."""
    t0 = time.monotonic()
    out = subprocess.run(["ip", "netns", "exec", cli, PY, os.path.join(HERE, "udp_client.py"),
                          SERVER, "7", "400", "1", "50", "1000"], capture_output=True, text=True,
                         timeout=120)
    time.sleep(1.2)
    return json.loads(out.stdout), sub.since(t0, "pair")


def main():
    netns.require()
    nginx.require()
    if shutil.which("wrk") is None:
        stlib.skip("wrk is not installed (scripts/setup.sh installs it)")
    tag = "i%d" % (os.getpid() % 100000)
    wd = stlib.workdir("e2e-inst")
    _, ctl_ep = stlib.zmq_endpoints(wd)
    with netns.Topology(tag) as t:
        cli, prod, shd = t.ns("c"), t.ns("p"), t.ns("s")
        t.veth(cli, "eth0", "%sc" % tag, addr=CLIENT + "/24")
        t.veth(prod, "eth0", "%sp" % tag, addr=SERVER + "/24")
        t.veth(shd, "eth0", "%ss" % tag, addr=INSTANCES[0] + "/24")
        netns.sh("ip -n %s addr add %s/24 dev eth0" % (shd, INSTANCES[1]))
        # The clients are on-link for the shadow: the dataplane answers its ARP.
        netns.sh("ip -n %s route add 198.18.0.0/24 dev eth0" % shd)
        logs = {}
        t.spawn(prod, [UDP_ECHO, SERVER, "7", "0", os.path.join(wd, "prod.log")])
        for a in INSTANCES:
            logs[a] = os.path.join(wd, "inst-%s.log" % a)
            t.spawn(shd, [UDP_ECHO, a, "7", "0", logs[a]])
        pconf, _ = nginx.write_conf(wd, "prod", SERVER + ":80", access_log=False)
        sconf, slog = nginx.write_conf(wd, "shadow", "80")
        t.spawn(prod, nginx.argv(pconf))
        t.spawn(shd, nginx.argv(sconf))
        ini = os.path.join(wd, "dp.ini")
        with open(ini, "w") as f:
            f.write("[dataplane]\n" + stlib.endpoint_lines(wd) + """mode = inline
client_port = net_af_packet0
prod_port = net_af_packet1
service = web
interval = 500ms

[shadow.pair]
port = net_af_packet2
share = 1
instances = %s
""" % ", ".join(INSTANCES))
        vdevs = ["net_af_packet0,iface=%sc" % tag, "net_af_packet1,iface=%sp" % tag,
                 "net_af_packet2,iface=%ss" % tag]
        dp_err = os.path.join(wd, "dataplane.err")
        dp, sub = start_dp(t, "e2e-inst-%s" % tag, vdevs, ini, dp_err)
        r, sm = udp_run(cli, sub)
        stlib.check(r["answered"] == 400 and r["extra"] == 0, "UDP: production answered all 400, no stray")
        stlib.check(sum(m["requests"] for m in sm) == 400, "UDP: 400 requests copied to the instances")
        stlib.check(sum(m["responses"] for m in sm) == 400,
                    "UDP: the instances' 400 answers, from their own addresses, were timed (%d)"
                    % sum(m["responses"] for m in sm))
        # A closed port: production and the instances answer with ICMP
        # port unreachable, the instances' quoting the copy sent to their
        # own address; both are counted against the flow (the group's were
        # never matched: timed out instead).
        for ns in (prod, shd):
            netns.sh("ip netns exec %s sysctl -qw net.ipv4.icmp_ratelimit=0" % ns)
        t1 = time.monotonic()
        netns.sh("ip netns exec %s %s -c 'import socket,time\n"
                 "for k in range(20):\n"
                 "    s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.sendto(b\"x\",(\"%s\",9)); "
                 "s.close(); time.sleep(0.02)'" % (cli, PY, SERVER))
        time.sleep(1.5)
        icmp = {g: sum(m["icmp_errors"] for m in sub.since(t1, g)) for g in ("prod", "pair")}
        stlib.check(icmp["prod"] == 20 and icmp["pair"] == 20,
                    "a closed port: production's 20 ICMP errors and the instances' 20 counted (%s)" % icmp)
        # Each flow went to the instance its hash picks.
        for p in t.procs[1:3]:
            p.terminate()
            p.wait(timeout=10)
        for i, a in enumerate(INSTANCES):
            seen = set(int(line.split()[1]) for line in open(logs[a]) if line.strip())
            want = set(sp for sp in r["sports"]
                       if instance_of(sthash.flow_hash(CLIENT, sp, SERVER, 7, 17), 2) == i)
            stlib.check(seen == want and len(seen) > 100,
                        "UDP: instance %s got exactly its %d flows" % (a, len(want)))

        out = subprocess.run(["ip", "netns", "exec", cli, "wrk", "-t1", "-c20", "-d3s",
                              "http://%s/inst" % SERVER], capture_output=True, text=True, timeout=60)
        out = out.stdout
        n = int(re.search(r"(\d+) requests in", out).group(1))
        stlib.check("Socket errors" not in out and n > 500, "TCP: wrk %d requests, zero errors" % n)
        time.sleep(1.0)
        shadow_reqs = len(nginx.read_log(slog))
        stlib.check(shadow_reqs >= n - 20 * 2, "TCP: the instances served the mirrored sessions "
                    "(%d of %d requests)" % (shadow_reqs, n))
        tcp = kpisub.request(ctl_ep, {"cmd": "stats"})["tcp"]
        stlib.check(tcp["shadow_resets"] == 0 and tcp["acks"] > 0,
                    "TCP: no instance reset a session, the dataplane acknowledged their data")
        sub.close()
        dp.send_signal(signal.SIGINT)
        dp.wait(timeout=30)
        res = stlib.parse_final(open(dp_err).read())
        stlib.check(res["mbufs_in_use"] == (0, 0), "every mbuf back in its pool at exit")

        # Two workers: each port's two queues are filled by the kernel's
        # fanout hash, symmetric for a flow, so a flow's two directions
        # meet; an instance's answer is hashed by the instance's address.
        for a in INSTANCES:
            t.spawn(shd, [UDP_ECHO, a, "7", "0", os.path.join(wd, "inst2-%s.log" % a)])
        with open(ini) as f:
            text = f.read()
        with open(ini, "w") as f:
            f.write(text.replace("mode = inline\n", "mode = inline\nworkers = 2\n"))
        vdevs2 = [v + ",qpairs=2" for v in vdevs]
        dp_err2 = os.path.join(wd, "dataplane2.err")
        dp, sub = start_dp(t, "e2e-inst2-%s" % tag, vdevs2, ini, dp_err2, lcores="0@0,1@1,2@0")
        r, sm = udp_run(cli, sub)
        stlib.check(r["answered"] == 400 and sum(m["requests"] for m in sm) == 400,
                    "two workers, UDP: production answered all 400, 400 copied")
        stlib.check(sum(m["responses"] for m in sm) == 400 and
                    sum(m["timeouts"] for m in sm) == 0,
                    "two workers, UDP: all 400 answers timed, none timed out (%d, %d)"
                    % (sum(m["responses"] for m in sm), sum(m["timeouts"] for m in sm)))
        before = len(nginx.read_log(slog))
        out = subprocess.run(["ip", "netns", "exec", cli, "wrk", "-t1", "-c20", "-d2s",
                              "http://%s/inst2" % SERVER], capture_output=True, text=True,
                             timeout=60).stdout
        n = int(re.search(r"(\d+) requests in", out).group(1))
        time.sleep(1.0)
        shadow_reqs = len(nginx.read_log(slog)) - before
        tcp = kpisub.request(ctl_ep, {"cmd": "stats"})["tcp"]
        stlib.check("Socket errors" not in out and n > 300 and shadow_reqs >= n - 20 * 2
                    and tcp["shadow_resets"] == 0,
                    "two workers, TCP: the instances served the mirrored sessions (%d of %d "
                    "requests), no reset" % (shadow_reqs, n))
        sub.close()
        dp.send_signal(signal.SIGINT)
        dp.wait(timeout=30)
        res = stlib.parse_final(open(dp_err2).read())
        stlib.check(res.get("handed_over", 0) > 0 and res.get("handover_full") == 0,
                    "two workers: answers were handed over (%s), no ring full (%s)"
                    % (res.get("handed_over"), res.get("handover_full")))
        stlib.check(res["mbufs_in_use"] == (0, 0), "two workers: every mbuf back in its pool at exit")
    print("all checks passed")


main()
