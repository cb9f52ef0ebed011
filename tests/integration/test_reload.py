"""Live reload of the dataplane (issue #17, "Live changes"), on af_packet
ports over veths, with traffic flowing the whole time: every packet a flow
of its own (so a group's share is the share of packets it copies), half to
UDP port 9000, half to 9001, at a steady rate.

  share 0.1 -> 0.5, SIGHUP    the copies' share is 0.5 in the second after
                              the signal (measured from the counters)
  filter, via control         "udp dst port 9001": half of the 0.5 copied,
                              the rest counted filtered
  chaos_loss, shadowtap-ctl   50% of the copies lost on purpose, counted
  bad reloads                 a syntax error, workers changed, a bad filter,
                              a new group: refused naming the key, and the
                              copies go on exactly as before
  filter churn                30 filter swaps within a second under
                              traffic: every old program freed once the
                              workers moved past it, none while in use
  the end                     production received every packet the client
                              sent (counted by a sniffer on the prod side
                              and by the dataplane), no mbuf in use

usage: test_reload.py DATAPLANE_BINARY CTL_BINARY"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import stlib  # noqa: E402

DP, CTL = sys.argv[1], sys.argv[2]
PY = "/usr/bin/python3"
RATE = 2500          # packets per second from the client
CLIENT, SERVER = "198.18.0.1", "198.18.0.53"

SENDER = r"""
import socket, struct, sys, time
dev, rate, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
src_mac = open("/sys/class/net/%s/address" % dev).read().strip()
eth = bytes.fromhex("020000000002") + bytes.fromhex(src_mac.replace(":", "")) + b"\x08\x00"
def csum(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
sent, i, t0 = 0, 0, time.monotonic()
import os
while not os.path.exists(stop):
    due = t0 + sent / rate
    now = time.monotonic()
    if due > now:
        time.sleep(min(due - now, 0.01))
        continue
    # a new flow per packet: source address and port from the counter
    src = bytes([10, 1 + (i >> 16) % 200, (i >> 8) & 255, i & 255])
    sport = 1024 + (i * 7919) % 60000
    dport = 9000 + (i & 1)
    payload = b"stmark%08d" % i
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                     src, socket.inet_aton("198.18.0.53"))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    s.send(eth + ip + udp)
    sent += 1
    i += 1
print(sent, flush=True)
"""

SNIFFER = r"""
import socket, sys, os, signal
dev, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((dev, 0))
s.settimeout(0.2)
n = 0
done = [False]
signal.signal(signal.SIGTERM, lambda *a: done.__setitem__(0, True))
open(out + ".ready", "w").close()
while not done[0]:
    try:
        b = s.recv(2048)
    except socket.timeout:
        continue
    except InterruptedError:
        continue
    if b"stmark" in b:
        n += 1
open(out, "w").write("%d\n" % n)
"""


def write_cfg(path, wd, macs, share="0.1", filt="", chaos_loss="0", workers=1, extra=""):
    with open(path, "w") as f:
        f.write("[dataplane]\nmode = inline\nclient_port = net_af_packet0\n"
                "prod_port = net_af_packet1\nworkers = %d\ntcp_sessions = 0\n"
                "stats = false\n%s\n"
                "[shadow.canary]\nport = net_af_packet2\nshare = %s\ndst_mac = %s\n"
                "%schaos_loss = %s\n%s"
                % (workers, stlib.endpoint_lines(wd), share, macs["s"],
                   "filter = %s\n" % filt if filt else "", chaos_loss, extra))


def ctl(ep, *args, check=True):
    rc, out, err = stlib.run([CTL, "-e", ep] + list(args), timeout=15, check_rc=False)
    if check and rc != 0:
        stlib.fail("shadowtap-ctl %s: rc %d: %s %s" % (" ".join(args), rc, out, err))
    try:
        return rc, json.loads(out) if out.strip() else {}, err
    except ValueError:
        return rc, {}, err + out


def sample(ep):
    _, st, _ = ctl(ep, "stats")
    g = st["groups"][0]
    ports = {p["name"]: p for p in st["ports"]}
    return {"t": time.monotonic(), "rx": ports["net_af_packet0"]["rx_pkts"],
            "copies": g["copies"], "g": g, "reloads": st["reloads"]}


def ratio(a, b):
    d = b["rx"] - a["rx"]
    return (b["copies"] - a["copies"]) / d if d > 0 else -1, d


def main():
    netns.require()
    tag = "rl%d" % (os.getpid() % 10000)
    wd = stlib.workdir("reload")
    cfg = os.path.join(wd, "dp.ini")
    stop = os.path.join(wd, "stop")
    ep = stlib.zmq_endpoints(wd)[1]
    with netns.Topology(tag) as topo:
        ns = {k: topo.ns(k) for k in "cps"}
        dev = {}
        for k in "cps":
            dev[k] = topo.veth(ns[k], "%s%si" % (tag, k), "%s%so" % (tag, k))
        macs = {k: topo.mac(ns[k], dev[k]) for k in "cps"}
        write_cfg(cfg, wd, macs)
        vdevs = ["net_af_packet%d,iface=%s%so" % (i, tag, k) for i, k in enumerate("cps")]
        log = open(os.path.join(wd, "dp.log"), "w+")
        dp = topo.spawn(None, [DP] + stlib.eal_args("reload-%d" % os.getpid(), vdevs) +
                        ["--", "--config", cfg, "--set", "dataplane.log_level=notice"],
                        stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 20
        while time.monotonic() < end and not os.path.exists(ep[len("ipc://"):]):
            time.sleep(0.1)
        time.sleep(0.5)
        stlib.check(dp.poll() is None, "the dataplane runs")
        sniff_out = os.path.join(wd, "prod.count")
        sniffer = topo.spawn(ns["p"], [PY, "-c", SNIFFER, dev["p"], sniff_out])
        end = time.monotonic() + 10
        while not os.path.exists(sniff_out + ".ready") and time.monotonic() < end:
            time.sleep(0.05)
        sender = topo.spawn(ns["c"], [PY, "-c", SENDER, dev["c"], str(RATE), stop],
                            stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)

        # share 0.1 -> 0.5 by SIGHUP
        a = sample(ep)
        time.sleep(1.0)
        b = sample(ep)
        r, n = ratio(a, b)
        stlib.check(n > RATE * 0.5 and 0.05 <= r <= 0.15,
                    "before: share 0.1 copies %.3f of %d packets" % (r, n))
        write_cfg(cfg, wd, macs, share="0.5")
        dp.send_signal(signal.SIGHUP)
        t_hup = time.monotonic()
        time.sleep(0.3)
        a = sample(ep)
        time.sleep(max(0, t_hup + 1.0 - time.monotonic()))
        b = sample(ep)
        r, n = ratio(a, b)
        stlib.check(0.42 <= r <= 0.58 and abs(b["g"]["share"] - 0.5) < 1e-6,
                    "SIGHUP: from %.1f s to %.1f s after it, copies %.3f of %d packets "
                    "(share 0.5)" % (a["t"] - t_hup, b["t"] - t_hup, r, n))
        stlib.check(b["reloads"]["applied"] == 1, "stats count the reload: %s" % b["reloads"])

        # a filter, through the control socket
        write_cfg(cfg, wd, macs, share="0.5", filt="udp dst port 9001")
        _, rep, _ = ctl(ep, "reload")
        stlib.check(rep.get("ok") is True and rep.get("changed") == ["shadow.canary.filter"] and
                    rep.get("changed_total") == 1,
                    "reload over control: %s" % rep)
        time.sleep(0.2)
        a = sample(ep)
        time.sleep(1.0)
        b = sample(ep)
        r, n = ratio(a, b)
        fd = b["g"]["drops"]["filtered"] - a["g"]["drops"]["filtered"]
        stlib.check(0.19 <= r <= 0.31 and fd > 0,
                    "filter 'udp dst port 9001': copies %.3f of %d packets, %d filtered"
                    % (r, n, fd))

        # chaos, through shadowtap-ctl
        write_cfg(cfg, wd, macs, share="0.5", filt="udp dst port 9001", chaos_loss="50%")
        rc, rep, _ = ctl(ep, "reload")
        stlib.check(rc == 0 and rep.get("changed") == ["shadow.canary.chaos_loss"],
                    "shadowtap-ctl reload: chaos_loss: %s" % rep)
        time.sleep(0.2)
        a = sample(ep)
        time.sleep(1.0)
        b = sample(ep)
        lost = b["g"]["drops"]["chaos_loss"] - a["g"]["drops"]["chaos_loss"]
        made = b["copies"] - a["copies"] + lost
        stlib.check(abs(b["g"]["chaos"]["loss"] - 0.5) < 1e-6 and made > 100 and
                    0.35 <= lost / made <= 0.65,
                    "chaos_loss 50%%: %d of %d copies lost on purpose" % (lost, made))
        before = b

        # bad reloads: refused, named, nothing changed
        good = open(cfg).read()
        bad = [
            ("syntax error", good.replace("share = 0.5", "share 0.3"), "dp.ini:"),
            ("workers", good.replace("workers = 1", "workers = 2"),
             "[dataplane] workers: cannot change at run time (restart)"),
            ("bad filter", good.replace("udp dst port 9001", "udp dst port"), "filter"),
            ("new group", good + "\n[shadow.other]\nport = net_af_packet2\nshare = 0.1\n",
             "[shadow.other]: adding a group needs a restart"),
            ("instances", good.replace("dst_mac = %s\n" % macs["s"], "") +
             "instances = 198.18.1.10\n",
             "[shadow.canary] instances"),
        ]
        # more reasons than the reply lists: each counted in errors_total
        many = ["mbufs = 20000", "copy_mbufs = 20000", "rx_desc = 512", "tx_desc = 512",
                "flow_table_size = 4096", "tcp_queue = 2048", "flow_idle_timeout = 30s",
                "frag_table_size = 128", "frag_hold = 64", "frag_timeout = 1s", "chaos_queue = 128",
                "response_timeout = 1s", "interval = 2s", "idle_sleep = 1ms", "publisher_id = gwx",
                "service = other", "mtu = 1400", "tcp_sessions = 1024"]
        bad.append(("eighteen restart keys",
                    good.replace("tcp_sessions = 0\n", "").replace("[dataplane]\n", "[dataplane]\n" + "\n".join(many) + "\n"),
                    "[dataplane] mbufs: cannot change at run time (restart)"))
        for what, text, needle in bad:
            with open(cfg, "w") as f:
                f.write(text.replace("share = 0.5", "share = 0.9") if what != "syntax error"
                        else text)
            rc, rep, err = ctl(ep, "reload", check=False)
            errs = rep.get("errors", [])
            stlib.check(rc == 1 and rep.get("ok") is False and
                        any(needle in e for e in errs) and rep.get("errors_total", 0) >= len(errs),
                        "%s refused: %s" % (what, errs))
            if what == "eighteen restart keys":
                stlib.check(len(errs) == 16 and rep.get("errors_total") == len(many),
                            "the reply lists 16 reasons and counts all %d (errors_total %s)"
                            % (len(many), rep.get("errors_total")))
        with open(cfg, "w") as f:
            f.write(good)
        # the file as it runs, by SIGHUP: applied, nothing changed
        dp.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        a = sample(ep)
        time.sleep(1.0)
        b = sample(ep)
        r, n = ratio(a, b)
        stlib.check(abs(b["g"]["share"] - 0.5) < 1e-6 and b["g"]["chaos"]["loss"] == 0.5 and
                    b["reloads"]["refused"] == before["reloads"]["refused"] + len(bad),
                    "after the refusals: share %.2f, loss %.2f, refused %d"
                    % (b["g"]["share"], b["g"]["chaos"]["loss"], b["reloads"]["refused"]))
        lost = b["g"]["drops"]["chaos_loss"] - a["g"]["drops"]["chaos_loss"]
        made = b["copies"] - a["copies"] + lost
        stlib.check(0.19 <= made / n <= 0.31, "the filter still in force: %.3f selected"
                    % (made / n))

        # filter churn under traffic
        base = b["reloads"]["filters_freed"]
        swaps = 30
        for k in range(swaps):
            write_cfg(cfg, wd, macs, share="0.5", chaos_loss="50%",
                      filt="udp dst port %d" % (9000 + (k & 1)))
            rc, rep, _ = ctl(ep, "reload")
        time.sleep(0.5)
        b = sample(ep)
        stlib.check(dp.poll() is None and b["reloads"]["filters_freed"] - base == swaps and
                    b["reloads"]["filters_retired"] == 0,
                    "%d filter swaps under traffic: %d old programs freed after the "
                    "workers passed them, %d waiting" %
                    (swaps, b["reloads"]["filters_freed"] - base, b["reloads"]["filters_retired"]))

        # what the control socket set stays when the file changes another
        # key of the same kind (share beside share_offset, chaos_loss beside
        # chaos_duplicate): a reload puts only the keys that changed in force
        ctl(ep, "set_share", "canary", "0.3")
        ctl(ep, "chaos", "canary", "loss=20%")
        write_cfg(cfg, wd, macs, share="0.5", chaos_loss="50%", filt="udp dst port 9001",
                  extra="share_offset = 0.2\nchaos_duplicate = 0.01\n")
        rc, rep, _ = ctl(ep, "reload")
        b = sample(ep)
        ch = b["g"]["chaos"]
        stlib.check(rc == 0 and rep.get("changed") == ["shadow.canary.share_offset",
                                                       "shadow.canary.chaos_duplicate"] and
                    abs(b["g"]["share"] - 0.3) < 1e-6 and abs(b["g"]["offset"] - 0.2) < 1e-6 and
                    abs(ch["loss"] - 0.2) < 1e-6 and ch["duplicate"] == "0.01",
                    "reload of share_offset and chaos_duplicate keeps set_share's 0.3 and "
                    "chaos' loss 20%%: changed %s, share %.2f offset %.2f, loss %.2f duplicate %s"
                    % (rep.get("changed"), b["g"]["share"], b["g"].get("offset", -1), ch["loss"],
                       ch.get("duplicate")))

        # a merge that does not hold together takes the file's chaos whole:
        # the control socket's jitter around a delay the file took away
        base_extra = "share_offset = 0.2\nchaos_duplicate = 0.01\n"
        write_cfg(cfg, wd, macs, share="0.5", chaos_loss="50%", filt="udp dst port 9001",
                  extra=base_extra + "chaos_delay = 5ms\n")
        ctl(ep, "reload")
        ctl(ep, "chaos", "canary", "jitter=1ms")
        write_cfg(cfg, wd, macs, share="0.5", chaos_loss="50%", filt="udp dst port 9001",
                  extra=base_extra)
        rc, rep, _ = ctl(ep, "reload")
        ch = sample(ep)["g"]["chaos"]
        stlib.check(rc == 0 and rep.get("changed") == ["shadow.canary.chaos_delay"] and
                    ch["delay"] == "0ms" and ch["jitter"] == "0ms",
                    "reload taking the delay away from a jitter set by chaos: the file's chaos "
                    "whole (delay %s, jitter %s)" % (ch["delay"], ch["jitter"]))

        # a lease (set_share ... revert_after) stands through a reload that
        # moves only the offset, and reverts to the share before it (0.3,
        # set_share's above) at the new offset; before, the reload ended
        # it and 0.45 stayed
        # a misspelt key is refused, not dropped (the raised share would
        # have had no lease)
        before = sample(ep)["g"]["share"]
        rc, rep, err = ctl(ep, "send", "cmd=set_share", "group=canary", "share=0.45",
                           "revert_afer=2", check=False)
        stlib.check(rc != 0 and "unknown key 'revert_afer'" in err + json.dumps(rep) and
                    sample(ep)["g"]["share"] == before,
                    "set_share with revert_afer=2: refused, naming the key; share still %.2f (%s)"
                    % (before, (err + json.dumps(rep)).strip()[:160]))
        ctl(ep, "send", "cmd=set_share", "group=canary", "share=0.45", "revert_after=2")
        write_cfg(cfg, wd, macs, share="0.5", chaos_loss="50%", filt="udp dst port 9001",
                  extra="share_offset = 0.3\nchaos_duplicate = 0.01\n")
        rc, rep, _ = ctl(ep, "reload")
        held = sample(ep)["g"]
        # stats shows the lease: what it puts back, and when
        ls = held.get("lease") or {}
        stlib.check(abs(ls.get("share", -1) - 0.3) < 1e-6 and abs(ls.get("offset", -1) - 0.3) < 1e-6
                    and 0 < ls.get("seconds_left", 0) <= 2,
                    "stats' lease: back to %s at %s in %.1f s" % (ls.get("share"), ls.get("offset"),
                                                                   ls.get("seconds_left", 0)))
        time.sleep(2.5)
        after = sample(ep)["g"]
        stlib.check(after.get("lease", 1) is None, "and none once it ran out (%s)" % after.get("lease"))
        stlib.check(rc == 0 and rep.get("changed") == ["shadow.canary.share_offset"] and
                    abs(held["share"] - 0.45) < 1e-6 and abs(after["share"] - 0.3) < 1e-6 and
                    abs(after["offset"] - 0.3) < 1e-6,
                    "a leased share through a reload of share_offset: %.2f held, then %.2f (the "
                    "share before it) at offset %.2f once the lease ran out (changed %s)"
                    % (held["share"], after["share"], after["offset"], rep.get("changed")))
        # the share the lease saved no longer fits at the offset a reload
        # moved it to (0.6 at 0.45): what fits there, said (it stayed at the
        # leased 0.2 for good, without a word)
        ctl(ep, "send", "cmd=set_share", "group=canary", "share=0.6")
        ctl(ep, "send", "cmd=set_share", "group=canary", "share=0.2", "revert_after=2")
        write_cfg(cfg, wd, macs, share="0.5", chaos_loss="50%", filt="udp dst port 9001",
                  extra="share_offset = 0.45\nchaos_duplicate = 0.01\n")
        rc, rep, _ = ctl(ep, "reload")
        time.sleep(2.5)
        after = sample(ep)["g"]
        stlib.check(rc == 0 and abs(after["share"] - 0.55) < 1e-6 and abs(after["offset"] - 0.45) < 1e-6,
                    "a lease whose saved share (0.6) no longer fits at the offset a reload moved it "
                    "to (0.45): %.2f at %.2f once it ran out" % (after["share"], after["offset"]))
        # a lease that moved the offset too, ended by a new share in the
        # file: the new share at the offset the lease would have put back
        # (the lease's own offset stayed for good)
        ctl(ep, "send", "cmd=set_share", "group=canary", "share=0.2", "offset=0.1", "revert_after=60")
        write_cfg(cfg, wd, macs, share="0.4", chaos_loss="50%", filt="udp dst port 9001",
                  extra="share_offset = 0.45\nchaos_duplicate = 0.01\n")
        rc, rep, _ = ctl(ep, "reload")
        after = sample(ep)["g"]
        stlib.check(rc == 0 and rep.get("changed") == ["shadow.canary.share"] and
                    abs(after["share"] - 0.4) < 1e-6 and abs(after["offset"] - 0.45) < 1e-6 and
                    after.get("lease", 1) is None,
                    "a lease at its own offset ended by the file's new share: %.2f at %.2f, no lease "
                    "(changed %s)" % (after["share"], after["offset"], rep.get("changed")))

        # the end: production got everything
        open(stop, "w").close()
        out, _ = sender.communicate(timeout=15)
        sent = int(out.strip())
        time.sleep(0.5)
        dp.send_signal(signal.SIGTERM)
        dp.wait(timeout=30)
        sniffer.send_signal(signal.SIGTERM)
        sniffer.wait(timeout=10)
        got = int(open(sniff_out).read())
        log.seek(0)
        text = log.read()
        fin = stlib.parse_final(text)
        stlib.check(got == sent, "production received %d of the %d packets sent" % (got, sent))
        stlib.check(fin.get("mbufs_in_use") == (0, 0),
                    "no mbuf in use at exit: %s" % (fin.get("mbufs_in_use"),))
        stlib.check("workers: cannot change at run time" in text and
                    "SIGHUP: reloading" in text,
                    "the log names the refused key and the SIGHUP")
        stlib.check("AddressSanitizer" not in text and "runtime error" not in text and
                    dp.returncode == 0, "no sanitizer report, exit status %d" % dp.returncode)
    print("ok")


if __name__ == "__main__":
    main()
