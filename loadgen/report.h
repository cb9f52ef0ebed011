/* What a run reports: the progress line on a terminal, the closing summary
 * (text, or JSON with --json), and the accuracy figures behind both: the
 * per-interval series of packets due and packets sent (both stamped with
 * the TSC in the TX loops) and its RMSE. Plain C: the main lcore fills a
 * struct lg_summary from the counters and prints it. */
#ifndef LG_REPORT_H
#define LG_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "classify.h"

/* Why a packet due was not sent. Every one is counted, none is made up for
 * by slowing the schedule down. */
enum lg_drop {
	LG_DROP_TX_FULL,	/* the port refused it, retried until --max-lag */
	LG_DROP_NO_MBUF,	/* the copy pool was empty */
	LG_DROP_TOO_LATE,	/* due more than --max-lag ago before it could go */
	LG_DROP__COUNT
};

const char *lg_drop_str(enum lg_drop d);

/* Accuracy of the achieved rate against the schedule over whole intervals
 * (the last, partial one is left out). */
struct lg_rmse {
	uint32_t intervals;	/* intervals compared */
	double rmse_pps;	/* sqrt(mean((sent - due)^2)) / interval */
	double rel;		/* rmse_pps / mean due rate; 0 when nothing was due */
	double max_rel;		/* worst |sent - due| / due over intervals with due >= 100 */
};

/* Computes r over the first n_full intervals of the series. Never fails;
 * O(n_full). */
void lg_rmse(const uint64_t *due, const uint64_t *sent, uint32_t n_full,
	     double interval_s, struct lg_rmse *r);

struct lg_summary {
	const char *mode;		/* "capture", "pps", "mbps", "topspeed", "profile" */
	bool paced;			/* deadlines exist (not --topspeed) */
	bool poisson;
	double elapsed_s;		/* start to the last lcore's end */
	double planned_s;		/* the schedule's length, 0 when open-ended */
	uint64_t due_pkts;		/* packets whose deadline passed */
	uint64_t sent_pkts, sent_bytes;
	uint64_t drops[LG_DROP__COUNT];
	uint64_t late;			/* sent more than late_us after their deadline */
	double late_us;
	int64_t lag_p50_ns, lag_p99_ns, lag_max_ns;
	uint64_t loops;			/* whole passes over the capture (slowest lcore) */
	uint32_t multiply;
	uint32_t lcores;
	const char *port;
	/* The capture. */
	const char *pcap;
	const struct lg_capture *cap;
	const struct lg_plan *plan;
	/* Series: due and sent packets per interval. */
	double interval_s;
	uint32_t n_intervals;		/* intervals with data */
	uint32_t n_full;		/* whole intervals among them */
	const uint64_t *due;
	const uint64_t *sent;
	bool series_truncated;
	struct lg_rmse rmse;
	uint32_t copies_in_use;		/* copy-pool mbufs not back at the end, the port
					   still up (a NIC's TX ring may hold some) */
	uint64_t rx_pkts;		/* what the port received (and dropped) */
};

/* Writes the summary as one JSON object (and a newline) to out. Returns 0,
 * or -EIO when the write failed. */
int lg_summary_json(const struct lg_summary *s, FILE *out);

/* Writes the summary as text for people. Returns 0 or -EIO. */
int lg_summary_text(const struct lg_summary *s, FILE *out);

/* Formats the progress line: a bar when total_s > 0, elapsed time, target
 * and achieved rates, packets sent and dropped. No newline. Returns buf. */
char *lg_progress_fmt(char *buf, size_t len, double elapsed_s, double total_s,
		      double target_pps, double achieved_pps, uint64_t sent,
		      uint64_t dropped);

/* "12.3 kpps"-style rendering of a rate. Returns buf. */
char *lg_fmt_rate(char *buf, size_t len, double v, const char *unit);

#endif
