"""set_instances GROUP N at run time (issue #14): a group lists three
instance addresses; instances_active = 2 starts it on the first two. Each
phase sends its flows to its own server port, so each instance's log of
that port holds exactly the flows it got in that phase:

  port 7, N = 2 (config)   flows spread by instance_of(h, 2), KPIs say 2;
                           the instances answer 500 ms late, and N drops to
                           1 while those answers are on their way: they are
                           still timed, none reaches the client
  bad N                    0, 4, a string, no group, an unknown group:
                           refused, nothing changes
  port 8, N = 1            every new flow on the first instance, KPIs say 1
  port 9, N = 3            spread again exactly by instance_of(h, 3)
  TCP, N = 3 -> 1          a keep-alive session the hash put on the third
                           instance stays there after N drops to 1 (its
                           later requests are served by that instance, no
                           reset); a session opened after goes to the first

usage: test_e2e_set_instances.py DATAPLANE_BINARY UDP_ECHO_BINARY CTL_BINARY"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import stlib  # noqa: E402
import sthash  # noqa: E402
import kpisub  # noqa: E402

DP, UDP_ECHO, CTL = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
CLIENT, SERVER = "198.18.0.1", "198.18.0.53"
INSTANCES = ["198.18.1.10", "198.18.1.11", "198.18.1.12"]
PORTS = [7, 8, 9]       # one per phase
FLOWS = 150
SHADOW_DELAY_MS = 500   # answers still on their way when N changes
INTERVAL = 0.5


def instance_of(h, n):
    """The dataplane's choice of instance: the flow hash remixed, scaled."""
    return (((h * 2654435761) & 0xFFFFFFFF) * n) >> 32


def wait_ready(paths, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(os.path.exists(p + ".ready") for p in paths):
            return
        time.sleep(0.05)
    stlib.fail("udp_echo servers not ready: %s" % paths)


def run_client(cli, port):
    """FLOWS flows at once (so their source ports are all distinct), one
    request each, answered by production."""
    out = subprocess.run(["ip", "netns", "exec", cli, PY, os.path.join(HERE, "udp_client.py"),
                          SERVER, str(port), str(FLOWS), "1", str(FLOWS), "1000"],
                         capture_output=True, text=True, timeout=60)
    r = json.loads(out.stdout)
    stlib.check(r["answered"] == FLOWS and r["extra"] == 0,
                "port %d: production answered all %d, nothing else reached the client"
                % (port, FLOWS))
    return r


# Keep-alive HTTP client run in the client namespace: one request on a
# connection from source port SPORT, then (once GO exists) two more on the
# same connection, then one on a new connection.
TCP_CLIENT = r'''
import http.client, os, sys, time
server, sport, ready, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = http.client.HTTPConnection(server, 80, timeout=5, source_address=("", sport))
for path in ("/before",):
    c.request("GET", path); c.getresponse().read()
open(ready, "w").close()
end = time.monotonic() + 10
while not os.path.exists(go) and time.monotonic() < end:
    time.sleep(0.02)
for path in ("/after1", "/after2"):
    c.request("GET", path); c.getresponse().read()
c.close()
n = http.client.HTTPConnection(server, 80, timeout=5)
n.request("GET", "/new"); n.getresponse().read()
n.close()
print("done")
'''


def tcp_phase(t, cli, ctl_ep, wd, http_logs):
    """N is 3: a session on the third instance, N down to 1 mid-session."""
    sport = next(sp for sp in range(41000, 60000)
                 if instance_of(sthash.flow_hash(CLIENT, sp, SERVER, 80, 6), 3) == 2)
    ready, go = os.path.join(wd, "tcp.ready"), os.path.join(wd, "tcp.go")
    p = t.spawn(cli, [PY, "-c", TCP_CLIENT, SERVER, str(sport), ready, go],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 10
    while not os.path.exists(ready) and time.monotonic() < end and p.poll() is None:
        time.sleep(0.02)
    time.sleep(0.3)  # the shadow's copy of /before
    rep = set_instances(ctl_ep, "pair", 1)
    open(go, "w").close()
    out, err = p.communicate(timeout=30)
    stlib.check(rep.get("ok") is True and p.returncode == 0 and "done" in out,
                "TCP: set_instances pair 1 mid-session, the client's requests all answered (%s)"
                % err.strip()[-200:])
    time.sleep(1.0)

    def reqs(a):
        return [(int(line.split()[1]), line.split('"')[1].split()[1])
                for line in open(http_logs[a]) if line.strip()]
    third, first = reqs(INSTANCES[2]), reqs(INSTANCES[0])
    stlib.check([r for r in third if r[0] == sport] ==
                [(sport, "/before"), (sport, "/after1"), (sport, "/after2")],
                "TCP: the session stayed on instance %s after N dropped to 1: %s"
                % (INSTANCES[2], third))
    stlib.check([r[1] for r in first] == ["/new"] and not reqs(INSTANCES[1]),
                "TCP: the session opened after went to the first instance: %s" % first)
    tcp = kpisub.request(ctl_ep, {"cmd": "stats"})["tcp"]
    stlib.check(tcp["shadow_resets"] == 0, "TCP: no instance reset a session (%d)"
                % tcp["shadow_resets"])


def set_instances(ctl_ep, group, n):
    return kpisub.request(ctl_ep, {"cmd": "set_instances", "group": group, "instances": n})


def main():
    netns.require()
    tag = "n%d" % (os.getpid() % 100000)
    wd = stlib.workdir("e2e-setinst")
    kpi_ep, ctl_ep = stlib.zmq_endpoints(wd)
    with netns.Topology(tag) as t:
        cli, prod, shd = t.ns("c"), t.ns("p"), t.ns("s")
        t.veth(cli, "eth0", "%sc" % tag, addr=CLIENT + "/24")
        t.veth(prod, "eth0", "%sp" % tag, addr=SERVER + "/24")
        t.veth(shd, "eth0", "%ss" % tag, addr=INSTANCES[0] + "/24")
        for a in INSTANCES[1:]:
            netns.sh("ip -n %s addr add %s/24 dev eth0" % (shd, a))
        # The clients are on-link for the shadow: the dataplane answers its ARP.
        netns.sh("ip -n %s route add 198.18.0.0/24 dev eth0" % shd)
        logs, servers = {}, []
        for port in PORTS:
            pl = os.path.join(wd, "prod-%d.log" % port)
            servers.append(t.spawn(prod, [UDP_ECHO, SERVER, str(port), "0", pl]))
            logs[("prod", port)] = pl
            for a in INSTANCES:
                lg = os.path.join(wd, "inst-%s-%d.log" % (a, port))
                servers.append(t.spawn(shd, [UDP_ECHO, a, str(port), str(SHADOW_DELAY_MS), lg]))
                logs[(a, port)] = lg
        http_logs = {}
        t.spawn(prod, [PY, os.path.join(HERE, "slow_http.py"), SERVER, "80", "0",
                       os.path.join(wd, "http-prod.log")])
        for a in INSTANCES:
            http_logs[a] = os.path.join(wd, "http-%s.log" % a)
            t.spawn(shd, [PY, os.path.join(HERE, "slow_http.py"), a, "80", "0", http_logs[a]])
        wait_ready(list(logs.values()))
        ini = os.path.join(wd, "dp.ini")
        with open(ini, "w") as f:
            f.write("[dataplane]\n" + stlib.endpoint_lines(wd) + """mode = inline
client_port = net_af_packet0
prod_port = net_af_packet1
service = web
interval = 500ms

[shadow.pair]
port = net_af_packet2
share = 1
instances = %s
instances_active = 2
""" % ", ".join(INSTANCES))
        vdevs = ["net_af_packet0,iface=%sc" % tag, "net_af_packet1,iface=%sp" % tag,
                 "net_af_packet2,iface=%ss" % tag]
        dp_err = os.path.join(wd, "dataplane.err")
        dp = t.spawn(None, [DP] + stlib.eal_args("e2e-setinst-%s" % tag, vdevs) +
                     ["--", "--config", ini, "--duration", "60s"],
                     stdout=subprocess.DEVNULL, stderr=open(dp_err, "w"))
        sub = kpisub.Collector(kpi_ep)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not sub.since(0, "pair"):
            if dp.poll() is not None:
                stlib.fail("dataplane exited: " + open(dp_err).read())
            time.sleep(0.1)
        g = kpisub.request(ctl_ep, {"cmd": "stats"})["groups"][0]
        stlib.check(g["instances"] == 2 and g["instances_listed"] == 3,
                    "instances_active = 2: stats says 2 of 3 in use")

        # Phase A: N = 2 from the config; N drops to 1 while the
        # instances' answers are on their way.
        phases = {}
        t_a = time.monotonic()
        ra = run_client(cli, PORTS[0])
        rep = set_instances(ctl_ep, "pair", 1)
        t_set1 = time.monotonic()
        stlib.check(rep.get("ok") is True and rep["group"]["instances"] == 1,
                    "set_instances pair 1: ok, the reply's group says 1")
        in_flight = t_set1 - t_a < SHADOW_DELAY_MS / 1000.0
        phases[PORTS[0]] = (ra, 2)
        time.sleep(SHADOW_DELAY_MS / 1000.0 + 2 * INTERVAL + 0.3)
        sm = sub.since(t_a, "pair")
        req, resp, tmo = (sum(m[k] for m in sm) for k in ("requests", "responses", "timeouts"))
        stlib.check(req == FLOWS and resp == FLOWS and tmo == 0,
                    "N 2 -> 1 with answers in flight (%s): all %d answers timed, "
                    "those of the instance taken out of use too (requests %d responses %d "
                    "timeouts %d)" % ("yes" if in_flight else "NOT: the client was slow",
                                      FLOWS, req, resp, tmo))
        # A snapshot reports the count in use when it is published.
        before = [m for m in sub.since(0, "pair") if m["_t"] < t_set1]
        stlib.check(before and all(m["instances"] == 2 for m in before),
                    "the %d KPI snapshots before the change report instances=2" % len(before))

        # Bad N: refused, nothing changes.
        for msg, what in (({"cmd": "set_instances", "group": "pair", "instances": 0}, "0"),
                          ({"cmd": "set_instances", "group": "pair", "instances": 4}, "4 of 3"),
                          ({"cmd": "set_instances", "group": "pair", "instances": -1}, "-1"),
                          ({"cmd": "set_instances", "group": "pair", "instances": "2"},
                           "a string"),
                          ({"cmd": "set_instances", "group": "pair"}, "no instances key"),
                          ({"cmd": "set_instances", "instances": 2}, "no group"),
                          ({"cmd": "set_instances", "group": "nope", "instances": 1},
                           "an unknown group")):
            rep = kpisub.request(ctl_ep, msg)
            stlib.check(rep.get("ok") is False and rep.get("error"),
                        "set_instances with %s refused: %s" % (what, rep.get("error")))
        out = subprocess.run([CTL, "-e", ctl_ep, "-t", "3s", "set_instances", "pair", "4"],
                             capture_output=True, text=True, timeout=10)
        stlib.check(out.returncode == 1 and "outside 1..3" in out.stdout + out.stderr,
                    "shadowtap-ctl set_instances pair 4: exit 1, %s"
                    % (out.stdout + out.stderr).strip()[:120])
        g = kpisub.request(ctl_ep, {"cmd": "stats"})["groups"][0]
        stlib.check(g["instances"] == 1, "after the refusals the group still uses 1")

        # Phase B: N = 1, every new flow on the first instance.
        t_b = time.monotonic()
        rb = run_client(cli, PORTS[1])
        phases[PORTS[1]] = (rb, 1)
        time.sleep(SHADOW_DELAY_MS / 1000.0 + 2 * INTERVAL + 0.3)
        sm = [m for m in sub.since(t_b, "pair") if m["requests"] > 0 or m["responses"] > 0]
        stlib.check(sm and all(m["instances"] == 1 for m in sm),
                    "N=1: KPI snapshots report instances=1 (%s)"
                    % sorted(set(m["instances"] for m in sm)))
        stlib.check(sum(m["responses"] for m in sm) == FLOWS,
                    "N=1: the first instance's %d answers timed" % FLOWS)

        # Phase C: N = 3 through shadowtap-ctl, spread again by the hash.
        out = subprocess.run([CTL, "-e", ctl_ep, "-t", "3s", "set_instances", "pair", "3"],
                             capture_output=True, text=True, timeout=10)
        rep = json.loads(out.stdout) if out.returncode == 0 else {}
        stlib.check(out.returncode == 0 and rep.get("group", {}).get("instances") == 3,
                    "shadowtap-ctl set_instances pair 3: exit 0, the group says 3")
        t_c = time.monotonic()
        rc_ = run_client(cli, PORTS[2])
        phases[PORTS[2]] = (rc_, 3)
        time.sleep(SHADOW_DELAY_MS / 1000.0 + 2 * INTERVAL + 0.3)
        sm = [m for m in sub.since(t_c, "pair") if m["requests"] > 0 or m["responses"] > 0]
        stlib.check(sm and all(m["instances"] == 3 for m in sm),
                    "N=3: KPI snapshots report instances=3 (%s)"
                    % sorted(set(m["instances"] for m in sm)))
        stlib.check(sum(m["responses"] for m in sm) == FLOWS,
                    "N=3: all %d answers timed" % FLOWS)
        sub.close()
        tcp_phase(t, cli, ctl_ep, wd, http_logs)

        # The instances' logs: exactly the flows the hash gives each.
        for p in servers:
            p.terminate()
        for p in servers:
            p.wait(timeout=10)
        for port in PORTS:
            r, n = phases[port]
            for i, a in enumerate(INSTANCES):
                seen = set(int(line.split()[1]) for line in open(logs[(a, port)]) if line.strip())
                want = set(sp for sp in r["sports"]
                           if instance_of(sthash.flow_hash(CLIENT, sp, SERVER, port, 17), n) == i)
                stlib.check(seen == want and (len(want) > 0) == (i < n),
                            "port %d, N=%d: instance %s got exactly its %d flows (%d seen)"
                            % (port, n, a, len(want), len(seen)))
        dp.send_signal(signal.SIGINT)
        dp.wait(timeout=30)
        err = open(dp_err).read()
        stlib.check("control: pair instances 1 of 3 (was 2)" in err and
                    "control: pair instances 3 of 3 (was 1)" in err,
                    "each change logged with the count before it")
        res = stlib.parse_final(err)
        stlib.check(res["mbufs_in_use"] == (0, 0), "every mbuf back in its pool at exit")
    print("all checks passed")


main()
