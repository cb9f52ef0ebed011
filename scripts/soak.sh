#!/usr/bin/env bash
# The whole loop under a seeded schedule of faults, then a table of checks.
#
#   clients (UDP 150/s over 300 flows; HTTP 25/s over short keep-alive
#   connections) -> dataplane (inline, af_packet) -> production (8 UDP
#   servers, nginx); share 0.25 copied to two shadow groups (3 UDP servers,
#   nginx); the load generator injects a forecast profile; the analyzer
#   judges (window 2 s), its HTTP API and the dataplane's /metrics are
#   scraped once a second, RSS sampled from /proc.
#
# One fault every 20-40 s (closer in a short run, so every kind comes at
# least once), in a seeded order: a shadow server SIGKILLed and restarted;
# the shadow link down and up; bursts of malformed frames on the client
# side; the flow table filled (many new flows in 2 s); the copy pool
# exhausted (copies held by a chaos delay, and a burst); a KPI subscriber
# that stops reading; the analyzer SIGKILLed and restarted on its state
# file; a config reload of each program, valid and invalid (skipped, with
# the reason, while the control sockets do not take "reload"); last, the
# shadow port's veth deleted and re-created.
#
# Checks: every client request answered by production (the clients' own
# counts), mbufs in use at exit 0, RSS of each program flat (last quarter
# within 5% of the second), every seq gap explained by a fault, verdicts
# resumed after every fault, the HTTP API answering, no crash, no sanitizer
# report. Exits 1 on any failure, 2 on a usage error or when the loop
# cannot start, 77 when this machine cannot run it (not root, a tool
# missing).
#
#   scripts/soak.sh [--minutes N] [--seed S] [--asan] [--build DIR]
#     --minutes N  length of the run (default 10; 2 is the suite's form,
#                  60 the release check)
#     --seed S     the schedule's seed (default: random, printed)
#     --asan       run the sanitizer build (build-asan, as scripts/test.sh
#                  configures it); sanitizer reports fail the run
#     --build DIR  use this build's programs as they are (no compile)
#
# Needs root (namespaces, veth pairs, DPDK). Ends only what it started, by
# pid, and removes its namespaces and links, also when interrupted.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
minutes=10
seed=
asan=0
build=
while [ $# -gt 0 ]; do
	case "$1" in
	--minutes) minutes=${2:-}; shift ;;
	--seed) seed=${2:-}; shift ;;
	--asan) asan=1 ;;
	--build) build=${2:-}; shift ;;
	-h|--help) sed -n '2,38s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "soak.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
case "$minutes" in
''|*[!0-9.]*) echo "soak.sh: --minutes takes a number of minutes, 1.5 or more" >&2; exit 2 ;;
esac
if ! awk -v m="$minutes" 'BEGIN { exit !(m >= 1.5 && m <= 1440) }'; then
	echo "soak.sh: --minutes must be 1.5..1440" >&2
	exit 2
fi
[ -n "$seed" ] || seed=$(( $(od -An -N2 -tu2 /dev/urandom) ))
case "$seed" in ''|*[!0-9]*) echo "soak.sh: --seed takes a number" >&2; exit 2 ;; esac
# 77 (meson's "skipped"): this machine cannot run it
if [ "$(id -u)" -ne 0 ]; then
	echo "soak.sh: SKIP: needs root: it creates network namespaces and veth pairs and runs DPDK on them" >&2
	exit 77
fi
for t in nginx ethtool ip; do
	command -v "$t" >/dev/null || { echo "soak.sh: SKIP: $t is not installed (scripts/setup.sh)" >&2; exit 77; }
done
/usr/bin/python3 -c 'import zmq, msgpack' 2>/dev/null ||
	{ echo "soak.sh: SKIP: python3-zmq and python3-msgpack are not installed (scripts/setup.sh)" >&2; exit 77; }

st_prog=soak
. "$here/scripts/lib/topology.sh"

if [ -z "$build" ]; then
	if [ $asan -eq 1 ]; then
		build=build-asan
		opts=(--werror -Dtests=enabled -Db_sanitize=address,undefined -Db_lundef=false)
	else
		build=build
		opts=(--werror -Dtests=enabled)
	fi
	if [ ! -f "$build/build.ninja" ]; then
		meson setup "$build" "${opts[@]}" >"$build.setup.log" 2>&1 || { cat "$build.setup.log"; exit 2; }
	fi
	say "building (meson compile -C $build)"
	meson compile -C "$build" >"$build.compile.log" 2>&1 || { tail -30 "$build.compile.log"; exit 2; }
elif [ $asan -eq 1 ] && ! /usr/bin/python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(open(sys.argv[1] + "/meson-info/intro-buildoptions.json"))}
sys.exit("address" not in o.get("b_sanitize", ""))' "$build" 2>/dev/null; then
	echo "soak.sh: --asan with --build $build, which is not an AddressSanitizer build" >&2
	exit 2
fi
build=$(cd "$build" && pwd)
for p in dataplane/shadowtap-dataplane analyzer/shadowtap-analyzer loadgen/shadowtap-loadgen \
	loadgen/shadowtap-forecast tests/tools/udp_echo; do
	[ -x "$build/$p" ] || { echo "soak.sh: $build/$p is not built" >&2; exit 2; }
done

tag=sk$$
dpdk_prefixes+=("$tag" "${tag}lg")
wd=$(mktemp -d /tmp/shadowtap-soak.XXXXXX)
driver=
soak_cleanup() {
	# the driver ends the processes it started (by pid) on SIGTERM: give it
	# the time, then remove what is left
	if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
		kill -TERM "$driver" 2>/dev/null
		for _ in $(seq 60); do kill -0 "$driver" 2>/dev/null || break; sleep 0.5; done
	fi
	cleanup
}
trap soak_cleanup EXIT
trap 'exit 130' INT TERM
say "$minutes minutes, seed $seed, $([ $asan -eq 1 ] && echo "sanitizer build" || echo "plain build") $build (in $wd)"
loop_topology "$tag" || { say "cannot make the namespaces"; exit 2; }
bg /usr/bin/python3 -u scripts/soak/soak.py --build "$build" --wd "$wd" --tag "$tag" \
	--minutes "$minutes" --seed "$seed" $([ $asan -eq 1 ] && echo --asan)
driver=${pids[-1]}
wait "$driver"
status=$?
[ $status -eq 0 ] && say "passed (logs in $wd)" || say "FAILED (status $status, logs in $wd)"
exit $status
