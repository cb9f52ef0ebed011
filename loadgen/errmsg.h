/* Error messages into a struct st_perr. */
#ifndef LG_ERRMSG_H
#define LG_ERRMSG_H

#include "parse.h"

/* Formats into e->msg, cut to fit (messages name a file or a value and may
 * be long; the cut is expected, so it is not worth a warning at each call).
 * Never fails. */
void lg_errmsg(struct st_perr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
