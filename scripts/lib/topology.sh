# shellcheck shell=bash
# The test topology of the whole loop, for scripts that run it (demo.sh,
# soak.sh): sourced, never run. It defines
#
#   say MSG...            a line prefixed with "$st_prog:" (bold on a terminal)
#   ns NAME               a network namespace, removed by cleanup
#   veth NS OUT [ADDR...] a veth pair: eth0 inside NS, OUT in the root namespace
#   bg CMD...             a background process, ended by cleanup (by pid)
#   cleanup               ends every process bg started (by pid), deletes the
#                         links and namespaces made here and the DPDK runtime
#                         directories of the prefixes in dpdk_prefixes
#                         (/var/run/dpdk/PREFIX: a run leaves megabytes
#                         there); the EXIT trap
#   loop_topology TAG     the loop's hosts: namespaces TAGc (clients,
#                         198.18.0.1), TAGp (production, 198.18.0.53), TAGs
#                         (shadows, 198.18.1.10 .11 .20, routed back through
#                         198.18.1.1, which the dataplane answers for), and the
#                         load generator's veth pair TAGg -> TAGi
#   shadow_link TAG       (re)creates the shadows' veth alone (TAGs <-> eth0)
#
# The caller sets st_prog (its name) before sourcing, and may add to pids,
# nss, links and dpdk_prefixes (the --file-prefix of each DPDK program it
# starts). Checksum offload is off on every veth end: TCP through an
# af_packet port fails with it on.

pids=()
nss=()
links=()
dpdk_prefixes=()

if [ -t 1 ]; then
	say() { printf '\033[1m%s:\033[0m %s\n' "${st_prog:-shadowtap}" "$*"; }
else
	say() { echo "${st_prog:-shadowtap}: $*"; }
fi

cleanup() {
	local p l n
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	for l in "${links[@]}"; do ip link del "$l" 2>/dev/null; done
	for n in "${nss[@]}"; do ip netns del "$n" 2>/dev/null; done
	# the programs have exited: their runtime directories are ours to remove
	for p in "${dpdk_prefixes[@]}"; do
		[ -n "$p" ] && rm -rf "/var/run/dpdk/$p"
	done
}

ns() { ip netns add "$1" && nss+=("$1") && ip -n "$1" link set lo up; }

veth() {
	local n=$1 out=$2 a
	shift 2
	ip link add "$out" type veth peer name eth0 netns "$n" || return 1
	links+=("$out")
	ethtool -K "$out" tx off rx off >/dev/null 2>&1
	ip netns exec "$n" ethtool -K eth0 tx off rx off >/dev/null 2>&1
	sysctl -qw "net.ipv6.conf.$out.disable_ipv6=1"
	ip link set "$out" up
	ip -n "$n" link set eth0 up
	for a in "$@"; do ip -n "$n" addr add "$a" dev eth0; done
}

bg() { "$@" & pids+=($!); }

shadow_link() {
	local tag=$1
	veth "${tag}s" "${tag}s" 198.18.1.10/24 198.18.1.11/24 198.18.1.20/24 || return 1
	# The shadows answer the clients and the load generator's clients through
	# the dataplane, their only neighbour: a route via an address on the shadow
	# segment that nobody holds, which the dataplane answers ARP for. One
	# neighbour entry, however many client addresses the load generator's loops
	# make (an on-link route would need one entry per client, and the kernel's
	# neighbour table is shared by every namespace and overflows at gc_thresh3).
	ip -n "${tag}s" route add 198.18.0.0/16 via 198.18.1.1 dev eth0
}

loop_topology() {
	local tag=$1 l
	ns "${tag}c" && ns "${tag}p" && ns "${tag}s" || return 1
	veth "${tag}c" "${tag}c" 198.18.0.1/24 || return 1
	veth "${tag}p" "${tag}p" 198.18.0.53/24 || return 1
	shadow_link "$tag" || return 1
	# The load generator reaches the dataplane's inject port over a veth pair.
	ip link add "${tag}g" type veth peer name "${tag}i" || return 1
	links+=("${tag}g")
	for l in "${tag}g" "${tag}i"; do
		ethtool -K "$l" tx off rx off >/dev/null 2>&1
		sysctl -qw "net.ipv6.conf.$l.disable_ipv6=1"
		ip link set "$l" up
	done
}
