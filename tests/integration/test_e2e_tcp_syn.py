"""A TCP session whose SYN could not be copied starts anew with the client's
SYN sent again. The shadow's address answers no ARP at first, so the copy
of the client's first SYN is dropped (no_neigh); production drops that SYN
too, so the client sends it again. Once the shadow has its address and the
dataplane has its MAC, production takes the SYN: the SYN sent again must
reach the shadow, and the request after it. (Before, the session made for
the first SYN stayed in SYN_SENT with nothing queued, every SYN after it
was skipped as sent again, and the shadow never saw the connection.)

usage: test_e2e_tcp_syn.py DATAPLANE_BINARY"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import nginx  # noqa: E402
import stlib  # noqa: E402
import kpisub  # noqa: E402

DP = sys.argv[1]
PY = "/usr/bin/python3"
CLIENT, SERVER = "198.18.0.1", "198.18.0.53"

# One connection, one request, the client's port named in the output; the
# kernel's SYN retries (1 s, 3 s, 7 s, ...) are the SYNs sent again.
CLIENT_PY = """
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=40)
print(s.getsockname()[1], flush=True)
s.sendall(b"GET /syn-again HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n")
data = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
print(data.split(b"\\r\\n")[0].decode(), flush=True)
"""


def group(ctl_ep):
    return kpisub.request(ctl_ep, {"cmd": "stats"})["groups"][0]


def wait_for(what, cond, timeout, must=True):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    if must:
        stlib.fail("timed out waiting: " + what)


def main():
    netns.require()
    nginx.require()
    tag = "y%d" % (os.getpid() % 100000)
    wd = stlib.workdir("e2e-tcp-syn")
    kpi_ep, ctl_ep = stlib.zmq_endpoints(wd)
    with netns.Topology(tag) as t:
        cli, prod, shd = t.ns("c"), t.ns("p"), t.ns("s")
        t.veth(cli, "eth0", "%sc" % tag, addr=CLIENT + "/24")
        t.veth(prod, "eth0", "%sp" % tag, addr=SERVER + "/24")
        t.veth(shd, "eth0", "%ss" % tag)  # no address yet: no ARP answer
        pconf, plog = nginx.write_conf(wd, "prod", SERVER + ":80")
        sconf, slog = nginx.write_conf(wd, "shadow", "80")
        t.spawn(prod, nginx.argv(pconf))
        t.spawn(shd, nginx.argv(sconf))
        # Production drops the client's SYNs until told otherwise.
        netns.sh("ip netns exec %s nft add table inet hold" % prod)
        netns.sh("ip netns exec %s nft 'add chain inet hold in { type filter hook input priority 0; }'" % prod)
        netns.sh("ip netns exec %s nft add rule inet hold in tcp dport 80 tcp flags syn drop" % prod)
        netns.inline_dataplane(t, DP, wd, SERVER, 1.0, "e2e-tcp-syn-%s" % tag, duration="120s")
        neigh0 = group(ctl_ep)["drops"]["no_neigh"]

        client = t.spawn(cli, [PY, "-c", CLIENT_PY, SERVER], stdout=subprocess.PIPE, text=True)
        wait_for("the first SYN's copy dropped for want of the shadow's MAC",
                 lambda: group(ctl_ep)["drops"]["no_neigh"] > neigh0, 5)
        # The shadow takes its address. The dataplane asks for the MAC once
        # a second (an ARP probe, which leaves no trace in the shadow's
        # cache): two seconds and a half give it two chances.
        netns.sh("ip -n %s addr add %s/24 dev eth0" % (shd, SERVER))
        time.sleep(2.5)
        neigh1 = group(ctl_ep)["drops"]["no_neigh"]
        netns.sh("ip netns exec %s nft delete table inet hold" % prod)
        try:
            out, _ = client.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            client.kill()
            stlib.fail("the client never finished its request")
        lines = out.split()
        stlib.check(client.returncode == 0 and len(lines) >= 3 and lines[2] == "200",
                    "production answered the request after the SYN sent again (%r)" % out)
        port = int(lines[0])
        prod_reqs = [r for p, r, _, _ in nginx.read_log(plog) if p == port]
        stlib.check(prod_reqs == ["GET /syn-again HTTP/1.1"], "production logged it once (%s)" % prod_reqs)

        wait_for("the shadow's log", lambda: any(p == port for p, _, _, _ in nginx.read_log(slog)),
                 5, must=False)
        g = group(ctl_ep)
        tcp = kpisub.request(ctl_ep, {"cmd": "stats"})["tcp"]
        print("group:", g)
        print("tcp:", tcp)
        shadow = [(r, st) for p, r, st, _ in nginx.read_log(slog) if p == port]
        stlib.check(shadow == [("GET /syn-again HTTP/1.1", 200)],
                    "the shadow served the connection whose first SYN it never got (%s; no_neigh %d)"
                    % (shadow, neigh1 - neigh0))
        stlib.check(tcp["shadow_resets"] == 0, "the shadow reset nothing")
    print("PASS")


if __name__ == "__main__":
    main()
