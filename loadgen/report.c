#include <errno.h>
#include <math.h>
#include <string.h>

#include "report.h"

const char *lg_drop_str(enum lg_drop d)
{
	static const char *const names[LG_DROP__COUNT] = {
		[LG_DROP_TX_FULL] = "tx_full",
		[LG_DROP_NO_MBUF] = "no_mbuf",
		[LG_DROP_TOO_LATE] = "too_late",
	};

	return (unsigned int)d < LG_DROP__COUNT ? names[d] : "unknown";
}

void lg_rmse(const uint64_t *due, const uint64_t *sent, uint32_t n_full,
	     double interval_s, struct lg_rmse *r)
{
	double se = 0, sum_due = 0;

	memset(r, 0, sizeof(*r));
	if (n_full == 0 || interval_s <= 0)
		return;
	for (uint32_t i = 0; i < n_full; i++) {
		double d = (double)sent[i] - (double)due[i];

		se += d * d;
		sum_due += (double)due[i];
		if (due[i] >= 100 && fabs(d) / (double)due[i] > r->max_rel)
			r->max_rel = fabs(d) / (double)due[i];
	}
	r->intervals = n_full;
	r->rmse_pps = sqrt(se / n_full) / interval_s;
	if (sum_due > 0)
		r->rel = r->rmse_pps / (sum_due / n_full / interval_s);
}

/* JSON number: finite doubles as %.6g, the rest as null. */
static void jnum(FILE *f, const char *key, double v, bool comma)
{
	if (isfinite(v))
		fprintf(f, "\"%s\":%.9g%s", key, v, comma ? "," : "");
	else
		fprintf(f, "\"%s\":null%s", key, comma ? "," : "");
}

static void jstr(FILE *f, const char *key, const char *s)
{
	fprintf(f, "\"%s\":\"", key);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputs("\",", f);
}

static void ju64(FILE *f, const char *key, uint64_t v)
{
	fprintf(f, "\"%s\":%llu,", key, (unsigned long long)v);
}

static void json_capture(const struct lg_summary *s, FILE *f)
{
	const struct lg_capture *c = s->cap;
	const struct lg_plan *p = s->plan;

	fputs("\"capture\":{", f);
	jstr(f, "file", s->pcap);
	ju64(f, "records", c->n_records);
	ju64(f, "frames", c->n);
	ju64(f, "cut_by_snaplen", c->n_cut);
	ju64(f, "cut_skipped", c->n_cut_skipped);
	ju64(f, "oversize", c->n_oversize);
	ju64(f, "bad_link_header", c->n_bad_l2);
	ju64(f, "timestamps_backwards", c->n_ts_backwards);
	ju64(f, "packets_sent_per_loop", p->n);
	ju64(f, "flows", p->n_flows);
	ju64(f, "flows_direction_guessed", p->n_flows_guessed);
	ju64(f, "servers_learned", p->n_servers_learned);
	fputs("\"skipped\":{", f);
	for (int i = 0; i < LG_SKIP__COUNT; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", lg_skip_str((enum lg_skip)i),
			(unsigned long long)p->skipped[i]);
	fputs("}},", f);
}

int lg_summary_json(const struct lg_summary *s, FILE *f)
{
	double el = s->elapsed_s > 0 ? s->elapsed_s : 1e-9;

	fputc('{', f);
	jstr(f, "mode", s->mode);
	fprintf(f, "\"poisson\":%s,", s->poisson ? "true" : "false");
	jstr(f, "port", s->port);
	ju64(f, "lcores", s->lcores);
	ju64(f, "multiply", s->multiply);
	ju64(f, "loops", s->loops);
	jnum(f, "elapsed_s", s->elapsed_s, true);
	jnum(f, "planned_s", s->planned_s, true);
	ju64(f, "target_pkts", s->due_pkts);
	ju64(f, "sent_pkts", s->sent_pkts);
	ju64(f, "sent_bytes", s->sent_bytes);
	jnum(f, "achieved_pps", (double)s->sent_pkts / el, true);
	jnum(f, "achieved_mbps", (double)s->sent_bytes * 8 / el / 1e6, true);
	jnum(f, "target_pps", s->paced ? (double)s->due_pkts / el : NAN, true);
	fputs("\"drops\":{", f);
	for (int i = 0; i < LG_DROP__COUNT; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", lg_drop_str((enum lg_drop)i),
			(unsigned long long)s->drops[i]);
	fputs("},", f);
	if (s->paced) {
		ju64(f, "late", s->late);
		jnum(f, "late_threshold_us", s->late_us, true);
		fprintf(f, "\"lag_ns\":{\"p50\":%lld,\"p99\":%lld,\"max\":%lld},",
			(long long)s->lag_p50_ns, (long long)s->lag_p99_ns,
			(long long)s->lag_max_ns);
		fprintf(f, "\"rmse\":{\"intervals\":%u,", s->rmse.intervals);
		jnum(f, "pps", s->rmse.rmse_pps, true);
		jnum(f, "relative", s->rmse.rel, true);
		jnum(f, "max_relative", s->rmse.max_rel, false);
		fputs("},", f);
	}
	ju64(f, "copies_in_use", s->copies_in_use);
	ju64(f, "rx_pkts", s->rx_pkts);
	json_capture(s, f);
	fputs("\"series\":{", f);
	jnum(f, "interval_s", s->interval_s, true);
	ju64(f, "full_intervals", s->n_full);
	fprintf(f, "\"truncated\":%s,", s->series_truncated ? "true" : "false");
	fputs("\"target\":[", f);
	for (uint32_t i = 0; i < s->n_intervals; i++)
		fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)s->due[i]);
	fputs("],\"sent\":[", f);
	for (uint32_t i = 0; i < s->n_intervals; i++)
		fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)s->sent[i]);
	fputs("]}}\n", f);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

char *lg_fmt_rate(char *buf, size_t len, double v, const char *unit)
{
	static const char *const pre[] = { "", "k", "M", "G", "T" };
	int i = 0;

	while (fabs(v) >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	snprintf(buf, len, "%.*f %s%s", i ? 2 : 0, v, pre[i], unit);
	return buf;
}

int lg_summary_text(const struct lg_summary *s, FILE *f)
{
	double el = s->elapsed_s > 0 ? s->elapsed_s : 1e-9;
	uint64_t dropped = 0;
	char a[32], b[32];

	for (int i = 0; i < LG_DROP__COUNT; i++)
		dropped += s->drops[i];
	fprintf(f, "capture %s: %u frames, %u sent per loop in %u flows",
		s->pcap, s->cap->n, s->plan->n, s->plan->n_flows);
	for (int i = 0; i < LG_SKIP__COUNT; i++)
		if (s->plan->skipped[i])
			fprintf(f, ", %s %llu", lg_skip_str((enum lg_skip)i),
				(unsigned long long)s->plan->skipped[i]);
	if (s->cap->n_cut)
		fprintf(f, ", cut by snaplen %u (%u skipped)", s->cap->n_cut, s->cap->n_cut_skipped);
	fputc('\n', f);
	fprintf(f, "mode %s%s on %s, %u TX lcores, multiply %u, %llu loops, %.3f s\n",
		s->mode, s->poisson ? " (poisson)" : "", s->port, s->lcores, s->multiply,
		(unsigned long long)s->loops, s->elapsed_s);
	if (s->paced)
		fprintf(f, "target %llu pkts (%s), ", (unsigned long long)s->due_pkts,
			lg_fmt_rate(a, sizeof(a), (double)s->due_pkts / el, "pps"));
	fprintf(f, "sent %llu pkts (%s, %s), dropped %llu",
		(unsigned long long)s->sent_pkts,
		lg_fmt_rate(a, sizeof(a), (double)s->sent_pkts / el, "pps"),
		lg_fmt_rate(b, sizeof(b), (double)s->sent_bytes * 8 / el, "bps"),
		(unsigned long long)dropped);
	for (int i = 0; i < LG_DROP__COUNT; i++)
		if (s->drops[i])
			fprintf(f, " %s %llu", lg_drop_str((enum lg_drop)i),
				(unsigned long long)s->drops[i]);
	fputc('\n', f);
	if (s->paced) {
		fprintf(f, "send lag p50 %.1f us, p99 %.1f us, max %.1f us; late (> %.0f us) %llu\n",
			(double)s->lag_p50_ns / 1e3, (double)s->lag_p99_ns / 1e3,
			(double)s->lag_max_ns / 1e3, s->late_us, (unsigned long long)s->late);
		fprintf(f, "rate error per %.0f ms interval over %u intervals: RMSE %s (%.2f%%), "
			"worst %.2f%%\n", s->interval_s * 1e3, s->rmse.intervals,
			lg_fmt_rate(a, sizeof(a), s->rmse.rmse_pps, "pps"), 100 * s->rmse.rel,
			100 * s->rmse.max_rel);
	}
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

char *lg_progress_fmt(char *buf, size_t len, double elapsed_s, double total_s,
		      double target_pps, double achieved_pps, uint64_t sent,
		      uint64_t dropped)
{
	char bar[32], t[32], a[32];
	size_t used = 0;

	if (total_s > 0) {
		int w = 20, fill = (int)(w * fmin(1.0, elapsed_s / total_s));

		for (int i = 0; i < w; i++)
			bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
		bar[w] = '\0';
		used = (size_t)snprintf(buf, len, "[%s] %6.1f/%.1f s", bar, elapsed_s, total_s);
	} else {
		used = (size_t)snprintf(buf, len, "%6.1f s", elapsed_s);
	}
	if (used < len)
		snprintf(buf + used, len - used, "  target %s  achieved %s  sent %llu  dropped %llu",
			 target_pps >= 0 ? lg_fmt_rate(t, sizeof(t), target_pps, "pps") : "max",
			 lg_fmt_rate(a, sizeof(a), achieved_pps, "pps"),
			 (unsigned long long)sent, (unsigned long long)dropped);
	return buf;
}
