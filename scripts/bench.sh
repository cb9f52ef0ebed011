#!/usr/bin/env bash
# Benchmarks, printed as tables. Speed targets are checked here, not in timed
# tests: the machines are shared and noisy, so each section compares rates
# measured side by side in one run.
#
#   scripts/bench.sh [--quick] [SECTION...]     sections: hist dataplane tcp loadgen analyzer (default: all)
#   scripts/bench.sh dataplane --against=DIR ['--cases=A|B']
#       the dataplane cases (names starting with A or B) with this build's and
#       DIR's (another build dir, e.g. a git worktree's) side by side
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
quick=
sections=()
ab=()
for a in "$@"; do
	case "$a" in
	--quick) quick=--quick ;;
	--against=*)
		# taken from the caller's directory, before the cd below
		d=$(cd -- "${a#--against=}" >/dev/null 2>&1 && pwd) &&
			[ -x "$d/dataplane/shadowtap-dataplane" ] ||
			{ echo "bench.sh: --against: no dataplane/shadowtap-dataplane under '${a#--against=}' (a build dir, best a release one)" >&2; exit 2; }
		ab+=(--against "$d") ;;
	--cases=*) ab+=(--cases "${a#--cases=}") ;;
	-h|--help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
	hist|dataplane|tcp|loadgen|analyzer) sections+=("$a") ;;
	*) echo "bench.sh: unknown section '$a' (known: hist dataplane tcp loadgen analyzer)" >&2; exit 2 ;;
	esac
done
[ ${#sections[@]} -gt 0 ] || sections=(hist dataplane tcp loadgen analyzer)
if [ ${#ab[@]} -gt 0 ] && [ "${sections[*]}" != dataplane ]; then
	echo "bench.sh: --against and --cases are for the dataplane section alone" >&2
	exit 2
fi
cd "$here"

scripts/setup.sh --quiet || exit 1
# Benchmarks use an optimised build of their own, apart from the test builds.
dir=build-bench
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" -Dbuildtype=release -Dtests=enabled >"$dir.setup.log" 2>&1 ||
		{ cat "$dir.setup.log"; exit 1; }
fi
meson compile -C "$dir" >"$dir.compile.log" 2>&1 || { cat "$dir.compile.log"; exit 1; }

echo "shadowtap benchmarks on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
for s in "${sections[@]}"; do
	case "$s" in
	hist)
		echo
		echo "== hist: HDR histogram (one core)"
		"$dir/tests/bench/bench_hist" $quick
		;;
	dataplane)
		echo
		echo "== dataplane: one worker lcore, net_pcap (infinite_rx) -> net_null"
		if [ -n "$quick" ]; then dp_run=(2 2); else dp_run=(3 5); fi	# seconds, rounds
		/usr/bin/python3 tests/bench/bench_dataplane.py "$dir" "${dp_run[@]}" "${ab[@]}"
		;;
	tcp)
		echo
		echo "== tcp: wrk -> nginx through the dataplane, TCP shadowing on and off"
		/usr/bin/python3 tests/bench/bench_e2e_wrk.py "$dir" "$([ -n "$quick" ] && echo 3 || echo 5)"
		;;
	loadgen)
		echo
		echo "== loadgen: one TX lcore; net_null, a veth pair (af_xdp, af_packet, tcpreplay), a profile"
		/usr/bin/python3 tests/bench/bench_loadgen.py "$dir" "$([ -n "$quick" ] && echo 2 || echo 5)"
		;;
	analyzer)
		echo
		echo "== analyzer: KPI snapshots ingested on one core (target >= 100,000/s), verdicts for 1,000 services"
		"$dir/tests/bench/bench_analyzer" $quick
		echo
		echo "== analyzer: ingest with the HTTP API read 10 times a second vs without (target: within 5%)"
		if [ -n "$quick" ]; then an_run=(100000 2); else an_run=(400000 3); fi	# snapshots, rounds
		/usr/bin/python3 tests/bench/bench_analyzer_http.py "$dir" "${an_run[@]}"
		;;
	esac
done
