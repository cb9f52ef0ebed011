"""Chaos impairments on the shadow path (docs/dataplane.md, "Chaos"), on
net_pcap ports. net_pcap stamps what it writes with the time it sends it, so
the delay a group's copies get is measured against production's packets
and a group without chaos beside it.

- chaos_delay = 20ms: every copy is held (counted chaos_delayed), the copies
  leave in the input's order, and their added delay (median of shadow stamp
  minus production stamp, less the same for a clean group) is within
  [0.6, 2] x 20 ms; with 5 ms of normal jitter the copies still leave in
  order; production gets every packet, unchanged and in order.
- chaos_queue = 8 with chaos_delay = 50ms: the wheel fills, the rest are
  dropped and counted chaos_queue_full (copies + queue_full = input), the
  shadow port sent exactly the copies counted; production gets everything;
  every mbuf is back in its pool at exit.
- chaos_duplicate = 20%: duplicates counted, each right after its original
  in the shadow's capture; chaos_corrupt = 20%: corrupted copies differ
  from their packet in exactly one bit of the UDP payload (headers and
  checksums untouched), as many as counted, and datagrams without payload
  (padded to 60 bytes) never; chaos_loss_burst = 100%,5,50:
  the lost copies come in runs of mean length 5 (within 20%), as many as
  counted.
- control: chaos delay=... over the real control socket and shadowtap-ctl,
  shown by stats, bad values refused naming the key, chaos_off clears them;
  a bad chaos_* key in the config stops the program naming it.

usage: test_chaos_fx_pcap.py DATAPLANE_BINARY [CTL_BINARY]
"""
import math
import os
import random
import statistics
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stlib  # noqa: E402

try:
    from scapy.all import IP, UDP, Ether, Raw
except ImportError:
    stlib.skip("python3-scapy is not installed (scripts/setup.sh installs it)")

DP = sys.argv[1]
CTL = sys.argv[2] if len(sys.argv) > 2 else None
SERVER = "198.18.0.53"
PAYLOAD_OFF = 14 + 20 + 8
rnd = random.Random(1515)


PAYLOAD_LEN = 40


def make_pkts(n_flows, per_flow):
    """UDP packets of n_flows flows, interleaved, each payload unique (one
    header per flow built by scapy; the payloads after it differ, so the UDP
    checksum is right for the first packet of a flow only: the dataplane
    does not look at it)."""
    out = []
    for i in range(n_flows):
        src, sport = "10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255 or 1), 1024 + i % 50000
        hdr = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                    IP(src=src, dst=SERVER) / UDP(sport=sport, dport=53) /
                    Raw(b"\0" * PAYLOAD_LEN))[:-PAYLOAD_LEN]
        for k in range(per_flow):
            pay = b"chaos-%06d-%04d-" % (i, k)
            out.append(hdr + pay + rnd.randbytes(PAYLOAD_LEN - len(pay)))
    rnd.shuffle(out)
    return out


def write_pcap(path, pkts):
    """A microsecond pcap of raw Ethernet frames."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, b in enumerate(pkts):
            f.write(struct.pack("<IIII", 1700000000 + i // 1000000, i % 1000000, len(b), len(b)))
            f.write(b)


def read_pcap(path):
    """[(seconds, bytes)] of a pcap file (microsecond or nanosecond)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    scale = 1e-9 if magic == 0xA1B23C4D else 1e-6
    out, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append((sec + frac * scale, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def write_ini(wd, body):
    path = os.path.join(wd, "dp.ini")
    body = body.replace("[dataplane]\n", "[dataplane]\n" + stlib.endpoint_lines(wd) +
                        "tcp_sessions = 0\nclient_port = net_pcap0\nprod_port = net_pcap1\n"
                        "stats = false\nmode = inline\ntiming = false\n", 1)
    with open(path, "w") as f:
        f.write(body)
    return path


def vdevs(wd, groups):
    empty = os.path.join(wd, "empty.pcap")
    v = ["net_pcap0,rx_pcap=%s,tx_pcap=%s" % (os.path.join(wd, "in.pcap"), os.path.join(wd, "client_out.pcap")),
         "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (empty, os.path.join(wd, "prod.pcap"))]
    for i, g in enumerate(groups, 2):
        v.append("net_pcap%d,rx_pcap=%s,tx_pcap=%s" % (i, empty, os.path.join(wd, "shadow_%s.pcap" % g)))
    return v


def run_dp(wd, prefix, ini, groups, duration="3s"):
    cmd = [DP] + stlib.eal_args(prefix, vdevs(wd, groups)) + ["--", "--config", ini, "--duration", duration]
    _, _, err = stlib.run(cmd, timeout=60)
    print("\n".join(l for l in err.splitlines() if "shadow" in l or "mbufs" in l))
    return stlib.parse_final(err)


def setup(wd, pkts):
    write_pcap(os.path.join(wd, "in.pcap"), pkts)
    write_pcap(os.path.join(wd, "empty.pcap"), [])


def check_prod(wd, pkts):
    prod = [b for _, b in read_pcap(os.path.join(wd, "prod.pcap"))]
    stlib.check(prod == pkts, "production: all %d packets forwarded, unchanged and in order (%d)"
                % (len(pkts), len(prod)))


def delay_case(wd):
    pkts = make_pkts(300, 4)
    n = len(pkts)
    setup(wd, pkts)
    ini = write_ini(wd, """
[dataplane]

[shadow.slow]
port = net_pcap2
share = 1
chaos_delay = 20ms
dst_mac = 02:00:00:00:00:02

[shadow.jit]
port = net_pcap4
share = 1
chaos_delay = 20ms
chaos_jitter = 5ms
chaos_delay_dist = normal
dst_mac = 02:00:00:00:00:02

[shadow.clean]
port = net_pcap3
share = 1
dst_mac = 02:00:00:00:00:02
""")
    res = run_dp(wd, "chaos-fx-delay-%d" % os.getpid(), ini, ["slow", "clean", "jit"])
    check_prod(wd, pkts)
    slow, clean = res["shadows"]["slow"], res["shadows"]["clean"]
    stlib.check(slow["copies"] == n and slow.get("chaos_delayed", 0) == n,
                "slow: every copy sent (%d) and delayed (%d)" % (slow["copies"], slow.get("chaos_delayed", 0)))
    prod_t = {b: t for t, b in read_pcap(os.path.join(wd, "prod.pcap"))}
    got = read_pcap(os.path.join(wd, "shadow_slow.pcap"))
    ref = read_pcap(os.path.join(wd, "shadow_clean.pcap"))
    stlib.check([b for _, b in got] == pkts, "slow: the copies left in the input's order (%d)" % len(got))
    stlib.check(len(ref) == n, "clean: every copy (%d)" % len(ref))
    d_slow = statistics.median(t - prod_t[b] for t, b in got)
    d_clean = statistics.median(t - prod_t[b] for t, b in ref)
    added = (d_slow - d_clean) * 1e3
    print("median shadow - prod: slow %.3f ms, clean %.3f ms, added %.3f ms" % (d_slow * 1e3, d_clean * 1e3, added))
    stlib.check(12 <= added <= 40, "added delay %.2f ms within [0.6, 2] x 20 ms" % added)
    # With jitter the copies of a burst keep their order: each leaves no
    # earlier than the one before it, so a burst read at once leaves
    # bunched behind its latest draw (the median moves up a few sigma).
    jit = read_pcap(os.path.join(wd, "shadow_jit.pcap"))
    stlib.check([b for _, b in jit] == pkts, "jit: 20ms +- 5ms normal, copies still in the input's order (%d)" % len(jit))
    d_jit = (statistics.median(t - prod_t[b] for t, b in jit) - d_clean) * 1e3
    print("jit: added %.3f ms" % d_jit)
    stlib.check(12 <= d_jit <= 60, "jit: added delay %.2f ms within [0.6 x 20, 2 x (20 + 2 x 5)] ms" % d_jit)
    stlib.check(res["mbufs_in_use"] in (None, (0, 0)), "mbufs back in their pools (%s)" % (res["mbufs_in_use"],))


def queue_full_case(wd):
    pkts = make_pkts(500, 6)
    n = len(pkts)
    setup(wd, pkts)
    ini = write_ini(wd, """
[dataplane]
chaos_queue = 8

[shadow.slow]
port = net_pcap2
share = 1
chaos_delay = 50ms
dst_mac = 02:00:00:00:00:02
""")
    res = run_dp(wd, "chaos-fx-qfull-%d" % os.getpid(), ini, ["slow"])
    check_prod(wd, pkts)
    s = res["shadows"]["slow"]
    full = s.get("chaos_queue_full", 0)
    got = [b for _, b in read_pcap(os.path.join(wd, "shadow_slow.pcap"))]
    stlib.check(full > 0 and s["copies"] + full == n,
                "a wheel of 8: copies %d + chaos_queue_full %d = %d packets" % (s["copies"], full, n))
    stlib.check(s["copies"] >= 8 and s.get("chaos_delayed", 0) == s["copies"],
                "the copies that found room were delayed and sent (%d)" % s.get("chaos_delayed", 0))
    stlib.check(len(got) == s["copies"], "the shadow port sent the %d copies counted (%d)" % (s["copies"], len(got)))
    it = iter(pkts)
    stlib.check(all(any(g == w for w in it) for g in got), "what reached the shadow is the input, in order")
    stlib.check(res["mbufs_in_use"] in (None, (0, 0)), "mbufs back in their pools (%s)" % (res["mbufs_in_use"],))


def bit_diff(a, b):
    return [i for i in range(len(a)) if a[i] != b[i]]


def fx_case(wd):
    # and 400 datagrams without payload, padded to 60 bytes by a trailer
    # of 18 bytes: nothing of theirs to corrupt (the trailer was flipped
    # and counted corrupted)
    padded = [bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                    IP(src="10.200.0.1", dst=SERVER) / UDP(sport=20000 + i, dport=53)) + b"\0" * 18
              for i in range(400)]
    pkts = make_pkts(3000, 4) + padded
    n = len(pkts)
    setup(wd, pkts)
    ini = write_ini(wd, """
[dataplane]

[shadow.dup]
port = net_pcap2
share = 1
chaos_duplicate = 20%
dst_mac = 02:00:00:00:00:02

[shadow.corrupt]
port = net_pcap3
share = 1
chaos_corrupt = 20%
dst_mac = 02:00:00:00:00:02

[shadow.burst]
port = net_pcap4
share = 1
chaos_loss_burst = 100%, 5, 50
dst_mac = 02:00:00:00:00:02
""")
    res = run_dp(wd, "chaos-fx-fx-%d" % os.getpid(), ini, ["dup", "corrupt", "burst"])
    check_prod(wd, pkts)
    sd = 4 * math.sqrt(n * 0.2 * 0.8)

    d = res["shadows"]["dup"]
    dups = d.get("chaos_duplicated", 0)
    got = [b for _, b in read_pcap(os.path.join(wd, "shadow_dup.pcap"))]
    stlib.check(abs(dups - 0.2 * n) <= sd, "duplicate: %d of %d, within 20%% +- %.0f" % (dups, n, sd))
    stlib.check(d["copies"] == n + dups and len(got) == d["copies"],
                "duplicate: copies %d = packets + duplicates, all sent (%d)" % (d["copies"], len(got)))
    dedup = [b for i, b in enumerate(got) if i == 0 or got[i - 1] != b]
    stlib.check(dedup == pkts and len(got) - len(dedup) == dups,
                "duplicate: each duplicate right after its original (%d pairs)" % (len(got) - len(dedup)))

    c = res["shadows"]["corrupt"]
    cor = c.get("chaos_corrupted", 0)
    got = [b for _, b in read_pcap(os.path.join(wd, "shadow_corrupt.pcap"))]
    stlib.check(len(got) == n == c["copies"], "corrupt: every copy sent (%d)" % len(got))
    changed, one_bit = 0, True
    for a, b in zip(pkts, got):
        if a == b:
            continue
        changed += 1
        diff = bit_diff(a, b)
        x = a[diff[0]] ^ b[diff[0]] if len(diff) == 1 else 0
        one_bit &= len(a) == len(b) and len(diff) == 1 and diff[0] >= PAYLOAD_OFF and x & (x - 1) == 0
    stlib.check(abs(cor - 0.2 * (n - len(padded))) <= sd and changed == cor,
                "corrupt: %d counted, %d seen changed, within 20%% +- %.0f" % (cor, changed, sd))
    stlib.check(one_bit, "corrupt: each changed copy differs in one bit of its UDP payload, "
                "headers and checksum as they were")
    stlib.check(got[-len(padded):] == padded, "corrupt: no datagram without payload changed "
                "(%d of %d)" % (sum(a != b for a, b in zip(padded, got[-len(padded):])), len(padded)))

    b = res["shadows"]["burst"]
    lost = b.get("chaos_loss_burst", 0)
    got = set(bb for _, bb in read_pcap(os.path.join(wd, "shadow_burst.pcap")))
    mask = [p not in got for p in pkts]
    runs, cur = [], 0
    for m in mask + [False]:
        if m:
            cur += 1
        elif cur:
            runs.append(cur)
            cur = 0
    mean = sum(runs) / max(1, len(runs))
    stlib.check(lost == sum(mask) and b["copies"] == n - lost,
                "loss_burst: %d counted, %d missing at the shadow" % (lost, sum(mask)))
    stlib.check(4 <= mean <= 6, "loss_burst: mean run of losses %.2f over %d runs, 5 +- 20%%" % (mean, len(runs)))
    rate = lost / n
    stlib.check(0.05 <= rate <= 0.14, "loss_burst: loss rate %.3f near 5/55 = 0.091" % rate)
    stlib.check(res["mbufs_in_use"] in (None, (0, 0)), "mbufs back in their pools (%s)" % (res["mbufs_in_use"],))


def control_case(wd):
    try:
        import kpisub
    except SystemExit:
        stlib.skip("no pyzmq/msgpack for the control round trip")
    setup(wd, [])
    bad = write_ini(wd, """
[dataplane]

[shadow.canary]
port = net_pcap2
share = 1
chaos_delay = 5 parsecs
""")
    rc, _, err = stlib.run([DP] + stlib.eal_args("chaos-fx-bad-%d" % os.getpid(), vdevs(wd, ["canary"])) +
                           ["--", "--config", bad, "--duration", "1s"], timeout=30, check_rc=False)
    stlib.check(rc != 0 and "chaos_delay" in err, "config: chaos_delay = 5 parsecs refused naming the key (%s)"
                % [l for l in err.splitlines() if "chaos_delay" in l][:1])
    ini = write_ini(wd, """
[dataplane]

[shadow.canary]
port = net_pcap2
share = 1
dst_mac = 02:00:00:00:00:02
""")
    ep = stlib.zmq_endpoints(wd)[1]
    cmd = [DP] + stlib.eal_args("chaos-fx-ctl-%d" % os.getpid(), vdevs(wd, ["canary"])) + \
        ["--", "--config", ini, "--duration", "20s"]
    print("run: " + " ".join(cmd))
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        rep = None
        while time.monotonic() < deadline:
            try:
                rep = kpisub.request(ep, {"cmd": "stats"}, timeout_ms=500)
                break
            except Exception:  # not bound yet
                time.sleep(0.2)
        stlib.check(rep is not None and rep.get("ok"), "control socket answers stats")
        g = rep["groups"][0]
        stlib.check(g["chaos"]["delay"] == "0ms" and g["chaos"]["loss_burst"] == "none",
                    "stats: no impairment at start (%s)" % g["chaos"])
        stlib.check("chaos_queue_full" in g["drops"] and "chaos_loss_burst" in g["drops"] and
                    set(g["chaos_effects"]) == {"delayed", "duplicated", "corrupted", "reordered", "shaped",
                                                 "response_lost", "response_lost_burst", "response_delayed",
                                                 "response_queue_full"},
                    "stats: the new drop reasons and the effects (%s)" % g["chaos_effects"])
        rep = kpisub.request(ep, {"cmd": "chaos", "group": "canary", "delay": "5ms", "jitter": "1ms",
                                  "delay_dist": "paretonormal", "duplicate": 0.01})
        c = rep.get("group", {}).get("chaos", {})
        stlib.check(rep.get("ok") and c["delay"] == "5ms" and c["jitter"] == "1ms" and
                    c["delay_dist"] == "paretonormal" and c["duplicate"] == "0.01",
                    "chaos canary delay=5ms jitter=1ms delay_dist=paretonormal duplicate=0.01: applied (%s)" % c)
        for bad_req, key in (({"delay": "-1ms"}, "delay"), ({"delay": "3s"}, "delay"),
                             ({"delay_dist": "pareto"}, "delay_dist"), ({"corrupt": "120%"}, "corrupt"),
                             ({"loss_burst": "1,0,5"}, "loss_burst"), ({"duplicate": [1]}, "duplicate"),
                             ({"delay": "0", "jitter": "1ms"}, "chaos_jitter")):
            req = {"cmd": "chaos", "group": "canary"}
            req.update(bad_req)
            rep = kpisub.request(ep, req)
            stlib.check(rep.get("ok") is False and key in rep.get("error", ""),
                        "refused %s, naming %s: %s" % (bad_req, key, rep.get("error")))
        rep = kpisub.request(ep, {"cmd": "stats"})
        c = rep["groups"][0]["chaos"]
        stlib.check(c["delay"] == "5ms" and c["jitter"] == "1ms", "the refused requests changed nothing (%s)" % c)
        if CTL:
            _, out, _ = stlib.run([CTL, "-e", ep, "chaos", "canary", "delay=2ms", "loss_burst=50%,3,100",
                                   "corrupt=0.1%"], timeout=10)
            o = out.replace(" ", "")
            stlib.check('"delay":"2ms"' in o and '"loss_burst":"0.5,3,100"' in o and '"corrupt":"0.001"' in o,
                        "shadowtap-ctl chaos canary delay=2ms loss_burst=50%%,3,100 corrupt=0.1%%: %s" % o[:200])
            rc, _, err = stlib.run([CTL, "-e", ep, "chaos", "canary", "delay=abc"], timeout=10, check_rc=False)
            stlib.check(rc != 0 and "delay" in err, "shadowtap-ctl refuses delay=abc: %s" % err.strip())
        rep = kpisub.request(ep, {"cmd": "chaos_off", "group": "canary"})
        c = rep["group"]["chaos"]
        stlib.check(rep["ok"] and c["delay"] == "0ms" and c["jitter"] == "0ms" and c["loss_burst"] == "none"
                    and c["corrupt"] == "0", "chaos_off canary: no impairment left (%s)" % c)
    finally:
        p.terminate()
        try:
            _, err = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
    stlib.check("canary chaos loss 0 down -1 delay 5ms jitter 1ms paretonormal" in err,
                "the changes are logged (NOTICE)")


def main():
    if not os.path.exists(DP):
        stlib.fail("no dataplane binary " + DP)
    cases = (("delay", delay_case), ("queue_full", queue_full_case), ("fx", fx_case), ("control", control_case))
    only = os.environ.get("CHAOS_FX_CASES")
    for name, case in cases:
        if only and name not in only.split(","):
            continue
        print("== %s" % name)
        case(stlib.workdir("chaos-fx-" + name))
    print("PASS")


if __name__ == "__main__":
    main()
