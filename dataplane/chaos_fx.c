/* The impairments' settings: parsing, checking, the worker's form, and the
 * two draws the poll loop makes (chaos_fx.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "chaos_fx.h"
#include "normal.h"

const char *const dp_chaos_dist_names[DP_DIST_COUNT] = {
	[DP_DIST_UNIFORM] = "uniform",
	[DP_DIST_NORMAL] = "normal",
	[DP_DIST_PARETONORMAL] = "paretonormal",
};

const char *const dp_chaos_direction_names[DP_CHAOS_DIR_COUNT] = {
	[DP_CHAOS_DIR_COPIES] = "copies",
	[DP_CHAOS_DIR_RESPONSES] = "responses",
	[DP_CHAOS_DIR_BOTH] = "both",
};

const char *const dp_chaos_effect_names[DP_FX_COUNT] = {
	[DP_FX_DELAYED] = "delayed",
	[DP_FX_DUPLICATED] = "duplicated",
	[DP_FX_CORRUPTED] = "corrupted",
	[DP_FX_REORDERED] = "reordered",
	[DP_FX_SHAPED] = "shaped",
	[DP_FX_RESP_LOST] = "response_lost",
	[DP_FX_RESP_LOST_BURST] = "response_lost_burst",
	[DP_FX_RESP_DELAYED] = "response_delayed",
	[DP_FX_RESP_QUEUE_FULL] = "response_queue_full",
};

const char *const dp_chaos_param_keys[] = {
	"delay", "jitter", "delay_dist", "delay_corr", "loss_burst", "duplicate", "corrupt",
	"reorder", "reorder_gap", "rate", "flap", "direction",
};
const size_t dp_chaos_n_param_keys = sizeof(dp_chaos_param_keys) / sizeof(dp_chaos_param_keys[0]);

/* P_LOSS_BAD,MEAN_BURST,MEAN_GAP: "100%,5,200"; "", "0", "none", "off": no
 * bursty loss. */
static int parse_loss_burst(const char *v, struct dp_chaos_params *p, struct st_perr *e)
{
	char buf[96], *f[3], *save = NULL, *t;
	double loss, burst, gap;
	int n = 0;

	if (*v == '\0' || strcmp(v, "0") == 0 || strcmp(v, "none") == 0 || strcmp(v, "off") == 0) {
		p->ge_loss_bad = p->ge_burst = p->ge_gap = 0;
		return 0;
	}
	if (strlen(v) >= sizeof(buf)) {
		snprintf(e->msg, sizeof(e->msg), "too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", v);
	for (t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ' || *t == '\t')
			t++;
		for (char *z = t + strlen(t); z > t && (z[-1] == ' ' || z[-1] == '\t');)
			*--z = '\0';
		if (n == 3) {
			n++;
			break;
		}
		f[n++] = t;
	}
	if (n != 3) {
		snprintf(e->msg, sizeof(e->msg),
			 "'%.60s': expected LOSS_IN_BAD,MEAN_BURST,MEAN_GAP (e.g. 100%%,5,200)", v);
		return -EINVAL;
	}
	if (st_parse_share(f[0], &loss, e) != 0)
		return -EINVAL;
	if (st_parse_double(f[1], 1, 1e9, &burst, e) != 0 ||
	    st_parse_double(f[2], 1, 1e9, &gap, e) != 0) {
		snprintf(e->msg, sizeof(e->msg),
			 "'%.60s': the mean burst and the mean gap are counts of packets, 1..1e9", v);
		return -EINVAL;
	}
	p->ge_loss_bad = loss;
	p->ge_burst = burst;
	p->ge_gap = gap;
	return 0;
}

int dp_chaos_parse_rate(const char *v, uint64_t *bps, struct st_perr *e)
{
	static const struct {
		const char *unit;
		double mult;	/* bits per second */
	} units[] = {
		{ "", 1 }, { "bit", 1 }, { "kbit", 1e3 }, { "mbit", 1e6 }, { "gbit", 1e9 },
		{ "tbit", 1e12 }, { "kibit", 1024.0 }, { "mibit", 1048576.0 },
		{ "gibit", 1073741824.0 }, { "tibit", 1099511627776.0 }, { "bps", 8 },
		{ "kbps", 8e3 }, { "mbps", 8e6 }, { "gbps", 8e9 }, { "tbps", 8e12 },
		{ "kibps", 8 * 1024.0 }, { "mibps", 8 * 1048576.0 }, { "gibps", 8 * 1073741824.0 },
		{ "tibps", 8 * 1099511627776.0 },
	};
	char *end;
	double x, r;

	if (strcmp(v, "0") == 0 || strcasecmp(v, "none") == 0 || strcasecmp(v, "off") == 0) {
		*bps = 0;
		return 0;
	}
	errno = 0;
	x = strtod(v, &end);
	if (end == v || errno != 0 || !isfinite(x) || x <= 0) {
		snprintf(e->msg, sizeof(e->msg),
			 "'%.60s': expected a rate such as 10mbit, 500kbit, 1gbit or 2mbps "
			 "(bytes/s), or 0 for none", v);
		return -EINVAL;
	}
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].unit) != 0)
			continue;
		r = x * units[i].mult;
		if (r < (double)DP_CHAOS_RATE_MIN || r > (double)DP_CHAOS_RATE_MAX) {
			snprintf(e->msg, sizeof(e->msg),
				 "'%.60s': out of range 1kbit..1tbit", v);
			return -EINVAL;
		}
		*bps = (uint64_t)(r + 0.5);
		return 0;
	}
	snprintf(e->msg, sizeof(e->msg),
		 "'%.60s': unknown unit '%.12s' (bit, kbit, mbit, gbit, tbit, kibit.., bps, kbps, "
		 "mbps, gbps, tbps, kibps..)", v, end);
	return -EINVAL;
}

/* DOWN/PERIOD: "2s/30s"; "", "0", "none", "off": no flap. */
static int parse_flap(const char *v, struct dp_chaos_params *p, struct st_perr *e)
{
	char buf[64], *slash;
	uint64_t down, period;

	if (*v == '\0' || strcmp(v, "0") == 0 || strcmp(v, "none") == 0 || strcmp(v, "off") == 0) {
		p->flap_down_ns = p->flap_period_ns = 0;
		return 0;
	}
	if (strlen(v) >= sizeof(buf) || (slash = strchr(strcpy(buf, v), '/')) == NULL) {
		snprintf(e->msg, sizeof(e->msg),
			 "'%.60s': expected DOWN/PERIOD such as 2s/30s (down 2 s every 30 s)", v);
		return -EINVAL;
	}
	*slash = '\0';
	if (st_parse_duration(buf, DP_CHAOS_FLAP_MIN_NS, DP_CHAOS_FLAP_MAX_NS, &down, e) != 0 ||
	    st_parse_duration(slash + 1, DP_CHAOS_FLAP_MIN_NS, DP_CHAOS_FLAP_MAX_NS, &period,
			      e) != 0) {
		snprintf(e->msg, sizeof(e->msg),
			 "'%.60s': DOWN and PERIOD are durations of 1ms..1d (e.g. 2s/30s)", v);
		return -EINVAL;
	}
	if (down >= period) {
		snprintf(e->msg, sizeof(e->msg),
			 "'%.60s': the down time must be shorter than the period", v);
		return -EINVAL;
	}
	p->flap_down_ns = down;
	p->flap_period_ns = period;
	return 0;
}

int dp_chaos_param_set(struct dp_chaos_params *p, const char *key, const char *v,
		       struct st_perr *e)
{
	double d;
	uint64_t ns;
	int idx;

	if (strcmp(key, "delay") == 0 || strcmp(key, "jitter") == 0) {
		if (st_parse_duration(v, 0, DP_CHAOS_DELAY_MAX_NS, &ns, e) != 0)
			return -EINVAL;
		*(key[0] == 'd' ? &p->delay_ns : &p->jitter_ns) = ns;
		return 0;
	}
	if (strcmp(key, "delay_dist") == 0) {
		if (st_parse_enum(v, dp_chaos_dist_names, DP_DIST_COUNT, &idx, e) != 0)
			return -EINVAL;
		p->dist = (enum dp_chaos_dist)idx;
		return 0;
	}
	if (strcmp(key, "direction") == 0) {
		if (st_parse_enum(v, dp_chaos_direction_names, DP_CHAOS_DIR_COUNT, &idx, e) != 0)
			return -EINVAL;
		p->direction = (enum dp_chaos_direction)idx;
		return 0;
	}
	if (strcmp(key, "loss_burst") == 0)
		return parse_loss_burst(v, p, e);
	if (strcmp(key, "flap") == 0)
		return parse_flap(v, p, e);
	if (strcmp(key, "rate") == 0) {
		uint64_t bps;

		if (dp_chaos_parse_rate(v, &bps, e) != 0)
			return -EINVAL;
		p->rate_bps = bps;
		return 0;
	}
	if (strcmp(key, "reorder_gap") == 0) {
		if (st_parse_double(v, 1, DP_CHAOS_REORDER_GAP_MAX, &d, e) != 0 || d != (uint32_t)d) {
			snprintf(e->msg, sizeof(e->msg),
				 "'%.60s': a count of later copies, 1..%d", v, DP_CHAOS_REORDER_GAP_MAX);
			return -EINVAL;
		}
		p->reorder_gap = (uint32_t)d;
		return 0;
	}
	if (strcmp(key, "delay_corr") == 0 || strcmp(key, "duplicate") == 0 ||
	    strcmp(key, "corrupt") == 0 || strcmp(key, "reorder") == 0) {
		if (st_parse_share(v, &d, e) != 0)
			return -EINVAL;
		*(key[0] == 'd' && key[1] == 'e' ? &p->delay_corr :
		  key[0] == 'd' ? &p->duplicate : key[0] == 'r' ? &p->reorder : &p->corrupt) = d;
		return 0;
	}
	snprintf(e->msg, sizeof(e->msg), "unknown chaos key '%.40s'", key);
	return -ENOENT;
}

int dp_chaos_params_check(const struct dp_chaos_params *p, char *why, size_t len)
{
	if (p->jitter_ns > 0 && p->delay_ns == 0) {
		snprintf(why, len, "chaos_jitter: needs chaos_delay (jitter is around a delay)");
		return -EINVAL;
	}
	if (p->delay_corr > 0 && p->jitter_ns == 0) {
		snprintf(why, len, "chaos_delay_corr: needs chaos_jitter");
		return -EINVAL;
	}
	return 0;
}

bool dp_chaos_params_any(const struct dp_chaos_params *p)
{
	return p->delay_ns > 0 || p->ge_burst > 0 || p->duplicate > 0 || p->corrupt > 0 ||
	       p->reorder > 0 || p->rate_bps > 0 || p->flap_period_ns > 0;
}

static void fmt_rate(uint64_t bps, char *buf, size_t len)
{
	if (bps == 0)
		snprintf(buf, len, "none");
	else if (bps % 1000000000 == 0)
		snprintf(buf, len, "%llugbit", (unsigned long long)(bps / 1000000000));
	else if (bps % 1000000 == 0)
		snprintf(buf, len, "%llumbit", (unsigned long long)(bps / 1000000));
	else if (bps % 1000 == 0)
		snprintf(buf, len, "%llukbit", (unsigned long long)(bps / 1000));
	else
		snprintf(buf, len, "%llubit", (unsigned long long)bps);
}

static void fmt_ns(uint64_t ns, char *buf, size_t len)
{
	if (ns % 1000000 == 0)
		snprintf(buf, len, "%llums", (unsigned long long)(ns / 1000000));
	else if (ns % 1000 == 0)
		snprintf(buf, len, "%lluus", (unsigned long long)(ns / 1000));
	else
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
}

/* The fields of dp_chaos_params one key sets. */
struct param_fields {
	size_t off[3];
	size_t size;
	int n;
};

static bool param_fields(const char *key, struct param_fields *f)
{
#define F1(k, m) { k, { { offsetof(struct dp_chaos_params, m) }, \
		     sizeof(((struct dp_chaos_params *)0)->m), 1 } }
	static const struct {
		const char *key;
		struct param_fields f;
	} t[] = {
		F1("delay", delay_ns), F1("jitter", jitter_ns), F1("delay_dist", dist),
		F1("delay_corr", delay_corr), F1("duplicate", duplicate),
		F1("corrupt", corrupt), F1("reorder", reorder), F1("reorder_gap", reorder_gap),
		F1("rate", rate_bps), F1("direction", direction),
		{ "loss_burst", { { offsetof(struct dp_chaos_params, ge_loss_bad),
				    offsetof(struct dp_chaos_params, ge_burst),
				    offsetof(struct dp_chaos_params, ge_gap) }, sizeof(double), 3 } },
		{ "flap", { { offsetof(struct dp_chaos_params, flap_down_ns),
			      offsetof(struct dp_chaos_params, flap_period_ns) },
			    sizeof(uint64_t), 2 } },
	};
#undef F1

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(t[i].key, key) == 0) {
			*f = t[i].f;
			return true;
		}
	}
	return false;
}

bool dp_chaos_param_eq(const struct dp_chaos_params *a, const struct dp_chaos_params *b,
		       const char *key)
{
	struct param_fields f;

	if (!param_fields(key, &f))
		return true;
	for (int i = 0; i < f.n; i++)
		if (memcmp((const char *)a + f.off[i], (const char *)b + f.off[i], f.size) != 0)
			return false;
	return true;
}

void dp_chaos_param_copy(struct dp_chaos_params *dst, const struct dp_chaos_params *src,
			 const char *key)
{
	struct param_fields f;

	if (!param_fields(key, &f))
		return;
	for (int i = 0; i < f.n; i++)
		memcpy((char *)dst + f.off[i], (const char *)src + f.off[i], f.size);
}

void dp_chaos_param_fmt(const struct dp_chaos_params *p, const char *key, char *buf, size_t len)
{
	if (strcmp(key, "delay") == 0)
		fmt_ns(p->delay_ns, buf, len);
	else if (strcmp(key, "jitter") == 0)
		fmt_ns(p->jitter_ns, buf, len);
	else if (strcmp(key, "delay_dist") == 0)
		snprintf(buf, len, "%s", dp_chaos_dist_names[p->dist]);
	else if (strcmp(key, "direction") == 0)
		snprintf(buf, len, "%s", dp_chaos_direction_names[p->direction]);
	else if (strcmp(key, "delay_corr") == 0)
		snprintf(buf, len, "%g", p->delay_corr);
	else if (strcmp(key, "loss_burst") == 0 && p->ge_burst > 0)
		snprintf(buf, len, "%g,%g,%g", p->ge_loss_bad, p->ge_burst, p->ge_gap);
	else if (strcmp(key, "loss_burst") == 0)
		snprintf(buf, len, "none");
	else if (strcmp(key, "duplicate") == 0)
		snprintf(buf, len, "%g", p->duplicate);
	else if (strcmp(key, "corrupt") == 0)
		snprintf(buf, len, "%g", p->corrupt);
	else if (strcmp(key, "reorder") == 0)
		snprintf(buf, len, "%g", p->reorder);
	else if (strcmp(key, "reorder_gap") == 0)
		snprintf(buf, len, "%u", p->reorder_gap ? p->reorder_gap : 1);
	else if (strcmp(key, "rate") == 0)
		fmt_rate(p->rate_bps, buf, len);
	else if (strcmp(key, "flap") == 0 && p->flap_period_ns > 0) {
		char d[32], t[32];

		fmt_ns(p->flap_down_ns, d, sizeof(d));
		fmt_ns(p->flap_period_ns, t, sizeof(t));
		snprintf(buf, len, "%s/%s", d, t);
	} else if (strcmp(key, "flap") == 0)
		snprintf(buf, len, "none");
	else
		snprintf(buf, len, "?");
}

/* A probability as a threshold on a 32-bit random: 0 .. 2^32. */
static uint64_t thr(double p)
{
	if (p <= 0)
		return 0;
	if (p >= 1)
		return 1ULL << 32;
	return (uint64_t)(p * 4294967296.0 + 0.5);
}

static uint64_t cyc(uint64_t ns, uint64_t tsc_hz)
{
	return (uint64_t)((double)ns * (double)tsc_hz / 1e9 + 0.5);
}

void dp_chaos_compile(const struct dp_chaos_params *p, uint64_t tsc_hz, struct dp_chaos_fx *fx)
{
	memset(fx, 0, sizeof(*fx));
	/* the longest a delayed or shaped copy is held */
	fx->draw_max_cyc = (uint64_t)((double)DP_CHAOS_DRAW_MAX_NS * (double)tsc_hz / 1e9);
	if (p->delay_ns > 0) {
		fx->on |= DP_FX_DELAY;
		fx->delay_cyc = (uint64_t)((double)p->delay_ns * (double)tsc_hz / 1e9 + 0.5);
		fx->jitter_cyc = (uint64_t)((double)p->jitter_ns * (double)tsc_hz / 1e9 + 0.5);
		fx->dist = (uint64_t)p->dist;
		fx->corr_q32 = thr(p->delay_corr);
	}
	if (p->ge_burst > 0) {
		fx->on |= DP_FX_GE;
		fx->ge_p_thr = thr(1.0 / p->ge_gap);
		fx->ge_r_thr = thr(1.0 / p->ge_burst);
		fx->ge_bad_thr = thr(p->ge_loss_bad);
	}
	if (p->duplicate > 0) {
		fx->on |= DP_FX_DUP;
		fx->dup_thr = thr(p->duplicate);
	}
	if (p->corrupt > 0) {
		fx->on |= DP_FX_CORRUPT;
		fx->corrupt_thr = thr(p->corrupt);
	}
	if (p->reorder > 0) {
		fx->on |= DP_FX_REORDER;
		fx->reorder_thr = thr(p->reorder);
		fx->reorder_gap = p->reorder_gap ? p->reorder_gap : 1;
		fx->reorder_hold_cyc = cyc(DP_CHAOS_REORDER_HOLD_NS, tsc_hz);
	}
	if (p->rate_bps > 0) {
		fx->on |= DP_FX_RATE;
		/* 8 bits a byte, 2^16 fixed point */
		fx->rate_cpb_q16 = (uint64_t)((double)tsc_hz * 8.0 * 65536.0 / (double)p->rate_bps + 0.5);
		fx->shape_max_cyc = cyc(DP_CHAOS_SHAPE_BACKLOG_NS, tsc_hz);
	}
	if (p->flap_period_ns > 0) {
		fx->on |= DP_FX_FLAP;
		fx->flap_down_cyc = cyc(p->flap_down_ns, tsc_hz);
		fx->flap_period_cyc = cyc(p->flap_period_ns, tsc_hz);
		if (fx->flap_period_cyc == 0)
			fx->flap_period_cyc = 1;
	}
	/* Loss and delay: on the copies, the responses or both. */
	fx->copy_loss = p->direction != DP_CHAOS_DIR_RESPONSES;
	if (p->direction != DP_CHAOS_DIR_COPIES)
		fx->back = DP_FX_LOSS | (fx->on & (DP_FX_GE | DP_FX_DELAY));
	if (p->direction == DP_CHAOS_DIR_RESPONSES)
		fx->on &= ~(DP_FX_GE | DP_FX_DELAY);
}

double dp_chaos_dist_quantile(enum dp_chaos_dist d, double u)
{
	switch (d) {
	case DP_DIST_NORMAL:
		return st_norm_ppf_fast(u);
	case DP_DIST_PARETONORMAL:
		/* Pareto of shape 3 and scale 1 (mean 1.5, sd sqrt(3/4)),
		 * centred and scaled to sd 1, mixed 3:1 with the normal as
		 * netem's table is. */
		return 0.25 * st_norm_ppf_fast(u) + 0.75 * (cbrt(1.0 / (1.0 - u)) - 1.5) / 0.8660254037844386;
	case DP_DIST_UNIFORM:
	default:
		return 2 * u - 1;
	}
}

uint64_t dp_chaos_delay(const struct dp_chaos_fx *fx, struct dp_chaos_state *s, uint64_t now,
			uint32_t rnd)
{
	double d = (double)fx->delay_cyc;
	uint64_t due;

	if (fx->jitter_cyc > 0) {
		double u;

		if (fx->corr_q32 > 0) {
			/* netem's get_crandom: (1 - rho) * new + rho * last */
			uint64_t rho = fx->corr_q32;

			rnd = (uint32_t)(((uint64_t)rnd * ((1ULL << 32) - rho) +
					  (uint64_t)s->last_rnd * rho) >> 32);
			s->last_rnd = rnd;
		}
		/* Strictly inside (0,1): the normal's quantile is infinite at
		 * the ends. */
		u = ((double)rnd + 0.5) / 4294967296.0;
		d += (double)fx->jitter_cyc * dp_chaos_dist_quantile((enum dp_chaos_dist)fx->dist, u);
		if (d < 0)
			d = 0;
		if (d > (double)fx->draw_max_cyc)
			d = (double)fx->draw_max_cyc;
	}
	due = now + (uint64_t)d;
	if (due < s->last_due)
		due = s->last_due;
	s->last_due = due;
	return due;
}
