#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <pcap/pcap.h>
#include <rte_bpf.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "bpf_fix.h"
#include "flow.h"
#include "log.h"
#include "shadow.h"

/* libpcap compiles the filter to classic BPF for an Ethernet link; DPDK
 * converts that to eBPF over the mbuf and JIT-compiles it. */
int dp_filter_compile(const char *expr, struct dp_filter **out, struct st_perr *err)
{
	struct bpf_program prog;
	struct rte_bpf_prm *prm;
	struct rte_bpf_jit jit;
	struct dp_filter *f;
	pcap_t *pc;

	*out = NULL;
	if (expr[0] == '\0')
		return 0;
	pc = pcap_open_dead(DLT_EN10MB, 65535);
	if (pc == NULL) {
		snprintf(err->msg, sizeof(err->msg), "filter: libpcap: out of memory");
		return -ENOMEM;
	}
	if (pcap_compile(pc, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err->msg, sizeof(err->msg), "filter '%.80s': %.90s", expr, pcap_geterr(pc));
		pcap_close(pc);
		return -EINVAL;
	}
	{
		struct bpf_program fixed;
		const char *why = NULL;

		fixed.bf_insns = dp_bpf_fix_ind_byte_loads(&prog, &fixed.bf_len, &why);
		pcap_freecode(&prog);
		pcap_close(pc);
		if (fixed.bf_insns == NULL) {
			snprintf(err->msg, sizeof(err->msg), "filter '%.80s': %s", expr, why);
			return -EINVAL;
		}
		prm = rte_bpf_convert(&fixed);
		free(fixed.bf_insns);
	}
	if (prm == NULL) {
		snprintf(err->msg, sizeof(err->msg), "filter '%.80s': rte_bpf_convert: %.60s",
			 expr, strerror(rte_errno));
		return -rte_errno;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		rte_free(prm);
		snprintf(err->msg, sizeof(err->msg), "filter: out of memory");
		return -ENOMEM;
	}
	f->bpf = rte_bpf_load(prm);
	rte_free(prm);
	if (f->bpf == NULL) {
		int rc = -rte_errno;

		snprintf(err->msg, sizeof(err->msg), "filter '%.80s': rte_bpf_load: %.60s",
			 expr, strerror(rte_errno));
		free(f);
		return rc;
	}
	if (rte_bpf_get_jit(f->bpf, &jit) == 0 && jit.func != NULL)
		f->jit = jit.func;
	*out = f;
	return 0;
}

void dp_filter_free(struct dp_filter *f)
{
	if (f == NULL)
		return;
	rte_bpf_destroy(f->bpf);
	free(f);
}

struct dp_filter *dp_group_swap_filter(struct dp_group *g, struct dp_filter *f)
{
	return __atomic_exchange_n(&g->filter, f, __ATOMIC_ACQ_REL);
}

int dp_group_set_sampling(struct dp_group *g, enum dp_sampling s)
{
	if (s == DP_SAMPLE_PACKET && __atomic_load_n(&g->range_lo, __ATOMIC_RELAXED) != 0)
		return -EINVAL;
	__atomic_store_n(&g->sampling, s, __ATOMIC_RELEASE);
	return 0;
}

int dp_group_init(struct dp_group *g, const struct dp_shadow_cfg *c,
		  const struct dp_config *cfg, uint16_t port_id, uint8_t port_idx,
		  struct dp_neigh_table *neigh, struct st_perr *err)
{
	int rc;

	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", c->name);
	g->port_id = port_id;
	g->port_idx = port_idx;
	g->sampling = c->sampling;
	g->neigh = neigh;
	g->enabled = c->enabled;
	g->rate_pps = c->rate_pps;
	g->rate_bps = c->rate_bps;
	g->burst_ms = c->burst_ms;
	g->instances_count = dp_shadow_instances_count(c);
	g->inject = c->inject;
	g->inject_hi = st_share_threshold(c->inject_share);
	snprintf(g->service, sizeof(g->service), "%s", c->service[0] ? c->service : cfg->service);
	rc = dp_group_set_share(g, c->share, c->share_offset);
	if (rc < 0) {
		snprintf(err->msg, sizeof(err->msg), "[shadow.%s] share: offset + share past 1",
			 c->name);
		return rc;
	}
	if (c->filter[0] != '\0') {
		struct st_perr e;

		rc = dp_filter_compile(c->filter, &g->filter, &e);
		if (rc < 0) {
			snprintf(err->msg, sizeof(err->msg), "[shadow.%.31s] %.140s", c->name, e.msg);
			return rc;
		}
	}
	dp_group_set_chaos(g, dp_chaos_pack(st_share_threshold(c->chaos_loss),
					    c->has_chaos_down ?
					    dp_shadow_instance_index(c, &c->chaos_down) : -1,
					    c->chaos_down_respread), &c->chaos);
	g->has_dst_mac = c->has_dst_mac;
	memcpy(g->dst_mac.addr_bytes, c->dst_mac, 6);
	for (int i = 0; i < c->n_instances; i++) {
		const struct dp_instance *in = &c->instances[i];

		g->inst[i] = dp_neigh_add(neigh, &in->addr, in->has_mac ? in->mac : NULL);
		if (g->inst[i] == NULL)
			goto full;
	}
	g->n_instances = c->n_instances;
	g->n_active = c->instances_active > 0 ? c->instances_active : (uint32_t)c->n_instances;
	/* Without instances the copies keep their destination address, and
	 * the shadow answering for it is found by resolving the servers. */
	if (g->n_instances == 0 && !g->has_dst_mac)
		for (int i = 0; i < cfg->n_servers; i++)
			if (dp_neigh_add(neigh, &cfg->servers[i].addr, NULL) == NULL)
				goto full;
	return 0;
full:
	snprintf(err->msg, sizeof(err->msg),
		 "[shadow.%s] instances: more than %d addresses on port %s", c->name,
		 DP_NEIGH_MAX, c->port);
	dp_group_fini(g);
	return -E2BIG;
}

void dp_group_fini(struct dp_group *g)
{
	dp_filter_free(g->filter);
	g->filter = NULL;
}

int dp_group_set_share(struct dp_group *g, double share, double offset)
{
	uint32_t seq;

	if (share < 0 || share > 1 || offset < 0 || offset + share > 1.0 + 1e-9)
		return -EINVAL;
	if (g->sampling == DP_SAMPLE_PACKET && offset > 0)
		return -EINVAL;
	if (offset + share > 1.0)
		share = 1.0 - offset;
	/* Both bounds under range_seq: a worker takes them only as a pair
	 * (sel_read), a read across the stores keeps the old range for one
	 * more burst. */
	seq = __atomic_load_n(&g->range_seq, __ATOMIC_RELAXED);
	__atomic_store_n(&g->range_seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&g->range_lo, st_share_threshold(offset), __ATOMIC_RELAXED);
	__atomic_store_n(&g->range_hi, st_share_threshold(offset + share), __ATOMIC_RELAXED);
	__atomic_store_n(&g->range_seq, seq + 2, __ATOMIC_RELEASE);
	return 0;
}

int dp_group_set_instances(struct dp_group *g, uint32_t n)
{
	if (g->n_instances == 0)
		return -ENOENT;
	if (n < 1 || n > (uint32_t)g->n_instances)
		return -ERANGE;
	/* Two words, each read once per burst: a KPI window that ends
	 * between the stores reports the old count for a copy or two. */
	__atomic_store_n(&g->n_active, n, __ATOMIC_RELEASE);
	__atomic_store_n(&g->instances_count, n, __ATOMIC_RELAXED);
	return 0;
}

uint32_t dp_group_instances(const struct dp_group *g)
{
	return __atomic_load_n(&g->n_active, __ATOMIC_RELAXED);
}

void dp_group_set_chaos(struct dp_group *g, uint64_t word, const struct dp_chaos_params *p)
{
	static const struct dp_chaos_params none;
	struct dp_chaos_fx fx;
	const uint64_t *src = (const uint64_t *)&fx;
	uint64_t *dst = (uint64_t *)&g->chaos_fx;
	uint32_t seq = __atomic_load_n(&g->chaos_seq, __ATOMIC_RELAXED);

	_Static_assert(sizeof(struct dp_chaos_fx) % sizeof(uint64_t) == 0,
		       "the impairments are whole words");
	const struct dp_chaos_params *np = p != NULL ? p : &none;
	/* A change that leaves the flap schedule as it was keeps its phase. */
	bool same_flap = np->flap_period_ns != 0 &&
			 np->flap_period_ns == g->chaos_params.flap_period_ns &&
			 np->flap_down_ns == g->chaos_params.flap_down_ns;

	g->chaos_params = *np;
	dp_chaos_compile(&g->chaos_params, rte_get_tsc_hz(), &fx);
	if (fx.on & DP_FX_FLAP)
		fx.flap_epoch = same_flap ? g->chaos_fx.flap_epoch : rte_rdtsc();
	/* Odd: a reader that sees it, or sees it change, keeps what it had.
	 * The release fence keeps the stores below after it. */
	__atomic_store_n(&g->chaos_seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&g->chaos, word, __ATOMIC_RELAXED);
	for (size_t i = 0; i < DP_FX_WORDS; i++)
		__atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
	__atomic_store_n(&g->chaos_seq, seq + 2, __ATOMIC_RELEASE);
}

bool dp_group_chaos_any(const struct dp_group *g)
{
	return __atomic_load_n(&g->chaos, __ATOMIC_RELAXED) != 0 ||
	       dp_chaos_params_any(&g->chaos_params);
}

/* The range as a pair, read under range_seq: the telemetry thread asks
 * too, and may run across a set_share (the main lcore, the only writer,
 * never waits here). */
static void range_read(const struct dp_group *g, uint64_t *lo, uint64_t *hi)
{
	uint32_t seq;

	while (!dp_group_range_try(g, &seq, lo, hi))
		;
}

double dp_group_share(const struct dp_group *g)
{
	uint64_t lo, hi;

	range_read(g, &lo, &hi);
	return (double)(hi - lo) / 4294967296.0;
}

double dp_group_offset(const struct dp_group *g)
{
	uint64_t lo, hi;

	range_read(g, &lo, &hi);
	return (double)lo / 4294967296.0;
}
