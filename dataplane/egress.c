#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>

#include "egress.h"
#include "worker.h"

#define L2_MAX (RTE_ETHER_HDR_LEN + 2 * RTE_VLAN_HLEN)

/* The Ethernet header's length, tags included (at most two), when it lies
 * in the first segment; its ethertype in *et. 0 when it does not. */
static uint32_t l2_len_of(const struct rte_mbuf *m, uint16_t *et)
{
	const uint8_t *b = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), off = RTE_ETHER_HDR_LEN;

	if (len < RTE_ETHER_HDR_LEN)
		return 0;
	*et = (uint16_t)(b[12] << 8 | b[13]);
	while ((*et == RTE_ETHER_TYPE_VLAN || *et == RTE_ETHER_TYPE_QINQ ||
		*et == RTE_ETHER_TYPE_QINQ1) && off < L2_MAX) {
		if (len < off + RTE_VLAN_HLEN)
			return 0;
		*et = (uint16_t)(b[off + 2] << 8 | b[off + 3]);
		off += RTE_VLAN_HLEN;
	}
	return off;
}

/* m cut to len bytes (its datagram's end, len <= pkt_len): 0, or -1 when
 * the bytes past it are not all in its last segment (m unchanged: a frame
 * that fits goes as it is then, one to fragment is dropped). */
static int trim_to(struct rte_mbuf *m, uint32_t len)
{
	return m->pkt_len > len && rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - len)) != 0 ? -1 : 0;
}

/* The fragments of m for an MTU of mtu into out (at most cap); m is
 * consumed when it returns > 0 (the fragments hold its data). Returns the
 * count, 0 when m fits (its tags are not the MTU's; bytes after its
 * datagram, a trailer, are cut then), or -1 when
 * it must be dropped (m kept): not IPv4 (an IPv6 router does not fragment
 * either), a header length below 20 (a router discards it), DF set, its
 * IPv4 header not whole in the first segment, or more fragments than cap. */
static int fragment(struct rte_mbuf *m, uint32_t mtu, struct rte_mempool *mp,
		    struct rte_mbuf **out, uint16_t cap)
{
	uint8_t l2[L2_MAX];
	uint16_t et = 0;
	uint32_t l2_len = l2_len_of(m, &et);
	const struct rte_ipv4_hdr *ip;
	const uint8_t *b;
	uint32_t ip_len, hl, plen;
	int32_t nf;

	if (l2_len == 0)
		return -1;
	if (m->pkt_len - l2_len <= mtu)
		return 0;
	b = rte_pktmbuf_mtod_offset(m, const uint8_t *, l2_len);
	/* What the MTU bounds is the datagram, not the frame: bytes after it
	 * (an Ethernet trailer, a kept FCS) are not sent on, as past a
	 * router (a port takes a frame of the MTU and its L2 header) */
	if (et == RTE_ETHER_TYPE_IPV6 && rte_pktmbuf_data_len(m) >= l2_len + 40 &&
	    (b[0] >> 4) == 6 && (plen = (uint32_t)(b[4] << 8 | b[5])) != 0 && 40 + plen <= mtu) {
		(void)trim_to(m, l2_len + 40 + plen);
		return 0;
	}
	if (et != RTE_ETHER_TYPE_IPV4 ||
	    rte_pktmbuf_data_len(m) < l2_len + sizeof(struct rte_ipv4_hdr) || (b[0] >> 4) != 4 ||
	    (b[0] & 0xf) < 5 || rte_pktmbuf_data_len(m) < l2_len + (uint32_t)(b[0] & 0xf) * 4)
		return -1;
	ip = (const struct rte_ipv4_hdr *)b;
	ip_len = rte_be_to_cpu_16(ip->total_length);
	hl = (uint32_t)(b[0] & 0xf) * 4;
	if (ip_len <= mtu && ip_len >= hl) {
		(void)trim_to(m, l2_len + ip_len);
		return 0;
	}
	if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG))
		return -1;
	/* a trailer is not the datagram's: fragmented, it would be */
	if (ip_len >= hl && ip_len < m->pkt_len - l2_len && trim_to(m, l2_len + ip_len) != 0)
		return -1;
	memcpy(l2, rte_pktmbuf_mtod(m, const void *), l2_len);
	rte_pktmbuf_adj(m, (uint16_t)l2_len);
	nf = rte_ipv4_fragment_packet(m, out, cap, (uint16_t)mtu, mp, mp);
	if (nf <= 0) {
		rte_pktmbuf_prepend(m, (uint16_t)l2_len);
		return -1;
	}
	for (int32_t i = 0; i < nf; i++) {
		uint8_t *h = (uint8_t *)rte_pktmbuf_prepend(out[i], (uint16_t)l2_len);
		struct rte_ipv4_hdr *fh = (struct rte_ipv4_hdr *)(h + l2_len);

		memcpy(h, l2, l2_len);
		fh->hdr_checksum = 0;
		fh->hdr_checksum = rte_ipv4_cksum(fh);
		out[i]->port = m->port;
	}
	rte_pktmbuf_free(m);
	return nf;
}

/* dp_tx_or_drop; with lost (a shadow group's copies, counted per group,
 * not in the port's tx, as on their way without fragments), the frames the
 * queue refused go to *lost instead, but a TCP session's segments (put
 * off: their session sends them again). */
/* Sends pkts without the port's counters (a shadow group's copies); frees
 * what the queue refused. Returns how many of those were not a TCP
 * session's segments (put off: their session sends them again), their
 * bytes added to *bytes. */
static uint16_t send_uncounted(struct dp_worker *w, int port_idx, struct rte_mbuf **pkts,
			       uint16_t n, uint64_t *bytes)
{
	uint16_t sent = rte_eth_tx_burst(w->app->ports[port_idx].id, w->queue, pkts, n);
	uint16_t lost = 0;

	if (likely(sent == n))
		return 0;
	for (uint16_t i = sent; i < n; i++) {
		if (dp_tcp_put_off(w, pkts[i]))
			continue;
		lost++;
		*bytes += pkts[i]->pkt_len;
	}
	rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	return lost;
}

static void send_run(struct dp_worker *w, int port_idx, struct rte_mbuf **pkts, uint16_t n,
		     struct dp_egress_lost *lost)
{
	if (lost == NULL)
		dp_tx_or_drop(w, port_idx, w->app->ports[port_idx].id, pkts, n);
	else
		lost->tx_full += send_uncounted(w, port_idx, pkts, n, &lost->bytes);
}

void dp_egress_send(struct dp_worker *w, int port_idx, uint32_t mtu,
		    struct rte_mbuf **pkts, uint16_t n, struct rte_mempool *mp,
		    struct dp_egress_lost *lost)
{
	const uint32_t fast = mtu + RTE_ETHER_HDR_LEN;
	struct dp_port_counters *pc = &w->cnt.port[port_idx];
	struct rte_mbuf *frags[DP_EGRESS_MAX_FRAGS];
	uint16_t run = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t len = m->pkt_len;
		uint64_t ignored = 0;
		uint32_t refused;
		int nf;

		if (len <= fast || (nf = fragment(m, mtu, mp, frags, RTE_DIM(frags))) == 0) {
			pkts[run++] = m;
			continue;
		}
		/* What came before it leaves first: order is kept. */
		if (run > 0)
			send_run(w, port_idx, pkts, run, lost);
		run = 0;
		if (nf < 0) {
			pc->too_big++;
			if (lost != NULL) {
				lost->too_big++;
				lost->bytes += len;
			}
			rte_pktmbuf_free(m);
			continue;
		}
		pc->frags_out += (uint32_t)nf;
		refused = 0;
		for (int32_t k = 0; k < nf; k += DP_BURST) {
			uint16_t b = (uint16_t)RTE_MIN(nf - k, DP_BURST);

			if (lost == NULL)
				dp_tx_or_drop(w, port_idx, w->app->ports[port_idx].id, frags + k, b);
			else
				refused += send_uncounted(w, port_idx, frags + k, b, &ignored);
		}
		/* a frame is lost when any of its fragments is */
		if (refused > 0) {
			lost->tx_full++;
			lost->bytes += len;
		}
	}
	if (run > 0)
		send_run(w, port_idx, pkts, run, lost);
}
