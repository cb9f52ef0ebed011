#!/usr/bin/env python3
"""What `meson install` puts down, used the way a unit or an operator uses it:

- every program, its man page (made from --help: NAME names it, man
  reports no formatting warning), --version and --help from the installed
  path; the example configs;
- the systemd units pass `systemd-analyze verify`, and their exposure
  (`systemd-analyze security --offline`) stays at what docs/operations.md
  records;
- Type=notify readiness through a real NOTIFY_SOCKET: the analyzer says
  READY=1 once its control socket answers, the dataplane once its ports
  run -- started under the unit's own capability bounding set and
  no_new_privs, on af_packet ports on a veth pair -- and both say
  STOPPING=1 on SIGTERM and exit 0;
- a unit pointing at a missing config: exit 2 (the units'
  RestartPreventExitStatus), a message naming the file, no READY.

The Debian package (build, lintian, install, the demo loop on the installed
programs, purge) is scripts/deb.sh: a long form, not run here.

usage: test_install.py BUILD_DIR
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kpisub  # noqa: E402
import netns  # noqa: E402
import stlib  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
PROGRAMS = ["shadowtap-dataplane", "shadowtap-ctl", "shadowtap-sub", "shadowtap-analyzer",
            "shadowtap-forecast", "shadowtap-loadgen", "shadowtap-whatif"]
UNITS = {"shadowtap-analyzer.service": 2.0, "shadowtap-dataplane@.service": 6.0}
EXAMPLES = ["inline.ini", "tap.ini", "veth.ini", "chaos-scenario.csv", "analyzer.ini", "verdict_sub.c",
            "whatif.ini"]


def intro(what):
    out = subprocess.run(["meson", "introspect", BUILD, what], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def staged_tree(wd):
    dest = os.path.join(wd, "root")
    rc, out, err = stlib.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--quiet",
                              "--destdir", dest], timeout=120, check_rc=False)
    stlib.check(rc == 0, "meson install --destdir (%s)" % err.strip()[-300:])
    opts = {o["name"]: o["value"] for o in intro("--buildoptions")}
    prefix = opts["prefix"]

    def d(key):
        v = opts[key]
        return dest + (v if v.startswith("/") else os.path.join(prefix, v))
    return dest, d("bindir"), os.path.join(d("mandir"), "man1"), \
        os.path.join(d("datadir"), "shadowtap", "examples"), prefix


class Notify:
    """A NOTIFY_SOCKET as systemd binds it: a unix datagram socket."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.s.settimeout(0.2)
        self.msgs = []

    def wait(self, key, secs, proc=None):
        t_end = time.monotonic() + secs
        while time.monotonic() < t_end:
            for m in self.msgs:
                if key in m.split("\n"):
                    return m
            try:
                self.msgs.append(self.s.recv(4096).decode())
            except socket.timeout:
                if proc is not None and proc.poll() is not None:
                    break
        return None


def check_programs(bindir, mandir, version):
    for p in PROGRAMS:
        exe = os.path.join(bindir, p)
        stlib.check(os.access(exe, os.X_OK), "%s installed" % p)
        r = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
        stlib.check(r.returncode == 0 and r.stdout.strip() == "%s %s" % (p, version),
                    "%s --version: %r" % (p, r.stdout.strip()))
        r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30)
        stlib.check(r.returncode == 0 and re.match(r"[Uu]sage: %s " % p, r.stdout) is not None,
                    "%s --help from the installed path" % p)
        page = os.path.join(mandir, p + ".1")
        stlib.check(os.path.exists(page), "man page %s.1" % p)
        r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page], capture_output=True,
                           text=True, timeout=30, env=dict(os.environ, MANWIDTH="80",
                                                           LC_ALL="C.UTF-8"))
        name = re.search(r"NAME\s+(.*?)\n\n", r.stdout, re.S)
        stlib.check(r.returncode == 0 and not r.stderr.strip() and name and
                    name.group(1).split()[0] == p,
                    "man %s: renders without warnings, NAME names it (%s)"
                    % (p, r.stderr.strip()[:200]))


def check_units(dest, prefix, wd):
    unitdir = None
    for root, dirs, files in os.walk(dest):
        if "shadowtap-analyzer.service" in files:
            unitdir = root
    stlib.check(unitdir is not None and unitdir.endswith("/systemd/system"),
                "units installed in %s" % unitdir)
    vdir = os.path.join(wd, "units")
    os.makedirs(vdir)
    for unit, worst in UNITS.items():
        text = open(os.path.join(unitdir, unit)).read()
        stlib.check("Type=notify" in text and "RestartPreventExitStatus=2" in text,
                    "%s: Type=notify, no restart on a config error" % unit)
        # verify checks that ExecStart's program exists: the staged one
        bin_prefix = os.path.join(prefix, "bin")
        with open(os.path.join(vdir, unit), "w") as f:
            f.write(text.replace(bin_prefix + "/", dest + bin_prefix + "/"))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", os.path.join(vdir, unit)],
                           capture_output=True, text=True, timeout=60)
        stlib.check(r.returncode == 0 and not (r.stdout + r.stderr).strip(),
                    "systemd-analyze verify %s %s" % (unit, (r.stdout + r.stderr).strip()[:300]))
        r = subprocess.run(["systemd-analyze", "security", "--offline=true",
                            os.path.join(vdir, unit)], capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout + r.stderr)
        stlib.check(m is not None and float(m.group(1)) <= worst,
                    "%s exposure %s (at most %.1f)" % (unit, m.group(1) if m else "?", worst))
    return unitdir


def bounding_set(unit_path):
    caps = re.search(r"^CapabilityBoundingSet=(.*)$", open(unit_path).read(), re.M).group(1)
    return ",".join(["-all"] + ["+" + c.lower()[4:] for c in caps.split()])


def expand_filter(names, seen=None):
    """The system calls a SystemCallFilter= list names, its @sets expanded
    as systemd expands them."""
    seen = set() if seen is None else seen
    out = set()
    for n in names:
        if not n.startswith("@"):
            out.add(n)
        elif n not in seen:
            seen.add(n)
            r = subprocess.run(["systemd-analyze", "syscall-filter", n], capture_output=True,
                               text=True, timeout=30)
            out |= expand_filter([l.strip() for l in r.stdout.splitlines()[1:]
                                  if l.startswith("    ") and not l.strip().startswith("#")], seen)
    return out


def unit_filter(unit_path):
    """A preexec function loading the unit's SystemCallFilter= (its lines in
    order: the first allows, '~' takes away, a later one gives back) with
    SystemCallErrorNumber=EPERM, or None without python3-seccomp."""
    try:
        import errno
        import seccomp
    except ImportError:
        return None
    allowed = None
    for line in re.findall(r"^SystemCallFilter=(.*)$", open(unit_path).read(), re.M):
        deny = line.startswith("~")
        names = expand_filter(line.lstrip("~").split())
        if allowed is None:
            allowed = names
        elif deny:
            allowed -= names
        else:
            allowed |= names

    def load():
        f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.EPERM))
        for n in sorted(allowed):
            try:
                f.add_rule(seccomp.ALLOW, n)
            except Exception:  # a name this architecture or libseccomp does not know
                pass
        f.load()
    return load


def check_analyzer(bindir, wd, unitdir):
    exe = os.path.join(bindir, "shadowtap-analyzer")
    ctl = "ipc://%s/an-ctl.sock" % wd
    ini = os.path.join(wd, "analyzer.ini")
    with open(ini, "w") as f:
        f.write("""[analyzer]
kpi_endpoints = ipc://%s/none.sock
verdict_endpoint = none
control_endpoint = %s
http_endpoint = none
window = 1s

[service.web]
shadow = canary
current_instances = 4
proposed_instances = 3
forecast_rps = 100
slo_p99 = 50ms
""" % (wd, ctl))
    n = Notify(os.path.join(wd, "an-notify.sock"))
    # under the unit's system call filter: libzmq's threads must start
    # (it aborted on a filter that took away sched_setscheduler)
    seccomp_load = unit_filter(os.path.join(unitdir, "shadowtap-analyzer.service"))
    if seccomp_load is None:
        print("skip: no python3-seccomp: the analyzer runs without the unit's system call filter")
    env = dict(os.environ, NOTIFY_SOCKET=n.path)
    if seccomp_load is not None:
        # LeakSanitizer stops the threads with ptrace, which the unit's
        # filter refuses (a deployed analyzer has no sanitizer)
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    p = subprocess.Popen([exe, "--config", ini], stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(wd, "an.err"), "w"),
                         env=env, preexec_fn=seccomp_load)
    ready = n.wait("READY=1", 30, p)
    stlib.check(ready is not None and "STATUS=1 services" in ready,
                "analyzer%s: READY=1 with a status (%r)%s"
                % (" under the unit's SystemCallFilter" if seccomp_load else "", ready,
                   "" if ready else ": " + open(os.path.join(wd, "an.err")).read()[-300:]))
    rep = kpisub.request(ctl, {"cmd": "stats"}) if ready else {}
    stlib.check(rep.get("ok") is True, "analyzer: its control socket answers at READY")
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=30)
    stlib.check(n.wait("STOPPING=1", 5) is not None and rc == 0,
                "analyzer: STOPPING=1 on SIGTERM, exit %d" % rc)
    # A unit pointing at a config that is not there.
    n2 = Notify(os.path.join(wd, "an-notify2.sock"))
    r = subprocess.run([exe, "--config", os.path.join(wd, "missing.ini")], capture_output=True,
                       text=True, timeout=30, env=dict(os.environ, NOTIFY_SOCKET=n2.path))
    stlib.check(r.returncode == 2 and "missing.ini" in r.stderr and n2.wait("READY=1", 1) is None,
                "analyzer, missing config: exit %d, says %r, no READY"
                % (r.returncode, r.stderr.strip()[:120]))


def check_dataplane(bindir, unitdir, wd):
    exe = os.path.join(bindir, "shadowtap-dataplane")
    caps = bounding_set(os.path.join(unitdir, "shadowtap-dataplane@.service"))
    n2 = Notify(os.path.join(wd, "dp-notify2.sock"))
    r = subprocess.run([exe, "--", "--config", os.path.join(wd, "missing.ini")],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, NOTIFY_SOCKET=n2.path))
    stlib.check(r.returncode == 2 and "missing.ini" in r.stderr and n2.wait("READY=1", 1) is None,
                "dataplane, missing config: exit %d, says %r, no READY"
                % (r.returncode, r.stderr.strip()[:120]))
    netns.require()
    tag = "i%d" % (os.getpid() % 100000)
    with netns.Topology(tag) as t:
        ns = t.ns("c")
        t.veth(ns, "eth0", "%sa" % tag, addr="198.18.0.1/24")
        t.veth(ns, "eth1", "%sb" % tag, addr="198.18.0.2/24")
        kpi, ctl = stlib.zmq_endpoints(wd)
        ini = os.path.join(wd, "dp.ini")
        with open(ini, "w") as f:
            f.write("[dataplane]\n" + stlib.endpoint_lines(wd) + """mode = inline
client_port = net_af_packet0
prod_port = net_af_packet1
interval = 500ms
""")
        n = Notify(os.path.join(wd, "dp-notify.sock"))
        argv = ["setpriv", "--bounding-set", caps, "--no-new-privs", exe] + \
            stlib.eal_args("inst-%s" % tag, ["net_af_packet0,iface=%sa" % tag,
                                             "net_af_packet1,iface=%sb" % tag]) + \
            ["--", "--config", ini, "--no-stats"]
        err = os.path.join(wd, "dp.err")
        p = t.spawn(None, argv, stdout=subprocess.DEVNULL, stderr=open(err, "w"),
                    env=dict(os.environ, NOTIFY_SOCKET=n.path))
        ready = n.wait("READY=1", 60, p)
        stlib.check(ready is not None and "STATUS=inline, 1 workers, 2 ports" in ready,
                    "dataplane under CapabilityBoundingSet %s: READY=1 (%r) %s"
                    % (caps, ready, "" if ready else open(err).read()[-400:]))
        rep = kpisub.request(ctl, {"cmd": "stats"}) if ready else {}
        stlib.check(rep.get("ok") is True, "dataplane: its control socket answers at READY")
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=30)
        stlib.check(n.wait("STOPPING=1", 5) is not None and rc == 0,
                    "dataplane: STOPPING=1 on SIGTERM, exit %d" % rc)


def main():
    if os.geteuid() != 0:
        stlib.skip("needs root (namespaces, setpriv)")
    # Every part or none: a test that half runs would pass as whole.
    for tool, why in (("help2man", "no man pages to check"),
                      ("systemd-analyze", "no unit to verify"),
                      ("setpriv", "no start under the unit's capabilities")):
        if shutil.which(tool) is None:
            stlib.skip("%s is not installed: %s (scripts/setup.sh installs it)" % (tool, why))
    wd = stlib.workdir("install")
    version = intro("--projectinfo")["version"]
    dest, bindir, mandir, exdir, prefix = staged_tree(wd)
    check_programs(bindir, mandir, version)
    for e in EXAMPLES:
        stlib.check(os.path.exists(os.path.join(exdir, e)), "example %s installed" % e)
    unitdir = check_units(dest, prefix, wd)
    check_analyzer(bindir, wd, unitdir)
    check_dataplane(bindir, unitdir, wd)
    shutil.rmtree(dest)
    print("all checks passed")


main()
