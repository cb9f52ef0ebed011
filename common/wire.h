/* The wire contract (DESIGN.md): KPI snapshots and verdicts as msgpack maps,
 * published over ZeroMQ as two frames, a topic and the map.
 *
 * Encoding writes into a caller-owned growable buffer (struct st_wbuf) that
 * is reused each interval, so a publisher allocates only while the buffer
 * grows to its working size. Keys go out in a fixed order (the order of the
 * contract), integers in their smallest msgpack form and every double as a
 * float64, so the same struct always gives the same bytes.
 *
 * Decoding never trusts a size from the wire: st_wire_scan walks the bytes
 * once, without allocating, and checks every length and count against the
 * bytes that remain and against the limits before anything else looks at
 * them. The typed decoders (st_kpi_decode, st_verdict_decode) then read the
 * validated bytes straight into a fixed-size struct in caller memory: no
 * allocation at all. The generic path (st_wire_parse) hands the validated
 * bytes to msgpack-c, whose allocations are then bounded by the limits.
 *
 * Decoders accept any integer encoding where an integer is expected, and an
 * integer or float32/float64 where a double is expected. They ignore unknown
 * keys (a newer publisher may add fields; they are counted in unknown_keys)
 * and reject everything else that is off: a missing or duplicate field, a
 * wrong type, a string longer than its struct field (an error, never a silent
 * truncation), a value out of range, v != 1.
 *
 * Nothing here logs: a refusal comes back as a struct st_wire_error for the
 * caller to log once, through a rate limit (st_log_rl), since a hostile or
 * broken peer can send a flood. Everything is reentrant: no globals but the
 * const default limits.
 *
 * Names that become part of a topic (service, target, shadow) are
 * [A-Za-z0-9_-]{1,63}: a '.' would make "kpi.a.b.c" ambiguous and ZeroMQ
 * matches topics by prefix. Both the encoder and the decoder refuse others.
 * Other strings must be valid UTF-8 without NUL bytes. */
#ifndef ST_WIRE_H
#define ST_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "spacesaving.h"

#define ST_WIRE_VERSION 1
/* The largest message anyone here encodes or decodes by default. */
#define ST_WIRE_MAX_SIZE (1u << 20)

#define ST_WIRE_NAME_MAX     64  /* service, target, shadow, src (with NUL) */
#define ST_WIRE_LABEL_MAX    32  /* drop reason, kpi name, model kind, param name */
#define ST_WIRE_UNIT_MAX     16
#define ST_WIRE_REASON_MAX   512
#define ST_KPI_MAX_DROPS     32
#define ST_VERDICT_MAX_KPIS  32
#define ST_MODEL_MAX_PARAMS  32
#define ST_CHAOS_MAX_PARAMS  16  /* chaos map entries besides loss, down, respread */
#define ST_CHAOS_VALUE_MAX   48
/* "verdict." or "kpi." + two names + '.' + NUL fits with room to spare. */
#define ST_WIRE_TOPIC_MAX    160

#define ST_KPI_TOPIC_PREFIX     "kpi."
#define ST_VERDICT_TOPIC_PREFIX "verdict."

/* ------------------------------------------------------------------ */
/* Growable output buffer                                             */

/* A byte buffer that grows by doubling and keeps its memory across resets.
 * A failed growth is sticky: later appends are no-ops and `oom` stays set
 * until st_wbuf_reset, so writers check once at the end. */
struct st_wbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool oom;
};

/* Empty buffer, no allocation. Never fails. */
void st_wbuf_init(struct st_wbuf *b);
/* len = 0 and clears `oom`; keeps the memory. Never fails. */
void st_wbuf_reset(struct st_wbuf *b);
/* Releases the memory; the buffer is empty and reusable after. */
void st_wbuf_free(struct st_wbuf *b);
/* Makes room for n more bytes. Returns 0, or -ENOMEM (and sets oom).
 * Allocates only when the buffer has to grow. */
int st_wbuf_reserve(struct st_wbuf *b, size_t n);
/* Appends n bytes. Returns 0, or -ENOMEM. */
int st_wbuf_append(struct st_wbuf *b, const void *p, size_t n);
/* Appends formatted text (no NUL is counted in len). Returns 0, -ENOMEM. */
int st_wbuf_printf(struct st_wbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends the NUL-terminated s escaped for HTML text and attribute values
 * (& < > "). The one escaper of the HTML pages (the analyzer's report,
 * shadowtap-whatif's). Returns 0, or -ENOMEM (sticky, as every append). */
int st_wbuf_html(struct st_wbuf *b, const char *s);
/* The heatmaps' colour for r = value over its objective (p99 / slo_p99):
 * green at half of it and below, amber at 1, red at red_at (> 1) and
 * past it, log-scaled between; NaN is red. Writes "#rrggbb" into buf
 * (len >= 8). The one scale of the HTML pages' heatmaps (shadowtap-whatif's,
 * the analyzer report's predicted one). Never fails. */
void st_heat_colour(double r, double red_at, char *buf, size_t len);
/* A msgpack_packer_write callback; data is a struct st_wbuf *. So control
 * replies can be packed into a reused buffer:
 * msgpack_packer_init(&pk, &wbuf, st_wbuf_mp_write). Returns 0 or -ENOMEM. */
int st_wbuf_mp_write(void *data, const char *buf, size_t len);

/* Packs the NUL-terminated string s as a msgpack str. */
void st_wire_pack_cstr(msgpack_packer *pk, const char *s);
/* Packs v as a msgpack float 64, or nil when v is NaN or infinite (no
 * such value). */
void st_wire_pack_num(msgpack_packer *pk, double v);

/* ------------------------------------------------------------------ */
/* Errors                                                             */

enum st_wire_err {
	ST_WIRE_OK = 0,
	ST_WIRE_E_TOO_LARGE,  /* message longer than limits.max_size */
	ST_WIRE_E_TRUNCATED,  /* ends inside an object, or a size exceeds what is left */
	ST_WIRE_E_MALFORMED,  /* reserved byte 0xc1, ext types, non-str key */
	ST_WIRE_E_TRAILING,   /* bytes after the one top-level object */
	ST_WIRE_E_DEPTH,      /* nesting deeper than limits.max_depth */
	ST_WIRE_E_COUNT,      /* array/map larger than a limit or than its struct */
	ST_WIRE_E_STR_LEN,    /* str longer than a limit or than its struct field */
	ST_WIRE_E_BIN_LEN,    /* bin longer than a limit */
	ST_WIRE_E_NOT_MAP,    /* top level (or a nested record) is not a map */
	ST_WIRE_E_TYPE,       /* a field has the wrong msgpack type */
	ST_WIRE_E_MISSING,    /* a required field is absent */
	ST_WIRE_E_VERSION,    /* v is not ST_WIRE_VERSION */
	ST_WIRE_E_VALUE,      /* right type, bad value (range, enum, name, UTF-8) */
	ST_WIRE_E_DUPLICATE,  /* a key appears twice in one map */
	ST_WIRE_E_NOMEM,      /* generic parse: the zone could not allocate */
	ST_WIRE_ERR__COUNT
};

/* Why a message was refused. `field` is the path of the offending field
 * ("seq", "kpis[3].status", "drops.ring_full"), empty when the fault is in
 * the framing; it may be cut short to fit. */
struct st_wire_error {
	enum st_wire_err code;
	char field[32];
	char detail[128];
};

/* Short name of a code ("truncated"); "unknown" for out-of-range codes. */
const char *st_wire_strerror(enum st_wire_err code);

/* Formats an error for a log line: "field 'seq': expected unsigned integer,
 * got str" or "truncated: ...". Returns buf; never fails (truncates). */
const char *st_wire_error_fmt(const struct st_wire_error *e, char *buf,
			      size_t len);

/* ------------------------------------------------------------------ */
/* Enums and names                                                    */

enum st_role { ST_ROLE_PROD, ST_ROLE_SHADOW, ST_ROLE_LOADGEN, ST_ROLE__COUNT };
enum st_verdict_kind {
	ST_VERDICT_CONFIRM, ST_VERDICT_ADJUST, ST_VERDICT_INCONCLUSIVE,
	ST_VERDICT__COUNT
};
enum st_kpi_status {
	ST_KPI_PASS, ST_KPI_HIGH, ST_KPI_LOW, ST_KPI_NODATA, ST_KPI_STATUS__COUNT
};

/* Wire spelling of a value ("prod"), or NULL when out of range. */
const char *st_role_str(enum st_role r);
const char *st_verdict_kind_str(enum st_verdict_kind v);
const char *st_kpi_status_str(enum st_kpi_status s);

/* Exact, case-sensitive match of s[0..len) against the wire spellings.
 * Returns 0, or -EINVAL. */
int st_role_from_str(const char *s, size_t len, enum st_role *out);
int st_verdict_kind_from_str(const char *s, size_t len,
			     enum st_verdict_kind *out);
int st_kpi_status_from_str(const char *s, size_t len,
			   enum st_kpi_status *out);

/* True when s[0..len) is a valid topic component: [A-Za-z0-9_-], 1 to
 * ST_WIRE_NAME_MAX - 1 bytes. For config checks, so a bad service name is
 * refused at startup rather than at the first publish. */
bool st_wire_name_ok(const char *s, size_t len);

/* ------------------------------------------------------------------ */
/* KPI snapshot: topic kpi.<service>.<target>, one per target per interval */

struct st_kpi_drop {
	char reason[ST_WIRE_LABEL_MAX];  /* non-empty, unique within the message */
	uint64_t count;
};

/* The chaos in force on a shadow group (the dataplane's control `stats`
 * reply and every KPI snapshot taken under chaos carry it as `chaos`).
 * loss, down and respread are typed; every other key is an impairment
 * setting as text, as the control `chaos` command takes it ("5ms",
 * "normal", "25%"), so keys a newer dataplane adds pass through. */
struct st_chaos_param {
	char key[ST_WIRE_LABEL_MAX];     /* non-empty, unique, not loss/down/respread */
	char value[ST_CHAOS_VALUE_MAX];  /* text */
};

struct st_chaos {
	double loss;                     /* [0, 1]: share of copies lost at random */
	char down[ST_WIRE_NAME_MAX];     /* text: the down instance, "" all up */
	bool respread;                   /* the down instance's flows move */
	uint32_t n_params;
	struct st_chaos_param params[ST_CHAOS_MAX_PARAMS];
};

/* Packs c as the `chaos` map: the params in order, then loss, down,
 * respread. For the KPI encoder and the dataplane's stats reply, so both
 * say the same thing the same way. c must pass st_chaos_check. */
void st_chaos_pack(msgpack_packer *pk, const struct st_chaos *c);
/* Checks what the decoder checks. Returns 0, or -EINVAL with err filled
 * (err may be NULL); path prefixes the field names ("chaos."). */
int st_chaos_check(const struct st_chaos *c, const char *path, struct st_wire_error *err);
/* Whether c's params hold key; its value, or NULL. */
const char *st_chaos_param(const struct st_chaos *c, const char *key);

struct st_kpi {
	uint64_t seq;
	char src[ST_WIRE_NAME_MAX];      /* publisher id; non-empty text */
	char service[ST_WIRE_NAME_MAX];  /* name */
	char target[ST_WIRE_NAME_MAX];   /* name: prod, a shadow group, synthetic */
	enum st_role role;
	uint32_t instances;
	uint64_t t0, t1;                 /* window, ns since the epoch; t0 <= t1 */
	uint64_t pkts, bytes;            /* towards the target */
	uint64_t rx_pkts, rx_bytes;      /* from it */
	uint64_t requests, responses, timeouts, resets, icmp_errors;
	double offered_rps;              /* loadgen's asked-for rate; finite, >= 0 */
	uint32_t n_drops;
	struct st_kpi_drop drops[ST_KPI_MAX_DROPS];
	/* HdrHistogram V2 compressed encoding, opaque here. Encode: borrowed,
	 * may be NULL when lat_len is 0. Decode: points INTO the input buffer
	 * (no copy), so it is valid only as long as that buffer is: copy it or
	 * decode the histogram before releasing the ZeroMQ message. */
	const uint8_t *lat;
	size_t lat_len;
	/* The chaos in force on the group during the window: sent only when
	 * has_chaos (some chaos was on). Decoding is tolerant: unknown
	 * non-text keys are skipped and counted in unknown_keys, text ones
	 * kept as params (up to ST_CHAOS_MAX_PARAMS, the rest counted
	 * there); a known key of the wrong type refuses the message. */
	bool has_chaos;
	struct st_chaos chaos;
	/* Decode only: keys this decoder does not know, at any depth. */
	uint32_t unknown_keys;
};

/* Checks what the encoder checks: names, texts, enum, t0 <= t1, drop reasons
 * (non-empty, unique), n_drops, offered_rps. Returns 0, or -EINVAL with err
 * filled when err is not NULL. No allocation. */
int st_kpi_check(const struct st_kpi *k, struct st_wire_error *err);

/* Replaces out's content with the msgpack map of k. Returns 0; -EINVAL when
 * st_kpi_check refuses k; -EMSGSIZE when the result would exceed
 * ST_WIRE_MAX_SIZE (a huge lat); -ENOMEM. On error out->len is 0. Allocates
 * only when out has to grow; about 1 us for a typical snapshot. */
int st_kpi_encode(const struct st_kpi *k, struct st_wbuf *out);

/* Decodes one KPI message of len bytes into out (entirely overwritten;
 * unspecified after an error). Returns 0, or -EBADMSG with err filled (err
 * may be NULL). Never allocates; out->lat points into buf (see above).
 * Limits: st_wire_limits_default. About 1 us for a 500-byte snapshot. */
int st_kpi_decode(const void *buf, size_t len, struct st_kpi *out,
		  struct st_wire_error *err);

/* Writes "kpi.<service>.<target>" NUL-terminated. Returns its length, or
 * -EINVAL (a name is not valid) / -ENOSPC (len too small). */
int st_kpi_topic(const struct st_kpi *k, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Clients: topic clients.<service>, one per interval (spacesaving.h)  */

struct st_ss;
struct st_ss_heap;

struct st_clients_hdr {
	uint64_t seq;
	char src[ST_WIRE_NAME_MAX];      /* publisher id; non-empty text */
	char service[ST_WIRE_NAME_MAX];  /* name */
	char target[ST_WIRE_NAME_MAX];   /* name: whose requests (prod) */
	char key[ST_WIRE_LABEL_MAX];     /* what a client is: "src/24", "vlan" */
	uint32_t top;                    /* clients listed at most */
	uint64_t t0, t1;                 /* window, ns since the epoch */
};

/* Replaces out's content with the clients message of summary s: its
 * entries in order[0..n) listed (order from st_ss_sorted), every other
 * entry and s->other folded into `other`, so the listed counts plus other's
 * are s's totals. Returns 0; -EINVAL for a bad name or text in h;
 * -EMSGSIZE over ST_WIRE_MAX_SIZE (list fewer); -ENOMEM. On error out->len
 * is 0. O(entries). */
int st_clients_encode(const struct st_clients_hdr *h, const struct st_ss *s,
		      const struct st_ss_heap *order, uint32_t n_order, uint32_t n,
		      struct st_wbuf *out);

/* Writes "clients.<service>" NUL-terminated. Returns its length, or
 * -EINVAL / -ENOSPC. */
int st_clients_topic(const char *service, char *buf, size_t len);

/* Decoding a clients message (common/wire_clients_dec.c). The message may
 * list up to ST_CLIENTS_MAX clients (client_top's range); the caller gives
 * room for `cap` of them, and any listed beyond that (the smallest: the
 * list is largest first) are folded into `other` the way the encoder folds
 * the clients it does not list: their counts added, `floor` raised to their
 * requests + err, so the totals and the bounds still hold. */
#define ST_CLIENTS_MAX      100000
#define ST_CLIENT_KEY_MAX   64	/* "2001:db8:1:2:3:4:5:6/128" and more, with NUL */
#define ST_CLIENTS_TOPIC_PREFIX "clients."

/* One client as the message lists it (and `other`, without k and err). */
struct st_client_rec {
	char k[ST_CLIENT_KEY_MAX];	/* non-empty text */
	uint64_t err;
	uint64_t requests, bytes_req, bytes_resp, responses, timeouts, resets;
	uint64_t p50, p99;		/* ns */
	struct st_lhist lat;		/* counts add up to responses */
};

struct st_clients_msg {
	struct st_clients_hdr h;
	uint64_t floor;
	uint32_t n;			/* clients the message listed */
	uint32_t n_recs;		/* of them in recs (n, at most cap) */
	uint32_t folded;		/* listed beyond cap: in other */
	struct st_client_rec other;
	/* decode: the caller's room; encode: the clients listed */
	struct st_client_rec *recs;
	uint32_t cap;
	uint32_t unknown_keys;		/* decode only */
};

/* Decodes one clients message into out; out->recs and out->cap must be
 * set (cap may be 0: every client folds into other), everything else is
 * overwritten. Checks every field: v, names, texts, t0 <= t1, n equal to
 * the clients listed, each lat a sparse [bucket, count...] list with
 * buckets ascending below ST_LHIST_BUCKETS, 32-bit counts adding up to
 * responses. Unknown keys are skipped and counted. Returns 0, or -EBADMSG
 * with err filled (err may be NULL). Never allocates; O(message). A
 * duplicate client key is not refused here (the analyzer sums them). */
int st_clients_decode(const void *buf, size_t len, struct st_clients_msg *out,
		      struct st_wire_error *err);

/* Encodes m with recs[0..n_recs) listed (n is taken as n_recs). The same
 * bytes st_clients_encode gives for the same content, so a decoded message
 * encodes back to its bytes. Returns 0; -EINVAL (a bad name or text, t0 >
 * t1, a lat that does not add up to responses); -EMSGSIZE; -ENOMEM. */
int st_clients_encode_msg(const struct st_clients_msg *m, struct st_wbuf *out);

/* ------------------------------------------------------------------ */
/* Verdict: topic verdict.<service>                                   */

struct st_verdict_kpi {
	char name[ST_WIRE_LABEL_MAX];    /* non-empty text: "p99", "error_rate" */
	char unit[ST_WIRE_UNIT_MAX];     /* text, may be empty: "ns", "ratio" */
	/* Any double, NaN included: a nodata KPI has nothing to put here. */
	double predicted, observed, ratio, ci_low, ci_high;
	uint64_t n;                      /* samples behind `observed` */
	enum st_kpi_status status;
	bool critical;
};

struct st_model_param {
	char name[ST_WIRE_LABEL_MAX];    /* non-empty, unique */
	double value;                    /* finite */
};

struct st_model {
	char kind[ST_WIRE_LABEL_MAX];    /* non-empty text: "mmc", "usl" */
	uint64_t version;
	uint32_t n_params;
	struct st_model_param params[ST_MODEL_MAX_PARAMS];
};

/* Hourly cost of the current, proposed and recommended counts. */
struct st_cost {
	double current, proposed, recommended;  /* finite, >= 0 */
};

/* How the proposal fares under a fault: what the resilience group (a
 * second shadow group running it with chaos, typically an instance down)
 * showed over the windows taken under chaos, and the fewest instances that
 * hold the SLO under that fault ("N+1"; docs/analyzer.md reasons it out). */
struct st_resilience {
	char shadow[ST_WIRE_NAME_MAX];   /* name: the resilience group */
	uint32_t instances;              /* behind the group */
	uint32_t down;                   /* of them down under the fault */
	bool respread;                   /* the down ones' flows moved */
	uint32_t windows;                /* windows under chaos judged; 0: no data */
	uint64_t samples;                /* latency samples in them */
	double rps_per_instance;         /* per surviving instance; finite, >= 0 */
	/* ns; NaN without data. p99_healthy: the healthy shadow's. */
	double p99, p99_healthy;
	double error_rate;               /* NaN without requests */
	bool slo_met;                    /* observed p99 and error rate within the SLO */
	uint32_t recommended_instances;  /* fewest holding the SLO under the fault; 0: unknown */
	bool reachable;                  /* false: not within max_instances */
	double p99_proposed;             /* ns: upper bound at the proposal under the fault */
	double p99_recommended;          /* ns: upper bound at recommended_instances */
	bool has_chaos;                  /* chaos is sent only when true */
	struct st_chaos chaos;           /* the newest chaos map of the windows */
	char reason[ST_WIRE_REASON_MAX]; /* one human sentence; text */
};

struct st_verdict {
	uint64_t seq;
	uint64_t t;                      /* ns since the epoch */
	char service[ST_WIRE_NAME_MAX];  /* name */
	char shadow[ST_WIRE_NAME_MAX];   /* name */
	enum st_verdict_kind verdict;
	uint32_t current_instances, proposed_instances, recommended_instances;
	double confidence;               /* [0, 1] */
	double score;                    /* [0, 100] */
	double forecast_rps;             /* finite, >= 0 */
	double observed_rps_per_instance;/* finite, >= 0 */
	uint32_t n_kpis;
	struct st_verdict_kpi kpis[ST_VERDICT_MAX_KPIS];
	struct st_model model;
	bool has_cost;                   /* cost is sent only when true */
	struct st_cost cost;
	char reason[ST_WIRE_REASON_MAX]; /* one human sentence; text */
	/* Whether the recommendation rests on loads measured (true) or on
	 * an extrapolation or a count below the proposal that no shadow has
	 * run (false), and why in one sentence. Sent only when has_verified:
	 * older analyzers do not send them. */
	bool has_verified;
	bool verified;
	char verified_reason[ST_WIRE_REASON_MAX];
	/* Sent only when has_resilience (a resilience_shadow is configured). */
	bool has_resilience;
	struct st_resilience resilience;
	uint32_t unknown_keys;           /* decode only, as in st_kpi */
};

/* As st_kpi_check, for a verdict. */
int st_verdict_check(const struct st_verdict *v, struct st_wire_error *err);
/* As st_kpi_encode, for a verdict. */
int st_verdict_encode(const struct st_verdict *v, struct st_wbuf *out);
/* As st_kpi_decode, for a verdict (about 4.5 KB struct, no pointers). */
int st_verdict_decode(const void *buf, size_t len, struct st_verdict *out,
		      struct st_wire_error *err);
/* Writes "verdict.<service>". Returns its length, or -EINVAL / -ENOSPC. */
int st_verdict_topic(const struct st_verdict *v, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Generic, bounded msgpack                                           */

struct st_wire_limits {
	size_t max_size;     /* whole message, bytes */
	uint32_t max_depth;  /* top-level object is depth 1; at most 32 */
	uint32_t max_count;  /* elements of one array, pairs of one map */
	uint32_t max_items;  /* all array elements + map keys and values */
	uint32_t max_str;    /* bytes of one str */
	uint32_t max_bin;    /* bytes of one bin */
};

/* 1 MiB, depth 8, 1024 per container, 16384 items, 64 KiB str, 1 MiB bin.
 * With these, msgpack-c's zone for a parsed message stays under ~1 MiB. */
extern const struct st_wire_limits st_wire_limits_default;

/* Validates that buf holds exactly one msgpack object within lim (NULL:
 * the defaults): every str/bin length and array/map count fits in the bytes
 * left and in the limits, nesting is bounded, no ext types, no 0xc1, no
 * trailing bytes. Returns 0, or -EBADMSG with err filled. One pass, no
 * allocation, no recursion. */
int st_wire_scan(const void *buf, size_t len, const struct st_wire_limits *lim,
		 struct st_wire_error *err);

/* st_wire_scan, a check that the top level is a map, then msgpack_unpack
 * into zone (which the caller owns; msgpack_zone_clear it between messages
 * to reuse its memory). str and bin objects point into buf, so the object is
 * valid while both buf and the zone are. Returns 0, -EBADMSG (err filled),
 * or -ENOMEM (code ST_WIRE_E_NOMEM). For control messages and printers. */
int st_wire_parse(const void *buf, size_t len, const struct st_wire_limits *lim,
		  msgpack_zone *zone, msgpack_object *out,
		  struct st_wire_error *err);

/* Looks key up in a map object. Returns 0 with *val set; -ENOENT (err code
 * MISSING) when absent; -EBADMSG when map is not a map (NOT_MAP) or the key
 * appears twice (DUPLICATE). err may be NULL. Linear in the map size. */
int st_wire_get(const msgpack_object *map, const char *key,
		const msgpack_object **val, struct st_wire_error *err);
/* st_wire_get plus a type check: any non-negative integer; any integer or
 * float; a bool; a str copied NUL-terminated into buf (STR_LEN if it does not
 * fit, VALUE if it holds a NUL). Same returns, TYPE/VALUE errors added. */
int st_wire_get_u64(const msgpack_object *map, const char *key, uint64_t *out,
		    struct st_wire_error *err);
int st_wire_get_double(const msgpack_object *map, const char *key, double *out,
		       struct st_wire_error *err);
int st_wire_get_bool(const msgpack_object *map, const char *key, bool *out,
		     struct st_wire_error *err);
int st_wire_get_str(const msgpack_object *map, const char *key, char *buf,
		    size_t size, struct st_wire_error *err);

/* ------------------------------------------------------------------ */
/* JSON                                                               */

/* Renders a bin value in st_wire_to_json_ex. key/key_len name the map key it
 * is the value of (NULL, 0 inside an array or at the top). Returns 0 when it
 * appended one JSON value to out, 1 to let the default (a base64 string)
 * render it, or a negative errno that aborts the rendering. */
typedef int (*st_wire_bin_fn)(void *arg, const char *key, size_t key_len,
			      const uint8_t *bin, size_t len,
			      struct st_wbuf *out);

/* Appends o as one line-free JSON value to out. Strings are escaped and
 * invalid UTF-8 becomes U+FFFD; NaN and infinities become null; bin becomes a
 * base64 string; a non-str map key is rendered and then quoted. Returns 0,
 * -ENOMEM, or -EINVAL (nesting deeper than 32: only for objects that did
 * not come from st_wire_parse). Recursion is bounded by the nesting. */
int st_wire_to_json(const msgpack_object *o, struct st_wbuf *out);
int st_wire_to_json_ex(const msgpack_object *o, struct st_wbuf *out,
		       st_wire_bin_fn bin_fn, void *arg);
/* Appends s[0..len) as one JSON string, escaped as above. For the few
 * texts that are not msgpack (HTTP error bodies). Returns 0 or -ENOMEM. */
int st_wire_json_str(struct st_wbuf *out, const char *s, size_t len);

#endif
