"""shadowtap-sub and shadowtap-ctl against an independent ZeroMQ peer
(python3-zmq) and an independent msgpack encoder (python3-msgpack).

sub: real KPI snapshots built per DESIGN.md's contract, with a latency
histogram encoded by hist_tool, come out as JSON lines with the right
percentiles; topic filtering; malformed messages (wrong frame counts,
garbage, hostile counts, bad histograms) are skipped and counted while later
good ones still print; --count/--timeout exit statuses; CURVE with a listed
and an unlisted key.

ctl: the request maps are exactly the documented wire form; ok=true -> 0,
ok=false -> 1, no reply / bad reply / usage -> 2; CURVE.

Usage: test_sub_ctl.py SUB HIST_TOOL [CTL]   (CTL absent or "-": skipped)
Needs no DPDK, no root. Ports are picked by binding to port 0."""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stlib import check, fail, skip, workdir  # noqa: E402

try:
    import zmq
    import zmq.auth.thread
except ImportError:
    skip("python3-zmq is not installed (apt-get install python3-zmq)")
try:
    import msgpack
except ImportError:
    skip("python3-msgpack is not installed (apt-get install python3-msgpack)")

if len(sys.argv) < 3:
    fail("usage: test_sub_ctl.py SUB HIST_TOOL [CTL]")
SUB = sys.argv[1]
HIST_TOOL = sys.argv[2]
CTL = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != "-" else None

ctx = zmq.Context()
wd = workdir("subctl")


# --------------------------------------------------------------------------
# helpers

def hist_encode(pairs):
    """V2 base64 of a histogram with the dataplane's layout (1 ns..1 h, 3
    significant digits), made by hist_tool from value:count pairs."""
    text = " ".join("%d:%d" % (v, c) for v, c in pairs) + "\n"
    p = subprocess.run([HIST_TOOL, "encode", "1", "3600000000000", "3"],
                       input=text, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        fail("hist_tool encode: %s" % p.stderr)
    return p.stdout.strip()


def hist_stats(b64):
    p = subprocess.run([HIST_TOOL, "decode"], input=b64 + "\n",
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        fail("hist_tool decode: %s %s" % (p.stdout, p.stderr))
    return json.loads(p.stdout)


def kpi(seq, target="prod", lat=b"", **extra):
    """A KPI snapshot map, every field of the contract."""
    now = time.time_ns()
    m = {
        "v": 1, "seq": seq, "src": "gw1", "service": "web", "target": target,
        "role": "prod" if target == "prod" else "shadow", "instances": 8,
        "t0": now - 1000000000, "t1": now, "pkts": 1000 + seq,
        "bytes": 150000, "rx_pkts": 990, "rx_bytes": 1200000,
        "requests": 100, "responses": 99, "timeouts": 1, "resets": 0,
        "icmp_errors": 0, "offered_rps": 0.0,
        "drops": {"ring_full": 3, "rate_cap": 0}, "lat": lat,
    }
    m.update(extra)
    return m


def pack(m):
    return msgpack.packb(m, use_bin_type=True)


def start_sub(args, timeout="10s"):
    cmd = [SUB] + (["--timeout", timeout] if timeout else []) + args
    print("run: " + " ".join(cmd))
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(p, limit=20):
    try:
        out, err = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        fail("shadowtap-sub did not exit within %ds:\n%s" % (limit, err))
    return p.returncode, out, err


def xpub(**curve):
    """An XPUB on a free TCP port: it sees subscriptions, so the test
    publishes only once the subscriber is really there."""
    s = ctx.socket(zmq.XPUB)
    s.linger = 0
    for k, v in curve.items():
        setattr(s, k, v)
    port = s.bind_to_random_port("tcp://127.0.0.1")
    return s, "tcp://127.0.0.1:%d" % port


def wait_subscription(s, what, limit=10.0):
    """The next subscription (b"\\x01" + prefix) the XPUB sees within limit
    seconds, or None; unsubscriptions of earlier subscribers are skipped."""
    end = time.monotonic() + limit
    while True:
        left = end - time.monotonic()
        if left <= 0 or not s.poll(max(1, int(left * 1000))):
            return None
        m = s.recv()
        if m[:1] == b"\x01":
            return m


def summary(err):
    m = re.search(r"received (\d+), printed (\d+), malformed (\d+), lat_errors (\d+)", err)
    if not m:
        fail("no summary line in stderr:\n" + err)
    return tuple(int(x) for x in m.groups())


def read_key_file(path):
    keys = {}
    for line in open(path):
        line = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
        if "=" in line:
            k, v = line.split("=", 1)
            keys[k.strip()] = v.strip().split()[0]
    return keys


def write_keypair(prefix):
    pub, sec = zmq.curve_keypair()
    with open(prefix + ".key", "w") as f:
        f.write("public = %s\nsecret = %s\n" % (pub.decode(), sec.decode()))
    os.chmod(prefix + ".key", 0o600)
    with open(prefix + ".pub", "w") as f:
        f.write("public = %s\n" % pub.decode())
    return pub, sec


def authenticator(allowed_pubs):
    """pyzmq's own ZAP handler admitting the given client keys (zcert
    files in a directory of their own)."""
    d = tempfile.mkdtemp(prefix="certs-", dir=wd)
    for i, k in enumerate(allowed_pubs):
        with open(os.path.join(d, "c%d.key" % i), "w") as f:
            f.write('metadata\ncurve\n    public-key = "%s"\n' % k)
    auth = zmq.auth.thread.ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="shadowtap", location=d)
    return auth


class Server:
    """Answers each request with the next scripted reply: a dict (packed),
    bytes (sent raw), a list (several frames), or None (no answer)."""

    def __init__(self, **curve):
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        for k, v in curve.items():
            setattr(self.sock, k, v)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.ep = "tcp://127.0.0.1:%d" % port
        self.requests = []
        self.replies = []
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop:
            if not self.sock.poll(50):
                continue
            f = self.sock.recv_multipart()
            ident, body = f[0], f[-1]
            self.requests.append(msgpack.unpackb(body, raw=False))
            r = self.replies.pop(0) if self.replies else {"ok": True}
            if r is None:
                continue
            if isinstance(r, dict):
                r = [pack(r)]
            elif isinstance(r, bytes):
                r = [r]
            self.sock.send_multipart([ident, b""] + r)

    def close(self):
        self.stop = True
        self.t.join()
        self.sock.close()


def ctl(srv, args, reply=None, timeout="2s", extra=()):
    """Runs shadowtap-ctl against srv, which answers with reply; returns
    (status, stdout, stderr, the request map srv received or None)."""
    srv.replies.append({"ok": True} if reply is None else reply)
    n = len(srv.requests)
    cmd = [CTL] + list(extra) + ["-e", srv.ep, "-t", timeout] + args
    print("run: " + " ".join(cmd))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    req = srv.requests[n] if len(srv.requests) > n else None
    if req is None:
        srv.replies.pop(0)
    return r.returncode, r.stdout, r.stderr, req



def exact(req, want, what):
    """Same keys, same values, same msgpack types (float stays float)."""
    same = req == want and all(type(req[k]) is type(want[k]) for k in want)
    check(same, "%s: request %r" % (what, req))


def main():
    # --------------------------------------------------------------------------
    # shadowtap-sub: contents, percentiles, malformed messages

    LAT_PAIRS = [(1000, 50), (2000, 40), (50000, 9), (1000000, 1)]
    lat_b64 = hist_encode(LAT_PAIRS)
    lat_bin = base64.b64decode(lat_b64)
    expect = hist_stats(lat_b64)
    check(expect["count"] == 100 and expect["p50"] == 1000 and expect["p90"] == 2000,
          "hist_tool made the reference histogram (%s)" % expect)

    pub, ep = xpub()
    p = start_sub(["--count", "4", ep, "kpi."])
    sub_msg = wait_subscription(pub, "sub")
    check(sub_msg == b"\x01kpi.", "shadowtap-sub subscribed to the topic prefix 'kpi.'")

    good1 = kpi(1, lat=lat_bin)
    good2 = kpi(2, target="canary")                           # empty lat: no samples
    good3 = kpi(3, lat=b"\x1c\x84\x93\x14garbage")            # lat that does not decode
    good4 = kpi(4, lat=lat_bin, note='quote " backslash \\ newline \n é')
    frames = [
        [b"verdict.web", pack({"v": 1, "seq": 1})],           # filtered out by topic
        [b"kpi.web.prod", pack(good1)],
        [b"kpi.web.prod"],                                    # one frame
        [b"kpi.web.prod", b"\xc1\xc1\xc1"],                   # garbage msgpack
        [b"kpi.web.prod", b"\xdf\xff\xff\xff\xff"],           # map32 of 4 G pairs
        [b"kpi.web.prod", b"\x81\xa1v\xdb\xff\xff\xff\xff"],  # str32 of 4 GiB
        [b"kpi.web.prod", b"\x81\xa1a" + b"\x91" * 100 + b"\x00"],  # too deep
        [b"kpi.web.prod", pack([1, 2, 3])],                   # not a map
        [b"kpi.web.prod", pack(good1) + b"\x00"],             # trailing byte
        [b"kpi.web.prod", pack(good1), b"extra"],             # three frames
        [b"kpi.web.canary", pack(good2)],
        [b"kpi.web.prod", pack(good3)],
        [b"kpi.\xff\x00\"x", pack(good4)],                    # hostile topic text
        [b"kpi.web.prod", pack(kpi(5))],                      # past --count: not printed
    ]
    for f in frames:
        pub.send_multipart(f)
    rc, out, err = finish(p)
    print(err)
    lines = out.splitlines()
    check(rc == 0, "sub --count 4 exits 0 (got %d)" % rc)
    check(len(lines) == 4, "exactly 4 JSON lines printed (got %d)" % len(lines))
    docs = [json.loads(line) for line in lines]
    check(all(set(d) == {"topic", "msg"} for d in docs), "each line is {topic, msg}")
    check([d["topic"] for d in docs[:3]] == ["kpi.web.prod", "kpi.web.canary", "kpi.web.prod"],
          "topics in order, verdict filtered out")
    check(docs[3]["topic"] == "kpi.\ufffd\u0000\"x", "a non-UTF-8 topic is escaped, not broken")

    m1 = docs[0]["msg"]
    check({k: v for k, v in m1.items() if k != "lat"} == {k: v for k, v in good1.items() if k != "lat"},
          "every KPI field comes through unchanged")
    lat = m1["lat"]
    check(set(lat) == {"count", "p50", "p90", "p99", "p99.9", "max", "min", "mean"},
          "lat has count, p50, p90, p99, p99.9, max, min, mean: %s" % lat)
    for k, ek in [("count", "count"), ("p50", "p50"), ("p90", "p90"), ("p99", "p99"),
                  ("p99.9", "p999"), ("max", "max"), ("min", "min")]:
        check(lat[k] == expect[ek], "lat %s = %d (hist_tool says %d)" % (k, lat[k], expect[ek]))
    check(abs(lat["mean"] - expect["mean"]) < 0.01, "lat mean %.3f = %.3f" % (lat["mean"], expect["mean"]))
    check(lat["p50"] == 1000 and lat["p90"] == 2000 and 50000 <= lat["p99"] < 50100,
          "percentiles match the recorded values (p50 1000, p90 2000, p99 ~50000)")
    check(docs[1]["msg"]["lat"] == {"count": 0, "p50": 0, "p90": 0, "p99": 0, "p99.9": 0,
                                    "max": 0, "min": 0, "mean": 0},
          "an empty lat renders as count 0")
    check(set(docs[2]["msg"]["lat"]) == {"error"}, "a bad lat renders as {error}: %s" % docs[2]["msg"]["lat"])
    check(docs[2]["msg"]["seq"] == 3, "...and the rest of that message still prints")
    check(docs[3]["msg"]["note"] == good4["note"], "strings with quotes, newlines, UTF-8 round-trip")
    received, printed, malformed, lat_errors = summary(err)
    check((printed, malformed, lat_errors) == (4, 8, 1),
          "summary: printed 4, malformed 8, lat_errors 1 (got %d, %d, %d)" % (printed, malformed, lat_errors))
    check("expected 2" in err and "malformed" in err, "malformed messages are reported on stderr")
    pub.close()

    # --raw keeps the encoding next to the summary.
    pub, ep = xpub()
    p = start_sub(["--raw", "-n", "1", ep])
    wait_subscription(pub, "sub")
    pub.send_multipart([b"kpi.web.prod", pack(kpi(1, lat=lat_bin))])
    rc, out, err = finish(p)
    d = json.loads(out)
    check(rc == 0 and d["msg"]["lat"].get("b64") == lat_b64 and d["msg"]["lat"]["count"] == 100,
          "--raw adds the base64 encoding as lat.b64")
    pub.close()

    # A clients message as large as the dataplane sends (client_top up to
    # 100000, the message up to 1 MiB): 5000 clients, each a map of 11
    # pairs with its latency list, print whole.
    pub, ep = xpub()
    p = start_sub(["-n", "1", ep])
    wait_subscription(pub, "sub")
    many = [{"key": "198.18.%d.%d/32" % (i // 250, i % 250 + 1), "requests": i, "err": 0,
             "timeouts": 0, "resets": 0, "pkts": 2 * i, "bytes": 100 * i, "rx_pkts": i,
             "rx_bytes": 1000 * i, "lat_sum": 2000 * i, "lat": [i % 7, 1, 0, 2, 5]}
            for i in range(5000)]
    body = pack({"v": 1, "seq": 1, "src": "gw1", "service": "web", "n": len(many), "clients": many})
    check(len(body) < 1 << 20, "the clients message is %d bytes (under 1 MiB)" % len(body))
    pub.send_multipart([b"clients.web", body])
    rc, out, err = finish(p)
    got = json.loads(out)["msg"]["clients"] if rc == 0 and out else []
    check(len(got) == 5000 and got[4999] == many[4999],
          "a clients message of 5000 clients prints whole (%d listed; %s)" % (len(got), err.strip()[-200:]))
    pub.close()

    # A flood of malformed messages: stderr stays short, the good one prints.
    pub, ep = xpub()
    p = start_sub(["-n", "1", ep])
    wait_subscription(pub, "sub")
    for i in range(300):
        pub.send_multipart([b"kpi.web.prod", b"\xc1"])
    pub.send_multipart([b"verdict.web", pack({"v": 1, "seq": 9, "service": "web", "verdict": "confirm"})])
    rc, out, err = finish(p)
    received, printed, malformed, lat_errors = summary(err)
    check(rc == 0 and json.loads(out)["msg"]["verdict"] == "confirm",
          "after 300 malformed messages the next good one prints")
    check(malformed == 300, "all 300 counted (got %d)" % malformed)
    check(len(err.splitlines()) < 40, "stderr rate-limited: %d lines for 300 bad messages" % len(err.splitlines()))
    pub.close()

    # --count N --timeout D with fewer than N messages: non-zero, on time.
    pub, ep = xpub()
    t = time.monotonic()
    p = start_sub(["-n", "3", ep], timeout="1500ms")
    wait_subscription(pub, "sub")
    pub.send_multipart([b"kpi.web.prod", pack(kpi(1))])
    rc, out, err = finish(p)
    took = time.monotonic() - t
    check(rc == 1 and len(out.splitlines()) == 1, "--count 3 --timeout with 1 message: exit 1, 1 line (rc %d)" % rc)
    check(took < 5, "...and it stopped on time (%.1fs)" % took)
    pub.close()

    # --timeout without --count: 0 with at least one message, 1 with none.
    pub, ep = xpub()
    p = start_sub([ep], timeout="700ms")
    wait_subscription(pub, "sub")
    pub.send_multipart([b"kpi.web.prod", pack(kpi(1))])
    rc, out, err = finish(p)
    check(rc == 0 and len(out.splitlines()) == 1, "--timeout with one message: exit 0")
    rc, out, err = finish(start_sub([ep, "nothing."], timeout="300ms"))
    check(rc == 1 and out == "", "--timeout with no message: exit 1")
    pub.close()

    rc, out, err = finish(start_sub(["--count", "0", "tcp://127.0.0.1:1"], timeout=None))
    check(rc == 2, "--count 0 is a usage error (exit 2)")
    rc, out, err = finish(start_sub(["--curve-key-file", "x", "tcp://127.0.0.1:1"], timeout=None))
    check(rc == 2 and "go together" in err, "--curve-key-file alone is a usage error")
    rc, out, err = finish(start_sub(["not-an-endpoint"], timeout=None))
    check(rc == 2, "a bad endpoint is a setup error (exit 2)")
    rc, out, err = finish(start_sub(["--help"], timeout=None))
    check(rc == 0 and "Exit status" in out, "--help documents the exit status")

    # SIGTERM: stops promptly.
    p = start_sub(["tcp://127.0.0.1:1"], timeout=None)
    time.sleep(0.3)
    p.terminate()
    rc, out, err = finish(p, 5)
    check(rc == 0, "SIGTERM without --count/--timeout: exit 0 (got %d)" % rc)

    # --------------------------------------------------------------------------
    # shadowtap-sub with CURVE against pyzmq's CURVE server and ZAP handler

    server_pub, server_sec = write_keypair(os.path.join(wd, "server"))
    if CTL:
        for name in ("alice", "mallory"):
            r = subprocess.run([CTL, "--gen-keys", os.path.join(wd, name)],
                               capture_output=True, text=True, timeout=10)
            check(r.returncode == 0, "shadowtap-ctl --gen-keys %s" % name)
        check(os.stat(os.path.join(wd, "alice.key")).st_mode & 0o777 == 0o600, "alice.key is mode 0600")
        r = subprocess.run([CTL, "--gen-keys", os.path.join(wd, "alice")],
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 2 and "never overwritten" in r.stderr, "--gen-keys refuses to overwrite")
    else:
        write_keypair(os.path.join(wd, "alice"))
        write_keypair(os.path.join(wd, "mallory"))
    alice = read_key_file(os.path.join(wd, "alice.key"))
    check(len(alice.get("public", "")) == 40 and len(alice.get("secret", "")) == 40,
          "the key pair file holds public and secret Z85 keys")

    auth = authenticator([alice["public"]])
    pub, ep = xpub(curve_server=True, curve_secretkey=server_sec, zap_domain=b"shadowtap")
    p = start_sub(["-n", "1", "--curve-server-key", os.path.join(wd, "server.pub"),
                   "--curve-key-file", os.path.join(wd, "alice.key"), ep])
    check(wait_subscription(pub, "alice") is not None, "CURVE: the listed client subscribed")
    pub.send_multipart([b"kpi.web.prod", pack(kpi(1, lat=lat_bin))])
    rc, out, err = finish(p)
    check(rc == 0 and json.loads(out)["msg"]["lat"]["count"] == 100, "CURVE: the listed client got the message")

    p = start_sub(["-n", "1", "--curve-server-key", server_pub.decode(),
                   "--curve-key-file", os.path.join(wd, "mallory.key"), ep], timeout="1500ms")
    check(wait_subscription(pub, "mallory", 1.2) is None, "CURVE: the unlisted client never subscribed")
    pub.send_multipart([b"kpi.web.prod", pack(kpi(2))])
    rc, out, err = finish(p)
    check(rc == 1 and out == "", "CURVE: the unlisted client got nothing (exit 1)")
    check("refused this client's key" in err, "CURVE: ...and says the server refused its key")

    p = start_sub(["-n", "1", ep], timeout="1s")
    check(wait_subscription(pub, "plain", 0.8) is None, "CURVE: a plain client never subscribed")
    rc, out, err = finish(p)
    check(rc == 1 and out == "", "CURVE: a plain client got nothing")
    pub.close()

    # --------------------------------------------------------------------------
    # shadowtap-ctl against a ROUTER playing the control server

    if CTL is None:
        auth.stop()
        print("shadowtap-ctl not built (no DPDK): ctl checks skipped")
        sys.exit(0)

    srv = Server()
    rc, out, err, req = ctl(srv, ["stats"], {"ok": True, "groups": {"canary": {"copies": 7}}})
    check(rc == 0, "stats: ok=true -> exit 0")
    exact(req, {"cmd": "stats"}, "stats")
    check(json.loads(out) == {"ok": True, "groups": {"canary": {"copies": 7}}}, "stats: reply printed as JSON")

    rc, out, err, req = ctl(srv, ["set_share", "canary", "0.25", "0.5"])
    exact(req, {"cmd": "set_share", "group": "canary", "share": 0.25, "offset": 0.5}, "set_share with offset")
    rc, out, err, req = ctl(srv, ["set_share", "canary", "1"])
    exact(req, {"cmd": "set_share", "group": "canary", "share": 1.0}, "set_share 1 is a float")
    rc, out, err, req = ctl(srv, ["set_share", "canary", "10%"])
    exact(req, {"cmd": "set_share", "group": "canary", "share": 0.1}, "set_share 10%")
    rc, out, err, req = ctl(srv, ["set_rate", "canary", "100k", "1G"])
    exact(req, {"cmd": "set_rate", "group": "canary", "pps": 100000, "bps": 1000000000}, "set_rate with bps")
    rc, out, err, req = ctl(srv, ["set_rate", "canary", "5000"])
    exact(req, {"cmd": "set_rate", "group": "canary", "pps": 5000}, "set_rate without bps")
    rc, out, err, req = ctl(srv, ["enable", "canary"])
    exact(req, {"cmd": "enable", "group": "canary"}, "enable")
    rc, out, err, req = ctl(srv, ["disable", "canary"])
    exact(req, {"cmd": "disable", "group": "canary"}, "disable")
    rc, out, err, req = ctl(srv, ["send", "cmd=propose", "service=web", "current_instances=8",
                                  "proposed_instances=12", "forecast_rps=60000.5", "slo_p99=50ms",
                                  "dry=true", "live=false", "delta=-3", "tag=\"42\"", "none=null",
                                  "big=18446744073709551615", "sci=1e3", "text=a b=c"])
    exact(req, {"cmd": "propose", "service": "web", "current_instances": 8, "proposed_instances": 12,
                "forecast_rps": 60000.5, "slo_p99": "50ms", "dry": True, "live": False, "delta": -3,
                "tag": "42", "none": None, "big": 18446744073709551615, "sci": 1000.0,
                "text": "a b=c"}, "send: typed values")
    rc, out, err, req = ctl(srv, ["send", "cmd=last", "service=web"],
                            {"ok": True, "verdict": {"verdict": "confirm", "score": 97.5}})
    check(rc == 0 and json.loads(out)["verdict"]["score"] == 97.5, "send cmd=last: reply printed")

    rc, out, err, req = ctl(srv, ["enable", "nosuch"], {"ok": False, "error": "no shadow group 'nosuch'"})
    check(rc == 1, "ok=false -> exit 1 (got %d)" % rc)
    check("no shadow group 'nosuch'" in err, "ok=false: the error goes to stderr")
    check(json.loads(out)["ok"] is False, "ok=false: the reply is still printed")

    t = time.monotonic()
    srv.replies.append(None)                     # the server reads but never answers
    r = subprocess.run([CTL, "-e", srv.ep, "-t", "500ms", "stats"], capture_output=True, text=True, timeout=30)
    took = time.monotonic() - t
    check(r.returncode == 2 and "no reply" in r.stderr, "no reply -> exit 2 (%r)" % r.stderr.strip())
    check(took < 3, "...after the timeout, not later (%.1fs)" % took)

    for bad, what in [(b"\xc1", "garbage reply"), ({"done": True}, "reply without ok"),
                      ({"ok": "yes"}, "ok that is not a bool"), ([pack({"ok": True}), b"x"], "two-frame reply"),
                      (pack([1, 2]), "reply that is not a map")]:
        rc, out, err, req = ctl(srv, ["stats"], bad)
        check(rc == 2, "%s -> exit 2 (got %d: %s)" % (what, rc, err.strip()))

    # Nothing listening: bounded, exit 2.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    free_port = s.getsockname()[1]
    s.close()
    t = time.monotonic()
    r = subprocess.run([CTL, "-e", "tcp://127.0.0.1:%d" % free_port, "-t", "300ms", "stats"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and time.monotonic() - t < 3, "nothing listening -> exit 2, on time")

    # Usage errors send nothing.
    n = len(srv.requests)
    for args in (["set_share", "canary"], ["set_share", "canary", "1.5"], ["set_rate", "canary", "-1"],
                 ["enable"], ["enable", "bad.name"], ["frobnicate"], ["send"], ["send", "novalue"],
                 ["send", "a=1", "a=2"], ["send", "=1"], []):
        r = subprocess.run([CTL, "-e", srv.ep, "-t", "300ms"] + args, capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and r.stderr, "usage error %r -> exit 2: %s" % (args, r.stderr.strip()))
    time.sleep(0.2)
    check(len(srv.requests) == n, "usage errors sent no request")
    r = subprocess.run([CTL, "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "set_share GROUP SHARE" in r.stdout, "--help lists the commands")
    srv.close()

    # CURVE: the listed client is answered, the unlisted one times out and
    # says why.
    srv = Server(curve_server=True, curve_secretkey=server_sec, zap_domain=b"shadowtap")
    curve = ["--curve-server-key", os.path.join(wd, "server.pub"), "--curve-key-file"]
    rc, out, err, req = ctl(srv, ["stats"], extra=curve + [os.path.join(wd, "alice.key")])
    check(rc == 0, "CURVE ctl: the listed client gets its reply (rc %d, %s)" % (rc, err.strip()))
    exact(req, {"cmd": "stats"}, "CURVE ctl request")
    rc, out, err, req = ctl(srv, ["stats"], timeout="1s", extra=curve + [os.path.join(wd, "mallory.key")])
    check(rc == 2 and req is None, "CURVE ctl: the unlisted client gets no reply (exit 2)")
    check("refused this client's key" in err, "CURVE ctl: ...and says its key was refused: %s" % err.strip())
    rc, out, err, req = ctl(srv, ["stats"], timeout="1s",
                            extra=["--curve-server-key", os.path.join(wd, "server.pub"),
                                   "--curve-key-file", os.path.join(wd, "server.pub")])
    check(rc == 2 and "no 'secret" in err, "CURVE ctl: a .pub as key pair is refused: %s" % err.strip())
    srv.close()
    auth.stop()
    print("all checks passed")


if __name__ == "__main__":
    # A failed check exits through SystemExit; the ZAP thread and open
    # sockets would then hold up the interpreter's exit (zmq_ctx_term), so
    # leave with os._exit once the output is flushed.
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 1
    shutil.rmtree(wd, ignore_errors=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
