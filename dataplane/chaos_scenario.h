/* A chaos scenario: a file of timed changes to the groups' chaos, applied
 * by the main lcore at their offsets from the start (of the run, or of the
 * control command that loaded it), so that a run can be repeated.
 *
 * One line a change, `t_seconds,group,key,value`: t_seconds a number >= 0
 * (lines in time order), group a [shadow.NAME], key one of the chaos
 * command's (loss, down, respread, delay, jitter, ... flap; a chaos_
 * prefix is allowed) or `off` (chaos_off: every chaos of the group ends),
 * value as the config file takes it (it may hold commas:
 * loss_burst's "100%,5,200"). Blank lines and lines starting with # are
 * skipped. The whole file is checked before anything runs, by playing it
 * on the settings it starts from: a bad line is an error naming its number.
 *
 * Plain C (config.h, chaos_fx.h): the unit tests build it without EAL. */
#ifndef DP_CHAOS_SCENARIO_H
#define DP_CHAOS_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaos_fx.h"
#include "config.h"

/* A group's chaos as a person states it: chaos.h's word in parts and the
 * impairments. */
struct dp_chaos_setting {
	uint64_t loss_thr;	/* st_share_threshold(chaos_loss) */
	int down;		/* the down instance's index, -1: none */
	bool respread;
	struct dp_chaos_params p;
};

/* The setting a group's config asks for. Never fails. */
void dp_chaos_setting_from_cfg(const struct dp_shadow_cfg *sc, struct dp_chaos_setting *s);

/* Sets key (loss, down, respread, off, or a dp_chaos_param_keys key; any
 * of them with a chaos_ prefix) of s from its text; down must name one of
 * sc's instances. Returns 0, -ENOENT for an unknown key, or -EINVAL, with
 * e set (without the key's name); s is unchanged on error. Does not check
 * the keys together (dp_chaos_params_check). */
int dp_chaos_setting_set(struct dp_chaos_setting *s, const struct dp_shadow_cfg *sc,
			 const char *key, const char *v, struct st_perr *e);

#define DP_SCN_MAX_LINES 100000
#define DP_SCN_MAX_T_S 604800	/* a week */

struct dp_scn_line {
	uint64_t t_ns;		/* offset from the start */
	int group;		/* index into the config's shadows */
	int lineno;		/* in the file, from 1 */
	char key[24];
	char value[96];
};

struct dp_scenario {
	char path[256];
	struct dp_scn_line *lines;
	uint32_t n;
	uint32_t next;		/* the first line not applied yet */
	uint64_t start_ns;	/* st_mono_ns at the start */
	uint64_t applied;	/* lines applied */
	uint64_t refused;	/* lines refused at run time (a control command
				   changed the setting they were checked on) */
};

/* Reads and checks the scenario in path for the groups of cfg, starting
 * from the settings init[0 .. cfg->n_shadows) (NULL: the config's):
 * every line parsed, every group's setting checked after each instant's
 * changes. On success fills s (lines allocated, next = 0, not started) and
 * returns 0; else returns a negative errno with why set, naming the file
 * and the line ("FILE:7: unknown chaos key 'dealy' ..."), and s untouched.
 * Allocates; main lcore or before EAL. */
int dp_scenario_load(struct dp_scenario *s, const char *path, const struct dp_config *cfg,
		     const struct dp_chaos_setting *init, char *why, size_t len);

/* dp_scenario_load on the n bytes of text (a control client's: the
 * dataplane opens no file a client names), name standing for the file. */
int dp_scenario_parse(struct dp_scenario *s, const char *name, const char *text, size_t n,
		      const struct dp_config *cfg, const struct dp_chaos_setting *init, char *why,
		      size_t len);

/* Frees the lines; s is empty afterwards. Safe on an empty scenario. */
void dp_scenario_free(struct dp_scenario *s);

/* Whether lines remain to apply. */
static inline bool dp_scenario_pending(const struct dp_scenario *s)
{
	return s->next < s->n;
}

/* When the next line is due (st_mono_ns), UINT64_MAX when none. */
static inline uint64_t dp_scenario_next_ns(const struct dp_scenario *s)
{
	return s->next < s->n ? s->start_ns + s->lines[s->next].t_ns : UINT64_MAX;
}

#endif
