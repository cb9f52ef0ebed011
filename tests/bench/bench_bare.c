/* The ceiling for the dataplane benchmarks: the plainest DPDK loop, RX from
 * port 0 and TX to port 1 on one lcore, for a given number of seconds.
 * Prints packets, Mpps and cycles per packet.
 *
 *   bench_bare [EAL options] -- SECONDS */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#define BURST 32

static int port_init(uint16_t port, struct rte_mempool *mp)
{
	struct rte_eth_conf conf = { 0 };
	int rc = rte_eth_dev_configure(port, 1, 1, &conf);

	if (rc == 0)
		rc = rte_eth_rx_queue_setup(port, 0, 1024, (unsigned int)rte_eth_dev_socket_id(port),
					    NULL, mp);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(port, 0, 1024, (unsigned int)rte_eth_dev_socket_id(port),
					    NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(port);
	return rc;
}

int main(int argc, char **argv)
{
	struct rte_mbuf *pkts[BURST];
	struct rte_mempool *mp;
	uint64_t n = 0, start, end, hz;
	double secs;
	int used = rte_eal_init(argc, argv);

	if (used < 0)
		rte_exit(EXIT_FAILURE, "EAL init failed\n");
	secs = argc - used > 1 ? atof(argv[used + 1]) : 5.0;
	if (rte_eth_dev_count_avail() < 2)
		rte_exit(EXIT_FAILURE, "needs two ports\n");
	mp = rte_pktmbuf_pool_create("bare", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     (int)rte_socket_id());
	if (mp == NULL || port_init(0, mp) != 0 || port_init(1, mp) != 0)
		rte_exit(EXIT_FAILURE, "port setup failed\n");
	hz = rte_get_tsc_hz();
	start = rte_rdtsc();
	end = start + (uint64_t)(secs * (double)hz);
	while (rte_rdtsc() < end) {
		uint16_t rx = rte_eth_rx_burst(0, 0, pkts, BURST), tx;

		if (rx == 0)
			continue;
		tx = rte_eth_tx_burst(1, 0, pkts, rx);
		if (tx < rx)
			rte_pktmbuf_free_bulk(pkts + tx, rx - tx);
		n += rx;
	}
	secs = (double)(rte_rdtsc() - start) / (double)hz;
	printf("bare: %lu pkts in %.3f s: %.2f Mpps, %.1f cycles/pkt\n", (unsigned long)n, secs,
	       (double)n / secs / 1e6, n ? (double)hz * secs / (double)n : 0.0);
	rte_eth_dev_stop(0);
	rte_eth_dev_stop(1);
	rte_eal_cleanup();
	return 0;
}
