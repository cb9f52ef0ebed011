/* The one Prometheus text writer (exposition format 0.0.4): family
 * headers, samples with labels, and the escaping, each in one function.
 *
 * A family's samples must follow its header without another family in
 * between (the format requires it): write a family, then all its samples.
 * Labels are given as a NULL-terminated list of name, value pairs. */
#ifndef ST_PROM_H
#define ST_PROM_H

#include <stdint.h>

#include "wire.h"

/* Appends "# HELP name help" and "# TYPE name type" (type: counter, gauge,
 * untyped, ...). help is escaped (backslash, newline). Returns 0 or
 * -ENOMEM (sticky in out). */
int st_prom_family(struct st_wbuf *out, const char *name, const char *type,
		   const char *help);

/* Appends `name{l1="v1",...} value\n`. labels: NULL, or name, value, ...,
 * NULL. Values: NaN, +Inf, -Inf as the format spells them; integers
 * exactly; others with 17 significant digits at most. Returns 0, -ENOMEM. */
int st_prom_sample(struct st_wbuf *out, const char *name,
		   const char *const *labels, double value);
/* The same for a counter kept as an integer: exact beyond 2^53. */
int st_prom_sample_u64(struct st_wbuf *out, const char *name,
		       const char *const *labels, uint64_t value);

/* Appends a label value escaped: backslash first, then double quote and
 * newline. Returns 0 or -ENOMEM. */
int st_prom_escape_label(struct st_wbuf *out, const char *s);

#endif
