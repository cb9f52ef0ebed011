#!/usr/bin/env bash
# Builds the Debian package from the tree and tries it as an operator would:
# dpkg-buildpackage -us -uc -b on a copy of the tree, lintian (no errors),
# apt-get install of the .deb, every program's --help and --version from
# /usr/bin, the units verified where they are installed, the installed
# dataplane on a host without hugepages (exit 2, the fix named), the demo's loop
# against the installed programs (--quick), then apt-get purge and a check
# that nothing is left. Ends with "N passed, N failed". The long form of the
# suite's install test (tests/integration/test_install.py); about 6 minutes.
#
#   scripts/deb.sh              build, check, install, run, purge
#   scripts/deb.sh --keep       leave the package installed
#   scripts/deb.sh --out DIR    where the .deb goes (default: a temp dir)
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
keep=0
out=
while [ $# -gt 0 ]; do
	case "$1" in
	--keep) keep=1 ;;
	--out) out=$2; shift ;;
	-h|--help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "deb.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || { echo "deb.sh: needs root (apt-get install)" >&2; exit 2; }
# It installs the package and purges it at the end: never on a host where
# an operator installed it (that would stop its services and take them).
if [ $keep -eq 0 ] && dpkg -s shadowtap >/dev/null 2>&1; then
	echo "deb.sh: shadowtap is installed here, and this would purge it at the end;" \
		"run it with --keep, or where it is not installed" >&2
	exit 2
fi
scripts/setup.sh --quiet || exit 1

passed=0 failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

work=$(mktemp -d /tmp/st-deb-XXXXXX)
out=${out:-$work/out}
mkdir -p "$out"
# The tree as committed plus what is not yet (no build dirs, nothing ignored).
src=$work/shadowtap
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$src"
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
arch=$(dpkg --print-architecture)
deb=shadowtap_${version}_${arch}.deb

echo "deb.sh: building $deb in $src"
if (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); then
	ok "dpkg-buildpackage -us -uc -b"
else
	tail -40 "$work/build.log"
	bad "dpkg-buildpackage -us -uc -b (log: $work/build.log)"
	echo "$passed passed, $failed failed"
	exit 1
fi
mv "$work/$deb" "$work"/shadowtap_*.changes "$work"/shadowtap_*.buildinfo "$out/" 2>/dev/null
dpkg-deb -c "$out/$deb" | awk '{print $6}' >"$work/contents"
for p in shadowtap-dataplane shadowtap-analyzer shadowtap-loadgen shadowtap-forecast \
	shadowtap-ctl shadowtap-sub shadowtap-whatif; do
	check "$deb has /usr/bin/$p and its man page" \
		bash -c "grep -qx './usr/bin/$p' '$work/contents' &&
			 grep -qx './usr/share/man/man1/$p.1.gz' '$work/contents'"
done
check "$deb has the units" grep -q "systemd/system/shadowtap-dataplane@.service" "$work/contents"

lintian --fail-on error "$out/$deb" >"$work/lintian.log" 2>&1
lrc=$?
sed 's/^/  lintian: /' "$work/lintian.log"
check "lintian: no errors" [ $lrc -eq 0 ]

export DEBIAN_FRONTEND=noninteractive
check "apt-get install ./$deb" \
	bash -c 'apt-get install -y -q --reinstall "$1" >"$2" 2>&1' _ "$out/$deb" "$work/install.log"
for p in shadowtap-dataplane shadowtap-analyzer shadowtap-loadgen shadowtap-forecast \
	shadowtap-ctl shadowtap-sub shadowtap-whatif; do
	check "/usr/bin/$p --help and --version" \
		bash -c "/usr/bin/$p --help >/dev/null && /usr/bin/$p --version | grep -qx '$p $version'"
	check "man $p" bash -c "man -w $p >/dev/null"
done
for u in shadowtap-analyzer.service shadowtap-dataplane@.service; do
	unit=$(dpkg -L shadowtap | grep "/$u\$")
	check "systemd-analyze verify $u (installed)" systemd-analyze verify "$unit"
done
check "the units are installed, not enabled" \
	bash -c '! ls /etc/systemd/system/multi-user.target.wants/ 2>/dev/null | grep -q shadowtap'

# The installed dataplane on a host without hugepages (a mount namespace
# with no hugetlbfs): a clear message naming the fix, exit 2, not a crash.
nohuge() {
	local out rc
	out=$(unshare -m --propagation private sh -c \
		'for d in $(awk '"'"'$3 == "hugetlbfs" {print $2}'"'"' /proc/mounts); do umount "$d"; done
		 exec /usr/bin/shadowtap-dataplane -l 0 --no-pci --vdev net_null0 --vdev net_null1 \
			--file-prefix deb-nohuge -- --config /usr/share/shadowtap/examples/inline.ini' 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q "cannot start: no hugetlbfs is mounted" <<<"$out"
}
check "without hugepages: the installed dataplane says why, exits 2" nohuge

# The demo's loop on the installed programs; its servers from a build.
if [ ! -x build/tests/tools/udp_echo ]; then
	meson setup build -Dtests=enabled >/dev/null 2>&1 || true
	meson compile -C build tests/tools/udp_echo >/dev/null 2>&1 || true
fi
if scripts/demo.sh --quick --build build --bindir /usr/bin >"$work/demo.log" 2>&1; then
	ok "the demo's loop on /usr/bin's programs"
	tail -15 "$work/demo.log"
else
	tail -30 "$work/demo.log"
	bad "the demo's loop on /usr/bin's programs (log: $work/demo.log)"
fi

if [ $keep -eq 0 ]; then
	check "apt-get purge shadowtap" \
		bash -c 'apt-get purge -y -q shadowtap >"$1" 2>&1' _ "$work/purge.log"
	check "nothing left in /usr/bin, /etc/shadowtap" \
		bash -c '! ls /usr/bin/shadowtap-* /etc/shadowtap 2>/dev/null | grep -q .'
	check "dpkg forgot it" bash -c '! dpkg -s shadowtap >/dev/null 2>&1'
fi
echo "package: $out/$deb"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
