/* Fuzzes the loadgen's capture reader (libpcap underneath: pcap, pcapng,
 * every link type it converts) and the client->server classification on
 * whatever it accepts, then rewrites every packet to send the way a replay
 * does (client address, destination address and port) and checks that a
 * checksum that was valid before is valid after: the incremental updates
 * must never break a packet. */
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "classify.h"
#include "csum.h"
#include "fuzz.h"
#include "rewrite.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static bool l4_ok(const uint8_t *f, uint32_t len)
{
	struct st_pkt p;

	return st_pkt_parse(f, len, &p) == 0 && st_csum_l4_ok(f, &p);
}

static bool ip_ok(const uint8_t *f, uint32_t len, const struct lg_rw *rw)
{
	return rw->family != 4 || (rw->l3_off + 20u <= len &&
				   rw->l3_off + (f[rw->l3_off] & 0xfu) * 4u <= len &&
				   st_csum_ipv4_ok(f + rw->l3_off));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lg_capture_opts o = { .skip_cut = size & 1, .max_frames = 4096 };
	struct lg_capture cap;
	struct lg_plan plan;
	struct st_perr err;

	if (lg_capture_load_mem(data, size, "fuzz", &o, &cap, &err) != 0)
		return 0;
	CHECK(cap.n > 0);
	for (uint32_t i = 0; i < cap.n; i++)
		CHECK(cap.frames[i].off + cap.frames[i].len <= cap.data_len &&
		      cap.frames[i].len <= LG_FRAME_MAX);
	if (lg_classify(&cap, NULL, 0, &plan, &err) == 0) {
		CHECK(plan.n > 0 && plan.n <= cap.n && plan.n_flows <= plan.n);
		for (uint32_t i = 0; i < plan.n; i++) {
			const struct lg_pkt *p = &plan.pkts[i];
			uint32_t len = cap.frames[p->frame].len;
			uint8_t *f = malloc(len);
			struct st_ip_addr a;
			bool had_l4, had_ip;

			CHECK(f != NULL);
			memcpy(f, lg_frame_data(&cap, p->frame), len);
			had_l4 = cap.frames[p->frame].len == cap.frames[p->frame].orig_len && l4_ok(f, len);
			had_ip = ip_ok(f, len, &p->rw);
			memset(&a, 0, sizeof(a));
			a.a32[0] = p->hash;
			a.a32[3] = ~p->hash;
			lg_rw_set_src(f, &p->rw, &a);
			a.a32[0] ^= 0x5a5a5a5a;
			lg_rw_set_dst(f, &p->rw, &a);
			lg_rw_set_dport(f, &p->rw, (uint16_t)p->hash);
			CHECK(!had_ip || ip_ok(f, len, &p->rw));
			CHECK(!had_l4 || l4_ok(f, len));
			free(f);
		}
		lg_plan_free(&plan);
	}
	lg_capture_free(&cap);
	return 0;
}
