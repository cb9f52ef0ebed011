"""The dataplane's HTTP surface ([dataplane] http_endpoint) on net_pcap
ports: a capture of UDP requests goes in on the client port, production and
a shadow group (share 1) get them.

  - GET /metrics is clean under `promtool check metrics`;
  - its counters are the dataplane's: the client port's rx, production's
    tx packets and bytes (the capture's frame sizes) and the group's copies
    reach the capture's count, and equal the final counters the dataplane
    prints at exit;
  - flows as a level: shadowtap_dp_flows_active counts the capture's flows
    once they passed (bounded by shadowtap_dp_flows_max) and falls back to 0
    after flow_idle_timeout, as many expired as were active;
  - GET /healthz answers 200; an unknown path 404;
  - off by default: without http_endpoint nothing listens;
  - a non-loopback address without a token file or client CA: refused at
    start; with a token, 401 without it and with a wrong one, 200 with it;
  - HTTPS with http_tls_client_ca: the server's certificate verified, 403
    without a client certificate, a scrape with one the CA signed.

usage: test_dataplane_http.py DATAPLANE"""
import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stlib  # noqa: E402

try:
    from scapy.all import IP, UDP, Ether, Raw, wrpcap
except ImportError:
    stlib.skip("python3-scapy is not installed (scripts/setup.sh installs it)")

DP = sys.argv[1]
PROMTOOL = shutil.which("promtool")
if PROMTOOL is None:
    stlib.skip("promtool is not installed (Debian package prometheus; scripts/setup.sh)")
N = 200
TOKEN = "dp-http-0123456789-abcdef"


def frames():
    """N UDP requests, each its own flow."""
    return [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
            IP(src="198.18.0.%d" % (1 + i % 50), dst="198.18.1.53") /
            UDP(sport=10000 + i, dport=53) / Raw(b"q%03d" % i) for i in range(N)]


def start(wd, name, http_line, duration="8s"):
    wrpcap(os.path.join(wd, "in.pcap"), frames())
    wrpcap(os.path.join(wd, "empty.pcap"), [])
    empty = os.path.join(wd, "empty.pcap")
    ini = os.path.join(wd, "%s.ini" % name)
    with open(ini, "w") as f:
        f.write("[dataplane]\n" + stlib.endpoint_lines(wd) +
                "mode = inline\nclient_port = net_pcap0\nprod_port = net_pcap1\ninterval = 200ms\n"
                "idle_sleep = 1ms\nstats = false\n" + http_line +
                "\n[shadow.canary]\nport = net_pcap2\nshare = 1\ndst_mac = 02:00:00:00:0a:0a\n")
    vdevs = ["net_pcap0,rx_pcap=%s,tx_pcap=%s" % (os.path.join(wd, "in.pcap"),
                                                   os.path.join(wd, "client_out.pcap")),
             "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (empty, os.path.join(wd, "prod.pcap")),
             "net_pcap2,rx_pcap=%s,tx_pcap=%s" % (empty, os.path.join(wd, "shadow.pcap"))]
    errpath = os.path.join(wd, "%s.err" % name)
    cmd = [DP] + stlib.eal_args("dphttp-%s-%d" % (name, os.getpid()), vdevs) + \
        ["--", "--config", ini, "--duration", duration]
    print("run: " + " ".join(cmd))
    errf = open(errpath, "w")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf), errpath, errf


def port_of(proc, errpath):
    deadline = time.time() + 30
    while time.time() < deadline:
        m = re.search(r"http: listening on \S+ port (\d+)", open(errpath).read())
        if m:
            return int(m.group(1))
        if proc.poll() is not None:
            stlib.fail("dataplane exited: %s" % open(errpath).read()[-2000:])
        time.sleep(0.1)
    stlib.fail("the dataplane did not say which port it listens on")


def get(port, path, headers=None, ctx=None):
    if ctx is None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    else:
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def plain(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def sample(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    m = re.search(r"^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(want)), text, re.M)
    return float(m.group(1)) if m else None


def finish(proc, errf, errpath):
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        stlib.fail("the dataplane did not stop")
    errf.close()
    return open(errpath).read()


def scenario_counters(wd):
    # Flows forget after 3 s idle: long enough to see them, short enough
    # to see them go within the run.
    proc, errpath, errf = start(wd, "on", "http_endpoint = 127.0.0.1:0\nflow_idle_timeout = 3s\n")
    port = port_of(proc, errpath)
    st, body = get(port, "/healthz")
    stlib.check(st == 200, "/healthz: 200 (%s)" % body.strip())
    st, _ = get(port, "/nope")
    stlib.check(st == 404, "unknown path: 404")
    text = ""
    deadline = time.time() + 20
    while time.time() < deadline:
        st, text = get(port, "/metrics")
        if sample(text, "shadowtap_dp_group_copies_total", group="canary", source="mirror") == N:
            break
        time.sleep(0.2)
    t_seen = time.time()
    rx = sample(text, "shadowtap_dp_port_rx_packets_total", port="net_pcap0", role="client")
    tx = sample(text, "shadowtap_dp_port_tx_packets_total", port="net_pcap1", role="prod")
    tx_bytes = sample(text, "shadowtap_dp_port_tx_bytes_total", port="net_pcap1", role="prod")
    copies = sample(text, "shadowtap_dp_group_copies_total", group="canary", source="mirror")
    stlib.check(rx == N and tx == N and copies == N,
                "/metrics: client rx %s, prod tx %s, canary copies %s (sent %d)" % (rx, tx, copies, N))
    want_bytes = sum(len(bytes(f)) for f in frames())
    stlib.check(tx_bytes == want_bytes,
                "/metrics: prod tx bytes %s = the capture's %d bytes (%.0f a frame)"
                % (tx_bytes, want_bytes, (tx_bytes or 0) / max(tx or 1, 1)))
    stlib.check(sample(text, "shadowtap_dp_port_tx_bytes_total", port="net_pcap0", role="client") == 0,
                "and the client port, which sent nothing, 0 tx bytes")
    active = plain(text, "shadowtap_dp_flows_active")
    fmax = plain(text, "shadowtap_dp_flows_max")
    stlib.check(active is not None and fmax is not None and 0 < active <= min(N, fmax),
                "flows active while the capture's flows live: %s (of %d flows, table %s)"
                % (active, N, fmax))
    stlib.check(plain(text, "shadowtap_dp_tcp_sessions_active") == 0,
                "no TCP sessions for UDP traffic")
    stlib.check(sample(text, "shadowtap_dp_group_drops_total", group="canary", source="mirror",
                       reason="no_mbuf") == 0, "drops by reason, labelled")
    stlib.check(re.search(r'^shadowtap_dp_mbufs_in_use\{pool="copies"\} \d+$', text, re.M) is not None,
                "mbufs in use per pool")
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=30)
    out = (p.stdout + p.stderr).strip()
    stlib.check(p.returncode == 0 and out == "", "promtool check metrics: clean %s" % out[:400])
    # The idle timeout, a sweep (at most 100 ms) and a publication later.
    later = active
    while time.time() < t_seen + 5.5 and later != 0:
        time.sleep(0.2)
        later = plain(get(port, "/metrics")[1], "shadowtap_dp_flows_active")
    _, text = get(port, "/metrics")
    expired = plain(text, "shadowtap_dp_flows_expired_total")
    stlib.check(later == 0 and expired is not None and expired >= active,
                "flows active back to 0 after flow_idle_timeout (%s), %s expired"
                % (later, expired))
    err = finish(proc, errf, errpath)
    final = stlib.parse_final(err)
    fp = final["ports"]["prod"]
    stlib.check(final["ports"]["client"]["rx"] == rx and fp["tx"] == tx and
                final["shadows"]["canary"]["copies"] == copies and fp["tx_bytes"] == tx_bytes,
                "the same numbers as the final counters (%d, %d, %d, %d bytes)"
                % (final["ports"]["client"]["rx"], fp["tx"], final["shadows"]["canary"]["copies"],
                   fp["tx_bytes"]))
    m = re.search(r"flows: table full \d+, expired (\d+), active (\d+)", err)
    stlib.check(m is not None and int(m.group(1)) == expired and int(m.group(2)) == 0,
                "the final counters' flows line: %s" % (m.group(0) if m else None))


def scenario_off_open(wd):
    proc, errpath, errf = start(wd, "off", "", duration="3s")
    time.sleep(2)
    err = open(errpath).read()
    stlib.check("http: listening" not in err, "off by default: nothing listens")
    finish(proc, errf, errpath)

    proc, errpath, errf = start(wd, "open", "http_endpoint = 0.0.0.0:0\n")
    err = finish(proc, errf, errpath)
    # exit 2: a config error, which the unit does not restart in a loop
    stlib.check(proc.returncode == 2 and "loopback" in err and "http_token_file" in err
                and "http_tls_client_ca" in err,
                "0.0.0.0 without a token file or client CA: refused, exit %d (%s)"
                % (proc.returncode, [l for l in err.splitlines() if "loopback" in l][:1]))
    # --check says so too, without the EAL (it used to say "config OK")
    r = subprocess.run([DP, "--", "--config", os.path.join(wd, "open.ini"), "--check"],
                       capture_output=True, text=True, timeout=30)
    stlib.check(r.returncode == 2 and "http_token_file" in r.stderr and "config OK" not in r.stdout,
                "--check refuses it too, exit %d" % r.returncode)


def scenario_token(wd):
    tok = os.path.join(wd, "token")
    with open(tok, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(tok, 0o600)
    proc, errpath, errf = start(wd, "token", "http_endpoint = 0.0.0.0:0\nhttp_token_file = %s\n"
                                % tok, duration="5s")
    port = port_of(proc, errpath)
    st, _ = get(port, "/metrics")
    stlib.check(st == 401, "a non-loopback bind with a token: no token, 401 (%d)" % st)
    st, _ = get(port, "/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"})
    stlib.check(st == 401, "a wrong token: 401 (%d)" % st)
    st, text = get(port, "/metrics", headers={"Authorization": "Bearer " + TOKEN})
    stlib.check(st == 200 and "shadowtap_dp_port_rx_packets_total" in text,
                "the right token: 200 and the counters (%d)" % st)
    st, _ = get(port, "/healthz")
    stlib.check(st == 200, "/healthz needs no token (%d)" % st)
    finish(proc, errf, errpath)
    stlib.check(proc.returncode == 0, "stopped cleanly (%d)" % proc.returncode)


def scenario_tls(wd):
    pki = stlib.make_pki(wd)
    proc, errpath, errf = start(wd, "tls", "http_endpoint = 0.0.0.0:0\nhttp_tls_cert = %s\n"
                                "http_tls_key = %s\nhttp_tls_client_ca = %s\n"
                                % (pki["server_crt"], pki["server_key"], pki["client_ca"]),
                                duration="5s")
    port = port_of(proc, errpath)
    stlib.check("(TLS, client certificates)" in open(errpath).read(),
                "the dataplane says it serves TLS and asks for client certificates")
    ctx = ssl.create_default_context(cafile=pki["server_crt"])
    st, _ = get(port, "/metrics", ctx=ctx)
    stlib.check(st == 403, "HTTPS, the server verified, no client certificate: 403 (%d)" % st)
    ctx.load_cert_chain(pki["client_crt"], pki["client_key"])
    st, text = get(port, "/metrics", ctx=ctx)
    stlib.check(st == 200 and plain(text, "shadowtap_dp_flows_max") is not None,
                "an HTTPS scrape with a client certificate the CA signed: 200 (%d)" % st)
    finish(proc, errf, errpath)
    stlib.check(proc.returncode == 0, "stopped cleanly (%d)" % proc.returncode)


def main():
    wd = stlib.workdir("dphttp")
    scenario_counters(wd)
    scenario_off_open(wd)
    scenario_token(wd)
    scenario_tls(wd)
    print("PASS")


main()
