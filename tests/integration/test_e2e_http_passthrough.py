"""Production pass-through: wrk against nginx through the dataplane in
inline mode, with a shadow group mirroring UDP only. Every HTTP request must
succeed: zero wrk errors, every response 2xx.

usage: test_e2e_http_passthrough.py DATAPLANE_BINARY"""
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

DP = sys.argv[1]
CLIENT, SERVER = "198.18.0.1", "198.18.0.53"


def main():
    netns.require()
    nginx.require()
    if shutil.which("wrk") is None:
        stlib.skip("wrk is not installed (scripts/setup.sh installs it)")
    tag = "h%d" % (os.getpid() % 100000)
    wd = stlib.workdir("e2e-http")
    with netns.Topology(tag) as t:
        cli, prod, shd = t.ns("c"), t.ns("p"), t.ns("s")
        t.veth(cli, "eth0", "%sc" % tag, addr=CLIENT + "/24")
        t.veth(prod, "eth0", "%sp" % tag, addr=SERVER + "/24")
        t.veth(shd, "eth0", "%ss" % tag, addr=SERVER + "/24")
        conf, _ = nginx.write_conf(wd, "prod", SERVER + ":80", access_log=False)
        t.spawn(prod, nginx.argv(conf))
        ini = os.path.join(wd, "dp.ini")
        with open(ini, "w") as f:
            f.write("""[dataplane]
""" + stlib.endpoint_lines(wd) + """mode = inline
client_port = net_af_packet0
prod_port = net_af_packet1
servers = %s
stats = false

[shadow.udp]
port = net_af_packet2
share = 1
filter = udp
""" % SERVER)
        vdevs = ["net_af_packet0,iface=%sc" % tag, "net_af_packet1,iface=%sp" % tag,
                 "net_af_packet2,iface=%ss" % tag]
        dp_err = os.path.join(wd, "dataplane.err")
        dp = t.spawn(None, [DP] + stlib.eal_args("e2e-http-%s" % tag, vdevs) +
                     ["--", "--config", ini, "--duration", "120s"],
                     stdout=subprocess.DEVNULL, stderr=open(dp_err, "w"))
        time.sleep(2)
        if dp.poll() is not None:
            stlib.fail("dataplane exited: " + open(dp_err).read())
        out = subprocess.run(["ip", "netns", "exec", cli, "wrk", "-t1", "-c20", "-d5s",
                              "--timeout", "2s", "http://%s/" % SERVER],
                             capture_output=True, text=True, timeout=60).stdout
        print(out)
        m = re.search(r"(\d+) requests in", out)
        n = int(m.group(1)) if m else 0
        stlib.check(n > 1000, "wrk completed %d requests through the dataplane" % n)
        stlib.check("Socket errors" not in out, "zero wrk socket errors")
        stlib.check("Non-2xx" not in out, "every response 2xx")
        dp.send_signal(signal.SIGINT)
        dp.wait(timeout=30)
        res = stlib.parse_final(open(dp_err).read())
        stlib.check(res["shadows"]["udp"]["copies"] == 0, "no TCP packet was mirrored to the UDP-only group")
        stlib.check(res["shadows"]["udp"].get("filtered", 0) > n, "TCP packets counted as filtered")
        stlib.check(res["mbufs_in_use"] == (0, 0), "every mbuf back in its pool at exit")
    print("all checks passed")


main()
