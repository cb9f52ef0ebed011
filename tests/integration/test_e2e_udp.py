"""End to end on network namespaces: a real UDP client, a UDP server in
production and one in the shadow, the dataplane in inline mode between them
on af_packet ports. Production answers every request; the shadow sees
exactly the flows whose hash falls in its share (and so a share within the
binomial tolerance); no shadow answer ever reaches the client; with the
shadow's link down, or its server stopped, production still answers all.

usage: test_e2e_udp.py DATAPLANE_BINARY UDP_ECHO_BINARY"""
import json
import math
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import stlib  # noqa: E402
import sthash  # noqa: E402

DP = sys.argv[1]
UDP_ECHO = sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
CLIENT, SERVER, PORT = "198.18.0.1", "198.18.0.53", 7
FLOWS, SHARE = 2000, 0.5


def wait_file(path, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def client(t, ns, flows, reqs=1):
    out = subprocess.run(["ip", "netns", "exec", ns, PY, os.path.join(HERE, "udp_client.py"),
                          SERVER, str(PORT), str(flows), str(reqs), "200", "1000"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        stlib.fail("client failed: " + out.stderr)
    return json.loads(out.stdout)


def main():
    netns.require()
    tag = "u%d" % (os.getpid() % 100000)
    wd = stlib.workdir("e2e-udp")
    with netns.Topology(tag) as t:
        cli, prod, shd = t.ns("c"), t.ns("p"), t.ns("s")
        t.veth(cli, "eth0", "%sc" % tag, addr=CLIENT + "/24")
        t.veth(prod, "eth0", "%sp" % tag, addr=SERVER + "/24")
        t.veth(shd, "eth0", "%ss" % tag, addr=SERVER + "/24")
        servers = {}
        for name, ns in (("prod", prod), ("shadow", shd)):
            log = os.path.join(wd, name + ".log")
            servers[name] = (t.spawn(ns, [UDP_ECHO, SERVER,
                                          str(PORT), "0", log]), log)
            if not wait_file(log + ".ready"):
                stlib.fail(name + " server did not start")
        ini = os.path.join(wd, "dp.ini")
        with open(ini, "w") as f:
            f.write("""[dataplane]
""" + stlib.endpoint_lines(wd) + """mode = inline
client_port = net_af_packet0
prod_port = net_af_packet1
servers = %s
interval = 1s

[shadow.s]
port = net_af_packet2
share = %g
""" % (SERVER, SHARE))
        vdevs = ["net_af_packet0,iface=%sc" % tag, "net_af_packet1,iface=%sp" % tag,
                 "net_af_packet2,iface=%ss" % tag]
        dp_err = os.path.join(wd, "dataplane.err")
        dp = t.spawn(None, [DP] + stlib.eal_args("e2e-udp-%s" % tag, vdevs) +
                     ["--", "--config", ini, "--duration", "120s"],
                     stdout=subprocess.DEVNULL, stderr=open(dp_err, "w"))
        # Let the dataplane resolve the shadow's MAC before counting flows.
        time.sleep(3)
        if dp.poll() is not None:
            stlib.fail("dataplane exited: " + open(dp_err).read())

        r = client(t, cli, FLOWS)
        print("phase 1:", {k: v for k, v in r.items() if k != "sports"})
        stlib.check(r["answered"] == FLOWS, "production answered all %d requests (%d)" % (FLOWS, r["answered"]))
        stlib.check(r["extra"] == 0, "no shadow answer reached the client")

        p, log = servers["shadow"]
        p.terminate()
        p.wait(timeout=10)
        seen = set(int(line.split()[1]) for line in open(log) if line.strip())
        want = set(sp for sp in r["sports"]
                   if sthash.in_range(sthash.flow_hash(CLIENT, sp, SERVER, PORT, 17), 0, SHARE))
        sd = math.sqrt(FLOWS * SHARE * (1 - SHARE))
        stlib.check(abs(len(seen) - FLOWS * SHARE) < 4 * sd,
                    "shadow saw %d of %d flows: within 4 sd of %g" % (len(seen), FLOWS, FLOWS * SHARE))
        stlib.check(seen == want, "shadow saw exactly the flows the hash selects (%d, missing %d, extra %d)"
                    % (len(want), len(want - seen), len(seen - want)))

        # The shadow's server is gone (its kernel answers with ICMP, which
        # the dataplane absorbs): production is unaffected.
        r = client(t, cli, 1000)
        stlib.check(r["answered"] == 1000 and r["extra"] == 0,
                    "shadow server stopped: production answered %d of 1000, %d strays"
                    % (r["answered"], r["extra"]))

        netns.sh("ip -n %s link set eth0 down" % shd)
        r = client(t, cli, 1000)
        stlib.check(r["answered"] == 1000 and r["extra"] == 0,
                    "shadow link down: production answered %d of 1000, %d strays"
                    % (r["answered"], r["extra"]))

        dp.send_signal(signal.SIGINT)
        dp.wait(timeout=30)
        err = open(dp_err).read()
        print(err[-3000:])
        res = stlib.parse_final(err)
        stlib.check(dp.returncode == 0, "dataplane exited cleanly")
        stlib.check(res["ports"]["prod"]["tx_full"] == 0 and res["ports"]["client"]["tx_full"] == 0,
                    "no production packet refused by a TX queue")
        stlib.check(res["mbufs_in_use"] == (0, 0), "every mbuf back in its pool at exit")
        stlib.check(res.get("neigh_answers", 0) >= 1, "the dataplane answered the shadow's ARP")
    print("all checks passed")


main()
