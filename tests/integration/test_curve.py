"""CURVE on the dataplane's sockets: with a key pair and an allow-list, a
subscriber (shadowtap-sub) with a listed key receives the KPI stream, one
with an unlisted key or with no key receives nothing; the control socket
answers a listed client only.

usage: test_curve.py DATAPLANE SUB CTL"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stlib  # noqa: E402

DP, SUB, CTL = sys.argv[1], sys.argv[2], sys.argv[3]


def main():
    wd = stlib.workdir("curve")
    j = lambda n: os.path.join(wd, n)  # noqa: E731
    for name in ("gw", "analyzer", "stranger"):
        stlib.run([CTL, "--gen-keys", j(name)])
    with open(j("allow"), "w") as f:
        f.write("# who may connect to gw\n" + open(j("analyzer.pub")).read())
    kpi_ep, ctl_ep = stlib.zmq_endpoints(wd)
    with open(j("dp.ini"), "w") as f:
        f.write("""[dataplane]
client_port = net_null0
prod_port = net_null1
interval = 200ms
kpi_endpoint = %s
control_endpoint = %s
curve_secret_key = %s
curve_allowed_keys = %s
""" % (kpi_ep, ctl_ep, j("gw.key"), j("allow")))
    dp = subprocess.Popen([DP] + stlib.eal_args("curve-%d" % os.getpid(),
                                                ["net_null0,no-rx=1", "net_null1,no-rx=1"]) +
                          ["--", "--config", j("dp.ini"), "--duration", "60s"],
                          stdout=subprocess.DEVNULL, stderr=open(j("dp.err"), "w"))
    try:
        time.sleep(2)
        if dp.poll() is not None:
            stlib.fail("dataplane exited: " + open(j("dp.err")).read())
        server = ["--curve-server-key", j("gw.pub")]
        subs = {
            "listed": subprocess.Popen([SUB, "-n", "3", "-t", "4s"] + server +
                                       ["--curve-key-file", j("analyzer.key"), kpi_ep, "kpi."],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
            "unlisted": subprocess.Popen([SUB, "-n", "1", "-t", "4s"] + server +
                                         ["--curve-key-file", j("stranger.key"), kpi_ep, "kpi."],
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
            "no key": subprocess.Popen([SUB, "-n", "1", "-t", "4s", kpi_ep, "kpi."],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        }
        out = {k: p.communicate(timeout=30) + (p.returncode,) for k, p in subs.items()}
        stlib.check(out["listed"][2] == 0 and out["listed"][0].count('"topic":"kpi.') == 3,
                    "a listed key receives the KPI stream")
        stlib.check(out["unlisted"][2] != 0 and out["unlisted"][0] == "",
                    "an unlisted key receives nothing (%s)" % out["unlisted"][1].strip()[-120:])
        stlib.check(out["no key"][2] != 0 and out["no key"][0] == "", "no key receives nothing")
        rc, so, _ = stlib.run([CTL, "-e", ctl_ep, "-t", "3s"] + server +
                              ["--curve-key-file", j("analyzer.key"), "stats"], check_rc=False)
        stlib.check(rc == 0 and '"ok":true' in so.replace(" ", ""), "control answers a listed client")
        rc, so, _ = stlib.run([CTL, "-e", ctl_ep, "-t", "2s"] + server +
                              ["--curve-key-file", j("stranger.key"), "stats"], check_rc=False)
        stlib.check(rc == 2 and so == "", "control ignores an unlisted client (exit %d)" % rc)
    finally:
        dp.send_signal(signal.SIGINT)
        dp.wait(timeout=30)
    stlib.check(dp.returncode == 0, "dataplane exited cleanly")
    print("all checks passed")


main()
