"""The dataplane's HTTP surface ([dataplane] http_endpoint) on net_pcap
ports: a capture of UDP requests goes in on the client port, production and
a shadow group (share 1) get them.

  - GET /metrics is clean under `promtool check metrics`;
  - its counters are the dataplane's: the client port's rx, production's
    tx and the group's copies reach the capture's count, and equal the
    final counters the dataplane prints at exit;
  - GET /healthz answers 200; an unknown path 404;
  - off by default: without http_endpoint nothing listens;
  - a non-loopback address without a token file: refused at start.

usage: test_dataplane_http.py DATAPLANE"""
import http.client
import os
import re
import shutil
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


def start(wd, name, http_line):
    pkts = [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
            IP(src="198.18.0.%d" % (1 + i % 50), dst="198.18.1.53") /
            UDP(sport=10000 + i, dport=53) / Raw(b"q%03d" % i) for i in range(N)]
    wrpcap(os.path.join(wd, "in.pcap"), pkts)
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
        ["--", "--config", ini, "--duration", "8s"]
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


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


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


def main():
    wd = stlib.workdir("dphttp")
    proc, errpath, errf = start(wd, "on", "http_endpoint = 127.0.0.1:0\n")
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
    rx = sample(text, "shadowtap_dp_port_rx_packets_total", port="net_pcap0", role="client")
    tx = sample(text, "shadowtap_dp_port_tx_packets_total", port="net_pcap1", role="prod")
    copies = sample(text, "shadowtap_dp_group_copies_total", group="canary", source="mirror")
    stlib.check(rx == N and tx == N and copies == N,
                "/metrics: client rx %s, prod tx %s, canary copies %s (sent %d)" % (rx, tx, copies, N))
    stlib.check(sample(text, "shadowtap_dp_group_drops_total", group="canary", source="mirror",
                       reason="no_mbuf") == 0, "drops by reason, labelled")
    stlib.check(re.search(r'^shadowtap_dp_mbufs_in_use\{pool="copies"\} \d+$', text, re.M) is not None,
                "mbufs in use per pool")
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=30)
    out = (p.stdout + p.stderr).strip()
    stlib.check(p.returncode == 0 and out == "", "promtool check metrics: clean %s" % out[:400])
    err = finish(proc, errf, errpath)
    final = stlib.parse_final(err)
    stlib.check(final["ports"]["client"]["rx"] == rx and final["ports"]["prod"]["tx"] == tx and
                final["shadows"]["canary"]["copies"] == copies,
                "the same numbers as the final counters (%d, %d, %d)"
                % (final["ports"]["client"]["rx"], final["ports"]["prod"]["tx"],
                   final["shadows"]["canary"]["copies"]))

    proc, errpath, errf = start(wd, "off", "")
    time.sleep(2)
    err = open(errpath).read()
    stlib.check("http: listening" not in err, "off by default: nothing listens")
    finish(proc, errf, errpath)

    proc, errpath, errf = start(wd, "open", "http_endpoint = 0.0.0.0:0\n")
    err = finish(proc, errf, errpath)
    stlib.check(proc.returncode != 0 and "loopback" in err and "http_token_file" in err,
                "0.0.0.0 without a token file: refused (%s)"
                % [l for l in err.splitlines() if "loopback" in l][:1])
    print("PASS")


main()
