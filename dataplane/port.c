#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "log.h"
#include "vdev.h"
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

/* The MTU of the kernel interface behind a port; 0 when unknown. */
static uint32_t iface_mtu(unsigned int if_index, char *name)
{
	struct ifreq ifr;
	int s, rc;

	if (if_index == 0 || if_indextoname(if_index, name) == NULL)
		return 0;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	rc = ioctl(s, SIOCGIFMTU, &ifr);
	close(s);
	return rc == 0 && ifr.ifr_mtu > 0 ? (uint32_t)ifr.ifr_mtu : 0;
}

/* An af_packet device's framesz devarg (the PMD's default when absent). */
static uint32_t afp_framesz(uint16_t port_id)
{
	struct rte_eth_dev_info info;
	const struct rte_devargs *da;

	if (rte_eth_dev_info_get(port_id, &info) != 0 || info.device == NULL)
		return ST_AFP_FRAME_DEFAULT;
	da = rte_dev_devargs(info.device);
	return st_vdev_af_packet_framesz(da != NULL ? da->args : NULL);
}

int dp_port_plan(struct dp_port *p, uint16_t port_id, uint32_t cfg_mtu)
{
	struct rte_eth_dev_info info;
	char ifname[IF_NAMESIZE] = "";
	uint32_t kmtu, frame;
	int rc;

	memset(p, 0, sizeof(*p));
	p->id = port_id;
	rte_eth_dev_get_name_by_port(port_id, p->name);
	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc != 0) {
		ST_ERR("port %s: cannot read device info: %s", p->name, strerror(-rc));
		return rc;
	}
	snprintf(p->driver, sizeof(p->driver), "%s", info.driver_name);
	kmtu = iface_mtu(info.if_index, ifname);
	p->mtu = cfg_mtu ? cfg_mtu : kmtu ? kmtu : RTE_ETHER_MTU;
	/* Ethernet and two VLAN tags around the largest IP packet. */
	frame = p->mtu + RTE_ETHER_HDR_LEN + 2 * RTE_VLAN_HLEN;
	p->tx_fast_max = p->mtu + RTE_ETHER_HDR_LEN;
	if (kmtu != 0 && p->mtu > kmtu) {
		ST_ERR("port %s: [dataplane] mtu %u is above interface %s's MTU %u, which the "
		       "kernel enforces: raise it (ip link set %s mtu %u) or lower mtu",
		       p->name, p->mtu, ifname, kmtu, ifname, p->mtu);
		return -EINVAL;
	}
	if (strcmp(info.driver_name, "net_af_packet") == 0) {
		/* The PMD copies each ring frame into one mbuf, which must hold
		 * the whole frame slot; ethdev's MTU checks do not apply (it
		 * reports 1518 bytes whatever the ring holds). The kernel also
		 * hands this socket reassembled IPv4 datagrams (fanout defrag),
		 * so the frame slot, not the MTU, bounds what arrives whole. */
		uint32_t fs = afp_framesz(port_id);

		if (fs < frame + ST_AFP_FRAME_HDR) {
			ST_ERR("port %s: af_packet frames of %u bytes cannot hold a %u-byte frame "
			       "(mtu %u): give the --vdev framesz=%u,blocksz=%u, or leave framesz "
			       "out and the dataplane sizes it", p->name, fs, frame, p->mtu,
			       ST_AFP_FRAME, ST_AFP_FRAME);
			return -EINVAL;
		}
		p->rx_room = fs - ST_AFP_FRAME_MBUF_OFF + RTE_PKTMBUF_HEADROOM;
		if (p->rx_room > UINT16_MAX) {
			ST_ERR("port %s: af_packet framesz %u does not fit one mbuf (at most %u)",
			       p->name, fs, ST_AFP_FRAME);
			return -EINVAL;
		}
		if (fs < ST_AFP_FRAME)
			ST_WARN("port %s: af_packet frames of %u bytes: IPv4 datagrams the kernel "
				"reassembles for af_packet above %u bytes arrive cut (counted as "
				"malformed truncated_ip); framesz=%u,blocksz=%u carries them whole",
				p->name, fs, fs - ST_AFP_FRAME_HDR, ST_AFP_FRAME, ST_AFP_FRAME);
		if (p->rx_room <= RTE_MBUF_DEFAULT_BUF_SIZE)
			p->rx_room = 0;
		return 0;
	}
	if (p->mtu > RTE_ETHER_MTU && (p->mtu > info.max_mtu ||
	    p->mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN > info.max_rx_pktlen)) {
		ST_ERR("port %s (%s): cannot carry mtu %u: the PMD takes frames up to %u bytes "
		       "(MTU %u); lower [dataplane] mtu", p->name, info.driver_name, p->mtu,
		       info.max_rx_pktlen, info.max_mtu);
		return -EINVAL;
	}
	if (frame > RTE_MBUF_DEFAULT_DATAROOM) {
		if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)
			p->scatter = true;
		else
			p->rx_room = frame + RTE_PKTMBUF_HEADROOM;
	}
	return 0;
}

int dp_port_start(struct dp_port *p, uint16_t n_workers, uint16_t rx_desc,
		  uint16_t tx_desc, struct rte_mempool *mp)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t port_id = p->id;
	int rc, socket = rte_eth_dev_socket_id(port_id);

	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc != 0) {
		ST_ERR("port %s: cannot read device info: %s", p->name, strerror(-rc));
		return rc;
	}
	/* af_packet: the interface's MTU rules, ethdev's view is 1518. */
	if (strcmp(p->driver, "net_af_packet") != 0)
		conf.rxmode.mtu = p->mtu;
	if (p->scatter)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
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
