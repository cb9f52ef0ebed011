#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan + UBSan) and runs each for a
# given time on a scratch copy of its seed corpus, two at a time
# (FUZZ_JOBS=N for more).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default 60 s, all targets
#
# Targets: every tests/fuzz/fuzz_T.c (packet, kpi, verdict, hist, clients, profile,
# history, capture, select, an_state, an_histdec, an_config, dp_config, scenario,
# http, zsec). Prints "fuzz TARGET: ok (N runs)" or
# "fuzz TARGET: FAIL" with the crashing input kept under build-fuzz/findings/.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
case "${1:-}" in
-h|--help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
secs=${1:-60}
[[ "$secs" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number, not '$secs' (see --help)" >&2; exit 2; }
shift || true
targets=("$@")
# every harness in tests/fuzz/ unless some are named
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		t=${f#tests/fuzz/fuzz_}
		targets+=("${t%.c}")
	done
fi
dir=build-fuzz

if ! command -v clang >/dev/null; then
	for t in "${targets[@]}"; do echo "fuzz $t: SKIP (clang is not installed)"; done
	exit 0
fi

if [ ! -f "$dir/build.ninja" ]; then
	CC=clang meson setup "$dir" -Dfuzz=enabled -Ddpdk=disabled -Dtests=enabled \
		-Db_sanitize=address,undefined -Db_lundef=false >"$dir.setup.log" 2>&1 ||
		{ cat "$dir.setup.log"; echo "fuzz.sh: meson setup failed" >&2; exit 1; }
fi
meson compile -C "$dir" >"$dir.compile.log" 2>&1 ||
	{ cat "$dir.compile.log"; echo "fuzz.sh: build failed" >&2; exit 1; }

status=0
mkdir -p "$dir/findings"
# run_one TARGET: fuzzes one harness; its verdict line goes to $dir/fuzz_T.result.
run_one() {
	local t=$1 bin="$dir/tests/fuzz/fuzz_$1" work="$dir/corpus/$1" log="$dir/fuzz_$1.log"
	local res="$dir/fuzz_$1.result" runs
	if [ ! -x "$bin" ]; then
		echo "fuzz $t: FAIL (no harness $bin)" >"$res"
		return
	fi
	mkdir -p "$work"
	cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$dir/findings/$t-" \
		"$work" >"$log" 2>&1; then
		runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
		echo "fuzz $t: ok (${runs:-?} runs in ${secs}s, no finding)" >"$res"
	else
		echo "fuzz $t: FAIL (see $log; input in $dir/findings/)" >"$res"
	fi
}
# Two harnesses at a time (each is one process on one core), reported in
# the order given.
jobs=${FUZZ_JOBS:-2}
running=0
for t in "${targets[@]}"; do
	run_one "$t" &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
for t in "${targets[@]}"; do
	cat "$dir/fuzz_$t.result"
	if grep -q ': FAIL' "$dir/fuzz_$t.result"; then
		[ -f "$dir/fuzz_$t.log" ] && tail -40 "$dir/fuzz_$t.log"
		status=1
	fi
	rm -f "$dir/fuzz_$t.result"
done
exit $status
