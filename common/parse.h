/* Parse helpers for config values and command-line options.
 *
 * Every helper takes the text, range limits where they apply, the output, and
 * an error buffer. It returns 0, or -EINVAL (not of the form) / -ERANGE
 * (outside the limits) with a message that names the value and the reason,
 * e.g. "'70000': out of range 1..65535". The caller prefixes where the value
 * came from ("[shadow.canary] share: "). Outputs are written only on success.
 * None of them allocates. */
#ifndef ST_PARSE_H
#define ST_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct st_perr {
	char msg[192];
};

/* Decimal, or hexadecimal with 0x; surrounding blanks are allowed. */
int st_parse_int(const char *s, int64_t min, int64_t max, int64_t *out,
		 struct st_perr *err);
int st_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		  struct st_perr *err);

/* A finite decimal number; NaN and infinities are refused. */
int st_parse_double(const char *s, double min, double max, double *out,
		    struct st_perr *err);

/* A price or a budget per hour: a number in [0, max], or "none" (any case)
 * stored as -1. Errors as st_parse_double. */
int st_parse_price(const char *s, double max, double *out, struct st_perr *err);

/* A share in [0,1]: "0.25" or "25%". */
int st_parse_share(const char *s, double *out, struct st_perr *err);

/* A duration with a unit: ns, us, ms, s, m, h ("250ms", "1.5s", "2m"). A bare
 * number is taken as seconds. Result in nanoseconds, within [min, max]. */
int st_parse_duration(const char *s, uint64_t min_ns, uint64_t max_ns,
		      uint64_t *out_ns, struct st_perr *err);

/* A size in bytes with an optional binary suffix K, M, G, T (powers of 1024,
 * "KiB"/"KB" spellings too): "64K" = 65536. */
int st_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		  struct st_perr *err);

/* A rate or count with an optional decimal suffix k, M, G, T (powers of 1000)
 * and an optional unit word that is ignored ("1G", "2.5Mbps", "100kpps"). */
int st_parse_si(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		struct st_perr *err);

/* true/false, yes/no, on/off, 1/0 (any case). */
int st_parse_bool(const char *s, bool *out, struct st_perr *err);

/* One of names[0..n-1] (any case); *out is the index. The error lists them. */
int st_parse_enum(const char *s, const char *const *names, int n, int *out,
		  struct st_perr *err);

/* An IPv4 or IPv6 address with its family, as config gives it. v4 is in
 * network byte order. (Packets carry struct st_ip_addr, packet.h: no family,
 * the parsed view says which.) */
struct st_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	union {
		uint32_t v4;
		uint8_t v6[16];
	};
};

int st_parse_ip(const char *s, struct st_addr *out, struct st_perr *err);

/* ADDR/LEN; host bits must be zero ("198.18.0.0/15"). A bare address is a
 * host prefix (/32 or /128). */
struct st_ip_prefix {
	struct st_addr addr;
	uint8_t len;
};

int st_parse_prefix(const char *s, struct st_ip_prefix *out,
		    struct st_perr *err);

/* True when addr is inside prefix (same family). */
bool st_prefix_contains(const struct st_ip_prefix *p,
			const struct st_addr *addr);

/* ADDR[:PORT], with IPv6 in brackets when a port is given ("[2001:db8::1]:53").
 * A missing port gives *port = 0. */
int st_parse_endpoint(const char *s, struct st_addr *addr, uint16_t *port,
		      struct st_perr *err);

/* Formats an address ("198.18.0.1", "2001:db8::1"). Returns buf. */
char *st_ip_fmt(const struct st_addr *a, char *buf, size_t len);

/* Splits a comma-separated list in place, trimming blanks around items.
 * Returns the number of items (0 for an empty or blank string), or -E2BIG
 * when there are more than max, or -EINVAL for an empty item ("a,,b"). */
int st_split_list(char *s, char **items, int max, struct st_perr *err);

/* Trims leading and trailing blanks in place; returns s moved past leading. */
char *st_trim(char *s);

#endif
