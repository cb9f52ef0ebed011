"""Shared helpers for the integration tests: run shadowtap programs on DPDK
virtual devices, parse their final counters, skip honestly."""
import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


def skip(why):
    """Reports a test that cannot run here; meson counts exit 77 as skipped."""
    print("SKIP: " + why)
    sys.exit(SKIP)


def fail(why):
    print("FAIL: " + why)
    _failed()
    sys.exit(1)


def check(cond, what):
    """Prints the check and its outcome; exits on the first failure."""
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        _failed()
        sys.exit(1)


def eal_args(prefix, vdevs, lcores="0-1", mem=512):
    """EAL options for a run on virtual devices: no hugepages, no PCI, a
    file prefix of its own so tests can run in parallel."""
    # "0@0,1@1,2@0" maps more lcores than the machine has CPUs.
    args = ["--lcores" if "@" in lcores else "-l", lcores, "--no-huge", "--no-pci", "-m", str(mem),
            "--file-prefix", prefix, "--log-level", "*:error"]
    _prefixes.append(prefix)
    for v in vdevs:
        args += ["--vdev", v]
    return args


# Working directories go when the test ends well; a failed test (a failed
# check, fail(), an uncaught exception) keeps them and says where, and
# ST_KEEP=1 keeps them always.
_dirs = []
_keep = [os.environ.get("ST_KEEP") == "1"]


def _failed():
    _keep[0] = True


def _excepthook(kind, value, tb, _orig=sys.excepthook):
    _failed()
    _orig(kind, value, tb)


sys.excepthook = _excepthook


_prefixes = []


def _dpdk_dir_free(path):
    """Whether no DPDK process holds the runtime directory: its primary
    keeps a write lock on the directory's config file while it lives."""
    import fcntl
    try:
        with open(os.path.join(path, "config"), "r+b") as f:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


@atexit.register
def _cleanup():
    for d in _dirs:
        if _keep[0]:
            print("kept " + d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    # the DPDK runtime directories of this test's programs (megabytes
    # each, in /run's tmpfs: RAM), once nothing holds them
    for p in set(_prefixes):
        d = os.path.join("/var/run/dpdk", p)
        if os.path.isdir(d) and _dpdk_dir_free(d):
            shutil.rmtree(d, ignore_errors=True)


def workdir(name):
    d = tempfile.mkdtemp(prefix="st-%s-" % name)
    _dirs.append(d)
    return d


def run(cmd, timeout=60, check_rc=True):
    """Runs a command under a timeout; returns (rc, stdout, stderr)."""
    print("run: " + " ".join(cmd))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        fail("timed out after %ss: %s\n%s" % (timeout, " ".join(cmd), e.stderr))
    if check_rc and p.returncode != 0:
        print(p.stdout)
        print(p.stderr)
        fail("exit status %d: %s" % (p.returncode, " ".join(cmd)))
    return p.returncode, p.stdout, p.stderr


def parse_final(stderr):
    """Parses the dataplane's final counters into dicts."""
    out = {"ports": {}, "shadows": {}, "malformed": {}, "mbufs_in_use": None}
    for line in stderr.splitlines():
        m = re.match(r"\s+port (\S+) \((\w+)\): rx (\d+) pkts (\d+) bytes, tx (\d+) pkts"
                     r"(?: (\d+) bytes)?, tx_full (\d+)(?:, dispatch_full (\d+))?(.*)", line)
        if m:
            d = {"name": m.group(1), "rx": int(m.group(3)), "rx_bytes": int(m.group(4)),
                 "tx": int(m.group(5)), "tx_bytes": int(m.group(6) or 0),
                 "tx_full": int(m.group(7)), "dispatch_full": int(m.group(8) or 0)}
            # mtu, frags_out, too_big, ...
            for k, v in re.findall(r", (\w+) (\d+)", m.group(9)):
                d[k] = int(v)
            # by role (the first port of it) and by name (each its own)
            out["ports"].setdefault(m.group(2), d)
            out["ports"][m.group(1)] = d
            continue
        m = re.match(r"\s+shadow (\S+): copies (\d+) \((\d+) bytes, (\d+) zero-copy\), from shadows (\d+) pkts(.*)", line)
        if m:
            d = {"copies": int(m.group(2)), "bytes": int(m.group(3)),
                 "zero_copy": int(m.group(4)), "rx": int(m.group(5))}
            for k, v in re.findall(r", (\w+) (\d+)", m.group(6)):
                d[k] = int(v)
            out["shadows"][m.group(1)] = d
            continue
        m = re.match(r"\s+malformed (\w+) (\d+)", line)
        if m:
            out["malformed"][m.group(1)] = int(m.group(2))
            continue
        m = re.match(r"\s+not_ip (\d+), neighbour answers (\d+), learned (\d+)", line)
        if m:
            out["not_ip"] = int(m.group(1))
            out["neigh_answers"] = int(m.group(2))
            out["neigh_learned"] = int(m.group(3))
            m = re.search(r"answers handed over (\d+) \(ring full (\d+)\)", line)
            if m:
                out["handed_over"] = int(m.group(1))
                out["handover_full"] = int(m.group(2))
            continue
        m = re.match(r"\s+flows: table full (\d+), expired (\d+)", line)
        if m:
            out["flow_table_full"] = int(m.group(1))
            out["flows_expired"] = int(m.group(2))
            m = re.search(r"tcp sessions active (\d+)", line)
            if m:
                out["tcp_sessions_active"] = int(m.group(1))
            continue
        m = re.match(r"\s+frags: seen (\d+), first (\d+), held (\d+), released (\d+), expired (\d+), "
                     r"table_full (\d+), hold_full (\d+)(?:, held_expired (\d+))?", line)
        if m:
            out["frags"] = dict(zip(("seen", "first", "held", "released", "expired", "table_full",
                                     "hold_full", "held_expired"), (int(x or 0) for x in m.groups())))
            continue
        m = re.match(r"mbufs in use at exit: ports (\d+), copies (\d+)", line)
        if m:
            out["mbufs_in_use"] = (int(m.group(1)), int(m.group(2)))
    return out


def zmq_endpoints(wd):
    """ipc:// endpoints in the test's own directory: parallel tests never
    share a TCP port."""
    return ("ipc://%s/kpi.sock" % wd, "ipc://%s/ctl.sock" % wd)


def endpoint_lines(wd):
    k, c = zmq_endpoints(wd)
    return "kpi_endpoint = %s\ncontrol_endpoint = %s\n" % (k, c)


def telemetry(prefix, cmd):
    """One DPDK telemetry command against a running program started with
    --file-prefix prefix; returns the decoded JSON reply."""
    import json
    import socket
    path = "/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(path)
    s.recv(16384)  # the greeting
    s.send(cmd.encode())
    reply = json.loads(s.recv(1 << 20).decode())
    s.close()
    return reply


def make_pki(wd):
    """Certificates for the HTTP tests, made with openssl in wd: a server
    certificate for 127.0.0.1 (self-signed: the client trusts it as its own
    CA), a client CA, a client certificate it signed (clientAuth) and a
    self-signed client certificate no CA vouches for. Returns a dict of
    paths (server_crt, server_key, client_ca, client_crt, client_key,
    rogue_crt, rogue_key), keys mode 0600. Without openssl the test is
    skipped as a whole: its TLS parts cannot run."""
    openssl = shutil.which("openssl")
    if openssl is None:
        skip("openssl is not installed (scripts/setup.sh installs it): no certificates to make")
    p = {k: os.path.join(wd, k.replace("_", ".")) for k in
         ("server_crt", "server_key", "client_ca", "ca_key", "client_crt", "client_key",
          "rogue_crt", "rogue_key")}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def ossl(*args):
        subprocess.run([openssl] + list(args), check=True, capture_output=True, timeout=60)

    ossl("req", "-x509", *ec, "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", p["server_key"],
         "-out", p["server_crt"])
    ossl("req", "-x509", *ec, "-days", "1", "-subj", "/CN=shadowtap test client CA",
         "-keyout", p["ca_key"], "-out", p["client_ca"])
    csr = os.path.join(wd, "client.csr")
    ext = os.path.join(wd, "client.ext")
    with open(ext, "w") as f:
        f.write("extendedKeyUsage = clientAuth\n")
    ossl("req", "-new", *ec, "-subj", "/CN=scaler", "-keyout", p["client_key"], "-out", csr)
    ossl("x509", "-req", "-in", csr, "-CA", p["client_ca"], "-CAkey", p["ca_key"],
         "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", p["client_crt"])
    # The same subject, signed by nobody the server knows.
    ossl("req", "-x509", *ec, "-days", "1", "-subj", "/CN=scaler", "-keyout", p["rogue_key"],
         "-out", p["rogue_crt"])
    for k in ("server_key", "ca_key", "client_key", "rogue_key"):
        os.chmod(p[k], 0o600)
    return p
