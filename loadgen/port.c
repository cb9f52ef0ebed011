/* The one port the loadgen sends on: a TX queue per TX lcore, and an RX
 * queue when the device has one (the main lcore drains it, so a peer's ARP
 * or replies never fill a ring nobody reads). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_ethdev.h>

#include "clock.h"
#include "loadgen.h"
#include "log.h"
#include "vdev.h"

static int resolve(const char *ref, uint16_t *id)
{
	char *end;
	unsigned long v = strtoul(ref, &end, 10);

	if (*ref != '\0' && *end == '\0')
		return v < RTE_MAX_ETHPORTS && rte_eth_dev_is_valid_port((uint16_t)v) ?
			(*id = (uint16_t)v, 0) : -ENODEV;
	return rte_eth_dev_get_port_by_name(ref, id) == 0 ? 0 : -ENODEV;
}

static void list_ports(char *buf, size_t len)
{
	size_t used = 0;
	uint16_t pid;

	buf[0] = '\0';
	RTE_ETH_FOREACH_DEV(pid) {
		char name[RTE_ETH_NAME_MAX_LEN];
		int w;

		if (rte_eth_dev_get_name_by_port(pid, name) != 0)
			continue;
		w = snprintf(buf + used, len - used, "%s%u=%s", used ? ", " : "", pid, name);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	if (used == 0)
		snprintf(buf, len, "none; add --vdev or bind a NIC");
}

static int wait_link(struct lg_app *app)
{
	uint64_t deadline = st_mono_ns() + app->cfg.link_timeout_ns;
	struct rte_eth_link link;

	for (;;) {
		memset(&link, 0, sizeof(link));
		if (rte_eth_link_get_nowait(app->port_id, &link) != 0 ||
		    link.link_status == RTE_ETH_LINK_UP)
			return 0;	/* unknown counts as up: nothing to wait for */
		if (lg_force_quit) {
			ST_ERR("port %s: interrupted while waiting for its link", app->port_name);
			return -1;
		}
		if (st_mono_ns() >= deadline)
			break;
		st_sleep_until_ns(st_mono_ns() + 10 * ST_NS_PER_MS);
	}
	ST_ERR("port %s: link still down after %.1f s (memif: is the peer up? "
	       "--link-timeout changes the wait)", app->port_name,
	       (double)app->cfg.link_timeout_ns / 1e9);
	return -1;
}

int lg_port_find(struct lg_app *app)
{
	char list[160];

	if (resolve(app->cfg.port, &app->port_id) < 0) {
		list_ports(list, sizeof(list));
		ST_ERR("--port: no port '%s' (ports: %s)", app->cfg.port, list);
		return -1;
	}
	rte_eth_dev_get_name_by_port(app->port_id, app->port_name);
	if (rte_eth_macaddr_get(app->port_id, &app->port_mac) != 0)
		memset(&app->port_mac, 0, sizeof(app->port_mac));
	return 0;
}

int lg_port_setup(struct lg_app *app)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t rx_desc = 256, tx_desc = (uint16_t)app->cfg.tx_desc, n_rx;
	int rc;

	rc = rte_eth_dev_info_get(app->port_id, &info);
	if (rc != 0) {
		ST_ERR("port %s: cannot read device info: %s", app->port_name, strerror(-rc));
		return -1;
	}
	if (app->n_tx > info.max_tx_queues) {
		ST_ERR("port %s: %u TX lcores need %u TX queues, the device has %u "
		       "(net_pcap: give tx_pcap once per lcore; af_packet: qpairs=%u)",
		       app->port_name, app->n_tx, app->n_tx, info.max_tx_queues, app->n_tx);
		return -1;
	}
	n_rx = info.max_rx_queues > 0 ? 1 : 0;
	/* RX mbufs of the usual size: af_xdp makes its UMEM of this pool,
	 * and a peer's frames may be larger than the capture's. */
	if (n_rx && app->rx_pool == NULL) {
		/* af_packet wants each mbuf to hold a whole ring frame. */
		uint32_t room = RTE_MBUF_DEFAULT_BUF_SIZE, n = 4096;

		if (strcmp(info.driver_name, "net_af_packet") == 0 && info.device != NULL) {
			const struct rte_devargs *da = rte_dev_devargs(info.device);
			uint32_t fs = st_vdev_af_packet_framesz(da != NULL ? da->args : NULL);

			if (fs - ST_AFP_FRAME_MBUF_OFF + RTE_PKTMBUF_HEADROOM > room) {
				room = fs - ST_AFP_FRAME_MBUF_OFF + RTE_PKTMBUF_HEADROOM;
				n = 512;
			}
		}
		if (room > UINT16_MAX) {
			ST_ERR("port %s: af_packet frames too large for one mbuf (framesz at "
			       "most %u)", app->port_name, ST_AFP_FRAME);
			return -1;
		}
		app->rx_pool = rte_pktmbuf_pool_create("lg_rx", n, 256, 0, (uint16_t)room,
						       (int)rte_socket_id());
		if (app->rx_pool == NULL) {
			ST_ERR("cannot create the RX pool: %s (give the EAL more memory: -m)",
			       rte_strerror(rte_errno));
			return -1;
		}
	}
	memset(&conf, 0, sizeof(conf));
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	rc = rte_eth_dev_configure(app->port_id, n_rx, (uint16_t)app->n_tx, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(app->port_id, &rx_desc, &tx_desc);
	for (uint16_t q = 0; rc == 0 && q < n_rx; q++)
		rc = rte_eth_rx_queue_setup(app->port_id, q, rx_desc,
					    (unsigned int)rte_eth_dev_socket_id(app->port_id),
					    NULL, app->rx_pool);
	for (uint16_t q = 0; rc == 0 && q < app->n_tx; q++)
		rc = rte_eth_tx_queue_setup(app->port_id, q, tx_desc,
					    (unsigned int)rte_eth_dev_socket_id(app->port_id),
					    NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(app->port_id);
	if (rc != 0) {
		ST_ERR("port %s: setup: %s", app->port_name, strerror(-rc));
		return -1;
	}
	app->port_started = true;
	app->n_rxq = n_rx;
	return wait_link(app);
}

void lg_port_close(struct lg_app *app)
{
	if (!app->port_started)
		return;
	rte_eth_dev_stop(app->port_id);
	rte_eth_dev_close(app->port_id);
	app->port_started = false;
}
