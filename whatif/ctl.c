/* The dataplane's control socket: one msgpack map per request, a reply
 * within CTL_DEADLINE_NS or the request failed. REQ_RELAXED so that a lost
 * reply does not wedge the socket for the restore that must follow. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <zmq.h>

#include "clock.h"
#include "whatif.h"

#define CTL_DEADLINE_NS (3ULL * ST_NS_PER_S)
#define CTL_REPLY_MAX 65536

struct wi_ctl {
	void *req;
	char endpoint[256];
	struct st_wbuf out;
	msgpack_zone zone;
	char buf[CTL_REPLY_MAX];
};

struct wi_ctl *wi_ctl_open(void *zctx, const char *endpoint, struct st_perr *err)
{
	struct wi_ctl *c = calloc(1, sizeof(*c));
	int one = 1, linger = 0;

	if (c == NULL || !msgpack_zone_init(&c->zone, 4096)) {
		free(c);
		wi_msg(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	st_wbuf_init(&c->out);
	snprintf(c->endpoint, sizeof(c->endpoint), "%s", endpoint);
	c->req = zmq_socket(zctx, ZMQ_REQ);
	if (c->req == NULL)
		goto err;
	zmq_setsockopt(c->req, ZMQ_REQ_RELAXED, &one, sizeof(one));
	zmq_setsockopt(c->req, ZMQ_REQ_CORRELATE, &one, sizeof(one));
	zmq_setsockopt(c->req, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(c->req, endpoint) != 0)
		goto err;
	return c;
err:
	wi_msg(err->msg, sizeof(err->msg), "control_endpoint %s: %s", endpoint,
		 zmq_strerror(zmq_errno()));
	wi_ctl_close(c);
	return NULL;
}

void wi_ctl_close(struct wi_ctl *c)
{
	if (c == NULL)
		return;
	if (c->req != NULL)
		zmq_close(c->req);
	msgpack_zone_destroy(&c->zone);
	st_wbuf_free(&c->out);
	free(c);
}

/* Sends c->out, waits for the reply and parses it into *rep. A reply with
 * ok = false is an error carrying the dataplane's reason. Not interrupted by
 * wi_stop: the restore at the end must get its answer. */
static int call(struct wi_ctl *c, const char *what, msgpack_object *rep, struct st_perr *err)
{
	zmq_pollitem_t it = { .socket = c->req, .events = ZMQ_POLLIN };
	uint64_t deadline = st_mono_ns() + CTL_DEADLINE_NS;
	struct st_wire_error we;
	char why[200];
	bool ok = false;
	int n;

	if (c->out.oom || zmq_send(c->req, c->out.data, c->out.len, 0) < 0) {
		wi_msg(err->msg, sizeof(err->msg), "%s: cannot send to %s: %s", what,
			 c->endpoint, c->out.oom ? "out of memory" : zmq_strerror(zmq_errno()));
		return -EIO;
	}
	for (;;) {
		uint64_t now = st_mono_ns();

		if (now >= deadline) {
			wi_msg(err->msg, sizeof(err->msg),
				 "%s: no reply from the dataplane at %s within %.0f s", what,
				 c->endpoint, (double)CTL_DEADLINE_NS / 1e9);
			return -EIO;
		}
		n = zmq_poll(&it, 1, (long)((deadline - now) / ST_NS_PER_MS) + 1);
		if (n < 0 && zmq_errno() != EINTR) {
			wi_msg(err->msg, sizeof(err->msg), "%s: %s", what,
				 zmq_strerror(zmq_errno()));
			return -EIO;
		}
		if (n <= 0)
			continue;
		/* Readable may be a late reply to a request that timed out
		 * (ZMQ_REQ_CORRELATE): the socket drops it, and a blocking
		 * receive would then wait past the deadline for ours. */
		n = zmq_recv(c->req, c->buf, sizeof(c->buf), ZMQ_DONTWAIT);
		if (n >= 0 || (zmq_errno() != EAGAIN && zmq_errno() != EINTR))
			break;
	}
	msgpack_zone_clear(&c->zone);
	if (n < 0 || n > (int)sizeof(c->buf) ||
	    st_wire_parse(c->buf, (size_t)n, NULL, &c->zone, rep, &we) != 0 ||
	    st_wire_get_bool(rep, "ok", &ok, NULL) != 0) {
		wi_msg(err->msg, sizeof(err->msg), "%s: %s did not answer as a dataplane does",
			 what, c->endpoint);
		return -EIO;
	}
	if (!ok) {
		if (st_wire_get_str(rep, "error", why, sizeof(why), NULL) != 0)
			wi_msg(why, sizeof(why), "(no reason given)");
		wi_msg(err->msg, sizeof(err->msg), "%s: the dataplane refused: %s", what, why);
		return -EIO;
	}
	return 0;
}

static void begin(struct wi_ctl *c, msgpack_packer *pk, const char *cmd, size_t n_keys)
{
	st_wbuf_reset(&c->out);
	msgpack_packer_init(pk, &c->out, st_wbuf_mp_write);
	msgpack_pack_map(pk, n_keys);
	st_wire_pack_cstr(pk, "cmd");
	st_wire_pack_cstr(pk, cmd);
}

static int read_group(const msgpack_object *g, struct wi_group *out)
{
	uint64_t inst = 0, listed = 0, count = 0;
	const msgpack_object *lease;

	memset(out, 0, sizeof(*out));
	if (st_wire_get_str(g, "name", out->name, sizeof(out->name), NULL) != 0 ||
	    st_wire_get_u64(g, "instances", &inst, NULL) != 0 ||
	    st_wire_get_u64(g, "instances_listed", &listed, NULL) != 0 ||
	    st_wire_get_double(g, "share", &out->share, NULL) != 0 ||
	    st_wire_get_double(g, "offset", &out->offset, NULL) != 0)
		return -EBADMSG;
	/* service and inject came with shadowtap-whatif: a dataplane older
	 * than that cannot say, and is refused as having no inject path. */
	if (st_wire_get_str(g, "service", out->service, sizeof(out->service), NULL) != 0)
		out->service[0] = '\0';
	if (st_wire_get_bool(g, "inject", &out->inject, NULL) != 0)
		out->inject = false;
	out->instances = (uint32_t)inst;
	out->listed = (uint32_t)listed;
	if (st_wire_get_u64(g, "instances_count", &count, NULL) == 0)
		out->count = (uint32_t)count;
	/* A share raised or paused for a while (an analyzer's squeeze step,
	 * a sweep killed before it restored): the share to put back is the
	 * one the lease returns to, not the one in force (restored with no
	 * lease, that one stayed for good). */
	if (st_wire_get(g, "lease", &lease, NULL) == 0 && lease->type == MSGPACK_OBJECT_MAP) {
		if (st_wire_get_double(lease, "share", &out->share, NULL) != 0 ||
		    st_wire_get_double(lease, "offset", &out->offset, NULL) != 0)
			return -EBADMSG;
		out->leased = true;
	}
	return 0;
}

int wi_ctl_group(struct wi_ctl *c, const char *group, struct wi_group *out, int *others,
		 struct st_perr *err)
{
	const msgpack_object *groups;
	struct wi_group g;
	msgpack_packer pk;
	msgpack_object rep;
	char names[160] = "";
	bool found = false;
	int rc;

	begin(c, &pk, "stats", 1);
	rc = call(c, "stats", &rep, err);
	if (rc != 0)
		return rc;
	if (st_wire_get(&rep, "groups", &groups, NULL) != 0 || groups->type != MSGPACK_OBJECT_ARRAY) {
		wi_msg(err->msg, sizeof(err->msg), "stats: the reply has no groups");
		return -EIO;
	}
	*others = 0;
	for (uint32_t i = 0; i < groups->via.array.size; i++) {
		if (read_group(&groups->via.array.ptr[i], &g) != 0) {
			wi_msg(err->msg, sizeof(err->msg), "stats: a group the reply cannot describe");
			return -EIO;
		}
		size_t l = strlen(names);

		snprintf(names + l, sizeof(names) - l, "%s%s", l ? ", " : "", g.name);
		if (strcmp(g.name, group) == 0) {
			*out = g;
			found = true;
		}
	}
	if (!found) {
		wi_msg(err->msg, sizeof(err->msg), "unknown group '%s' (the dataplane has: %s)",
			 group, names[0] ? names : "none");
		return -ENOENT;
	}
	for (uint32_t i = 0; i < groups->via.array.size; i++)
		if (read_group(&groups->via.array.ptr[i], &g) == 0 && strcmp(g.name, group) != 0 &&
		    g.inject && strcmp(g.service, out->service) == 0)
			(*others)++;
	return 0;
}

int wi_ctl_set_instances(struct wi_ctl *c, const char *group, uint32_t n, struct st_perr *err)
{
	msgpack_packer pk;
	msgpack_object rep;

	begin(c, &pk, "set_instances", 3);
	st_wire_pack_cstr(&pk, "group");
	st_wire_pack_cstr(&pk, group);
	st_wire_pack_cstr(&pk, "instances");
	msgpack_pack_uint32(&pk, n);
	return call(c, "set_instances", &rep, err);
}

int wi_ctl_set_share(struct wi_ctl *c, const char *group, double share, double offset,
		     double revert_after_s, struct st_perr *err)
{
	msgpack_packer pk;
	msgpack_object rep;

	begin(c, &pk, "set_share", revert_after_s > 0 ? 5 : 4);
	st_wire_pack_cstr(&pk, "group");
	st_wire_pack_cstr(&pk, group);
	st_wire_pack_cstr(&pk, "share");
	msgpack_pack_double(&pk, share);
	st_wire_pack_cstr(&pk, "offset");
	msgpack_pack_double(&pk, offset);
	if (revert_after_s > 0) {
		st_wire_pack_cstr(&pk, "revert_after");
		msgpack_pack_double(&pk, revert_after_s);
	}
	return call(c, "set_share", &rep, err);
}
