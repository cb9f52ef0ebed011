/* The HTTP surface's parsers on arbitrary bytes: the JSON body reader
 * (a PUT plan's body), the path router (the request's path), the
 * Prometheus label escaping (a service name in /metrics) and the client's
 * response parser (what a server answers shadowtap-ctl --http). Each must
 * stay in bounds and keep its promises: pairs are NUL-terminated text
 * without NULs, an error says where, a match's parameters are whole
 * non-empty segments, an escaped label value holds no raw newline or bare
 * quote, a response is refused with a reason or has a status in range and
 * a body no longer than what it came in. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"
#include "http_client.h"
#include "json_in.h"
#include "prom.h"

static void handler(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	(void)arg;
	(void)req;
	(void)resp;
}

static const struct st_http_route routes[] = {
	{ ST_HTTP_GET, "/metrics", handler, false },
	{ ST_HTTP_GET, "/api/v1/services", handler, false },
	{ ST_HTTP_GET, "/api/v1/services/{name}", handler, false },
	{ ST_HTTP_PUT, "/api/v1/services/{name}/plan", handler, false },
	{ ST_HTTP_GET, "/api/v1/{a}/{b}/{c}/{d}", handler, false },
	{ ST_HTTP_GET, "/", handler, true },
};

static void check_json(const uint8_t *data, size_t size)
{
	struct st_json_pair pairs[8];
	struct st_json_error err;
	size_t n = 99;

	if (st_json_flat_object((const char *)data, size, pairs, 8, &n, &err) != 0) {
		if (err.offset > size || err.msg[0] == '\0' || memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
			abort();
		return;
	}
	if (n > 8)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (memchr(pairs[i].key, '\0', sizeof(pairs[i].key)) == NULL ||
		    memchr(pairs[i].text, '\0', sizeof(pairs[i].text)) == NULL)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(pairs[i].key, pairs[j].key) == 0)
				abort();
	}
}

static void check_router(const uint8_t *data, size_t size)
{
	static const unsigned methods[] = { ST_HTTP_GET, ST_HTTP_PUT, ST_HTTP_OTHER };
	char *path = malloc(size + 1);
	struct st_http_match m;

	if (path == NULL)
		return;
	memcpy(path, data, size);
	path[size] = '\0';
	for (size_t k = 0; k < 3; k++) {
		int rc = st_http_route_match(routes, sizeof(routes) / sizeof(routes[0]), methods[k],
					     path, &m);

		if (rc == 0) {
			if (m.route == NULL || m.n_params > ST_HTTP_MAX_PARAMS)
				abort();
			for (uint32_t i = 0; i < m.n_params; i++)
				if (m.params[i][0] == '\0' || strchr(m.params[i], '/') != NULL ||
				    strstr(path, m.params[i]) == NULL)
					abort();
		} else if (rc == 405) {
			if (m.route != NULL || m.allow == 0)
				abort();
		} else if (rc != 404 || m.route != NULL) {
			abort();
		}
	}
	free(path);
}

static void check_escape(const uint8_t *data, size_t size)
{
	struct st_wbuf b;
	char *s = malloc(size + 1);

	if (s == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	st_wbuf_init(&b);
	if (st_prom_escape_label(&b, s) == 0) {
		/* Every quote and newline is escaped: walk pairs. */
		for (size_t i = 0; i < b.len; i++) {
			if (b.data[i] == '\\') {
				if (i + 1 >= b.len || !strchr("\\\"n", b.data[i + 1]))
					abort();
				i++;
			} else if (b.data[i] == '"' || b.data[i] == '\n') {
				abort();
			}
		}
	}
	st_wbuf_free(&b);
	free(s);
}

static void check_response(const uint8_t *data, size_t size)
{
	struct st_httpc_resp r;
	struct st_perr err;
	int rc;

	st_wbuf_init(&r.body);
	err.msg[0] = '\0';
	rc = st_httpc_parse(data, size, &r, &err);
	if (rc == 0 && (r.status < 100 || r.status > 599 || r.body.len > size ||
			strlen(r.content_type) >= sizeof(r.content_type)))
		abort();
	if (rc == -EPROTO && err.msg[0] == '\0')
		abort();
	if (rc != 0 && rc != -EPROTO && rc != -ENOMEM)
		abort();
	st_wbuf_free(&r.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_json(data, size);
	check_router(data, size);
	check_escape(data, size);
	check_response(data, size);
	return 0;
}
