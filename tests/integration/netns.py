"""Test hosts in network namespaces joined by veth pairs, for end-to-end
tests through the dataplane's af_packet ports. Everything made here is
removed on exit, also when a test fails or is interrupted.

Addresses come from 198.18.0.0/15, the range set aside for benchmarking.
Checksum offload is turned off on every veth end: a frame that leaves a
veth with a partial checksum and comes back through an af_packet port would
otherwise arrive with a bad one."""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import time

import stlib


def sh(cmd, check=True):
    p = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (cmd, p.stderr.strip()))
    return p.stdout


def require():
    """Skips the test when namespaces cannot be made here."""
    if os.geteuid() != 0:
        stlib.skip("needs root to create network namespaces")
    if shutil.which("ip") is None:
        stlib.skip("iproute2 is not installed")
    probe = "stprobe%d" % os.getpid()
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
        stlib.skip("cannot create network namespaces here")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)


class Topology:
    """Namespaces and veths named with a per-test tag, so parallel tests
    never collide. Use as a context manager."""

    def __init__(self, tag):
        self.tag = tag
        self.namespaces = []
        self.links = []
        self.procs = []
        atexit.register(self.cleanup)
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, self._on_signal)

    def _on_signal(self, sig, frame):
        self.cleanup()
        sys.exit(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def ns(self, name):
        full = "st%s%s" % (self.tag, name)
        sh("ip netns add %s" % full)
        self.namespaces.append(full)
        sh("ip -n %s link set lo up" % full)
        return full

    def veth(self, ns, inside, outside, addr=None, addr6=None, mac=None):
        """A veth pair: `inside` in namespace ns (with an address), `outside`
        in the root namespace for the dataplane's af_packet port."""
        sh("ip link add %s type veth peer name %s netns %s" % (outside, inside, ns))
        self.links.append(outside)
        if mac:
            sh("ip -n %s link set %s address %s" % (ns, inside, mac))
        # No offloads: checksums done in software (a copy's own checksum
        # is what is checked), and no GSO/TSO/GRO super-frames beyond the
        # link's MTU -- a wire carries none (a loaded machine let a few
        # through as "too big" in e2e_frames).
        off = "tx off rx off gso off tso off gro off"
        for cmd in ("ethtool -K %s %s" % (outside, off),
                    "ip netns exec %s ethtool -K %s %s" % (ns, inside, off)):
            sh(cmd + " >/dev/null 2>&1", check=False)
        sh("ip link set %s up" % outside)
        # No IPv6 chatter from the root side of the wire.
        sh("sysctl -qw net.ipv6.conf.%s.disable_ipv6=1" % outside, check=False)
        sh("ip -n %s link set %s up" % (ns, inside))
        if addr:
            sh("ip -n %s addr add %s dev %s" % (ns, addr, inside))
        if addr6:
            sh("ip -n %s addr add %s dev %s nodad" % (ns, addr6, inside))
        return inside

    def mac(self, ns, dev):
        out = sh("ip -n %s -o link show %s" % (ns, dev))
        return out.split("link/ether")[1].split()[0]

    def spawn(self, ns, argv, **kw):
        """Starts a process inside a namespace; it is ended at cleanup."""
        cmd = ["ip", "netns", "exec", ns] + argv if ns else argv
        p = subprocess.Popen(cmd, **kw)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                    p.terminate()
                    p.wait(timeout=10)
                except Exception:
                    p.kill()
        self.procs = []
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        self.links = []
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces = []


def inline_dataplane(t, dp, wd, server, share, prefix, duration="300s"):
    """The dataplane (binary dp) inline on af_packet ports between the
    veths TAG+c (client), TAG+p (production) and TAG+s (the shadow group
    'canary' at share) of Topology t, service 'web' at server, its sockets
    and dp.ini in wd. Returns the process and the path of its stderr once
    it has run 2.5 s; fails the test when it exited by then."""
    ini = os.path.join(wd, "dp.ini")
    with open(ini, "w") as f:
        f.write("[dataplane]\n" + stlib.endpoint_lines(wd) + """mode = inline
client_port = net_af_packet0
prod_port = net_af_packet1
servers = %s
service = web
interval = 500ms

[shadow.canary]
port = net_af_packet2
share = %g
""" % (server, share))
    vdevs = ["net_af_packet%d,iface=%s%s" % (i, t.tag, side) for i, side in enumerate("cps")]
    err = os.path.join(wd, "dataplane.err")
    p = t.spawn(None, [dp] + stlib.eal_args(prefix, vdevs) +
                ["--", "--config", ini, "--duration", duration],
                stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    time.sleep(2.5)
    if p.poll() is not None:
        stlib.fail("dataplane exited: " + open(err).read())
    return p, err
