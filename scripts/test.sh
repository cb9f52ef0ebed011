#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, builds
# warning-free twice (plain, and with AddressSanitizer + UBSan), runs the
# timing tests (suites e2e, slow) in the plain build, the count-checking ones
# (integration, analyzer) and the e2e suite but its 'timing' part under the
# sanitizers, the unit tests in both, every fuzz harness briefly, and ends
# with one line
# "N passed, N failed, N skipped". Exits non-zero on any failure.
#
#   scripts/test.sh                 everything
#   scripts/test.sh --no-asan       skip the sanitizer build (the plain
#                                   build then runs every suite)
#   scripts/test.sh --asan-slow     the sanitizer build runs the 'slow' and
#                                   'timing' suites too (the demo, the
#                                   minute-long e2e tests, the latency
#                                   tests; by default they run in the plain
#                                   build only, to keep the suite in 25 min)
#   scripts/test.sh --fuzz-time S   seconds per fuzz harness (default 5; 0 skips;
#                                   scripts/fuzz.sh 60 is the long form)
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

asan=1
asan_slow=0
fuzz_time=5
while [ $# -gt 0 ]; do
	case "$1" in
	--no-asan) asan=0 ;;
	--asan-slow) asan_slow=1 ;;
	--fuzz-time) fuzz_time=$2; shift ;;
	-h|--help) sed -n '2,17s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "test.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

scripts/setup.sh --quiet || { echo "test.sh: setup failed" >&2; exit 1; }

# configure DIR ARGS...: a fresh setup, or a reconfigure that keeps the build.
configure() {
	local dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1
	else
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
	fi || { cat "$dir.setup.log"; echo "test.sh: meson setup $dir failed" >&2; return 1; }
}

# build DIR: compile and fail on any compiler warning (werror is set too;
# this also catches warnings that -Werror does not cover, such as linker's).
build() {
	local dir=$1 log
	log=$(mktemp)
	if ! meson compile -C "$dir" >"$log" 2>&1; then
		cat "$log"; rm -f "$log"
		echo "test.sh: build in $dir failed" >&2
		return 1
	fi
	if grep -q "warning:" "$log"; then
		grep -B2 -A4 "warning:" "$log"; rm -f "$log"
		echo "test.sh: build in $dir has warnings" >&2
		return 1
	fi
	rm -f "$log"
	echo "test.sh: built $dir, no warnings"
}

passed=0 failed=0 skipped=0
# Every DPDK program a test starts leaves its runtime directory
# (/var/run/dpdk/PREFIX, megabytes each: 1.6 GB after some 300 runs here);
# the ones this run made and nothing holds any more go at the end.
dpdk_before=$(ls -1 /var/run/dpdk 2>/dev/null)
dpdk_sweep() {
	local d
	for d in /var/run/dpdk/*; do
		[ -d "$d" ] || continue
		grep -qxF "$(basename "$d")" <<<"$dpdk_before" && continue
		fuser -s "$d" "$d"/* 2>/dev/null || rm -rf "$d"
	done
}
# also when a run is cut short (Ctrl-C, a CI time limit)
trap dpdk_sweep EXIT
# tally DIR: adds the results of the last meson test run in DIR.
tally() {
	local counts
	counts=$(python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(p, f, s)
PY
) || counts="0 1 0"
	set -- $counts
	passed=$((passed + $1)) failed=$((failed + $2)) skipped=$((skipped + $3))
}

status=0
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1

configure build --werror -Dtests=enabled || exit 1
build build || exit 1
# Each test runs once where it means most. The timing tests (suites e2e and
# slow: busy-polling dataplanes measuring latency) run in the plain build;
# the tests that check counts on virtual ports and seeded streams (suites
# integration and analyzer) run in the sanitizer build, the same -O2 code with
# every access checked, and the e2e suite again but for the tests in suite
# timing (a latency measured, code paths other tests run there); the unit
# tests, interop checks and corpus replays run in both. With --no-asan the
# plain build runs them all.
plain_skip=()
[ $asan -eq 1 ] && plain_skip=(--no-suite integration --no-suite analyzer)
meson test -C build --print-errorlogs --num-processes 2 "${plain_skip[@]}" || status=1
tally build

if [ $asan -eq 1 ]; then
	configure build-asan --werror -Dtests=enabled \
		-Db_sanitize=address,undefined -Db_lundef=false || exit 1
	build build-asan || exit 1
	skip_slow=(--no-suite slow --no-suite timing)
	[ $asan_slow -eq 1 ] && skip_slow=()
	meson test -C build-asan --print-errorlogs --num-processes 2 "${skip_slow[@]}" || status=1
	tally build-asan
fi

if [ "$fuzz_time" != 0 ]; then
	fuzz_out=$(mktemp)
	scripts/fuzz.sh "$fuzz_time" | tee "$fuzz_out"
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
	passed=$((passed + $(grep -c '^fuzz .*: ok' "$fuzz_out")))
	failed=$((failed + $(grep -c '^fuzz .*: FAIL' "$fuzz_out")))
	skipped=$((skipped + $(grep -c '^fuzz .*: SKIP' "$fuzz_out")))
	rm -f "$fuzz_out"
fi

[ $failed -gt 0 ] && status=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
