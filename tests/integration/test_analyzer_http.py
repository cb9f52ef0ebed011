"""The analyzer's HTTP surface against a real run: seeded KPI publishers
(kpi_pub) over ZeroMQ, the analyzer's own HTTP server, real sockets.

  - /metrics is clean under `promtool check metrics` and carries the
    families the docs list;
  - /api/v1/services/web has recommended_instances as a top-level number
    (read as KEDA's metrics-api reads it) equal to the last verdict the
    ZeroMQ PUB socket published;
  - /api/v1/events (SSE) delivers every verdict the PUB socket published,
    in the same order;
  - an event stream that never reads and a client that stops in the middle
    of its request line do not stop verdicts, and the latter is closed by
    the timeout;
  - 404, 405, 413, bad JSON (400 with the offset), a bad plan (400 with
    every error, nothing changed), a good plan (200, applied);
  - /healthz, /readyz, / (the dashboard page);
  - limits while verdicts flow: a header block over 32 KiB gets 431 (or
    413) and the server stays up; more connections than
    http_max_connections are refused or queued, and /healthz answers once
    they close; an event stream beyond the cap (half the connections) gets
    503; past http_max_connections_per_client, one address's further
    connections are closed while another address's are answered;
  - an anomaly (shadow and prod at equal per-instance load, the shadow's
    tail longer) arrives on the event stream as `event: anomaly`, as many
    as /metrics counts;
  - a non-loopback bind: refused without a token file or a client CA (TLS
    alone too); with a token, 401 without it and with a wrong one; with
    http_tls_client_ca, 403 without a client certificate and with one the
    CA did not sign, 200 with one it did.

usage: test_analyzer_http.py ANALYZER KPI_PUB"""
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

from anhttp import (PLAN, HttpRun, SseReader, VerdictSub, closed_within, get_json, need,
                    request, slow_headers, slow_reader, traffic, trickle_headers)
from anlib import target
from stlib import check, fail, make_pki

ANALYZER, KPI_PUB = sys.argv[1], sys.argv[2]
PROMTOOL = need("promtool")

FAMILIES = ["shadowtap_verdict", "shadowtap_recommended_instances", "shadowtap_current_instances",
            "shadowtap_proposed_instances", "shadowtap_verdict_confidence",
            "shadowtap_latency_seconds", "shadowtap_error_ratio",
            "shadowtap_request_rate_per_instance", "shadowtap_instance_cost_per_hour",
            "shadowtap_snapshots_ingested_total", "shadowtap_snapshots_refused_total",
            "shadowtap_seq_gaps_total", "shadowtap_publisher_restarts_total",
            "shadowtap_windows_closed_total", "shadowtap_verdict_latency_seconds",
            # the client profiles' counters, there before any refit (this
            # run sends no clients.* message: all zero, never missing)
            "shadowtap_clients_messages_total", "shadowtap_clients_records_total",
            "shadowtap_profile_refits_total"]


def promtool_check(text):
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=30)
    return p.returncode, (p.stdout + p.stderr).strip()


class Scraper(threading.Thread):
    """Scrapes /metrics and reads /api/v1/services ten times a second."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stopping, self.ok, self.bad = port, False, 0, 0

    def run(self):
        while not self.stopping:
            for path in ("/metrics", "/api/v1/services"):
                st, _, _ = request(self.port, "GET", path)
                if st == 200:
                    self.ok += 1
                else:
                    self.bad += 1
            time.sleep(0.1)


def scenario_live():
    print("== a live run: metrics, services, events, slow clients, refusals")
    r = HttpRun("http", ANALYZER, KPI_PUB)
    fdir = os.path.join(r.wd, "forecasts")
    os.mkdir(fdir)
    cfg = r.config({"web": PLAN}, extra="http_endpoint = 127.0.0.1:0\nhttp_timeout = 2s\n"
                   "forecast_dir = %s\n" % fdir)
    r.start_http(cfg, "60s")
    port = r.port
    st, _, body = request(port, "GET", "/healthz")
    check(st == 200, "/healthz answers 200 at once (%d)" % st)
    st, _, body = request(port, "GET", "/readyz")
    check(st == 503 and b"not ready" in body, "/readyz is 503 before any KPI: %s" % body.strip())
    sub, sse = follow(r)
    stuck = slow_reader(port)
    half = slow_headers(port)
    drip = trickle_headers(port)
    scraper = Scraper(port)
    scraper.start()
    pub = r.publish(traffic(), count=80, interval="50ms", seed=7, wait=False)
    # While it runs: scrapes and refusals, every one answered.
    time.sleep(2.0)
    # Reconnects with a Last-Event-ID: one from a longer-lived process
    # before a restart (ahead of every id given), one not a number, and
    # one from a process before (below every id given).
    resumed = {}
    for name, last in (("ahead", str(10 ** 17)), ("not a number", "abc"),
                       ("from before", "1")):
        resumed[name] = SseReader(port, headers={"Last-Event-ID": last})
        resumed[name].start()
        resumed[name].ready.wait(5)
    st, hdr, metrics = request(port, "GET", "/metrics")
    check(st == 200 and hdr.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
          "/metrics: 200, text format 0.0.4 (%s)" % hdr.get("Content-Type"))
    st, _, _ = request(port, "GET", "/nope")
    check(st == 404, "unknown path: 404 (%d)" % st)
    # No token: only requests naming loopback (a page whose name was made
    # to resolve to 127.0.0.1, DNS rebinding, would read and change plans)
    st, _, body = request(port, "PUT", "/api/v1/services/web/plan", body=b'{"proposed_instances": 3}',
                          headers={"Host": "evil.example:%d" % port})
    st2, _, _ = request(port, "GET", "/api/v1/services/web", headers={"Host": "evil.example"})
    check(st == 421 and st2 == 421 and b"loopback" in body and
          get_json(port, "/api/v1/services/web")["plan"]["proposed_instances"] != 3,
          "Host evil.example: 421, nothing changed (%d, %d: %s)" % (st, st2, body.strip()[:120]))
    st, _, _ = request(port, "GET", "/api/v1/services/web", headers={"Host": "localhost:%d" % port})
    check(st == 200, "Host localhost: 200 (%d)" % st)
    st, hdr, _ = request(port, "DELETE", "/metrics")
    check(st == 405 and "GET" in hdr.get("Allow", ""), "wrong method: 405, Allow: %s" % hdr.get("Allow"))
    st, _, _ = request(port, "PUT", "/api/v1/services/web/plan", body=b"{" + b" " * (70 * 1024) + b"}")
    check(st == 413, "a 70 KiB body: 413 (%d)" % st)
    st, _, body = request(port, "PUT", "/api/v1/services/web/plan", body=b'{"forecast_rps": 12000,}')
    check(st == 400 and b"offset 23" in body, "bad JSON: 400 with the offset: %s" % body.strip())
    before = get_json(port, "/api/v1/services/web")["plan"]
    bad = {"proposed_instances": 0, "slo_error_rate": 2, "bogus": 1, "shadow": "a.b"}
    st, _, body = request(port, "PUT", "/api/v1/services/web/plan", body=json.dumps(bad).encode())
    doc = json.loads(body) if body else {}
    keys = sorted(e.get("key") or "" for e in doc.get("errors", []))
    check(st == 400 and {"proposed_instances", "slo_error_rate", "bogus", "shadow"} <= set(keys),
          "a bad plan: 400 listing every error: %s" % keys)
    after = get_json(port, "/api/v1/services/web")["plan"]
    check(after == before, "and nothing changed")
    # A forecast_profile that is a FIFO: refused at once, not waited on
    # (the plan is checked on the analyzer's main loop).
    fifo = os.path.join(fdir, "profile.fifo")
    os.mkfifo(fifo)
    t0 = time.time()
    st, _, body = request(port, "PUT", "/api/v1/services/web/plan",
                          body=json.dumps({"forecast_profile": fifo}).encode())
    check(st == 400 and b"not a regular file" in body and time.time() - t0 < 3,
          "a FIFO as forecast_profile: %d in %.1f s: %s" % (st, time.time() - t0, body.strip()[:200]))
    # A forecast_profile outside forecast_dir: refused before it is
    # opened, alike whether it exists or not (no probing the host's files)
    os.symlink("/etc/passwd", os.path.join(fdir, "elsewhere.csv"))
    outside = {}
    for name in ("/etc/passwd", "/etc/no-such-file", "../../etc/passwd", "elsewhere.csv"):
        st, _, body = request(port, "PUT", "/api/v1/services/web/plan",
                              body=json.dumps({"forecast_profile": name}).encode())
        outside[name] = (st, body.strip())
    check(len(set(outside.values())) == 1 and all(st == 400 for st, _ in outside.values())
          and b"not a file in forecast_dir" in outside["/etc/passwd"][1],
          "a forecast_profile outside forecast_dir: 400, the same answer for each of %s: %s" % (
              sorted(outside), outside["/etc/passwd"][1][:160]))
    rep = r.request({"cmd": "propose", "service": "web", "forecast_profile": "/etc/passwd"})
    check(rep.get("ok") is False and "not a file in forecast_dir" in rep.get("error", ""),
          "and over the control socket: %s" % rep.get("error"))
    check(closed_within(half, 6), "a client stuck in its request line is closed by the timeout")
    # a header byte every 0.5 s resets an idle timeout of 2 s for ever; the
    # request's own deadline closes it (opened about 2.5 s before here)
    check(closed_within(drip, 4), "a client trickling its headers is closed by the request deadline")
    pub.communicate(timeout=60)
    if pub.returncode != 0:
        fail("kpi_pub failed")
    # The last windows close within a window and its grace.
    time.sleep(1.0)
    n_zmq = len(sub.verdicts)
    deadline = time.time() + 5
    while len(sse.verdicts()) < n_zmq and time.time() < deadline:
        time.sleep(0.1)
    zs = [v["seq"] for v in sub.verdicts]
    ss = [v["seq"] for v in sse.verdicts()]
    scraper.stopping = True
    scraper.join(10)
    check(scraper.ok >= 40 and scraper.bad == 0, "scraped 10 times a second: %d answers, %d errors"
          % (scraper.ok, scraper.bad))
    # 80 intervals of 50 ms are 20 windows of 200 ms; a verdict needs 3.
    check(n_zmq >= 15, "verdicts kept flowing with a scraper, a stuck stream and a stuck client (%d)"
          % n_zmq)
    check(ss[:len(zs)] == zs, "SSE saw every verdict the PUB socket published, in order (%d vs %d)"
          % (len(ss), len(zs)))
    ids = [i for (i, _, _) in sse.events]
    check(ids == sorted(ids) and len(set(ids)) == len(ids), "event ids increase")
    got = {k: [i for (i, kind, _) in v.events if kind == "verdict"] for k, v in resumed.items()}
    check(got["ahead"] and got["ahead"][0] > ids[0],
          "Last-Event-ID ahead of every id (a previous process's): the stream goes on from "
          "now (%d verdicts) instead of staying silent" % len(got["ahead"]))
    check(got["not a number"] and got["not a number"][0] > ids[0],
          "Last-Event-ID not a number: from now, no replay from the start (%s)" % got["not a number"][:1])
    check(got["from before"] and got["from before"][0] == ids[0],
          "Last-Event-ID from before a restart: everything this process kept, from its first event "
          "(%s, the stream's first %s)" % (got["from before"][:1], ids[:1]))
    last = sub.verdicts[-1]
    # As KEDA's metrics-api reads it: the value at valueLocation.
    svc = get_json(port, "/api/v1/services/web")
    value = svc["recommended_instances"]
    check(isinstance(value, int) and value == last["recommended_instances"],
          "recommended_instances %s = the last ZeroMQ verdict's %d" % (value, last["recommended_instances"]))
    check(svc["last_verdict"]["seq"] == last["seq"] and svc["verdict"] == last["verdict"],
          "the last verdict in the API is the PUB socket's last (seq %d)" % last["seq"])
    check(set(last.keys()) <= set(svc["last_verdict"].keys()), "with the wire's fields")
    check(svc["model"]["kind"] == last["model"]["kind"], "and the model (%s)" % svc["model"]["kind"])
    st, _, metrics = request(port, "GET", "/metrics")
    rc, out = promtool_check(metrics.decode())
    check(rc == 0 and out == "", "promtool check metrics: clean (%d) %s" % (rc, out[:500]))
    text = metrics.decode()
    missing = [f for f in FAMILIES if "# TYPE %s " % f not in text]
    check(not missing, "every documented family is there (missing: %s)" % missing)
    want = 'shadowtap_recommended_instances{service="web",shadow="canary"} %d' % last["recommended_instances"]
    check(want in text, "/metrics: %s" % want)
    st, _, body = request(port, "GET", "/readyz")
    check(st == 200, "/readyz: 200 after windows closed (%s)" % body.strip())
    st, hdr, page = request(port, "GET", "/")
    check(st == 200 and hdr.get("Content-Type", "").startswith("text/html")
          and b"api/v1/services" in page and b"http://" not in page.replace(b"http://www.w3.org", b""),
          "/ serves the dashboard page, with no external assets")
    lst = get_json(port, "/api/v1/services")
    check([s["service"] for s in lst["services"]] == ["web"], "/api/v1/services lists web")
    good = {"proposed_instances": 17, "slo_p99": 31000000}
    # The 200 comes once what a GET reads shows the change: no sleep
    # between them (a GET right after could read the plan before).
    seen = []
    for k in range(5):
        st, _, body = request(port, "PUT", "/api/v1/services/web/plan",
                              body=json.dumps(dict(good, proposed_instances=12 + k)).encode())
        seen.append((st, get_json(port, "/api/v1/services/web")["plan"]["proposed_instances"]))
    check(seen == [(200, 12 + k) for k in range(5)],
          "five plan changes, each read back at once: %s" % seen)
    st, _, body = request(port, "PUT", "/api/v1/services/web/plan", body=json.dumps(good).encode())
    check(st == 200 and json.loads(body).get("ok") is True, "a good plan: 200 %s" % body.strip())
    svc = get_json(port, "/api/v1/services/web")
    plan = svc["plan"]
    check(plan["proposed_instances"] == 17 and plan["slo_p99"] == 31000000,
          "applied: proposed 17, slo_p99 31 ms")
    # The last verdict was given under the plan before: it holds no more
    # (as the judge takes it) until a verdict under this one; no traffic
    # runs now, so none comes. A scaler reads the plan's current count.
    check(svc["verdict"] is None and svc["recommended_instances"] == plan["current_instances"]
          and svc["last_verdict"]["seq"] == last["seq"],
          "after the plan changed: verdict %s, recommended_instances %s (the plan's current %s), "
          "last_verdict kept" % (svc["verdict"], svc["recommended_instances"], plan["current_instances"]))
    _, _, metrics = request(port, "GET", "/metrics")
    rep = r.request({"cmd": "last", "service": "web"})
    check("shadowtap_recommended_instances{" not in metrics.decode() and rep.get("ok") is False
          and "changed since its last verdict" in rep.get("error", ""),
          "... and no verdict series in /metrics, none on the control socket (%s)" % str(rep)[:120])
    # a profile in forecast_dir, named by its file name
    with open(os.path.join(fdir, "web.csv"), "w") as f:
        f.write("t_seconds,pps\n0,5000\n600,6000\n")
    st, _, body = request(port, "PUT", "/api/v1/services/web/plan",
                          body=json.dumps({"forecast_profile": "web.csv"}).encode())
    time.sleep(0.5)
    al = get_json(port, "/api/v1/services/web/alerts")
    check(st == 200 and al["forecast_profile"] == os.path.join(fdir, "web.csv"),
          "a profile named in forecast_dir: %d, taken as %s" % (st, al["forecast_profile"]))
    # the file swapped for a link leading out: checked again at each read
    outside_prof = os.path.join(r.wd, "outside.csv")
    with open(outside_prof, "w") as f:
        f.write("t_seconds,pps\n0,7000\n600,7000\n")
    os.symlink(outside_prof, os.path.join(fdir, "web.csv.new"))
    os.replace(os.path.join(fdir, "web.csv.new"), os.path.join(fdir, "web.csv"))
    for _ in range(30):
        time.sleep(0.2)
        if "not a file in forecast_dir" in open(r.errpath).read():
            break
    check("web.csv: not a file in forecast_dir" in open(r.errpath).read(),
          "a link swapped in since is not followed (warned)")
    # The service taken out of the file and reloaded: judged no more. Its
    # last verdict stays for the record, but nothing a scaler or an alert
    # would act on (it kept the last recommendation for ever).
    with open(cfg) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text.split("\n[service.web]")[0] + "\n")
    rep = r.request({"cmd": "reload"})
    check(rep.get("ok") is True and any(c.startswith("service.web (removed") for c in rep["changed"]),
          "the service removed by a reload: %s" % rep.get("changed"))
    time.sleep(0.5)
    svc = get_json(port, "/api/v1/services/web")
    check(svc["plan"] is None and svc["recommended_instances"] is None and svc["verdict"] is None
          and svc["last_verdict"]["seq"] == last["seq"],
          "its document: plan, recommended_instances and verdict null, last_verdict kept (%s, %s, %s)"
          % (svc["plan"], svc["recommended_instances"], svc["verdict"]))
    rep = r.request({"cmd": "last", "service": "web"})
    check(rep.get("ok") is False and "no plan" in rep.get("error", ""),
          "the control socket's last: no verdict for it either (%s)" % str(rep)[:160])
    st, _, metrics = request(port, "GET", "/metrics")
    gone = [f for f in ("shadowtap_verdict{", "shadowtap_recommended_instances{",
                        "shadowtap_latency_seconds{") if f in metrics.decode()]
    rc, out = promtool_check(metrics.decode())
    check(st == 200 and not gone and rc == 0, "/metrics: its verdict series gone (left: %s), clean (%d %s)"
          % (gone, rc, out[:200]))
    stuck.close()
    sub.stopping = True
    rc = r.stop()
    check(rc == 0, "the analyzer stops cleanly with streams open (%d)" % rc)


def scenario_auth():
    print("== a non-loopback bind needs a token")
    r = HttpRun("http-auth", ANALYZER, KPI_PUB)
    cfg = r.config({"web": PLAN}, extra="http_endpoint = 0.0.0.0:0\n")
    r.start_http(cfg, "10s", expect_port=False)
    try:
        r.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        r.proc.kill()
        fail("the analyzer started on 0.0.0.0 without a token")
    r.errf.close()
    err = r.err_text()
    check(r.proc.returncode != 0 and "loopback" in err and "http_token_file" in err
          and "http_tls_client_ca" in err,
          "refused without a token file or client CA, the message names both: %s"
          % err.strip().splitlines()[-1:])
    tok = os.path.join(r.wd, "token")
    with open(tok, "w") as f:
        f.write("s3cr3t-0123456789-abcdef\n")
    os.chmod(tok, 0o600)
    cfg = r.config({"web": PLAN}, extra="http_endpoint = 0.0.0.0:0\nhttp_token_file = %s\n" % tok)
    r.start_http(cfg, "20s")
    port = r.port
    st, hdr, _ = request(port, "GET", "/metrics")
    check(st == 401 and hdr.get("WWW-Authenticate", "").startswith("Bearer"),
          "no token: 401 with WWW-Authenticate (%d)" % st)
    st, _, _ = request(port, "GET", "/api/v1/services/web", headers={"Authorization": "Bearer wrong-token-0000000"})
    check(st == 401, "a wrong token: 401 (%d)" % st)
    st, _, _ = request(port, "GET", "/nope")
    check(st == 401, "an unknown path without the token: 401, not 404 (%d)" % st)
    good = {"Authorization": "Bearer s3cr3t-0123456789-abcdef"}
    st, _, _ = request(port, "GET", "/api/v1/services/web", headers=good)
    check(st == 200, "the right token: 200 (%d)" % st)
    st, _, _ = request(port, "GET", "/api/v1/services/web", headers=dict(good, Host="gw1.example:%d" % port))
    check(st == 200, "with a token, any Host name: 200 (%d)" % st)
    st, _, _ = request(port, "GET", "/healthz")
    check(st == 200, "/healthz needs no token (%d)" % st)
    check(r.stop() == 0, "stopped cleanly")


def scenario_tls():
    print("== HTTPS with http_tls_cert/http_tls_key")
    r = HttpRun("http-tls", ANALYZER, KPI_PUB)
    pki = make_pki(r.wd)
    crt, key = pki["server_crt"], pki["server_key"]
    cfg = r.config({"web": PLAN}, extra="http_endpoint = 127.0.0.1:0\nhttp_tls_cert = %s\n"
                   "http_tls_key = %s\n" % (crt, key))
    r.start_http(cfg, "20s")
    check("(TLS)" in r.err_text(), "the analyzer says it serves TLS")
    ctx = ssl.create_default_context(cafile=crt)
    c = http.client.HTTPSConnection("127.0.0.1", r.port, timeout=10, context=ctx)
    c.request("GET", "/api/v1/services/web")
    resp = c.getresponse()
    body = resp.read()
    c.close()
    check(resp.status == 200 and json.loads(body)["service"] == "web",
          "GET over HTTPS, the certificate verified: %d" % resp.status)
    try:
        request(r.port, "GET", "/healthz", timeout=3)
        plain = "answered"
    except (http.client.HTTPException, OSError) as e:
        plain = "refused (%s)" % type(e).__name__
    check(plain != "answered", "plain HTTP on the TLS port is not served: %s" % plain)
    check(r.stop() == 0, "stopped cleanly")


def follow(r):
    """A ZeroMQ subscriber to r's verdicts and a client of its event
    stream, both started and connected."""
    sub = VerdictSub(r.verdicts)
    sub.start()
    sse = SseReader(r.port)
    sse.start()
    sse.ready.wait(5)
    check(sse.status == 200, "the event stream opened (%s)" % sse.status)
    time.sleep(0.3)  # the SUB socket's subscription reaches the analyzer
    return sub, sse


def raw_status(port, data, timeout=3):
    """Sends raw bytes; returns the status of the answer, or why there is
    none ("closed", "timeout")."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while b"\r\n" not in got:
            d = s.recv(4096)
            if not d:
                return "closed"
            got += d
        return int(got.split()[1])
    except (socket.timeout, TimeoutError):
        return "timeout"
    except OSError:
        return "closed"
    finally:
        s.close()


def hold_connections(port, n, wait=1.5):
    """Opens n connections, each asking /healthz with keep-alive, and keeps
    them open. Returns (sockets, how many got an answer within wait)."""
    socks, answered = [], 0
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(wait)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        except OSError:
            pass
        socks.append(s)
    for s in socks:
        try:
            d = s.recv(4096)
            answered += d.startswith(b"HTTP/1.1 200")
        except OSError:
            pass
    return socks, answered


def healthz_within(port, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if request(port, "GET", "/healthz", timeout=1)[0] == 200:
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    return False


def scenario_limits():
    print("== limits and an anomaly while verdicts flow")
    r = HttpRun("http-limits", ANALYZER, KPI_PUB)
    plan = dict(PLAN, slo_p99="20ms")
    cfg = r.config({"web": plan}, extra="http_endpoint = 127.0.0.1:0\nhttp_timeout = 5s\n"
                   "http_max_connections = 8\n")
    # JSON lines to a full disk: lost, counted, said (they were counted
    # as written)
    r.json = "/dev/full"
    r.start_http(cfg, "60s")
    port = r.port
    sub, sse = follow(r)
    # Shadow and prod at the same per-instance load, the shadow's tail
    # three times longer: its p99 diverges from prod's, an anomaly.
    tg = [target("prod", "prod", 8, 500.0), target("canary", "shadow", 2, 500.0, tail=3)]
    pub = r.publish(tg, count=100, interval="50ms", seed=8, wait=False)
    time.sleep(1.5)
    n0 = len(sub.verdicts)
    st = raw_status(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (40 * 1024)
                    + b"\r\n\r\n")
    check(st in (413, 431), "a 40 KiB header block: %s (431 or 413)" % st)
    check(healthz_within(port, 3), "and the server stays up: /healthz 200")
    # One connection is the event stream: 7 left of 8.
    socks, answered = hold_connections(port, 12)
    check(1 <= answered <= 7, "12 connections past http_max_connections 8 (one a stream): %d "
          "answered, the rest refused or queued" % answered)
    for s in socks:
        s.close()
    check(healthz_within(port, 5), "once they close, /healthz answers 200")
    # Streams take at most half the connections: 4, the first one included.
    more = [SseReader(port) for _ in range(3)]
    for m in more:
        m.start()
        m.ready.wait(5)
    check([m.status for m in more] == [200] * 3, "streams up to the cap (4): 200 %s"
          % [m.status for m in more])
    extra = SseReader(port)
    extra.start()
    extra.ready.wait(5)
    check(extra.status == 503, "a fifth stream: 503 (%s)" % extra.status)
    pub.communicate(timeout=60)
    if pub.returncode != 0:
        fail("kpi_pub failed")
    time.sleep(1.0)
    n_zmq = len(sub.verdicts)
    check(n_zmq - n0 >= 10, "verdicts kept flowing through it all (%d after the first %d)"
          % (n_zmq - n0, n0))
    deadline = time.time() + 5
    while len(sse.verdicts()) < n_zmq and time.time() < deadline:
        time.sleep(0.1)
    check([v["seq"] for v in sse.verdicts()][:n_zmq] == [v["seq"] for v in sub.verdicts],
          "the first stream saw every verdict (%d)" % n_zmq)
    anomalies = [d for (_, kind, d) in sse.events if kind == "anomaly"]
    _, _, metrics = request(port, "GET", "/metrics")
    counted = [l for l in metrics.decode().splitlines() if l.startswith("shadowtap_anomalies_total ")]
    check(anomalies and anomalies[0].get("service") == "web"
          and counted == ["shadowtap_anomalies_total %d" % len(anomalies)],
          "event: anomaly on the stream, for web: %d (/metrics: %s; %s)"
          % (len(anomalies), counted, anomalies[0].get("reason", "")[:120] if anomalies else ""))
    out = dict((l.split(" ")[0], int(l.split(" ")[1])) for l in metrics.decode().splitlines()
               if l.split(" ")[0] in ("shadowtap_published_messages_total",
                                      "shadowtap_publish_errors_total", "shadowtap_verdicts_total",
                                      "shadowtap_json_lines_total", "shadowtap_json_errors_total"))
    check(out.get("shadowtap_published_messages_total", -1)
          >= out.get("shadowtap_verdicts_total", 1 << 62) + len(anomalies) >= n_zmq
          and out.get("shadowtap_publish_errors_total") == 0,
          "what went out on the PUB socket is counted: %s, %d anomalies, %d verdicts received"
          % (out, len(anomalies), n_zmq))
    check(out.get("shadowtap_json_lines_total") == 0
          and out.get("shadowtap_json_errors_total") == out.get("shadowtap_verdicts_total"),
          "json_out on a full disk: no line counted as written, each lost one counted (%s)" % out)
    sub.stopping = True
    check(r.stop() == 0, "stopped cleanly with streams open")


def tls_get(port, path, pki, cert=None):
    """GET over HTTPS, the server verified against its own certificate,
    presenting cert ("client" or "rogue") or none. Returns the status, or
    the name of the exception a refused handshake raised."""
    ctx = ssl.create_default_context(cafile=pki["server_crt"])
    if cert is not None:
        ctx.load_cert_chain(pki[cert + "_crt"], pki[cert + "_key"])
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return r.status
    except (ssl.SSLError, OSError, http.client.HTTPException) as e:
        return type(e).__name__
    finally:
        c.close()


def refused_at_start(r, cfg):
    r.start_http(cfg, "10s", expect_port=False)
    try:
        r.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        r.proc.kill()
        r.proc.wait()
        r.errf.close()
        return None
    r.errf.close()
    return r.err_text().strip()


def scenario_client_cert():
    print("== a non-loopback bind with TLS client certificates instead of a token")
    r = HttpRun("http-mtls", ANALYZER, KPI_PUB)
    pki = make_pki(r.wd)
    tls = "http_tls_cert = %s\nhttp_tls_key = %s\n" % (pki["server_crt"], pki["server_key"])
    # TLS alone does not say who the client is.
    err = refused_at_start(r, r.config({"web": PLAN}, extra="http_endpoint = 0.0.0.0:0\n" + tls))
    # exit 2: a config error, which the unit does not restart in a loop
    check(err is not None and r.proc.returncode == 2 and "http_tls_client_ca" in str(err),
          "0.0.0.0 with TLS but neither token nor client CA: refused, exit %s (%s)"
          % (r.proc.returncode, err))
    # --check says so too (it used to say ok)
    cfg = r.config({"web": PLAN}, extra="http_endpoint = 0.0.0.0:0\n" + tls)
    chk = subprocess.run([ANALYZER, "--config", cfg, "--check"], capture_output=True, text=True,
                         timeout=30)
    check(chk.returncode == 2 and "http_tls_client_ca" in chk.stderr,
          "--check refuses it too, exit %d" % chk.returncode)
    # Client certificates are a TLS feature.
    err = refused_at_start(r, r.config({"web": PLAN}, extra="http_endpoint = 0.0.0.0:0\n"
                                       "http_tls_client_ca = %s\n" % pki["client_ca"]))
    check(err is not None and r.proc.returncode == 2 and "http_tls_cert" in str(err),
          "a client CA without http_tls_cert: refused, exit %s (%s)" % (r.proc.returncode, err))
    cfg = r.config({"web": PLAN}, extra="http_endpoint = 0.0.0.0:0\n" + tls +
                   "http_tls_client_ca = %s\n" % pki["client_ca"])
    r.start_http(cfg, "30s")
    check("client certificates" in r.err_text(), "the analyzer says it asks for client certificates")
    port = r.port
    for path in ("/metrics", "/api/v1/services"):
        st = tls_get(port, path, pki)
        check(st == 403, "%s without a client certificate: 403 (%s)"
              % (path, st))
        st = tls_get(port, path, pki, "rogue")
        check(st == 403,
              "%s with a self-signed client certificate: 403 (%s)" % (path, st))
        st = tls_get(port, path, pki, "client")
        check(st == 200, "%s with a certificate the CA signed: 200 (%s)" % (path, st))
    check(tls_get(port, "/healthz", pki) == 200, "/healthz needs no client certificate")
    ctx = ssl.create_default_context(cafile=pki["server_crt"])
    ctx.load_cert_chain(pki["client_crt"], pki["client_key"])
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    check('shadowtap_http_responses_total{code="403"} 4' in text,
          "/metrics counts the four refusals under code 403")
    check(r.stop() == 0, "stopped cleanly")


def scenario_per_client():
    print("== http_max_connections_per_client")
    r = HttpRun("http-perclient", ANALYZER, KPI_PUB)
    bad = r.config({"web": PLAN}, extra="http_endpoint = 127.0.0.1:0\n"
                   "http_max_connections_per_client = 0\n")
    p = subprocess.run([ANALYZER, "--config", bad, "--check"], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode != 0 and "http_max_connections_per_client" in p.stderr,
          "0 is refused, the message names the key: %s" % p.stderr.strip().splitlines()[-1:])
    cfg = r.config({"web": PLAN}, extra="http_endpoint = 127.0.0.1:0\n"
                   "http_max_connections = 32\nhttp_max_connections_per_client = 3\n")
    r.start_http(cfg, "20s")
    port = r.port
    socks, answered = hold_connections(port, 6, wait=3)
    check(answered == 3, "6 connections from one address, 3 allowed: %d answered" % answered)
    # Another client address (all of 127/8 is loopback) still gets in.
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    other.settimeout(3)
    other.bind(("127.0.0.2", 0))
    other.connect(("127.0.0.1", port))
    other.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    check(other.recv(4096).startswith(b"HTTP/1.1 200"),
          "meanwhile a client from 127.0.0.2 is answered: the limit is per address")
    other.close()
    for x in socks:
        x.close()
    check(healthz_within(port, 5), "once they close, /healthz answers 200 again")
    check(r.stop() == 0, "stopped cleanly")


def scenario_example():
    print("== the example configuration")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ex = os.path.join(root, "analyzer", "examples", "analyzer.ini")
    p = subprocess.run([ANALYZER, "--config", ex, "--check"], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0, "analyzer/examples/analyzer.ini passes --check: %s"
          % (p.stdout + p.stderr).strip())


scenario_live()
scenario_limits()
scenario_per_client()
scenario_auth()
scenario_tls()
scenario_client_cert()
scenario_example()
print("PASS")
