/* The sweep as a table (each cell as it completes, then the answers), and
 * as JSON and CSV with every cell. JSON goes through the project's one
 * writer: the document is packed as msgpack and rendered by
 * st_wire_to_json, so NaN becomes null as everywhere else. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "predict.h"
#include "whatif.h"

static double ms(double ns)
{
	return ns / 1e6;
}

void wi_print_row(FILE *out, const struct wi_sweep *s, const struct wi_cell *c)
{
	if (c == NULL) {
		fprintf(out, "%5s %-8s %9s %9s %9s %9s %9s %9s %9s %9s %8s  %s\n", "inst", "load",
			"offered/s", "sent/s", "req/s", "resp/s/in", "p50 ms", "p90 ms", "p99 ms",
			"p99.9 ms", "errors", "verdict");
		return;
	}
	fprintf(out, "%5u %-8s %9.1f %9.1f %9.1f %9.1f %9.2f %9.2f %9.2f %9.2f %7.3f%%  %s%s%s\n",
		c->instances, s->cfg->loads[c->load].text, c->offered_rps, c->sent_pps,
		c->achieved_rps, c->rps_per_instance, ms(c->p50.v), ms(c->p90.v), ms(c->p99.v),
		ms(c->p999.v), isfinite(c->error_rate) ? 100 * c->error_rate : NAN,
		wi_status_str(c->status), c->note[0] ? ": " : "", c->note);
}

int wi_fewest(struct wi_sweep *s, int li)
{
	for (int ci = 0; ci < s->cfg->n_counts; ci++)
		if (wi_cell_at(s, ci, li)->status == WI_PASS)
			return ci;
	return -1;
}

int wi_within_budget(const struct wi_config *c, uint32_t n)
{
	if (c->budget_per_hour < 0 || c->cost_per_hour < 0)
		return -1;
	return n <= an_budget_affords(c->budget_per_hour, c->cost_per_hour, UINT32_MAX);
}

int wi_budget_reach(struct wi_sweep *s)
{
	for (int li = s->cfg->n_loads - 1; li >= 0; li--) {
		int ci = wi_fewest(s, li);

		if (ci >= 0 && wi_within_budget(s->cfg, s->cfg->counts[ci]) == 1)
			return li;
	}
	return -1;
}

/* Per instance count: the highest per-instance rate that met the SLO and
 * the lowest that did not, above it (the knee lies between). NaN: none. */
static void knee(struct wi_sweep *s, int ci, double *pass, double *fail)
{
	*pass = *fail = NAN;
	for (int li = 0; li < s->cfg->n_loads; li++) {
		const struct wi_cell *c = wi_cell_at(s, ci, li);
		double r = c->offered_rps / c->instances;

		if (c->status == WI_PASS && !(r <= *pass))
			*pass = r;
	}
	for (int li = 0; li < s->cfg->n_loads; li++) {
		const struct wi_cell *c = wi_cell_at(s, ci, li);
		double r = c->offered_rps / c->instances;

		if ((c->status == WI_FAIL || c->status == WI_STOP) && !(r <= *pass) &&
		    !(r >= *fail))
			*fail = r;
	}
}

void wi_print_answers(FILE *out, struct wi_sweep *s)
{
	const struct wi_config *cfg = s->cfg;

	fprintf(out, "\nfewest instances meeting p99 <= %.3g ms and errors <= %g:\n",
		(double)cfg->slo_p99_ns / 1e6, cfg->slo_error_rate);
	for (int li = 0; li < cfg->n_loads; li++) {
		int ci = wi_fewest(s, li);

		if (ci < 0) {
			fprintf(out, "  load %-8s %9.1f/s: none of %u..%u\n", cfg->loads[li].text,
				cfg->loads[li].pps, cfg->counts[0], cfg->counts[cfg->n_counts - 1]);
			continue;
		}
		const struct wi_cell *c = wi_cell_at(s, ci, li);

		fprintf(out, "  load %-8s %9.1f/s: %u instance%s (p99 %.2f ms)", cfg->loads[li].text,
			cfg->loads[li].pps, c->instances, c->instances == 1 ? "" : "s", ms(c->p99.v));
		if (cfg->cost_per_hour >= 0)
			fprintf(out, ", %.2f per hour", cfg->cost_per_hour * c->instances);
		if (wi_within_budget(cfg, c->instances) >= 0)
			fprintf(out, ", %s the budget", wi_within_budget(cfg, c->instances) ?
				"within" : "OVER");
		fputc('\n', out);
	}
	if (cfg->budget_per_hour >= 0) {
		int li = wi_budget_reach(s);
		uint32_t n = an_budget_affords(cfg->budget_per_hour, cfg->cost_per_hour, UINT32_MAX);

		fprintf(out, "budget %.2f per hour (%u instance%s at %.2f): ", cfg->budget_per_hour,
			n, n == 1 ? "" : "s", cfg->cost_per_hour);
		if (li >= 0)
			fprintf(out, "serves up to load %s (%.1f/s) at the SLO\n", cfg->loads[li].text,
				cfg->loads[li].pps);
		else
			fprintf(out, "serves none of the loads at the SLO\n");
	}
	fprintf(out, "per-instance rate at the SLO (the knee lies between):\n");
	for (int ci = 0; ci < cfg->n_counts; ci++) {
		double p, f;
		char met[32], broken[32];

		knee(s, ci, &p, &f);
		snprintf(met, sizeof(met), isfinite(p) ? "%.1f/s" : "no load (none passed)", p);
		snprintf(broken, sizeof(broken), isfinite(f) ? "%.1f/s" : "no load (none broke it)", f);
		fprintf(out, "  %u instance%s: met at %s, broken at %s\n", cfg->counts[ci],
			cfg->counts[ci] == 1 ? "" : "s", met, broken);
	}
	if (s->interrupted || s->error[0])
		fprintf(out, "(%s)\n", s->error);
}

void wi_msg(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

int wi_write_file(const char *path, const void *buf, size_t len, struct st_perr *err)
{
	char tmp[PATH_MAX + 16];
	const char *p = buf;
	int fd, e = 0;

	/* a name of its own beside path (mkstemp: O_EXCL, so a link or a
	 * FIFO someone left under a fixed name is never written through),
	 * renamed over path when whole */
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		e = errno;
		goto err;
	}
	if (fchmod(fd, 0644) != 0)
		e = errno;
	while (e == 0 && len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			e = errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0 && e == 0)
		e = errno;
	if (e == 0 && rename(tmp, path) != 0)
		e = errno;
	if (e != 0) {
		unlink(tmp);
		goto err;
	}
	return 0;
err:
	wi_msg(err->msg, sizeof(err->msg), "%s: %s", path, strerror(e));
	return -e;
}

static void kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	st_wire_pack_cstr(pk, k);
	st_wire_pack_cstr(pk, v);
}

static void kv_dbl(msgpack_packer *pk, const char *k, double v)
{
	st_wire_pack_cstr(pk, k);
	msgpack_pack_double(pk, v);
}

static void kv_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
	st_wire_pack_cstr(pk, k);
	msgpack_pack_uint64(pk, v);
}

static void kv_bool(msgpack_packer *pk, const char *k, bool v)
{
	st_wire_pack_cstr(pk, k);
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

/* true, false, or null for v < 0 */
static void kv_tri(msgpack_packer *pk, const char *k, int v)
{
	st_wire_pack_cstr(pk, k);
	if (v < 0)
		msgpack_pack_nil(pk);
	else if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static void pack_q(msgpack_packer *pk, const char *name, const struct wi_q *q)
{
	char k[32];

	snprintf(k, sizeof(k), "%s_ms", name);
	kv_dbl(pk, k, ms(q->v));
	snprintf(k, sizeof(k), "%s_lo_ms", name);
	kv_dbl(pk, k, ms(q->lo));
	snprintf(k, sizeof(k), "%s_hi_ms", name);
	kv_dbl(pk, k, ms(q->hi));
}

static void pack_cell(msgpack_packer *pk, const struct wi_sweep *s, const struct wi_cell *c)
{
	msgpack_pack_map(pk, 39);
	kv_u64(pk, "instances", c->instances);
	kv_str(pk, "load", s->cfg->loads[c->load].text);
	kv_dbl(pk, "offered_rps", c->offered_rps);
	kv_str(pk, "status", wi_status_str(c->status));
	kv_bool(pk, "slo_met", c->status == WI_PASS);
	kv_dbl(pk, "sent_pps", c->sent_pps);
	kv_dbl(pk, "achieved_rps", c->achieved_rps);
	kv_dbl(pk, "rps_per_instance", c->rps_per_instance);
	kv_dbl(pk, "reached", c->reached);
	kv_u64(pk, "requests", c->requests);
	kv_u64(pk, "responses", c->responses);
	kv_u64(pk, "timeouts", c->timeouts);
	kv_u64(pk, "resets", c->resets);
	kv_u64(pk, "icmp_errors", c->icmp_errors);
	kv_dbl(pk, "error_rate", c->error_rate);
	pack_q(pk, "p50", &c->p50);
	pack_q(pk, "p90", &c->p90);
	pack_q(pk, "p99", &c->p99);
	pack_q(pk, "p999", &c->p999);
	kv_dbl(pk, "p99_over_slo", c->p99.v / (double)s->cfg->slo_p99_ns);
	kv_dbl(pk, "mean_ms", ms(c->mean_ns));
	kv_u64(pk, "windows", c->windows);
	kv_u64(pk, "stalls", c->stalls);
	kv_dbl(pk, "seconds", c->seconds);
	kv_str(pk, "note", c->note);
	/* the model's prediction for the same cell (null: no model) */
	kv_dbl(pk, "predicted_p50_ms", ms(c->pred_p50));
	kv_dbl(pk, "predicted_p99_ms", ms(c->pred_p99));
	kv_bool(pk, "predicted_saturated", isinf(c->pred_p99));
	st_wire_pack_cstr(pk, "predicted_status");
	if (c->pred_pass < 0)
		msgpack_pack_nil(pk);
	else
		st_wire_pack_cstr(pk, c->pred_pass ? "pass" : "fail");
	kv_dbl(pk, "model_ratio", c->model_ratio);
	kv_tri(pk, "model_agrees", c->model_agrees);
}

int wi_write_json(struct wi_sweep *s, const char *path, struct st_perr *err)
{
	const struct wi_config *cfg = s->cfg;
	struct st_wbuf mp, out;
	msgpack_packer pk;
	msgpack_zone zone;
	msgpack_object obj;
	struct st_wire_error we;
	struct st_wire_limits lim = st_wire_limits_default;
	int rc = -ENOMEM;

	st_wbuf_init(&mp);
	st_wbuf_init(&out);
	msgpack_packer_init(&pk, &mp, st_wbuf_mp_write);
	msgpack_pack_map(&pk, 24);
	kv_u64(&pk, "v", 1);
	kv_str(&pk, "service", cfg->service);
	kv_str(&pk, "group", cfg->group);
	kv_str(&pk, "pcap", cfg->pcap);
	kv_dbl(&pk, "capture_pps", s->capture_pps);
	kv_dbl(&pk, "slo_p99_ms", (double)cfg->slo_p99_ns / 1e6);
	kv_dbl(&pk, "slo_error_rate", cfg->slo_error_rate);
	kv_dbl(&pk, "step_s", (double)cfg->step_ns / 1e9);
	kv_dbl(&pk, "warmup_s", (double)cfg->warmup_ns / 1e9);
	kv_bool(&pk, "poisson", cfg->poisson);
	kv_dbl(&pk, "instance_cost_per_hour", cfg->cost_per_hour >= 0 ? cfg->cost_per_hour : NAN);
	kv_dbl(&pk, "budget_per_hour", cfg->budget_per_hour >= 0 ? cfg->budget_per_hour : NAN);
	kv_u64(&pk, "t_start", s->t_start_wall);
	kv_u64(&pk, "t_end", s->t_end_wall);
	st_wire_pack_cstr(&pk, "loads");
	msgpack_pack_array(&pk, (size_t)cfg->n_loads);
	for (int li = 0; li < cfg->n_loads; li++) {
		msgpack_pack_map(&pk, 2);
		kv_str(&pk, "load", cfg->loads[li].text);
		kv_dbl(&pk, "offered_rps", cfg->loads[li].pps);
	}
	st_wire_pack_cstr(&pk, "instances");
	msgpack_pack_array(&pk, (size_t)cfg->n_counts);
	for (int ci = 0; ci < cfg->n_counts; ci++)
		msgpack_pack_uint32(&pk, cfg->counts[ci]);
	st_wire_pack_cstr(&pk, "cells");
	msgpack_pack_array(&pk, (size_t)s->n_cells);
	for (int i = 0; i < s->n_cells; i++)
		pack_cell(&pk, s, &s->cells[i]);
	st_wire_pack_cstr(&pk, "answers");
	msgpack_pack_array(&pk, (size_t)cfg->n_loads);
	for (int li = 0; li < cfg->n_loads; li++) {
		int ci = wi_fewest(s, li);

		msgpack_pack_map(&pk, 6);
		kv_str(&pk, "load", cfg->loads[li].text);
		kv_dbl(&pk, "offered_rps", cfg->loads[li].pps);
		st_wire_pack_cstr(&pk, "fewest_instances");
		if (ci < 0)
			msgpack_pack_nil(&pk);
		else
			msgpack_pack_uint32(&pk, cfg->counts[ci]);
		kv_dbl(&pk, "p99_ms", ci < 0 ? NAN : ms(wi_cell_at(s, ci, li)->p99.v));
		kv_dbl(&pk, "cost_per_hour", ci < 0 || cfg->cost_per_hour < 0 ? NAN :
		       cfg->cost_per_hour * cfg->counts[ci]);
		kv_tri(&pk, "within_budget", ci < 0 ? -1 : wi_within_budget(cfg, cfg->counts[ci]));
	}
	st_wire_pack_cstr(&pk, "budget");
	if (cfg->budget_per_hour < 0) {
		msgpack_pack_nil(&pk);
	} else {
		int li = wi_budget_reach(s);

		msgpack_pack_map(&pk, 5);
		kv_dbl(&pk, "per_hour", cfg->budget_per_hour);
		kv_u64(&pk, "affordable_instances",
		       an_budget_affords(cfg->budget_per_hour, cfg->cost_per_hour, UINT32_MAX));
		st_wire_pack_cstr(&pk, "highest_load");
		if (li < 0)
			msgpack_pack_nil(&pk);
		else
			st_wire_pack_cstr(&pk, cfg->loads[li].text);
		kv_dbl(&pk, "highest_load_rps", li < 0 ? NAN : cfg->loads[li].pps);
		st_wire_pack_cstr(&pk, "instances");
		if (li < 0)
			msgpack_pack_nil(&pk);
		else
			msgpack_pack_uint32(&pk, cfg->counts[wi_fewest(s, li)]);
	}
	st_wire_pack_cstr(&pk, "knee");
	msgpack_pack_array(&pk, (size_t)cfg->n_counts);
	for (int ci = 0; ci < cfg->n_counts; ci++) {
		double p, f;

		knee(s, ci, &p, &f);
		msgpack_pack_map(&pk, 3);
		kv_u64(&pk, "instances", cfg->counts[ci]);
		kv_dbl(&pk, "met_rps_per_instance", p);
		kv_dbl(&pk, "broken_rps_per_instance", f);
	}
	st_wire_pack_cstr(&pk, "model");
	msgpack_pack_map(&pk, 9);
	kv_bool(&pk, "ok", s->model.ok);
	kv_str(&pk, "form", s->model.form ? s->model.form : "");
	kv_dbl(&pk, "mu_per_instance", s->model.ok ? s->model.mu : NAN);
	kv_dbl(&pk, "d0_ms", s->model.ok ? s->model.d0 * 1e3 : NAN);
	kv_dbl(&pk, "service_scv", s->model.ok ? s->model.cs2 : NAN);
	st_wire_pack_cstr(&pk, "fitted_on");
	if (s->model.fit_cell < 0) {
		msgpack_pack_nil(&pk);
	} else {
		const struct wi_cell *f = &s->cells[s->model.fit_cell];

		msgpack_pack_map(&pk, 2);
		kv_u64(&pk, "instances", f->instances);
		kv_str(&pk, "load", cfg->loads[f->load].text);
	}
	kv_u64(&pk, "disagree", (uint64_t)s->model.disagree);
	kv_dbl(&pk, "tolerance", WI_MODEL_TOLERANCE);
	kv_str(&pk, "why", s->model.why);
	kv_bool(&pk, "interrupted", s->interrupted);
	kv_bool(&pk, "restored", s->restored);
	kv_str(&pk, "error", s->error);
	if (mp.oom || !msgpack_zone_init(&zone, 65536))
		goto out;
	/* our own bytes, read back only to render them as JSON: the limits
	 * are the message's own (a full grid is 2,048 cells of ~80 items) */
	lim.max_size = mp.len;
	lim.max_str = 1u << 16;
	lim.max_count = UINT32_MAX;
	lim.max_items = UINT32_MAX;
	rc = st_wire_parse(mp.data, mp.len, &lim, &zone, &obj, &we);
	if (rc == 0)
		rc = st_wire_to_json(&obj, &out);
	if (rc == 0)
		rc = st_wbuf_append(&out, "\n", 1);
	msgpack_zone_destroy(&zone);
	if (rc == 0 && !out.oom)
		rc = wi_write_file(path, out.data, out.len, err);
	else if (rc != 0)
		wi_msg(err->msg, sizeof(err->msg), "%s: cannot render the JSON", path);
out:
	if (rc == -ENOMEM)
		wi_msg(err->msg, sizeof(err->msg), "%s: out of memory", path);
	st_wbuf_free(&mp);
	st_wbuf_free(&out);
	return rc;
}

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void csv_text(struct st_wbuf *o, const char *s)
{
	if (strpbrk(s, ",\"\n\r") == NULL) {
		st_wbuf_printf(o, "%s", s);
		return;
	}
	st_wbuf_append(o, "\"", 1);
	for (; *s; s++) {
		if (*s == '"')
			st_wbuf_append(o, "\"", 1);
		st_wbuf_append(o, s, 1);
	}
	st_wbuf_append(o, "\"", 1);
}

static void csv_num(struct st_wbuf *o, double v)
{
	if (isfinite(v))
		st_wbuf_printf(o, ",%.6g", v);
	else
		st_wbuf_printf(o, ",");
}

int wi_write_csv(struct wi_sweep *s, const char *path, struct st_perr *err)
{
	struct st_wbuf o;
	int rc;

	st_wbuf_init(&o);
	st_wbuf_printf(&o, "instances,load,offered_rps,status,sent_pps,achieved_rps,"
		       "rps_per_instance,requests,responses,timeouts,resets,icmp_errors,error_rate,"
		       "p50_ms,p90_ms,p99_ms,p99_lo_ms,p99_hi_ms,p999_ms,mean_ms,seconds,note,"
		       "predicted_p99_ms,predicted_status,model_ratio,model_agrees,answer,"
		       "cost_per_hour,within_budget\n");
	for (int i = 0; i < s->n_cells; i++) {
		const struct wi_cell *c = &s->cells[i];
		int within;

		st_wbuf_printf(&o, "%u,", c->instances);
		csv_text(&o, s->cfg->loads[c->load].text);
		csv_num(&o, c->offered_rps);
		st_wbuf_printf(&o, ",%s", wi_status_str(c->status));
		csv_num(&o, c->sent_pps);
		csv_num(&o, c->achieved_rps);
		csv_num(&o, c->rps_per_instance);
		st_wbuf_printf(&o, ",%llu,%llu,%llu,%llu,%llu", (unsigned long long)c->requests,
			       (unsigned long long)c->responses, (unsigned long long)c->timeouts,
			       (unsigned long long)c->resets, (unsigned long long)c->icmp_errors);
		csv_num(&o, c->error_rate);
		csv_num(&o, ms(c->p50.v));
		csv_num(&o, ms(c->p90.v));
		csv_num(&o, ms(c->p99.v));
		csv_num(&o, ms(c->p99.lo));
		csv_num(&o, ms(c->p99.hi));
		csv_num(&o, ms(c->p999.v));
		csv_num(&o, ms(c->mean_ns));
		csv_num(&o, c->seconds);
		st_wbuf_append(&o, ",", 1);
		csv_text(&o, c->note);
		if (isinf(c->pred_p99))
			st_wbuf_printf(&o, ",inf");
		else
			csv_num(&o, ms(c->pred_p99));
		st_wbuf_printf(&o, ",%s", c->pred_pass < 0 ? "" : c->pred_pass ? "pass" : "fail");
		csv_num(&o, c->model_ratio);
		st_wbuf_printf(&o, ",%s", c->model_agrees < 0 ? "" : c->model_agrees ? "yes" : "no");
		/* the cell's count at its price; answer: the fewest passing
		 * at its load */
		within = wi_within_budget(s->cfg, c->instances);
		st_wbuf_printf(&o, ",%s", wi_fewest(s, c->load) >= 0 &&
			       s->cfg->counts[wi_fewest(s, c->load)] == c->instances ? "yes" : "no");
		csv_num(&o, s->cfg->cost_per_hour >= 0 ? s->cfg->cost_per_hour * c->instances : NAN);
		st_wbuf_printf(&o, ",%s\n", within < 0 ? "" : within ? "yes" : "no");
	}
	if (o.oom) {
		wi_msg(err->msg, sizeof(err->msg), "%s: out of memory", path);
		rc = -ENOMEM;
	} else {
		rc = wi_write_file(path, o.data, o.len, err);
	}
	st_wbuf_free(&o);
	return rc;
}
