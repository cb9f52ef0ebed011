/* Flow keys and the symmetric flow hash that picks which flows a shadow
 * group sees.
 *
 * A key holds the two endpoints in a canonical order, so both directions of
 * a flow give the same key and hash. The hash is part of the contract
 * between processes: two gateways shadowing the same traffic, a restarted
 * dataplane and the loadgen must all pick the same flows, so st_flow_hash is
 * CRC32-C, seed ST_FLOW_HASH_SEED, over a fixed 40-byte serialization that
 * does not depend on the host's byte order or compiler:
 *
 *   bytes  0..15  lower endpoint address (IPv4: 4 bytes then 12 zero bytes)
 *   bytes 16..31  higher endpoint address
 *   bytes 32..33  lower endpoint port, little-endian
 *   bytes 34..35  higher endpoint port, little-endian
 *   bytes 36..37  VLAN id (12 bits), little-endian
 *   byte  38      IP protocol
 *   byte  39      family: 4 or 6 (not AF_INET, whose value varies by OS)
 *
 * that is, st_crc32c(ST_FLOW_HASH_SEED, bytes, 40) with st_crc32c's
 * zlib-style chaining convention. "Lower" compares (address bytes, then
 * port number). Changing any of this changes which flows are shadowed; the
 * unit tests pin known values.
 *
 * Packets without ports (other protocols, and every IP fragment, first one
 * included, since later ones carry no L4 header) get ports 0: a datagram's
 * fragments all share a key, distinct from the unfragmented flow's key. */
#ifndef ST_FLOW_H
#define ST_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "packet.h"

#define ST_FLOW_HASH_SEED 0x53485450u	/* "SHTP" */

/* No padding: all 40 bytes are always written, so the struct can be
 * hashed and compared as bytes. */
struct st_flow_key {
	struct st_ip_addr addr[2];	/* [0] lower endpoint, [1] higher */
	uint16_t port[2];		/* host order */
	uint16_t vlan;			/* inner-most VLAN id, 0 untagged */
	uint8_t proto;
	uint8_t family;			/* 4 or 6 */
};

_Static_assert(sizeof(struct st_flow_key) == 40, "flow key is hashed as 40 bytes");

/* Builds a key from one packet's endpoints. *swapped (may be NULL) is set
 * to whether the packet went from the higher endpoint to the lower one,
 * i.e. src is addr[1]. family is 4 or 6; addresses as in struct st_pkt.
 * Never fails. */
void st_flow_key_set(struct st_flow_key *k, uint8_t family, uint8_t proto,
		     uint16_t vlan, const struct st_ip_addr *src,
		     uint16_t sport, const struct st_ip_addr *dst,
		     uint16_t dport, bool *swapped);

/* Key of a parsed packet: its addresses, protocol, ports (0 without
 * ST_PKT_F_PORTS, so for fragments) and inner-most VLAN id. Callers whose
 * two directions arrive on different VLANs set k->vlan = 0 before hashing.
 * Returns 0, or -EINVAL when p has no IP header. Cheap: no hashing. */
int st_flow_key_from_pkt(const struct st_pkt *p, struct st_flow_key *k,
			 bool *swapped);

/* Key of the flow an ICMP error is about, from the packet it quotes: the
 * same key (and hash) as that flow's own packets, with the VLAN of the
 * ICMP packet. *swapped describes the quoted packet, the one that caused
 * the error. Returns 0, or -EINVAL when p is not an ICMP error with a
 * usable quote (ST_PKT_F_ICMP_ERR and icmp.inner.err == ST_PKT_OK). */
int st_flow_key_from_icmp_inner(const struct st_pkt *p, struct st_flow_key *k,
				bool *swapped);

/* The flow hash described above. Never fails; five dependent crc32
 * instructions with SSE4.2 (~5 ns), ~25 ns with the table. */
uint32_t st_flow_hash(const struct st_flow_key *k);

/* What st_flow_frame reads from a frame besides its key. */
struct st_flow_lite {
	uint32_t hash;		/* st_flow_hash of the key */
	uint16_t sport, dport;	/* host order */
	uint16_t payload_len;	/* as st_pkt_parse counts it */
	uint8_t proto;		/* ST_IPPROTO_TCP or ST_IPPROTO_UDP */
	uint8_t tcp_flags;	/* TCP: the flags byte; UDP: 0 */
	uint8_t l4_hlen;	/* TCP: the header with its options; UDP: 8 */
	bool swapped;		/* as st_flow_key_set's *swapped */
};

/* The flow of an Ethernet frame read straight from its bytes, for the
 * common case only: IPv4 (options allowed) carrying TCP or UDP, not a
 * fragment, under at most ST_PKT_MAX_VLANS tags, every header length and
 * the UDP length consistent with the frame and the IP total length. Then
 * returns 0 with *key (when key is not NULL) and *lite as st_pkt_parse,
 * st_flow_key_from_pkt and st_flow_hash give them; -1 for anything else
 * (*lite then holds nothing usable), where the caller parses in full.
 * TCP options are not read, so a segment whose options st_pkt_parse
 * refuses still gets its flow here: it picks and times a flow, it does not
 * vouch for the packet -- but a frame taken here that st_pkt_parse would
 * refuse is always a TCP segment with options (lite->l4_hlen > 20). Several
 * times cheaper than the full parse: for deciding which packets to look at
 * closely. flow_frame.h has it in line. */
int st_flow_frame(const uint8_t *buf, uint32_t len, struct st_flow_key *key,
		  struct st_flow_lite *lite);

static inline bool st_flow_key_eq(const struct st_flow_key *a,
				  const struct st_flow_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* A total order for sorted tables and trees (memcmp of the struct: stable
 * within a process, not across hosts of different byte order). */
static inline int st_flow_key_cmp(const struct st_flow_key *a,
				  const struct st_flow_key *b)
{
	return memcmp(a, b, sizeof(*a));
}

/* Writes "tcp 198.18.0.1:1234 <-> 198.18.0.53:80 vlan 10" (vlan only when
 * set) for logs. Returns what snprintf returns. */
int st_flow_key_fmt(const struct st_flow_key *k, char *buf, size_t size);

/* Position of a hash in [0, 1): hash / 2^32. For control-plane use. */
static inline double st_flow_bucket(uint32_t hash)
{
	return (double)hash * (1.0 / 4294967296.0);
}

/* The integer bound for a share in [0, 1]: ceil(share * 2^32), from 0
 * (nothing) to 2^32 (everything). Out-of-range shares are clamped, NaN is
 * 0. st_bucket_in(h, 0, st_share_threshold(s)) is exactly
 * st_flow_bucket(h) < s; a group owning [a, a + s) of the hash space uses
 * the range [st_share_threshold(a), st_share_threshold(a + s)). */
uint64_t st_share_threshold(double share);

/* Whether hash falls in [lo, hi), bounds from st_share_threshold: the
 * per-packet form of the share test, without floating point. */
static inline bool st_bucket_in(uint32_t hash, uint64_t lo, uint64_t hi)
{
	return hash >= lo && hash < hi;
}

#endif
