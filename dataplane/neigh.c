#include <string.h>
#include <sys/socket.h>

#include <rte_arp.h>
#include <rte_ethdev.h>
#include <rte_ip.h>

#include "csum.h"
#include "neigh.h"

#define ND_NS 135
#define ND_NA 136
#define ND_OPT_SLLA 1
#define ND_OPT_TLLA 2
#define ND_NA_SOLICITED 0x40
#define ND_NA_OVERRIDE 0x20

static uint64_t mac_word(const uint8_t *mac)
{
	uint64_t v = DP_NEIGH_VALID;

	for (int i = 0; i < 6; i++)
		v |= (uint64_t)mac[i] << (8 * i);
	return v;
}

static void addr_of(const struct st_addr *a, struct st_ip_addr *ip, uint8_t *family)
{
	memset(ip, 0, sizeof(*ip));
	if (a->family == AF_INET) {
		ip->v4 = a->v4;
		*family = 4;
	} else {
		memcpy(ip->a8, a->v6, 16);
		*family = 6;
	}
}

struct dp_neigh *dp_neigh_find(struct dp_neigh_table *t, uint8_t family,
			       const struct st_ip_addr *ip)
{
	for (int i = 0; i < t->n; i++)
		if (t->e[i].family == family &&
		    memcmp(&t->e[i].ip, ip, family == 4 ? 4 : 16) == 0)
			return &t->e[i];
	return NULL;
}

struct dp_neigh *dp_neigh_add(struct dp_neigh_table *t, const struct st_addr *a,
			      const uint8_t *mac)
{
	struct st_ip_addr ip;
	struct dp_neigh *n;
	uint8_t family;

	addr_of(a, &ip, &family);
	n = dp_neigh_find(t, family, &ip);
	if (n == NULL) {
		if (t->n == DP_NEIGH_MAX)
			return NULL;
		n = &t->e[t->n++];
		memset(n, 0, sizeof(*n));
		n->ip = ip;
		n->family = family;
	}
	if (mac != NULL) {
		n->mac = mac_word(mac);
		n->is_static = true;
	}
	return n;
}

int dp_neigh_unresolved(const struct dp_neigh_table *t)
{
	int n = 0;

	for (int i = 0; i < t->n; i++)
		n += !(__atomic_load_n(&t->e[i].mac, __ATOMIC_RELAXED) & DP_NEIGH_VALID);
	return n;
}

static void learn(struct dp_neigh_table *t, uint8_t family, const void *ip,
		  const uint8_t *mac, uint64_t *learned)
{
	struct st_ip_addr a;
	struct dp_neigh *n;
	uint64_t v;

	memset(&a, 0, sizeof(a));
	memcpy(a.a8, ip, family == 4 ? 4 : 16);
	n = dp_neigh_find(t, family, &a);
	if (n == NULL || n->is_static)
		return;
	v = mac_word(mac);
	if (__atomic_load_n(&n->mac, __ATOMIC_RELAXED) != v) {
		__atomic_store_n(&n->mac, v, __ATOMIC_RELAXED);
		(*learned)++;
	}
}

static int arp_input(struct dp_neigh_table *t, struct rte_mbuf *m,
		     const struct st_pkt *p, uint64_t *learned)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp;
	uint32_t tip;

	if (rte_pktmbuf_data_len(m) < p->l2_len + sizeof(*arp))
		return 0;
	arp = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, p->l2_len);
	if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != 6 || arp->arp_plen != 4)
		return 0;
	if (arp->arp_data.arp_sip != 0)
		learn(t, 4, &arp->arp_data.arp_sip, arp->arp_data.arp_sha.addr_bytes,
		      learned);
	if (arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST))
		return 0;
	tip = arp->arp_data.arp_tip;
	/* A shadow probing for its own address (DAD, gratuitous ARP) must not
	 * be told someone else has it. */
	if (tip == arp->arp_data.arp_sip || arp->arp_data.arp_sip == 0)
		return 0;
	{
		struct st_ip_addr a = { .v4 = tip };

		if (dp_neigh_find(t, 4, &a) != NULL)
			return 0; /* asking for another instance: let it answer */
	}
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	arp->arp_data.arp_tha = arp->arp_data.arp_sha;
	arp->arp_data.arp_tip = arp->arp_data.arp_sip;
	arp->arp_data.arp_sha = t->port_mac;
	arp->arp_data.arp_sip = tip;
	eth->dst_addr = arp->arp_data.arp_tha;
	eth->src_addr = t->port_mac;
	return 1;
}

/* Finds a link-layer address option of the given type in ND options. */
static const uint8_t *nd_lla(const uint8_t *opt, uint32_t len, uint8_t type)
{
	while (len >= 8) {
		uint32_t olen = (uint32_t)opt[1] * 8;

		if (olen == 0 || olen > len)
			return NULL;
		if (opt[0] == type && olen >= 8)
			return opt + 2;
		opt += olen;
		len -= olen;
	}
	return NULL;
}

static int nd_input(struct dp_neigh_table *t, struct rte_mbuf *m,
		    const struct st_pkt *p, uint64_t *learned)
{
	uint8_t *buf = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *ip6 = buf + p->l3_off;
	uint8_t *icmp = buf + p->l4_off;
	uint32_t icmp_len = (uint32_t)(p->l3_off + p->l3_len - p->l4_off);
	const uint8_t *lla;
	uint8_t target[16], requester[16];
	static const uint8_t unspec[16];

	if (p->icmp.type != ND_NS && p->icmp.type != ND_NA)
		return -1;
	/* RFC 4861: hop limit 255, so it cannot have been routed here. */
	if (p->ttl != 255 || icmp_len < 24 || p->l4_off + icmp_len > rte_pktmbuf_data_len(m))
		return 0;
	memcpy(target, icmp + 8, 16);
	if (p->icmp.type == ND_NA) {
		lla = nd_lla(icmp + 24, icmp_len - 24, ND_OPT_TLLA);
		if (lla != NULL)
			learn(t, 6, target, lla, learned);
		return 0;
	}
	memcpy(requester, ip6 + 8, 16);
	lla = nd_lla(icmp + 24, icmp_len - 24, ND_OPT_SLLA);
	if (memcmp(requester, unspec, 16) == 0 || lla == NULL)
		return 0; /* DAD, or no address to answer to */
	learn(t, 6, requester, lla, learned);
	{
		struct st_ip_addr a;

		memcpy(a.a8, target, 16);
		if (dp_neigh_find(t, 6, &a) != NULL || memcmp(target, requester, 16) == 0)
			return 0;
	}
	/* The answer is written over the request: only the common form
	 * without extension headers, with room for it. */
	if (p->l4_off != p->l3_off + 40 || rte_pktmbuf_data_len(m) < p->l4_off + 32u)
		return 0;
	{
		struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
		uint16_t plen = 32;
		uint8_t mac[6];

		memcpy(mac, lla, 6);
		memcpy(eth->dst_addr.addr_bytes, mac, 6);
		eth->src_addr = t->port_mac;
		/* IPv6: payload length, hop limit, src = target, dst = requester. */
		ip6[4] = (uint8_t)(plen >> 8);
		ip6[5] = (uint8_t)plen;
		ip6[6] = 58;
		ip6[7] = 255;
		memcpy(ip6 + 8, target, 16);
		memcpy(ip6 + 24, requester, 16);
		icmp[0] = ND_NA;
		icmp[1] = 0;
		icmp[2] = icmp[3] = 0;
		icmp[4] = ND_NA_SOLICITED | ND_NA_OVERRIDE;
		icmp[5] = icmp[6] = icmp[7] = 0;
		/* target stays at icmp + 8 */
		icmp[24] = ND_OPT_TLLA;
		icmp[25] = 1;
		memcpy(icmp + 26, t->port_mac.addr_bytes, 6);
		{
			uint16_t c = st_csum_l4_v6(ip6 + 8, ip6 + 24, 58, icmp, plen);

			memcpy(icmp + 2, &c, 2);
		}
		m->data_len = (uint16_t)(p->l4_off + plen);
		m->pkt_len = m->data_len;
	}
	return 1;
}

int dp_neigh_input(struct dp_neigh_table *t, struct rte_mbuf *m,
		   const struct st_pkt *p, uint64_t *learned)
{
	if (p->ethertype == ST_ETH_P_ARP)
		return arp_input(t, m, p, learned);
	if (p->l3 == ST_L3_IPV6 && p->proto == ST_IPPROTO_ICMPV6 &&
	    (p->flags & ST_PKT_F_L4))
		return nd_input(t, m, p, learned);
	return -1;
}

static struct rte_mbuf *arp_request(struct dp_neigh_table *t, const struct dp_neigh *n,
				    struct rte_mempool *mp)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;

	if (m == NULL)
		return NULL;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof(*eth) + sizeof(*arp));
	if (eth == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	arp = (struct rte_arp_hdr *)(eth + 1);
	memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	eth->src_addr = t->port_mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = 6;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	arp->arp_data.arp_sha = t->port_mac;
	/* An ARP probe (sender 0.0.0.0): the port has no address of its own,
	 * and a probe does not change the shadow's ARP cache. */
	arp->arp_data.arp_sip = 0;
	memset(&arp->arp_data.arp_tha, 0, sizeof(arp->arp_data.arp_tha));
	arp->arp_data.arp_tip = n->ip.v4;
	return m;
}

static struct rte_mbuf *nd_solicit(struct dp_neigh_table *t, const struct dp_neigh *n,
				   struct rte_mempool *mp)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	uint8_t *b, *ip6, *icmp;
	uint16_t c;

	if (m == NULL)
		return NULL;
	b = (uint8_t *)rte_pktmbuf_append(m, 14 + 40 + 32);
	if (b == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(b, 0, 14 + 40 + 32);
	ip6 = b + 14;
	icmp = ip6 + 40;
	/* Solicited-node multicast group of the target: ff02::1:ffXX:XXXX. */
	b[0] = 0x33; b[1] = 0x33; b[2] = 0xff;
	memcpy(b + 3, n->ip.a8 + 13, 3);
	memcpy(b + 6, t->port_mac.addr_bytes, 6);
	b[12] = 0x86; b[13] = 0xdd;
	ip6[0] = 0x60;
	ip6[5] = 32;
	ip6[6] = 58;
	ip6[7] = 255;
	/* From the port's link-local address (fe80:: and its MAC's EUI-64),
	 * with the MAC as source link-layer option: the answer comes back
	 * unicast. Not from :: -- that is duplicate address detection, and
	 * a shadow whose address was still tentative took it for another
	 * host's claim and gave the address up (dadfailed). */
	ip6[8] = 0xfe; ip6[9] = 0x80;
	ip6[16] = t->port_mac.addr_bytes[0] ^ 0x02;
	ip6[17] = t->port_mac.addr_bytes[1];
	ip6[18] = t->port_mac.addr_bytes[2];
	ip6[19] = 0xff; ip6[20] = 0xfe;
	memcpy(ip6 + 21, t->port_mac.addr_bytes + 3, 3);
	ip6[24] = 0xff; ip6[25] = 0x02; ip6[35] = 0x01; ip6[36] = 0xff;
	memcpy(ip6 + 37, n->ip.a8 + 13, 3);
	icmp[0] = ND_NS;
	memcpy(icmp + 8, n->ip.a8, 16);
	icmp[24] = ND_OPT_SLLA;
	icmp[25] = 1;
	memcpy(icmp + 26, t->port_mac.addr_bytes, 6);
	c = st_csum_l4_v6(ip6 + 8, ip6 + 24, 58, icmp, 32);
	memcpy(icmp + 2, &c, 2);
	return m;
}

int dp_neigh_solicit(struct dp_neigh_table *t, struct rte_ring *ring,
		     struct rte_mempool *mp, bool refresh)
{
	struct rte_mbuf *pkts[DP_NEIGH_MAX];
	unsigned int n = 0, sent;

	for (int i = 0; i < t->n; i++) {
		const struct dp_neigh *e = &t->e[i];
		struct rte_mbuf *m;

		if (e->is_static ||
		    (!refresh && (__atomic_load_n(&e->mac, __ATOMIC_RELAXED) & DP_NEIGH_VALID)))
			continue;
		m = e->family == 4 ? arp_request(t, e, mp) : nd_solicit(t, e, mp);
		if (m != NULL) {
			m->port = t->port_id;
			pkts[n++] = m;
		}
	}
	sent = n ? rte_ring_enqueue_burst(ring, (void **)pkts, n, NULL) : 0;
	if (sent < n)
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	return (int)sent;
}
