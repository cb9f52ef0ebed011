"""Config handling of shadowtap-dataplane: every bad section, key or value
is reported with its section, key and reason, and the program exits
non-zero before any port is probed (a net_pcap port would create its output
file when probed: the file must not exist afterwards). The shipped example
configs pass --check, --set overrides the file, and the configuration
reference in docs/dataplane.md is the program's own.

usage: test_config.py DATAPLANE_BINARY SOURCE_ROOT"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stlib  # noqa: E402

DP, ROOT = sys.argv[1], sys.argv[2]
wd = stlib.workdir("config")
GOOD = """[dataplane]
client_port = net_pcap0
prod_port = net_pcap1

[shadow.a]
port = net_pcap2
share = 0.1
"""

BAD = [
    ("unknown key", GOOD + "colour = blue\n", "[shadow.a] colour: unknown key"),
    ("unknown section", GOOD + "[shadwo.b]\nport = 3\n", "[shadwo.b]: unknown section"),
    ("bad share", GOOD.replace("share = 0.1", "share = 1.5"), "[shadow.a] share: '1.5': a share must be within 0..1"),
    ("bad percent", GOOD.replace("share = 0.1", "share = 10 percent"), "[shadow.a] share: '10 percent': not a share"),
    ("offset past 1", GOOD + "share_offset = 0.95\n", "[shadow.a] share_offset: offset 0.95 + share 0.1 is past 1"),
    ("bad mode", GOOD.replace("[dataplane]\n", "[dataplane]\nmode = bridge\n"),
     "[dataplane] mode: 'bridge': expected one of inline|tap"),
    ("bad duration", GOOD.replace("[dataplane]\n", "[dataplane]\ninterval = 5 fortnights\n"),
     "[dataplane] interval: '5 fortnights': unknown unit 'fortnights'"),
    ("interval too short", GOOD.replace("[dataplane]\n", "[dataplane]\ninterval = 1ms\n"),
     "[dataplane] interval: '1ms': out of range"),
    ("duplicate key", GOOD + "share = 0.2\n", ":8: duplicate key in [shadow.a] (first at line 7) 'share'"),
    ("duplicate section", GOOD + "[shadow.a]\nport = 3\n", ":8: duplicate section (first at line 5) 'shadow.a'"),
    ("no equals", GOOD + "share 0.2\n", "expected 'key = value'"),
    ("key before section", "share = 1\n" + GOOD, ":1: key outside any [section]"),
    ("bad section header", GOOD + "[shadow.b\n", ":8: section header without ']'"),
    ("no value", GOOD + "share_offset =\n", ":8: [shadow.a] share_offset: no value"),
    ("key too long", GOOD + "k" * 64 + " = 1\n", ":8: key longer than 63 characters"),
    ("value too long", GOOD + "filter = " + "udp or " * 40 + "tcp\n", ":8: value longer than 255"),
    # a '#' line is a comment (as the analyzer reads the same file), not a key
    ("commented key then bad", "# workers = 2\n" + GOOD.replace("prod_port = net_pcap1\n",
     "prod_port = net_pcap1\n# " + "a long comment, " * 30 + "\nworkers = 100\n"),
     "[dataplane] workers: '100': out of range 0..64"),
    ("missing port", GOOD.replace("port = net_pcap2\n", ""), "[shadow.a] port: required"),
    ("shadow on prod port", GOOD.replace("port = net_pcap2", "port = net_pcap1"),
     "[shadow.a] port: 'net_pcap1' is the client or prod port"),
    ("inject on the client port", GOOD.replace("[dataplane]\n", "[dataplane]\ninject_port = net_pcap0\n"),
     "[dataplane] inject_port: 'net_pcap0' is also the client or prod port"),
    ("a request outliving its flow", GOOD.replace("[dataplane]\n", "[dataplane]\nresponse_timeout = 90s\n"),
     "[dataplane] response_timeout: must be shorter than flow_idle_timeout"),
    ("tap without servers", GOOD.replace("[dataplane]\n", "[dataplane]\nmode = tap\n"),
     "[dataplane] servers: tap mode needs the server addresses"),
    ("bad filter", GOOD + "filter = tcp prot 80\n", "[shadow.a] filter: 'tcp prot 80'"),
    # libpcap takes it; made fit for DPDK's BPF its jumps pass 8 bits
    # (said before, not after the ports were up)
    ("filter too long for rte_bpf", GOOD + "filter = " + " and ".join(
        "ip6 protochain %d" % p for p in (17, 6, 58, 1, 2, 3, 4)) + "\n",
     "too long to run with DPDK's BPF"),
    ("bad instance", GOOD + "instances = 198.18.1.300\n", "[shadow.a] instances: '198.18.1.300': not an IPv4 or IPv6 address"),
    ("bad mac", GOOD + "instances = 198.18.1.3@02:00:zz:00:00:01\n", "not a MAC address"),
    ("bad group name", GOOD + "[shadow.a.b]\nport = 3\n", "[shadow.a.b]: bad group name"),
    ("curve half", GOOD.replace("[dataplane]\n", "[dataplane]\ncurve_secret_key = /x.key\n"),
     "curve_secret_key and curve_allowed_keys go together"),
    ("rate suffix", GOOD + "rate_pps = 10 furlongs\n", "[shadow.a] rate_pps: '10 furlongs': unknown unit"),
    ("workers range", GOOD.replace("[dataplane]\n", "[dataplane]\nworkers = 100\n"),
     "[dataplane] workers: '100': out of range 0..64"),
    ("instances_active past the list", GOOD + "instances = 198.18.1.10, 198.18.1.11\n"
     "instances_active = 3\n", "[shadow.a] instances_active: 3, but 2 instances are listed"),
    ("instances_active without instances", GOOD + "instances_active = 1\n",
     "[shadow.a] instances_active: 1, but 0 instances are listed"),
    ("instances_active against instances_count", GOOD + "instances = 198.18.1.10, 198.18.1.11\n"
     "instances_active = 1\ninstances_count = 4\n",
     "[shadow.a] instances_active: 1, but instances_count says 4"),
]


def run(args, timeout=30):
    p = subprocess.run([DP] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def no_hugepages(ini):
    """A host without hugepages (here: a mount namespace with no hugetlbfs):
    the dataplane says what is missing and how to fix it, and exits 2 (the
    unit does not restart on it) before any port is probed."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        print("skip: the no-hugepages case needs root and unshare")
        return
    out_pcap = os.path.join(wd, "huge.pcap")
    eal = [a for a in stlib.eal_args("cfg-huge-%d" % os.getpid(), [
        "net_pcap0,rx_pcap=/dev/null,tx_pcap=%s" % out_pcap]) if a != "--no-huge"]
    script = 'for d in $(awk \'$3 == "hugetlbfs" {print $2}\' /proc/mounts); do umount "$d"; done; exec "$@"'
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", DP] +
                       eal + ["--", "--config", ini], capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    stlib.check(p.returncode == 2 and "cannot start: no hugetlbfs is mounted" in out and
                "--no-huge" in out and not os.path.exists(out_pcap),
                "no hugepages: exit %d, says what is missing and the fix, no port probed" % p.returncode +
                ("" if p.returncode == 2 else ": " + out[-400:]))


def main():
    for name, text, want in BAD:
        ini = os.path.join(wd, "bad.ini")
        with open(ini, "w") as f:
            f.write(text.replace("%%", "%"))
        want = want.replace("%%", "%")
        out_pcap = os.path.join(wd, "probe.pcap")
        if os.path.exists(out_pcap):
            os.unlink(out_pcap)
        rc, out = run(stlib.eal_args("cfg-%d" % os.getpid(), [
            "net_pcap0,rx_pcap=/dev/null,tx_pcap=%s" % out_pcap]) + ["--", "--config", ini])
        stlib.check(rc != 0 and want in out and not os.path.exists(out_pcap),
                    "%s: exit %d before any port, says %r" % (name, rc, want) +
                    ("" if want in out else "\n     got: " + out.strip()[-300:]))
    rc, out = run(["--", "--config", os.path.join(wd, "missing.ini")])
    stlib.check(rc != 0 and "missing.ini: No such file" in out, "a missing file is named")
    # a FIFO is refused, not waited on (a reload reads the file on the
    # main lcore)
    fifo = os.path.join(wd, "fifo.ini")
    os.mkfifo(fifo)
    rc, out = run(["--", "--config", fifo], timeout=10)
    stlib.check(rc != 0 and "fifo.ini: not a regular file" in out, "a FIFO is refused at once")
    rc, out = run(["--", "--set", "shadow.a.share=0.2"])
    stlib.check(rc != 0 and "no --config FILE" in out, "no config file: says so")

    ini = os.path.join(wd, "good.ini")
    with open(ini, "w") as f:
        f.write(GOOD)
    rc, out = run(["--", "--config", ini, "--check"])
    stlib.check(rc == 0 and "config OK" in out, "a good config passes --check")
    # '#' comment lines, a ';' comment after a value and a comment line
    # longer than rte_cfgfile's own reader takes (about 320 characters)
    commented = os.path.join(wd, "commented.ini")
    with open(commented, "w") as f:
        f.write("# shadowtap\n" + GOOD.replace("share = 0.1", "share = 0.1 ; " + "x" * 400) +
                "    # indented too\n; " + "y" * 600 + "\n")
    rc, out = run(["--", "--config", commented, "--check"])
    stlib.check(rc == 0 and "config OK" in out, "'#' and long ';' comment lines pass --check" +
                ("" if rc == 0 else ": " + out.strip()[-300:]))
    # a backslash makes a ';' part of the value (a BPF filter, say)
    with open(commented, "w") as f:
        f.write(GOOD + "filter = udp \\; junk\n")
    rc, out = run(["--", "--config", commented, "--check"])
    stlib.check(rc != 0 and "'udp ; junk'" in out,
                "an escaped ';' reaches the value (%s)" % out.strip()[-200:])
    rc, out = run(["--", "--config", ini, "--set", "shadow.a.share=7", "--check"])
    stlib.check(rc != 0 and "[shadow.a] share: '7'" in out, "--set is checked like the file")
    rc, out = run(["--", "--config", ini, "--set", "shadow.b.port=net_pcap3", "--set", "shadow.b.share=1", "--check"])
    stlib.check(rc == 0 and "2 shadow groups" in out, "--set can add a group")
    rc, out = run(["--", "--config", ini, "--set", "nodot=1", "--check"])
    stlib.check(rc != 0 and "expected SECTION.KEY=VALUE" in out, "a malformed --set is refused")
    exdir = os.path.join(ROOT, "dataplane", "examples")
    for ex in sorted(os.listdir(exdir)):
        if ex.endswith(".csv"):
            # a chaos scenario, for inline.ini's groups
            rc, out = run(["--", "--config", os.path.join(exdir, "inline.ini"), "--set",
                           "dataplane.chaos_scenario=" + os.path.join(exdir, ex), "--check"])
            stlib.check(rc == 0, "example scenario %s passes --check with inline.ini" % ex +
                        ("" if rc == 0 else ": " + out))
            continue
        rc, out = run(["--", "--config", os.path.join(exdir, ex), "--check"])
        stlib.check(rc == 0, "example %s passes --check" % ex + ("" if rc == 0 else ": " + out))
    rc, out = run(["--", "--config", ini, "--set", "dataplane.chaos_scenario=" + os.path.join(wd, "nope.csv"),
                   "--check"])
    stlib.check(rc != 0 and "[dataplane] chaos_scenario:" in out and "nope.csv" in out,
                "a missing chaos scenario is refused naming it")
    no_hugepages(ini)
    rc, out = run(["--help"])
    stlib.check(rc == 0 and "--config FILE" in out and "--set SEC.KEY=VALUE" in out, "--help")

    rc, ref = run(["--config-help=md"])
    doc = open(os.path.join(ROOT, "docs", "dataplane.md")).read()
    stlib.check(rc == 0 and ref.strip() in doc,
                "docs/dataplane.md holds the program's configuration reference (scripts/gen-docs.sh)")
    print("all checks passed")


main()
