/* From a classified capture to each TX lcore's templates: one mbuf per
 * packet sent, holding the frame with the rewrites that never change (MACs,
 * --map) already done, and the packet's position in the stream. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mempool.h>

#include "clock.h"
#include "loadgen.h"
#include "log.h"

/* Position of every packet in one pass of the capture (clone 0) and the
 * step between clones, in the unit the mode paces in. -1 (said) when the
 * capture times the replay and, without --max-gap, two packets sent lie
 * more than a day apart: a timestamp that far ahead is damaged, and the
 * replay would wait for it (years, for a bogus one). */
static int positions(struct lg_app *app, double *base, double *step)
{
	const struct lg_plan *pl = &app->plan;
	const uint32_t n = pl->n, mul = app->cfg.multiply;

	switch (app->rate.unit) {
	case LG_UNIT_PACKETS:
		for (uint32_t g = 0; g < n; g++) {
			base[g] = (double)g * mul;
			step[g] = 1;
		}
		app->loop_len = (double)n * mul;
		break;
	case LG_UNIT_BYTES: {
		double cum = 0;

		for (uint32_t g = 0; g < n; g++) {
			double len = app->cap.frames[pl->pkts[g].frame].len;

			base[g] = cum;
			step[g] = len;
			cum += len * mul;
		}
		app->loop_len = cum;
		break;
	}
	case LG_UNIT_CAPTURE_S: {
		const uint64_t max_gap = app->cfg.max_gap_ns;
		uint64_t prev = app->cap.frames[pl->pkts[0].frame].ts_ns, at = 0;
		double mean_gap, last = 0;

		/* A timestamp that goes back counts as no gap: the schedule
		 * must never run backwards; a gap longer than --max-gap counts
		 * as --max-gap. One that goes back more than a day is a
		 * damaged timestamp too: refused, or with --max-gap the
		 * gaps are measured from it on (before, every packet after a
		 * record stamped in the future fell on that record's time). */
		for (uint32_t g = 0; g < n; g++) {
			const uint32_t fr = pl->pkts[g].frame;
			uint64_t ts = app->cap.frames[fr].ts_ns;
			uint64_t gap = ts > prev ? ts - prev : 0;

			if (max_gap == 0 && gap > 86400 * ST_NS_PER_S) {
				ST_ERR("--pcap %s: packet %u is %.1f days after the latest one sent "
				       "before it (a damaged timestamp?): the replay would wait that "
				       "long; --max-gap cuts the capture's gaps", app->cfg.pcap,
				       app->cap.frames[fr].rec,
				       (double)gap / 1e9 / 86400);
				return -1;
			}
			if (ts + 86400 * ST_NS_PER_S < prev) {
				if (max_gap == 0) {
					ST_ERR("--pcap %s: packet %u is %.1f days before the latest "
					       "one sent before it (a damaged timestamp?); --max-gap "
					       "measures the capture's gaps from it on", app->cfg.pcap,
					       app->cap.frames[fr].rec,
					       (double)(prev - ts) / 1e9 / 86400);
					return -1;
				}
				prev = ts;
			}
			if (ts > prev)
				prev = ts;
			at += max_gap && gap > max_gap ? max_gap : gap;
			base[g] = (double)at / 1e9;
			if (g > 0)
				step[g - 1] = (base[g] - last) / mul;
			last = base[g];
		}
		/* The pass ends one mean gap after its last packet, so the
		 * next pass does not start on top of it. */
		mean_gap = n > 1 && last > 0 ? last / (n - 1) : 1e-6;
		app->loop_len = last + mean_gap;
		step[n - 1] = mean_gap / mul;
		break;
	}
	}
	return 0;
}

static void set_macs(const struct lg_app *app, uint8_t *f)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const struct lg_config *c = &app->cfg;

	if (c->dst_mac_mode == LG_MAC_SET)
		memcpy(f, c->dst_mac, 6);
	else if (app->cap.synth_l2)
		memcpy(f, bcast, 6);
	if (c->src_mac_mode == LG_MAC_SET)
		memcpy(f + 6, c->src_mac, 6);
	else if (c->src_mac_mode == LG_MAC_PORT)
		memcpy(f + 6, app->port_mac.addr_bytes, 6);
}

/* The first --map that matches the packet's destination and has a target
 * of its family sends it to one of those, the same one for every packet of
 * the flow. A later fragment has no port of its own: its datagram's
 * (frag_dport) decides, so a datagram is sent whole to one place. Returns
 * false when a '*' map matched but had no target of the packet's family
 * and no map after it did: the packet keeps its captured destination. */
static bool apply_map(const struct lg_app *app, uint8_t *f, const struct lg_rw *rw,
		      uint32_t hash, uint16_t frag_dport)
{
	const struct lg_config *c = &app->cfg;
	const uint8_t *dst = f + lg_rw_dst_off(rw);
	uint16_t dport = frag_dport;

	bool missed = false;

	if (rw->dport_off)
		dport = (uint16_t)(f[rw->dport_off] << 8 | f[rw->dport_off + 1]);
	for (int i = 0; i < c->n_maps; i++) {
		const struct lg_map *m = &c->maps[i];
		const struct lg_server *to;
		uint32_t first = rw->family == 4 ? 0 : m->n_to4;
		uint32_t n = rw->family == 4 ? m->n_to4 : (uint32_t)(m->n_to - m->n_to4);

		if (!m->any && (m->from.family != rw->family ||
				memcmp(m->from.addr.a8, dst, rw->family == 4 ? 4 : 16) != 0 ||
				(m->from.port != 0 && m->from.port != dport)))
			continue;
		if (n == 0) {
			missed = true;
			continue;
		}
		to = &m->to[first + (((uint64_t)(hash ^ 0x9e3779b9u) * n) >> 32)];
		lg_rw_set_dst(f, rw, &to->addr);
		if (to->port)
			lg_rw_set_dport(f, rw, to->port);
		return true;
	}
	return !missed;
}

static struct rte_mempool *pool(const char *name, uint32_t n, uint32_t cache, uint32_t room)
{
	return rte_pktmbuf_pool_create(name, n, cache, 0, (uint16_t)(room + RTE_PKTMBUF_HEADROOM),
				       (int)rte_socket_id());
}

/* The templates' pools, sized by the frames sent (answers left out of the
 * plan take none): those up to LG_SMALL_ROOM bytes in one, longer ones
 * (jumbo frames) in one of their own, so a few long frames do not make
 * every template as long; the copies' by the longest sent. */
static int create_pools(struct lg_app *app)
{
	const struct lg_plan *pl = &app->plan;
	uint32_t copies = app->n_tx * (app->cfg.tx_desc + 8 * LG_BURST) + 1024;
	uint32_t longest = 0, n_big = 0, room, big;
	double mib;

	for (uint32_t g = 0; g < pl->n; g++) {
		uint32_t len = app->cap.frames[pl->pkts[g].frame].len;

		longest = len > longest ? len : longest;
		n_big += len > LG_SMALL_ROOM;
	}
	big = RTE_ALIGN_CEIL(longest, 64);
	room = RTE_MIN(big, (uint32_t)LG_SMALL_ROOM);
	if (copies < 4096)
		copies = 4096;
	mib = ((double)(pl->n - n_big) * (room + RTE_PKTMBUF_HEADROOM + 256) +
	       (double)n_big * (big + RTE_PKTMBUF_HEADROOM + 256) +
	       (double)copies * (big + RTE_PKTMBUF_HEADROOM + 256)) / (1 << 20);
	app->copy_pool = pool("lg_copy", copies, 256, big);
	if (app->copy_pool != NULL && pl->n > n_big)
		app->tmpl_pool = pool("lg_tmpl", pl->n - n_big, 0, room);
	if (app->copy_pool != NULL && n_big > 0)
		app->tmpl_big = pool("lg_tmpl_big", n_big, 0, big);
	if (app->copy_pool == NULL || (pl->n > n_big && app->tmpl_pool == NULL) ||
	    (n_big > 0 && app->tmpl_big == NULL)) {
		ST_ERR("the capture does not fit: it needs %u mbufs of %u bytes and %u of %u "
		       "for its packets and %u for the copies in flight, about %.0f MiB (%s); "
		       "give the EAL more memory (-m %.0f) or replay a smaller capture",
		       pl->n - n_big, room, n_big, big, copies, mib, rte_strerror(rte_errno),
		       mib * 1.5 + 128);
		return -1;
	}
	return 0;
}

/* Keeps every variant's clients off the addresses packets go to. */
static void avoid_servers(struct lg_app *app, const uint8_t *f, const struct lg_rw *rw)
{
	struct st_ip_addr dst;

	memset(&dst, 0, sizeof(dst));
	memcpy(dst.a8, f + lg_rw_dst_off(rw), rw->family == 4 ? 4 : 16);
	lg_variants_avoid(&app->plan.var, rw->family, &dst);
}

static int fill(struct lg_app *app, const double *base, const double *step,
		uint32_t *fill_n)
{
	const struct lg_plan *pl = &app->plan;
	uint32_t unmapped[2] = { 0, 0 };

	for (uint32_t g = 0; g < pl->n; g++) {
		const struct lg_pkt *p = &pl->pkts[g];
		const struct lg_frame *fr = &app->cap.frames[p->frame];
		struct lg_worker *w = app->w[lg_flow_lcore(p->hash, app->n_tx)];
		struct lg_tmpl *t = &w->t[fill_n[w->idx]++];
		struct rte_mbuf *m = rte_pktmbuf_alloc(fr->len > LG_SMALL_ROOM ? app->tmpl_big :
						       app->tmpl_pool);
		uint8_t *f;

		if (m == NULL) {
			ST_ERR("template pool exhausted at packet %u of %u", g, pl->n);
			return -1;
		}
		f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)fr->len);
		if (f == NULL) {
			ST_ERR("packet %u (%u bytes) does not fit its template mbuf", g, fr->len);
			rte_pktmbuf_free(m);
			return -1;
		}
		memcpy(f, lg_frame_data(&app->cap, p->frame), fr->len);
		set_macs(app, f);
		if (!apply_map(app, f, &p->rw, p->hash, p->frag_dport))
			unmapped[p->rw.family == 6]++;
		avoid_servers(app, f, &p->rw);
		t->m = m;
		t->len = (uint16_t)fr->len;
		t->rw = p->rw;
		t->base = base[g];
		t->step = step[g];
		memset(&t->src, 0, sizeof(t->src));
		memcpy(t->src.a8, f + lg_rw_src_off(&p->rw), p->rw.family == 4 ? 4 : 16);
	}
	if (lg_variants_seal(&app->plan.var))
		ST_INFO("more than %d server addresses lie among the client address blocks the "
			"loops and clones would use: they use the first %llu blocks",
			LG_VARIANTS_MAX_AVOID, (unsigned long long)lg_variants_slots(&app->plan.var));
	for (int i = 0; i < 2; i++)
		if (unmapped[i] > 0)
			ST_WARN("--map '*': no IPv%d target: the capture's %u IPv%d packets to "
				"servers keep their captured destination", i ? 6 : 4, unmapped[i],
				i ? 6 : 4);
	return 0;
}

int lg_templates_build(struct lg_app *app)
{
	const struct lg_plan *pl = &app->plan;
	uint32_t count[LG_MAX_TX] = { 0 }, fill_n[LG_MAX_TX] = { 0 };
	double *base = NULL, *step = NULL;
	int rc = -1;

	base = malloc(sizeof(double) * pl->n);
	step = malloc(sizeof(double) * pl->n);
	if (base == NULL || step == NULL) {
		ST_ERR("out of memory for %u packets", pl->n);
		goto out;
	}
	if (positions(app, base, step) < 0)
		goto out;
	app->pkts_per_loop = (uint64_t)pl->n * app->cfg.multiply;
	app->rate.pkts_per_unit = (double)app->pkts_per_loop / app->loop_len;
	if (create_pools(app) < 0)
		goto out;
	for (uint32_t g = 0; g < pl->n; g++)
		count[lg_flow_lcore(pl->pkts[g].hash, app->n_tx)]++;
	for (uint32_t i = 0; i < app->n_tx; i++) {
		struct lg_worker *w = app->w[i];

		w->n = count[i];
		w->t = rte_zmalloc_socket("lg_tmpl", sizeof(*w->t) * (count[i] + 1),
					  RTE_CACHE_LINE_SIZE,
					  (int)rte_lcore_to_socket_id(w->lcore));
		if (w->t == NULL) {
			ST_ERR("out of memory for %u templates", count[i]);
			goto out;
		}
		w->gap_mean = count[i] ? app->loop_len / ((double)count[i] * app->cfg.multiply) : 0;
	}
	if (fill(app, base, step, fill_n) < 0)
		goto out;
	rc = 0;
out:
	free(base);
	free(step);
	return rc;
}

void lg_templates_free(struct lg_app *app)
{
	for (uint32_t i = 0; i < app->n_tx; i++) {
		struct lg_worker *w = app->w[i];

		if (w == NULL || w->t == NULL)
			continue;
		for (uint32_t j = 0; j < w->n; j++)
			if (w->t[j].m != NULL)
				rte_pktmbuf_free(w->t[j].m);
		rte_free(w->t);
		w->t = NULL;
	}
}
