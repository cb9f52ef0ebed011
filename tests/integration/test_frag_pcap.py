"""IP fragments on net_pcap ports: a shadow gets all fragments of the
datagrams of its flows, or none.

A capture of fragmented UDP datagrams (IPv4 and IPv6) from many flows, with
unfragmented packets of the same flows among them: fragments in order, out
of order (last fragment first), overlapping, duplicated, and incomplete
(first fragment missing; last fragment missing). Production must get the
input unchanged, frame for frame, in order. A group at share 0.5 (flow
sampling) must get every fragment of exactly the datagrams whose FLOW (the
5-tuple with ports, hashed here by sthash.py, independently of the code)
falls in its share, fragments that came before their first one included,
and nothing else; a datagram whose first fragment never comes is sent to no
shadow. Incomplete datagrams are counted as expired. Timing sees each
datagram as one request of its flow. Held fragments never pin production's
buffers: a flood of later fragments empties the copies' pool, not
production's. A flood of first fragments beyond
frag_table_size is counted as table_full, and every mbuf is back at exit.

usage: test_frag_pcap.py DATAPLANE_BINARY
"""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stlib  # noqa: E402
import sthash  # noqa: E402
import test_tee_pcap as tee  # noqa: E402  (skips without scapy)

from scapy.all import IP, UDP, Ether, IPv6, IPv6ExtHdrFragment, Raw  # noqa: E402

SERVER4, SERVER6 = "198.18.1.53", "2001:db8:1::53"
MAC = "02:00:00:00:01:aa"
L2 = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
rnd = random.Random(11)
KINDS = ("in_order", "last_first", "overlap", "duplicate", "no_first", "no_last")


def udp_bytes(v6, src, dst, sport, dport, payload):
    """The UDP header and payload of a datagram, checksum computed over the
    real addresses: what its fragments carry between them."""
    l3 = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst)
    p = l3 / UDP(sport=sport, dport=dport) / Raw(payload)
    return bytes(Ether(bytes(Ether(**L2) / p))[UDP])


def frag_frame(v6, src, dst, ident, data, off, length, total):
    """The fragment carrying data[off:off+length] (off a multiple of 8)."""
    more = off + length < total
    chunk = data[off:off + length]
    if v6:
        l3 = IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(nh=17, offset=off // 8, m=int(more), id=ident)
    else:
        l3 = IP(src=src, dst=dst, proto=17, id=ident & 0xFFFF, flags="MF" if more else 0, frag=off // 8)
    return bytes(Ether(**L2) / l3 / Raw(chunk))


def datagram(v6, src, dst, sport, dport, ident, kind):
    """Frames of one fragmented datagram as they arrive, per kind; and
    whether its first fragment is among them."""
    data = udp_bytes(v6, src, dst, sport, dport, b"d%d-" % ident * rnd.randint(150, 300))
    step = 8 * rnd.randint(40, 80)
    pieces = [(o, min(step, len(data) - o)) for o in range(0, len(data), step)]
    pieces = pieces[:6]  # the hold limit is 8 a datagram: keep under it
    total = pieces[-1][0] + pieces[-1][1]
    data = data[:total]
    if kind == "last_first":
        pieces = pieces[::-1]
    elif kind == "overlap":
        # an extra fragment straddling the first two, after them
        pieces = pieces[:2] + [(step // 2 // 8 * 8, step)] + pieces[2:]
    elif kind == "duplicate":
        k = rnd.randrange(len(pieces))
        pieces = pieces[:k + 1] + [pieces[k]] + pieces[k + 1:]
    elif kind == "no_first":
        pieces = pieces[1:]
        rnd.shuffle(pieces)
    elif kind == "no_last":
        pieces = pieces[:-1]
    frames = [frag_frame(v6, src, dst, ident, data, o, n, total) for o, n in pieces]
    return frames, kind != "no_first"


def build(n_flows):
    """[(frame, info)], flows interleaved, each flow's order kept. info is a
    dict: flow (sthash tuple), kind (None: unfragmented), first, held (this
    fragment comes before its datagram's first one), dgram id."""
    flows = []
    ident = 0x1000
    for i in range(n_flows):
        v6 = i % 3 == 0
        src = "2001:db8::%x" % (i + 1) if v6 else "198.18.%d.%d" % (i // 200, i % 200 + 1)
        dst = SERVER6 if v6 else SERVER4
        sport, dport = 1024 + i, 53
        ft = (src, sport, dst, dport, 17, 0)
        items = []
        for k in range(rnd.randint(1, 4)):
            if rnd.random() < 0.4:
                l3 = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst)
                raw = bytes(Ether(**L2) / l3 / UDP(sport=sport, dport=dport) / Raw(b"u%d-%d" % (i, k)))
                items.append((raw, dict(flow=ft, kind=None, first=False, held=False, dg=None)))
                continue
            ident += 1
            kind = KINDS[(i + k) % len(KINDS)]
            frames, has_first = datagram(v6, src, dst, sport, dport, ident, kind)
            seen_first = False
            for raw in frames:
                first = is_first(raw)
                seen_first |= first
                items.append((raw, dict(flow=ft, kind=kind, first=first, held=not seen_first,
                                        dg=(v6, ident), has_first=has_first)))
        flows.append(items)
    out = []
    while flows:
        f = rnd.choice(flows)
        out.append(f.pop(0))
        if not f:
            flows.remove(f)
    return out


def is_first(raw):
    e = Ether(raw)
    if e.haslayer(IPv6ExtHdrFragment):
        return e[IPv6ExtHdrFragment].offset == 0
    return e[IP].frag == 0


def in_share(info):
    src, sport, dst, dport, proto, vlan = info["flow"]
    return sthash.in_range(sthash.flow_hash(src, sport, dst, dport, proto, vlan), 0.0, 0.5)


def strip_mac(frames, mac):
    macb = bytes(int(x, 16) for x in mac.split(":"))
    return all(f[:6] == macb for f in frames), sorted(f[6:] for f in frames)


def shadow_case(wd, timing=True):
    items = build(240)
    frames = [raw for raw, _ in items]
    tee.write_inputs(wd, frames)
    ini = os.path.join(wd, "frag.ini")
    tee.write_ini(ini, """
[dataplane]
mode = inline
client_port = net_pcap0
prod_port = net_pcap1
stats = false
service = fragsvc
frag_timeout = 300ms
timing = %s

[shadow.a]
port = net_pcap2
share = 0.5
dst_mac = %s
""" % ("true" if timing else "false", MAC))
    col = tee.kpi_collector(wd, b"kpi.fragsvc.", "the KPI counts") if timing else None
    res = tee.run_dp(wd, "frag-%d" % os.getpid(), ini, "a")

    prod = tee.read(os.path.join(wd, "prod.pcap"))
    stlib.check(prod == frames, "prod output equals the input, frame for frame, in order (%d frames)"
                % len(frames))

    frags = [info for _, info in items if info["kind"]]
    want = [raw for raw, info in items if in_share(info) and (info["kind"] is None or info["has_first"])]
    got = tee.read(os.path.join(wd, "shadow_a.pcap"))
    macs_ok, got_s = strip_mac(got, MAC)
    stlib.check(macs_ok, "every copy goes to the group's MAC")
    want_s = sorted(w[6:] for w in want)
    if got_s != want_s:
        import collections
        cg, cw = collections.Counter(got_s), collections.Counter(want_s)
        info_of = {raw[6:]: info for raw, info in items}
        for k in (cw - cg):
            print("missing:", info_of.get(k), len(k))
        for k in (cg - cw):
            print("extra:", info_of.get(k), len(k))
    n_frag_want = sum(1 for raw, info in items if info["kind"] and in_share(info) and info["has_first"])
    stlib.check(got_s == want_s, "the shadow holds exactly the %d frames (%d fragments) of the "
                "datagrams and packets of its flows, held ones included (got %d)"
                % (len(want), n_frag_want, len(got)))
    for kind in KINDS:
        n = sum(1 for raw, info in items if info["kind"] == kind and in_share(info) and info["has_first"])
        print("     %s: %d fragments in the share" % (kind, n))
    # held fragments go out right after their first one: a datagram's
    # fragments are never split by a fragment of a later datagram's first
    pos = {raw[6:]: i for i, raw in enumerate(got)}
    order_ok = True
    for raw, info in items:
        if info["kind"] == "last_first" and info["held"] and in_share(info):
            first = [r for r, i2 in items if i2["dg"] == info["dg"] and i2["first"]][0]
            order_ok &= pos[raw[6:]] > pos[first[6:]]
    stlib.check(order_ok, "fragments held for their first one are copied after it")

    f = res.get("frags")
    stlib.check(f is not None, "the final counters have a frags line: %s" % f)
    n_held = sum(1 for i in frags if i["held"])
    n_held_lost = sum(1 for i in frags if i["held"] and not i["has_first"])
    dgrams = {i["dg"]: i["kind"] for i in frags}
    n_incomplete = sum(1 for k in dgrams.values() if k in ("no_first", "no_last"))
    want_f = dict(seen=len(frags), first=sum(1 for i in frags if i["first"]), held=n_held,
                  released=n_held - n_held_lost, expired=n_incomplete, table_full=0, hold_full=0,
                  held_expired=n_held_lost)
    stlib.check(f == want_f, "frags counters %s, want %s" % (f, want_f))
    stlib.check(res["mbufs_in_use"] == (0, 0), "every mbuf back in its pool at exit")

    if col is None:
        return
    time.sleep(0.3)
    msgs = col.msgs
    col.close()
    def tot(target):
        ms = [m for m in msgs if m["target"] == target]
        return {k: sum(m[k] for m in ms) for k in ("pkts", "bytes", "requests")}

    # one request per unfragmented packet and per datagram whose first
    # fragment came (a duplicate first fragment is not another); every
    # frame counted as sent
    def want_kpi(sent, only):
        firsts = {i["dg"] for _, i in items if i["kind"] and i["has_first"] and only(i)}
        return {"pkts": len(sent), "bytes": sum(len(r) for r in sent),
                "requests": sum(1 for _, i in items if i["kind"] is None and only(i)) + len(firsts)}

    got_p, want_p = tot("prod"), want_kpi(frames, lambda i: True)
    stlib.check(got_p == want_p, "production's KPI: every frame sent, one request per packet and per "
                "datagram (%s, want %s)" % (got_p, want_p))
    got_a, want_a = tot("a"), want_kpi(got, in_share)
    stlib.check(got_a == want_a, "the shadow's KPI: every copy sent, one request per packet and per "
                "datagram (%s, want %s)" % (got_a, want_a))


def run_flood(wd, name, frames, keys):
    """frames into an inline dataplane whose one group takes every flow
    (share 1), with the [dataplane] keys given: the final counters."""
    tee.write_inputs(wd, frames)
    ini = os.path.join(wd, name + ".ini")
    tee.write_ini(ini, """
[dataplane]
mode = inline
client_port = net_pcap0
prod_port = net_pcap1
stats = false
%s
[shadow.a]
port = net_pcap2
share = 1
dst_mac = %s
""" % (keys, MAC))
    return tee.run_dp(wd, "frag-%s-%d" % (name, os.getpid()), ini, "a")


def flood_case(wd):
    """First fragments of distinct datagrams, more than the table holds:
    the overflow is counted and not copied; production still gets all."""
    size, n = 64, 300
    frames = []
    for i in range(n):
        data = udp_bytes(False, "198.18.7.%d" % (i % 250 + 1), SERVER4, 3000 + i, 53, b"f" * 600)
        frames.append(frag_frame(False, "198.18.7.%d" % (i % 250 + 1), SERVER4, 0x4000 + i, data,
                                 0, 304, len(data)))
    res = run_flood(wd, "flood", frames, "frag_table_size = %d\nfrag_timeout = 500ms\n" % size)
    stlib.check(tee.read(os.path.join(wd, "prod.pcap")) == frames,
                "flood: production gets all %d first fragments, in order" % n)
    f = res.get("frags") or {}
    stlib.check(f.get("table_full") == n - size and f.get("first") == n,
                "flood: %d first fragments beyond %d counted as table_full (%s)" % (n - size, size, f))
    got = tee.read(os.path.join(wd, "shadow_a.pcap"))
    stlib.check(len(got) == size, "flood: only the %d datagrams with an entry are copied (got %d)"
                % (size, len(got)))
    stlib.check(f.get("expired") == size, "flood: the %d tracked, incomplete, expire (%s)" % (size, f))
    stlib.check(res["mbufs_in_use"] == (0, 0), "flood: every mbuf back in its pool at exit")


def hold_flood_case(wd):
    """Later fragments whose first never comes, more than production's
    pool has mbufs: each held one is a private copy from the copies' pool,
    so that pool runs dry (counted) and production still gets every frame."""
    n = 9000
    frames = []
    for i in range(n):
        data = udp_bytes(False, "198.18.8.1", SERVER4, 4000, 53, b"h" * 600)
        frames.append(frag_frame(False, "198.18.8.1", SERVER4, 0x1000 + i, data, 304, 296, len(data)))
    res = run_flood(wd, "hold", frames, "mbufs = 1023\nfrag_table_size = 16384\nfrag_hold = 100000\n"
                    "frag_timeout = 60s\n")
    stlib.check(tee.read(os.path.join(wd, "prod.pcap")) == frames,
                "hold flood: production gets all %d fragments, in order" % n)
    f = res.get("frags") or {}
    stlib.check(f.get("hold_full", 0) > 0 and f.get("held", 0) + f.get("hold_full", 0) == n,
                "hold flood: the copies' pool ran dry first, counted as hold_full (%s)" % f)
    stlib.check(tee.read(os.path.join(wd, "shadow_a.pcap")) == [],
                "hold flood: nothing copied without its first fragment")
    stlib.check(res["mbufs_in_use"] == (0, 0), "hold flood: every mbuf back in its pool at exit")


def release_burst_case(wd):
    """A first fragment that releases 8 held ones, in a burst whose other 31
    packets are copied too: 40 copies for a batch of 32 (net_pcap reads the
    capture 32 frames a burst). The 8 past the batch are counted tx_full,
    never written past it; the rest go out; production gets every frame."""
    chunk, n_later = 104, 8
    data = udp_bytes(False, "198.18.9.1", SERVER4, 5000, 53, b"r" * (chunk * (n_later + 1) - 8))
    frags = [frag_frame(False, "198.18.9.1", SERVER4, 0x2222, data, off, chunk, len(data))
             for off in range(0, len(data), chunk)]
    single = [bytes(Ether(**L2) / IP(src="198.18.9.%d" % (2 + i % 200), dst=SERVER4) /
                    UDP(sport=6000 + i, dport=53) / Raw(b"s" * 32)) for i in range(55)]
    # burst 1: the 8 later fragments (held) and 24 others; burst 2: the
    # first fragment and 31 others
    frames = frags[1:] + single[:24] + frags[:1] + single[24:]
    res = run_flood(wd, "release", frames, "frag_timeout = 10s\n")
    stlib.check(tee.read(os.path.join(wd, "prod.pcap")) == frames,
                "release burst: production gets all %d frames, in order" % len(frames))
    a = res["shadows"]["a"]
    got = tee.read(os.path.join(wd, "shadow_a.pcap"))
    f = res.get("frags") or {}
    stlib.check(f.get("held") == n_later and f.get("released") == n_later,
                "release burst: 8 fragments held, then released with their first (%s)" % f)
    stlib.check(a.get("tx_full") == n_later and len(got) == len(frames) - n_later and
                a["copies"] - a.get("tx_full", 0) <= len(got),
                "release burst: the 8 copies past the burst's batch of 32 counted tx_full, the other %d "
                "sent (sent %d, %s)" % (len(frames) - n_later, len(got), a))
    stlib.check(res["mbufs_in_use"] == (0, 0), "release burst: every mbuf back in its pool at exit")


def response_frames(n):
    """Fragmented answers from the servers: server->client, never copied,
    never tracked."""
    out = []
    for i in range(n):
        v6 = i % 2 == 0
        cli = "2001:db8::%x" % (i + 1) if v6 else "198.18.0.%d" % (i + 1)
        srv = SERVER6 if v6 else SERVER4
        frames, _ = datagram(v6, srv, cli, 53, 1024 + i, 0x9000 + i, KINDS[i % 2])
        out += frames
    return out


def tap_case(wd):
    """Tap mode: both directions arrive on one port; which side is the
    server is told by its address and port, which later fragments lack."""
    items = build(120)
    resp = response_frames(20)
    frames = [raw for raw, _ in items]
    mixed = list(frames)
    for r in resp:
        mixed.insert(rnd.randrange(len(mixed)), r)
    tee.write_inputs(wd, mixed)
    ini = os.path.join(wd, "tap.ini")
    tee.write_ini(ini, """
[dataplane]
mode = tap
client_port = net_pcap0
servers = %s:53, [%s]:53
stats = false
frag_timeout = 300ms

[shadow.a]
port = net_pcap1
share = 0.5
dst_mac = %s
""" % (SERVER4, SERVER6, MAC))
    res = tee.run_dp(wd, "frag-tap-%d" % os.getpid(), ini, "a", inline=False)
    want = [raw for raw, info in items if in_share(info) and (info["kind"] is None or info["has_first"])]
    macs_ok, got_s = strip_mac(tee.read(os.path.join(wd, "shadow_a.pcap")), MAC)
    stlib.check(macs_ok and got_s == sorted(w[6:] for w in want),
                "tap: the shadow holds exactly the %d client->server frames of its flows' datagrams "
                "and packets (got %d), no answer" % (len(want), len(got_s)))
    frags = [info for _, info in items if info["kind"]]
    f = res.get("frags") or {}
    stlib.check(f.get("seen") == len(frags) and f.get("held") == sum(1 for i in frags if i["held"]),
                "tap: only client->server fragments tracked (%s)" % f)
    stlib.check(res["mbufs_in_use"] == (0, 0), "tap: every mbuf back in its pool at exit")


def inject_case(wd):
    """The inject port's fragments: a group's share of the injected flows
    gets all fragments of their datagrams; production gets nothing."""
    items = build(120)
    frames = [raw for raw, _ in items]
    tee.write_inputs(wd, frames, "inj.pcap")
    ini = os.path.join(wd, "inj.ini")
    tee.write_ini(ini, """
[dataplane]
mode = inline
client_port = net_pcap0
prod_port = net_pcap1
inject_port = net_pcap2
stats = false
frag_timeout = 300ms

[shadow.a]
port = net_pcap3
share = 0
inject = true
inject_share = 0.5
dst_mac = %s
""" % MAC)
    j = lambda n: os.path.join(wd, n)  # noqa: E731
    e = j("empty.pcap")
    vdevs = ["net_pcap0,rx_pcap=%s,tx_pcap=%s" % (e, j("c.pcap")),
             "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (e, j("p.pcap")),
             "net_pcap2,rx_pcap=%s,tx_pcap=%s" % (j("inj.pcap"), j("i.pcap")),
             "net_pcap3,rx_pcap=%s,tx_pcap=%s" % (e, j("a.pcap"))]
    cmd = [tee.DP] + stlib.eal_args("frag-inj-%d" % os.getpid(), vdevs) + \
        ["--", "--config", ini, "--duration", "3s"]
    _, _, err = stlib.run(cmd, timeout=60)
    print(err)
    res = stlib.parse_final(err)
    want = [raw for raw, info in items if in_share(info) and (info["kind"] is None or info["has_first"])]
    macs_ok, got_s = strip_mac(tee.read(j("a.pcap")), MAC)
    stlib.check(macs_ok and got_s == sorted(w[6:] for w in want),
                "inject: the group holds exactly the %d frames of its injected flows' datagrams and "
                "packets (got %d)" % (len(want), len(got_s)))
    stlib.check(tee.read(j("p.pcap")) == [], "inject: nothing reaches production")
    stlib.check(res["mbufs_in_use"] == (0, 0), "inject: every mbuf back in its pool at exit")


def shadow_untimed_case(wd):
    """The same without timing: the tee then hashes and chooses in one pass
    (dp_tee_burst), and fragments still take their datagram's choice."""
    shadow_case(wd, timing=False)


def main():
    for case in (shadow_case, shadow_untimed_case, flood_case, hold_flood_case, release_burst_case, tap_case, inject_case):
        wd = stlib.workdir(case.__name__)
        print("== %s in %s" % (case.__name__, wd))
        case(wd)
    print("all checks passed")


main()
