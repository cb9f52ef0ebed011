#!/bin/sh
# Checks the wire format against an independent msgpack implementation,
# Python's msgpack (Debian's python3-msgpack, for /usr/bin/python3 — not
# whatever python3 comes first on PATH):
#   1. libshadowtap encodes a sample KPI and verdict; Python decodes them and
#      checks every field, v, seq, the key order and the types.
#   2. Python encodes messages (keys in another order, floats as float32,
#      ints where doubles go); libshadowtap's typed decoders must accept
#      them, and its JSON output must parse and match.
# Usage: wire_py.sh PATH/TO/wire_tool. Exit 77 (skipped) without
# python3-msgpack.
set -eu

tool=${1:?usage: wire_py.sh PATH/TO/wire_tool}
py=/usr/bin/python3

if ! [ -x "$py" ] || ! "$py" -c 'import msgpack' 2>/dev/null; then
	echo "SKIP: python3-msgpack is not installed for $py" >&2
	exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/wire_py.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

"$tool" encode "$dir"

"$py" - "$dir" <<'EOF'
import math, sys, msgpack

d = sys.argv[1]
fail = []

def check(what, got, want):
    same = (isinstance(want, float) and math.isnan(want) and
            isinstance(got, float) and math.isnan(got)) or \
           (type(got) is type(want) and got == want)
    if not same:
        fail.append("%s: got %r (%s), want %r (%s)" % (
            what, got, type(got).__name__, want, type(want).__name__))

def check_map(what, got, want):
    check(what + " keys", list(got.keys()), list(want.keys()))
    for k, w in want.items():
        g = got.get(k)
        if isinstance(w, dict):
            check_map(what + "." + k, g, w)
        elif isinstance(w, list):
            check(what + "." + k + " len", len(g), len(w))
            for i, (gi, wi) in enumerate(zip(g, w)):
                check_map("%s.%s[%d]" % (what, k, i), gi, wi)
        else:
            check(what + "." + k, g, w)

def load(name):
    with open(d + "/" + name, "rb") as f:
        return msgpack.unpackb(f.read(), raw=False, strict_map_key=True)

kpi = {
    "v": 1, "seq": 18446744073709551615, "src": "gw1-\u00fc",
    "service": "web", "target": "canary", "role": "shadow", "instances": 12,
    "t0": 1700000000000000000, "t1": 1700000001000000000,
    "pkts": 1234567, "bytes": 987654321, "rx_pkts": 1200000,
    "rx_bytes": 1500000000, "requests": 60000, "responses": 59990,
    "timeouts": 7, "resets": 3, "icmp_errors": 1, "offered_rps": 60000.5,
    "drops": {"ring_full": 1, "rate_cap": 1001, "no_mbuf": 2001,
              "shadow_down": 3001, "no_syn": 4001},
    "lat": bytes([0x1c, 0x84, 0x93, 0x14, 0x00, 0x00, 0x00, 0x2a, 0xff,
                  0x80, 0x7f]),
}
nan, inf = float("nan"), float("inf")
verdict = {
    "v": 1, "seq": 77, "t": 1700000005000000000, "service": "web",
    "shadow": "canary", "verdict": "adjust", "current_instances": 8,
    "proposed_instances": 12, "recommended_instances": 14,
    "confidence": 0.93, "score": 61.5, "forecast_rps": 60000.0,
    "observed_rps_per_instance": 4871.25,
    "kpis": [
        {"name": "p99", "unit": "ns", "predicted": 31e6, "observed": 58e6,
         "ratio": 1.8709677419354838, "ci_low": 52e6, "ci_high": 63e6,
         "n": 290000, "status": "high", "critical": True},
        {"name": "timeouts", "unit": "", "predicted": nan, "observed": nan,
         "ratio": inf, "ci_low": -inf, "ci_high": nan, "n": 0,
         "status": "nodata", "critical": False},
    ],
    "model": {"kind": "mmc", "version": 9,
              "params": {"mu": 5120.0, "sigma": -0.25}},
    "cost": {"current": 3.2, "proposed": 4.8, "recommended": 5.6},
    "reason": "p99 58 ms > SLO 50 ms \u2014 adjust to 14",
}
check_map("kpi", load("kpi.mp"), kpi)
check_map("verdict", load("verdict.mp"), verdict)

# Messages for the C decoders, written the way another publisher might.
k2 = dict(reversed(list(kpi.items())))
k2["offered_rps"] = 1.5
k2["instances"] = 3
k2["future_field"] = {"x": [1, 2, 3]}
with open(d + "/py_kpi.mp", "wb") as f:
    f.write(msgpack.packb(k2, use_bin_type=True, use_single_float=True))
v2 = dict(verdict)
del v2["cost"]
v2["confidence"] = 1          # an int where a double goes
v2["kpis"] = [dict(verdict["kpis"][0], ratio=2)]
with open(d + "/py_verdict.mp", "wb") as f:
    f.write(msgpack.packb(v2, use_bin_type=True))

if fail:
    print("\n".join(fail), file=sys.stderr)
    sys.exit(1)
print("python decoded kpi.mp and verdict.mp: every field matches")
EOF

"$tool" decode kpi "$dir/py_kpi.mp" >"$dir/py_kpi.json"
"$tool" decode verdict "$dir/py_verdict.mp" >"$dir/py_verdict.json"

"$py" - "$dir" <<'EOF'
import base64, json, sys, msgpack

d = sys.argv[1]
fail = []
for name in ("py_kpi", "py_verdict"):
    with open(d + "/" + name + ".mp", "rb") as f:
        want = msgpack.unpackb(f.read(), raw=False)
    with open(d + "/" + name + ".json") as f:
        got = json.loads(f.read())
    if "lat" in want:
        want["lat"] = base64.b64encode(want["lat"]).decode()
    # JSON has no NaN or infinity: the C printer writes null.
    def norm(x):
        if isinstance(x, dict):
            return {k: norm(v) for k, v in x.items()}
        if isinstance(x, list):
            return [norm(v) for v in x]
        if isinstance(x, float) and (x != x or x in (float("inf"),
                                                     float("-inf"))):
            return None
        return x
    if norm(want) != got:
        fail.append("%s: C JSON differs:\n got  %r\n want %r" %
                    (name, got, norm(want)))
if fail:
    print("\n".join(fail), file=sys.stderr)
    sys.exit(1)
print("libshadowtap decoded python's messages: JSON matches")
EOF
