/* Internals shared by the wire*.c files: a cursor over
 * msgpack bytes and a field-table codec, so each message is described once
 * (name, type, struct member, checks) and the encoder, the checker and the
 * decoder all follow that one description. Not part of the public API. */
#ifndef ST_WIRE_PRIV_H
#define ST_WIRE_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* msgpack types as the cursor reports them. Non-negative values of the
 * signed encodings come out as UINT (as msgpack-c does), so INT is always
 * negative. */
enum st_mp_type {
	ST_MP_NIL, ST_MP_BOOL, ST_MP_UINT, ST_MP_INT, ST_MP_F32, ST_MP_F64,
	ST_MP_STR, ST_MP_BIN, ST_MP_ARRAY, ST_MP_MAP,
};

struct st_mp_item {
	enum st_mp_type type;
	union {
		bool b;
		uint64_t u;
		int64_t i;
		double d;
	} v;
	const uint8_t *ptr;  /* STR, BIN: payload */
	uint32_t len;        /* STR, BIN: bytes; ARRAY: elements; MAP: pairs */
};

struct st_mp_cur {
	const uint8_t *p;
	const uint8_t *end;
};

/* Reads one object header and, for str/bin, its payload; containers are
 * left open (their elements follow). Returns 0, or -EBADMSG (TRUNCATED,
 * MALFORMED for 0xc1 and ext types). */
int st_mp_next(struct st_mp_cur *c, struct st_mp_item *it,
	       struct st_wire_error *err);
/* Skips one whole object whose header is already in it. For bytes that
 * st_wire_scan accepted; still bounds-checked. Iterative. */
int st_mp_skip(struct st_mp_cur *c, const struct st_mp_item *it,
	       struct st_wire_error *err);

/* "str", "unsigned integer", ... for error messages. */
const char *st_mp_type_name(enum st_mp_type t);

/* Fills err (if not NULL) with code, the field path prefix+name (either may
 * be NULL) and a formatted detail. Returns -EBADMSG. */
int st_wire_fail(struct st_wire_error *err, enum st_wire_err code,
		 const char *prefix, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Copies up to size-1 bytes of wire text for a detail message, printable
 * ASCII only ('?' for the rest), so a hostile value cannot put control
 * bytes into a log line. Returns dst. */
const char *st_wire_sanitize(char *dst, size_t size, const uint8_t *s,
			     size_t len);
/* Length of the well-formed UTF-8 sequence at p[0..n) (1-4), or 0: no
 * overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629). */
size_t st_wire_utf8_seq(const uint8_t *p, size_t n);

/* ---- field tables ---- */

enum st_wf_kind {
	ST_WF_VERSION,  /* "v": always ST_WIRE_VERSION, not stored */
	ST_WF_U64,
	ST_WF_U32,
	ST_WF_F64,
	ST_WF_NAME,     /* char[size], topic component */
	ST_WF_TEXT,     /* char[size], UTF-8 without NUL */
	ST_WF_ROLE,
	ST_WF_VERDICT,
	ST_WF_STATUS,
	ST_WF_BOOL,
	ST_WF_BIN,      /* const uint8_t * at off, size_t length at aux */
	ST_WF_CUSTOM,
};

#define ST_WF_OPTIONAL 0x01  /* sent only when the bool at aux is true */
#define ST_WF_NONEMPTY 0x02  /* TEXT: at least one byte */
#define ST_WF_FINITE   0x04  /* F64: no NaN or infinity */
#define ST_WF_RANGE    0x08  /* F64: within [lo, hi] (implies finite) */
#define ST_WF_PAIRED   0x10  /* optional, and present only with the field
				before it (the two share aux): one without
				the other is MISSING */

struct st_wctx {
	struct st_wire_error *err;
	uint32_t unknown;
};

struct st_wfield;

/* A value the generic kinds do not cover (a nested map or array). Custom
 * fields have off 0, so the hooks get the whole enclosing struct. */
struct st_wcustom {
	/* v is the value's header; consume the rest of it from c. prefix is
	 * the path of the enclosing map ("" at the top). */
	int (*dec)(struct st_mp_cur *c, const struct st_mp_item *v,
		   void *base, const char *prefix, struct st_wctx *x);
	/* Returns 0, or -EINVAL with err filled. */
	int (*check)(const void *base, const char *prefix,
		     struct st_wire_error *err);
	void (*enc)(msgpack_packer *pk, const void *base);
};

struct st_wfield {
	const char *name;    /* the wire key; also the error path */
	uint8_t kind;
	uint8_t flags;
	uint16_t off;
	uint16_t size;       /* char[] size */
	uint16_t aux;        /* BIN: length offset; OPTIONAL: present flag offset */
	double lo, hi;       /* RANGE */
	const struct st_wcustom *custom;
};

/* A table row for member m_ of type_ (path_ may reach into a nested struct)
 * under the wire key key_; ST_WF_MEMBER names the key after the member. */
#define ST_WF_MEMBER_AT(type_, kind_, key_, path_, flags_) {		\
	.name = (key_), .kind = (kind_), .flags = (flags_),		\
	.off = offsetof(type_, path_),					\
	.size = sizeof(((type_ *)0)->path_) }
#define ST_WF_MEMBER(type_, kind_, m_, flags_) ST_WF_MEMBER_AT(type_, kind_, #m_, m_, flags_)

/* Checks a struct against its table; prefix is the error path of the map
 * ("" at the top, "kpis[2]." inside). Returns 0, or -EINVAL with err. */
int st_wf_check(const struct st_wfield *f, size_t n, const void *base,
		const char *prefix, struct st_wire_error *err);
/* Packs the struct as a map in table order. Checked input only. */
void st_wf_encode(msgpack_packer *pk, const struct st_wfield *f, size_t n,
		  const void *base);
/* Decodes the map whose header is `map` into base (fields not in the message
 * are left alone). Returns 0, or -EBADMSG. */
int st_wf_decode_map(struct st_mp_cur *c, const struct st_mp_item *map,
		     const struct st_wfield *f, size_t n, void *base,
		     const char *prefix, struct st_wctx *x);

/* Shared value checks; each returns ST_WIRE_OK or a code and writes a
 * detail. len is the byte length without NUL; size the char[] size. */
enum st_wire_err st_wire_check_text(const char *s, size_t len, size_t size,
				    bool nonempty, char *detail, size_t dlen);
enum st_wire_err st_wire_check_name(const char *s, size_t len, char *detail,
				    size_t dlen);
/* Number from an item: any int or float. Returns 0 or -EBADMSG (TYPE). */
int st_mp_get_f64(const struct st_mp_item *it, double *out, const char *prefix,
		  const char *name, struct st_wire_error *err);
/* Unsigned from an item. Returns 0 or -EBADMSG (TYPE, VALUE if negative). */
int st_mp_get_u64(const struct st_mp_item *it, uint64_t *out,
		  const char *prefix, const char *name,
		  struct st_wire_error *err);

/* The chaos map (struct st_chaos, wire.h) whose header is v, into out
 * (zeroed first); path is the map's error path ("chaos.",
 * "resilience.chaos."). Returns 0 or -EBADMSG. wire_kpi.c. */
int st_chaos_dec(struct st_mp_cur *c, const struct st_mp_item *v, struct st_chaos *out,
		 const char *path, struct st_wctx *x);

/* Packs a str header and body. */
void st_mp_pack_str(msgpack_packer *pk, const char *s, size_t len);

/* Scans, reads the top-level map header, decodes by table. */
int st_wf_decode_msg(const void *buf, size_t len, const struct st_wfield *f,
		     size_t n, void *base, struct st_wctx *x);
/* Encodes checked input into out (reset first). Returns 0, -EMSGSIZE over
 * ST_WIRE_MAX_SIZE, -ENOMEM; out->len is 0 on error. */
int st_wf_encode_msg(const struct st_wfield *f, size_t n, const void *base,
		     struct st_wbuf *out);

#endif
