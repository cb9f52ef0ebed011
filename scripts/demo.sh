#!/usr/bin/env bash
# The whole loop on virtual NICs, in network namespaces, with real servers:
#
#   clients --480 rps--> dataplane (inline) --> production: 8 instances
#                          |  share 0.25 of the flows, to two shadow groups:
#                          +-> "twelve": 2 instances, standing for a proposal
#                          |   of 12 instances at the forecast rate
#                          +-> "six":    1 instance,  standing for 6 instances
#   loadgen --forecast profile--> inject port --> both shadow groups
#   dataplane --KPIs--> analyzer --verdicts--> (printed; an autoscaler would act)
#
# Every instance is a UDP server that serves one request at a time in 4 ms, so
# load queues as on a real, saturable instance. The shadow groups carry the
# per-instance load their proposal implies (forecast rps / proposed instances)
# from mirrored traffic plus the load generator's replay of a shipped capture
# along the profile shadowtap-forecast makes from a shipped history. The
# analyzer should confirm twelve and tell six to adjust.
#
#   scripts/demo.sh              about 2 minutes of traffic
#   scripts/demo.sh --quick      a shorter run (the test suite's form)
#   scripts/demo.sh --build DIR  use the programs of an existing build, as
#                                they are (no install, no compile)
#   scripts/demo.sh --bindir DIR shadowtap's programs from DIR (an installed
#                                package: /usr/bin); the demo's own servers
#                                still come from the build
#
# Needs root (namespaces, veth pairs, DPDK). Installs and builds as the test
# command does. Ends with a summary table and the path of the HTML report;
# exits non-zero if any part failed. Cleans up everything it started.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
quick=0
build=
bindir=
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--build) build=$2; shift ;;
	--bindir) bindir=$2; shift ;;
	-h|--help) sed -n '2,29s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: needs root: it creates network namespaces and veth pairs and runs DPDK on them" >&2
	exit 1
fi

st_prog=demo
. "$here/scripts/lib/topology.sh"

if [ -z "$build" ]; then
	scripts/setup.sh --quiet || exit 1
	build=build
	if [ ! -f "$build/build.ninja" ]; then
		meson setup "$build" -Dtests=enabled >"$build.setup.log" 2>&1 ||
			{ cat "$build.setup.log"; exit 1; }
	fi
	say "building (meson compile -C $build)"
	meson compile -C "$build" >"$build.compile.log" 2>&1 || { tail -30 "$build.compile.log"; exit 1; }
fi

dur=$([ $quick -eq 1 ] && echo 45 || echo 100)
tag=sd$$
dpdk_prefixes+=("$tag" "${tag}lg")
wd=$(mktemp -d /tmp/shadowtap-demo.XXXXXX)
status=0
trap cleanup EXIT
trap 'exit 130' INT TERM

say "network namespaces: clients, production, shadows (in $wd)"
loop_topology "$tag" || exit 1

echo=$build/tests/tools/udp_echo
# shadowtap's programs: the build's, or installed ones (--bindir)
sub_bin=${bindir:-$build/analyzer}/shadowtap-sub
an_bin=${bindir:-$build/analyzer}/shadowtap-analyzer
dp_bin=${bindir:-$build/dataplane}/shadowtap-dataplane
fc_bin=${bindir:-$build/loadgen}/shadowtap-forecast
lg_bin=${bindir:-$build/loadgen}/shadowtap-loadgen
say "production: 8 instances behind 198.18.0.53:7 (4 ms a request, one at a time)"
for i in 0 1 2 3 4 5 6 7; do
	bg ip netns exec "${tag}p" "$echo" 198.18.0.53 7 4 "$wd/prod$i.log" serial
done
say "shadows: 'twelve' on 198.18.1.10 and .11, 'six' on 198.18.1.20 (the same servers)"
for a in 198.18.1.10 198.18.1.11 198.18.1.20; do
	bg ip netns exec "${tag}s" "$echo" "$a" 7 4 "$wd/shadow-$a.log" serial
done

cat >"$wd/shadowtap.ini" <<EOF
; One file for the whole deployment: the dataplane reads [dataplane] and
; [shadow.*], the analyzer [analyzer] and [service.*].
[dataplane]
mode = inline
client_port = net_af_packet0
prod_port = net_af_packet1
inject_port = net_af_packet3
service = web
publisher_id = demo-gw
prod_instances = 8
interval = 1s
idle_sleep = 50us
kpi_endpoint = ipc://$wd/kpi.sock
control_endpoint = ipc://$wd/dp-ctl.sock

[shadow.twelve]
port = net_af_packet2
share = 0.25
instances = 198.18.1.10, 198.18.1.11
inject = true

[shadow.six]
port = net_af_packet2
share = 0.25                 ; the same range: the same flows as twelve
instances = 198.18.1.20
inject = true
service = web-six            ; judged as a plan of its own

[analyzer]
kpi_endpoints = ipc://$wd/kpi.sock
verdict_endpoint = ipc://$wd/verdicts.sock
control_endpoint = ipc://$wd/an-ctl.sock
; squeeze steps: a smaller count than proposed is run on the shadows before
; it is recommended (the dataplane's control socket raises a group's share)
dataplane_control = ipc://$wd/dp-ctl.sock
verify_settle = 0            ; short steps: the demo has 100 s
verify_max_time = 30s
window = 2s
eval_windows = 8
min_windows = 3
min_samples = 500
hysteresis = 2
stats_interval = 0

[service.web]
shadow = twelve
current_instances = 8
proposed_instances = 12
forecast_rps = 1320
slo_p99 = 25ms
slo_error_rate = 0.01
instance_cost_per_hour = 0.40
min_instances = 2
max_instances = 40

[service.web-six]
shadow = six
current_instances = 8
proposed_instances = 6
forecast_rps = 1320
slo_p99 = 25ms
slo_error_rate = 0.01
instance_cost_per_hour = 0.40
min_instances = 2
max_instances = 40
EOF

say "analyzer: verdicts as they come"
bg "$sub_bin" -q "ipc://$wd/kpi.sock" kpi. >"$wd/kpi.jsonl" 2>/dev/null
# The analyzer stops with the load: the last windows are loaded ones.
bg "$an_bin" --config "$wd/shadowtap.ini" --duration "$((dur + 4))s" \
	--json-out "$wd/verdicts.jsonl" --report "$wd/report.html" 2>"$wd/analyzer.err"
an_pid=${pids[-1]}
bg tail -n +1 -F "$wd/verdicts.jsonl" 2>/dev/null | /usr/bin/python3 -u -c '
import json, sys
for line in sys.stdin:
    try:
        v = json.loads(line)
    except ValueError:
        continue
    print("demo: verdict %-8s %-12s %-12s proposed %2d -> recommended %2d (confidence %.2f): %s" % (
        v.get("service"), v.get("shadow"), v.get("verdict"), v.get("proposed_instances", 0),
        v.get("recommended_instances", 0), v.get("confidence", 0), v.get("reason", "")), flush=True)
' &
pids+=($!)

say "dataplane: inline between clients and production, two shadow groups, inject port"
bg "$dp_bin" -l 0-1 --no-huge --no-pci -m 1024 \
	--file-prefix "$tag" --log-level '*:error' \
	--vdev "net_af_packet0,iface=${tag}c" --vdev "net_af_packet1,iface=${tag}p" \
	--vdev "net_af_packet2,iface=${tag}s" --vdev "net_af_packet3,iface=${tag}i" \
	-- --config "$wd/shadowtap.ini" --duration "$((dur + 8))s" --no-stats 2>"$wd/dataplane.err"
dp_pid=${pids[-1]}
sleep 3
if ! kill -0 "$dp_pid" 2>/dev/null; then
	cat "$wd/dataplane.err"; say "FAILED: the dataplane did not start"; exit 1
fi

say "forecast: the next $dur s of load from scripts/demo/history.csv"
"$fc_bin" --history scripts/demo/history.csv --season 24 \
	--horizon "$dur" --output "$wd/profile.csv" 2>&1 | sed 's/^/demo:   /'
[ -s "$wd/profile.csv" ] || { say "FAILED: no forecast profile"; exit 1; }

say "load generator: scripts/demo/requests.pcap along the forecast, into the inject port"
start_lg() {
	bg "$lg_bin" -l 0-1 --no-huge --no-pci -m 256 --file-prefix "${tag}lg" \
		--log-level '*:error' --vdev "net_af_packet0,iface=${tag}g" -- \
		--pcap scripts/demo/requests.pcap --profile "$wd/profile.csv" --poisson --server 198.18.0.53:7 \
		--no-progress --json >"$wd/loadgen.json" 2>"$wd/loadgen.err"
	lg_pid=${pids[-1]}
}
start_lg
# DPDK's af_packet PMD names its socket's fanout group (pid ^ ifindex) &
# 0xffff; the kernel refuses it (EINVAL) when a socket on another device in
# this namespace, the dataplane's, holds that id. One start in some
# thousands collides; a new process has another pid.
for _ in 1 2 3 4 5 6 7 8 9 10; do
	kill -0 "$lg_pid" 2>/dev/null || break
	grep -q . "$wd/loadgen.json" 2>/dev/null && break
	sleep 0.1
done
if ! kill -0 "$lg_pid" 2>/dev/null && grep -q PACKET_FANOUT "$wd/loadgen.err"; then
	wait "$lg_pid"
	say "load generator: its af_packet fanout id was taken (a collision of pids); starting it again"
	start_lg
fi

say "clients: 480 requests/s over 4800 flows for $dur s"
ip netns exec "${tag}c" /usr/bin/python3 scripts/demo/udp_load.py 198.18.0.53 7 480 4800 "$dur" \
	>"$wd/clients.json" 2>"$wd/clients.err" || { say "FAILED: the clients"; status=1; }

wait "$lg_pid" || { say "FAILED: the load generator"; cat "$wd/loadgen.err"; status=1; }
wait "$dp_pid" || { say "FAILED: the dataplane"; tail -20 "$wd/dataplane.err"; status=1; }
wait "$an_pid" || { say "FAILED: the analyzer"; tail -20 "$wd/analyzer.err"; status=1; }
sleep 1

/usr/bin/python3 - "$wd" <<'PY' || status=1
import json, os, sys
wd = sys.argv[1]
clients = json.load(open(os.path.join(wd, "clients.json")))
kpis = [json.loads(l)["msg"] for l in open(os.path.join(wd, "kpi.jsonl")) if l.strip()]
verdicts = [json.loads(l) for l in open(os.path.join(wd, "verdicts.jsonl")) if l.strip()]
last = {}
for v in verdicts:
    # the newest decisive verdict per plan, else the newest
    if v["verdict"] != "inconclusive" or last.get(v["service"], {}).get("verdict", "inconclusive") == "inconclusive":
        last[v["service"]] = v

def agg(target, service):
    ms = [m for m in kpis if m["target"] == target and m["service"] == service and m["lat"]["count"]]
    req = sum(m["requests"] for m in kpis if m["target"] == target and m["service"] == service)
    # the last windows, once the load had settled
    tail = ms[-5:]
    p50 = sorted(m["lat"]["p50"] for m in tail)[len(tail) // 2] / 1e6 if tail else float("nan")
    p99 = max(m["lat"]["p99"] for m in tail) / 1e6 if tail else float("nan")
    return req, p50, p99

def predicted(v, name):
    for k in v.get("kpis", []):
        if k["name"] == name and k.get("predicted") is not None:
            return k["predicted"] / 1e6
    return float("nan")

print()
print("clients: %d requests sent, %d answered by production" % (clients["sent"], clients["answered"]))
print()
print("%-8s %-6s %6s %9s | %-23s | %-23s | %-10s %-12s %5s" % (
    "service", "group", "share", "requests", "p50 ms prod/shadow/pred", "p99 ms prod/shadow/pred",
    "verdict", "recommended", "conf"))
ok = True
for service, group in (("web", "twelve"), ("web-six", "six")):
    preq, pp50, pp99 = agg("prod", service)
    sreq, sp50, sp99 = agg(group, service)
    v = last.get(service, {})
    print("%-8s %-6s %6s %9d | %6.1f %6.1f %7.1f  | %6.1f %6.1f %7.1f  | %-10s %-12s %5.2f" % (
        service, group, "0.25", sreq, pp50, sp50, predicted(v, "p50"), pp99, sp99,
        predicted(v, "p99"), v.get("verdict", "none"),
        "%s (of %s)" % (v.get("recommended_instances", "-"), v.get("proposed_instances", "-")),
        v.get("confidence", 0)))
    if not v:
        ok = False
steps = [l.split("] ")[-1].strip() for l in open(os.path.join(wd, "analyzer.err"))
         if "squeeze step for" in l or "no squeeze step" in l]
if steps:
    print()
    print("squeeze steps (a smaller count run on the shadows before it is recommended):")
    for l in steps:
        print("  " + l)
print()
print("report: %s" % os.path.join(wd, "report.html"))
if clients["answered"] < 0.99 * clients["sent"]:
    print("demo: production did not answer every client request")
    ok = False
if last.get("web", {}).get("verdict") != "confirm" or last.get("web-six", {}).get("verdict") != "adjust":
    print("demo: expected 'confirm' for twelve and 'adjust' for six")
    ok = False
sys.exit(0 if ok else 1)
PY
[ $status -eq 0 ] && say "done" || say "FAILED (logs in $wd)"
exit $status
