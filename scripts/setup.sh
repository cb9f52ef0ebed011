#!/usr/bin/env bash
# Installs everything shadowtap needs to build and test on Debian 12, and
# reserves hugepages where the machine allows it. Idempotent: a second run
# installs nothing and says so. Run as root (apt-get, sysfs).
#
#   scripts/setup.sh            build and test dependencies
#   scripts/setup.sh --quiet    only say what changed
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
quiet=0
case "${1:-}" in
--quiet) quiet=1 ;;
-h|--help) sed -n '2,7s/^# \{0,1\}//p' "$0"; exit 0 ;;
"") ;;
*) echo "setup.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac
say() { echo "setup: $*"; }

# Build: compilers, meson, the libraries. Tests: clang's libFuzzer runtime,
# node for the hdr-histogram-js interop check, python3-msgpack as an
# independent msgpack decoder, scapy to build and read captures,
# iproute2/ethtool for namespace topologies, real servers and clients
# (nginx, wrk) to run through the dataplane; libmicrohttpd for the HTTP
# surface, GnuTLS (its TLS, and shadowtap-ctl --http's HTTPS), and for their
# tests Prometheus (promtool, a real server), and chromium with its driver
# and selenium for the dashboard; libsystemd (sd_notify), help2man (man
# pages from --help), debhelper and lintian (the Debian package).
packages=(
	build-essential pkg-config meson ninja-build
	clang libclang-rt-dev
	dpdk libdpdk-dev libpcap-dev libzmq3-dev libmsgpack-dev libcunit1-dev zlib1g-dev
	python3 python3-msgpack python3-scapy python3-zmq python3-seccomp
	iproute2 ethtool procps psmisc nftables nginx wrk tcpreplay
	chromium
	libmicrohttpd-dev libgnutls28-dev
	prometheus chromium-driver python3-selenium openssl
	libsystemd-dev help2man debhelper dpkg-dev lintian
)

missing=()
for p in "${packages[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = "installed" ] || missing+=("$p")
done
# Some images ship a node that bundles npm (and conflicts with Debian's npm):
# take Debian's only when there is no npm at all.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		say "missing packages: ${missing[*]}"
		say "installing them needs root: run 'sudo $0'"
		exit 1
	fi
	say "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Package lists on a fresh machine are empty or stale: refresh once.
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
	say "installed ${#missing[@]} packages"
elif [ $quiet -eq 0 ]; then
	say "all ${#packages[@]} packages already installed"
fi

# hdr-histogram-js for the histogram interop test. npm ci is skipped when the
# lock file's tree is already there; without the registry the test that needs
# it reports itself skipped.
interop="$here/tests/interop"
if [ -f "$interop/package-lock.json" ]; then
	if [ ! -d "$interop/node_modules/hdr-histogram-js" ]; then
		if (cd "$interop" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
			say "installed hdr-histogram-js (npm)"
		else
			say "npm ci failed in tests/interop: the hdr-histogram-js interop test will be skipped"
		fi
	fi
fi

# Hugepages make DPDK faster but nothing depends on them: every test runs with
# --no-huge. Reserve 1 GiB of 2 MiB pages if none are reserved yet.
hp=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [ -w "$hp" ] && [ "$(cat "$hp")" -lt 512 ]; then
	if echo 512 > "$hp" 2>/dev/null && [ "$(cat "$hp")" -ge 512 ]; then
		say "reserved $(cat "$hp") hugepages of 2 MiB"
	else
		say "could not reserve hugepages (got $(cat "$hp" 2>/dev/null || echo 0)); DPDK runs with --no-huge"
	fi
elif [ ! -w "$hp" ] && [ $quiet -eq 0 ]; then
	say "hugepages cannot be reserved here ($hp not writable); DPDK runs with --no-huge"
fi
if [ -w "$hp" ] && [ "$(cat "$hp")" -gt 0 ] && ! grep -q hugetlbfs /proc/mounts; then
	mkdir -p /dev/hugepages
	mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null ||
		say "could not mount hugetlbfs on /dev/hugepages; DPDK runs with --no-huge"
fi
exit 0
