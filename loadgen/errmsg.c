#include <stdarg.h>
#include <stdio.h>

#include "errmsg.h"

void lg_errmsg(struct st_perr *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}
