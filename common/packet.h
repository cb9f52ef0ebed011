/* Packet parsing: Ethernet (up to two VLAN tags), IPv4 / IPv6 (options,
 * extension headers, fragments), TCP (options), UDP, ICMP / ICMPv6 (with the
 * header embedded in an error message).
 *
 * The parser allocates nothing and writes only into the caller's struct
 * st_pkt: a view of offsets and decoded fields into the caller's buffer. It
 * never reads a byte at or past the bytes it is given, whatever they hold.
 * It runs per packet on the dataplane, so the common path (Ethernet, IPv4
 * without options, TCP or UDP) is straight-line code.
 *
 * A frame may be longer than the bytes at hand: a DPDK mbuf chain keeps the
 * headers in its first segment and the rest of a jumbo frame in later ones.
 * st_pkt_parse_seg() is given both lengths: it checks the length fields
 * against the frame and reads only the first segment.
 *
 * Byte order in the view: addresses stay in network order (as on the wire),
 * every other multi-byte field (ports, sequence numbers, lengths, TCIs) is in
 * host order. Offsets are from the start of the buffer given to the parser. */
#ifndef ST_PACKET_H
#define ST_PACKET_H

#include <stdint.h>

/* Offsets are 16-bit: a longer frame (a pcap record, a TSO mbuf chain) is
 * parsed as if cut here. */
#define ST_PKT_MAX_LEN 65535u
#define ST_PKT_MAX_VLANS 2
/* IPv6 extension headers walked before giving up (bad_ipv6_ext). Real
 * traffic has at most three or four; the bound stops a crafted chain from
 * costing the poll loop hundreds of iterations. */
#define ST_PKT_MAX_V6_EXT 8
#define ST_PKT_MAX_SACK 4

#define ST_ETH_P_IPV4 0x0800
#define ST_ETH_P_ARP 0x0806
#define ST_ETH_P_IPV6 0x86dd
#define ST_ETH_P_8021Q 0x8100
#define ST_ETH_P_8021AD 0x88a8
#define ST_ETH_P_QINQ_9100 0x9100

#define ST_IPPROTO_ICMP 1
#define ST_IPPROTO_TCP 6
#define ST_IPPROTO_UDP 17
#define ST_IPPROTO_ICMPV6 58

#define ST_TCP_FIN 0x01
#define ST_TCP_SYN 0x02
#define ST_TCP_RST 0x04
#define ST_TCP_PSH 0x08
#define ST_TCP_ACK 0x10
#define ST_TCP_URG 0x20
#define ST_TCP_ECE 0x40
#define ST_TCP_CWR 0x80

/* Why a packet could not be parsed. Values are stable within a build and
 * dense from 0, so a counter array indexed by them is the natural drop table;
 * st_pkt_err_str() names each one. */
enum st_pkt_err {
	ST_PKT_OK = 0,
	ST_PKT_ERR_TRUNCATED_L2,	/* < 14 bytes of Ethernet header */
	ST_PKT_ERR_TRUNCATED_VLAN,	/* a tag's 4 bytes are not all there */
	ST_PKT_ERR_TOO_MANY_VLANS,	/* a third tag */
	ST_PKT_ERR_TRUNCATED_IP,	/* fixed header, options or total length past the frame */
	ST_PKT_ERR_BAD_IP_VERSION,	/* version nibble disagrees with the ethertype */
	ST_PKT_ERR_BAD_IHL,		/* IHL < 5, or header longer than total length */
	ST_PKT_ERR_BAD_IP_LEN,		/* IPv4 total length < 20 */
	ST_PKT_ERR_TRUNCATED_IPV6_EXT,	/* extension header past the payload length */
	ST_PKT_ERR_BAD_IPV6_EXT,	/* too many, or hop-by-hop not first */
	ST_PKT_ERR_TRUNCATED_L4,	/* L4 fixed header past the L3 end */
	ST_PKT_ERR_BAD_TCP_DOFF,	/* data offset < 5 or past the L3 end */
	ST_PKT_ERR_BAD_TCP_OPTION,	/* option length < 2, overrun, or wrong for its kind */
	ST_PKT_ERR_BAD_UDP_LEN,		/* UDP length < 8 or past the L3 end */
	ST_PKT_ERR_SPLIT_HEADER,	/* a header lies past the first segment (_seg) */
	ST_PKT_ERR_COUNT
};

enum st_pkt_l3 {
	ST_L3_NONE = 0,
	ST_L3_IPV4 = 4,
	ST_L3_IPV6 = 6,
};

/* st_pkt.flags (and st_pkt_inner.flags for the first two). */
#define ST_PKT_F_FRAG 0x01	/* IP fragment (MF or offset != 0): L4 not parsed; st_pkt.frag_* */
#define ST_PKT_F_PORTS 0x02	/* TCP/UDP ports present in sport/dport */
#define ST_PKT_F_L4 0x04	/* the L4 header parsed completely */
#define ST_PKT_F_IP_OPTS 0x08	/* IPv4 header has options */
#define ST_PKT_F_V6_EXT 0x10	/* IPv6 extension headers present */
#define ST_PKT_F_ICMP_ERR 0x20	/* ICMP(v6) error message: see icmp.inner */
#define ST_PKT_F_PADDED 0x40	/* bytes after the L3 end (Ethernet padding) */

/* st_pkt_tcp.opts: the options seen. */
#define ST_TCPOPT_F_MSS 0x01
#define ST_TCPOPT_F_WSCALE 0x02
#define ST_TCPOPT_F_SACK_PERM 0x04
#define ST_TCPOPT_F_SACK 0x08
#define ST_TCPOPT_F_TS 0x10

/* An IPv4 or IPv6 address in network order. IPv4 sits in the first four
 * bytes (v4 == a32[0]) and the rest is zero, so a flow key copies and
 * compares 16 bytes whatever the family. */
struct st_ip_addr {
	union {
		uint8_t a8[16];
		uint32_t a32[4];
		uint32_t v4;
	};
};

struct st_pkt_tcp {
	uint32_t seq;
	uint32_t ack;
	uint32_t tsval;		/* valid with ST_TCPOPT_F_TS */
	uint32_t tsecr;
	uint16_t win;		/* unscaled, as on the wire */
	uint16_t mss;		/* valid with ST_TCPOPT_F_MSS */
	/* Offsets of the option's kind byte, 0 when absent: the dataplane
	 * rewrites TSecr in place and rewrites or strips SACK blocks. The TS
	 * option is kind, len(10), TSval, TSecr; SACK is kind,
	 * len(2 + 8 * sack_count), then sack_count (left, right) pairs. */
	uint16_t ts_off;
	uint16_t sack_off;
	uint8_t flags;		/* ST_TCP_* */
	uint8_t hlen;		/* header length in bytes, options included */
	uint8_t wscale;		/* valid with ST_TCPOPT_F_WSCALE */
	uint8_t opts;		/* ST_TCPOPT_F_* */
	uint8_t sack_count;	/* 1..4 with ST_TCPOPT_F_SACK */
};

/* The IP header and first L4 bytes an ICMP error quotes: the packet that
 * caused the error, as its sender sent it. Usable when the outer packet has
 * ST_PKT_F_ICMP_ERR and err == ST_PKT_OK. */
struct st_pkt_inner {
	struct st_ip_addr src;
	struct st_ip_addr dst;
	uint16_t sport;		/* with ST_PKT_F_PORTS */
	uint16_t dport;
	uint16_t l3_off;	/* offset of the quoted IP header in the buffer */
	uint8_t l3;		/* enum st_pkt_l3 */
	uint8_t proto;
	uint8_t flags;		/* ST_PKT_F_FRAG, ST_PKT_F_PORTS */
	uint8_t err;		/* enum st_pkt_err: why the quote is unusable */
};

struct st_pkt_icmp {
	uint8_t type;
	uint8_t code;
	struct st_pkt_inner inner;
};

struct st_pkt {
	struct st_ip_addr src;
	struct st_ip_addr dst;
	uint16_t l2_len;	/* Ethernet header + tags; 0 from st_pkt_parse_l3 */
	uint16_t ethertype;	/* after the tags (implied one from st_pkt_parse_l3) */
	uint16_t vlan_tci[ST_PKT_MAX_VLANS];	/* [0] outer, [1] inner */
	uint16_t vlan_tpid[ST_PKT_MAX_VLANS];
	uint16_t l3_off;	/* == l2_len */
	uint16_t l3_hlen;	/* IPv4 header with options; IPv6 header + ext headers */
	uint16_t l3_len;	/* IPv4 total length; IPv6 40 + payload length */
	uint16_t l4_off;	/* == l3_off + l3_hlen */
	/* TCP/UDP/ICMP: the data after the L4 header (UDP: as its length
	 * field says). Fragment or other protocol: everything after the L3
	 * header. Non-IP: everything after the Ethernet header. Never
	 * includes Ethernet padding. */
	uint16_t payload_off;
	uint16_t payload_len;
	uint16_t sport;		/* with ST_PKT_F_PORTS */
	uint16_t dport;
	uint8_t vlan_count;
	uint8_t l3;		/* enum st_pkt_l3 */
	uint8_t proto;		/* IPv6: the header after the extension headers */
	uint8_t ttl;		/* or hop limit */
	uint8_t flags;		/* ST_PKT_F_* */
	uint8_t err;		/* enum st_pkt_err, as returned (positive) */
	/* With ST_PKT_F_FRAG, zero otherwise: with src, dst and proto, what
	 * reassembly keys and orders fragments by. frag_off first because it
	 * fills the hole after err. */
	uint16_t frag_off;	/* fragment offset in bytes (the 13-bit field * 8) */
	uint32_t frag_id;	/* IPv4 identification (16 bits) or IPv6 fragment header identification */
	uint8_t frag_more;	/* 1: more fragments follow (IPv4 MF, IPv6 M flag) */
	union {
		struct st_pkt_tcp tcp;		/* proto TCP with ST_PKT_F_L4 */
		struct st_pkt_icmp icmp;	/* proto ICMP/ICMPv6 with ST_PKT_F_L4 */
	};
};

/* Parses a frame of len bytes, all at buf, starting at the Ethernet header
 * into *p (fully overwritten). Returns 0 when every layer it knows parsed
 * (a non-IP ethertype, an unknown IP protocol or a fragment is not an
 * error: the view stops there), or -ST_PKT_ERR_* (not an errno) naming the
 * malformation; p->err holds the same value, positive. On error the view
 * is valid for the layers parsed before the bad one (p->l3 is set once the
 * IP fixed header was read; ST_PKT_F_PORTS once the ports were). Never
 * returns -ST_PKT_ERR_SPLIT_HEADER. Never reads at or past buf[len]. No
 * allocation; tens of ns. */
int st_pkt_parse(const uint8_t *buf, uint32_t len, struct st_pkt *p);

/* The same for a frame of len bytes of which only the first have are at
 * buf (the first segment of an mbuf chain; have > len counts as len).
 * Length fields (IP total and payload lengths, UDP length, TCP data offset,
 * ST_PKT_F_PADDED) are checked against len; nothing at or past buf[have] is
 * ever read. Every header the view describes lies wholly below have: the
 * Ethernet header and tags, the IPv4 header with its options, the IPv6
 * header with its extension headers, the TCP header with its options, the
 * UDP and ICMP headers. A header that the frame holds but the segment does
 * not fails with -ST_PKT_ERR_SPLIT_HEADER (one the frame does not hold with
 * the truncated_* error st_pkt_parse gives); a quote in an ICMP error cut
 * by have gets icmp.inner.err ST_PKT_ERR_SPLIT_HEADER. Offsets are frame
 * offsets: payload_off + payload_len may pass have. With have == len this
 * is st_pkt_parse. Same cost as st_pkt_parse. */
int st_pkt_parse_seg(const uint8_t *buf, uint32_t have, uint32_t len,
		     struct st_pkt *p);

/* Same as st_pkt_parse and st_pkt_parse_seg, for a buffer starting at an
 * IPv4 or IPv6 header (raw-IP pcaps, LINKTYPE_RAW): the version nibble
 * picks the family, l2_len is 0 and ethertype is the one the version
 * implies. */
int st_pkt_parse_l3(const uint8_t *buf, uint32_t len, struct st_pkt *p);
int st_pkt_parse_l3_seg(const uint8_t *buf, uint32_t have, uint32_t len,
			struct st_pkt *p);

/* Short snake_case name of an error ("truncated_ip"), usable as a drop
 * reason. Takes the positive enum or the negative return of the parsers;
 * "ok" for 0 and "unknown" for anything out of range. Never fails. */
const char *st_pkt_err_str(int err);

#endif
