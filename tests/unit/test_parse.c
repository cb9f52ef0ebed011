/* Config value parsing: every form users write, and every way to get it
 * wrong, with a message that names the value and the reason. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "cunit_main.h"
#include "parse.h"

static struct st_perr err;

#define ASSERT_ERR(expr, code, needle) do {				\
	memset(&err, 0, sizeof(err));					\
	CU_ASSERT_EQUAL(expr, code);					\
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, needle));		\
} while (0)

static void test_int(void)
{
	int64_t v = 0;
	uint64_t u = 0;

	CU_ASSERT_EQUAL(st_parse_int(" 42 ", 0, 100, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 42);
	CU_ASSERT_EQUAL(st_parse_int("-5", -10, 10, &v, &err), 0);
	CU_ASSERT_EQUAL(v, -5);
	CU_ASSERT_EQUAL(st_parse_int("0x10", 0, 100, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 16);
	ASSERT_ERR(st_parse_int("101", 0, 100, &v, &err), -ERANGE, "'101': out of range 0..100");
	ASSERT_ERR(st_parse_int("12x", 0, 100, &v, &err), -EINVAL, "not an integer");
	ASSERT_ERR(st_parse_int("", 0, 100, &v, &err), -EINVAL, "empty");
	ASSERT_ERR(st_parse_int(NULL, 0, 100, &v, &err), -EINVAL, "missing");
	ASSERT_ERR(st_parse_int("99999999999999999999", INT64_MIN, INT64_MAX, &v, &err),
		   -ERANGE, "out of range");
	CU_ASSERT_EQUAL(v, 16); /* untouched on error */

	CU_ASSERT_EQUAL(st_parse_uint("65535", 1, 65535, &u, &err), 0);
	CU_ASSERT_EQUAL(u, 65535);
	ASSERT_ERR(st_parse_uint("70000", 1, 65535, &u, &err), -ERANGE, "'70000': out of range 1..65535");
	ASSERT_ERR(st_parse_uint("-1", 0, 10, &u, &err), -EINVAL, "not an unsigned");
	ASSERT_ERR(st_parse_uint("0", 1, 10, &u, &err), -ERANGE, "out of range 1..10");
	CU_ASSERT_EQUAL(st_parse_uint("18446744073709551615", 0, UINT64_MAX, &u, &err), 0);
	CU_ASSERT_EQUAL(u, UINT64_MAX);
	/* decimal or 0x, never octal: a leading zero is a zero */
	CU_ASSERT_EQUAL(st_parse_uint("010", 0, 100, &u, &err), 0);
	CU_ASSERT_EQUAL(u, 10);
	CU_ASSERT_EQUAL(st_parse_uint("08", 0, 100, &u, &err), 0);
	CU_ASSERT_EQUAL(u, 8);
	CU_ASSERT_EQUAL(st_parse_uint("0X1f", 0, 100, &u, &err), 0);
	CU_ASSERT_EQUAL(u, 31);
	ASSERT_ERR(st_parse_uint("0x", 0, 100, &u, &err), -EINVAL, "not an unsigned");
	CU_ASSERT_EQUAL(st_parse_int("-010", -100, 100, &v, &err), 0);
	CU_ASSERT_EQUAL(v, -10);
	CU_ASSERT_EQUAL(st_parse_int("-0x10", -100, 100, &v, &err), 0);
	CU_ASSERT_EQUAL(v, -16);
}

static void test_double_share(void)
{
	double d = 0;

	CU_ASSERT_EQUAL(st_parse_double("0.25", 0, 1, &d, &err), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 0.25, 1e-12);
	CU_ASSERT_EQUAL(st_parse_double("1e3", 0, 1e4, &d, &err), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 1000, 1e-9);
	ASSERT_ERR(st_parse_double("nan", 0, 1, &d, &err), -EINVAL, "not a number");
	ASSERT_ERR(st_parse_double("inf", 0, 1, &d, &err), -EINVAL, "not a number");
	ASSERT_ERR(st_parse_double("0x1p3", 0, 100, &d, &err), -EINVAL, "not a number");
	ASSERT_ERR(st_parse_double("1.5", 0, 1, &d, &err), -ERANGE, "out of range");

	CU_ASSERT_EQUAL(st_parse_share("0.10", &d, &err), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 0.10, 1e-12);
	CU_ASSERT_EQUAL(st_parse_share("25%", &d, &err), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 0.25, 1e-12);
	CU_ASSERT_EQUAL(st_parse_share("0", &d, &err), 0);
	CU_ASSERT_EQUAL(st_parse_share("1", &d, &err), 0);
	ASSERT_ERR(st_parse_share("1.01", &d, &err), -ERANGE, "within 0..1");
	ASSERT_ERR(st_parse_share("120%", &d, &err), -ERANGE, "within 0..1");
	ASSERT_ERR(st_parse_share("-0.1", &d, &err), -ERANGE, "within 0..1");
	ASSERT_ERR(st_parse_share("half", &d, &err), -EINVAL, "not a share");
	ASSERT_ERR(st_parse_share("10%%", &d, &err), -EINVAL, "not a share");
}

static void test_duration(void)
{
	uint64_t ns = 0;
	const uint64_t max = 3600ULL * 1000000000ULL;

	CU_ASSERT_EQUAL(st_parse_duration("250ms", 0, max, &ns, &err), 0);
	CU_ASSERT_EQUAL(ns, 250000000ULL);
	CU_ASSERT_EQUAL(st_parse_duration("2s", 0, max, &ns, &err), 0);
	CU_ASSERT_EQUAL(ns, 2000000000ULL);
	CU_ASSERT_EQUAL(st_parse_duration("1.5s", 0, max, &ns, &err), 0);
	CU_ASSERT_EQUAL(ns, 1500000000ULL);
	CU_ASSERT_EQUAL(st_parse_duration("3", 0, max, &ns, &err), 0);
	CU_ASSERT_EQUAL(ns, 3000000000ULL);
	CU_ASSERT_EQUAL(st_parse_duration("10us", 0, max, &ns, &err), 0);
	CU_ASSERT_EQUAL(ns, 10000ULL);
	CU_ASSERT_EQUAL(st_parse_duration("7ns", 0, max, &ns, &err), 0);
	CU_ASSERT_EQUAL(ns, 7ULL);
	CU_ASSERT_EQUAL(st_parse_duration("2m", 0, max, &ns, &err), 0);
	CU_ASSERT_EQUAL(ns, 120000000000ULL);
	CU_ASSERT_EQUAL(st_parse_duration("1h", 0, max, &ns, &err), 0);
	CU_ASSERT_EQUAL(ns, max);
	ASSERT_ERR(st_parse_duration("2h", 0, max, &ns, &err), -ERANGE, "out of range");
	ASSERT_ERR(st_parse_duration("5 parsecs", 0, max, &ns, &err), -EINVAL, "unknown unit 'parsecs'");
	ASSERT_ERR(st_parse_duration("-1s", 0, max, &ns, &err), -ERANGE, "negative");
	ASSERT_ERR(st_parse_duration("ms", 0, max, &ns, &err), -EINVAL, "not a duration");
	ASSERT_ERR(st_parse_duration("10ms", 100000000ULL, max, &ns, &err), -ERANGE, "'10ms': out of range 0.1s");
}

static void test_sizes_rates(void)
{
	uint64_t v = 0;

	CU_ASSERT_EQUAL(st_parse_size("64K", 0, UINT64_MAX, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 65536);
	CU_ASSERT_EQUAL(st_parse_size("2MiB", 0, UINT64_MAX, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 2097152);
	CU_ASSERT_EQUAL(st_parse_size("1G", 0, UINT64_MAX, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 1073741824ULL);
	CU_ASSERT_EQUAL(st_parse_size("512", 0, UINT64_MAX, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 512);
	/* above 2^63 (where llround's long long ends) and up to the top */
	CU_ASSERT_EQUAL(st_parse_si("10000000000000000000", 0, UINT64_MAX, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 10000000000000000000ULL);
	CU_ASSERT_EQUAL(st_parse_si("18000000T", 0, UINT64_MAX, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 18000000000000000000ULL);
	ASSERT_ERR(st_parse_si("19000000T", 0, UINT64_MAX, &v, &err), -ERANGE, "out of range");
	ASSERT_ERR(st_parse_si("10000000000000000000", 0, 9000000000000000000ULL, &v, &err),
		   -ERANGE, "out of range");
	ASSERT_ERR(st_parse_size("1Q", 0, UINT64_MAX, &v, &err), -EINVAL, "unknown unit 'Q'");
	ASSERT_ERR(st_parse_size("1T", 0, 1ULL << 30, &v, &err), -ERANGE, "out of range");
	ASSERT_ERR(st_parse_size("1e30", 0, UINT64_MAX, &v, &err), -ERANGE, "out of range");

	CU_ASSERT_EQUAL(st_parse_si("1G", 0, UINT64_MAX, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 1000000000ULL);
	CU_ASSERT_EQUAL(st_parse_si("2.5Mbps", 0, UINT64_MAX, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 2500000ULL);
	CU_ASSERT_EQUAL(st_parse_si("100kpps", 0, UINT64_MAX, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 100000ULL);
	CU_ASSERT_EQUAL(st_parse_si("100000", 0, UINT64_MAX, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 100000ULL);
	ASSERT_ERR(st_parse_si("10 furlongs", 0, UINT64_MAX, &v, &err), -EINVAL, "unknown unit");
}

static void test_bool_enum(void)
{
	static const char *const modes[] = { "inline", "tap" };
	bool b = false;
	int i = -1;

	CU_ASSERT_EQUAL(st_parse_bool("Yes", &b, &err), 0);
	CU_ASSERT_TRUE(b);
	CU_ASSERT_EQUAL(st_parse_bool("off", &b, &err), 0);
	CU_ASSERT_FALSE(b);
	CU_ASSERT_EQUAL(st_parse_bool("1", &b, &err), 0);
	CU_ASSERT_TRUE(b);
	ASSERT_ERR(st_parse_bool("maybe", &b, &err), -EINVAL, "'maybe': not a boolean");
	CU_ASSERT_EQUAL(st_parse_enum("TAP", modes, 2, &i, &err), 0);
	CU_ASSERT_EQUAL(i, 1);
	ASSERT_ERR(st_parse_enum("bridge", modes, 2, &i, &err), -EINVAL,
		   "'bridge': expected one of inline|tap");
}

static void test_addresses(void)
{
	struct st_addr a, b;
	struct st_ip_prefix p;
	uint16_t port = 1;
	char buf[64];

	CU_ASSERT_EQUAL(st_parse_ip("198.18.0.53", &a, &err), 0);
	CU_ASSERT_EQUAL(a.family, AF_INET);
	CU_ASSERT_STRING_EQUAL(st_ip_fmt(&a, buf, sizeof(buf)), "198.18.0.53");
	CU_ASSERT_EQUAL(st_parse_ip("2001:db8::1", &a, &err), 0);
	CU_ASSERT_EQUAL(a.family, AF_INET6);
	CU_ASSERT_STRING_EQUAL(st_ip_fmt(&a, buf, sizeof(buf)), "2001:db8::1");
	ASSERT_ERR(st_parse_ip("198.18.0.256", &a, &err), -EINVAL, "not an IPv4 or IPv6");
	ASSERT_ERR(st_parse_ip("gw1", &a, &err), -EINVAL, "'gw1'");

	CU_ASSERT_EQUAL(st_parse_prefix("198.18.0.0/15", &p, &err), 0);
	CU_ASSERT_EQUAL(p.len, 15);
	st_parse_ip("198.19.255.255", &b, &err);
	CU_ASSERT_TRUE(st_prefix_contains(&p, &b));
	st_parse_ip("198.20.0.1", &b, &err);
	CU_ASSERT_FALSE(st_prefix_contains(&p, &b));
	st_parse_ip("2001:db8::1", &b, &err);
	CU_ASSERT_FALSE(st_prefix_contains(&p, &b));
	ASSERT_ERR(st_parse_prefix("198.18.0.1/15", &p, &err), -EINVAL, "host bits");
	ASSERT_ERR(st_parse_prefix("198.18.0.0/33", &p, &err), -ERANGE, "0..32");
	CU_ASSERT_EQUAL(st_parse_prefix("2001:db8::/32", &p, &err), 0);
	CU_ASSERT_EQUAL(p.len, 32);
	st_parse_ip("2001:db8:ffff::1", &b, &err);
	CU_ASSERT_TRUE(st_prefix_contains(&p, &b));
	CU_ASSERT_EQUAL(st_parse_prefix("198.18.0.7", &p, &err), 0);
	CU_ASSERT_EQUAL(p.len, 32);
	CU_ASSERT_EQUAL(st_parse_prefix("0.0.0.0/0", &p, &err), 0);
	CU_ASSERT_TRUE(st_prefix_contains(&p, &a) == false); /* v6 in v4 prefix */

	CU_ASSERT_EQUAL(st_parse_endpoint("198.18.0.53:80", &a, &port, &err), 0);
	CU_ASSERT_EQUAL(port, 80);
	CU_ASSERT_EQUAL(st_parse_endpoint("[2001:db8::1]:53", &a, &port, &err), 0);
	CU_ASSERT_EQUAL(port, 53);
	CU_ASSERT_EQUAL(a.family, AF_INET6);
	CU_ASSERT_EQUAL(st_parse_endpoint("2001:db8::1", &a, &port, &err), 0);
	CU_ASSERT_EQUAL(port, 0);
	CU_ASSERT_EQUAL(st_parse_endpoint("198.18.0.53", &a, &port, &err), 0);
	CU_ASSERT_EQUAL(port, 0);
	ASSERT_ERR(st_parse_endpoint("198.18.0.53:0", &a, &port, &err), -ERANGE, "1..65535");
	ASSERT_ERR(st_parse_endpoint("198.18.0.53:http", &a, &port, &err), -EINVAL, "1..65535");
	ASSERT_ERR(st_parse_endpoint("[2001:db8::1", &a, &port, &err), -EINVAL, "missing ']'");
}

static void test_lists(void)
{
	char s1[] = " 198.18.1.10, 198.18.1.11 ,198.18.1.12";
	char s2[] = "a,,b";
	char s3[] = "a,b,c";
	char s4[] = "   ";
	char *items[4];

	CU_ASSERT_EQUAL(st_split_list(s1, items, 4, &err), 3);
	CU_ASSERT_STRING_EQUAL(items[0], "198.18.1.10");
	CU_ASSERT_STRING_EQUAL(items[1], "198.18.1.11");
	CU_ASSERT_STRING_EQUAL(items[2], "198.18.1.12");
	ASSERT_ERR(st_split_list(s2, items, 4, &err), -EINVAL, "empty item");
	ASSERT_ERR(st_split_list(s3, items, 2, &err), -E2BIG, "at most 2");
	CU_ASSERT_EQUAL(st_split_list(s4, items, 4, &err), 0);
}

static void test_long_value(void)
{
	char big[300];
	uint64_t v;

	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ASSERT_ERR(st_parse_uint(big, 0, UINT64_MAX, &v, &err), -EINVAL, "too long");
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "integers", test_int },
		{ "doubles and shares", test_double_share },
		{ "durations", test_duration },
		{ "sizes and rates", test_sizes_rates },
		{ "booleans and enums", test_bool_enum },
		{ "addresses, prefixes, endpoints", test_addresses },
		{ "lists", test_lists },
		{ "overlong values", test_long_value },
		{ NULL, NULL },
	};

	return st_cu_add_suite("parse", NULL, NULL, tests);
}
