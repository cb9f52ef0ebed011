/* What a reload may change: the keys of a config read again compared with
 * the one running, each either applied at run time or refused (it needs a
 * restart). Plain C over config.h: no EAL, so the unit suite checks that
 * every key of the reference has a rule here. */
#ifndef DP_RELOAD_DIFF_H
#define DP_RELOAD_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define DP_RELOAD_MAX_CHANGED 96
#define DP_RELOAD_MAX_ERRORS 16
#define DP_RELOAD_KEY_LEN 64
#define DP_RELOAD_ERR_LEN 200

/* What a reload did or why it did nothing. */
struct dp_reload_result {
	bool ok;
	/* "shadow.canary.share", "dataplane.log_level": the keys whose
	 * value changed (in the file or a --set), in the reference's order */
	char changed[DP_RELOAD_MAX_CHANGED][DP_RELOAD_KEY_LEN];
	int n_changed;
	int n_changed_total;	/* more than fit are counted */
	/* "[dataplane] workers: cannot change at run time (restart)", or the
	 * file's own error; every one found */
	char errors[DP_RELOAD_MAX_ERRORS][DP_RELOAD_ERR_LEN];
	int n_errors;
	int n_errors_total;	/* more than fit are counted */
	/* per group of the running config (same index): which of its
	 * run-time settings changed */
	struct {
		bool share;	/* share or share_offset */
		bool sampling;
		bool filter;
		bool enabled;
		bool chaos;	/* any chaos_* key */
		uint64_t keys;	/* which keys: dp_reload_key_changed */
	} g[DP_MAX_SHADOWS];
	bool log_level, stats;
};

/* Whether group gi's key (a [shadow.*] key: "share", "chaos_delay")
 * changed: a reload puts only those in force, and what the control socket
 * set for the others stays. */
bool dp_reload_key_changed(const struct dp_reload_result *r, int gi, const char *key);

/* Adds an error to r (formatted; counted even when r is full). */
void dp_reload_error(struct dp_reload_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Compares a validated config read again (nw) with the running one (old)
 * key by key: each changed key goes to r->changed and, when it can change
 * at run time, to r->g / r->log_level / r->stats; each that cannot adds an
 * error naming it. Groups are matched by name: one added or removed is an
 * error too. Returns the number of errors (0: nw may be applied). O(keys). */
int dp_reload_diff(const struct dp_config *old, const struct dp_config *nw,
		   struct dp_reload_result *r);

/* Whether the key (a [dataplane] one, or a [shadow.NAME] one when shadow)
 * has a rule here; the unit suite checks every key of config.c has. */
bool dp_reload_key_known(bool shadow, const char *key);

/* Whether the key may change at run time. */
bool dp_reload_key_runtime(bool shadow, const char *key);

#endif
