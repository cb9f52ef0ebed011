/* The event stream behind GET /api/v1/events (analyzer/events.c): events
 * reach a reader in order, numbered; a round whose flush found the lock
 * taken still has its events handed out when the stream closes. */
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "events.h"

static void test_order_and_close(void)
{
	struct an_events *ev = calloc(1, sizeof(*ev));
	uint64_t cursor;
	char buf[4096];
	long n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	CU_ASSERT_EQUAL_FATAL(an_events_init(ev), 0);
	cursor = an_events_head(ev);
	CU_ASSERT_EQUAL(an_events_push(ev, "verdict", "{\"n\":1}", 7), 0);
	an_events_flush(ev);
	n = an_events_read(ev, &cursor, buf, sizeof(buf), 0);
	CU_ASSERT(n > 0 && strstr(buf, "event: verdict\ndata: {\"n\":1}\n\n") != NULL);
	/* the last round: its flush finds a reader holding the lock */
	CU_ASSERT_EQUAL(an_events_push(ev, "verdict", "{\"n\":2}", 7), 0);
	pthread_mutex_lock(&ev->mu);
	an_events_flush(ev);
	pthread_mutex_unlock(&ev->mu);
	an_events_close(ev);
	n = an_events_read(ev, &cursor, buf, sizeof(buf), 0);
	CU_ASSERT(n > 0 && strstr(buf, "data: {\"n\":2}") != NULL);
	/* then the stream ends */
	CU_ASSERT_EQUAL(an_events_read(ev, &cursor, buf, sizeof(buf), 0), -1);
	an_events_fini(ev);
	free(ev);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "events in order; the last round's reach the readers at close",
		  test_order_and_close },
		{ NULL, NULL },
	};

	return st_cu_add_suite("analyzer events", NULL, NULL, tests);
}
