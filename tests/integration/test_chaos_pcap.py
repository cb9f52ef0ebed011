"""Chaos on the shadow path (docs/dataplane.md, "Chaos"), on net_pcap ports.

- chaos_loss = 10% on a share-1 group loses 10% of its copies within a
  binomial bound, counted chaos_loss; a group beside it without chaos and
  production get every packet (production's output equals the input).
- chaos_down drops exactly the copies of the flows hashing to that
  instance (counted chaos_down), the others go to their own instance;
  chaos_down_respread moves them to the other instances by a remix of the
  flow hash, and no other flow moves.
- chaos / chaos_off over the real control socket: applied, shown by stats,
  and a bad request is refused and changes nothing.

usage: test_chaos_pcap.py DATAPLANE_BINARY [CTL_BINARY]
"""
import math
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stlib  # noqa: E402
import sthash  # noqa: E402

try:
    from scapy.all import IP, UDP, Ether, Raw, rdpcap, wrpcap
except ImportError:
    stlib.skip("python3-scapy is not installed (scripts/setup.sh installs it)")

DP = sys.argv[1]
CTL = sys.argv[2] if len(sys.argv) > 2 else None
SERVER = "198.18.0.53"
INST = ["198.18.1.10", "198.18.1.11", "198.18.1.12"]
INST_MAC = ["02:00:00:00:01:%02x" % (0x10 + i) for i in range(3)]
rnd = random.Random(15)


def instance_of(h, n):
    """The dataplane's choice of instance (mirror.c pick_instance)."""
    return (((h * 2654435761) & 0xFFFFFFFF) * n) >> 32


def remix(h):
    """murmur3's finalizer (chaos.h dp_chaos_remix)."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h


def respread_pick(h, n, down):
    j = (remix(h) * (n - 1)) >> 32
    return j + 1 if j >= down else j


def make_pkts(n_flows, per_flow):
    """UDP flows, interleaved: [(bytes, hash)]."""
    out = []
    for i in range(n_flows):
        src, sport = "10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255 or 1), 1024 + i % 50000
        h = sthash.flow_hash(src, sport, SERVER, 53, 17)
        for k in range(per_flow):
            p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / \
                IP(src=src, dst=SERVER) / UDP(sport=sport, dport=53) / Raw(b"c%d-%d" % (i, k))
            out.append((bytes(p), h))
    rnd.shuffle(out)  # flows interleave; order within a flow does not matter here
    return out


def write_ini(wd, body):
    path = os.path.join(wd, "dp.ini")
    body = body.replace("[dataplane]\n", "[dataplane]\n" + stlib.endpoint_lines(wd) +
                        "tcp_sessions = 0\nclient_port = net_pcap0\nprod_port = net_pcap1\n"
                        "stats = false\n", 1)
    with open(path, "w") as f:
        f.write(body)
    return path


def vdevs(wd, groups, client_rx="in.pcap"):
    empty = os.path.join(wd, "empty.pcap")
    v = ["net_pcap0,rx_pcap=%s,tx_pcap=%s" % (os.path.join(wd, client_rx), os.path.join(wd, "client_out.pcap")),
         "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (empty, os.path.join(wd, "prod.pcap"))]
    for i, g in enumerate(groups, 2):
        v.append("net_pcap%d,rx_pcap=%s,tx_pcap=%s" % (i, empty, os.path.join(wd, "shadow_%s.pcap" % g)))
    return v


def run_dp(wd, prefix, ini, groups, duration="3s"):
    cmd = [DP] + stlib.eal_args(prefix, vdevs(wd, groups)) + ["--", "--config", ini, "--duration", duration]
    _, _, err = stlib.run(cmd, timeout=60)
    print("\n".join(l for l in err.splitlines() if "shadow" in l or "port" in l or "mbufs" in l))
    return stlib.parse_final(err)


def read(path):
    return [bytes(p) for p in rdpcap(path)] if os.path.getsize(path) > 24 else []


def loss_case(wd):
    pkts = make_pkts(2000, 3)
    n = len(pkts)
    wrpcap(os.path.join(wd, "in.pcap"), [Ether(raw) for raw, _ in pkts])
    wrpcap(os.path.join(wd, "empty.pcap"), [])
    ini = write_ini(wd, """
[dataplane]
mode = inline
timing = false

[shadow.lossy]
port = net_pcap2
share = 1
chaos_loss = 10%
dst_mac = 02:00:00:00:00:02

[shadow.clean]
port = net_pcap3
share = 1
dst_mac = 02:00:00:00:00:02
""")
    res = run_dp(wd, "chaos-loss-%d" % os.getpid(), ini, ["lossy", "clean"])
    prod = read(os.path.join(wd, "prod.pcap"))
    stlib.check(prod == [raw for raw, _ in pkts],
                "production: all %d packets forwarded, unchanged and in order (%d)" % (n, len(prod)))
    lossy, clean = res["shadows"]["lossy"], res["shadows"]["clean"]
    lost = lossy.get("chaos_loss", 0)
    bound = 4 * math.sqrt(n * 0.1 * 0.9)  # 4 sigma: a false alarm about once in 16,000 runs
    stlib.check(abs(lost - 0.1 * n) <= bound,
                "chaos_loss: %d of %d copies lost, within 10%% +- %.0f (binomial, 4 sigma)" % (lost, n, bound))
    stlib.check(lossy["copies"] + lost == n, "lossy: copies %d + chaos_loss %d = %d packets"
                % (lossy["copies"], lost, n))
    got = read(os.path.join(wd, "shadow_lossy.pcap"))
    stlib.check(len(got) == lossy["copies"], "lossy: the shadow port sent the %d copies counted (%d)"
                % (lossy["copies"], len(got)))
    it = iter(raw for raw, _ in pkts)
    stlib.check(all(any(g == w for w in it) for g in got),
                "lossy: what reached the shadow is the input, in order, less the lost copies")
    others = {k: v for k, v in lossy.items() if k not in ("copies", "bytes", "zero_copy", "rx", "chaos_loss") and v}
    stlib.check(not others, "lossy: no other drop reason (%s)" % others)
    stlib.check(clean["copies"] == n and clean.get("chaos_loss", 0) == 0,
                "clean group beside it: every packet copied (%d), nothing lost" % clean["copies"])
    stlib.check(res["mbufs_in_use"] in (None, (0, 0)), "mbufs back in their pools (%s)" % (res["mbufs_in_use"],))


def down_case(wd):
    pkts = make_pkts(1500, 2)
    n = len(pkts)
    wrpcap(os.path.join(wd, "in.pcap"), [Ether(raw) for raw, _ in pkts])
    wrpcap(os.path.join(wd, "empty.pcap"), [])
    inst = ", ".join("%s@%s" % (a, m) for a, m in zip(INST, INST_MAC))
    ini = write_ini(wd, """
[dataplane]
mode = inline

[shadow.down]
port = net_pcap2
share = 1
instances = %(inst)s
chaos_down = 198.18.1.11

[shadow.respread]
port = net_pcap3
share = 1
instances = %(inst)s
chaos_down = 198.18.1.11
chaos_down_respread = true

[shadow.healthy]
port = net_pcap4
share = 1
instances = %(inst)s
""" % {"inst": inst})
    res = run_dp(wd, "chaos-down-%d" % os.getpid(), ini, ["down", "respread", "healthy"])
    prod = read(os.path.join(wd, "prod.pcap"))
    stlib.check(prod == [raw for raw, _ in pkts], "production: all %d packets forwarded unchanged" % n)

    def dsts(name):
        return [Ether(raw)[IP].dst for raw in read(os.path.join(wd, "shadow_%s.pcap" % name))]

    healthy = [INST[instance_of(h, 3)] for _, h in pkts]
    on_down = sum(1 for _, h in pkts if instance_of(h, 3) == 1)
    stlib.check(dsts("healthy") == healthy, "healthy: every copy to its flow's instance (%d)" % n)
    want_down = [INST[instance_of(h, 3)] for _, h in pkts if instance_of(h, 3) != 1]
    d = res["shadows"]["down"]
    stlib.check(0 < on_down < n, "%d of %d packets belong to flows of 198.18.1.11" % (on_down, n))
    stlib.check(d.get("chaos_down", 0) == on_down and d["copies"] == n - on_down,
                "down: chaos_down %d = the packets of 198.18.1.11's flows (%d), copies %d"
                % (d.get("chaos_down", 0), on_down, d["copies"]))
    stlib.check(dsts("down") == want_down,
                "down: every other flow to its own instance, none re-spread, none to 198.18.1.11")
    want_rs = []
    for _, h in pkts:
        i = instance_of(h, 3)
        want_rs.append(INST[respread_pick(h, 3, 1) if i == 1 else i])
    r = res["shadows"]["respread"]
    got_rs = dsts("respread")
    stlib.check(r["copies"] == n and r.get("chaos_down", 0) == 0,
                "respread: every packet copied (%d), none dropped" % r["copies"])
    stlib.check(got_rs == want_rs and "198.18.1.11" not in got_rs,
                "respread: 198.18.1.11's flows moved to .10/.12 by the remixed hash, the others stayed")
    moved = [a for a, (_, h) in zip(got_rs, pkts) if instance_of(h, 3) == 1]
    share10 = moved.count(INST[0]) / max(1, len(moved))
    stlib.check(0.35 < share10 < 0.65, "respread: its flows split between the others (%.0f%% to .10)"
                % (100 * share10))


def base(chaos):
    """The chaos word's part of a group's chaos map (the impairments are
    test_chaos_fx_pcap.py's)."""
    return {k: chaos.get(k) for k in ("loss", "down", "respread")}


def control_case(wd):
    try:
        import kpisub
        import msgpack
    except SystemExit:
        stlib.skip("no pyzmq/msgpack for the control round trip")
    wrpcap(os.path.join(wd, "in.pcap"), [])
    wrpcap(os.path.join(wd, "empty.pcap"), [])
    ini = write_ini(wd, """
[dataplane]
mode = inline
timing = false

[shadow.canary]
port = net_pcap2
share = 1
instances = 198.18.1.10@02:00:00:00:01:10, 198.18.1.11@02:00:00:00:01:11
""")
    ep = stlib.zmq_endpoints(wd)[1]
    cmd = [DP] + stlib.eal_args("chaos-ctl-%d" % os.getpid(), vdevs(wd, ["canary"])) + \
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
        stlib.check(base(g["chaos"]) == {"loss": 0.0, "down": "", "respread": False},
                    "stats: no chaos at start (%s)" % g["chaos"])
        stlib.check("chaos_loss" in g["drops"] and "chaos_down" in g["drops"],
                    "stats: chaos_loss and chaos_down are drop reasons")
        rep = kpisub.request(ep, {"cmd": "chaos", "group": "canary", "loss": "2%", "down": "198.18.1.11"})
        c = rep.get("group", {}).get("chaos", {})
        stlib.check(rep.get("ok") and rep["group"]["name"] == "canary" and abs(c["loss"] - 0.02) < 1e-6
                    and c["down"] == "198.18.1.11" and c["respread"] is False,
                    "chaos canary loss=2%% down=198.18.1.11: applied, the group in the reply (%s)" % c)
        for bad, why in (({"down": "198.18.1.99"}, "an address not among the instances"),
                         ({"loss": 1.5}, "a loss above 1"),
                         ({"loss": "-2%"}, "a negative loss"),
                         ({"loss": "0.1", "wobble": "5ms"}, "an unknown key"),
                         ({"respread": "yes"}, "respread not a bool"),
                         ({}, "no key at all")):
            req = {"cmd": "chaos", "group": "canary"}
            req.update(bad)
            rep = kpisub.request(ep, req)
            stlib.check(rep.get("ok") is False and rep.get("error"),
                        "refused, %s: %s" % (why, rep.get("error")))
        # A key given twice is refused, whichever it is: which of the two
        # counts would be a guess (a dict cannot hold it: packed by hand).
        for key, a, b in (("loss", 0.5, 0.9), ("down", "198.18.1.12", "none"), ("respread", True, False),
                          ("delay", "1ms", "2ms"), ("group", "canary", "nope")):
            pairs = [("cmd", "chaos"), ("group", "canary"), (key, a), (key, b)]
            if key == "group":
                pairs = [("cmd", "chaos"), ("group", a), ("group", b), ("loss", 0.5)]
            raw = bytes([0x80 | len(pairs)]) + b"".join(msgpack.packb(k) + msgpack.packb(v) for k, v in pairs)
            rep = kpisub.request(ep, raw)
            stlib.check(rep.get("ok") is False and ("key '%s' given twice" % key) in (rep.get("error") or ""),
                        "refused, '%s' given twice: %s" % (key, rep.get("error")))
        rep = kpisub.request(ep, {"cmd": "chaos", "group": "nope", "loss": 0.1})
        stlib.check(rep.get("ok") is False, "refused, an unknown group: %s" % rep.get("error"))
        for group, want in (("g" * 50, "no shadow group 'gggg"), (7, "'group' must be a string")):
            rep = kpisub.request(ep, {"cmd": "chaos", "group": group, "loss": 0.1})
            stlib.check(rep.get("ok") is False and want in (rep.get("error") or ""),
                        "refused, group %r: %s" % (str(group)[:12], rep.get("error")))
        # Oversized: a few KB past the limit get a reason; megabytes never
        # reach the dataplane whole (libzmq drops the connection), and the
        # socket goes on answering.
        rep = kpisub.request(ep, {"cmd": "stats", "pad": "x" * 6000})
        stlib.check(rep.get("ok") is False and "at most 4096" in (rep.get("error") or ""),
                    "refused, a request of 6 KB: %s" % rep.get("error"))
        try:
            rep = kpisub.request(ep, {"cmd": "stats", "pad": "x" * (8 << 20)}, timeout_ms=1500)
            big = "answered %s" % rep.get("error")
        except Exception as e:  # the REQ socket's receive timeout
            big = "no answer (%s)" % type(e).__name__
        stlib.check(big.startswith("no answer"), "a request of 8 MB is dropped unread: %s" % big)
        rep = kpisub.request(ep, {"cmd": "stats"})
        stlib.check(rep["groups"][0]["chaos"]["down"] == "198.18.1.11" and
                    abs(rep["groups"][0]["chaos"]["loss"] - 0.02) < 1e-6,
                    "the refused requests changed nothing (%s)" % rep["groups"][0]["chaos"])
        rep = kpisub.request(ep, {"cmd": "chaos", "group": "canary", "respread": True})
        c = rep["group"]["chaos"]
        stlib.check(rep["ok"] and c["respread"] is True and c["down"] == "198.18.1.11" and
                    abs(c["loss"] - 0.02) < 1e-6, "chaos respread=true keeps loss and down (%s)" % c)
        if CTL:
            _, out, _ = stlib.run([CTL, "-e", ep, "chaos", "canary", "loss=0.5", "down=none"], timeout=10)
            stlib.check('"down":""' in out.replace(" ", "") and '"loss":0.5' in out.replace(" ", ""),
                        "shadowtap-ctl chaos canary loss=0.5 down=none: %s" % out.strip()[:160])
            rc, _, err = stlib.run([CTL, "-e", ep, "chaos", "canary", "loss=abc"], timeout=10, check_rc=False)
            stlib.check(rc != 0 and "loss" in err, "shadowtap-ctl refuses loss=abc: %s" % err.strip())
        rep = kpisub.request(ep, {"cmd": "chaos_off", "group": "canary"})
        stlib.check(rep["ok"] and base(rep["group"]["chaos"]) == {"loss": 0.0, "down": "", "respread": False},
                    "chaos_off canary: no chaos left (%s)" % rep["group"]["chaos"])
    finally:
        p.terminate()
        try:
            _, err = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
    stlib.check("canary chaos loss 0.02" in err and "canary chaos off" in err,
                "the changes are logged (NOTICE)")


def main():
    if not os.path.exists(DP):
        stlib.fail("no dataplane binary " + DP)
    for name, case in (("loss", loss_case), ("down", down_case), ("control", control_case)):
        print("== %s" % name)
        case(stlib.workdir("chaos-" + name))
    print("PASS")


if __name__ == "__main__":
    main()
