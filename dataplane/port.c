#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>

#include "log.h"
#include "port.h"

/* A Toeplitz key of repeated 0x6d5a hashes (a,b) and (b,a) alike, so both
 * directions of a flow land on the same queue and the same worker. */
static uint8_t symmetric_rss_key[40] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

int dp_port_resolve(const char *ref, uint16_t *port_id, struct st_perr *err)
{
	char *end;
	unsigned long id = strtoul(ref, &end, 10);
	uint16_t pid;
	size_t used = 0;
	char list[128] = "";

	if (*ref != '\0' && *end == '\0') {
		if (id < RTE_MAX_ETHPORTS && rte_eth_dev_is_valid_port((uint16_t)id)) {
			*port_id = (uint16_t)id;
			return 0;
		}
	} else if (rte_eth_dev_get_port_by_name(ref, &pid) == 0) {
		*port_id = pid;
		return 0;
	}
	RTE_ETH_FOREACH_DEV(pid) {
		char name[RTE_ETH_NAME_MAX_LEN];
		int w;

		if (rte_eth_dev_get_name_by_port(pid, name) != 0)
			continue;
		w = snprintf(list + used, sizeof(list) - used, "%s%u=%s",
			     used ? ", " : "", pid, name);
		if (w < 0 || (size_t)w >= sizeof(list) - used)
			break;
		used += (size_t)w;
	}
	snprintf(err->msg, sizeof(err->msg), "no port '%s' (ports: %s)", ref,
		 used ? list : "none; add --vdev or bind a NIC");
	return -ENODEV;
}

int dp_port_start(struct dp_port *p, uint16_t port_id, uint16_t n_workers,
		  uint16_t rx_desc, uint16_t tx_desc, struct rte_mempool *mp)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	int rc, socket = rte_eth_dev_socket_id(port_id);

	memset(p, 0, sizeof(*p));
	memset(&conf, 0, sizeof(conf));
	p->id = port_id;
	rte_eth_dev_get_name_by_port(port_id, p->name);
	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc != 0) {
		ST_ERR("port %s: cannot read device info: %s", p->name, strerror(-rc));
		return rc;
	}
	p->n_rxq = n_workers;
	p->n_txq = n_workers;
	if (n_workers > 1 && info.flow_type_rss_offloads == 0 &&
	    strcmp(info.driver_name, "net_af_packet") != 0) {
		p->n_rxq = 1;
		p->sw_dispatch = true;
	}
	if (p->n_rxq > info.max_rx_queues || p->n_txq > info.max_tx_queues) {
		ST_ERR("port %s: needs %u RX and %u TX queues, the device has %u and %u "
		       "(af_packet: add qpairs=%u to the --vdev; pcap: give tx_pcap once "
		       "per worker)", p->name, p->n_rxq, p->n_txq, info.max_rx_queues,
		       info.max_tx_queues, p->n_txq);
		return -EINVAL;
	}
	if (n_workers > 1 && info.flow_type_rss_offloads != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = symmetric_rss_key;
		conf.rx_adv_conf.rss_conf.rss_key_len = sizeof(symmetric_rss_key);
		conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads &
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
		p->hw_rss = true;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;

	rc = rte_eth_dev_configure(port_id, p->n_rxq, p->n_txq, &conf);
	if (rc != 0) {
		ST_ERR("port %s: configure: %s", p->name, strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_desc, &tx_desc);
	if (rc != 0) {
		ST_ERR("port %s: descriptors: %s", p->name, strerror(-rc));
		return rc;
	}
	for (uint16_t q = 0; q < p->n_rxq; q++) {
		rc = rte_eth_rx_queue_setup(port_id, q, rx_desc, (unsigned int)socket,
					    NULL, mp);
		if (rc != 0) {
			ST_ERR("port %s: RX queue %u: %s", p->name, q, strerror(-rc));
			return rc;
		}
	}
	for (uint16_t q = 0; q < p->n_txq; q++) {
		rc = rte_eth_tx_queue_setup(port_id, q, tx_desc, (unsigned int)socket, NULL);
		if (rc != 0) {
			ST_ERR("port %s: TX queue %u: %s", p->name, q, strerror(-rc));
			return rc;
		}
	}
	rc = rte_eth_dev_start(port_id);
	if (rc != 0) {
		ST_ERR("port %s: start: %s", p->name, strerror(-rc));
		return rc;
	}
	p->started = true;
	/* Some virtual devices cannot change it; they pass everything anyway. */
	rc = rte_eth_promiscuous_enable(port_id);
	if (rc != 0 && rc != -ENOTSUP)
		ST_WARN("port %s: promiscuous mode: %s", p->name, strerror(-rc));
	rte_eth_macaddr_get(port_id, &p->mac);
	return 0;
}

void dp_port_close(struct dp_port *p)
{
	if (!p->started)
		return;
	rte_eth_dev_stop(p->id);
	rte_eth_dev_close(p->id);
	p->started = false;
}
