"""shadowtap-loadgen on a net_pcap port, checked packet by packet.

Exact counts: only the client->server side of each flow goes out (servers
learned from SYNs, from --server, or the first sender), in capture order,
with the MACs and --map destinations rewritten and every checksum still
valid. --loop gives each pass flows of its own, --multiply N distinct
flows per captured one. Raw-IP, pcapng and nanosecond captures replay too;
packets cut by the snaplen are counted and skipped on request. Every kind
of bad input gives a message and exit status 1, never a crash. KPI
snapshots of the offered load are published. --select-clients replays only
the clients an analyzer's clients document names (one fingerprint's, by
client_key src/24), each flow --select-scale times (or the file's scale);
a file that names no client, or none in the capture, is refused.

usage: test_loadgen_pcap.py LOADGEN_BINARY
"""
import json
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stlib  # noqa: E402

try:
    from scapy.all import (ARP, IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw, rdpcap,
                           wrpcap)
except ImportError:
    stlib.skip("python3-scapy is not installed (scripts/setup.sh installs it)")

LG = sys.argv[1]
SRC_MAC, DST_MAC = "02:00:00:00:aa:01", "02:00:00:00:bb:02"
S4, S6 = "198.18.1.53", "2001:db8:1::53"
SHADOW4, SHADOW6 = "198.18.2.10", "2001:db8:2::10"
CMAC, SMAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
_n = [0]


def prefix():
    _n[0] += 1
    return "lgp%d-%d" % (os.getpid(), _n[0])


def run_lg(wd, pcap, args, out="out.pcap", timeout=60, check_rc=True, vdev=None):
    vdevs = [vdev or "net_pcap0,tx_pcap=%s" % os.path.join(wd, out)]
    # These cases check what is sent, not when: a loaded machine that
    # delays the TX lcore must not turn packets into too_late drops.
    cmd = [LG] + stlib.eal_args(prefix(), vdevs, mem=256) + ["--", "--pcap", pcap, "--json",
                                                             "--no-progress", "--max-lag", "30s"] + args
    rc, so, se = stlib.run(cmd, timeout=timeout, check_rc=check_rc)
    print(se)
    return rc, (json.loads(so) if rc == 0 else None), se


def read(path):
    return [bytes(p) for p in rdpcap(path)] if os.path.getsize(path) > 24 else []


def client_pkt(i, v6, proto, flags="PA", payload=b"", vlan=None):
    l2 = Ether(src=CMAC, dst=SMAC)
    if vlan:
        l2 = l2 / Dot1Q(vlan=vlan)
    src = "2001:db8::%x" % (i + 1) if v6 else "198.18.0.%d" % (i + 1)
    l3 = IPv6(src=src, dst=S6) if v6 else IP(src=src, dst=S4)
    l4 = TCP(sport=10000 + i, dport=80, flags=flags, seq=100) if proto == 6 else \
        UDP(sport=20000 + i, dport=53)
    return l2 / l3 / l4 / Raw(payload) if payload else l2 / l3 / l4


def server_pkt(i, v6, proto, flags="PA", payload=b""):
    l2 = Ether(src=SMAC, dst=CMAC)
    dst = "2001:db8::%x" % (i + 1) if v6 else "198.18.0.%d" % (i + 1)
    l3 = IPv6(src=S6, dst=dst) if v6 else IP(src=S4, dst=dst)
    l4 = TCP(sport=80, dport=10000 + i, flags=flags, seq=900) if proto == 6 else \
        UDP(sport=53, dport=20000 + i)
    return l2 / l3 / l4 / Raw(payload) if payload else l2 / l3 / l4


def make_capture():
    """Returns (frames, expected client->server frames, counts)."""
    frames, want = [], []
    n_resp = 0
    for i in range(12):
        v6 = i % 3 == 0
        if i % 2 == 0:  # TCP with its handshake, server answers
            seq = [(client_pkt(i, v6, 6, "S"), True), (server_pkt(i, v6, 6, "SA"), False),
                   (client_pkt(i, v6, 6, "A"), True),
                   (client_pkt(i, v6, 6, "PA", b"GET / HTTP/1.1\r\n\r\n"), True),
                   (server_pkt(i, v6, 6, "PA", b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * i), False)]
        else:  # UDP: the client speaks first
            seq = [(client_pkt(i, v6, 17, payload=b"query%d" % i), True),
                   (server_pkt(i, v6, 17, payload=b"answer%d" % i), False),
                   (client_pkt(i, v6, 17, payload=b"again%d" % i), True)]
        for p, c2s in seq:
            frames.append(bytes(p))
            if c2s:
                want.append(bytes(p))
            else:
                n_resp += 1
    # Interleave flows: round-robin keeps each flow's order.
    # (Built per flow above; shuffle deterministically by stride.)
    arp = [bytes(Ether(src=CMAC, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="198.18.0.1", pdst=S4))] * 2
    bad = bytes(Ether(src=CMAC, dst=SMAC) / IP(src="198.18.0.99", dst=S4) / UDP(sport=1, dport=53))
    bad = bad[:14] + bytes([0x44]) + bad[15:]  # IHL 4
    frames = arp[:1] + frames[:20] + [bad] + frames[20:] + arp[1:]
    return frames, want, {"response": n_resp, "non_ip": 2, "malformed": 1}


def rewritten(raw, smac=SRC_MAC, dmac=DST_MAC, dst_map=None):
    """What the loadgen should send for a captured frame: new MACs, mapped
    destination, checksums as scapy computes them from scratch."""
    p = Ether(raw)
    p.src, p.dst = smac, dmac
    l3 = p.getlayer(IPv6) or p.getlayer(IP)
    if dst_map and l3.dst in dst_map:
        l3.dst = dst_map[l3.dst]
    if p.haslayer(IP):
        del p[IP].chksum
    for layer in (TCP, UDP):
        if p.haslayer(layer):
            del p[layer].chksum
    return bytes(p)


def csum_ok(raw):
    """Checksums as scapy would recompute them."""
    p = Ether(raw)
    q = Ether(raw)
    if q.haslayer(IP):
        del q[IP].chksum
    for layer in (TCP, UDP):
        if q.haslayer(layer):
            del q[layer].chksum
    return bytes(Ether(bytes(q))) == bytes(p)


def sig(raw):
    """What a rewrite must not change: TCP flags and the payload."""
    p = Ether(raw)
    return (int(p[TCP].flags) if p.haslayer(TCP) else None, bytes(p[Raw].load) if p.haslayer(Raw) else b"")


def five_tuple(raw):
    p = Ether(raw)
    l3 = p.getlayer(IPv6) or p.getlayer(IP)
    l4 = p.getlayer(TCP) or p.getlayer(UDP)
    return (l3.src, l4.sport, l3.dst, l4.dport, l4.__class__.__name__)


def case_exact(wd):
    frames, want, counts = make_capture()
    pcap = os.path.join(wd, "in.pcap")
    wrpcap(pcap, [Ether(f) for f in frames])
    _, res, _ = run_lg(wd, pcap, ["--pps", "20000", "--src-mac", SRC_MAC, "--dst-mac", DST_MAC,
                                  "--map", "%s=%s" % (S4, SHADOW4), "--map", "%s=%s" % (S6, SHADOW6)])
    got = read(os.path.join(wd, "out.pcap"))
    exp = [rewritten(f, dst_map={S4: SHADOW4, S6: SHADOW6}) for f in want]
    stlib.check(len(got) == len(want), "exact: %d client->server packets sent (got %d)" % (len(want), len(got)))
    stlib.check(got == exp, "exact: each is the captured request with new MACs, the shadow "
                "destination and valid checksums, in capture order")
    sk = res["capture"]["skipped"]
    stlib.check(sk["response"] == counts["response"] and sk["non_ip"] == counts["non_ip"] and
                sk["malformed"] == counts["malformed"],
                "exact: %d responses, %d non-IP, %d malformed left out and counted (%s)" % (
                    counts["response"], counts["non_ip"], counts["malformed"], sk))
    stlib.check(res["sent_pkts"] == len(want) and res["target_pkts"] == len(want) and
                sum(res["drops"].values()) == 0, "exact: JSON counts agree (%d sent)" % res["sent_pkts"])
    stlib.check(res["copies_in_use"] == 0, "exact: every copy mbuf back in its pool")

    # --server: only flows to the listed endpoint, both families' others left out.
    _, res, _ = run_lg(wd, pcap, ["--pps", "20000", "--server", "%s:80" % S4], out="srv.pcap")
    got = read(os.path.join(wd, "srv.pcap"))
    want_srv = [f for f in want if Ether(f).haslayer(IP) and Ether(f).haslayer(TCP)]
    stlib.check([g[12:] for g in got] == [w[12:] for w in want_srv],
                "--server %s:80: exactly its %d TCP requests (got %d)" % (S4, len(want_srv), len(got)))
    stlib.check(res["capture"]["skipped"]["not_to_server"] > 0, "--server: other flows counted as not_to_server")


def case_map_families(wd):
    """A '*' map naming targets of both families: every packet goes to a
    target of its own family, each flow to one of them (before, a flow that
    hashed to the other family's target kept its captured destination:
    production's). A family the map has no target for keeps its
    destination, with a warning. A --server list longer than 1 KiB is read
    whole (it was cut at 1,023 bytes, dropping its last servers), one past
    what the option takes is refused."""
    frames, want, _ = make_capture()
    pcap = os.path.join(wd, "in.pcap")
    wrpcap(pcap, [Ether(f) for f in frames])
    t4 = ["198.18.2.10", "198.18.2.11"]
    _, res, _ = run_lg(wd, pcap, ["--pps", "20000", "--map", "*=%s,%s,%s" % (t4[0], SHADOW6, t4[1])])
    got = read(os.path.join(wd, "out.pcap"))
    dst = {}
    for g in got:
        ft = five_tuple(g)
        dst.setdefault((ft[0], ft[1]), set()).add(ft[2])
    v4 = {k: v for k, v in dst.items() if ":" not in k[0]}
    v6 = {k: v for k, v in dst.items() if ":" in k[0]}
    stlib.check(len(got) == len(want) and len(v4) == 8 and len(v6) == 4,
                "map families: all %d requests of 8 IPv4 and 4 IPv6 flows sent (%d; %d, %d)"
                % (len(want), len(got), len(v4), len(v6)))
    stlib.check(all(len(v) == 1 and v <= set(t4) for v in v4.values()) and
                set().union(*v4.values()) == set(t4),
                "map families: each IPv4 flow to one IPv4 target, both used (%s)" % sorted(v4.values()))
    stlib.check(all(v == {SHADOW6} for v in v6.values()),
                "map families: every IPv6 flow to %s (%s)" % (SHADOW6, sorted(v6.values())))
    stlib.check(all(csum_ok(g) for g in got), "map families: checksums valid")
    _, res, err = run_lg(wd, pcap, ["--pps", "20000", "--map", "*=%s" % t4[0]], out="v4only.pcap")
    got = read(os.path.join(wd, "v4only.pcap"))
    n6 = sum(1 for w in want if Ether(w).haslayer(IPv6))
    stlib.check(sorted(set(five_tuple(g)[2] for g in got)) == sorted([t4[0], S6]),
                "map families: with IPv4 targets only, IPv6 packets keep %s" % S6)
    stlib.check("no IPv6 target: the capture's %d IPv6 packets to servers keep their captured "
                "destination" % n6 in err, "map families: and a warning says so")
    # --server: 63 others, then the capture's server last (1,281 bytes)
    others = ["[2001:db8:9::%x]:80" % i for i in range(63)]
    _, res, _ = run_lg(wd, pcap, ["--pps", "20000", "--server", ",".join(others + ["%s:80" % S4])],
                       out="many.pcap")
    got = read(os.path.join(wd, "many.pcap"))
    want_srv = [f for f in want if Ether(f).haslayer(IP) and Ether(f).haslayer(TCP)]
    stlib.check(len(",".join(others)) > 1024 and [g[12:] for g in got] == [w[12:] for w in want_srv],
                "--server with a %d-byte list: its last server's %d TCP requests sent (got %d)"
                % (len(",".join(others + ["%s:80" % S4])), len(want_srv), len(got)))
    long_list = ",".join(["[2001:db8:9:ffff:ffff:ffff:ffff:%x]:65535" % i for i in range(64)] * 2)
    rc, _, err = run_lg(wd, pcap, ["--pps", "20000", "--server", long_list], out="long.pcap",
                        check_rc=False)
    stlib.check(rc != 0 and "longer than" in err, "--server with a %d-byte list: refused, said (rc %d)"
                % (len(long_list), rc))


def case_loop(wd):
    frames, want, _ = make_capture()
    pcap = os.path.join(wd, "in.pcap")
    wrpcap(pcap, [Ether(f) for f in frames])
    _, res, _ = run_lg(wd, pcap, ["--pps", "50000", "--loop", "3", "--src-mac", "keep"], out="loop.pcap")
    got = read(os.path.join(wd, "loop.pcap"))
    n = len(want)
    stlib.check(len(got) == 3 * n and res["loops"] == 3, "--loop 3: %d packets (got %d)" % (3 * n, len(got)))
    stlib.check(got[:n] == want, "--loop: the first pass is the capture as it is")
    flows = [set(five_tuple(g) for g in got[k * n:(k + 1) * n]) for k in range(3)]
    n_flows = len(flows[0])
    stlib.check(all(len(f) == n_flows for f in flows) and len(flows[0] | flows[1] | flows[2]) == 3 * n_flows,
                "--loop: every pass has %d flows of its own (%d distinct in all)" % (
                    n_flows, len(flows[0] | flows[1] | flows[2])))
    stlib.check(all(csum_ok(g) for g in got), "--loop: every checksum valid after the rewrite")
    same = all(five_tuple(g)[1:] == five_tuple(w)[1:] and sig(g) == sig(w) for g, w in zip(got[n:], want * 2))
    stlib.check(set(five_tuple(g)[2] for g in got) == {S4, S6} and same,
                "--loop: servers, ports and payloads unchanged, only clients rewritten")


def case_multiply(wd):
    frames, want, _ = make_capture()
    pcap = os.path.join(wd, "in.pcap")
    wrpcap(pcap, [Ether(f) for f in frames])
    N = 5
    _, res, _ = run_lg(wd, pcap, ["--pps", "50000", "--multiply", str(N)], out="mul.pcap")
    got = read(os.path.join(wd, "mul.pcap"))
    stlib.check(len(got) == N * len(want), "--multiply %d: %d packets (got %d)" % (N, N * len(want), len(got)))
    orig = set(five_tuple(w) for w in want)
    by_flow = {}
    for g in got:
        by_flow.setdefault(five_tuple(g), []).append(g)
    stlib.check(len(by_flow) == N * len(orig), "--multiply: %d distinct flows from %d (got %d)" % (
        N * len(orig), len(orig), len(by_flow)))
    clients = {}
    for ft in by_flow:
        clients.setdefault((ft[1], ft[2], ft[3], ft[4]), set()).add(ft[0])
    stlib.check(all(len(c) == N for c in clients.values()), "--multiply: each flow from %d distinct client addresses" % N)
    stlib.check(all(csum_ok(g) for g in got), "--multiply: every checksum valid")
    # Per-flow order: each clone's packets in the captured order of its flow.
    want_by = {}
    for w in want:
        want_by.setdefault(five_tuple(w)[1:], []).append(sig(w))
    ok = all([sig(p) for p in pkts] == want_by[ft[1:]] for ft, pkts in by_flow.items())
    stlib.check(ok, "--multiply: each clone keeps its flow's packet order")
    # Clients spread over the address space (100.0.0.1 .. 170.0.0.1): the
    # one block beside the capture's (228.0.0.1 on, no server in it) runs
    # into 224/3, so clones would be the capture again, side by side;
    # refused, with or without --loop.
    wide = [Ether(src=CMAC, dst=SMAC) / IP(src=a, dst=S4) / UDP(sport=2000, dport=53) / Raw(b"q")
            for a in ("100.0.0.1", "170.0.0.1")]
    wpcap = os.path.join(wd, "wide.pcap")
    wrpcap(wpcap, wide)
    for extra in ([], ["--loop", "1"]):
        rc, _, se = run_lg(wd, wpcap, ["--pps", "1000", "--duration", "1s", "--multiply", "2"] + extra,
                           out="wide_out.pcap", check_rc=False)
        stlib.check(rc != 0 and "distinct client address blocks" in se and "only 1 fit" in se,
                    "--multiply 2 %s on clients 100.0.0.1..170.0.0.1: refused (exit %d)" % (extra, rc))


def case_select(wd):
    # five clients in three /24s, one UDP flow each: three requests, one answer
    hosts = {"198.18.10.1": 0, "198.18.10.2": 1, "198.18.11.1": 2, "198.18.11.2": 3, "198.18.12.1": 4}
    frames, want = [], {}
    for rnd in range(3):
        for h, i in hosts.items():
            q = Ether(src=CMAC, dst=SMAC) / IP(src=h, dst=S4) / UDP(sport=30000 + i, dport=53) / Raw(b"q%d" % rnd)
            frames.append(q)
            want.setdefault(h, []).append(bytes(q))
            if rnd == 0:
                frames.append(Ether(src=SMAC, dst=CMAC) / IP(src=S4, dst=h) / UDP(sport=53, dport=30000 + i) / Raw(b"a"))
    pcap = os.path.join(wd, "sel.pcap")
    wrpcap(pcap, frames)
    # the analyzer's GET /api/v1/services/web/clients, as it writes it
    doc = {"service": "web", "client_key": "src/24", "t": 1, "window_ns": 10 ** 9, "windows": 5,
           "total_rps": 9.0, "other_share": 0, "clients": [
               {"k": "198.18.10.0/24", "fingerprint": "fp1", "requests": 6, "history_rps": [1.0, 2.0]},
               {"k": "198.18.11.0/24", "fingerprint": "fp2", "requests": 6, "history_rps": [1.0, 2.0]},
               {"k": "198.18.12.0/24", "fingerprint": "fp1", "requests": 3, "history_rps": [0.5, 1.0]},
               {"k": "198.18.99.0/24", "fingerprint": "fp1", "requests": 1, "history_rps": [0.1, 0.2]}]}
    path = os.path.join(wd, "clients.json")
    with open(path, "w") as f:
        json.dump(doc, f)

    def replay(args, out):
        _, res, se = run_lg(wd, pcap, ["--pps", "50000", "--src-mac", "keep"] + args, out=out)
        got = read(os.path.join(wd, out))
        by_flow = {}
        for g in got:
            by_flow.setdefault(five_tuple(g), []).append(sig(g))
        return res, se, got, by_flow

    def orig(hs):
        return {five_tuple(want[h][0])[1:]: [sig(w) for w in want[h]] for h in hs}

    res, se, got, by_flow = replay(["--select-clients", path, "--select-fingerprint", "fp1",
                                    "--select-scale", "2"], "sel1.pcap")
    sel = orig(["198.18.10.1", "198.18.10.2", "198.18.12.1"])
    stlib.check(len(got) == 2 * 9 and res["sent_pkts"] == 18,
                "--select-clients fp1 x2: 18 packets, the 9 requests of its 3 clients twice (got %d)" % len(got))
    stlib.check(len(by_flow) == 6 and all(ft[1:] in sel and pk == sel[ft[1:]] for ft, pk in by_flow.items()),
                "--select-clients: 2 flows of its own per selected flow, each the captured requests in order")
    stlib.check(sorted(set(ft[1:] for ft in by_flow)) == sorted(sel),
                "--select-clients: no packet of fp2's 198.18.11.0/24")
    sk = res["capture"]["skipped"]
    stlib.check(sk["not_selected"] == 6 and sk["response"] == 5,
                "--select-clients: the other clients' 6 requests counted not_selected (%s)" % sk)
    stlib.check("3 clients (client_key src/24, fingerprint fp1), 2 of them in the capture with 3 flows" in se,
                "--select-clients: what it selected is logged")
    hand = os.path.join(wd, "hand.json")
    with open(hand, "w") as f:
        json.dump({"client_key": "src/24", "clients": ["198.18.11.0/24"], "scale": 3}, f)
    res, _, got, by_flow = replay(["--select-clients", hand], "sel2.pcap")
    sel = orig(["198.18.11.1", "198.18.11.2"])
    stlib.check(len(got) == 3 * 6 and len(by_flow) == 6 and
                all(ft[1:] in sel and pk == sel[ft[1:]] for ft, pk in by_flow.items()),
                "a hand-written file, scale 3: 198.18.11.0/24's 6 requests three times, 6 flows (got %d)" % len(got))


def write_pcapng(path, linktype, pkts):
    """A minimal pcapng (scapy's writer has no link type choice): section
    header, one interface (microsecond timestamps), enhanced packet blocks."""
    def block(t, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", t, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
    with open(path, "wb") as f:
        f.write(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        f.write(block(1, struct.pack("<HHI", linktype, 0, 65535)))
        for ts, data in pkts:
            us = int(round(ts * 1e6))
            f.write(block(6, struct.pack("<IIIII", 0, us >> 32, us & 0xffffffff, len(data), len(data)) + data))


def case_linktypes(wd):
    """Raw IP in pcapng, and a nanosecond pcap paced by its own gaps."""
    ips = [IP(src="198.18.0.%d" % (i + 1), dst=S4) / UDP(sport=3000 + i, dport=53) / Raw(b"r%d" % i)
           for i in range(20)]
    for i, p in enumerate(ips):
        p.time = 1000 + i * 0.005
    raw = os.path.join(wd, "raw.pcapng")
    write_pcapng(raw, 101, [(p.time, bytes(p)) for p in ips])
    _, res, _ = run_lg(wd, raw, ["--dst-mac", DST_MAC, "--src-mac", SRC_MAC], out="raw_out.pcap")
    got = list(rdpcap(os.path.join(wd, "raw_out.pcap")))
    stlib.check(len(got) == 20 and all(bytes(g[IP]) == bytes(p) for g, p in zip(got, ips)),
                "raw-IP pcapng: the 20 IP packets go out unchanged")
    stlib.check(all(g.src == SRC_MAC and g.dst == DST_MAC and g.type == 0x0800 for g in got),
                "raw-IP pcapng: behind an Ethernet header with the given MACs")
    # The schedule, not the clock (test_loadgen_rate measures pacing,
    # alone): one pass of 20 packets 5 ms apart lasts 100 ms (the last gap
    # is the mean one), 20 ms at --speed 5.
    stlib.check(abs(res["planned_s"] - 0.1) < 1e-6, "raw-IP: the capture's own gaps make a 100 ms schedule")
    _, res, _ = run_lg(wd, raw, ["--speed", "5"], out="fast.pcap")
    stlib.check(abs(res["planned_s"] - 0.02) < 1e-6 and res["sent_pkts"] == 20,
                "--speed 5: the same 20 packets on a 20 ms schedule")

    eth = [Ether(src=CMAC, dst=SMAC) / p for p in ips]
    for i, p in enumerate(eth):
        p.time = 1000 + i * 0.0021
    nano = os.path.join(wd, "nano.pcap")
    wrpcap(nano, eth, nano=True)
    _, res, _ = run_lg(wd, nano, ["--src-mac", "keep"], out="nano_out.pcap")
    got = read(os.path.join(wd, "nano_out.pcap"))
    stlib.check(got == [bytes(p) for p in eth], "nanosecond pcap: replayed exactly")


def case_two_lcores(wd):
    """Two TX lcores, a net_pcap TX queue each: every flow goes whole
    through one of them, in order, and together they send everything."""
    frames, want, _ = make_capture()
    pcap = os.path.join(wd, "in.pcap")
    wrpcap(pcap, [Ether(f) for f in frames])
    j = lambda n: os.path.join(wd, n)  # noqa: E731
    cmd = [LG] + stlib.eal_args(prefix(), ["net_pcap0,tx_pcap=%s,tx_pcap=%s" % (j("q0.pcap"), j("q1.pcap"))],
                                lcores="0@0,1@1,2@0", mem=256) + \
        ["--", "--pcap", pcap, "--json", "--no-progress", "--max-lag", "30s", "--pps", "20000",
         "--loop", "2", "--src-mac", "keep"]
    _, so, se = stlib.run(cmd, timeout=60)
    res = json.loads(so)
    q0, q1 = read(j("q0.pcap")), read(j("q1.pcap"))
    stlib.check(res["lcores"] == 2 and q0 and q1, "two TX lcores both sent (%d and %d)" % (len(q0), len(q1)))
    stlib.check(sorted(q0[:len(q0) // 2] + q1[:len(q1) // 2]) == sorted(want),
                "two lcores: the first pass of both queues is the capture's %d requests" % len(want))
    f0, f1 = set(five_tuple(g)[1:] for g in q0), set(five_tuple(g)[1:] for g in q1)
    stlib.check(not f0 & f1, "two lcores: each flow on one lcore only")
    # Ports tell the captured flows apart; each flow's packets come out as
    # its captured sequence, once per pass.
    order = {}
    for w in want:
        order.setdefault(five_tuple(w)[1:], []).append(sig(w))
    ok = True
    for q in (q0, q1):
        seen = {}
        for g in q:
            seen.setdefault(five_tuple(g)[1:], []).append(sig(g))
        ok &= all(v == order[k] * 2 for k, v in seen.items())
    stlib.check(ok, "two lcores: per-flow order kept in both passes")


def case_multiplier(wd):
    """A multiplier profile plays the capture's own rate (40 packets 5 ms
    apart: 200 pps) times 1 rising to 4 over 2 s, looping the capture."""
    pk = [Ether(src=CMAC, dst=SMAC) / IP(src="198.18.0.%d" % (i + 1), dst=S4) / UDP(sport=2000 + i, dport=53)
          for i in range(40)]
    for i, p in enumerate(pk):
        p.time = 1000 + i * 0.005
    pcap = os.path.join(wd, "gaps.pcap")
    wrpcap(pcap, pk)
    prof = os.path.join(wd, "mult.csv")
    with open(prof, "w") as f:
        f.write("t_seconds,multiplier\n0,1\n2,4\n")
    _, res, _ = run_lg(wd, pcap, ["--profile", prof], vdev="net_null0")
    # 200 pps x the integral of 1 + 1.5 t over [0, 2] = 1000 packets.
    stlib.check(res["target_pkts"] == 1000 and res["sent_pkts"] == 1000 and res["loops"] == 25,
                "multiplier profile: 1000 packets due and sent, 25 passes over the capture")
    want = [20 + 3 * (i + 0.5) for i in range(20)]
    got = res["series"]["target"]
    stlib.check(len(got) == 20 and all(abs(g - w) <= 1 for g, w in zip(got, want)),
                "multiplier profile: the schedule ramps from 200 to 800 pps (%s)" % got)


def case_memif(wd):
    """net_memif, the transport of the dataplane's inject port: a second
    loadgen is the server end and counts what arrives."""
    import subprocess
    frames, want, _ = make_capture()
    pcap = os.path.join(wd, "in.pcap")
    wrpcap(pcap, [Ether(f) for f in frames])
    sock = os.path.join(wd, "memif.sock")
    srv_cmd = [LG] + stlib.eal_args(prefix(), ["net_memif0,role=server,socket=%s" % sock], mem=256) + \
        ["--", "--pcap", pcap, "--json", "--no-progress", "--pps", "10", "--duration", "4s"]
    srv = subprocess.Popen(srv_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # DPDK's memif listens on an abstract socket: no file, but a line
        # in /proc/net/unix once the server end is up.
        for _ in range(100):
            if sock in open("/proc/net/unix").read():
                break
            time.sleep(0.1)
        else:
            stlib.fail("the memif server end did not start listening")
        _, res, _ = run_lg(wd, pcap, ["--pps", "20000", "--duration", "1s"],
                           vdev="net_memif0,role=client,socket=%s" % sock)
        so, se = srv.communicate(timeout=60)
    finally:
        if srv.poll() is None:
            srv.kill()
    print(se)
    got = json.loads(so)
    stlib.check(res["sent_pkts"] == 20000 and sum(res["drops"].values()) == 0,
                "memif: the client sent 20000 packets, none dropped")
    stlib.check(got["rx_pkts"] == res["sent_pkts"], "memif: the server end received all %d (got %d)" % (
        res["sent_pkts"], got["rx_pkts"]))


def write_cut_pcap(path, frames, snaplen):
    """A pcap whose records are cut at snaplen (caplen < len)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, snaplen, 1))
        for i, fr in enumerate(frames):
            cap = fr[:snaplen]
            f.write(struct.pack("<IIII", 1000 + i, 0, len(cap), len(fr)))
            f.write(cap)


def case_snaplen(wd):
    frames = [bytes(Ether(src=CMAC, dst=SMAC) / IP(src="198.18.0.%d" % (i + 1), dst=S4) /
                    UDP(sport=4000 + i, dport=53) / Raw(b"z" * (10 if i % 2 else 200))) for i in range(10)]
    path = os.path.join(wd, "cut.pcap")
    write_cut_pcap(path, frames, 96)
    _, res, _ = run_lg(wd, path, ["--pps", "10000", "--src-mac", "keep"], out="cut_out.pcap")
    got = read(os.path.join(wd, "cut_out.pcap"))
    stlib.check(res["capture"]["cut_by_snaplen"] == 5 and len(got) == 10 and
                got == [f[:96] for f in frames], "snaplen: 5 cut packets counted and sent as captured")
    _, res, _ = run_lg(wd, path, ["--pps", "10000", "--src-mac", "keep", "--skip-truncated"], out="cut_skip.pcap")
    got = read(os.path.join(wd, "cut_skip.pcap"))
    stlib.check(res["capture"]["cut_skipped"] == 5 and got == [f for f in frames if len(f) <= 96],
                "--skip-truncated: the 5 cut packets left out, the others sent")


def case_map_fragments(wd):
    """--map with a port sends a fragmented datagram whole: its later
    fragments carry no port, and go where its first one goes."""
    from scapy.all import fragment
    big = IP(src="198.18.0.7", dst=S4, id=4242) / UDP(sport=20007, dport=53) / Raw(b"z" * 3000)
    frags = [Ether(src=CMAC, dst=SMAC) / f for f in fragment(big, fragsize=1000)]
    other = client_pkt(8, False, 17, payload=b"q")
    other[UDP].dport = 54
    raw = os.path.join(wd, "frag_map.pcap")
    wrpcap(raw, frags + [other])
    _, res, _ = run_lg(wd, raw, ["--topspeed", "--server", S4,
                                 "--map", "%s:53=%s" % (S4, SHADOW4)], out="frag_map_out.pcap")
    out = [Ether(b) for b in read(os.path.join(wd, "frag_map_out.pcap"))]
    dsts = [(p[IP].dst, p[IP].frag) for p in out if IP in p and p[IP].id == 4242]
    rest = [p[IP].dst for p in out if IP in p and p[IP].id != 4242]
    stlib.check(len(frags) >= 3 and len(dsts) == len(frags) and
                all(d == SHADOW4 for d, _ in dsts) and rest == [S4],
                "--map %s:53: all %d fragments of the datagram to %s (%s), the :54 packet stays (%s)"
                % (S4, len(frags), SHADOW4, dsts, rest))


def case_fragmented_answers(wd):
    """A DNS-like exchange whose answers are fragmented and whose questions
    are not: the answers' fragments (a port-less flow of their own) are
    answers, with or without --server; with --server ADDR:PORT a
    fragmented question is sent whole (its later fragments carry no port:
    its first one's decides)."""
    from scapy.all import fragment
    frames = []
    for i in range(3):
        frames.append(client_pkt(i, False, 17, payload=b"q%d" % i))
        big = IP(src=S4, dst="198.18.0.%d" % (i + 1), id=5000 + i) / \
            UDP(sport=53, dport=20000 + i) / Raw(b"a" * 2500)
        frames += [Ether(src=SMAC, dst=CMAC) / f for f in fragment(big, fragsize=1000)]
    bigq = IP(src="198.18.0.9", dst=S4, id=6000) / UDP(sport=20008, dport=53) / Raw(b"Q" * 2500)
    qfrags = [Ether(src=CMAC, dst=SMAC) / f for f in fragment(bigq, fragsize=1000)]
    raw = os.path.join(wd, "frag_answers.pcap")
    wrpcap(raw, frames + qfrags)
    for args, name in (([], "no --server"), (["--server", "%s:53" % S4], "--server %s:53" % S4)):
        _, res, _ = run_lg(wd, raw, ["--topspeed"] + args, out="frag_answers_out.pcap")
        out = [Ether(b) for b in read(os.path.join(wd, "frag_answers_out.pcap"))]
        srcs = [p[IP].src for p in out if IP in p]
        qids = [p[IP].id for p in out if IP in p and p[IP].id == 6000]
        stlib.check(S4 not in srcs and len(srcs) == 3 + len(qfrags) and len(qids) == len(qfrags),
                    "%s: the 3 questions and the %d fragments of the fragmented one sent, none of "
                    "the answers' %d fragments (sent from %s; %s)"
                    % (name, len(qfrags), len(frames) - 3, srcs, res["capture"]["skipped"] if res else None))


def case_jumbo_pools(wd):
    """The templates' memory follows the frames sent: 40,000 requests of 64
    bytes beside one answer of 9,000 (not sent) and two requests of 9,000
    fit the EAL's 256 MiB (before, every template was as long as the
    longest frame captured: 40,003 x 9 KiB), and the long requests go out
    whole."""
    small = bytes(client_pkt(0, False, 17, payload=b"q" * 18))
    jumbo_q = bytes(client_pkt(1, False, 17, payload=b"Q" * 8958))
    jumbo_a = bytes(server_pkt(0, False, 17, payload=b"A" * 8958))
    frames = [small, jumbo_a, jumbo_q] + [small] * 39999 + [jumbo_q]
    path = os.path.join(wd, "jumbo.pcap")
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1000, i, len(fr), len(fr)))
            f.write(fr)
    rc, res, se = run_lg(wd, path, ["--topspeed"], out="jumbo_out.pcap", check_rc=False)
    got = read(os.path.join(wd, "jumbo_out.pcap")) if rc == 0 else []
    stlib.check(rc == 0 and len(got) == 40002 and [len(g) for g in got if len(g) > 100] == [len(jumbo_q)] * 2,
                "40,000 small requests and 2 of 9,000 bytes sent (%d frames, exit %d)%s"
                % (len(got), rc, "" if rc == 0 else ": " + se.strip()[-300:]))


def case_bad_input(wd):
    good = os.path.join(wd, "good.pcap")
    wrpcap(good, [client_pkt(0, False, 17, payload=b"q")])
    data = open(good, "rb").read()
    j = lambda n: os.path.join(wd, n)  # noqa: E731

    def put(name, content):
        with open(j(name), "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
        return j(name)

    hdr = data[:24]
    rec = data[24:]
    cases = [
        ("missing", [j("nope.pcap")], "No such file"),
        ("empty file", [put("zero.pcap", b"")], "empty file"),
        ("no packets", [put("hdr.pcap", hdr)], "no packet to send (0 records"),
        ("truncated record", [put("trunc.pcap", hdr + rec[:len(rec) - 5])], "packet 1: truncated"),
        ("truncated header", [put("trunc2.pcap", data + rec[:7])], "packet 2: truncated"),
        ("corrupt record", [put("corrupt.pcap", hdr + struct.pack("<IIII", 1, 0, 0x7fffffff, 60) + b"x" * 60)],
         "packet 1: invalid packet capture length"),
        ("not a capture", [put("junk.pcap", b"this is not a capture at all" * 4)], "not a pcap or pcapng"),
        ("unsupported link type", [put("wifi.pcap", struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 105) +
                                       struct.pack("<IIII", 1, 0, 10, 10) + b"x" * 10)], "link type 105"),
        ("directory", [wd], "is a directory"),
        ("only responses", [put("resp.pcap", b"")] and None, None),
        ("profile: bad header", ["--profile", put("p1.csv", "time,rate\n0,1\n")], "p1.csv:1: header must be"),
        ("profile: not a number", ["--profile", put("p2.csv", "t_seconds,pps\n0,10\n# comment\n5,ten\n")],
         "p2.csv:4: pps 'ten'"),
        ("profile: time goes back", ["--profile", put("p3.csv", "t_seconds,pps\n0,1\n5,2\n4,3\n")],
         "p3.csv:4: t_seconds 4 is before"),
        ("profile: three points at one time", ["--profile", put("p4.csv", "t_seconds,pps\n0,1\n2,1\n2,5\n2,7\n")],
         "p4.csv:5: a third point"),
        ("profile: first point not at 0", ["--profile", put("p5.csv", "t_seconds,multiplier\n1,1\n2,1\n")],
         "p5.csv:2: the first point must be at t_seconds 0"),
        ("profile: negative rate", ["--profile", put("p6.csv", "t_seconds,pps\n0,-5\n")], "p6.csv:2: pps"),
        ("profile: no points", ["--profile", put("p7.csv", "t_seconds,pps\n\n")], "no points after the header"),
        ("profile: three fields", ["--profile", put("p8.csv", "t_seconds,pps\n0,1,2\n")], "p8.csv:2: expected two fields"),
        ("profile: missing", ["--profile", j("nope.csv")], "No such file"),
        ("two timing modes", ["--pps", "10", "--topspeed"], "give one of"),
        ("bad rate", ["--pps", "fast"], "--pps"),
        ("bad multiply", ["--multiply", "0"], "--multiply"),
        ("poisson without rate", ["--poisson", "--topspeed"], "--poisson"),
        ("unknown option", ["--frobnicate"], "unknown option"),
    ]
    # A record stamped 70 years after the one before (a damaged timestamp):
    # refused naming it by its record number in the file (the frame left
    # out at load, longer than 9,216 bytes, counts: it was named packet 3),
    # instead of a replay that waits 70 years.
    far = [client_pkt(i, False, 17, payload=b"q") for i in range(3)]
    big = client_pkt(9, False, 17, payload=b"j" * 9300)
    far[0].time, big.time, far[1].time, far[2].time = 1000.0, 1000.2, 1000.5, 1000.5 + 70 * 365 * 86400
    far_pcap = put("far.pcap", b"")
    wrpcap(far_pcap, [far[0], big, far[1], far[2]])
    cases.append(("a gap of 70 years", [far_pcap], "packet 4 is 25550.0 days after the latest one sent before"))
    # The first record stamped 70 years ahead, the others now: refused too
    # (every packet after it fell on its time: the capture in one burst).
    back = [client_pkt(i, False, 17, payload=b"q") for i in range(3)]
    back[0].time, back[1].time, back[2].time = 1000.0 + 70 * 365 * 86400, 1000.0, 1000.5
    back_pcap = put("back.pcap", b"")
    wrpcap(back_pcap, back)
    cases.append(("a record 70 years ahead", [back_pcap], "packet 2 is 25550.0 days before the latest one sent before"))
    # A capture holding only server->client packets has nothing to send.
    only_resp = put("only_resp.pcap", b"")
    wrpcap(only_resp, [server_pkt(0, False, 6, "SA"), server_pkt(1, False, 6, "SA")])
    cases[9] = ("only responses", [only_resp], "no client->server packet")
    for name, extra, want in cases:
        if extra and not extra[0].startswith("--"):
            pcap, args = extra[0], extra[1:]
        else:
            pcap, args = good, extra
        cmd = [LG] + stlib.eal_args(prefix(), ["net_null0"], mem=128) + ["--", "--pcap", pcap] + args
        rc, so, se = stlib.run(cmd, timeout=30, check_rc=False)
        stlib.check(rc == 1 and want in se, "bad input, %s: exit 1 with '%s' (rc %d: %s)" % (
            name, want, rc, se.strip().splitlines()[-1] if se.strip() else ""))
    # With --max-gap the same capture runs, its long gap cut to 1 ms.
    t0 = time.monotonic()
    rc, res, se = run_lg(wd, far_pcap, ["--max-gap", "1ms"], out="far_out.pcap", check_rc=False)
    stlib.check(rc == 0 and res and res["sent_pkts"] == 3 and time.monotonic() - t0 < 20,
                "--max-gap 1ms: the 70-year gap cut, 3 packets sent (rc %d, %s)"
                % (rc, res and res.get("sent_pkts")))
    # And the record ahead: the gaps measured from the next one on (0.5 s).
    rc, res, se = run_lg(wd, back_pcap, ["--max-gap", "2s"], out="back_out.pcap", check_rc=False)
    ts = [float(p.time) for p in rdpcap(os.path.join(wd, "back_out.pcap"))] if rc == 0 else []
    stlib.check(rc == 0 and res["sent_pkts"] == 3 and len(ts) == 3 and 0.45 < ts[2] - ts[1] < 0.6,
                "--max-gap 2s: after the record ahead, the capture's 0.5 s gap kept (rc %d, gaps %s)"
                % (rc, [round(b - a, 3) for a, b in zip(ts, ts[1:])]))
    sel = {
        "names no client": ('{"client_key": "src/24", "clients": []}', [], "names no client"),
        "no such fingerprint": ('{"client_key": "src/24", "clients": [{"k": "198.18.0.0/24", "fingerprint": "fp1"}]}',
                                ["--select-fingerprint", "fp9"], "no client of fingerprint fp9 among its 1"),
        "no client_key": ('{"clients": ["198.18.0.0/24"]}', [], "no client_key"),
        "bad client_key": ('{"client_key": "dst/8", "clients": ["1"]}', [], "client_key: 'dst/8': not none"),
        "not JSON": ('{"client_key": "src/24", "clients": [}', [], "expected a value"),
        "fractional scale": ('{"client_key": "src/24", "clients": ["198.18.0.0/24"], "scale": 1.5}', [],
                             "scale 1.5: a whole number"),
        "not in the capture": ('{"client_key": "src/24", "clients": ["198.18.50.0/24"]}', [],
                               "no packet of the 1 clients selected (client_key src/24)"),
    }
    for k, (name, (text, args, want)) in enumerate(sel.items()):
        path = put("sel_%d.json" % k, text)
        cmd = [LG] + stlib.eal_args(prefix(), ["net_null0"], mem=128) + ["--", "--pcap", good,
                                                                       "--select-clients", path] + args
        rc, so, se = stlib.run(cmd, timeout=30, check_rc=False)
        stlib.check(rc == 1 and want in se, "bad --select-clients, %s: exit 1 with '%s' (rc %d: %s)" % (
            name, want, rc, se.strip().splitlines()[-1] if se.strip() else ""))
    cmd = [LG] + stlib.eal_args(prefix(), ["net_null0"], mem=128) + ["--", "--pcap", good, "--select-scale", "2"]
    rc, so, se = stlib.run(cmd, timeout=30, check_rc=False)
    stlib.check(rc == 1 and "need --select-clients" in se, "--select-scale without --select-clients refused")
    rc, so, _ = stlib.run([LG, "--help"], timeout=10, check_rc=False)
    stlib.check(rc == 0 and "--profile" in so and "--multiply" in so and "--select-clients" in so,
                "--help prints the options")


def case_kpi(wd):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        import kpisub
    except SystemExit:
        print("SKIP part: no pyzmq/msgpack for the KPI check")
        return
    frames, want, _ = make_capture()
    pcap = os.path.join(wd, "in.pcap")
    wrpcap(pcap, [Ether(f) for f in frames])
    port = 21000 + os.getpid() % 20000
    ep = "tcp://127.0.0.1:%d" % port
    col = kpisub.Collector(ep, topic=b"kpi.web.synthetic")
    t0 = time.monotonic()
    _, res, _ = run_lg(wd, pcap, ["--pps", "2000", "--duration", "2s", "--kpi-endpoint", ep,
                                  "--service", "web", "--publisher-id", "lg1", "--interval", "200ms"],
                       vdev="net_null0")
    time.sleep(0.3)
    msgs = col.since(t0)
    col.close()
    stlib.check(len(msgs) >= 5, "KPI: %d snapshots on kpi.web.synthetic" % len(msgs))
    stlib.check(all(m["role"] == "loadgen" and m["target"] == "synthetic" and m["src"] == "lg1" and
                    m["service"] == "web" for m in msgs), "KPI: role loadgen, target synthetic, src lg1")
    mid = msgs[1:-1]
    stlib.check(mid and all(abs(m["offered_rps"] - 2000) < 1 for m in mid),
                "KPI: offered_rps 2000 (%s)" % [round(m["offered_rps"]) for m in mid])
    stlib.check(sum(m["pkts"] for m in msgs) <= res["sent_pkts"] and
                sum(m["pkts"] for m in msgs) >= res["sent_pkts"] * 0.6,
                "KPI: pkts add up to what was sent (%d of %d)" % (sum(m["pkts"] for m in msgs), res["sent_pkts"]))
    seqs = [m["seq"] for m in msgs]
    stlib.check(seqs == list(range(seqs[0], seqs[0] + len(seqs))), "KPI: seq without gaps")


def main():
    for case in (case_exact, case_map_families, case_map_fragments, case_fragmented_answers, case_jumbo_pools, case_loop, case_multiply, case_select, case_two_lcores, case_multiplier, case_memif, case_linktypes, case_snaplen, case_bad_input, case_kpi):
        wd = stlib.workdir(case.__name__)
        print("== %s in %s" % (case.__name__, wd))
        case(wd)
    print("all checks passed")


main()
