"""The soak's driver (scripts/soak.sh makes the namespaces and calls it): runs
the whole loop, injects a seeded schedule of faults, watches, and judges.

usage: soak.py --build DIR --wd DIR --tag TAG --minutes N --seed S [--asan]

Everything it starts it ends by pid (Popen objects); the namespaces and
links are soak.sh's. Every wait is bounded. Exit status: 0 every check
passed, 1 a check failed, 2 it could not start."""
import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import msgpack
import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "integration"))
import nginx  # noqa: E402  the tests' throwaway nginx

SRC = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
PROD, CLIENT = "198.18.0.53", "198.18.0.1"
SHADOWS = ("198.18.1.10", "198.18.1.11", "198.18.1.20")
WINDOW, GRACE = 2.0, 1.0        # the analyzer's window and grace
SERVICES = ("web", "web-six")
UDP_RPS, UDP_FLOWS, TCP_RPS = 150, 300, 25
FLOW_TABLE = 4096               # per worker (one worker)
COPY_MBUFS = 1023               # the smallest copy pool the dataplane takes
KPI_HWM = 20
AN_EVENTS_RING = 1024           # analyzer/events.h: events kept for SSE resumption
AN_KILL_EVERY = 1200.0
STALL_S = 25                    # long enough to fill a unix socket and the HWM


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def now():
    return time.monotonic()


class Soak:
    def __init__(self, a):
        self.a = a
        self.b = a.build
        self.wd = a.wd
        self.tag = a.tag
        self.rnd = random.Random(a.seed)
        self.t0 = now()
        self.procs = {}          # name -> Popen (current incarnation)
        self.all_procs = []      # (name, Popen, expected end) of every incarnation
        self.faults = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.kpis = []           # (t, src, seq, topic) as the reading subscriber got them
        self.verdicts = []       # (t, seq, topic, verdict)
        self.stall_seqs = []     # (t, src, seq) the stalling subscriber read
        self.stalled = threading.Event()
        self.scrapes = []        # (t, ok, what)
        self.rss = {}            # name -> [(t, pid, kB)]
        self.dpm = []            # (t, {metric: value}) the dataplane's /metrics
        self.an_down = []        # [start, end] spans the analyzer was down
        self.an_gaps = None      # the analyzer's own count of KPI seq gaps, last scraped
        self.dp_http, self.an_http = free_port(), free_port()
        # ipc: a unix socket's sender buffer is fixed (wmem_default), where
        # loopback TCP would grow it for minutes before the HWM is reached
        self.kpi_ep = "ipc://%s/kpi.sock" % self.wd
        self.dp_ctl = "ipc://%s/dp-ctl.sock" % self.wd
        self.an_ctl = "ipc://%s/an-ctl.sock" % self.wd
        self.verdict_ep = "ipc://%s/verdicts.sock" % self.wd
        self.ini = os.path.join(self.wd, "shadowtap.ini")
        self.env = dict(os.environ)
        if a.asan:
            # a small quarantine: freed memory held back for use-after-free
            # checks would otherwise look like growth for its first 256 MB
            self.env["ASAN_OPTIONS"] = "quarantine_size_mb=8:detect_leaks=1:abort_on_error=0"
            self.env["UBSAN_OPTIONS"] = "print_stacktrace=1"

    # --- helpers ---------------------------------------------------------
    def log(self, msg):
        print("soak: [%6.1fs] %s" % (now() - self.t0, msg), flush=True)

    def spawn(self, name, argv, ns=None, out=None, expect="signal"):
        cmd = (["ip", "netns", "exec", ns] if ns else []) + argv
        err = open(os.path.join(self.wd, name + ".err"), "a")
        p = subprocess.Popen(cmd, stdout=out or subprocess.DEVNULL, stderr=err, env=self.env,
                             start_new_session=True)
        self.procs[name] = p
        self.all_procs.append([name, p, expect])
        return p

    def end(self, name, sig=signal.SIGTERM, timeout=20):
        p = self.procs.get(name)
        if p is None or p.poll() is not None:
            return p.returncode if p else None
        p.send_signal(sig)
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
            return p.returncode

    def ctl(self, ep, msg, timeout_ms=3000):
        ctx = zmq.Context.instance()
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, timeout_ms)
        s.setsockopt(zmq.SNDTIMEO, timeout_ms)
        s.connect(ep)
        try:
            s.send(msgpack.packb(msg))
            return msgpack.unpackb(s.recv(), raw=False)
        except zmq.ZMQError as e:
            return {"ok": False, "error": "no reply: %s" % e}
        finally:
            s.close(0)

    def metric(self, name, labels=None, at=None):
        """The sum of a dataplane metric's samples (matching labels) in the
        scrape nearest after time at (or the newest)."""
        with self.lock:
            scr = [d for t, d in self.dpm if at is None or t >= at]
        if not scr:
            return None
        d = scr[0] if at is not None else scr[-1]
        tot = 0
        for (n, lab), v in d.items():
            if n == name and all(("%s=\"%s\"" % kv) in lab for kv in (labels or {}).items()):
                tot += v
        return tot

    # --- configuration ---------------------------------------------------
    def write_ini(self, share="0.25", slo="25ms", path=None):
        with open(path or self.ini, "w") as f:
            f.write("""[dataplane]
mode = inline
client_port = net_af_packet0
prod_port = net_af_packet1
inject_port = net_af_packet3
service = web
publisher_id = soak-gw
prod_instances = 8
interval = 500ms
idle_sleep = 50us
kpi_endpoint = %(kpi)s
kpi_hwm = %(hwm)d
control_endpoint = %(dpctl)s
http_endpoint = 127.0.0.1:%(dphttp)d
flow_table_size = %(ft)d
flow_idle_timeout = 5s
copy_mbufs = %(cm)d

[shadow.twelve]
port = net_af_packet2
share = %(share)s
instances = 198.18.1.10, 198.18.1.11
inject = true

[shadow.six]
port = net_af_packet2
share = %(share)s
instances = 198.18.1.20
inject = true
service = web-six

[analyzer]
kpi_endpoints = %(kpi)s
verdict_endpoint = %(vep)s
control_endpoint = %(anctl)s
http_endpoint = 127.0.0.1:%(anhttp)d
state_file = %(wd)s/analyzer.state
window = 2s
grace = 1s
eval_windows = 6
min_windows = 3
min_samples = 200
history = 16
hysteresis = 2
verify_windows = 0
stats_interval = 0

[service.web]
shadow = twelve
current_instances = 8
proposed_instances = 12
forecast_rps = 1320
slo_p99 = %(slo)s
slo_error_rate = 0.01
min_instances = 2
max_instances = 40

[service.web-six]
shadow = six
current_instances = 8
proposed_instances = 6
forecast_rps = 1320
slo_p99 = %(slo)s
slo_error_rate = 0.01
min_instances = 2
max_instances = 40
""" % {"kpi": self.kpi_ep, "hwm": KPI_HWM, "dpctl": self.dp_ctl, "dphttp": self.dp_http,
       "ft": FLOW_TABLE, "cm": COPY_MBUFS, "share": share, "vep": self.verdict_ep,
       "anctl": self.an_ctl, "anhttp": self.an_http, "wd": self.wd, "slo": slo})

    # --- processes -------------------------------------------------------
    def start_shadow(self, addr):
        self.spawn("shadow-" + addr, [os.path.join(self.b, "tests/tools/udp_echo"), addr, "7", "4",
                                      os.path.join(self.wd, "shadow-%s.log" % addr), "serial"],
                   ns=self.tag + "s")

    def start_shadow_nginx(self):
        self.spawn("shadow-nginx", nginx.argv(self.shadow_nginx), ns=self.tag + "s")

    def start_analyzer(self):
        self.spawn("analyzer", [os.path.join(self.b, "analyzer/shadowtap-analyzer"), "--config", self.ini,
                                "--json-out", os.path.join(self.wd, "verdicts.jsonl")], expect="clean")

    def wait_file(self, path, secs):
        end = now() + secs
        while now() < end:
            if os.path.exists(path):
                return True
            time.sleep(0.1)
        return False

    def start(self):
        b, wd, tag = self.b, self.wd, self.tag
        self.write_ini()
        echo = os.path.join(b, "tests/tools/udp_echo")
        for i in range(8):
            self.spawn("prod%d" % i, [echo, PROD, "7", "4", os.path.join(wd, "prod%d.log" % i), "serial"],
                       ns=tag + "p")
        for a in SHADOWS:
            self.start_shadow(a)
        conf, _ = nginx.write_conf(wd, "nginx-prod", PROD + ":80", access_log=False)
        self.spawn("prod-nginx", nginx.argv(conf), ns=tag + "p")
        self.shadow_nginx, _ = nginx.write_conf(wd, "nginx-shadow", "80", access_log=False)
        self.start_shadow_nginx()
        self.start_analyzer()
        vd = ["--vdev", "net_af_packet0,iface=%sc,framecnt=4096" % tag,
              "--vdev", "net_af_packet1,iface=%sp,framecnt=4096" % tag,
              "--vdev", "net_af_packet2,iface=%ss" % tag, "--vdev", "net_af_packet3,iface=%si" % tag]
        dp_mem = "2048" if self.a.asan else "1024"
        self.spawn("dataplane", [os.path.join(b, "dataplane/shadowtap-dataplane"), "-l", "0-1", "--no-huge",
                                 "--no-pci", "-m", dp_mem, "--file-prefix", tag, "--log-level", "*:error"] + vd +
                   ["--", "--config", self.ini, "--no-stats"], expect="clean")
        end = now() + (40 if self.a.asan else 15)
        while now() < end:
            if self.procs["dataplane"].poll() is not None:
                return "the dataplane exited: " + open(os.path.join(wd, "dataplane.err")).read()[-2000:]
            if self.ctl(self.dp_ctl, {"cmd": "stats"}, 500).get("ok"):
                break
            time.sleep(0.3)
        else:
            return "the dataplane's control socket did not answer within the start time"
        for i in range(8):
            if not self.wait_file(os.path.join(wd, "prod%d.log.ready" % i), 10):
                return "production server %d did not start" % i
        return None

    def start_load(self, secs):
        b, wd, tag = self.b, self.wd, self.tag
        prof = os.path.join(wd, "profile.csv")
        subprocess.run([os.path.join(b, "loadgen/shadowtap-forecast"), "--history",
                        os.path.join(SRC, "scripts/demo/history.csv"), "--season", "24", "--horizon",
                        str(int(secs)), "--output", prof], capture_output=True, timeout=60, env=self.env)
        if not os.path.exists(prof) or os.path.getsize(prof) == 0:
            return "shadowtap-forecast made no profile"
        self.spawn("loadgen", [os.path.join(b, "loadgen/shadowtap-loadgen"), "-l", "0-1", "--no-huge", "--no-pci",
                               "-m", "512" if self.a.asan else "256", "--file-prefix", tag + "lg",
                               "--log-level", "*:error", "--vdev", "net_af_packet0,iface=%sg" % tag, "--",
                               "--pcap", os.path.join(SRC, "scripts/demo/requests.pcap"), "--profile", prof,
                               "--poisson", "--server", PROD + ":7", "--no-progress", "--json"],
                   out=open(os.path.join(wd, "loadgen.json"), "w"), expect="clean")
        self.spawn("udp-clients", [PY, os.path.join(SRC, "scripts/demo/udp_load.py"), PROD, "7", str(UDP_RPS),
                                   str(UDP_FLOWS), str(int(secs)), str(self.a.seed)], ns=tag + "c",
                   out=open(os.path.join(wd, "udp-clients.json"), "w"), expect="clean")
        self.spawn("tcp-clients", [PY, os.path.join(HERE, "traffic.py"), "tcp", PROD, "80", str(TCP_RPS),
                                   str(int(secs)), str(self.a.seed)], ns=tag + "c",
                   out=open(os.path.join(wd, "tcp-clients.json"), "w"), expect="clean")
        return None

    # --- watchers --------------------------------------------------------
    def reader(self):
        """Reads every KPI snapshot and every verdict and anomaly as they come."""
        ctx = zmq.Context.instance()
        k = ctx.socket(zmq.SUB)
        k.setsockopt(zmq.RCVHWM, 100000)
        k.setsockopt(zmq.SUBSCRIBE, b"kpi.")
        k.connect(self.kpi_ep)
        v = ctx.socket(zmq.SUB)
        v.setsockopt(zmq.RCVHWM, 100000)
        v.setsockopt(zmq.SUBSCRIBE, b"verdict.")
        v.setsockopt(zmq.SUBSCRIBE, b"anomaly.")
        v.connect(self.verdict_ep)
        poller = zmq.Poller()
        poller.register(k, zmq.POLLIN)
        poller.register(v, zmq.POLLIN)
        while not self.stop.is_set():
            for s, _ in poller.poll(200):
                topic, body = s.recv_multipart()
                m = msgpack.unpackb(body, raw=False, strict_map_key=False)
                with self.lock:
                    if s is k:
                        self.kpis.append((now(), m.get("src"), m.get("seq"), topic.decode()))
                    else:
                        self.verdicts.append((now(), m.get("seq"), topic.decode(), m.get("verdict")))
        k.close(0)
        v.close(0)

    def stall_reader(self):
        """A KPI subscriber that stops reading while self.stalled is set: a
        queue of one message and the smallest socket buffer, so the
        publisher's high-water mark fills within seconds of a stall."""
        ctx = zmq.Context()
        k = ctx.socket(zmq.SUB)
        k.setsockopt(zmq.RCVHWM, 1)
        k.setsockopt(zmq.SUBSCRIBE, b"kpi.")
        k.connect(self.kpi_ep)
        while not self.stop.is_set():
            if self.stalled.is_set():
                time.sleep(0.1)
                continue
            if k.poll(200):
                _, body = k.recv_multipart()
                m = msgpack.unpackb(body, raw=False, strict_map_key=False)
                with self.lock:
                    self.stall_seqs.append((now(), m.get("src"), m.get("seq")))
        k.close(0)
        ctx.term()

    def scraper(self):
        """Once a second: the analyzer's HTTP API and /metrics, the
        dataplane's /metrics, and the resident memory of shadowtap's
        programs from /proc."""
        nxt = now()
        while not self.stop.is_set():
            nxt += 1.0
            t = now()
            for what, url in (("services", "http://127.0.0.1:%d/api/v1/services" % self.an_http),
                              ("metrics", "http://127.0.0.1:%d/metrics" % self.an_http)):
                try:
                    with urllib.request.urlopen(url, timeout=2) as r:
                        body = r.read()
                        ok = r.status == 200 and (what != "services" or "services" in json.loads(body))
                        m = re.search(rb"^shadowtap_seq_gaps_total (\d+)", body, re.M) if what == "metrics" else None
                        if m:
                            self.an_gaps = int(m.group(1))
                except Exception:
                    ok = False
                with self.lock:
                    self.scrapes.append((t, ok, what))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.dp_http, timeout=2) as r:
                    d = {}
                    for line in r.read().decode().splitlines():
                        m = re.match(r"^(shadowtap_dp_\w+)(\{[^}]*\})? (\S+)$", line)
                        if m:
                            key = (m.group(1), m.group(2) or "")
                            d[key] = d.get(key, 0) + float(m.group(3))
                    with self.lock:
                        self.dpm.append((t, d))
            except Exception:
                pass
            for name in ("dataplane", "analyzer", "loadgen"):
                p = self.procs.get(name)
                if p is None or p.poll() is not None:
                    continue
                try:
                    for line in open("/proc/%d/status" % p.pid):
                        if line.startswith("VmRSS:"):
                            self.rss.setdefault(name, []).append((t, p.pid, int(line.split()[1])))
                except OSError:
                    pass
            time.sleep(max(0, nxt - now()))

    # --- faults ----------------------------------------------------------
    def fault(self, kind):
        f = {"kind": kind, "t0": now(), "t1": None, "status": "ok", "detail": "", "checks": []}
        self.faults.append(f)
        self.log("fault %s" % kind)
        try:
            getattr(self, "f_" + kind)(f)
        except Exception as e:  # a fault that could not be injected is a failure
            f["status"] = "fail"
            f["detail"] = "injection failed: %r" % e
        if f["t1"] is None:
            f["t1"] = now()
        self.log("  %s: %s %s" % (kind, f["status"], f["detail"]))
        return f

    def f_shadow_kill(self, f):
        which = self.rnd.choice(list(SHADOWS) + ["nginx"])
        name = "shadow-" + which
        p = self.procs[name]
        p.kill()
        p.wait(timeout=10)
        for e in self.all_procs:
            if e[1] is p:
                e[2] = "killed"
        time.sleep(3)
        if which == "nginx":
            self.start_shadow_nginx()
        else:
            ready = os.path.join(self.wd, "shadow-%s.log.ready" % which)
            if os.path.exists(ready):
                os.unlink(ready)
            self.start_shadow(which)
            if not self.wait_file(ready, 10):
                f["status"] = "fail"
        f["detail"] = "%s killed (SIGKILL), restarted after 3 s" % name
        f["t1"] = now()

    def f_link_flap(self, f):
        subprocess.run(["ip", "-n", self.tag + "s", "link", "set", "eth0", "down"], check=True)
        time.sleep(4)
        subprocess.run(["ip", "-n", self.tag + "s", "link", "set", "eth0", "up"], check=True)
        subprocess.run(["ip", "-n", self.tag + "s", "route", "replace", "198.18.0.0/16", "via", "198.18.1.1",
                        "dev", "eth0"], check=False)
        f["t1"] = now()
        f["detail"] = "shadow link down 4 s; " + self.shadow_rx_resumes(f, 10)

    def shadow_rx_resumes(self, f, secs):
        """Whether the dataplane receives from the shadows again after a
        fault on their link: the shadow groups' rx counters move."""
        time.sleep(1.1)  # a scrape after the fault's end
        base = self.metric("shadowtap_dp_group_rx_packets_total")
        end = now() + secs
        while now() < end:
            time.sleep(1)
            cur = self.metric("shadowtap_dp_group_rx_packets_total")
            if base is not None and cur is not None and cur > base:
                f["shadow_rx"] = True
                return "shadow answers resumed after %.1f s" % (now() - f["t1"])
        f["shadow_rx"] = False
        return "no shadow answer within %d s" % secs

    def drops(self):
        """The shadow groups' drops by reason, in the newest scrape."""
        with self.lock:
            d = self.dpm[-1][1] if self.dpm else {}
        out = {}
        for (n, lab), v in d.items():
            m = re.search(r'reason="([^"]*)"', lab)
            if n == "shadowtap_dp_group_drops_total" and m:
                out[m.group(1)] = out.get(m.group(1), 0) + v
        return out

    def f_peer_gone(self, f):
        drops_before = self.drops()
        subprocess.run(["ip", "link", "del", self.tag + "s"], check=True)
        time.sleep(3)
        alive = self.procs["dataplane"].poll() is None
        r = subprocess.run(["bash", "-c", '. "$1/scripts/lib/topology.sh"; shadow_link "$2"', "-", SRC, self.tag],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("re-creating the shadow veth: " + r.stderr)
        f["t1"] = now()
        res = self.shadow_rx_resumes(f, 15)
        f["detail"] = "shadow veth deleted 3 s, re-created (dataplane %s); %s" % (
            "alive" if alive else "EXITED", res)
        if not alive:
            f["status"] = "fail"
        elif not f["shadow_rx"]:
            # net_af_packet binds its socket to the interface's index; a
            # re-created veth has a new one, so the port stays on the dead
            # interface: copies are counted as the port's tx_full, production
            # carries on. Counted, not a failure (docs/operations.md).
            f["status"] = "counted"
            after = self.drops()
            f["detail"] += ("; the af_packet port does not survive it: copies since dropped %s" % ", ".join(
                "%s +%d" % (k, after.get(k, 0) - drops_before.get(k, 0)) for k in sorted(after)
                if after.get(k, 0) > drops_before.get(k, 0)))
            self.port_lost = True

    def f_analyzer_kill(self, f):
        p = self.procs["analyzer"]
        p.kill()
        p.wait(timeout=10)
        for e in self.all_procs:
            if e[1] is p:
                e[2] = "killed"
        down = now()
        err = os.path.join(self.wd, "analyzer.err")
        loaded = open(err).read().count("loaded model state from")
        time.sleep(1)
        self.start_analyzer()
        f["t1"] = now()
        self.an_down.append((down, now() + 6))
        f["resume_from"] = f["t1"]
        end = now() + 15
        while now() < end and open(err).read().count("loaded model state from") == loaded:
            time.sleep(0.2)
        if open(err).read().count("loaded model state from") > loaded:
            f["detail"] = "SIGKILL, restarted after 1 s: its state file loaded"
        else:
            f["status"] = "fail"
            f["detail"] = "SIGKILL, restarted after 1 s: no 'loaded model state' within 15 s"

    def f_kpi_stall(self, f):
        """The subscriber stops reading for STALL_S while the schedule goes
        on; its seq gap is counted at the end. One stall at a time."""
        end = now() + STALL_S + 1
        while self.stalled.is_set() and now() < end:
            time.sleep(0.2)
        self.stalled.set()
        f["stall"] = [now(), None]

        def resume():
            self.stalled.clear()
            f["stall"][1] = now()
            f["t1"] = now()

        t = threading.Timer(STALL_S, resume)
        t.daemon = True
        t.start()
        f["t1"] = now() + STALL_S
        f["detail"] = "a KPI subscriber stopped reading for %d s (the publisher's HWM %d)" % (STALL_S, KPI_HWM)

    def f_hostile(self, f):
        before = self.metric("shadowtap_dp_malformed_total") or 0
        mac = open("/sys/class/net/%sc/address" % self.tag).read().strip()
        out = subprocess.run(["ip", "netns", "exec", self.tag + "c", PY, os.path.join(HERE, "traffic.py"),
                              "hostile", "eth0", mac, "3000", str(self.rnd.randrange(1 << 30))],
                             capture_output=True, text=True, timeout=60)
        r = json.loads(out.stdout)
        f["t1"] = now()
        time.sleep(2)
        after = self.metric("shadowtap_dp_malformed_total") or 0
        f["detail"] = "%d hostile frames of %d kinds; malformed counted +%d" % (
            r["sent"], len(r["kinds"]), after - before)
        if after - before <= 0:
            f["status"] = "fail"
            f["detail"] += " (none counted)"

    def f_flow_fill(self, f):
        before = self.metric("shadowtap_dp_flow_table_full_total") or 0
        n = FLOW_TABLE * 2
        out = subprocess.run(["ip", "netns", "exec", self.tag + "c", PY, os.path.join(HERE, "traffic.py"),
                              "flows", PROD, "9", str(n), "2"], capture_output=True, text=True, timeout=60)
        r = json.loads(out.stdout)
        f["t1"] = now()
        time.sleep(2)
        after = self.metric("shadowtap_dp_flow_table_full_total") or 0
        f["detail"] = "%d new flows in 2 s (table %d); flow_table_full +%d" % (r["sent"], FLOW_TABLE, after - before)
        if after - before <= 0:
            f["status"] = "fail"

    def f_pool_exhaust(self, f):
        before = self.metric("shadowtap_dp_group_drops_total", {"reason": "no_mbuf"}) or 0
        for g in ("twelve", "six"):
            r = self.ctl(self.dp_ctl, {"cmd": "chaos", "group": g, "delay": "1s"})
            if not r.get("ok"):
                raise RuntimeError("chaos delay on %s: %s" % (g, r.get("error")))
        try:
            out = subprocess.run(["ip", "netns", "exec", self.tag + "c", PY, os.path.join(HERE, "traffic.py"),
                                  "burst", PROD, "9", "4000", "2", "128"], capture_output=True, text=True,
                                 timeout=60)
            r = json.loads(out.stdout)
        finally:
            for g in ("twelve", "six"):
                self.ctl(self.dp_ctl, {"cmd": "chaos_off", "group": g})
        f["t1"] = now()
        time.sleep(3)
        after = self.metric("shadowtap_dp_group_drops_total", {"reason": "no_mbuf"}) or 0
        inuse = self.metric("shadowtap_dp_mbufs_in_use", {"pool": "st_copies"})
        f["detail"] = ("copies held 1 s (chaos delay), %d datagrams at 4000/s on 128 flows; no_mbuf +%d; "
                       "copy pool in use after: %s of %d" % (r["sent"], after - before, inuse, COPY_MBUFS))
        if after - before <= 0:
            f["status"] = "fail"

    # Live reload (issue #17): each program is asked for a reload of its file
    # as it is (no change) first; one that does not understand it has its
    # reload faults skipped with its own answer.
    def reload_support(self, ep):
        r = self.ctl(ep, {"cmd": "reload"})
        err = str(r.get("error", ""))
        if r.get("ok") is False and ("unknown cmd" in err or "no reply" in err):
            return False, err
        return True, ""

    def reload(self, f, prog, valid):
        ep = self.dp_ctl if prog == "dataplane" else self.an_ctl
        if valid:
            self.write_ini(share="0.3" if prog == "dataplane" else "0.25",
                           slo="30ms" if prog == "analyzer" else "25ms")
        else:
            self.write_ini(share="2.5" if prog == "dataplane" else "0.25",
                           slo="banana" if prog == "analyzer" else "25ms")
        r = self.ctl(ep, {"cmd": "reload"})
        f["t1"] = now()
        if valid and not r.get("ok"):
            f["status"] = "fail"
        if not valid and r.get("ok"):
            f["status"] = "fail"
        f["detail"] = "%s reload of a %s config: %s" % (prog, "valid" if valid else "invalid",
                                                       r.get("error") or "ok")
        if prog == "dataplane":
            st = self.ctl(self.dp_ctl, {"cmd": "stats"})
            shares = [g.get("share") for g in st.get("groups", [])]
            want = 0.3 if valid else 0.25
            if not shares or any(abs(s - want) > 1e-9 for s in shares):
                f["status"] = "fail"
                f["detail"] += "; shares now %s, expected %s" % (shares, want)
        else:
            # The HTTP API serves a snapshot the analyzer renews a few times
            # a second: the new plan shows there within one renewal.
            want = 30000000 if valid else 25000000
            t_end = now() + 3
            while True:
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/services/web"
                                                % self.an_http, timeout=3) as r:
                        slo = json.loads(r.read())["plan"]["slo_p99"]
                except Exception as e:
                    slo = "unreadable (%s)" % e
                if slo == want or now() >= t_end:
                    break
                time.sleep(0.1)
            if slo != want:
                f["status"] = "fail"
                f["detail"] += "; web's slo_p99 now %s ns, expected %d" % (slo, want)
        # back to the running config (a valid reload of the original)
        self.write_ini()
        if valid:
            self.ctl(ep, {"cmd": "reload"})

    def f_reload_dp_valid(self, f):
        self.reload(f, "dataplane", True)

    def f_reload_dp_invalid(self, f):
        self.reload(f, "dataplane", False)

    def f_reload_an_valid(self, f):
        self.reload(f, "analyzer", True)

    def f_reload_an_invalid(self, f):
        self.reload(f, "analyzer", False)

    # --- the run ---------------------------------------------------------
    def run(self):
        total = self.a.minutes * 60.0
        warm, cool = 20.0, 16.0
        self.port_lost = False
        err = self.start()
        if err:
            self.log("cannot start: " + err)
            return 2
        threads = [threading.Thread(target=t, daemon=True) for t in (self.reader, self.stall_reader, self.scraper)]
        for t in threads:
            t.start()
        load_secs = total - 6
        err = self.start_load(load_secs)
        if err:
            self.log("cannot start: " + err)
            return 2
        t_load = now()
        skipped = []
        kinds = ["shadow_kill", "link_flap", "hostile", "flow_fill", "pool_exhaust", "kpi_stall", "analyzer_kill"]
        for prog, ep in (("dp", self.dp_ctl), ("an", self.an_ctl)):
            ok, why = self.reload_support(ep)
            for v in ("valid", "invalid"):
                k = "reload_%s_%s" % (prog, v)
                if ok:
                    kinds.append(k)
                else:
                    skipped.append((k, "%s's control socket does not take reload yet (%s)" % (
                        "the dataplane" if prog == "dp" else "the analyzer", why)))
        for k, why in skipped:
            self.log("fault %s skipped: %s" % (k, why))
        self.skipped = skipped
        # The schedule: rounds of every kind in a seeded order, one fault
        # every 20-40 s (closer in a short run, so that every kind comes at
        # least once); the shadow veth's deletion once, last, as the port
        # may not survive it.
        span = total - warm - cool
        n_min = len(kinds) + 1
        gap_hi = min(40.0, span / n_min)
        gap_lo = min(20.0, gap_hi)
        schedule, t, order = [], warm, []
        while True:
            if not order:
                order = kinds[:]
                self.rnd.shuffle(order)
            t += self.rnd.uniform(gap_lo, gap_hi) if schedule else 0
            if t + gap_lo > warm + span or len(schedule) >= n_min - 1 and t + 2 * gap_lo > warm + span:
                break
            k = order.pop()
            # the analyzer killed at most every 20 minutes: an incarnation
            # must live long enough for its memory to be judged (above)
            kills = [at for at, kk in schedule if kk == "analyzer_kill"]
            if k == "analyzer_kill" and kills and t - kills[-1] < AN_KILL_EVERY:
                k = order.pop() if order else None
                if k is None:
                    continue
            schedule.append((t, k))
        schedule.append((max(t, schedule[-1][0] + gap_lo) if schedule else warm, "peer_gone"))
        self.log("schedule (seed %d): %s" % (self.a.seed, ", ".join("%s@%.0fs" % (k, t) for t, k in schedule)))
        for at, kind in schedule:
            due = t_load + at
            while now() < due:
                time.sleep(min(0.5, due - now()))
                if self.procs["dataplane"].poll() is not None:
                    break
            if self.procs["dataplane"].poll() is not None:
                self.log("the dataplane exited: stopping the schedule")
                break
            self.fault(kind)
        # the clients end on their own; then production's side shuts down
        for name in ("udp-clients", "tcp-clients", "loadgen"):
            p = self.procs[name]
            try:
                p.wait(timeout=max(5, t_load + load_secs + 30 - now()))
            except subprocess.TimeoutExpired:
                self.log("%s did not end in time" % name)
                p.kill()
                p.wait()
        time.sleep(2 * WINDOW)
        self.stop.set()
        for t in threads:
            t.join(timeout=10)
        self.rc_dp = self.end("dataplane", signal.SIGINT, 60)
        self.rc_an = self.end("analyzer", signal.SIGTERM, 60)
        for name, p, _ in self.all_procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        return self.judge()

    # --- the checks ------------------------------------------------------
    def judge(self):
        rows = []

        def row(what, ok, detail):
            rows.append((what, "PASS" if ok is True else ("FAIL" if ok is False else ok), detail))

        wd = self.wd
        try:
            udp = json.load(open(os.path.join(wd, "udp-clients.json")))
        except (OSError, ValueError):
            udp = None
        try:
            tcp = json.load(open(os.path.join(wd, "tcp-clients.json")))
        except (OSError, ValueError):
            tcp = None
        def when(times):
            """Where the losses fell: during which fault (its span and 5 s
            after), or outside any."""
            c = {}
            for t in times:
                fs = [f for f in self.faults if f["t0"] - 1 <= t <= (f["t1"] or now()) + 5]
                k = ("%s@%.0fs" % (fs[0]["kind"], fs[0]["t0"] - self.t0)) if fs else "no fault (%.0fs)" % (
                    t - self.t0)
                c[k] = c.get(k, 0) + 1
            return ", ".join("%d %s" % (n, k) for k, n in sorted(c.items(), key=lambda x: -x[1])[:5])

        row("udp clients: every request answered by production",
            udp is not None and udp["sent"] > 0 and udp["answered"] == udp["sent"],
            "sent %s, answered %s%s" % (udp and udp["sent"], udp and udp["answered"],
                                        "; lost: " + when(udp["lost_at"]) if udp and udp["lost"] else ""))
        row("tcp clients: every request answered by production (200)",
            tcp is not None and tcp["sent"] > 0 and tcp["answered"] == tcp["sent"] and tcp["failed"] == 0,
            "sent %s, answered %s, failed %s over %s connections%s" % (
                tcp and tcp["sent"], tcp and tcp["answered"], tcp and tcp["failed"], tcp and tcp["connections"],
                "; failed: %s (%s)" % (when([t for t, _ in tcp["failed_at"]]), tcp["failed_at"][0][1])
                if tcp and tcp["failed"] else ""))
        # mbufs: the dataplane's final line, and each pool in its last scrape
        dperr = open(os.path.join(wd, "dataplane.err")).read()
        m = re.search(r"mbufs in use at exit: ports (\d+), copies (\d+)", dperr)
        row("mbufs in use at exit: 0 in every pool", m is not None and m.group(1) == "0" and m.group(2) == "0",
            "ports %s, copies %s (ports: st_pool+st_big, copies: st_copies+st_tcpq)" % (
                m.group(1), m.group(2)) if m else "no final counters (rc %s)" % self.rc_dp)
        # resident memory
        for name in ("dataplane", "analyzer", "loadgen"):
            s = self.rss.get(name, [])
            if s:
                last_pid = s[-1][1]
                s = [x for x in s if x[1] == last_pid]
            if name == "analyzer" and s:
                # Its event ring (the last 1024 events, for SSE clients that
                # reconnect; about 3 KB a verdict here) fills for its first
                # 1024 messages (seq counts them): bounded growth. Judged
                # from there on.
                full = [t for t, seq, _, _ in self.verdicts if t >= s[0][0] and seq >= AN_EVENTS_RING]
                if not full:
                    n = max([seq for t, seq, _, _ in self.verdicts if t >= s[0][0]] or [0])
                    row("rss flat: " + name, "SKIP", "its last incarnation published %d messages: its event "
                        "ring (%d) is not full yet, so it still grows by design" % (n, AN_EVENTS_RING))
                    continue
                s = [x for x in s if x[0] >= full[0]]
            if len(s) < 16:
                row("rss flat: " + name, False if name == "dataplane" else "SKIP",
                    "%d samples of its last incarnation: too few to judge" % len(s))
                continue
            q = len(s) // 4
            med = lambda xs: sorted(v for _, _, v in xs)[len(xs) // 2]  # noqa: E731
            q2, q4 = med(s[q:2 * q]), med(s[3 * q:])
            row("rss flat: " + name, q4 <= q2 * 1.05 and q4 >= q2 * 0.95,
                "second quarter %d kB, last quarter %d kB (%+.1f%%), %d samples over %.0f s" % (
                    q2, q4, 100.0 * (q4 - q2) / q2, len(s), s[-1][0] - s[0][0]))
        # seq gaps: the reading subscriber's KPI stream, the verdict stream,
        # the stalling subscriber's
        unexplained, explained = [], []
        by = {}
        for t, src, seq, _ in self.kpis:
            by.setdefault(src, []).append((t, seq))
        for src, xs in by.items():
            for (ta, a), (tb, b2) in zip(xs, xs[1:]):
                if b2 != a + 1:
                    unexplained.append("kpi %s %d->%d at %.0fs" % (src, a, b2, tb - self.t0))
        vs = self.verdicts
        for (ta, a, _, _), (tb, b2, _, _) in zip(vs, vs[1:]):
            if b2 == a + 1:
                continue
            why = [f for f in self.faults if f["kind"] == "analyzer_kill" and f["t0"] <= tb <= f["t1"] + 4 * WINDOW]
            (explained if why and b2 <= a else unexplained).append(
                "verdict seq %d->%d at %.0fs%s" % (a, b2, tb - self.t0, " (analyzer restarted)" if why else ""))
        stall_gap = 0
        pub_t = {(src, seq): t for t, src, seq, _ in self.kpis}
        ss = sorted(self.stall_seqs, key=lambda x: x[0])
        for (ta, sa, a), (tb, sb, b2) in zip(ss, ss[1:]):
            if sa != sb or b2 == a + 1:
                continue
            missing = [pub_t.get((sa, x)) for x in range(a + 1, b2)]
            stalls = [f["stall"] for f in self.faults if f["kind"] == "kpi_stall" and f.get("stall")]
            ok = all(t is not None and any(s0 - 1 <= t <= (s1 or now()) + 1 for s0, s1 in stalls) for t in missing)
            stall_gap += b2 - a - 1
            for f in self.faults:
                if f["kind"] == "kpi_stall" and f["stall"][0] - 1 <= tb <= (f["stall"][1] or now()) + 5:
                    f["hwm_drops"] = f.get("hwm_drops", 0) + b2 - a - 1
            (explained if ok else unexplained).append("stalled subscriber: %d missing (seq %d->%d)" % (
                b2 - a - 1, a, b2))
        nk = len(self.kpis)
        row("every seq gap explained by a fault", not unexplained and nk > 0 and self.an_gaps == 0,
            "%d KPI snapshots and %d verdicts read; the analyzer counted %s KPI gaps; %d gaps explained%s%s" % (
                nk, len(vs), self.an_gaps, len(explained), (": " + "; ".join(explained[:4])) if explained else "",
                ("; UNEXPLAINED: " + "; ".join(unexplained[:6])) if unexplained else ""))
        for f in self.faults:
            if f["kind"] == "kpi_stall":
                d = f.get("hwm_drops", 0)
                f["detail"] += "; %d snapshots dropped at the high-water mark, seen as its seq gap" % d
                if d == 0:
                    f["status"] = "fail"
                    f["detail"] += " (expected some: HWM %d)" % KPI_HWM
        # the dataplane unaffected by the stall: the reading subscriber got
        # every interval's snapshots on time during it
        # verdicts resumed after every fault
        late = []
        for f in self.faults:
            start = f.get("resume_from", f["t1"])
            bound = 2 * WINDOW + GRACE + 2.0
            res = []
            for svc in SERVICES:
                ts = [t for t, _, topic, _ in vs if topic == "verdict." + svc and t > start]
                res.append(ts[0] - start if ts else None)
            f["resumed"] = res
            if any(r is None or r > bound for r in res):
                late.append("%s@%.0fs: %s" % (f["kind"], f["t0"] - self.t0,
                                               ["none" if r is None else "%.1fs" % r for r in res]))
        row("verdicts resumed after every fault (within 2 windows + grace + 2 s)",
            not late and len(self.faults) > 0,
            "%d faults; slowest %.1f s%s" % (len(self.faults), max(
                [r for f in self.faults for r in f["resumed"] if r is not None] or [0]),
                ("; LATE: " + "; ".join(late)) if late else ""))
        # the HTTP API, once a second, answered except while the analyzer was down
        bad = [t for t, ok, _ in self.scrapes if not ok and not any(a <= t <= b for a, b in self.an_down)]
        row("analyzer HTTP API scraped once a second", len(self.scrapes) > 0 and not bad,
            "%d requests, %d failed outside the analyzer's restarts" % (len(self.scrapes), len(bad)))
        # crashes and sanitizer reports
        crashes = []
        for name, p, expect in self.all_procs:
            rc = p.returncode
            if expect == "killed":
                continue
            if expect == "clean" and rc != 0 or rc is not None and rc < 0 and rc != -signal.SIGTERM:
                crashes.append("%s rc %s" % (name, rc))
        row("no crash", not crashes, "%d processes started, %d ended as expected%s" % (
            len(self.all_procs), len(self.all_procs) - len(crashes),
            ("; " + ", ".join(crashes)) if crashes else ""))
        san = []
        for fn in sorted(os.listdir(wd)):
            if fn.endswith(".err"):
                txt = open(os.path.join(wd, fn), errors="replace").read()
                if re.search(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:", txt):
                    san.append(fn)
        row("no sanitizer report", not san if self.a.asan else ("PASS" if not san else "FAIL"),
            ("ASan/UBSan build; " if self.a.asan else "plain build (no sanitizer compiled in); ") +
            ("reports in " + ", ".join(san) if san else "none in any program's stderr"))
        fails = [f for f in self.faults if f["status"] == "fail"]
        row("every fault injected and observed", not fails,
            "%d faults, %d counted, %d failed, %d kinds skipped" % (
                len(self.faults), sum(f["status"] == "counted" for f in self.faults), len(fails),
                len(self.skipped)))

        print()
        print("faults (seed %d, %g minutes):" % (self.a.seed, self.a.minutes))
        print("  %7s  %-17s %-8s %-14s %s" % ("at", "fault", "status", "verdicts in", "what happened"))
        for f in self.faults:
            print("  %6.0fs  %-17s %-8s %-14s %s" % (
                f["t0"] - self.t0, f["kind"], f["status"],
                "/".join("-" if r is None else "%.1fs" % r for r in f["resumed"]), f["detail"]))
        for k, why in self.skipped:
            print("  %7s  %-17s %-8s %-14s %s" % ("-", k, "skipped", "-", why))
        print()
        w = max(len(r[0]) for r in rows)
        print("  %-*s  %-6s %s" % (w, "check", "result", "measured"))
        for what, res, detail in rows:
            print("  %-*s  %-6s %s" % (w, what, res, detail))
        ok = all(r[1] in ("PASS", "SKIP") for r in rows)
        series = [(round(t - self.t0, 1), {"%s%s" % k: v for k, v in d.items() if k[0] in (
            "shadowtap_dp_group_rx_packets_total", "shadowtap_dp_port_rx_packets_total",
            "shadowtap_dp_port_tx_packets_total", "shadowtap_dp_group_drops_total")}) for t, d in self.dpm]
        with open(os.path.join(wd, "soak.json"), "w") as fp:
            json.dump({"series": series, "rows": rows, "faults": [{k: v for k, v in f.items()} for f in self.faults],
                       "skipped": self.skipped}, fp, default=str, indent=1)
        return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--wd", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--asan", action="store_true")
    a = ap.parse_args()
    s = Soak(a)

    def on_term(sig, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        rc = s.run()
    except KeyboardInterrupt:
        rc = 130
    finally:
        s.stop.set()
        for name, p, _ in s.all_procs:
            if p.poll() is None:
                p.terminate()
        for name, p, _ in s.all_procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    sys.exit(rc)


main()
