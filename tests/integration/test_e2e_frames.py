"""IP fragments and jumbo frames end to end, inline on af_packet ports
between network namespaces: UDP datagrams of 100, 1472, 3000, 8000 and
60,000 bytes over a 1500-byte MTU on every link (the kernel sends the big
ones as IPv4 fragments), and over IPv6 of 100, 1452, 3000, 8000 and
60,000 bytes on the same links (the sockets fragment, 1448 bytes of
payload a fragment); then of 8972 and 60,000 bytes and 1 MB TCP POSTs over
MTU 9000 on every link (a dataplane run per MTU); each with the shadow at
share 1.0, then at 0.5 (set_share on the control socket). Every flow has a
source port of its own for the whole test, so no flow the dataplane
remembers from one phase is seen again in the next.

The af_packet port's fanout hands the dataplane IPv4 datagrams whole
(defrag) but IPv6 fragments as they are: the IPv6 case is the one that
exercises the dataplane's fragment table (every fragment shadowed like the
flow its first fragment names). Neighbour discovery crosses the dataplane
between client and production; on the shadow port the dataplane answers
it itself.

Checks: production echoes every datagram byte for byte, and its server
sees each exactly once; the shadow's server sees whole datagrams (length
and SHA-256 of what the client sent), exactly those of the flows the hash
selects (all at share 1.0; for IPv6 the hash of the 5-tuple the first
fragment carries); no shadow answer reaches the client; every
POST is answered by production and, for the selected connections, read
whole by the shadow; the dataplane exits 0 with every mbuf back in its
pool, its ports on the links' MTU, no production packet refused
(tx_full) and nothing too big for the prod and client ports (the links'
MTUs are equal); in the IPv6 run its fragment counters show exactly the
fragments and first fragments the client sent, none refused for want of
room (table_full, hold_full) and no datagram left incomplete (expired,
held_expired 0; every fragment held was released).

usage: test_e2e_frames.py DATAPLANE_BINARY"""
import collections
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import nginx  # noqa: E402
import stlib  # noqa: E402
import sthash  # noqa: E402
import kpisub  # noqa: E402  (skips without python3-zmq)

DP = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
CLIENT, SERVER, PORT = "198.18.0.1", "198.18.0.53", 7
CLIENT6, SERVER6 = "2001:db8::1", "2001:db8::53"
ADDRS = {4: (CLIENT, SERVER), 6: (CLIENT6, SERVER6)}
FLOWS, REQS, CONC, TIMEOUT_MS = 20, 2, 5, 1500
POSTS, POST_SIZE = 4, 1 << 20
SHARES = (1.0, 0.5)
# (MTU, UDP payload sizes over IPv4, over IPv6, TCP POSTs?) per dataplane run
RUNS = ((1500, (100, 1472, 3000, 8000, 60000), (100, 1452, 3000, 8000, 60000), False),
        (9000, (8972, 60000), (), True))
V6_OFFSET = 500  # source ports of IPv6 flows: a phase's base + this


def wait_file(path, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def selected(sport, share, proto=17, dport=PORT, fam=4):
    cl, srv = ADDRS[fam]
    return sthash.in_range(sthash.flow_hash(cl, sport, srv, dport, proto), 0, share)


def v6_frags(size, mtu):
    """Fragments the kernel sends a UDP datagram of size payload bytes in
    over IPv6 (RFC 8200: 8-byte units after a 40-byte header and an 8-byte
    fragment header); 1 when it fits."""
    if size + 8 + 40 <= mtu:
        return 1
    per = (mtu - 40 - 8) & ~7
    return -(-(size + 8) // per)


def udp_log(path, ports):
    """Counter of (sport, length, sha256) the server logged from ports."""
    c = collections.Counter()
    for line in open(path):
        f = line.split()
        if len(f) == 3 and int(f[0]) in ports:
            c[(int(f[0]), int(f[1]), f[2])] += 1
    return c


def settle(path, ports, want, timeout=5.0):
    """Reads a server's log until it holds `want` datagrams from ports, or
    the time is up (copies reach the shadow after the client has its echo)."""
    end = time.monotonic() + timeout
    while True:
        got = udp_log(path, ports)
        if sum(got.values()) >= want or time.monotonic() > end:
            return got
        time.sleep(0.1)


def client(ns, sizes, base, fam):
    argv = ["ip", "netns", "exec", ns, PY, os.path.join(HERE, "udp_frames_client.py"), ADDRS[fam][1], str(PORT),
            ",".join(str(s) for s in sizes), str(FLOWS), str(REQS), str(base), str(CONC), str(TIMEOUT_MS)]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        stlib.fail("udp client timed out")
    if out.returncode != 0:
        stlib.fail("udp client failed: " + out.stderr)
    return json.loads(out.stdout)


def posts(ns, base):
    try:
        out = subprocess.run(["ip", "netns", "exec", ns, PY, os.path.join(HERE, "http_client.py"),
                              "post", SERVER, str(POSTS), str(POST_SIZE), str(base)],
                             capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        stlib.fail("http client timed out")
    if out.returncode != 0:
        # a POST production never answers ends in a socket timeout
        return {"ok": 0, "bad": POSTS, "ports": [], "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout)


def udp_phase(ns, logs, mtu, sizes, share, base, fam):
    """One client run; checks production's echoes and the shadow's copies."""
    what = "MTU %d, IPv%d, share %g" % (mtu, fam, share)
    r = client(ns, sizes, base, fam)
    ports = set(range(base, base + FLOWS * len(sizes)))
    sent = collections.Counter(tuple(x) for x in r["sent"])
    want = collections.Counter({k: n for k, n in sent.items() if selected(k[0], share, fam=fam)})
    prod = settle(logs[fam]["prod"], ports, sum(sent.values()))
    shadow = settle(logs[fam]["shadow"], ports, sum(want.values()))
    print("%s: %.1f s" % (what, r["seconds"]))
    print("  %6s %5s %5s %5s %5s %5s %4s %4s | %5s %5s %5s" % (
        "size", "sent", "echo", "tmo", "late", "extra", "bad", "serr", "prod", "sh_wt", "sh_ok"))
    for size in sizes:
        x = r["sizes"][str(size)]
        pn = sum(n for k, n in prod.items() if k[1] == size)
        wn = sum(n for k, n in want.items() if k[1] == size)
        okn = sum(min(n, shadow[k]) for k, n in want.items() if k[1] == size)
        print("  %6d %5d %5d %5d %5d %5d %4d %4d | %5d %5d %5d" % (
            size, x["requests"], x["answered"], x["timeouts"], x["late"], x["extra"], x["bad"],
            x["send_errors"], pn, wn, okn))
    if any(x["send_errors"] for x in r["sizes"].values()):
        print("  first send error:", [x.get("send_error") for x in r["sizes"].values() if x["send_errors"]][0])
    return r, sent, want, prod, shadow, what


def udp_checks(r, sent, want, prod, shadow, what, sizes, share):
    total = FLOWS * REQS * len(sizes)
    answered = sum(x["answered"] for x in r["sizes"].values())
    short = {s: x["requests"] - x["answered"] for s, x in r["sizes"].items() if x["answered"] != x["requests"]}
    stlib.check(len(r["sent"]) == total and answered == total,
                "%s: production echoed all %d datagrams byte for byte (%d; unanswered by size %s)"
                % (what, total, answered, short))
    stray = sum(x["extra"] + x["bad"] + x["late"] for x in r["sizes"].values())
    stlib.check(stray == 0, "%s: no shadow answer nor stray datagram reached the client (%d)" % (what, stray))
    stlib.check(prod == sent, "%s: production's server got every datagram whole, exactly once "
                "(%d of %d)" % (what, sum((prod & sent).values()), sum(sent.values())))
    nflows = len(set(k[0] for k in want))
    if share < 1:
        stlib.check(0 < nflows < FLOWS * len(sizes), "%s: the hash selects some flows, not all (%d of %d)"
                    % (what, nflows, FLOWS * len(sizes)))
    else:
        stlib.check(want == sent, "%s: the hash selects every flow" % what)
    missing, extra = want - shadow, shadow - want
    stlib.check(not missing and not extra,
                "%s: the shadow got whole datagrams of exactly its %d flows (%d datagrams; missing %d, "
                "extra %d%s)" % (what, nflows, sum(want.values()), sum(missing.values()),
                                 sum(extra.values()),
                                 "; missing by size %s" % dict(collections.Counter(k[1] for k in missing))
                                 if missing else ""))


def post_phase(ns, post_log, mtu, share, base):
    """POSTs through the dataplane; returns what post_checks judges."""
    what = "MTU %d, share %g" % (mtu, share)
    r = posts(ns, base)
    print("%s: POSTs %s" % (what, r))
    want = set(p for p in r["ports"] if selected(p, share, 6, 80))
    end = time.monotonic() + 10
    while True:
        got = {}
        for port, _, st, length in nginx.read_log(post_log):
            if port in r["ports"]:
                got.setdefault(port, []).append((st, length))
        whole = set(p for p in want if got.get(p) == [(200, POST_SIZE)])
        if whole == want or time.monotonic() > end:
            break
        time.sleep(0.2)
    return r, want, got, whole, what, share


def post_checks(r, want, got, whole, what, share):
    stlib.check(r["ok"] == POSTS and r["bad"] == 0,
                "%s: production answered all %d POSTs of %d bytes (%d)" % (what, POSTS, POST_SIZE, r["ok"]))
    if share < 1:
        stlib.check(0 < len(want) < POSTS, "%s: the hash selects some connections, not all (%d of %d)"
                    % (what, len(want), POSTS))
    stlib.check(whole == want and set(got) <= want,
                "%s: the shadow read every selected body whole (%d of %d; logged %s)"
                % (what, len(whole), len(want), {p: got[p] for p in got}))


def frag_checks(res, mtu, v6_results):
    """The fragment table's counters against what the IPv6 clients sent
    (IPv4 reaches the dataplane reassembled, so every fragment is IPv6)."""
    fr = res.get("frags")
    stlib.check(fr is not None, "MTU %d: the dataplane printed its fragment counters" % mtu)
    if fr is None:
        return
    sent = [k for phase, _ in v6_results for k, n in phase[1].items() for _ in range(n)]
    want_seen = sum(v6_frags(k[1], mtu) for k in sent if v6_frags(k[1], mtu) > 1)
    want_first = sum(1 for k in sent if v6_frags(k[1], mtu) > 1)
    stlib.check(fr["seen"] == want_seen and fr["first"] == want_first and want_first > 0,
                "MTU %d: the fragment table saw every IPv6 fragment the client sent (seen %d of %d, "
                "first %d of %d)" % (mtu, fr["seen"], want_seen, fr["first"], want_first))
    stlib.check(fr["table_full"] == 0 and fr["hold_full"] == 0,
                "MTU %d: no fragment refused for want of room (table_full %d, hold_full %d)"
                % (mtu, fr["table_full"], fr["hold_full"]))
    stlib.check(fr["expired"] == 0 and fr["held_expired"] == 0 and fr["held"] == fr["released"],
                "MTU %d: no datagram left incomplete (expired %d, held_expired %d; held %d, released %d)"
                % (mtu, fr["expired"], fr["held_expired"], fr["held"], fr["released"]))


def dataplane_run(t, tag, wd, cli, logs, mtu, sizes, sizes6, with_posts, base):
    ini = os.path.join(wd, "dp-%d.ini" % mtu)
    with open(ini, "w") as f:
        f.write("[dataplane]\n" + stlib.endpoint_lines(wd) + """mode = inline
client_port = net_af_packet0
prod_port = net_af_packet1
servers = %s, %s
interval = 1s

[shadow.s]
port = net_af_packet2
share = %g
""" % (SERVER, SERVER6, SHARES[0]))
    vdevs = ["net_af_packet0,iface=%sc" % tag, "net_af_packet1,iface=%sp" % tag,
             "net_af_packet2,iface=%ss" % tag]
    dp_err = os.path.join(wd, "dataplane-%d.err" % mtu)
    dp = t.spawn(None, [DP] + stlib.eal_args("e2e-frames-%s-%d" % (tag, mtu), vdevs) +
                 ["--", "--config", ini, "--duration", "150s"],
                 stdout=subprocess.DEVNULL, stderr=open(dp_err, "w"))
    # Let the dataplane resolve the shadow's MAC before counting copies.
    time.sleep(3)
    if dp.poll() is not None:
        stlib.fail("dataplane exited: " + open(dp_err).read())
    _, ctl_ep = stlib.zmq_endpoints(wd)
    results, v6_results, post_results = [], [], []
    # Checks wait until the dataplane has stopped and printed its counters.
    for i, share in enumerate(SHARES):
        if i > 0:
            rep = kpisub.request(ctl_ep, {"cmd": "set_share", "group": "s", "share": share})
            stlib.check(rep.get("ok") is True, "MTU %d: set_share %g (%s)" % (mtu, share, rep.get("error", "ok")))
        results.append((udp_phase(cli, logs, mtu, sizes, share, base + 1000 * i, 4), share))
        if sizes6:
            v6_results.append((udp_phase(cli, logs, mtu, sizes6, share, base + 1000 * i + V6_OFFSET, 6),
                               share))
        if with_posts:
            post_results.append(post_phase(cli, logs["post"], mtu, share, base + 5000 + 1000 * i))
    dp.send_signal(signal.SIGINT)
    try:
        dp.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stlib.fail("MTU %d: the dataplane did not stop within 30 s of SIGINT" % mtu)
    err = open(dp_err).read()
    print(err[-2500:])
    for phase, share in results:
        udp_checks(*phase, sizes, share)
    for phase, share in v6_results:
        udp_checks(*phase, sizes6, share)
    for phase in post_results:
        post_checks(*phase)
    res = stlib.parse_final(err)
    stlib.check(dp.returncode == 0, "MTU %d: the dataplane exited cleanly (%d)" % (mtu, dp.returncode))
    stlib.check(res["mbufs_in_use"] == (0, 0), "MTU %d: every mbuf back in its pool at exit (%s)"
                % (mtu, res["mbufs_in_use"]))
    prod, cl = res["ports"].get("prod", {}), res["ports"].get("client", {})
    mtus = {role: res["ports"].get(role, {}).get("mtu") for role in ("client", "prod", "shadow")}
    stlib.check(set(mtus.values()) == {mtu}, "MTU %d: every port took its interface's MTU (%s)" % (mtu, mtus))
    stlib.check(prod.get("tx_full", -1) == 0 and cl.get("tx_full", -1) == 0,
                "MTU %d: no production packet refused by a TX queue (prod %s, client %s)"
                % (mtu, prod.get("tx_full"), cl.get("tx_full")))
    stlib.check(prod.get("too_big", 0) == 0 and cl.get("too_big", 0) == 0,
                "MTU %d: nothing too big for the prod and client ports (%d, %d)"
                % (mtu, prod.get("too_big", 0), cl.get("too_big", 0)))
    if sizes6:
        frag_checks(res, mtu, v6_results)


def set_mtu(namespaces, mtu):
    """Every veth end, both sides, before the dataplane starts."""
    for ns, outside in namespaces:
        netns.sh("ip link set %s mtu %d" % (outside, mtu))
        netns.sh("ip -n %s link set eth0 mtu %d" % (ns, mtu))


def main():
    netns.require()
    nginx.require()
    tag = "f%d" % (os.getpid() % 100000)
    wd = stlib.workdir("e2e-frames")
    t_start = time.monotonic()
    with netns.Topology(tag) as t:
        cli, prod, shd = t.ns("c"), t.ns("p"), t.ns("s")
        t.veth(cli, "eth0", "%sc" % tag, addr=CLIENT + "/24", addr6=CLIENT6 + "/64")
        t.veth(prod, "eth0", "%sp" % tag, addr=SERVER + "/24", addr6=SERVER6 + "/64")
        t.veth(shd, "eth0", "%ss" % tag, addr=SERVER + "/24", addr6=SERVER6 + "/64")
        ends = ((cli, "%sc" % tag), (prod, "%sp" % tag), (shd, "%ss" % tag))
        logs = {4: {}, 6: {}}
        for fam in (4, 6):
            for name, ns in (("prod", prod), ("shadow", shd)):
                log = logs[fam][name] = os.path.join(wd, "udp%d-%s.log" % (fam, name))
                t.spawn(ns, [PY, os.path.join(HERE, "udp_frames_server.py"), ADDRS[fam][1], str(PORT), log])
                if not wait_file(log + ".ready"):
                    stlib.fail("%s IPv%d UDP server did not start" % (name, fam))
        pconf, _ = nginx.write_conf(wd, "prod", SERVER + ":80", access_log=False)
        t.spawn(prod, nginx.argv(pconf))
        # The shadow's HTTP server reads every body and logs its length.
        logs["post"] = os.path.join(wd, "post.log")
        open(logs["post"], "a").close()
        t.spawn(shd, [PY, os.path.join(HERE, "slow_http.py"), SERVER, "80", "0", logs["post"]])
        base = 20000
        for mtu, sizes, sizes6, with_posts in RUNS:
            set_mtu(ends, mtu)
            dataplane_run(t, tag, wd, cli, logs, mtu, sizes, sizes6, with_posts, base)
            base += 2000
    print("all checks passed in %.0f s" % (time.monotonic() - t_start))


main()
