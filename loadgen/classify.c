#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "classify.h"
#include "flow.h"

/* Open addressing over 40-byte keys: flows, and server endpoints encoded as
 * keys (address in addr[0], port in port[0]). Linear probing; the table
 * never holds more than half its slots. */
struct ent {
	struct st_flow_key key;
	uint32_t hash;
	uint32_t id;		/* dense flow id + 1, 0 until a packet is kept */
	uint32_t l4;		/* fragments' table: the datagram's sport << 16 | dport */
	int32_t sel;		/* --select-clients: key index, -1 not named, -2 not looked up */
	int8_t client;		/* side of the client: 0, 1, or -1 unknown */
	int8_t first;		/* side of the first packet's sender */
	uint8_t used;
};

struct tab {
	struct ent *e;
	uint32_t mask;
};

static int tab_init(struct tab *t, uint32_t n)
{
	uint32_t size = 64;

	while (size < 2 * (uint64_t)n + 16)
		size *= 2;
	t->e = calloc(size, sizeof(*t->e));
	t->mask = size - 1;
	return t->e ? 0 : -ENOMEM;
}

/* Finds key, inserting it when insert is set (there is always room). */
static struct ent *tab_get(struct tab *t, const struct st_flow_key *k, bool insert)
{
	uint32_t h = st_flow_hash(k), i = h & t->mask;

	for (;; i = (i + 1) & t->mask) {
		struct ent *e = &t->e[i];

		if (!e->used) {
			if (!insert)
				return NULL;
			e->used = 1;
			e->key = *k;
			e->hash = h;
			e->client = -1;
			e->first = -1;
			e->sel = -2;
			return e;
		}
		if (e->hash == h && st_flow_key_eq(&e->key, k))
			return e;
	}
}

static void ep_key(struct st_flow_key *k, uint8_t family, uint8_t proto,
		   const struct st_ip_addr *a, uint16_t port)
{
	memset(k, 0, sizeof(*k));
	k->addr[0] = *a;
	k->port[0] = port;
	k->proto = proto;
	k->family = family;
}

static bool is_learned_server(struct tab *srv, const struct st_flow_key *k, int side)
{
	struct st_flow_key ek;

	/* Port-less flows (fragments, ICMP) match a server by address. */
	ep_key(&ek, k->family, k->proto, &k->addr[side], k->port[side]);
	return tab_get(srv, &ek, false) != NULL;
}

static bool matches(const struct lg_server *s, int n, uint8_t family,
		    const struct st_ip_addr *a, uint16_t port, bool has_ports)
{
	for (int i = 0; i < n; i++) {
		if (s[i].family != family)
			continue;
		if (memcmp(s[i].addr.a8, a->a8, family == 4 ? 4 : 16) != 0)
			continue;
		if (s[i].port == 0 || (has_ports && s[i].port == port))
			return true;
	}
	return false;
}

/* A fragmented datagram's key in the fragments' table: its addresses,
 * protocol and identification. */
static void frag_key(struct st_flow_key *k, const struct st_pkt *p)
{
	memset(k, 0, sizeof(*k));
	k->addr[0] = p->src;
	k->addr[1] = p->dst;
	k->port[0] = (uint16_t)p->frag_id;
	k->port[1] = (uint16_t)(p->frag_id >> 16);
	k->proto = p->proto;
	k->family = p->l3 == ST_L3_IPV4 ? 4 : 6;
}

/* A UDP or TCP first fragment's ports (frame i, parsed in p) into *l4:
 * sport << 16 | dport. False when they are not in the frame. */
static bool first_l4(const struct lg_capture *cap, uint32_t i, const struct st_pkt *p,
		     uint32_t *l4)
{
	const uint8_t *b;

	if ((p->proto != ST_IPPROTO_UDP && p->proto != ST_IPPROTO_TCP) ||
	    (uint32_t)p->l4_off + 4 > cap->frames[i].len)
		return false;
	b = lg_frame_data(cap, i) + p->l4_off;
	*l4 = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return true;
}

/* Parses frame i; a frame cut by the snaplen is parsed as if its missing
 * bytes were zeros, so its headers still give a view. Returns the parser's
 * result. */
static int parse_frame(const struct lg_capture *cap, uint32_t i, uint8_t *scratch,
		       struct st_pkt *p)
{
	const struct lg_frame *f = &cap->frames[i];
	const uint8_t *b = lg_frame_data(cap, i);

	if (f->len < f->orig_len) {
		uint32_t full = f->orig_len < ST_PKT_MAX_LEN ? f->orig_len : ST_PKT_MAX_LEN;

		if (f->len > 0)	/* an empty capture's data may be NULL */
			memcpy(scratch, b, f->len);
		memset(scratch + f->len, 0, full - f->len);
		return st_pkt_parse(scratch, full, p);
	}
	return st_pkt_parse(b, f->len, p);
}

/* The first pass: flows, first senders, and what SYNs tell. */
static void learn(const struct lg_capture *cap, int n_servers, struct tab *flows,
		  struct tab *srv, struct tab *frags, uint8_t *scratch, struct lg_plan *plan)
{
	for (uint32_t i = 0; i < cap->n; i++) {
		struct st_flow_key k, ek;
		struct st_pkt p;
		struct ent *e;
		bool swapped;
		uint32_t l4;
		int side;

		if (parse_frame(cap, i, scratch, &p) != 0 ||
		    st_flow_key_from_pkt(&p, &k, &swapped) != 0)
			continue;
		/* A first fragment's ports, for the later ones. */
		if ((p.flags & ST_PKT_F_FRAG) && p.frag_off == 0 && first_l4(cap, i, &p, &l4)) {
			frag_key(&ek, &p);
			tab_get(frags, &ek, true)->l4 = l4;
		}
		e = tab_get(flows, &k, true);
		side = swapped ? 1 : 0;
		if (e->first < 0)
			e->first = (int8_t)side;
		if (n_servers > 0 || p.proto != ST_IPPROTO_TCP || !(p.flags & ST_PKT_F_L4))
			continue;
		if ((p.tcp.flags & (ST_TCP_SYN | ST_TCP_ACK)) == ST_TCP_SYN) {
			if (e->client < 0)
				e->client = (int8_t)side;
		} else if ((p.tcp.flags & (ST_TCP_SYN | ST_TCP_ACK)) == (ST_TCP_SYN | ST_TCP_ACK)) {
			if (e->client < 0)
				e->client = (int8_t)!side;
		} else {
			continue;
		}
		/* The server end, with and without its port. */
		side = e->client == 0 ? 1 : 0;
		ep_key(&ek, k.family, k.proto, &k.addr[side], k.port[side]);
		if (tab_get(srv, &ek, false) == NULL) {
			tab_get(srv, &ek, true);
			plan->n_servers_learned++;
		}
		ep_key(&ek, k.family, k.proto, &k.addr[side], 0);
		tab_get(srv, &ek, true);
	}
}

static bool portless(const struct st_flow_key *k)
{
	return k->port[0] == 0 && k->port[1] == 0;
}

/* Decides the client side of every flow the SYNs left open: a flow with
 * ports by a learned server at one end, else by its first sender; then a
 * port-less one (IP fragments: every fragment of the datagrams between two
 * addresses) as the flows with ports between the same two addresses, so a
 * fragmented answer to a small request is an answer even when no request
 * of that pair was fragmented; with none, as the others. */
static void settle(struct tab *flows, struct tab *srv, struct lg_plan *plan)
{
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i <= flows->mask; i++) {
			struct ent *e = &flows->e[i], *pe;
			struct st_flow_key pk;

			if (!e->used || portless(&e->key) != (pass == 1))
				continue;
			if (e->client < 0) {
				if (is_learned_server(srv, &e->key, 0))
					e->client = 1;
				else if (is_learned_server(srv, &e->key, 1))
					e->client = 0;
				else {
					e->client = e->first;
					plan->n_flows_guessed++;
				}
			}
			/* the pair's port-less flow, same order of addresses:
			 * decided by the first flow with ports found (a SYN's
			 * too) */
			pk = e->key;
			pk.port[0] = pk.port[1] = 0;
			if (pass == 0 && memcmp(&pk.addr[0], &pk.addr[1], sizeof(pk.addr[0])) != 0 &&
			    (pe = tab_get(flows, &pk, false)) != NULL && pe->client < 0)
				pe->client = e->client;
		}
	}
}

int lg_classify(const struct lg_capture *cap, const struct lg_server *servers,
		int n_servers, struct lg_plan *plan, struct st_perr *err)
{
	return lg_classify_sel(cap, servers, n_servers, NULL, plan, err);
}

int lg_classify_sel(const struct lg_capture *cap, const struct lg_server *servers,
		    int n_servers, struct lg_select *sel, struct lg_plan *plan,
		    struct st_perr *err)
{
	struct tab flows = { 0 }, srv = { 0 }, frags = { 0 };
	uint8_t *scratch = NULL;
	int rc = -ENOMEM;

	memset(plan, 0, sizeof(*plan));
	lg_variants_init(&plan->var);
	scratch = malloc(ST_PKT_MAX_LEN + 1);
	plan->pkts = malloc((size_t)cap->n * sizeof(*plan->pkts) + 1);
	if (scratch == NULL || plan->pkts == NULL || tab_init(&flows, cap->n) < 0 ||
	    /* each SYN can teach two server keys (with and without port) */
	    tab_init(&srv, n_servers > 0 ? 0 : 2 * cap->n) < 0 || tab_init(&frags, cap->n) < 0) {
		lg_errmsg(err, "out of memory for %u packets", cap->n);
		goto err;
	}
	learn(cap, n_servers, &flows, &srv, &frags, scratch, plan);
	if (n_servers == 0)
		settle(&flows, &srv, plan);

	for (uint32_t i = 0; i < cap->n; i++) {
		struct st_flow_key k;
		struct lg_pkt *out = &plan->pkts[plan->n];
		struct ent *fe;
		struct st_pkt p;
		struct ent *e;
		bool swapped;
		int prc = parse_frame(cap, i, scratch, &p), side;

		if (p.l3 == ST_L3_NONE && prc == 0) {
			plan->skipped[LG_SKIP_NON_IP]++;
			continue;
		}
		if (prc != 0 || st_flow_key_from_pkt(&p, &k, &swapped) != 0) {
			plan->skipped[LG_SKIP_MALFORMED]++;
			plan->malformed[p.err < ST_PKT_ERR_COUNT ? p.err : 0]++;
			continue;
		}
		if (lg_rw_init(&out->rw, &p, lg_frame_data(cap, i), cap->frames[i].len) < 0) {
			plan->skipped[LG_SKIP_CUT_HEADERS]++;
			continue;
		}
		e = tab_get(&flows, &k, false);
		side = swapped ? 1 : 0;
		fe = NULL;
		if (p.flags & ST_PKT_F_FRAG) {
			struct st_flow_key fk;

			/* the datagram's first fragment seen last, so far in
			 * the capture (the first pass left the last of all, for
			 * a later fragment captured before its first): an IPv4
			 * identification used again is another datagram */
			frag_key(&fk, &p);
			fe = tab_get(&frags, &fk, false);
			if (fe != NULL && p.frag_off == 0)
				(void)first_l4(cap, i, &p, &fe->l4);
		}
		if (n_servers > 0) {
			bool has_ports = p.flags & ST_PKT_F_PORTS;
			uint16_t sport = p.sport, dport = p.dport;

			/* a fragment: its datagram's ports, when its first
			 * fragment is in the capture */
			if (!has_ports && fe != NULL) {
				has_ports = true;
				sport = (uint16_t)(fe->l4 >> 16);
				dport = (uint16_t)fe->l4;
			}
			if (matches(servers, n_servers, k.family, &p.dst, dport, has_ports))
				e->client = (int8_t)side;
			else if (matches(servers, n_servers, k.family, &p.src, sport, has_ports))
				e->client = (int8_t)!side;
			else {
				plan->skipped[LG_SKIP_OTHER_FLOW]++;
				continue;
			}
		}
		if (e->client != side) {
			plan->skipped[LG_SKIP_RESPONSE]++;
			continue;
		}
		if (sel != NULL) {
			if (e->sel == -2) {
				e->sel = lg_select_find(sel, &k, (unsigned int)side);
				if (e->sel >= 0)
					sel->flows[e->sel]++;
			}
			if (e->sel < 0) {
				plan->skipped[LG_SKIP_NOT_SELECTED]++;
				continue;
			}
		}
		if (e->id == 0)
			e->id = ++plan->n_flows;
		out->frame = i;
		out->flow = e->id - 1;
		out->hash = e->hash;
		out->frag_dport = fe != NULL && p.frag_off != 0 ? (uint16_t)fe->l4 : 0;
		lg_variants_add(&plan->var, k.family, &p.src);
		plan->n++;
	}
	if (plan->n == 0 && sel != NULL && plan->skipped[LG_SKIP_NOT_SELECTED] > 0) {
		lg_errmsg(err, "no packet of the %u clients selected (client_key %s) among the %llu "
			  "client->server packets of %u frames", sel->n, sel->client_key,
			  (unsigned long long)plan->skipped[LG_SKIP_NOT_SELECTED], cap->n);
		rc = -ENODATA;
		goto err;
	}
	if (plan->n == 0) {
		lg_errmsg(err, "no client->server packet to send in %u frames (non-IP %llu, malformed "
			 "%llu, cut headers %llu, responses %llu, not to a --server %llu)",
			 cap->n, (unsigned long long)plan->skipped[LG_SKIP_NON_IP],
			 (unsigned long long)plan->skipped[LG_SKIP_MALFORMED],
			 (unsigned long long)plan->skipped[LG_SKIP_CUT_HEADERS],
			 (unsigned long long)plan->skipped[LG_SKIP_RESPONSE],
			 (unsigned long long)plan->skipped[LG_SKIP_OTHER_FLOW]);
		rc = -ENODATA;
		goto err;
	}
	lg_variants_done(&plan->var);
	free(flows.e);
	free(srv.e);
	free(frags.e);
	free(scratch);
	return 0;
err:
	free(flows.e);
	free(srv.e);
	free(frags.e);
	free(scratch);
	lg_plan_free(plan);
	return rc;
}

void lg_plan_free(struct lg_plan *plan)
{
	if (plan == NULL)
		return;
	free(plan->pkts);
	plan->pkts = NULL;
	plan->n = 0;
}

const char *lg_skip_str(enum lg_skip s)
{
	static const char *const names[LG_SKIP__COUNT] = {
		[LG_SKIP_NON_IP] = "non_ip",
		[LG_SKIP_MALFORMED] = "malformed",
		[LG_SKIP_CUT_HEADERS] = "cut_headers",
		[LG_SKIP_RESPONSE] = "response",
		[LG_SKIP_OTHER_FLOW] = "not_to_server",
		[LG_SKIP_NOT_SELECTED] = "not_selected",
	};

	return (unsigned int)s < LG_SKIP__COUNT ? names[s] : "unknown";
}
