"""shadowtap-ctl --http against a real analyzer (seeded KPI publishers over
ZeroMQ, the analyzer's own HTTP server, real sockets):

  - `last web` over HTTP answers the service document whose
    recommended_instances is the last verdict's, the same one `last web`
    over the control socket (ZeroMQ) answers; `send cmd=last service=web`
    over HTTP is the same request;
  - `services` lists web; `stats` prints the /metrics exposition; `get
    /readyz` answers;
  - `propose web KEY=VALUE...` over HTTP changes the plan (read back over
    HTTP and over ZeroMQ's propose reply count); a bad plan exits 1 with
    HTTP 400 listing the errors, and nothing changes;
  - `send cmd=whatif service=web load=.. instances=..` over HTTP is GET
    /api/v1/services/web/whatif with those arguments: the same points as
    the control socket's whatif; bad arguments exit 1 (400), an unknown
    key exits 2 before sending; `reload` and `send cmd=reload` exit 2
    naming the control socket (the API has no reload);
  - an unknown service: exit 1 (404); the dataplane's write commands:
    exit 2, with the reason; a closed port: exit 2; a server that accepts
    and never answers: exit 2 within the timeout;
  - a non-loopback bind with a token file and HTTPS: without --token-file
    401 (exit 1), a wrong token 401, the right one 0; the certificate
    verified with --ca-file; without it (not in the system's store), and
    under a name the certificate does not carry, exit 2 saying why;
  - a non-loopback bind with http_tls_client_ca: --cert/--key with a
    certificate the CA signed exit 0; none, or a self-signed one, 403
    (exit 1); --cert without --key, or with an http:// URL, exit 2.

usage: test_ctl_http.py CTL ANALYZER KPI_PUB"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

from anhttp import PLAN, HttpRun, VerdictSub, traffic
from stlib import check, fail, make_pki, skip

CTL, ANALYZER, KPI_PUB = sys.argv[1], sys.argv[2], sys.argv[3]
TOKEN = "ctl-http-0123456789-abcdef"


def ctl(args, timeout=20):
    """Runs shadowtap-ctl; returns (exit status, stdout, stderr, seconds)."""
    cmd = [CTL] + args
    print("run: " + " ".join(cmd))
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    dt = time.time() - t0
    print("  -> %d in %.2fs, stdout %d bytes; stderr: %s" % (p.returncode, dt, len(p.stdout),
                                                             p.stderr.strip()[:300]))
    return p.returncode, p.stdout, p.stderr, dt


def ctl_json(args):
    rc, out, err, _ = ctl(args)
    if rc != 0:
        fail("%s: exit %d: %s" % (" ".join(args), rc, err.strip()))
    return json.loads(out)


def scenario_plain():
    print("== over http:// on loopback, next to the control socket")
    r = HttpRun("ctl-http", ANALYZER, KPI_PUB)
    cfg = r.config({"web": PLAN}, extra="http_endpoint = 127.0.0.1:0\n")
    r.start_http(cfg, "40s")
    url = ["--http", "http://127.0.0.1:%d" % r.port]
    sub = VerdictSub(r.verdicts)
    sub.start()
    time.sleep(0.3)
    r.publish(traffic(), count=40, interval="50ms", seed=11)
    time.sleep(1.0)   # the last windows close
    sub.stopping = True
    sub.join(5)
    check(len(sub.verdicts) > 0, "verdicts on the ZeroMQ stream (%d)" % len(sub.verdicts))
    want = sub.verdicts[-1]

    doc = ctl_json(url + ["last", "web"])
    check(doc["service"] == "web" and doc["recommended_instances"] == want["recommended_instances"]
          and doc["last_verdict"]["seq"] == want["seq"],
          "ctl --http last web: recommended_instances %s (verdict seq %s), the last ZeroMQ "
          "verdict's %d (seq %d)" % (doc["recommended_instances"], doc["last_verdict"]["seq"],
                                     want["recommended_instances"], want["seq"]))
    zdoc = ctl_json(["-e", r.control, "last", "web"])
    check(zdoc["ok"] is True and zdoc["verdict"] == doc["last_verdict"],
          "ctl last web over the control socket: the same verdict as over HTTP")
    sdoc = ctl_json(url + ["send", "cmd=last", "service=web"])
    check(sdoc == doc, "send cmd=last service=web over HTTP: the same document")
    alls = ctl_json(url + ["services"])
    check([s["service"] for s in alls["services"]] == ["web"], "services: web")
    rc, out, err, _ = ctl(url + ["stats"])
    check(rc == 0 and "# TYPE shadowtap_windows_closed_total counter" in out and
          "shadowtap_recommended_instances{" in out, "stats: the /metrics exposition")
    rc, out, err, _ = ctl(url + ["send", "cmd=stats"])
    check(rc == 0 and "shadowtap_windows_closed_total" in out, "send cmd=stats: the same")
    rc, out, err, _ = ctl(url + ["get", "/readyz"])
    check(rc == 0 and json.loads(out)["status"] == "ready", "get /readyz: ready")
    # The same what-if over HTTP and over the control socket; no verdict
    # comes between them (the publisher is done), so one model answers.
    q = ["load=0.5x,1x,2x", "instances=4-16,32"]
    wi = ctl_json(url + ["send", "cmd=whatif", "service=web"] + q)
    zwi = ctl_json(["-e", r.control, "send", "cmd=whatif", "service=web"] + q)
    check(zwi.get("ok") is True and wi["model"]["version"] == zwi["model"]["version"]
          and len(wi["points"]) == len(zwi["points"]) == 3 * 14
          and [(p["rps"], p["instances"], p["p99"]) for p in wi["points"]]
          == [(p["rps"], p["instances"], p["p99"]) for p in zwi["points"]],
          "send cmd=whatif over HTTP: the control socket's %d points" % len(wi.get("points", [])))
    rc, out, err, _ = ctl(url + ["send", "cmd=whatif", "service=web", "load=abc"])
    check(rc == 1 and "HTTP 400" in err and "load" in out, "a bad what-if load: exit 1, 400")
    rc, out, err, _ = ctl(url + ["send", "cmd=whatif", "service=web", "bogus=1"])
    check(rc == 2 and "bogus" in err, "an unknown what-if key: exit 2 before sending")
    for args in (["reload"], ["send", "cmd=reload"]):
        rc, out, err, _ = ctl(url + args)
        check(rc == 2 and "--endpoint" in err and "SIGHUP" in err,
              "%s over HTTP: exit 2, the control socket named" % " ".join(args))

    before = doc["plan"]
    rc, out, err, _ = ctl(url + ["propose", "web", "proposed_instances=0", "slo_error_rate=2",
                                 "bogus=1"])
    keys = sorted(e["key"] for e in json.loads(out)["errors"])
    check(rc == 1 and "HTTP 400" in err and keys == ["bogus", "proposed_instances", "slo_error_rate"],
          "a bad plan: exit 1, HTTP 400 listing every error %s" % keys)
    check(ctl_json(url + ["last", "web"])["plan"] == before, "and nothing changed")
    res = ctl_json(url + ["propose", "web", "proposed_instances=20", "slo_p99=40ms",
                          "forecast_rps=13000.5"])
    check(res["ok"] is True and res["service"] == "web", "propose over HTTP: ok, %s" % res)
    plan = ctl_json(url + ["last", "web"])["plan"]
    check(plan["proposed_instances"] == 20 and abs(plan["forecast_rps"] - 13000.5) < 1e-6 and
          plan["current_instances"] == before["current_instances"],
          "the plan changed as asked, the rest kept: proposed %s, forecast %s, current %s"
          % (plan["proposed_instances"], plan["forecast_rps"], plan["current_instances"]))
    res2 = ctl_json(url + ["send", "cmd=propose", "service=web", "proposed_instances=18"])
    zres = ctl_json(["-e", r.control, "propose", "web", "proposed_instances=19"])
    check(zres["plan_changes"] == res2["plan_changes"] + 1 == res["plan_changes"] + 2,
          "HTTP and ZeroMQ proposals count in one plan history (%d, %d, %d)"
          % (res["plan_changes"], res2["plan_changes"], zres["plan_changes"]))
    # The plan in force proposed again (a controller that re-applies it)
    # changes nothing: no new plan, the verdict's history kept.
    same = ctl_json(url + ["send", "cmd=propose", "service=web", "proposed_instances=19"])
    zsame = ctl_json(["-e", r.control, "propose", "web", "proposed_instances=19"])
    check(same["plan_changes"] == zsame["plan_changes"] == zres["plan_changes"],
          "the same plan again over HTTP and ZeroMQ: plan_changes stays %d (%d, %d)"
          % (zres["plan_changes"], same["plan_changes"], zsame["plan_changes"]))
    # The API answers from a snapshot the main loop refreshes every 250 ms
    # (analyzer/snapshot.h): a proposal made on the control socket shows
    # there within a refresh.
    deadline, seen = time.time() + 3, None
    while time.time() < deadline:
        seen = ctl_json(url + ["last", "web"])["plan"]["proposed_instances"]
        if seen == 19:
            break
        time.sleep(0.1)
    check(seen == 19, "the ZeroMQ proposal is what HTTP reads next (%s)" % seen)

    rc, out, err, _ = ctl(url + ["last", "nosuch"])
    check(rc == 1 and "HTTP 404" in err, "an unknown service: exit 1, 404")
    rc, out, err, _ = ctl(url + ["set_share", "canary", "0.5"])
    check(rc == 2 and "read-only" in err and "--endpoint" in err,
          "set_share over HTTP: exit 2, the control socket named")
    rc, out, err, _ = ctl(url + ["last", "a/b"])
    check(rc == 2 and "not a service name" in err, "a service name with '/': refused before sending")
    rc, out, err, _ = ctl(["--http", "http://127.0.0.1:%d" % r.port, "-e", r.control, "stats"])
    check(rc == 2 and "--endpoint" in err, "--http with --endpoint: a usage error")
    check(r.stop() == 0, "the analyzer stopped cleanly")

    # Nothing listening; then a listener that never answers.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    rc, out, err, dt = ctl(["--http", "http://127.0.0.1:%d" % port, "stats"])
    check(rc == 2 and "refused" in err.lower(), "a closed port: exit 2 (%s)" % err.strip())
    s.listen(4)
    rc, out, err, dt = ctl(["--http", "http://127.0.0.1:%d" % port, "-t", "700ms", "stats"])
    check(rc == 2 and "in time" in err and dt < 3.0,
          "a server that never answers: exit 2 after %.2fs (-t 700ms)" % dt)
    s.close()


def scenario_token_tls():
    print("== a non-loopback bind: bearer token and HTTPS")
    openssl = shutil.which("openssl")
    r = HttpRun("ctl-https", ANALYZER, KPI_PUB)
    tok = os.path.join(r.wd, "token")
    with open(tok, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(tok, 0o600)
    wrong = os.path.join(r.wd, "wrong")
    with open(wrong, "w") as f:
        f.write("not-the-token-0123456789\n")
    # Not make_pki's server certificate: its CN is localhost, and the
    # name check below wants a name the certificate carries nowhere.
    if openssl is None:
        skip("openssl is not installed (scripts/setup.sh installs it): no certificate: HTTPS not tested")
    crt, key = os.path.join(r.wd, "http.crt"), os.path.join(r.wd, "http.key")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=shadowtap-test", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", crt], check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    extra = "http_endpoint = 0.0.0.0:0\nhttp_token_file = %s\nhttp_tls_cert = %s\nhttp_tls_key = %s\n" % (
        tok, crt, key)
    cfg = r.config({"web": PLAN}, extra=extra)
    r.start_http(cfg, "30s")
    url = "https://127.0.0.1:%d" % r.port
    ca = ["--ca-file", crt]
    rc, out, err, _ = ctl(["--http", url] + ca + ["last", "web"])
    check(rc == 1 and "HTTP 401" in err, "no --token-file: exit 1, 401")
    rc, out, err, _ = ctl(["--http", url, "--token-file", wrong] + ca + ["last", "web"])
    check(rc == 1 and "HTTP 401" in err, "a wrong token: exit 1, 401")
    rc, out, err, _ = ctl(["--http", url, "--token-file", tok] + ca + ["last", "web"])
    check(rc == 0 and json.loads(out)["recommended_instances"] == PLAN["current_instances"],
          "the right token over HTTPS, the certificate verified with --ca-file: exit 0, "
          "the plan's current count before any verdict")
    rc, out, err, _ = ctl(["--http", url, "--token-file", tok] + ca +
                          ["propose", "web", "proposed_instances=14"])
    check(rc == 0 and json.loads(out)["ok"] is True, "propose with the token: exit 0")
    rc, out, err, _ = ctl(["--http", url, "--token-file", tok, "last", "web"])
    check(rc == 2 and "does not verify" in err,
          "without --ca-file (a self-signed certificate): exit 2: %s" % err.strip()[:200])
    rc, out, err, _ = ctl(["--http", "https://localhost:%d" % r.port, "--token-file", tok]
                          + ca + ["last", "web"])
    check(rc == 2 and "does not verify" in err,
          "a name the certificate does not carry (localhost): exit 2: %s" % err.strip()[:200])
    rc, out, err, _ = ctl(["--http", "http://127.0.0.1:%d" % r.port, "-t", "2s",
                           "--token-file", tok, "last", "web"])
    check(rc == 2, "plain http to the TLS port: exit 2 (%s)" % err.strip()[:120])
    rc, out, err, _ = ctl(["--http", "http://127.0.0.1:%d" % r.port, "--ca-file", crt,
                           "stats"])
    check(rc == 2 and "https" in err, "--ca-file with an http:// URL: a usage error")
    rc, out, err, _ = ctl(["--http", url, "--token-file", "/nonexistent/token", "stats"])
    check(rc == 2 and "token" in err, "a missing token file: exit 2")
    check(r.stop() == 0, "the analyzer stopped cleanly")


def scenario_client_cert():
    print("== a non-loopback bind with client certificates: --cert and --key")
    r = HttpRun("ctl-mtls", ANALYZER, KPI_PUB)
    pki = make_pki(r.wd)
    cfg = r.config({"web": PLAN}, extra="http_endpoint = 0.0.0.0:0\nhttp_tls_cert = %s\n"
                   "http_tls_key = %s\nhttp_tls_client_ca = %s\n"
                   % (pki["server_crt"], pki["server_key"], pki["client_ca"]))
    r.start_http(cfg, "30s")
    base = ["--http", "https://127.0.0.1:%d" % r.port, "--ca-file", pki["server_crt"]]
    rc, out, err, _ = ctl(base + ["last", "web"])
    check(rc == 1 and "HTTP 403" in err, "no --cert: exit 1, 403")
    rc, out, err, _ = ctl(base + ["--cert", pki["rogue_crt"], "--key", pki["rogue_key"],
                                  "last", "web"])
    check(rc == 1 and "HTTP 403" in err, "a self-signed client certificate: exit 1, 403")
    rc, out, err, _ = ctl(base + ["--cert", pki["client_crt"], "--key", pki["client_key"],
                                  "last", "web"])
    check(rc == 0 and json.loads(out)["service"] == "web",
          "a client certificate the CA signed: exit 0, the service document")
    rc, out, err, _ = ctl(base + ["--cert", pki["client_crt"], "last", "web"])
    check(rc == 2 and "--key" in err, "--cert without --key: a usage error (%s)" % err.strip())
    rc, out, err, _ = ctl(["--http", "http://127.0.0.1:%d" % r.port, "--cert", pki["client_crt"],
                           "--key", pki["client_key"], "stats"])
    check(rc == 2 and "https" in err, "--cert with an http:// URL: a usage error")
    check(r.stop() == 0, "the analyzer stopped cleanly")


scenario_plain()
scenario_token_tls()
scenario_client_cert()
print("PASS")
