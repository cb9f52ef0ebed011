"""scripts/bench.sh loadgen: shadowtap-loadgen's speed and pacing accuracy,
side by side with tcpreplay in the same run.

1. Topspeed replay of a 64-byte UDP capture (1,024 flows) on one TX lcore
   into net_null (target: 20 Mpps or more).
2. Topspeed into a veth pair, where the kernel bounds every sender: the
   loadgen through net_af_xdp and net_af_packet, and `tcpreplay --topspeed
   -K`, counted at the far end of the veth (target: af_xdp 2x tcpreplay).
3. A fixed rate into the same veth: `--pps` for both; the error of the
   achieved rate, and per 100 ms interval, from the far end's counter.
4. A profile at up to 1 Mpps into net_null: the per-interval rate error the
   loadgen measures with its TSC.

usage: bench_loadgen.py BUILD_DIR SECONDS"""
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

build, secs = sys.argv[1], float(sys.argv[2])
lg = os.path.join(build, "loadgen", "shadowtap-loadgen")
wd = tempfile.mkdtemp(prefix="st-bench-lg-")
pcap = os.path.join(wd, "udp64.pcap")
SERVER = "198.18.10.53"

try:
    from scapy.all import IP, UDP, Ether, Raw, wrpcap
except ImportError:
    print("loadgen: SKIP (python3-scapy is not installed)")
    sys.exit(0)
wrpcap(pcap, [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
              IP(src="198.18.%d.%d" % (i // 250, i % 250 + 1), dst=SERVER) /
              UDP(sport=1000 + i, dport=53) / Raw(b"x" * 18) for i in range(1024)])

huge = int(open("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages").read()) >= 256 \
    if os.path.exists("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages") else False
mem = ["-m", "1024"] if huge else ["--no-huge", "-m", "1024"]
_n = [0]


def run_lg(vdev, args, timeout=None):
    """One loadgen run (TX lcore on CPU 0, main lcore on CPU 1); the JSON
    summary."""
    _n[0] += 1
    cmd = [lg, "--lcores", "0@1,1@0", "--no-pci", "--file-prefix", "bl%d_%d" % (os.getpid(), _n[0]),
           "--log-level", "*:error", "--vdev", vdev] + mem + \
        ["--", "--pcap", pcap, "--json", "--no-progress", "--server", SERVER] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout or secs + 60)
    if p.returncode != 0:
        print(p.stderr)
        raise SystemExit("loadgen run failed: %s" % " ".join(cmd))
    return json.loads(p.stdout)


def rx_packets(dev):
    with open("/sys/class/net/%s/statistics/rx_packets" % dev) as f:
        return int(f.read())


class Sampler:
    """Reads the far end's packet counter every 100 ms: the same yardstick
    for every sender."""

    def __init__(self, dev):
        self.dev, self.samples, self.stop = dev, [], False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        nxt = time.monotonic()
        while not self.stop:
            self.samples.append((time.monotonic(), rx_packets(self.dev)))
            nxt += 0.1
            time.sleep(max(0, nxt - time.monotonic()))

    def finish(self):
        self.stop = True
        self.t.join()
        s = self.samples
        moving = [i for i in range(1, len(s)) if s[i][1] != s[i - 1][1]]
        if not moving:
            return 0, 0.0, []
        first, last = moving[0], moving[-1]
        total = s[last][1] - s[first - 1][1]
        dur = s[last][0] - s[first - 1][0]
        # Whole intervals only: drop the first and last, partly idle.
        inner = range(first + 1, last)
        rates = [(s[i][1] - s[i - 1][1]) / (s[i][0] - s[i - 1][0]) for i in inner]
        if rates:
            total = s[last - 1][1] - s[first][1]
            dur = s[last - 1][0] - s[first][0]
        return total, dur, rates


rows = []
print("%-52s %12s" % ("case (64-byte frames, 1,024 flows)", "result"))

res = run_lg("net_null0", ["--topspeed", "--duration", "%gs" % secs])
null_mpps = res["achieved_pps"] / 1e6
print("%-52s %9.2f Mpps" % ("topspeed -> net_null, one TX lcore", null_mpps))

have_root = os.geteuid() == 0 and shutil.which("ip")
have_tcpreplay = shutil.which("tcpreplay") is not None
veth = ("lgb%d" % (os.getpid() % 100000), "lgc%d" % (os.getpid() % 100000))
xdp = afp = tcpr = None
fixed = {}
if not have_root:
    print("veth cases: SKIP (need root and iproute2)")
else:
    subprocess.run(["ip", "link", "add", veth[0], "type", "veth", "peer", "name", veth[1]], check=True)
    try:
        for d in veth:
            subprocess.run(["ip", "link", "set", d, "up"], check=True)
            subprocess.run(["ethtool", "-K", d, "tx", "off"], capture_output=True)
        time.sleep(0.5)
        out = {}
        for name, vdev in (("af_xdp", "net_af_xdp0,iface=%s" % veth[0]),
                           ("af_packet", "net_af_packet0,iface=%s" % veth[0])):
            before = rx_packets(veth[1])
            try:
                r = run_lg(vdev, ["--topspeed", "--duration", "%gs" % secs])
            except SystemExit as e:
                print("%s: %s" % (name, e))
                continue
            got = rx_packets(veth[1]) - before
            out[name] = got / r["elapsed_s"] / 1e6
            print("%-52s %9.2f Mpps" % ("loadgen topspeed -> veth via net_%s" % name, out[name]))
        xdp, afp = out.get("af_xdp"), out.get("af_packet")
        if have_tcpreplay:
            loops = max(1, int(0.3e6 * secs / 1024))
            before = rx_packets(veth[1])
            p = subprocess.run(["tcpreplay", "--topspeed", "-K", "-i", veth[0], "--loop", str(loops), pcap],
                               capture_output=True, text=True, timeout=secs * 20 + 60)
            got = rx_packets(veth[1]) - before
            m = re.search(r"sent in ([\d.]+) seconds", p.stdout)
            tcpr = got / float(m.group(1)) / 1e6 if m else None
            print("%-52s %9.2f Mpps" % ("tcpreplay --topspeed -K -> veth", tcpr or float("nan")))
        else:
            print("tcpreplay: SKIP (not installed; scripts/setup.sh installs it)")

        # A fixed rate both can reach, measured at the far end.
        pps = 100000
        vdev = "net_af_xdp0,iface=%s" % veth[0] if xdp else "net_af_packet0,iface=%s" % veth[0]
        # Achieved rate: packets counted at the far end over the tool's own
        # run time. Per interval: the far end's counter read every 100 ms
        # by this script (its own timing noise is in both columns).
        before = rx_packets(veth[1])
        smp = Sampler(veth[1])
        r = run_lg(vdev, ["--pps", str(pps), "--duration", "%gs" % secs])
        _, _, rates = smp.finish()
        fixed["loadgen"] = ((rx_packets(veth[1]) - before) / r["elapsed_s"], rates,
                            "own TSC series: RMSE %.3f%%, worst %.3f%%" % (
                                100 * r["rmse"]["relative"], 100 * r["rmse"]["max_relative"]))
        if have_tcpreplay:
            before = rx_packets(veth[1])
            smp = Sampler(veth[1])
            p = subprocess.run(["tcpreplay", "--pps", str(pps), "-K", "-i", veth[0], "--loop",
                                str(int(pps * secs / 1024) + 1), pcap],
                               capture_output=True, text=True, timeout=secs * 3 + 60)
            _, _, rates = smp.finish()
            m = re.search(r"sent in ([\d.]+) seconds", p.stdout)
            if m:
                fixed["tcpreplay"] = ((rx_packets(veth[1]) - before) / float(m.group(1)), rates, "")
        for tool, (rate, rates, extra) in list(fixed.items()):
            if not rates:
                continue
            err = abs(rate - pps) / pps
            rms = math.sqrt(sum((x - pps) ** 2 for x in rates) / len(rates)) / pps
            worst = max(abs(x - pps) for x in rates) / pps
            print("%-52s %6.3f%% err; far end per 100 ms: RMSE %.2f%%, worst %.2f%%%s" % (
                "%s --pps %d -> veth" % (tool, pps), 100 * err, 100 * rms, 100 * worst,
                "; " + extra if extra else ""))
            fixed[tool] = (err, rms, worst)
    finally:
        subprocess.run(["ip", "link", "del", veth[0]], capture_output=True)

prof = os.path.join(wd, "ramp_1mpps.csv")
with open(prof, "w") as f:
    f.write("t_seconds,pps\n0,250000\n%g,1000000\n%g,1000000\n" % (secs / 2, secs))
res = run_lg("net_null0", ["--profile", prof])
print("%-52s RMSE %.3f%%, worst %.3f%% over %d intervals; lag p50 %.1f us, p99 %.1f us" % (
    "profile 0.25 -> 1 Mpps ramp -> net_null, per 100 ms", 100 * res["rmse"]["relative"],
    100 * res["rmse"]["max_relative"], res["rmse"]["intervals"], res["lag_ns"]["p50"] / 1e3,
    res["lag_ns"]["p99"] / 1e3))

print()
t = ["net_null >= 20 Mpps: %.2f %s" % (null_mpps, "met" if null_mpps >= 20 else "MISSED")]
if xdp and tcpr:
    t.append("af_xdp >= 2x tcpreplay on a veth: %.1fx %s" % (xdp / tcpr, "met" if xdp >= 2 * tcpr else "MISSED"))
if afp and tcpr:
    t.append("af_packet vs tcpreplay: %.1fx" % (afp / tcpr))
if isinstance(fixed.get("loadgen"), tuple) and isinstance(fixed.get("tcpreplay"), tuple) and \
        len(fixed["loadgen"]) == 3 and len(fixed["tcpreplay"]) == 3:
    t.append("fixed-rate error loadgen %.3f%% vs tcpreplay %.3f%%" % (
        100 * fixed["loadgen"][0], 100 * fixed["tcpreplay"][0]))
print("targets: " + "; ".join(t))
print("(hugepages: %s)" % ("yes" if huge else "no, --no-huge"))
