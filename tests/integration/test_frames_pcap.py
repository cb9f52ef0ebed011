"""Large frames through the dataplane on net_pcap ports, frame by frame.

A capture of 9018-byte 802.1Q-tagged UDP frames (IPv4 without and with DF,
IPv6) and small ones goes in on the client port; DPDK 22.11's net_pcap
hands frames longer than one mbuf over as chains of mbufs.
- mtu 9000: production's output equals the input byte for byte; a shadow
  at share 1 gets every frame whole (its MAC set); a second shadow with
  mtu 1280 gets each IPv4 datagram as valid fragments of at most 1280
  bytes that reassemble to the original, and the DF and IPv6 ones are
  counted too_big for that group only.
- mtu 1500 on every port: production gets the IPv4 datagrams without DF
  as fragments that reassemble to the originals, in order; those with DF
  and the IPv6 ones are dropped and counted too_big, as a router would
  (tagged frames of exactly 1500 bytes of IP pass: tags are not the MTU's);
  no frame is counted malformed (the chained mbufs are parsed whole).
  A copy too big for its group is not counted among the group's copies.
- A group's BPF filter reads bytes deep in a chained mbuf.
- Bytes after the datagram (an Ethernet trailer) are not the MTU's: a
  1500-byte datagram with them passes (without them), a longer one is
  fragmented without them.
- An IPv4 frame above the MTU with a header length below 20 bytes is
  dropped as too_big, not cut into fragments of garbage.
- IPv6 frames whose extension headers pass a copy's first buffer (256
  bytes), to a group that rewrites the destination to its instance: not
  copied, counted headers_too_long (the checksum was written past the
  buffer, or the copy miscounted as no_mbuf); a plain one beside them is
  rewritten with a valid checksum; production gets all of them unchanged.
Every mbuf is back in its pool at exit.

usage: test_frames_pcap.py DATAPLANE_BINARY"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stlib  # noqa: E402

try:
    from scapy.all import (IP, UDP, Dot1Q, Ether, IPv6, IPv6ExtHdrDestOpt, PadN, Raw,
                           rdpcap, wrpcap)
except ImportError:
    stlib.skip("python3-scapy is not installed (scripts/setup.sh installs it)")

DP = sys.argv[1]
SMAC, DMAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
MAC_A, MAC_B, MAC_C = "02:00:00:00:0a:0a", "02:00:00:00:0b:0b", "02:00:00:00:0c:0c"


def frames():
    """[(frame, kind)]: kind 'v4' (fragmentable), 'df', 'v6', 'small'."""
    out = []
    for i in range(6):
        l2 = Ether(src=SMAC, dst=DMAC) / Dot1Q(vlan=100 + i)
        pay = bytes((i * 7 + k) & 0xff for k in range(8972 - 4))
        out.append((l2 / IP(src="198.18.0.%d" % (i + 1), dst="198.18.1.53", id=1000 + i) /
                    UDP(sport=4000 + i, dport=7) / Raw(pay), "v4"))
        out.append((Ether(src=SMAC, dst=DMAC) / IP(src="198.18.2.%d" % (i + 1), dst="198.18.1.53") /
                    UDP(sport=5000 + i, dport=7) / Raw(b"s%d" % i * 20), "small"))
    for i in range(2):
        out.append((Ether(src=SMAC, dst=DMAC) / Dot1Q(vlan=7) /
                    IP(src="198.18.3.%d" % (i + 1), dst="198.18.1.53", flags="DF") /
                    UDP(sport=6000 + i, dport=7) / Raw(b"d" * 8964), "df"))
        out.append((Ether(src=SMAC, dst=DMAC) / Dot1Q(vlan=8) /
                    IPv6(src="2001:db8::%d" % (i + 1), dst="2001:db8:1::53") /
                    UDP(sport=7000 + i, dport=7) / Raw(b"6" * 8900), "v6"))
    # Exactly 1500 bytes of IP under a tag: they fit a 1500-byte MTU.
    out.append((Ether(src=SMAC, dst=DMAC) / Dot1Q(vlan=9) /
                IPv6(src="2001:db8::9", dst="2001:db8:1::53") / UDP(sport=7100, dport=7) /
                Raw(b"f" * (1500 - 48)), "fit"))
    out.append((Ether(src=SMAC, dst=DMAC) / Dot1Q(vlan=9) /
                IP(src="198.18.3.9", dst="198.18.1.53", flags="DF") / UDP(sport=6100, dport=7) /
                Raw(b"g" * (1500 - 28)), "fit"))
    return [(bytes(f), k) for f, k in out]


def run(wd, prefix, mtu, shadows, frames_in):
    wrpcap(os.path.join(wd, "in.pcap"), [Ether(f) for f, _ in frames_in])
    wrpcap(os.path.join(wd, "empty.pcap"), [])
    empty = os.path.join(wd, "empty.pcap")
    ini = "[dataplane]\n" + stlib.endpoint_lines(wd) + \
        "mode = inline\nclient_port = net_pcap0\nprod_port = net_pcap1\ntiming = false\n" \
        "mtu = %d\n" % mtu
    vdevs = ["net_pcap0,rx_pcap=%s,tx_pcap=%s" % (os.path.join(wd, "in.pcap"),
                                                   os.path.join(wd, "client_out.pcap")),
             "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (empty, os.path.join(wd, "prod.pcap"))]
    for i, (name, mac, gmtu, bpf, *extra) in enumerate(shadows):
        ini += "\n[shadow.%s]\nport = net_pcap%d\nshare = 1\n" % (name, i + 2)
        ini += "dst_mac = %s\n" % mac if mac else "".join(extra)
        if gmtu:
            ini += "mtu = %d\n" % gmtu
        if bpf:
            ini += "filter = %s\n" % bpf
        vdevs.append("net_pcap%d,rx_pcap=%s,tx_pcap=%s" % (i + 2, empty,
                                                           os.path.join(wd, "shadow_%s.pcap" % name)))
    path = os.path.join(wd, "dp.ini")
    open(path, "w").write(ini)
    _, _, err = stlib.run([DP] + stlib.eal_args(prefix, vdevs) +
                          ["--", "--config", path, "--duration", "3s"], timeout=60)
    print(err[-2500:])
    return stlib.parse_final(err)


def read(path):
    return [bytes(p) for p in rdpcap(path)] if os.path.getsize(path) > 24 else []


def ip_datagrams(raw_frames):
    """The IPv4/IPv6 datagrams carried, with fragments reassembled, in
    order of their first frame: [(vlan or None, bytes)]."""
    out, parts = [], {}
    order = []
    for f in raw_frames:
        e = Ether(f)
        vlan = e[Dot1Q].vlan if Dot1Q in e else None
        if IP in e and (e[IP].flags.MF or e[IP].frag):
            ip = e[IP]
            key = (ip.src, ip.dst, ip.id, ip.proto)
            if key not in parts:
                parts[key] = []
                order.append(("frag", key, vlan))
            # header checksum of every fragment must be right
            h = IP(bytes(ip))
            want = h.chksum
            del h.chksum
            stlib.check(IP(bytes(h)).chksum == want, "fragment %s id %d off %d: header checksum"
                        % (ip.src, ip.id, ip.frag * 8)) if len(parts[key]) == 0 else None
            parts[key].append((ip.frag * 8, bool(ip.flags.MF), bytes(ip.payload)[:ip.len - ip.ihl * 4],
                               bytes(ip)[:ip.ihl * 4], ip.len))
        elif IP in e:
            order.append(("whole", bytes(e[IP])[:e[IP].len], vlan))
        elif IPv6 in e:
            order.append(("whole", bytes(e[IPv6])[:40 + e[IPv6].plen], vlan))
    for kind, v, vlan in order:
        if kind == "whole":
            out.append((vlan, v))
            continue
        fr = sorted(parts[v])
        data, pos = b"", 0
        for off, mf, pay, hdr, tot in fr:
            if off != pos:
                stlib.fail("fragments of %s leave a hole at %d" % (v, pos))
            data += pay
            pos += len(pay)
        stlib.check(not fr[-1][1] and all(f[1] for f in fr[:-1]), "%s: MF on all but the last" % (v,))
        ip = IP(fr[0][3] + data)
        ip.flags = 0
        ip.frag = 0
        ip.len = len(fr[0][3]) + len(data)
        del ip.chksum
        out.append((vlan, bytes(IP(bytes(ip)))))
    return out


def original_datagrams(frames_in, kinds):
    out = []
    for f, k in frames_in:
        if k not in kinds:
            continue
        e = Ether(f)
        vlan = e[Dot1Q].vlan if Dot1Q in e else None
        if IP in e:
            out.append((vlan, bytes(e[IP])))
        else:
            out.append((vlan, bytes(e[IPv6])))
    return out


def jumbo_case(wd):
    fin = frames()
    res = run(wd, "frames-j-%d" % os.getpid(), 9000, [("a", MAC_A, 0, None), ("b", MAC_B, 1280, None)], fin)
    prod = read(os.path.join(wd, "prod.pcap"))
    stlib.check(prod == [f for f, _ in fin],
                "mtu 9000: production got all %d frames byte for byte (%d)" % (len(fin), len(prod)))
    a = read(os.path.join(wd, "shadow_a.pcap"))
    want = [f for f, _ in fin]
    stlib.check(len(a) == len(want) and all(g[6:] == w[6:] and g[:6] == bytes.fromhex(MAC_A.replace(":", ""))
                                            for g, w in zip(a, want)),
                "shadow a (mtu 9000): every frame whole, to its MAC (%d of %d)" % (len(a), len(want)))
    b = read(os.path.join(wd, "shadow_b.pcap"))
    stlib.check(all(len(x) <= 1280 + 18 for x in b), "shadow b (mtu 1280): no frame above 1280 + tagged Ethernet")
    got = ip_datagrams(b)
    stlib.check(got == original_datagrams(fin, ("v4", "small")),
                "shadow b: the IPv4 datagrams reassemble to the originals, in order (%d)" % len(got))
    sb, sa = res["shadows"]["b"], res["shadows"]["a"]
    stlib.check(sb.get("too_big", 0) == 6 and sa.get("too_big", 0) == 0,
                "shadow b counts the 3 DF and 3 IPv6 copies above 1280 too_big (%d), a none"
                % sb.get("too_big", 0))
    # A copy too big for its shadow was never sent: not among the copies.
    sent = [f for f, k in fin if k in ("v4", "small")]
    stlib.check(sb["copies"] == len(sent) and sb["bytes"] == sum(len(f) for f in sent) and
                sa["copies"] == len(fin),
                "shadow b counts as copies only the %d frames it sent (%d, %d bytes), a all %d (%d)"
                % (len(sent), sb["copies"], sb["bytes"], len(fin), sa["copies"]))
    stlib.check(res["ports"]["prod"].get("too_big", 0) == 0 and res["ports"]["prod"].get("frags_out", 0) == 0,
                "production: nothing fragmented, nothing too_big")
    # A shadow port's copies are counted per group, not in its tx, those
    # fragmented as those not (they were, by the fragments sent)
    pb = res["ports"]["net_pcap3"]
    stlib.check(pb["tx"] == 0 and pb.get("frags_out", 0) > 0 and pb.get("pmd_tx", 0) > 0,
                "shadow b's port: copies not in its tx (%d), %d fragments out, %d frames sent"
                % (pb["tx"], pb.get("frags_out", 0), pb.get("pmd_tx", 0)))
    stlib.check(not res["malformed"], "no frame counted malformed (%s)" % res["malformed"])
    stlib.check(res["mbufs_in_use"] == (0, 0), "every mbuf back in its pool")


def jumbo_cap_case(wd):
    """A byte cap whose bucket (10 ms of 5 Mbit/s: 6,250 bytes) is smaller
    than a jumbo frame: a 9,000-byte copy still passes when the bucket is
    full (it never did: the bucket could never hold its cost)."""
    fin = frames()
    res = run(wd, "frames-cap-%d" % os.getpid(), 9000,
              [("c", None, 0, None, "dst_mac = %s\nrate_bps = 5M\n" % MAC_C)], fin)
    c = read(os.path.join(wd, "shadow_c.pcap"))
    big = [x for x in c if len(x) > 6250]
    stlib.check(read(os.path.join(wd, "prod.pcap")) == [f for f, _ in fin],
                "byte cap: production got every frame")
    stlib.check(len(big) >= 1 and res["shadows"]["c"].get("rate_cap", 0) >= 1,
                "byte cap below a jumbo frame: %d jumbo copies passed, %d capped"
                % (len(big), res["shadows"]["c"].get("rate_cap", 0)))


def mtu1500_case(wd):
    fin = frames()
    res = run(wd, "frames-m-%d" % os.getpid(), 1500, [("a", MAC_A, 0, None)], fin)
    prod = read(os.path.join(wd, "prod.pcap"))
    stlib.check(all(len(x) <= 1500 + 18 for x in prod), "mtu 1500: no frame to production above 1500 + tagged Ethernet")
    got = ip_datagrams(prod)
    stlib.check(got == original_datagrams(fin, ("v4", "small", "fit")),
                "production: IPv4 datagrams reassemble to the originals, in order (%d)" % len(got))
    p = res["ports"]["prod"]
    stlib.check(p.get("too_big", 0) == 4, "production: the 2 DF and 2 IPv6 frames counted too_big (%d)"
                % p.get("too_big", 0))
    stlib.check(p.get("frags_out", 0) == 6 * 7, "production: 6 datagrams in 7 fragments each (%d)"
                % p.get("frags_out", 0))
    a = read(os.path.join(wd, "shadow_a.pcap"))
    stlib.check(ip_datagrams(a) == original_datagrams(fin, ("v4", "small", "fit")),
                "shadow a: the same datagrams, fragmented to its port's MTU")
    stlib.check(not res["malformed"], "no frame counted malformed: chained mbufs parse whole (%s)"
                % res["malformed"])
    stlib.check(res["mbufs_in_use"] == (0, 0), "every mbuf back in its pool")


def bpf_case(wd):
    """A group's filter reads 4,000 bytes into the UDP header, far past the
    first segment of a chained mbuf: it takes the one datagram that has
    the byte it asks for there."""
    fin = []
    for i in range(3):
        pay = bytearray(b"p" * 8000)
        pay[4000 - 8] = 150 + i
        fin.append((bytes(Ether(src=SMAC, dst=DMAC) / IP(src="198.18.4.%d" % (i + 1), dst="198.18.1.53") /
                          UDP(sport=8000 + i, dport=7) / Raw(bytes(pay))), "v4"))
    res = run(wd, "frames-b-%d" % os.getpid(), 1500, [("c", MAC_C, 0, "udp[4000] = 152")], fin)
    c = read(os.path.join(wd, "shadow_c.pcap"))
    stlib.check(ip_datagrams(c) == original_datagrams(fin[2:], ("v4",)),
                "BPF on chained mbufs: the filter took exactly the datagram with 152 at udp[4000] "
                "(%d fragments)" % len(c))
    stlib.check(res["shadows"]["c"].get("filtered", 0) == 2, "and filtered the other two")
    stlib.check(res["mbufs_in_use"] == (0, 0), "every mbuf back in its pool")


def bad_ihl_case(wd):
    """An IPv4 frame above the MTU whose header length says less than 20
    bytes is not fragmented into frames of garbage: production's port
    drops it as too_big, as a router discards it, and sends the good one
    beside it in fragments."""
    fin = []
    for i, ihl in enumerate((4, 5)):
        fin.append((bytes(Ether(src=SMAC, dst=DMAC) /
                          IP(src="198.18.5.%d" % (i + 1), dst="198.18.1.53", ihl=ihl, id=77 + i) /
                          UDP(sport=8100 + i, dport=7) / Raw(b"h" * 3000)), "v4"))
    res = run(wd, "frames-i-%d" % os.getpid(), 1500, [("a", MAC_A, 0, None)], fin)
    p = res["ports"]["prod"]
    stlib.check(p.get("too_big", 0) == 1 and p.get("frags_out", 0) == 3,
                "production: the frame with IHL 4 counted too_big (%d), the good one sent in 3 "
                "fragments (%d)" % (p.get("too_big", 0), p.get("frags_out", 0)))
    prod = read(os.path.join(wd, "prod.pcap"))
    stlib.check(ip_datagrams(prod) == original_datagrams(fin[1:], ("v4",)),
                "production: only the good datagram, whole once reassembled (%d frames)" % len(prod))
    stlib.check(res["mbufs_in_use"] == (0, 0), "every mbuf back in its pool")


def trailer_case(wd):
    """Frames with 4 bytes after their datagram (an Ethernet trailer, a
    kept FCS) at mtu 1500: a 1500-byte DF datagram and a 1500-byte IPv6
    one go out, the trailer cut as past a router (the MTU bounds the
    datagram, not the frame: they were dropped as too_big), and a
    3000-byte datagram is fragmented without the trailer in its data (it
    reassembled 4 bytes long)."""
    tr = b"\xde\xad\xbe\xef"
    fin = [(bytes(Ether(src=SMAC, dst=DMAC) / IP(src="198.18.6.1", dst="198.18.1.53", flags="DF") /
                  UDP(sport=8200, dport=7) / Raw(b"t" * 1472)) + tr, "fit"),
           (bytes(Ether(src=SMAC, dst=DMAC) / IPv6(src="2001:db8::6", dst="2001:db8:1::53") /
                  UDP(sport=8201, dport=7) / Raw(b"u" * 1452)) + tr, "fit"),
           (bytes(Ether(src=SMAC, dst=DMAC) / IP(src="198.18.6.3", dst="198.18.1.53", id=99) /
                  UDP(sport=8202, dport=7) / Raw(b"w" * 2972)) + tr, "v4")]
    res = run(wd, "frames-t-%d" % os.getpid(), 1500, [("a", MAC_A, 0, None)], fin)
    p = res["ports"]["prod"]
    prod = read(os.path.join(wd, "prod.pcap"))
    stlib.check(p.get("too_big", 0) == 0 and p.get("frags_out", 0) == 3,
                "production: nothing too_big (%d), the 3000-byte datagram in 3 fragments (%d)"
                % (p.get("too_big", 0), p.get("frags_out", 0)))
    stlib.check(prod[:2] == [f[:-len(tr)] for f, _ in fin[:2]],
                "production: the two 1500-byte datagrams unchanged, without the trailer")
    want = Ether(fin[2][0])[IP]
    got = ip_datagrams(prod[2:])
    stlib.check(got == [(None, bytes(want)[:want.len])],
                "production: the fragments reassemble to the datagram, no trailer in it (%s bytes)"
                % [len(d) for _, d in got])
    stlib.check(res["mbufs_in_use"] == (0, 0), "every mbuf back in its pool")


def long_headers_case(wd):
    inst = "2001:db8:9::10"
    fin = []
    for i, pay in enumerate((b"", b"12345678")):
        fin.append((bytes(Ether(src=SMAC, dst=DMAC) /
                          IPv6(src="2001:db8::%d" % (i + 1), dst="2001:db8:1::53") /
                          IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 204)]) /
                          UDP(sport=7200 + i, dport=7) / Raw(pay)), "v6"))
    fin.append((bytes(Ether(src=SMAC, dst=DMAC) / IPv6(src="2001:db8::3", dst="2001:db8:1::53") /
                      UDP(sport=7202, dport=7) / Raw(b"plain")), "v6"))
    stlib.check(all(len(f) > 192 for f, _ in fin[:2]) and len(fin[0][0]) == 14 + 40 + 208 + 8,
                "two frames with 208 bytes of destination options (%s bytes)" % [len(f) for f, _ in fin])
    res = run(wd, "frames-h-%d" % os.getpid(), 1500,
              [("i", None, 0, None, "instances = %s@%s\n" % (inst, MAC_A))], fin)
    prod = read(os.path.join(wd, "prod.pcap"))
    stlib.check(prod == [f for f, _ in fin], "production: the three frames unchanged (%d)" % len(prod))
    g = res["shadows"]["i"]
    stlib.check(g.get("headers_too_long", 0) == 2 and g["copies"] == 1 and g.get("no_mbuf", 0) == 0,
                "the two long-header frames counted headers_too_long, not copied (%s)" % g)
    got = read(os.path.join(wd, "shadow_i.pcap"))
    ok = False
    if len(got) == 1:
        e = Ether(got[0])
        sent = e[UDP].chksum
        del e[UDP].chksum
        ok = e[IPv6].dst == inst and e.dst == MAC_A and Ether(bytes(e))[UDP].chksum == sent
    stlib.check(ok, "the plain one reached the instance rewritten, its UDP checksum valid (%d)" % len(got))
    stlib.check(res["mbufs_in_use"] == (0, 0), "every mbuf back in its pool")


def main():
    wd = stlib.workdir("frames-pcap")
    jumbo_case(wd)
    jumbo_cap_case(wd)
    mtu1500_case(wd)
    trailer_case(wd)
    bpf_case(wd)
    bad_ihl_case(wd)
    long_headers_case(wd)
    print("all checks passed")


main()
