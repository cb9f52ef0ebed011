"""Timing and KPIs end to end: a shadow UDP server that answers after a
known delay, production without one, the dataplane timing both on one TSC
clock and publishing KPI snapshots over ZeroMQ; read back with independent
decoders (pyzmq, python3-msgpack, a Python HdrHistogram V2 decoder).

Checks: the shadow's p50 matches the delay within 10% (plus the base latency
measured on production), production stays under 1 ms; seq has no gaps;
set_share at run time changes what is mirrored within an interval; a bad
control command is rejected and changes nothing; a shadow whose server is
gone shows ICMP errors, one that drops everything shows timeouts, a shadow
without a TCP listener shows resets; production is unaffected throughout.

usage: test_e2e_timing.py DATAPLANE_BINARY UDP_ECHO_BINARY"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import stlib  # noqa: E402
import kpisub  # noqa: E402

DP = sys.argv[1]
UDP_ECHO = sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
CLIENT, SERVER, PORT = "198.18.0.1", "198.18.0.53", 7
DELAY_MS = 20.0


def client(ns, flows, reqs, conc=50, timeout_ms=1000):
    out = subprocess.run(["ip", "netns", "exec", ns, PY, os.path.join(HERE, "udp_client.py"),
                          SERVER, str(PORT), str(flows), str(reqs), str(conc), str(timeout_ms)],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        stlib.fail("client failed: " + out.stderr)
    return json.loads(out.stdout)


def sums(msgs, field):
    return sum(m[field] for m in msgs)


def main():
    netns.require()
    tag = "t%d" % (os.getpid() % 100000)
    wd = stlib.workdir("e2e-timing")
    kpi_ep, ctl_ep = stlib.zmq_endpoints(wd)
    with netns.Topology(tag) as t:
        cli, prod, shd = t.ns("c"), t.ns("p"), t.ns("s")
        t.veth(cli, "eth0", "%sc" % tag, addr=CLIENT + "/24")
        t.veth(prod, "eth0", "%sp" % tag, addr=SERVER + "/24")
        t.veth(shd, "eth0", "%ss" % tag, addr=SERVER + "/24")
        servers = {}
        for name, ns, delay in (("prod", prod, 0), ("shadow", shd, DELAY_MS)):
            log = os.path.join(wd, name + ".log")
            # Real-time priority: the shadow's answers must leave at its
            # delay. On two cores, with the worker polling one, the other
            # is shared by the client, both servers and the kernel; a
            # server waiting for a time slice answered 2-5 ms late in about
            # one run of four, which is the test host, not the dataplane.
            rt = ["chrt", "--fifo", "10"] if shutil.which("chrt") else []
            servers[name] = t.spawn(ns, rt + [UDP_ECHO, SERVER,
                                              str(PORT), str(delay), log])
            end = time.monotonic() + 10
            while not os.path.exists(log + ".ready") and time.monotonic() < end:
                time.sleep(0.05)
        ini = os.path.join(wd, "dp.ini")
        with open(ini, "w") as f:
            f.write("""[dataplane]
%smode = inline
client_port = net_af_packet0
prod_port = net_af_packet1
servers = %s
service = web
publisher_id = gw-test
interval = 500ms
response_timeout = 500ms
prod_instances = 2

[shadow.canary]
port = net_af_packet2
share = 0.5
instances_count = 3
""" % (stlib.endpoint_lines(wd), SERVER))
        vdevs = ["net_af_packet0,iface=%sc" % tag, "net_af_packet1,iface=%sp" % tag,
                 "net_af_packet2,iface=%ss" % tag]
        dp_err = os.path.join(wd, "dataplane.err")
        dp = t.spawn(None, [DP] + stlib.eal_args("e2e-tm-%s" % tag, vdevs) +
                     ["--", "--config", ini, "--duration", "180s"],
                     stdout=subprocess.DEVNULL, stderr=open(dp_err, "w"))
        sub = kpisub.Collector(kpi_ep)
        time.sleep(2.5)
        if dp.poll() is not None:
            stlib.fail("dataplane exited: " + open(dp_err).read())

        # 1. Latency: 200 flows, 10 requests each.
        t0 = time.monotonic()
        r = client(cli, 200, 10)
        time.sleep(1.2)
        stlib.check(r["answered"] == 2000 and r["extra"] == 0,
                    "production answered %d of 2000, no shadow answer leaked" % r["answered"])
        pm, sm = sub.since(t0, "prod"), sub.since(t0, "canary")
        p_p50, s_p50 = kpisub.merged_p50(pm), kpisub.merged_p50(sm)
        print("prod p50 %s ns, shadow p50 %s ns over %d/%d windows" % (p_p50, s_p50, len(pm), len(sm)))
        # Under ASan/UBSan the dataplane and the servers are several times
        # slower: production's bound is 1 ms for a plain build, 3 ms there.
        bound = 1e6 if os.environ.get("ST_SANITIZED", "none") in ("", "none") else 3e6
        stlib.check(p_p50 is not None and p_p50 < bound,
                    "production p50 under %g ms (%s ns)" % (bound / 1e6, p_p50))
        want = DELAY_MS * 1e6 + (p_p50 or 0)
        stlib.check(s_p50 is not None and abs(s_p50 - want) <= 0.1 * DELAY_MS * 1e6,
                    "shadow p50 %.2f ms matches the %g ms delay + base %.2f ms within 10%%"
                    % ((s_p50 or 0) / 1e6, DELAY_MS, (p_p50 or 0) / 1e6))
        stlib.check(sums(pm, "requests") == 2000 and sums(pm, "responses") == 2000,
                    "prod KPIs count 2000 requests and responses (%d, %d)"
                    % (sums(pm, "requests"), sums(pm, "responses")))
        # A slower shadow still has a request pending when the next one of
        # the flow comes (the oldest unanswered one is the one timed), so
        # responses <= requests; none may time out.
        stlib.check(800 <= sums(sm, "requests") <= 1200 and sums(sm, "timeouts") == 0 and
                    sums(sm, "responses") >= 50,
                    "the shadow got about half (%d), answered %d, no timeouts"
                    % (sums(sm, "requests"), sums(sm, "responses")))
        m = sm[-1]
        stlib.check(m["v"] == 1 and m["service"] == "web" and m["src"] == "gw-test" and
                    m["role"] == "shadow" and m["instances"] == 3 and m["t0"] < m["t1"] and
                    m["_topic"] == "kpi.web.canary" and set(m["drops"]) >= {"tx_full", "rate_cap"},
                    "snapshot fields as the wire contract says")
        stlib.check(pm[-1]["instances"] == 2 and pm[-1]["role"] == "prod", "prod snapshot: role and instances")

        # Telemetry: the same counters through DPDK's telemetry socket.
        tel = stlib.telemetry("e2e-tm-%s" % tag, "/shadowtap/shadows")["/shadowtap/shadows"]
        stlib.check(tel["canary"]["share_ppm"] == 500000 and tel["canary"]["copies"] >= 800,
                    "telemetry /shadowtap/shadows: share and copies (%s)" % tel["canary"])
        tel = stlib.telemetry("e2e-tm-%s" % tag, "/shadowtap/stats")["/shadowtap/stats"]
        stlib.check(tel["net_af_packet1"]["tx_pkts"] >= 2000 and tel["net_af_packet1"]["role"] == "prod",
                    "telemetry /shadowtap/stats: per-port counters")

        # 2. Control: a bad command changes nothing, set_share takes effect.
        rep = kpisub.request(ctl_ep, {"cmd": "set_share", "group": "nope", "share": 1.0})
        stlib.check(rep["ok"] is False and "nope" in rep["error"], "unknown group rejected: %s" % rep)
        rep = kpisub.request(ctl_ep, {"cmd": "set_share", "group": "canary", "share": 7})
        stlib.check(rep["ok"] is False, "share 7 rejected: %s" % rep)
        rep = kpisub.request(ctl_ep, b"\xdf\xff\xff\xff\xff")
        stlib.check(rep["ok"] is False, "hostile msgpack rejected: %s" % rep)
        rep = kpisub.request(ctl_ep, {"cmd": "stats"})
        stlib.check(rep["ok"] and abs(rep["groups"][0]["share"] - 0.5) < 1e-6,
                    "share unchanged after the bad commands")
        rep = kpisub.request(ctl_ep, {"cmd": "set_share", "group": "canary", "share": 1.0})
        stlib.check(rep["ok"] is True, "set_share 1.0 accepted")
        t1 = time.monotonic()
        r = client(cli, 100, 5)
        time.sleep(1.2)
        sm = sub.since(t1, "canary")
        stlib.check(sums(sm, "requests") == 500,
                    "after set_share 1.0 the shadow gets every request (%d of 500)" % sums(sm, "requests"))

        # 3. Shadow server gone: ICMP port unreachable counted (the kernel
        # would otherwise send only a few a second to one address).
        netns.sh("ip netns exec %s sysctl -qw net.ipv4.icmp_ratelimit=0" % shd)
        servers["shadow"].terminate()
        servers["shadow"].wait(timeout=10)
        t2 = time.monotonic()
        r = client(cli, 100, 1)
        time.sleep(1.2)
        sm = sub.since(t2, "canary")
        stlib.check(r["answered"] == 100, "server gone: production answered all")
        stlib.check(sums(sm, "icmp_errors") >= 50, "shadow ICMP errors counted (%d)" % sums(sm, "icmp_errors"))

        # 4. Shadow drops everything: timeouts counted.
        netns.sh("ip netns exec %s nft add table inet st" % shd)
        netns.sh("ip netns exec %s nft 'add chain inet st in { type filter hook input priority 0; policy drop; }'" % shd)
        t3 = time.monotonic()
        r = client(cli, 100, 1)
        time.sleep(2.0)
        sm = sub.since(t3, "canary")
        stlib.check(r["answered"] == 100, "shadow dropping: production answered all")
        stlib.check(sums(sm, "timeouts") >= 90, "shadow timeouts counted (%d)" % sums(sm, "timeouts"))
        netns.sh("ip netns exec %s nft delete table inet st" % shd)

        # 5. TCP to a port the shadow does not listen on: resets.
        ptcp = t.spawn(prod, [PY, "-c", "import socket,time\n"
                              "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                              "s.bind(('%s', 8080)); s.listen(128)\n"
                              "while True:\n c,_=s.accept(); c.close()\n" % SERVER])
        time.sleep(0.5)
        t4 = time.monotonic()
        ok = 0
        for i in range(20):
            out = subprocess.run(["ip", "netns", "exec", cli, PY, "-c",
                                  "import socket; s=socket.create_connection(('%s', 8080), timeout=2); s.close()"
                                  % SERVER], capture_output=True)
            ok += out.returncode == 0
        time.sleep(1.2)
        sm = sub.since(t4, "canary")
        stlib.check(ok == 20, "production accepted 20 TCP connections")
        stlib.check(sums(sm, "resets") >= 15, "shadow resets counted (%d)" % sums(sm, "resets"))
        ptcp.terminate()

        # seq: contiguous over the whole run.
        with sub.lock:
            seqs = [m["seq"] for m in sub.msgs]
        stlib.check(len(seqs) > 20 and seqs == list(range(seqs[0], seqs[0] + len(seqs))),
                    "seq contiguous over %d messages" % len(seqs))
        sub.close()
        dp.send_signal(signal.SIGINT)
        dp.wait(timeout=30)
        res = stlib.parse_final(open(dp_err).read())
        stlib.check(res["mbufs_in_use"] == (0, 0), "every mbuf back in its pool at exit")
    print("all checks passed")


main()
