"""Reordering, shaping and scenarios on the shadow path (docs/dataplane.md,
"Chaos"), on net_pcap ports (net_pcap stamps what it writes with the time it
sends it).

- chaos_reorder = 25%, chaos_reorder_gap = 3: the shadow gets every copy;
  each copy is overtaken by either no later copy or exactly 3 (held until 3
  more left); those overtaken are as many as counted reordered, within 4
  sigma of 25%; production gets every packet in order.
- chaos_rate = 4mbit: the copies leave spaced by their size at 4 Mbit/s
  (the whole run's span within [0.8, 1.25] of the ideal), in order, every
  copy but the first counted shaped; chaos_rate = 100kbit: the backlog
  passes the 1 s bound, the rest are chaos_queue_full, copies + full =
  input, and the copies sent fit the rate.
- scenarios: a bad file (unknown key, unknown group, a value out of range,
  time going back, a combination that does not hold) stops the program at
  start naming the file's line, before any port exists; a good one applies
  its lines at their times (stats show the setting change, then chaos_off);
  chaos_scenario over the control socket and shadowtap-ctl, a bad one
  refused changing nothing; the new keys over control (direction too),
  refused naming the key when bad.

usage: test_chaos_more_pcap.py DATAPLANE_BINARY [CTL_BINARY]
"""
import math
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stlib  # noqa: E402
import test_chaos_fx_pcap as fx  # noqa: E402  (same argv: DATAPLANE [CTL])

DP = sys.argv[1]
CTL = sys.argv[2] if len(sys.argv) > 2 else None


def reorder_case(wd):
    pkts = fx.make_pkts(1000, 4)
    n, gap = len(pkts), 3
    fx.setup(wd, pkts)
    ini = fx.write_ini(wd, """
[dataplane]

[shadow.ro]
port = net_pcap2
share = 1
chaos_reorder = 25%
chaos_reorder_gap = 3
dst_mac = 02:00:00:00:00:02
""")
    res = fx.run_dp(wd, "chaos-more-ro-%d" % os.getpid(), ini, ["ro"])
    fx.check_prod(wd, pkts)
    s = res["shadows"]["ro"]
    got = [b for _, b in fx.read_pcap(os.path.join(wd, "shadow_ro.pcap"))]
    stlib.check(sorted(got) == sorted(pkts) and s["copies"] == n,
                "reorder: every copy reached the shadow (%d of %d)" % (len(got), n))
    pos = {b: i for i, b in enumerate(pkts)}
    # how many copies later in the input left before each one (O(n^2): on
    # a prefix of 600; whether any did: on all)
    over = [sum(1 for x in got[:i] if pos[x] > pos[b]) for i, b in enumerate(got[:600])]
    later_before = []
    maxpos = -1
    for b in got:
        later_before.append(pos[b] < maxpos)
        maxpos = max(maxpos, pos[b])
    displaced = [o for o in over if o]
    reordered = s.get("chaos_reordered", 0)
    sd = 4 * math.sqrt(n * 0.25 * 0.75)
    stlib.check(all(o == gap for o in displaced),
                "reorder: each overtaken copy was overtaken by exactly %d later ones (%s)"
                % (gap, sorted(set(displaced))))
    stlib.check(sum(later_before) == reordered,
                "reorder: copies sent after a later one %d = counted reordered %d"
                % (sum(later_before), reordered))
    # 8 held at most per worker: a few chosen while 8 wait leave in turn
    stlib.check(abs(reordered - 0.25 * n) <= sd,
                "reorder: %d of %d within 25%% +- %.0f" % (reordered, n, sd))
    stlib.check(res["mbufs_in_use"] in (None, (0, 0)), "mbufs back in their pools (%s)" % (res["mbufs_in_use"],))


def rate_case(wd):
    pkts = fx.make_pkts(400, 3)
    n = len(pkts)
    fx.setup(wd, pkts)
    ini = fx.write_ini(wd, """
[dataplane]

[shadow.shaped]
port = net_pcap2
share = 1
chaos_rate = 4mbit
dst_mac = 02:00:00:00:00:02

[shadow.thin]
port = net_pcap3
share = 1
chaos_rate = 100kbit
dst_mac = 02:00:00:00:00:02
""")
    res = fx.run_dp(wd, "chaos-more-rate-%d" % os.getpid(), ini, ["shaped", "thin"], duration="4s")
    fx.check_prod(wd, pkts)
    s = res["shadows"]["shaped"]
    got = fx.read_pcap(os.path.join(wd, "shadow_shaped.pcap"))
    stlib.check([b for _, b in got] == pkts and s["copies"] == n,
                "rate 4mbit: every copy, in the input's order (%d)" % len(got))
    bits = sum(8 * len(b) for _, b in got[:-1])
    ideal = bits / 4e6
    span = got[-1][0] - got[0][0]
    print("rate 4mbit: %d copies over %.4f s, ideal %.4f s (%.2f Mbit/s)" % (n, span, ideal, bits / span / 1e6))
    stlib.check(0.8 * ideal <= span <= 1.25 * ideal,
                "rate 4mbit: the copies took %.3f s, the rate's %.3f s within [0.8, 1.25]" % (span, ideal))
    stlib.check(s.get("chaos_shaped", 0) >= n - 2 and s.get("chaos_delayed", 0) == 0,
                "rate 4mbit: shaped %d of %d, none counted delayed" % (s.get("chaos_shaped", 0), n))
    t = res["shadows"]["thin"]
    full = t.get("chaos_queue_full", 0)
    thin = fx.read_pcap(os.path.join(wd, "shadow_thin.pcap"))
    per = 8 * len(pkts[0]) / 100e3
    print("rate 100kbit: %d sent, %d queue full, %.4f s a copy" % (len(thin), full, per))
    stlib.check(full > 0 and t["copies"] + full == n and len(thin) == t["copies"],
                "rate 100kbit: copies %d + chaos_queue_full %d = %d, all counted sent reached the port (%d)"
                % (t["copies"], full, n, len(thin)))
    # a backlog of 1 s at most: about 1 s / per copies, one more for the
    # first that leaves at once
    stlib.check(abs(len(thin) - (1.0 / per + 1)) <= 3,
                "rate 100kbit: %d copies fit the 1 s backlog bound (%.0f)" % (len(thin), 1.0 / per + 1))
    stlib.check(res["mbufs_in_use"] in (None, (0, 0)), "mbufs back in their pools (%s)" % (res["mbufs_in_use"],))


SCN_INI = """
[dataplane]
%s
[shadow.canary]
port = net_pcap2
share = 1
instances = 198.18.1.10@02:00:00:00:00:0a, 198.18.1.11@02:00:00:00:00:0b
"""


def scenario_bad_case(wd):
    fx.setup(wd, [])
    bad = [
        ("0,canary,dealy,5ms\n", 1, "unknown chaos key 'dealy'"),
        ("# comment\n\n0.5,canary,delay,5ms\n1,nosuch,loss,1%\n", 4, "no shadow group 'nosuch'"),
        ("0,canary,loss,150%\n", 1, "loss"),
        ("2,canary,delay,5ms\n1,canary,delay,1ms\n", 2, "goes back"),
        ("0,canary,jitter,1ms\n", 1, "chaos_jitter: needs chaos_delay"),
        ("0,canary,down,198.18.9.9\n", 1, "not one of canary's instances"),
        ("0,canary,rate,10 furlongs\n", 1, "rate"),
        ("0,canary,flap,30s/2s\n", 1, "flap"),
        ("abc,canary,delay,5ms\n", 1, "t_seconds"),
        ("0,canary\n", 1, "expected t_seconds,group,key,value"),
    ]
    for i, (body, line, why) in enumerate(bad):
        scn = os.path.join(wd, "bad%d.csv" % i)
        with open(scn, "w") as f:
            f.write(body)
        ini = fx.write_ini(wd, SCN_INI % ("chaos_scenario = %s\n" % scn))
        out_pcap = os.path.join(wd, "prod.pcap")
        if os.path.exists(out_pcap):
            os.unlink(out_pcap)
        rc, _, err = stlib.run([DP] + stlib.eal_args("chaos-more-bad-%d" % os.getpid(), fx.vdevs(wd, ["canary"])) +
                               ["--", "--config", ini, "--duration", "1s"], timeout=30, check_rc=False)
        want = "%s:%d:" % (scn, line)
        stlib.check(rc != 0 and want in err and why in err and not os.path.exists(out_pcap),
                    "bad scenario refused at start naming line %d and '%s', no port opened: %s"
                    % (line, why, [l for l in err.splitlines() if "chaos_scenario" in l][:1]))
    rc, out, err = stlib.run([DP, "--", "--config", ini, "--check"], timeout=30, check_rc=False)
    stlib.check(rc != 0 and "chaos_scenario" in err, "--check refuses it too")


def stats(ep):
    import kpisub
    return kpisub.request(ep, {"cmd": "stats"})


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    stlib.fail("timed out waiting for " + what)


def scenario_run_case(wd):
    try:
        import kpisub
        import zmq
    except (SystemExit, ImportError):
        stlib.skip("no pyzmq/msgpack for the control round trip")
    fx.setup(wd, [])
    scn = os.path.join(wd, "run.csv")
    with open(scn, "w") as f:
        f.write("# t,group,key,value\n"
                "1.0,canary,delay,5ms\n"
                "1.0,canary,jitter,1ms\n"
                "1.0,canary,chaos_loss_burst,100%,5,200\n"
                "2.0,canary,down,198.18.1.11\n"
                "2.0,canary,flap,200ms/1s\n"
                "2.0,canary,rate,10mbit\n"
                "2.0,canary,reorder,10%\n"
                "3.0,canary,off,\n")
    ini = fx.write_ini(wd, SCN_INI % ("chaos_scenario = %s\n" % scn))
    ep = stlib.zmq_endpoints(wd)[1]
    cmd = [DP] + stlib.eal_args("chaos-more-scn-%d" % os.getpid(), fx.vdevs(wd, ["canary"])) + \
        ["--", "--config", ini, "--duration", "20s"]
    print("run: " + " ".join(cmd))
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def ready():
            try:
                return stats(ep)
            except Exception:
                return None
        rep = wait_for(ready, 15, "the control socket")
        c = rep["groups"][0]["chaos"]
        stlib.check(c["delay"] == "0ms" and rep["chaos_scenario"]["lines"] == 8,
                    "scenario loaded, nothing applied before t=1 (%s, %s)" % (c["delay"], rep["chaos_scenario"]))
        rep = wait_for(lambda: (lambda r: r if r["groups"][0]["chaos"]["delay"] == "5ms" else None)(stats(ep)),
                       5, "t=1")
        c = rep["groups"][0]["chaos"]
        stlib.check(c["jitter"] == "1ms" and c["loss_burst"] == "1,5,200" and c["down"] == "",
                    "t=1: delay 5ms, jitter 1ms, loss_burst in force together (%s)" % c)
        rep = wait_for(lambda: (lambda r: r if r["groups"][0]["chaos"]["rate"] != "none" else None)(stats(ep)),
                       5, "t=2")
        c = rep["groups"][0]["chaos"]
        stlib.check(c["down"] == "198.18.1.11" and c["flap"] == "200ms/1000ms" and c["rate"] == "10mbit" and
                    c["reorder"] == "0.1" and c["delay"] == "5ms",
                    "t=2: down, flap, rate, reorder over what t=1 set (%s)" % c)
        rep = wait_for(lambda: (lambda r: r if r["groups"][0]["chaos"]["delay"] == "0ms" else None)(stats(ep)),
                       5, "t=3")
        c = rep["groups"][0]["chaos"]
        sc = rep["chaos_scenario"]
        stlib.check(c["rate"] == "none" and c["down"] == "" and c["flap"] == "none" and
                    sc["applied"] == 8 and sc["next"] == 8 and sc["refused"] == 0,
                    "t=3: off ends every chaos; 8 lines applied (%s)" % sc)
        # control: a bad scenario changes nothing; a good one runs from now
        bad = os.path.join(wd, "bad.csv")
        with open(bad, "w") as f:
            f.write("0,canary,delay,5ms\n0.5,canary,reorder_gap,0\n")
        rep = kpisub.request(ep, {"cmd": "chaos_scenario", "text": open(bad).read(), "name": bad})
        stlib.check(rep.get("ok") is False and "bad.csv:2:" in rep.get("error", "") and
                    "reorder_gap" in rep.get("error", ""),
                    "control: a bad scenario refused naming line 2: %s" % rep.get("error"))
        # The dataplane opens no file a control client names (it may run
        # as root: an error echoing a line's fields would show a client
        # the start of any file): the client sends the text.
        with open(os.path.join(wd, "secret.csv"), "w") as f:
            f.write("s3cr3t-field,canary,delay,5ms\n")
        rep = kpisub.request(ep, {"cmd": "chaos_scenario", "file": os.path.join(wd, "secret.csv")})
        stlib.check(rep.get("ok") is False and "'text'" in rep.get("error", "") and
                    "s3cr3t" not in rep.get("error", ""),
                    "control: a scenario named by path is refused unread: %s" % rep.get("error"))
        if CTL:
            # shadowtap-ctl reads it, and refuses a FIFO at once
            fifo = os.path.join(wd, "fifo.csv")
            os.mkfifo(fifo)
            t0 = time.monotonic()
            rc, _, err = stlib.run([CTL, "-e", ep, "chaos_scenario", fifo], timeout=10, check_rc=False)
            stlib.check(rc != 0 and "not a regular file" in err and time.monotonic() - t0 < 3,
                        "shadowtap-ctl: a FIFO refused in %.1f s: %s" % (time.monotonic() - t0, err.strip()))
        rep = stats(ep)
        stlib.check(rep["chaos_scenario"]["file"] == scn and rep["groups"][0]["chaos"]["delay"] == "0ms",
                    "control: the refused scenarios changed nothing")
        good = os.path.join(wd, "good.csv")
        with open(good, "w") as f:
            f.write("0,canary,rate,2mbps\n0.3,canary,flap,1s/2s\n")
        if CTL:
            _, out, _ = stlib.run([CTL, "-e", ep, "chaos_scenario", good], timeout=10)
            stlib.check('"lines"' in out.replace(" ", ""), "shadowtap-ctl chaos_scenario FILE: %s" % out.strip()[:200])
        else:
            rep = kpisub.request(ep, {"cmd": "chaos_scenario", "text": open(good).read(), "name": good})
            stlib.check(rep.get("ok"), "control chaos_scenario text")
        rep = wait_for(lambda: (lambda r: r if r["groups"][0]["chaos"]["flap"] != "none" else None)(stats(ep)),
                       5, "the second scenario")
        c = rep["groups"][0]["chaos"]
        stlib.check(c["rate"] == "16mbit" and c["flap"] == "1000ms/2000ms" and
                    rep["chaos_scenario"]["file"] == good,
                    "control: the new scenario ran from the command, under its file's name (%s, %s)" % (
                        c, rep["chaos_scenario"]["file"]))
        if CTL:
            # a scenario past st_wire's 64 KiB str and the 4 KiB of other
            # requests (5000 lines, none due before it is stopped)
            big = os.path.join(wd, "big.csv")
            with open(big, "w") as f:
                for i in range(5000):
                    f.write("%d,canary,delay,%dms\n" % (3600 + i, 1 + i % 50))
            rc, out, err = stlib.run([CTL, "-e", ep, "chaos_scenario", big], timeout=20, check_rc=False)
            stlib.check(rc == 0 and '"lines":5000' in out.replace(" ", ""),
                        "shadowtap-ctl chaos_scenario FILE of %d KB: %s %s" % (
                            os.path.getsize(big) >> 10, out.strip()[:120], err.strip()[:200]))
            rep = kpisub.request(ep, {"cmd": "stats", "pad": "x" * 5000})
            stlib.check(rep.get("ok") is False and "at most 4096" in rep.get("error", ""),
                        "any other request stays within 4 KiB: %s" % rep.get("error"))
            rep = kpisub.request(ep, {"cmd": "chaos_scenario", "file": "none", "text": ""})
            stlib.check(rep.get("ok") is False and "not both" in rep.get("error", ""),
                        "text and file together refused: %s" % rep.get("error"))
            # past 1 MiB but within what libzmq lets in: received, refused
            # with the reason; past that too: the connection is dropped
            # unanswered, and the next client is served as before
            rep = kpisub.request(ep, {"cmd": "chaos_scenario", "text": "x" * (1 << 20), "name": "big"})
            stlib.check(rep.get("ok") is False and "at most 4096 (chaos_scenario: 1048576)" in
                        rep.get("error", ""), "a scenario over 1 MiB refused: %s" % rep.get("error"))
            try:
                rep = kpisub.request(ep, b"\xc6" + struct.pack(">I", 2 << 20) + b"x" * (2 << 20),
                                     timeout_ms=1500)
            except zmq.Again:
                rep = None
            stlib.check(rep is None, "a request of 2 MiB is dropped unread, unanswered (%s)" % rep)
            stlib.check(stats(ep).get("ok") is True, "the next client is answered as before")
            _, out, _ = stlib.run([CTL, "-e", ep, "chaos_scenario", good], timeout=10)
        # the new keys over control, and refusals naming the key
        rep = kpisub.request(ep, {"cmd": "chaos", "group": "canary", "reorder": "25%", "reorder_gap": 5,
                                  "rate": "500kbit", "flap": "off"})
        c = rep.get("group", {}).get("chaos", {})
        stlib.check(rep.get("ok") and c["reorder"] == "0.25" and c["reorder_gap"] == "5" and
                    c["rate"] == "500kbit" and c["flap"] == "none",
                    "chaos reorder=25%% reorder_gap=5 rate=500kbit flap=off: %s" % c)
        for bad_req, key in (({"reorder": "2"}, "reorder"), ({"reorder_gap": "0"}, "reorder_gap"),
                             ({"rate": "fast"}, "rate"), ({"rate": "5tbit"}, "rate"),
                             ({"flap": "3s/1s"}, "flap"), ({"flap": "1s"}, "flap"),
                             ({"direction": "sideways"}, "direction"), ({"direction": 1}, "direction")):
            req = {"cmd": "chaos", "group": "canary"}
            req.update(bad_req)
            rep = kpisub.request(ep, req)
            stlib.check(rep.get("ok") is False and key in rep.get("error", ""),
                        "refused %s naming %s: %s" % (bad_req, key, rep.get("error")))
        if CTL:
            _, out, _ = stlib.run([CTL, "-e", ep, "chaos", "canary", "rate=1gbit", "flap=2s/30s"], timeout=10)
            o = out.replace(" ", "")
            stlib.check('"rate":"1gbit"' in o and '"flap":"2000ms/30000ms"' in o,
                        "shadowtap-ctl chaos canary rate=1gbit flap=2s/30s: %s" % o[:200])
            rc, _, err = stlib.run([CTL, "-e", ep, "chaos", "canary", "rate=abc"], timeout=10, check_rc=False)
            stlib.check(rc != 0 and "rate" in err, "shadowtap-ctl refuses rate=abc: %s" % err.strip())
            _, out, _ = stlib.run([CTL, "-e", ep, "chaos", "canary", "direction=both"], timeout=10)
            stlib.check('"direction":"both"' in out.replace(" ", ""),
                        "shadowtap-ctl chaos canary direction=both: %s" % out.strip()[:200])
            rc, _, err = stlib.run([CTL, "-e", ep, "chaos", "canary", "direction=up"], timeout=10, check_rc=False)
            stlib.check(rc != 0 and "direction" in err, "shadowtap-ctl refuses direction=up: %s" % err.strip())
        rep = kpisub.request(ep, {"cmd": "chaos_scenario", "file": "none"})
        stlib.check(rep.get("ok") and rep["chaos_scenario"]["file"] == "", "chaos_scenario none stops it")
        # The start's scenario file moved away: a reload does not read it
        # again (the key cannot change at run time), so it is not refused.
        os.rename(scn, scn + ".moved")
        rep = kpisub.request(ep, {"cmd": "reload"})
        stlib.check(rep.get("ok") is True, "reload with the start's scenario file gone: %s"
                    % (rep.get("errors") or rep.get("changed")))
    finally:
        p.terminate()
        try:
            _, err = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
    stlib.check("run.csv:6: t=2.000 s canary flap=200ms/1s" in err, "the scenario's lines are logged (NOTICE): %s"
                % [l for l in err.splitlines() if "scenario" in l][:3])


def main():
    if not os.path.exists(DP):
        stlib.fail("no dataplane binary " + DP)
    cases = (("reorder", reorder_case), ("rate", rate_case), ("scenario_bad", scenario_bad_case),
             ("scenario_run", scenario_run_case))
    only = os.environ.get("CHAOS_MORE_CASES")
    for name, case in cases:
        if only and name not in only.split(","):
            continue
        print("== %s" % name)
        case(stlib.workdir("chaos-more-" + name))
    print("PASS")


if __name__ == "__main__":
    main()
