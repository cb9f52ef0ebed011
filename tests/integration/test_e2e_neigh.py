"""How the dataplane finds its shadows' MACs, against a real Linux host on
an af_packet port: a group with an IPv6 instance and one with an IPv4
instance, whose addresses the shadow's namespace takes only after the
dataplane is up, the IPv6 one with duplicate address detection on (three
probes, 3 s: `nodad` everywhere else in the tests hides it). The
dataplane's solicitations must not look like duplicate address detection
(a solicitation from :: did: the host gave its address up as dadfailed and
the instance was never reached); both addresses are resolved. Then the
host's MAC changes, as a recreated instance's would, with nothing
announced: the dataplane asks again and learns the new MAC for both.

usage: test_e2e_neigh.py DATAPLANE_BINARY"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import stlib  # noqa: E402

DP = sys.argv[1]
INST4, INST6 = "198.18.1.10", "2001:db8:1::10"


def main():
    netns.require()
    tag = "n%d" % (os.getpid() % 100000)
    wd = stlib.workdir("e2e-neigh")
    with netns.Topology(tag) as t:
        cli, prod, shd = t.ns("c"), t.ns("p"), t.ns("s")
        t.veth(cli, "eth0", "%sc" % tag, addr="198.18.0.1/24")
        t.veth(prod, "eth0", "%sp" % tag, addr="198.18.0.53/24")
        t.veth(shd, "eth0", "%ss" % tag)
        ini = os.path.join(wd, "dp.ini")
        with open(ini, "w") as f:
            f.write("[dataplane]\n" + stlib.endpoint_lines(wd) + """mode = inline
client_port = net_af_packet0
prod_port = net_af_packet1

[shadow.six]
port = net_af_packet2
share = 1
instances = %s

[shadow.four]
port = net_af_packet2
share = 1
instances = %s
""" % (INST6, INST4))
        vdevs = ["net_af_packet0,iface=%sc" % tag, "net_af_packet1,iface=%sp" % tag,
                 "net_af_packet2,iface=%ss" % tag]
        dp_err = os.path.join(wd, "dataplane.err")
        dp = t.spawn(None, [DP] + stlib.eal_args("e2e-neigh-%s" % tag, vdevs) +
                     ["--", "--config", ini, "--duration", "60s"],
                     stdout=subprocess.DEVNULL, stderr=open(dp_err, "w"))
        time.sleep(2)
        if dp.poll() is not None:
            stlib.fail("dataplane exited: " + open(dp_err).read())
        # The instance's addresses arrive while the dataplane is asking for
        # them every second; the IPv6 one is tentative for 3 s.
        netns.sh("ip netns exec %s sysctl -qw net.ipv6.conf.eth0.dad_transmits=3" % shd)
        netns.sh("ip netns exec %s sysctl -qw net.ipv6.conf.eth0.accept_dad=1" % shd)
        netns.sh("ip -n %s addr add %s/64 dev eth0" % (shd, INST6))
        netns.sh("ip -n %s addr add %s/24 dev eth0" % (shd, INST4))
        deadline = time.time() + 10
        addr6 = ""
        while time.time() < deadline:
            addr6 = netns.sh("ip -n %s -6 addr show dev eth0" % shd)
            if INST6 in addr6 and "tentative" not in addr6:
                break
            time.sleep(0.2)
        stlib.check(INST6 in addr6 and "dadfailed" not in addr6 and "tentative" not in addr6,
                    "the IPv6 instance kept its address through duplicate address detection: %s"
                    % " ".join(l.strip() for l in addr6.splitlines() if INST6 in l))
        # resolved within two rounds of asking
        time.sleep(2.5)
        # A new MAC, announced to no one (arp_notify and ndisc_notify off).
        netns.sh("ip netns exec %s sysctl -qw net.ipv4.conf.eth0.arp_notify=0" % shd)
        netns.sh("ip netns exec %s sysctl -qw net.ipv6.conf.eth0.ndisc_notify=0" % shd)
        netns.sh("ip -n %s link set eth0 address 02:00:00:5e:00:99" % shd)
        # asked again within 5 s
        time.sleep(7)
        dp.send_signal(signal.SIGINT)
        dp.wait(timeout=30)
        res = stlib.parse_final(open(dp_err).read())
        stlib.check(res.get("neigh_learned", 0) >= 4,
                    "both instances resolved, then their new MAC learned: %s MACs learned (4 wanted)"
                    % res.get("neigh_learned"))
        stlib.check(res["mbufs_in_use"] == (0, 0), "every mbuf back in its pool at exit")
    print("all checks passed")


main()
