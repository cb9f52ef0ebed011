#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pcap/pcap.h>

#include "errmsg.h"
#include "capture.h"

#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif
#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

#define SLL_HLEN 16u
#define SLL2_HLEN 20u

/* How a link type becomes Ethernet: bytes of the original header to drop,
 * and where its ethertype is (-1: from the IP version nibble). */
struct l2_conv {
	uint32_t strip;
	int proto_off;
};

static int link_conv(int dlt, struct l2_conv *c)
{
	switch (dlt) {
	case DLT_EN10MB:
		c->strip = 0;
		c->proto_off = 0;
		return 0;
	case DLT_RAW:
#if defined(DLT_RAW) && DLT_RAW != 14
	case 14:	/* DLT_RAW on some BSDs; LINKTYPE_RAW is mapped to DLT_RAW */
#endif
	case DLT_IPV4:
	case DLT_IPV6:
		c->strip = 0;
		c->proto_off = -1;
		return 0;
	case DLT_LINUX_SLL:
		c->strip = SLL_HLEN;
		c->proto_off = 14;
		return 0;
	case DLT_LINUX_SLL2:
		c->strip = SLL2_HLEN;
		c->proto_off = 0;
		return 0;
	default:
		return -ENOTSUP;
	}
}

static int grow(struct lg_capture *cap, size_t *frames_cap, size_t *data_cap,
		size_t add)
{
	if (cap->n == *frames_cap) {
		size_t nc = *frames_cap ? *frames_cap * 2 : 1024;
		struct lg_frame *f = realloc(cap->frames, nc * sizeof(*f));

		if (f == NULL)
			return -ENOMEM;
		cap->frames = f;
		*frames_cap = nc;
	}
	/* Allocated even for a zero-length first frame: a frame's data
	 * pointer is never NULL. */
	if (cap->data == NULL || cap->data_len + add > *data_cap) {
		size_t nc = *data_cap ? *data_cap : 65536;
		uint8_t *d;

		while (nc < cap->data_len + add)
			nc *= 2;
		d = realloc(cap->data, nc);
		if (d == NULL)
			return -ENOMEM;
		cap->data = d;
		*data_cap = nc;
	}
	return 0;
}

/* Appends one record as an Ethernet frame. Returns 0 (kept or counted and
 * left out) or -ENOMEM. */
static int add_record(struct lg_capture *cap, const struct l2_conv *conv,
		      const struct pcap_pkthdr *h, const uint8_t *bytes,
		      uint64_t ts_ns, const struct lg_capture_opts *opts,
		      size_t *frames_cap, size_t *data_cap)
{
	uint32_t caplen = h->caplen, wire = h->len < caplen ? caplen : h->len;
	uint64_t len, orig;	/* a hostile record's wire length near 2^32 plus 14 */
	uint16_t et = 0;
	uint8_t *dst;
	int rc;

	if (conv->proto_off != 0 || conv->strip != 0) {
		/* Raw IP or cooked: the protocol must be readable. */
		if (caplen < conv->strip + (conv->proto_off < 0 ? 1u : 0u) ||
		    (conv->proto_off > 0 && caplen < (uint32_t)conv->proto_off + 2)) {
			cap->n_bad_l2++;
			return 0;
		}
		if (conv->proto_off < 0)
			et = (bytes[0] >> 4) == 6 ? 0x86dd : (bytes[0] >> 4) == 4 ? 0x0800 : 0;
		else
			et = (uint16_t)(bytes[conv->proto_off] << 8 | bytes[conv->proto_off + 1]);
		len = caplen - conv->strip + LG_ETH_HLEN;
		orig = (uint64_t)wire - conv->strip + LG_ETH_HLEN;
	} else {
		len = caplen;
		orig = wire;
	}
	if (len < orig) {
		cap->n_cut++;
		if (opts->skip_cut) {
			cap->n_cut_skipped++;
			return 0;
		}
	}
	if (len > LG_FRAME_MAX) {
		cap->n_oversize++;
		return 0;
	}
	rc = grow(cap, frames_cap, data_cap, len);
	if (rc < 0)
		return rc;
	dst = cap->data + cap->data_len;
	if (conv->proto_off != 0 || conv->strip != 0) {
		/* Placeholder locally administered MACs; the sender rewrites them. */
		static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x02,
						  0x02, 0, 0, 0, 0, 0x01 };

		memcpy(dst, macs, sizeof(macs));
		dst[12] = (uint8_t)(et >> 8);
		dst[13] = (uint8_t)et;
		memcpy(dst + LG_ETH_HLEN, bytes + conv->strip, caplen - conv->strip);
	} else {
		memcpy(dst, bytes, caplen);
	}
	cap->frames[cap->n] = (struct lg_frame){
		.ts_ns = ts_ns, .off = cap->data_len, .len = (uint32_t)len,
		.orig_len = orig < UINT32_MAX ? (uint32_t)orig : UINT32_MAX,
		.rec = cap->n_records,
	};
	if (cap->n > 0 && ts_ns < cap->frames[cap->n - 1].ts_ns)
		cap->n_ts_backwards++;
	cap->n++;
	cap->data_len += len;
	if (len > cap->max_len)
		cap->max_len = len;
	return 0;
}

static int read_all(pcap_t *p, const char *name, const struct lg_capture_opts *opts,
		    struct lg_capture *cap, struct st_perr *err)
{
	struct l2_conv conv;
	size_t frames_cap = 0, data_cap = 0;
	struct pcap_pkthdr *h;
	const u_char *bytes;
	int rc;

	cap->linktype = pcap_datalink(p);
	if (link_conv(cap->linktype, &conv) < 0) {
		const char *ln = pcap_datalink_val_to_name(cap->linktype);

		lg_errmsg(err, "%.80s: link type %d (%.20s) is not supported: Ethernet, raw IP "
			 "or Linux cooked only", name, cap->linktype, ln ? ln : "unknown");
		return -ENOTSUP;
	}
	cap->synth_l2 = cap->linktype != DLT_EN10MB;
	while ((rc = pcap_next_ex(p, &h, &bytes)) == 1) {
		/* Opened for nanoseconds, libpcap scales microsecond files up.
		 * A pcap's seconds are an unsigned 32-bit field that libpcap
		 * may hand over sign-extended (after 2038); a pcapng's may be
		 * any 64-bit count: held below 2^64 ns. */
		uint64_t sec = h->ts.tv_sec < 0 ? (uint64_t)(uint32_t)h->ts.tv_sec :
			       (uint64_t)h->ts.tv_sec;
		uint64_t ts = (sec < 18000000000ULL ? sec : 18000000000ULL) * 1000000000ULL +
			      (uint64_t)(uint32_t)h->ts.tv_usec;

		cap->n_records++;
		if (opts->max_frames && cap->n_records > opts->max_frames) {
			lg_errmsg(err, "%.80s: more than %u packets", name, opts->max_frames);
			return -E2BIG;
		}
		rc = add_record(cap, &conv, h, bytes, ts, opts, &frames_cap, &data_cap);
		if (rc < 0) {
			lg_errmsg(err, "%.80s: packet %u: out of memory after %zu bytes", name,
				 cap->n_records, cap->data_len);
			return rc;
		}
	}
	if (rc != PCAP_ERROR_BREAK) {
		lg_errmsg(err, "%.80s: packet %u: %.100s", name,
			 cap->n_records + 1, pcap_geterr(p));
		return -EINVAL;
	}
	if (cap->n == 0) {
		lg_errmsg(err, "%.80s: no packet to send (%u records; %u cut by the snaplen and "
			 "skipped, %u over %u bytes, %u too short for the link header)",
			 name, cap->n_records, cap->n_cut_skipped, cap->n_oversize,
			 LG_FRAME_MAX, cap->n_bad_l2);
		return -ENODATA;
	}
	return 0;
}

/* Opens f (taken over: closed here) and reads it. */
static int load_file(FILE *f, const char *name, const struct lg_capture_opts *opts,
		     struct lg_capture *cap, struct st_perr *err)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p;
	int rc;

	memset(cap, 0, sizeof(*cap));
	p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	if (p == NULL) {
		fclose(f);
		lg_errmsg(err, "%.80s: not a pcap or pcapng capture: %.100s",
			 name, ebuf);
		return -EINVAL;
	}
	rc = read_all(p, name, opts, cap, err);
	pcap_close(p);
	if (rc < 0)
		lg_capture_free(cap);
	return rc;
}

int lg_capture_load(const char *path, const struct lg_capture_opts *opts,
		    struct lg_capture *cap, struct st_perr *err)
{
	struct stat st;
	FILE *f;

	memset(cap, 0, sizeof(*cap));
	if (stat(path, &st) < 0) {
		int e = errno;

		lg_errmsg(err, "%.150s: %s", path, strerror(e));
		return -e;
	}
	if (S_ISDIR(st.st_mode)) {
		lg_errmsg(err, "%.150s: is a directory", path);
		return -EISDIR;
	}
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		lg_errmsg(err, "%.150s: empty file", path);
		return -ENODATA;
	}
	f = fopen(path, "rb");
	if (f == NULL) {
		int e = errno;

		lg_errmsg(err, "%.150s: %s", path, strerror(e));
		return -e;
	}
	return load_file(f, path, opts, cap, err);
}

int lg_capture_load_mem(const void *buf, size_t len, const char *name,
			const struct lg_capture_opts *opts,
			struct lg_capture *cap, struct st_perr *err)
{
	FILE *f;

	memset(cap, 0, sizeof(*cap));
	if (len == 0) {
		lg_errmsg(err, "%.150s: empty file", name);
		return -ENODATA;
	}
	/* fmemopen does not write through a "rb" stream, so the cast is safe. */
	f = fmemopen((void *)(uintptr_t)buf, len, "rb");
	if (f == NULL) {
		lg_errmsg(err, "%.150s: %s", name, strerror(errno));
		return -ENOMEM;
	}
	return load_file(f, name, opts, cap, err);
}

void lg_capture_free(struct lg_capture *cap)
{
	if (cap == NULL)
		return;
	free(cap->frames);
	free(cap->data);
	memset(cap, 0, sizeof(*cap));
}
