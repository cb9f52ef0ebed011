#include "counters.h"

const char *const dp_drop_names[DP_DROP_COUNT] = {
	[DP_DROP_DISABLED] = "disabled",
	[DP_DROP_FILTERED] = "filtered",
	[DP_DROP_RATE_CAP] = "rate_cap",
	[DP_DROP_NO_NEIGH] = "no_neigh",
	[DP_DROP_NO_MBUF] = "no_mbuf",
	[DP_DROP_TX_FULL] = "tx_full",
	[DP_DROP_TCP_MIDSTREAM] = "tcp_midstream",
	[DP_DROP_TCP_TABLE_FULL] = "tcp_table_full",
	[DP_DROP_TCP_QUEUE_FULL] = "tcp_queue_full",
	[DP_DROP_TOO_BIG] = "too_big",
	[DP_DROP_CHAOS_LOSS] = "chaos_loss",
	[DP_DROP_CHAOS_DOWN] = "chaos_down",
	[DP_DROP_CHAOS_LOSS_BURST] = "chaos_loss_burst",
	[DP_DROP_CHAOS_QUEUE_FULL] = "chaos_queue_full",
	[DP_DROP_HEADERS_TOO_LONG] = "headers_too_long",
	[DP_DROP_TCP_UNSENT] = "tcp_unsent",
};

/* The struct is all uint64_t counters: add it as an array. */
void dp_counters_add(struct dp_counters *dst, const struct dp_counters *src)
{
	uint64_t *d = (uint64_t *)dst;
	const uint64_t *s = (const uint64_t *)src;

	_Static_assert(sizeof(struct dp_counters) % sizeof(uint64_t) == 0,
		       "counters are whole uint64_t words");
	for (size_t i = 0; i < sizeof(*dst) / sizeof(uint64_t); i++)
		d[i] += s[i];
}
