/* A scaler's side of shadowtap, in plain C with libzmq and msgpack-c only:
 * subscribe to the verdict stream and act on each verdict. This one prints
 * what it would do. Any language with ZeroMQ and msgpack can do the same.
 *
 *   cc verdict_sub.c -o verdict_sub -lzmq -lmsgpackc
 *   ./verdict_sub tcp://analyzer:5560 [COUNT]
 *
 * Each message is two frames: the topic ("verdict.<service>") and one
 * msgpack map (docs/wire.md). A real scaler would also bound the message
 * size, check "v" == 1 and watch "seq" for gaps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <zmq.h>

/* The value of key in map, or NULL. */
static const msgpack_object *get(const msgpack_object *map, const char *key)
{
	size_t n = strlen(key);

	if (map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
		    memcmp(kv->key.via.str.ptr, key, n) == 0)
			return &kv->val;
	}
	return NULL;
}

static double num(const msgpack_object *o)
{
	if (o == NULL)
		return 0;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return (double)o->via.u64;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return (double)o->via.i64;
	if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
		return o->via.f64;
	return 0;
}

static int str(const msgpack_object *o, const char **s)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return 0;
	*s = o->via.str.ptr;
	return (int)o->via.str.size;
}

int main(int argc, char **argv)
{
	void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
	int count = argc > 2 ? atoi(argv[2]) : -1;

	if (argc < 2) {
		fprintf(stderr, "usage: %s ENDPOINT [COUNT]\n", argv[0]);
		return 2;
	}
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "verdict.", 8);
	if (zmq_connect(sub, argv[1]) != 0) {
		fprintf(stderr, "connect %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
		return 1;
	}
	while (count != 0) {
		char topic[256];
		zmq_msg_t body;
		msgpack_unpacked up;
		int tl = zmq_recv(sub, topic, sizeof(topic) - 1, 0);
		const char *svc = "", *verdict = "", *reason = "";
		int sl, vl, rl;

		if (tl < 0)
			break;
		zmq_msg_init(&body);
		if (zmq_msg_recv(&body, sub, 0) < 0)
			break;
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, zmq_msg_data(&body), zmq_msg_size(&body), NULL) ==
		    MSGPACK_UNPACK_SUCCESS) {
			const msgpack_object *v = &up.data;

			sl = str(get(v, "service"), &svc);
			vl = str(get(v, "verdict"), &verdict);
			rl = str(get(v, "reason"), &reason);
			printf("%.*s: %.*s — now %.0f, proposed %.0f, recommended %.0f instances "
			       "(confidence %.2f): %.*s\n", sl, svc, vl, verdict,
			       num(get(v, "current_instances")), num(get(v, "proposed_instances")),
			       num(get(v, "recommended_instances")), num(get(v, "confidence")),
			       rl, reason);
			if (vl == 6 && memcmp(verdict, "adjust", 6) == 0)
				printf("  -> scale %.*s to %.0f instances\n", sl, svc,
				       num(get(v, "recommended_instances")));
			fflush(stdout);
			if (count > 0)
				count--;
		}
		msgpack_unpacked_destroy(&up);
		zmq_msg_close(&body);
	}
	zmq_close(sub);
	zmq_ctx_term(ctx);
	return 0;
}
