#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

int st_prom_escape_label(struct st_wbuf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			st_wbuf_append(out, "\\\\", 2);
		else if (*s == '"')
			st_wbuf_append(out, "\\\"", 2);
		else if (*s == '\n')
			st_wbuf_append(out, "\\n", 2);
		else
			st_wbuf_append(out, s, 1);
	}
	return out->oom ? -ENOMEM : 0;
}

/* HELP text escapes backslash and newline only (quotes stay). */
static void escape_help(struct st_wbuf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			st_wbuf_append(out, "\\\\", 2);
		else if (*s == '\n')
			st_wbuf_append(out, "\\n", 2);
		else
			st_wbuf_append(out, s, 1);
	}
}

int st_prom_family(struct st_wbuf *out, const char *name, const char *type,
		   const char *help)
{
	st_wbuf_printf(out, "# HELP %s ", name);
	escape_help(out, help);
	st_wbuf_printf(out, "\n# TYPE %s %s\n", name, type);
	return out->oom ? -ENOMEM : 0;
}

static void labels_out(struct st_wbuf *out, const char *name, const char *const *labels)
{
	st_wbuf_append(out, name, strlen(name));
	if (labels == NULL || labels[0] == NULL)
		return;
	st_wbuf_append(out, "{", 1);
	for (int i = 0; labels[i] != NULL && labels[i + 1] != NULL; i += 2) {
		st_wbuf_printf(out, "%s%s=\"", i ? "," : "", labels[i]);
		st_prom_escape_label(out, labels[i + 1]);
		st_wbuf_append(out, "\"", 1);
	}
	st_wbuf_append(out, "}", 1);
}

int st_prom_sample(struct st_wbuf *out, const char *name,
		   const char *const *labels, double value)
{
	char b[40];

	labels_out(out, name, labels);
	if (isnan(value))
		snprintf(b, sizeof(b), "NaN");
	else if (isinf(value))
		snprintf(b, sizeof(b), "%sInf", value > 0 ? "+" : "-");
	else if (value == rint(value) && fabs(value) < 1e15)
		snprintf(b, sizeof(b), "%.0f", value);
	else
		/* The shortest form that reads back the same. */
		for (int prec = 6; prec <= 17; prec++) {
			snprintf(b, sizeof(b), "%.*g", prec, value);
			if (strtod(b, NULL) == value)
				break;
		}
	st_wbuf_printf(out, " %s\n", b);
	return out->oom ? -ENOMEM : 0;
}

int st_prom_sample_u64(struct st_wbuf *out, const char *name,
		       const char *const *labels, uint64_t value)
{
	labels_out(out, name, labels);
	st_wbuf_printf(out, " %" PRIu64 "\n", value);
	return out->oom ? -ENOMEM : 0;
}
