"""shadowtap-analyzer with CURVE everywhere: it subscribes to a CURVE
publisher (kpi_pub standing in for a dataplane) with its own client key,
and its verdict and control sockets admit only the keys on its allow-list.

usage: test_analyzer_curve.py ANALYZER KPI_PUB"""
import os
import sys

from anlib import Run, decisive, target
from stlib import check, skip

import msgpack
import zmq

ANALYZER, KPI_PUB = sys.argv[1], sys.argv[2]
if not zmq.has("curve"):
    skip("libzmq without CURVE")
PLAN = {"shadow": "canary", "current_instances": 8, "proposed_instances": 16,
        "forecast_rps": 12000, "slo_p99": "40ms"}

r = Run("curve", ANALYZER, KPI_PUB)
keys = {}


def keypair(name):
    pub, sec = zmq.curve_keypair()
    path = os.path.join(r.wd, name + ".key")
    with open(path, "w") as f:
        f.write("# %s\npublic = %s\nsecret = %s\n" % (name, pub.decode(), sec.decode()))
    os.chmod(path, 0o600)
    keys[name] = (pub, sec, path)
    return path


def allow(name, *who):
    path = os.path.join(r.wd, name)
    with open(path, "w") as f:
        for w in who:
            f.write("public = %s\n" % keys[w][0].decode())
    return path


keypair("analyzer")
keypair("analyzer_client")
keypair("gateway")
keypair("scaler")
keypair("mallory")
extra = ("curve_secret_key = %s\ncurve_allowed_keys = %s\ncurve_server_key = %s\n"
         "curve_client_key = %s\n" % (keys["analyzer"][2], allow("allow_an", "scaler"),
                                      keys["gateway"][0].decode(), keys["analyzer_client"][2]))
r.start(r.config({"web": PLAN}, extra=extra), "4s")


def client(kind, who, endpoint):
    s = zmq.Context.instance().socket(kind)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 1500)
    # A refused handshake leaves a REQ socket without a peer: send would
    # wait for one forever.
    s.setsockopt(zmq.SNDTIMEO, 1500)
    if who is not None:
        s.curve_serverkey = keys["analyzer"][0]
        s.curve_publickey = keys[who][0]
        s.curve_secretkey = keys[who][1]
    s.connect(endpoint)
    return s


sub = client(zmq.SUB, "scaler", r.verdicts)
sub.setsockopt(zmq.SUBSCRIBE, b"verdict.")
r.publish([target("prod", "prod", 8, 500), target("canary", "shadow", 2, 750)], count=50, seed=9,
          extra=["--curve-key", keys["gateway"][2], "--curve-allow", allow("allow_gw", "analyzer_client")])
got = None
try:
    got = sub.recv_multipart()
except zmq.Again:
    pass
check(got is not None and got[0] == b"verdict.web",
      "an admitted subscriber receives verdicts over CURVE")
answers = {}
for who in ("scaler", "mallory", None):
    s = client(zmq.REQ, who, r.control)
    try:
        s.send(msgpack.packb({"cmd": "stats"}))
        answers[who] = msgpack.unpackb(s.recv(), raw=False)
    except zmq.Again:
        answers[who] = None
    s.close()
check(answers["scaler"] and answers["scaler"]["ok"] and answers["scaler"]["counters"]["kpi_merged"] >= 90,
      "the listed client is answered, and the KPIs came in over CURVE (%s merged)"
      % (answers["scaler"] or {}).get("counters", {}).get("kpi_merged"))
check(answers["mallory"] is None, "a client with an unlisted key gets nothing")
check(answers[None] is None, "a plain client gets nothing")
sub.close()
r.wait()
d = decisive(r.results())
check(len(d) >= 3 and d[-1]["verdict"] == "confirm", "verdicts as without CURVE (%d decisive)" % len(d))
print("PASS")
