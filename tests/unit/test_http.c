/* The HTTP module: the path router (params, 404, 405 and Allow), the
 * constant-time token compare, the Prometheus text writer's escaping and
 * numbers, the JSON body reader, and a live server on a loopback port
 * answering 200/401/404/405/413 over a real socket; the client's URL and
 * response parsers (shadowtap-ctl --http). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit_main.h"
#include "http.h"
#include "http_client.h"
#include "json_in.h"
#include "prom.h"

static void h_echo(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	(void)arg;
	st_wbuf_printf(&resp->body, "{\"n\":%u,\"p0\":\"%s\",\"len\":%zu}", req->n_params,
		       req->n_params ? req->params[0] : "", req->body_len);
}

static const struct st_http_route routes[] = {
	{ ST_HTTP_GET, "/metrics", h_echo, false },
	{ ST_HTTP_GET, "/api/v1/services", h_echo, false },
	{ ST_HTTP_GET, "/api/v1/services/{name}", h_echo, false },
	{ ST_HTTP_PUT, "/api/v1/services/{name}/plan", h_echo, false },
	{ ST_HTTP_GET, "/healthz", h_echo, true },
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static void test_router(void)
{
	struct st_http_match m;
	char allow[64], longseg[300];

	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_GET, "/metrics", &m), 0);
	CU_ASSERT_PTR_EQUAL(m.route, &routes[0]);
	CU_ASSERT_EQUAL(m.n_params, 0);
	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_GET, "/api/v1/services/web",
					    &m), 0);
	CU_ASSERT_PTR_EQUAL(m.route, &routes[2]);
	CU_ASSERT_EQUAL(m.n_params, 1);
	CU_ASSERT_STRING_EQUAL(m.params[0], "web");
	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_PUT,
					    "/api/v1/services/web-2/plan", &m), 0);
	CU_ASSERT_PTR_EQUAL(m.route, &routes[3]);
	CU_ASSERT_STRING_EQUAL(m.params[0], "web-2");
	/* A known path, the wrong method: 405 and what it takes. */
	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_PUT, "/metrics", &m), 405);
	CU_ASSERT_PTR_NULL(m.route);
	CU_ASSERT_STRING_EQUAL(st_http_allow_fmt(m.allow, allow, sizeof(allow)), "GET, HEAD");
	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_GET,
					    "/api/v1/services/web/plan", &m), 405);
	CU_ASSERT_STRING_EQUAL(st_http_allow_fmt(m.allow, allow, sizeof(allow)), "PUT");
	/* Unknown paths, an empty segment, a trailing slash, no slash. */
	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_GET, "/nope", &m), 404);
	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_GET, "/api/v1/services/", &m),
			404);
	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_GET, "/metrics/", &m), 404);
	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_GET, "metrics", &m), 404);
	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_GET, "", &m), 404);
	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_GET, NULL, &m), 404);
	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_GET,
					    "/api/v1/services/a/b", &m), 404);
	/* A segment too long for a parameter matches nothing. */
	memset(longseg, 'a', sizeof(longseg));
	memcpy(longseg, "/api/v1/services/", 17);
	longseg[sizeof(longseg) - 1] = '\0';
	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_GET, longseg, &m), 404);
	CU_ASSERT_EQUAL(st_http_method_bit("HEAD"), ST_HTTP_GET);
	CU_ASSERT_EQUAL(st_http_method_bit("PATCH"), ST_HTTP_OTHER);
	CU_ASSERT_EQUAL(st_http_route_match(routes, N_ROUTES, ST_HTTP_OTHER, "/healthz", &m), 405);
}

static void test_token(void)
{
	CU_ASSERT_TRUE(st_http_token_equal("secret-token-123", 16, "secret-token-123", 16));
	CU_ASSERT_FALSE(st_http_token_equal("secret-token-124", 16, "secret-token-123", 16));
	CU_ASSERT_FALSE(st_http_token_equal("secret-token-12", 15, "secret-token-123", 16));
	CU_ASSERT_FALSE(st_http_token_equal("secret-token-1234", 17, "secret-token-123", 16));
	CU_ASSERT_FALSE(st_http_token_equal("", 0, "secret-token-123", 16));
}

static void test_prom(void)
{
	struct st_wbuf b;
	const char *labels[] = { "service", "we\\b\"x\"\nz", "q", "0.5", NULL };

	st_wbuf_init(&b);
	st_prom_escape_label(&b, "a\\b\"c\nd");
	st_wbuf_append(&b, "", 1);
	/* Backslash first, so the escapes added for quote and newline are not
	 * escaped again. */
	CU_ASSERT_STRING_EQUAL((char *)b.data, "a\\\\b\\\"c\\nd");
	st_wbuf_reset(&b);
	st_prom_family(&b, "shadowtap_x_seconds", "gauge", "a \\ help\nline with \"quotes\"");
	st_prom_sample(&b, "shadowtap_x_seconds", labels, 0.25);
	st_prom_sample(&b, "shadowtap_x_seconds", NULL, NAN);
	st_prom_sample(&b, "shadowtap_x_seconds", NULL, INFINITY);
	st_prom_sample(&b, "shadowtap_x_seconds", NULL, -INFINITY);
	st_prom_sample(&b, "shadowtap_x_seconds", NULL, 12);
	st_prom_sample(&b, "shadowtap_x_seconds", NULL, 0.1);
	st_prom_sample_u64(&b, "shadowtap_y_total", NULL, UINT64_MAX);
	st_wbuf_append(&b, "", 1);
	CU_ASSERT_STRING_EQUAL((char *)b.data,
		"# HELP shadowtap_x_seconds a \\\\ help\\nline with \"quotes\"\n"
		"# TYPE shadowtap_x_seconds gauge\n"
		"shadowtap_x_seconds{service=\"we\\\\b\\\"x\\\"\\nz\",q=\"0.5\"} 0.25\n"
		"shadowtap_x_seconds NaN\n"
		"shadowtap_x_seconds +Inf\n"
		"shadowtap_x_seconds -Inf\n"
		"shadowtap_x_seconds 12\n"
		"shadowtap_x_seconds 0.1\n"
		"shadowtap_y_total 18446744073709551615\n");
	st_wbuf_free(&b);
}

static int parse(const char *s, struct st_json_pair *p, size_t *n, struct st_json_error *e)
{
	return st_json_flat_object(s, strlen(s), p, 8, n, e);
}

/* st_json_walk: every scalar with its path, in order. */
struct walked {
	char text[512];
	int stop_at;	/* the n-th scalar's callback refuses (0: none) */
	int n;
};

static int on_scalar(void *arg, const struct st_json_pair *p, struct st_json_error *err)
{
	struct walked *w = arg;
	size_t len = strlen(w->text);

	if (++w->n == w->stop_at) {
		snprintf(err->msg, sizeof(err->msg), "refused %s", p->key);
		return -ERANGE;
	}
	snprintf(w->text + len, sizeof(w->text) - len, "%s%s=%s", len ? " " : "", p->key, p->text);
	return 0;
}

static void test_json_walk(void)
{
	const char *doc = " {\"a\": [1, {\"b\": \"x\\u00e9\"}, []], \"c\": {\"d\": {}}, \"e\": true} ";
	struct walked w = { .n = 0 };
	struct st_json_error e;
	char deep[80];

	CU_ASSERT_EQUAL(st_json_walk(doc, strlen(doc), on_scalar, &w, &e), 0);
	CU_ASSERT_STRING_EQUAL(w.text, "a.0=1 a.1.b=x\xc3\xa9 e=true");
	memset(&w, 0, sizeof(w));
	CU_ASSERT_EQUAL(st_json_walk("42", 2, on_scalar, &w, &e), 0);
	CU_ASSERT_STRING_EQUAL(w.text, "=42");
	/* fn's refusal is returned, at the value's offset */
	memset(&w, 0, sizeof(w));
	w.stop_at = 2;
	CU_ASSERT_EQUAL(st_json_walk(doc, strlen(doc), on_scalar, &w, &e), -ERANGE);
	CU_ASSERT_STRING_EQUAL(e.msg, "refused a.1.b");
	CU_ASSERT_EQUAL(e.offset, 17);
	/* bad syntax, trailing bytes, nesting past the limit */
	CU_ASSERT_EQUAL(st_json_walk("[1,]", 4, on_scalar, &w, &e), -EINVAL);
	CU_ASSERT_EQUAL(st_json_walk("{\"a\":1} x", 10, on_scalar, &w, &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.msg, "bytes after the document");
	memset(deep, '[', sizeof(deep));
	CU_ASSERT_EQUAL(st_json_walk(deep, ST_JSON_DEPTH_MAX + 1, on_scalar, &w, &e), -EINVAL);
	CU_ASSERT(strstr(e.msg, "nested deeper") != NULL);
}

static void test_json_in(void)
{
	struct st_json_pair p[8];
	struct st_json_error e;
	size_t n;

	CU_ASSERT_EQUAL(parse(" {\"shadow\": \"canary\", \"forecast_rps\": 1.5e3, "
			      "\"adjust\": true, \"x\": null, \"u\": \"\\u00e9\\ud83d\\ude00\\n\"} ",
			      p, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_STRING_EQUAL(p[0].key, "shadow");
	CU_ASSERT_STRING_EQUAL(p[0].text, "canary");
	CU_ASSERT_EQUAL(p[0].type, ST_JSON_STRING);
	CU_ASSERT_STRING_EQUAL(p[1].text, "1.5e3");
	CU_ASSERT_EQUAL(p[1].type, ST_JSON_NUMBER);
	CU_ASSERT_EQUAL(p[2].type, ST_JSON_BOOL);
	CU_ASSERT_STRING_EQUAL(p[2].text, "true");
	CU_ASSERT_EQUAL(p[3].type, ST_JSON_NULL);
	CU_ASSERT_STRING_EQUAL(p[4].text, "\xc3\xa9\xf0\x9f\x98\x80\n");
	CU_ASSERT_EQUAL(parse("{}", p, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 0);
	/* Errors say where. */
	CU_ASSERT_EQUAL(parse("{\"a\": 1,}", p, &n, &e), -EINVAL);
	CU_ASSERT_EQUAL(e.offset, 8);
	CU_ASSERT_EQUAL(parse("{\"a\": {\"b\": 1}}", p, &n, &e), -EINVAL);
	CU_ASSERT_EQUAL(e.offset, 6);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "objects and arrays"));
	CU_ASSERT_EQUAL(parse("{\"a\": 1, \"a\": 2}", p, &n, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "twice"));
	CU_ASSERT_EQUAL(parse("{\"a\": 01}", p, &n, &e), -EINVAL);
	CU_ASSERT_EQUAL(parse("{\"a\": \"\\ud800\"}", p, &n, &e), -EINVAL);
	CU_ASSERT_EQUAL(parse("{\"a\": \"\\u0000\"}", p, &n, &e), -EINVAL);
	CU_ASSERT_EQUAL(parse("{\"a\": \"\xff\"}", p, &n, &e), -EINVAL);
	CU_ASSERT_EQUAL(parse("{\"a\": 1} x", p, &n, &e), -EINVAL);
	CU_ASSERT_EQUAL(e.offset, 9);
	CU_ASSERT_EQUAL(parse("[1]", p, &n, &e), -EINVAL);
	CU_ASSERT_EQUAL(parse("{\"a\": tru}", p, &n, &e), -EINVAL);
	CU_ASSERT_EQUAL(parse("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9}",
			      p, &n, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "more than 8"));
}

/* One request over a real socket; returns the status code. */
static int http_do(uint16_t port, const char *method, const char *path, const char *auth,
		   size_t body_len, char *reply, size_t rlen)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { 5, 0 };
	char head[512], *body = NULL;
	size_t got = 0;
	int fd, status = -1;
	ssize_t k;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto out;
	snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s"
		 "Content-Length: %zu\r\n\r\n", method, path, auth ? "Authorization: " : "",
		 auth ? auth : "", auth ? "\r\n" : "", body_len);
	if (write(fd, head, strlen(head)) < 0)
		goto out;
	if (body_len > 0) {
		body = calloc(1, body_len);
		if (body == NULL || write(fd, body, body_len) < 0)
			goto out;
	}
	while (got + 1 < rlen && (k = read(fd, reply + got, rlen - 1 - got)) > 0)
		got += (size_t)k;
	reply[got] = '\0';
	if (sscanf(reply, "HTTP/1.1 %d", &status) != 1)
		status = -1;
out:
	free(body);
	close(fd);
	return status;
}

/* A token file at path, of the given mode. */
static void write_token(const char *path, mode_t mode)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("0123456789abcdef-token\n", f);
	fclose(f);
	chmod(path, mode);
}

/* systemd's credentials directory ($CREDENTIALS_DIRECTORY): a token file
 * there may be group-readable (the ACL that gives the unit's user alone
 * access shows as group bits), not readable by others; the same file
 * reached from elsewhere is still refused. c's token_file is restored. */
static void cred_dir_case(struct st_http_config *c)
{
	char dir[] = "/tmp/st_test_cred_XXXXXX", path[256], link[256], out[256], in_link[256];
	char keep[sizeof(c->token_file)];
	struct st_perr pe;
	struct st_http *h;

	memcpy(keep, c->token_file, sizeof(keep));
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/http-token", dir);
	snprintf(link, sizeof(link), "%s.link", dir);
	write_token(path, 0640);
	snprintf(c->token_file, sizeof(c->token_file), "%s", path);
	/* Without the variable: refused as anywhere else. */
	unsetenv("CREDENTIALS_DIRECTORY");
	CU_ASSERT_PTR_NULL(st_http_start(c, routes, N_ROUTES, NULL, &pe));
	CU_ASSERT_PTR_NOT_NULL(strstr(pe.msg, "chmod"));
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	h = st_http_start(c, routes, N_ROUTES, NULL, &pe);
	CU_ASSERT_PTR_NOT_NULL(h);
	if (h != NULL)
		st_http_stop(h);
	/* Others may not read it, even there. */
	chmod(path, 0644);
	CU_ASSERT_PTR_NULL(st_http_start(c, routes, N_ROUTES, NULL, &pe));
	CU_ASSERT_PTR_NOT_NULL(strstr(pe.msg, "chmod"));
	/* A link from outside into it is the file inside: accepted; the
	 * variable naming another directory: refused. */
	chmod(path, 0640);
	CU_ASSERT_EQUAL(symlink(path, link), 0);
	snprintf(c->token_file, sizeof(c->token_file), "%s", link);
	h = st_http_start(c, routes, N_ROUTES, NULL, &pe);
	CU_ASSERT_PTR_NOT_NULL(h);
	if (h != NULL)
		st_http_stop(h);
	/* A link in it to a file outside is the file outside: refused, and so
	 * is a path that leaves it by "..". */
	snprintf(out, sizeof(out), "%s.out", dir);
	snprintf(in_link, sizeof(in_link), "%s/out-link", dir);
	write_token(out, 0640);
	CU_ASSERT_EQUAL(symlink(out, in_link), 0);
	snprintf(c->token_file, sizeof(c->token_file), "%s", in_link);
	CU_ASSERT_PTR_NULL(st_http_start(c, routes, N_ROUTES, NULL, &pe));
	CU_ASSERT_PTR_NOT_NULL(strstr(pe.msg, "chmod"));
	snprintf(c->token_file, sizeof(c->token_file), "%s/../%s", dir, strrchr(out, '/') + 1);
	CU_ASSERT_PTR_NULL(st_http_start(c, routes, N_ROUTES, NULL, &pe));
	CU_ASSERT_PTR_NOT_NULL(strstr(pe.msg, "chmod"));
	/* The variable naming a directory that is not there: nothing is in it. */
	snprintf(c->token_file, sizeof(c->token_file), "%s", path);
	setenv("CREDENTIALS_DIRECTORY", "/nonexistent", 1);
	CU_ASSERT_PTR_NULL(st_http_start(c, routes, N_ROUTES, NULL, &pe));
	CU_ASSERT_PTR_NOT_NULL(strstr(pe.msg, "chmod"));
	unsetenv("CREDENTIALS_DIRECTORY");
	unlink(in_link);
	unlink(out);
	unlink(link);
	unlink(path);
	rmdir(dir);
	memcpy(c->token_file, keep, sizeof(keep));
}

/* Without a token, only requests naming loopback in Host are answered
 * (DNS rebinding: a page whose name resolves to 127.0.0.1). */
static void test_host_loopback(void)
{
	static const char *const yes[] = {
		"127.0.0.1", "127.0.0.1:9560", "127.1.2.3:80", "localhost", "LOCALHOST:9560",
		"localhost.", "localhost.:9560", "app.localhost:9560", "[::1]", "[::1]:9560",
		"[0:0:0:0:0:0:0:1]:1",
	};
	static const char *const no[] = {
		"evil.example", "evil.example:9560", "128.0.0.1", "10.0.0.1:9560", "0.0.0.0:9560",
		"[::2]:9560", "[::1", "[::1]x", "::1", "localhost.evil.example", "xlocalhost",
		"127.0.0.1.nip.io", "", ":9560", "127.0.0.1:9560:1",
	};

	CU_ASSERT_TRUE(st_http_host_loopback(NULL));
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		CU_ASSERT_TRUE(st_http_host_loopback(yes[i]));
		if (!st_http_host_loopback(yes[i]))
			printf("\n    '%s' not taken as loopback", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		CU_ASSERT_FALSE(st_http_host_loopback(no[i]));
		if (st_http_host_loopback(no[i]))
			printf("\n    '%s' taken as loopback", no[i]);
	}
}

static void test_server(void)
{
	char tok_path[] = "/tmp/st_test_http_XXXXXX", reply[4096];
	struct st_http_config c;
	struct st_http_counters cn;
	struct st_http *h;
	struct st_perr pe;
	uint16_t port;
	int fd;

	st_http_config_defaults(&c);
	c.max_body = 1000;
	/* Anything but loopback without a token is refused, and says why. */
	snprintf(c.endpoint, sizeof(c.endpoint), "0.0.0.0:0");
	h = st_http_start(&c, routes, N_ROUTES, NULL, &pe);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT_EQUAL(errno, EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(pe.msg, "loopback"));
	CU_ASSERT_PTR_NOT_NULL(strstr(pe.msg, "http_token_file"));
	CU_ASSERT_PTR_NOT_NULL(strstr(pe.msg, "http_tls_client_ca"));
	/* Client certificates are a TLS feature: a client CA alone is refused. */
	snprintf(c.tls_client_ca, sizeof(c.tls_client_ca), "/nonexistent/ca.pem");
	CU_ASSERT_PTR_NULL(st_http_start(&c, routes, N_ROUTES, NULL, &pe));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(pe.msg, "http_tls_cert"));
	c.tls_client_ca[0] = '\0';
	/* A token file others can read is refused too. */
	fd = mkstemp(tok_path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(write(fd, "0123456789abcdef-token\n", 23) == 23);
	close(fd);
	chmod(tok_path, 0644);
	snprintf(c.token_file, sizeof(c.token_file), "%s", tok_path);
	CU_ASSERT_PTR_NULL(st_http_start(&c, routes, N_ROUTES, NULL, &pe));
	CU_ASSERT_PTR_NOT_NULL(strstr(pe.msg, "chmod"));
	cred_dir_case(&c);
	chmod(tok_path, 0600);
	snprintf(c.endpoint, sizeof(c.endpoint), "127.0.0.1:0");
	h = st_http_start(&c, routes, N_ROUTES, NULL, &pe);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	port = st_http_port(h);
	CU_ASSERT(port != 0);
	CU_ASSERT_EQUAL(http_do(port, "GET", "/metrics", NULL, 0, reply, sizeof(reply)), 401);
	CU_ASSERT_PTR_NOT_NULL(strstr(reply, "WWW-Authenticate: Bearer"));
	CU_ASSERT_EQUAL(http_do(port, "GET", "/metrics", "Bearer 0123456789abcdef-tokeX", 0,
				reply, sizeof(reply)), 401);
	CU_ASSERT_EQUAL(http_do(port, "GET", "/metrics", "Bearer 0123456789abcdef-token", 0,
				reply, sizeof(reply)), 200);
	CU_ASSERT_EQUAL(http_do(port, "GET", "/healthz", NULL, 0, reply, sizeof(reply)), 200);
	/* Unknown paths are not told apart without the token. */
	CU_ASSERT_EQUAL(http_do(port, "GET", "/nope", NULL, 0, reply, sizeof(reply)), 401);
	CU_ASSERT_EQUAL(http_do(port, "GET", "/nope", "Bearer 0123456789abcdef-token", 0,
				reply, sizeof(reply)), 404);
	CU_ASSERT_EQUAL(http_do(port, "DELETE", "/metrics", "Bearer 0123456789abcdef-token", 0,
				reply, sizeof(reply)), 405);
	CU_ASSERT_PTR_NOT_NULL(strstr(reply, "Allow: GET, HEAD"));
	CU_ASSERT_EQUAL(http_do(port, "PUT", "/api/v1/services/web/plan",
				"Bearer 0123456789abcdef-token", 1000, reply, sizeof(reply)), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(reply, "\"p0\":\"web\",\"len\":1000"));
	CU_ASSERT_EQUAL(http_do(port, "PUT", "/api/v1/services/web/plan",
				"Bearer 0123456789abcdef-token", 1001, reply, sizeof(reply)), 413);
	st_http_get_counters(h, &cn);
	CU_ASSERT_EQUAL(cn.requests, 9);
	CU_ASSERT_EQUAL(cn.unauthorized, 3);
	CU_ASSERT_EQUAL(cn.not_found, 1);
	CU_ASSERT_EQUAL(cn.bad_method, 1);
	CU_ASSERT_EQUAL(cn.too_large, 1);
	CU_ASSERT_EQUAL(cn.status_2xx, 3);
	st_http_stop(h);
	unlink(tok_path);
}

static void test_client_url(void)
{
	struct st_url u;
	struct st_perr e;

	CU_ASSERT_EQUAL(st_url_parse("http://127.0.0.1:9560", &u, &e), 0);
	CU_ASSERT_FALSE(u.https);
	CU_ASSERT_STRING_EQUAL(u.host, "127.0.0.1");
	CU_ASSERT_EQUAL(u.port, 9560);
	CU_ASSERT_STRING_EQUAL(u.prefix, "");
	CU_ASSERT_EQUAL(st_url_parse("HTTPS://an.example/shadowtap/", &u, &e), 0);
	CU_ASSERT_TRUE(u.https);
	CU_ASSERT_EQUAL(u.port, 443);
	CU_ASSERT_STRING_EQUAL(u.prefix, "/shadowtap");
	CU_ASSERT_EQUAL(st_url_parse("http://[::1]:80/", &u, &e), 0);
	CU_ASSERT_STRING_EQUAL(u.host, "::1");
	CU_ASSERT_EQUAL(u.port, 80);
	CU_ASSERT_EQUAL(st_url_parse("tcp://127.0.0.1:1", &u, &e), -EINVAL);
	CU_ASSERT_EQUAL(st_url_parse("http://:80", &u, &e), -EINVAL);
	CU_ASSERT_EQUAL(st_url_parse("http://h:0", &u, &e), -EINVAL);
	CU_ASSERT_EQUAL(st_url_parse("http://h:65536", &u, &e), -EINVAL);
	CU_ASSERT_EQUAL(st_url_parse("http://h:8x", &u, &e), -EINVAL);
	CU_ASSERT_EQUAL(st_url_parse("http://u:p@h/", &u, &e), -EINVAL);
	CU_ASSERT_EQUAL(st_url_parse("http://h/a?b", &u, &e), -EINVAL);
	CU_ASSERT_EQUAL(st_url_parse("http://[::1/", &u, &e), -EINVAL);
	CU_ASSERT_EQUAL(st_url_parse("http://h\r\nX: y/", &u, &e), -EINVAL);
}

static int parse_resp(const char *raw, struct st_httpc_resp *r)
{
	struct st_perr e;

	st_wbuf_reset(&r->body);
	return st_httpc_parse((const uint8_t *)raw, strlen(raw), r, &e);
}

static void test_client_response(void)
{
	struct st_httpc_resp r;

	st_wbuf_init(&r.body);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				   "Content-Length: 2\r\n\r\n{}", &r), 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(r.content_type, "application/json");
	CU_ASSERT_EQUAL(r.body.len, 2);
	/* Chunked, with an extension and a trailer. */
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 404 Not Found\r\ntransfer-encoding:  chunked\r\n\r\n"
				   "3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: 1\r\n\r\n", &r), 0);
	CU_ASSERT_EQUAL(r.status, 404);
	CU_ASSERT_EQUAL(r.body.len, 13);
	CU_ASSERT_EQUAL(memcmp(r.body.data, "abc0123456789", 13), 0);
	/* To the end of the stream without a length. */
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.0 503 X\r\n\r\nbusy", &r), 0);
	CU_ASSERT_EQUAL(r.status, 503);
	CU_ASSERT_EQUAL(r.body.len, 4);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", &r), -EPROTO);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 5", &r), -EPROTO);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", &r), -EPROTO);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "5\r\nab\r\n", &r), -EPROTO);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "fffffffffffffffffff\r\n", &r), -EPROTO);
	/* a size whose + 2 wraps: cut short, not an append of 2^64 bytes */
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "fffffffffffffffe\r\nab\r\n0\r\n\r\n", &r), -EPROTO);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 099 X\r\n\r\n", &r), -EPROTO);
	CU_ASSERT_EQUAL(parse_resp("SSH-2.0-x\r\n\r\n", &r), -EPROTO);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", &r), -EPROTO);
	st_wbuf_free(&r.body);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "router: params, 404, 405", test_router },
		{ "token compare", test_token },
		{ "prometheus text and escaping", test_prom },
		{ "json body reader", test_json_in },
		{ "json document walk", test_json_walk },
		{ "Host names loopback", test_host_loopback },
		{ "server on a loopback port", test_server },
		{ "client: URLs", test_client_url },
		{ "client: responses", test_client_response },
		{ NULL, NULL },
	};

	return st_cu_add_suite("http", NULL, NULL, tests);
}
