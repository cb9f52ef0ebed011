"""shadowtap-loadgen end to end through a kernel: net_af_packet on one end of
a veth pair, a UDP server in a network namespace on the other. The replayed
requests are mapped onto the server's address and port (--map) and its MAC
(--dst-mac), cloned with --multiply and looped with --loop; the server's
kernel must accept every datagram (so every rewritten checksum is right)
and see each clone and pass as a client of its own. The recorded responses
never arrive. Then with MTU 9000 on the link, a capture of 8000-byte
requests: the load generator sizes its af_packet ring for them and every
datagram arrives whole.

usage: test_loadgen_veth.py LOADGEN_BINARY
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import stlib  # noqa: E402

try:
    from scapy.all import IP, UDP, Ether, Raw, wrpcap
except ImportError:
    stlib.skip("python3-scapy is not installed (scripts/setup.sh installs it)")

LG = sys.argv[1]
ORIG, SRV_ADDR, SRV_PORT = "198.18.1.53", "198.18.5.2", 5353

RECEIVER = r'''
import json, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind((sys.argv[1], int(sys.argv[2])))
open(sys.argv[3] + ".ready", "w").close()
s.settimeout(0.2)
got, first, deadline = [], None, time.time() + 60
while time.time() < deadline:
    try:
        data, (addr, port) = s.recvfrom(65535)
    except socket.timeout:
        if first is not None and time.time() - last > 2:
            break
        continue
    last = time.time()
    first = first or last
    got.append([addr, port, data.decode("latin-1")])
json.dump(got, open(sys.argv[3], "w"))
'''


def main():
    netns.require()
    tag = "lv%d" % (os.getpid() % 10000)
    wd = stlib.workdir("loadgen-veth")
    with netns.Topology(tag) as topo:
        ns = topo.ns("s")
        inside = topo.veth(ns, "lvi%s" % tag[2:], "lvo%s" % tag[2:], addr=SRV_ADDR + "/24")
        netns.sh("ip -n %s route add default dev %s" % (ns, inside))
        mac = topo.mac(ns, inside)
        rx = os.path.join(wd, "received.json")
        script = os.path.join(wd, "receiver.py")
        with open(script, "w") as f:
            f.write(RECEIVER)
        topo.spawn(ns, ["/usr/bin/python3", script, SRV_ADDR, str(SRV_PORT), rx])
        for _ in range(100):
            if os.path.exists(rx + ".ready"):
                break
            time.sleep(0.1)
        else:
            stlib.fail("the UDP server in the namespace did not start")

        pkts, want = [], []
        for i in range(10):
            c = "198.18.0.%d" % (i + 1)
            for k in range(3):
                q = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=c, dst=ORIG) / \
                    UDP(sport=30000 + i, dport=53) / Raw(b"req-%d-%d" % (i, k))
                pkts.append(q)
                want.append("req-%d-%d" % (i, k))
                pkts.append(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / IP(src=ORIG, dst=c) /
                            UDP(sport=53, dport=30000 + i) / Raw(b"resp-%d-%d" % (i, k)))
        pcap = os.path.join(wd, "in.pcap")
        wrpcap(pcap, pkts)
        mul, loops = 3, 2
        cmd = [LG] + stlib.eal_args("lgv%d" % os.getpid(), ["net_af_packet0,iface=lvo%s" % tag[2:]], mem=256) + \
            ["--", "--pcap", pcap, "--pps", "3000", "--multiply", str(mul), "--loop", str(loops),
             "--map", "%s:53=%s:%d" % (ORIG, SRV_ADDR, SRV_PORT), "--dst-mac", mac, "--json", "--no-progress",
             "--max-lag", "30s"]
        _, so, se = stlib.run(cmd, timeout=60)
        print(se)
        res = json.loads(so)
        n = len(want) * mul * loops
        stlib.check(res["sent_pkts"] == n, "loadgen sent %d requests (%d x %d clones x %d passes)" % (
            n, len(want), mul, loops))
        for _ in range(100):
            if os.path.exists(rx):
                break
            time.sleep(0.1)
        got = json.load(open(rx)) if os.path.exists(rx) else []
        stlib.check(len(got) == n, "the server's kernel accepted all %d datagrams: checksums valid (got %d)" % (
            n, len(got)))
        stlib.check(not any(p.startswith("resp") for _, _, p in got), "no recorded response was sent")
        clients = set(a for a, _, _ in got)
        stlib.check(len(clients) == 10 * mul * loops,
                    "%d distinct clients: 10 captured x %d clones x %d passes" % (len(clients), mul, loops))
        per_client = {}
        for a, port, p in got:
            per_client.setdefault(a, []).append(p)
        stlib.check(all(len(v) == 3 and v == sorted(v) for v in per_client.values()),
                    "each client's 3 requests arrive in order")

        # Jumbo frames: MTU 9000 on both ends, 8000-byte requests.
        netns.sh("ip link set lvo%s mtu 9000" % tag[2:])
        netns.sh("ip -n %s link set %s mtu 9000" % (ns, inside))
        rx2 = os.path.join(wd, "received_jumbo.json")
        topo.spawn(ns, ["/usr/bin/python3", script, SRV_ADDR, str(SRV_PORT + 1), rx2])
        for _ in range(100):
            if os.path.exists(rx2 + ".ready"):
                break
            time.sleep(0.1)
        big = []
        for i in range(20):
            body = (b"big-%02d-" % i) * 1000
            big.append(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                       IP(src="198.18.0.%d" % (i + 1), dst=ORIG) / UDP(sport=31000 + i, dport=53) /
                       Raw(body))
        pcap2 = os.path.join(wd, "jumbo.pcap")
        wrpcap(pcap2, big)
        cmd = [LG] + stlib.eal_args("lgj%d" % os.getpid(), ["net_af_packet0,iface=lvo%s" % tag[2:]],
                                    mem=256) + \
            ["--", "--pcap", pcap2, "--pps", "1000", "--map", "%s:53=%s:%d" % (ORIG, SRV_ADDR, SRV_PORT + 1),
             "--dst-mac", mac, "--json", "--no-progress", "--max-lag", "30s"]
        _, so, se = stlib.run(cmd, timeout=60)
        print(se)
        stlib.check(json.loads(so)["sent_pkts"] == 20, "loadgen sent the 20 jumbo requests")
        for _ in range(100):
            if os.path.exists(rx2):
                break
            time.sleep(0.1)
        got = json.load(open(rx2)) if os.path.exists(rx2) else []
        stlib.check(sorted(p for _, _, p in got) == sorted(bytes(q[Raw]).decode("latin-1") for q in big),
                    "the server received all 20 jumbo datagrams whole (%d)" % len(got))
    print("all checks passed")


main()
