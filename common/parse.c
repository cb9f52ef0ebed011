#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "parse.h"

static int perr(struct st_perr *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct st_perr *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Copies s without surrounding blanks into buf; fails on overlong input so
 * no parser below sees a silently cut value. */
static int trimmed(const char *s, char *buf, size_t len, struct st_perr *err)
{
	size_t n;

	if (s == NULL)
		return perr(err, -EINVAL, "missing value");
	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return perr(err, -EINVAL, "empty value");
	if (n >= len)
		return perr(err, -EINVAL, "'%.32s...': value too long", s);
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

/* Decimal, or hexadecimal after 0x (with strtol's base 0 a leading 0
 * read as octal: "010" was 8 and "08" refused). */
static int int_base(const char *buf)
{
	const char *p = buf + (buf[0] == '-' || buf[0] == '+');

	return p[0] == '0' && (p[1] == 'x' || p[1] == 'X') ? 16 : 10;
}

int st_parse_int(const char *s, int64_t min, int64_t max, int64_t *out,
		 struct st_perr *err)
{
	char buf[64], *end;
	long long v;
	int rc = trimmed(s, buf, sizeof(buf), err);

	if (rc < 0)
		return rc;
	errno = 0;
	v = strtoll(buf, &end, int_base(buf));
	if (end == buf || *end != '\0')
		return perr(err, -EINVAL, "'%s': not an integer", buf);
	if (errno == ERANGE || v < min || v > max)
		return perr(err, -ERANGE, "'%s': out of range %lld..%lld", buf,
			    (long long)min, (long long)max);
	*out = v;
	return 0;
}

int st_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		  struct st_perr *err)
{
	char buf[64], *end;
	unsigned long long v;
	int rc = trimmed(s, buf, sizeof(buf), err);

	if (rc < 0)
		return rc;
	/* strtoull accepts "-1" and wraps it: refuse a sign outright. */
	if (buf[0] == '-' || buf[0] == '+')
		return perr(err, -EINVAL, "'%s': not an unsigned integer", buf);
	errno = 0;
	v = strtoull(buf, &end, int_base(buf));
	if (end == buf || *end != '\0')
		return perr(err, -EINVAL, "'%s': not an unsigned integer", buf);
	if (errno == ERANGE || v < min || v > max)
		return perr(err, -ERANGE, "'%s': out of range %llu..%llu", buf,
			    (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return 0;
}

/* Reads a finite number and returns the rest of the string in *rest. */
static int leading_double(const char *buf, double *v, const char **rest)
{
	char *end;

	errno = 0;
	*v = strtod(buf, &end);
	if (end == buf || errno == ERANGE || !isfinite(*v))
		return -EINVAL;
	/* strtod also reads "nan", "inf" and hex floats; allow plain decimals. */
	for (const char *p = buf; p < end; p++)
		if (!(isdigit((unsigned char)*p) || *p == '.' || *p == '-' ||
		      *p == '+' || *p == 'e' || *p == 'E'))
			return -EINVAL;
	*rest = end;
	return 0;
}

int st_parse_double(const char *s, double min, double max, double *out,
		    struct st_perr *err)
{
	char buf[64];
	const char *rest;
	double v;
	int rc = trimmed(s, buf, sizeof(buf), err);

	if (rc < 0)
		return rc;
	if (leading_double(buf, &v, &rest) < 0 || *rest != '\0')
		return perr(err, -EINVAL, "'%s': not a number", buf);
	if (v < min || v > max)
		return perr(err, -ERANGE, "'%s': out of range %g..%g", buf, min, max);
	*out = v;
	return 0;
}

int st_parse_price(const char *s, double max, double *out, struct st_perr *err)
{
	char buf[64];
	int rc = trimmed(s, buf, sizeof(buf), err);

	if (rc < 0)
		return rc;
	if (strcasecmp(buf, "none") == 0) {
		*out = -1.0;
		return 0;
	}
	return st_parse_double(buf, 0, max, out, err);
}

int st_parse_share(const char *s, double *out, struct st_perr *err)
{
	char buf[64];
	const char *rest;
	double v;
	int rc = trimmed(s, buf, sizeof(buf), err);

	if (rc < 0)
		return rc;
	if (leading_double(buf, &v, &rest) < 0)
		return perr(err, -EINVAL, "'%s': not a share (0..1 or 0%%..100%%)", buf);
	if (strcmp(rest, "%") == 0)
		v /= 100.0;
	else if (*rest != '\0')
		return perr(err, -EINVAL, "'%s': not a share (0..1 or 0%%..100%%)", buf);
	if (v < 0.0 || v > 1.0)
		return perr(err, -ERANGE, "'%s': a share must be within 0..1 (0%%..100%%)", buf);
	*out = v;
	return 0;
}

struct unit {
	const char *name;
	double mult;
};

/* Scales a number by the unit that follows it; empty unit uses dflt. */
static int scaled(const char *what, const char *buf, const struct unit *units,
		  double dflt, uint64_t min, uint64_t max, uint64_t *out,
		  struct st_perr *err)
{
	const char *rest;
	double v, mult = dflt;

	if (leading_double(buf, &v, &rest) < 0)
		return perr(err, -EINVAL, "'%s': not a %s", buf, what);
	while (*rest == ' ')
		rest++;
	if (*rest != '\0') {
		const struct unit *u;

		for (u = units; u->name != NULL; u++)
			if (strcmp(rest, u->name) == 0)
				break;
		if (u->name == NULL)
			return perr(err, -EINVAL, "'%s': unknown unit '%s' for a %s",
				    buf, rest, what);
		mult = u->mult;
	}
	if (v < 0)
		return perr(err, -ERANGE, "'%s': a %s cannot be negative", buf, what);
	/* rounded as a double: llround's long long ends at 2^63 */
	v = round(v * mult);
	if (!(v <= 18446744073709549568.0) || (uint64_t)v < min || (uint64_t)v > max)
		return perr(err, -ERANGE, "'%s': out of range %llu..%llu", buf,
			    (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)v;
	return 0;
}

int st_parse_duration(const char *s, uint64_t min_ns, uint64_t max_ns,
		      uint64_t *out_ns, struct st_perr *err)
{
	static const struct unit units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
		{ "sec", 1e9 }, { "m", 60e9 }, { "min", 60e9 }, { "h", 3600e9 },
		{ NULL, 0 },
	};
	char buf[64];
	int rc = trimmed(s, buf, sizeof(buf), err);

	if (rc < 0)
		return rc;
	rc = scaled("duration", buf, units, 1e9, min_ns, max_ns, out_ns, err);
	if (rc == -ERANGE && err != NULL && strstr(err->msg, "out of range"))
		perr(err, rc, "'%s': out of range %.9gs..%.9gs", buf,
		     (double)min_ns / 1e9, (double)max_ns / 1e9);
	return rc;
}

int st_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		  struct st_perr *err)
{
	static const struct unit units[] = {
		{ "B", 1 },
		{ "K", 1024.0 }, { "KB", 1024.0 }, { "KiB", 1024.0 }, { "k", 1024.0 },
		{ "M", 1048576.0 }, { "MB", 1048576.0 }, { "MiB", 1048576.0 },
		{ "G", 1073741824.0 }, { "GB", 1073741824.0 }, { "GiB", 1073741824.0 },
		{ "T", 1099511627776.0 }, { "TB", 1099511627776.0 },
		{ "TiB", 1099511627776.0 },
		{ NULL, 0 },
	};
	char buf[64];
	int rc = trimmed(s, buf, sizeof(buf), err);

	if (rc < 0)
		return rc;
	return scaled("size", buf, units, 1, min, max, out, err);
}

int st_parse_si(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		struct st_perr *err)
{
	/* Unit words after the multiplier are accepted and ignored, so
	 * "1Gbps", "1G" and "1000000000" all mean the same rate. */
	static const char *const words[] = { "", "bps", "pps", "rps", "b/s", "/s" };
	static const struct { const char *p; double m; } mults[] = {
		{ "", 1 }, { "k", 1e3 }, { "K", 1e3 }, { "M", 1e6 }, { "G", 1e9 },
		{ "T", 1e12 },
	};
	struct unit units[sizeof(mults) / sizeof(mults[0]) * 6 + 1];
	char names[sizeof(mults) / sizeof(mults[0]) * 6][8];
	char buf[64];
	size_t n = 0;
	int rc = trimmed(s, buf, sizeof(buf), err);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof(mults) / sizeof(mults[0]); i++)
		for (size_t j = 0; j < sizeof(words) / sizeof(words[0]); j++) {
			if (i == 0 && j == 0)
				continue;
			snprintf(names[n], sizeof(names[n]), "%s%s", mults[i].p, words[j]);
			units[n].name = names[n];
			units[n].mult = mults[i].m;
			n++;
		}
	units[n].name = NULL;
	return scaled("rate", buf, units, 1, min, max, out, err);
}

int st_parse_bool(const char *s, bool *out, struct st_perr *err)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	char buf[16];
	int rc = trimmed(s, buf, sizeof(buf), err);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(buf, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(buf, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return perr(err, -EINVAL, "'%s': not a boolean (true|false|yes|no|on|off|1|0)", buf);
}

int st_parse_enum(const char *s, const char *const *names, int n, int *out,
		  struct st_perr *err)
{
	char buf[64], list[128];
	size_t used = 0;
	int rc = trimmed(s, buf, sizeof(buf), err);

	if (rc < 0)
		return rc;
	for (int i = 0; i < n; i++) {
		if (strcasecmp(buf, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	list[0] = '\0';
	for (int i = 0; i < n && used < sizeof(list); i++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s%s",
				 i ? "|" : "", names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return perr(err, -EINVAL, "'%s': expected one of %s", buf, list);
}

int st_parse_ip(const char *s, struct st_addr *out, struct st_perr *err)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct st_addr a;
	int rc = trimmed(s, buf, sizeof(buf), err);

	if (rc < 0)
		return rc;
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, buf, &a.v4) == 1) {
		a.family = AF_INET;
	} else if (inet_pton(AF_INET6, buf, a.v6) == 1) {
		a.family = AF_INET6;
	} else {
		return perr(err, -EINVAL, "'%s': not an IPv4 or IPv6 address", buf);
	}
	*out = a;
	return 0;
}

int st_parse_prefix(const char *s, struct st_ip_prefix *out,
		    struct st_perr *err)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct st_ip_prefix p;
	char *slash;
	uint64_t len;
	int rc = trimmed(s, buf, sizeof(buf), err);
	const uint8_t *b;
	unsigned int bits;

	if (rc < 0)
		return rc;
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	rc = st_parse_ip(buf, &p.addr, err);
	if (rc < 0)
		return rc;
	bits = p.addr.family == AF_INET ? 32 : 128;
	len = bits;
	if (slash != NULL) {
		rc = st_parse_uint(slash + 1, 0, bits, &len, err);
		if (rc < 0) {
			*slash = '/';
			return perr(err, rc, "'%s': prefix length must be 0..%u",
				    buf, bits);
		}
	}
	p.len = (uint8_t)len;
	b = p.addr.family == AF_INET ? (const uint8_t *)&p.addr.v4 : p.addr.v6;
	for (unsigned int i = p.len; i < bits; i++) {
		if (b[i / 8] & (0x80 >> (i % 8))) {
			if (slash != NULL)
				*slash = '/';
			return perr(err, -EINVAL, "'%s': host bits set past /%u",
				    buf, p.len);
		}
	}
	*out = p;
	return 0;
}

bool st_prefix_contains(const struct st_ip_prefix *p,
			const struct st_addr *addr)
{
	const uint8_t *a, *b;
	unsigned int full, rem;

	if (p->addr.family != addr->family)
		return false;
	a = p->addr.family == AF_INET ? (const uint8_t *)&p->addr.v4 : p->addr.v6;
	b = addr->family == AF_INET ? (const uint8_t *)&addr->v4 : addr->v6;
	full = p->len / 8;
	rem = p->len % 8;
	if (memcmp(a, b, full) != 0)
		return false;
	if (rem == 0)
		return true;
	return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rem))) == 0;
}

int st_parse_endpoint(const char *s, struct st_addr *addr, uint16_t *port,
		      struct st_perr *err)
{
	char buf[INET6_ADDRSTRLEN + 16];
	char *host = buf, *p = NULL;
	struct st_addr a;
	uint64_t pv = 0;
	int rc = trimmed(s, buf, sizeof(buf), err);

	if (rc < 0)
		return rc;
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (close == NULL)
			return perr(err, -EINVAL, "'%s': missing ']'", buf);
		*close = '\0';
		host = buf + 1;
		if (close[1] == ':')
			p = close + 2;
		else if (close[1] != '\0')
			return perr(err, -EINVAL, "'%s]%s': expected ':PORT' after ']'",
				    buf, close + 1);
	} else {
		char *colon = strchr(buf, ':');

		/* One colon: v4:port. More: a bare IPv6 address, no port. */
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			*colon = '\0';
			p = colon + 1;
		}
	}
	rc = st_parse_ip(host, &a, err);
	if (rc < 0)
		return rc;
	if (p != NULL) {
		rc = st_parse_uint(p, 1, 65535, &pv, err);
		if (rc < 0)
			return perr(err, rc, "'%s': port must be 1..65535", p);
	}
	*addr = a;
	*port = (uint16_t)pv;
	return 0;
}

char *st_ip_fmt(const struct st_addr *a, char *buf, size_t len)
{
	const void *src = a->family == AF_INET ? (const void *)&a->v4 :
						 (const void *)a->v6;

	if (inet_ntop(a->family, src, buf, (socklen_t)len) == NULL && len > 0)
		snprintf(buf, len, "?");
	return buf;
}

char *st_trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int st_split_list(char *s, char **items, int max, struct st_perr *err)
{
	int n = 0;
	char *cur = s;

	if (*st_trim(s) == '\0')
		return 0;
	for (;;) {
		char *comma = strchr(cur, ',');
		char *item;

		if (comma != NULL)
			*comma = '\0';
		item = st_trim(cur);
		if (*item == '\0')
			return perr(err, -EINVAL, "empty item in list (item %d)", n + 1);
		if (n == max)
			return perr(err, -E2BIG, "too many items in list (at most %d)", max);
		items[n++] = item;
		if (comma == NULL)
			break;
		cur = comma + 1;
	}
	return n;
}
