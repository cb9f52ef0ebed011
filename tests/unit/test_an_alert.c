/* The forecast alerts' hold on a lower count (analyzer/alert.c,
 * an_alert_hold): a raised alert's count goes up at once and down only once
 * the lower count has been wanted for AN_ALERT_HOLD_NS on end, so a
 * capacity estimate wavering at a boundary (12, 13, 12 instances) does not
 * send the scaler a lower count and then the higher one again. */
#include <math.h>
#include <string.h>

#include "alert.h"
#include "cunit_main.h"

#define S ST_NS_PER_S
#define T0 (1000 * S)
#define PRICE 0.5

static struct an_alert raised(uint32_t n)
{
	struct an_alert a;

	memset(&a, 0, sizeof(a));
	a.active = true;
	a.instances = n;
	a.current = 8;
	a.cost_per_hour = n * PRICE;
	a.value = 0.9;
	return a;
}

/* One evaluation wanting `want`, after the alert as last kept in *kept
 * (as an_alerter_tick keeps it): the count it carries. */
static uint32_t eval(struct an_alert *kept, uint32_t want, enum an_alert_kind k, uint64_t t)
{
	struct an_alert n = raised(want);

	if (k == AN_ALERT_BUDGET)
		n.value = n.cost_per_hour;
	an_alert_hold(kept, &n, k, t, PRICE);
	*kept = n;
	return n.instances;
}

static void test_rise_at_once_fall_held(void)
{
	struct an_alert kept = raised(12);

	CU_ASSERT_EQUAL(eval(&kept, 13, AN_ALERT_UTIL, T0), 13);
	CU_ASSERT_EQUAL(kept.lower_since, 0);
	/* 12 again: held at 13, with 13's cost */
	CU_ASSERT_EQUAL(eval(&kept, 12, AN_ALERT_UTIL, T0 + S), 13);
	CU_ASSERT_EQUAL(kept.lower_since, T0 + S);
	CU_ASSERT_DOUBLE_EQUAL(kept.cost_per_hour, 13 * PRICE, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(kept.value, 0.9, 1e-12);	/* utilisation: not a cost */
	CU_ASSERT_EQUAL(eval(&kept, 11, AN_ALERT_UTIL, T0 + 20 * S), 13);
	CU_ASSERT_EQUAL(kept.lower_since, T0 + S);	/* lower all along */
	/* 13 wanted again: the wait starts over */
	CU_ASSERT_EQUAL(eval(&kept, 13, AN_ALERT_UTIL, T0 + 29 * S), 13);
	CU_ASSERT_EQUAL(kept.lower_since, 0);
	CU_ASSERT_EQUAL(eval(&kept, 12, AN_ALERT_UTIL, T0 + 31 * S), 13);
	CU_ASSERT_EQUAL(eval(&kept, 12, AN_ALERT_UTIL, T0 + 31 * S + AN_ALERT_HOLD_NS - 1), 13);
	/* wanted for the whole hold: the lower count goes out */
	CU_ASSERT_EQUAL(eval(&kept, 12, AN_ALERT_UTIL, T0 + 31 * S + AN_ALERT_HOLD_NS), 12);
	CU_ASSERT_EQUAL(kept.lower_since, 0);
	CU_ASSERT_DOUBLE_EQUAL(kept.cost_per_hour, 12 * PRICE, 1e-12);
	CU_ASSERT_EQUAL(eval(&kept, 12, AN_ALERT_UTIL, T0 + 200 * S), 12);
}

/* Released, the count is the most wanted over the hold, not the last:
 * 12 for 29 s, then 11, sends 12 (and 12 back next is no rise). A clock
 * that goes back starts the wait over. */
static void test_release_most_wanted(void)
{
	struct an_alert kept = raised(13);

	CU_ASSERT_EQUAL(eval(&kept, 12, AN_ALERT_UTIL, T0), 13);
	CU_ASSERT_EQUAL(eval(&kept, 12, AN_ALERT_UTIL, T0 + 29 * S), 13);
	CU_ASSERT_EQUAL(eval(&kept, 11, AN_ALERT_UTIL, T0 + AN_ALERT_HOLD_NS), 12);
	CU_ASSERT_EQUAL(kept.lower_since, 0);
	CU_ASSERT_EQUAL(eval(&kept, 12, AN_ALERT_UTIL, T0 + AN_ALERT_HOLD_NS + S), 12);
	CU_ASSERT_EQUAL(kept.lower_since, 0);

	kept = raised(13);
	CU_ASSERT_EQUAL(eval(&kept, 12, AN_ALERT_UTIL, T0 + 100 * S), 13);
	CU_ASSERT_EQUAL(eval(&kept, 12, AN_ALERT_UTIL, T0), 13);	/* 100 s back */
	CU_ASSERT_EQUAL(kept.lower_since, T0);
	CU_ASSERT_EQUAL(eval(&kept, 12, AN_ALERT_UTIL, T0 + AN_ALERT_HOLD_NS - 1), 13);
	CU_ASSERT_EQUAL(eval(&kept, 12, AN_ALERT_UTIL, T0 + AN_ALERT_HOLD_NS), 12);
}

static void test_budget_value_follows(void)
{
	struct an_alert kept = raised(16);

	CU_ASSERT_EQUAL(eval(&kept, 14, AN_ALERT_BUDGET, T0), 16);
	CU_ASSERT_DOUBLE_EQUAL(kept.value, 16 * PRICE, 1e-12);	/* the cost of the count said */
}

static void test_not_held(void)
{
	struct an_alert kept = raised(13), n;

	/* a cleared alert, or one raised anew, says what it sees */
	n = raised(12);
	n.active = false;
	an_alert_hold(&kept, &n, AN_ALERT_UTIL, T0, PRICE);
	CU_ASSERT_EQUAL(n.instances, 12);
	kept.active = false;
	n = raised(12);
	an_alert_hold(&kept, &n, AN_ALERT_UTIL, T0, PRICE);
	CU_ASSERT_EQUAL(n.instances, 12);
	/* another fingerprint's prealloc is another alert */
	kept = raised(13);
	strcpy(kept.fingerprint, "fp1");
	n = raised(12);
	strcpy(n.fingerprint, "fp2");
	an_alert_hold(&kept, &n, AN_ALERT_PREALLOC, T0, PRICE);
	CU_ASSERT_EQUAL(n.instances, 12);
	CU_ASSERT_EQUAL(n.lower_since, 0);
	/* no price: the cost stays unset */
	kept = raised(13);
	n = raised(12);
	n.cost_per_hour = NAN;
	an_alert_hold(&kept, &n, AN_ALERT_SLO, T0, -1);
	CU_ASSERT_EQUAL(n.instances, 13);
	CU_ASSERT(isnan(n.cost_per_hour));
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "rise_at_once_fall_held", test_rise_at_once_fall_held },
		{ "release_most_wanted", test_release_most_wanted },
		{ "budget_value_follows", test_budget_value_follows },
		{ "not_held", test_not_held },
		{ NULL, NULL },
	};

	return st_cu_add_suite("an_alert", NULL, NULL, tests);
}
