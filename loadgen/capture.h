/* Reading a capture into memory: pcap or pcapng, microsecond or nanosecond
 * timestamps, Ethernet, raw IP (DLT_RAW, DLT_IPV4, DLT_IPV6) and Linux
 * cooked (SLL, SLL2) link types. Every frame comes out as an Ethernet frame:
 * the non-Ethernet link types get a 14-byte header made up here, whose MACs
 * the loadgen rewrites before sending.
 *
 * Plain C with libpcap, no DPDK: the loadgen turns the frames into mbufs,
 * shadowtap-forecast bins them into a rate history. Every way a file can be
 * bad (missing, empty, not a capture, a link type we cannot send, a record
 * cut off by the end of the file, a corrupt record header) is an error with
 * a message naming the file and the packet; nothing here crashes on input. */
#ifndef LG_CAPTURE_H
#define LG_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"

/* Frames longer than this are skipped (and counted): a jumbo frame fits,
 * the 64 KB "frames" a capture taken above TSO/GRO shows do not go out on a
 * port as they are. */
#define LG_FRAME_MAX 9216u
#define LG_ETH_HLEN 14u

struct lg_frame {
	uint64_t ts_ns;		/* timestamp as recorded, ns since the epoch */
	uint64_t off;		/* first byte in lg_capture.data */
	uint32_t len;		/* bytes held (Ethernet header included) */
	uint32_t orig_len;	/* length on the wire (Ethernet header included) */
	uint32_t rec;		/* its record number in the file, from 1 (records
				   left out at load count too) */
};

struct lg_capture {
	struct lg_frame *frames;
	uint32_t n;
	uint8_t *data;
	size_t data_len;
	int linktype;		/* DLT_* of the file */
	bool synth_l2;		/* Ethernet headers were made up here */
	uint32_t max_len;	/* longest frame kept */
	uint32_t n_records;	/* records read from the file */
	uint32_t n_cut;		/* frames cut by the snaplen (len < orig_len) */
	uint32_t n_cut_skipped;	/* ... left out because the caller asked */
	uint32_t n_oversize;	/* frames longer than LG_FRAME_MAX, left out */
	uint32_t n_bad_l2;	/* cooked/raw records too short for their header */
	uint32_t n_ts_backwards; /* records stamped before their predecessor */
};

struct lg_capture_opts {
	bool skip_cut;		/* leave out frames cut by the snaplen */
	uint32_t max_frames;	/* 0: no limit; more is an error */
};

/* Reads the whole file at path into cap (zeroed first). Returns 0; -ENOENT,
 * -EACCES, -EISDIR (cannot open), -ENODATA (empty, or no packet in it),
 * -EINVAL (not a capture, corrupt or cut-off record), -ENOTSUP (link type),
 * -E2BIG (over max_frames) or -ENOMEM, with err->msg saying which file,
 * which packet (1-based) and what is wrong. On error cap is empty. Costs
 * one pass over the file, the memory of its frames and 24 bytes a frame. */
int lg_capture_load(const char *path, const struct lg_capture_opts *opts,
		    struct lg_capture *cap, struct st_perr *err);

/* Same from a capture held in memory (fuzzing, tests); name is used in the
 * messages. Same returns. */
int lg_capture_load_mem(const void *buf, size_t len, const char *name,
			const struct lg_capture_opts *opts,
			struct lg_capture *cap, struct st_perr *err);

/* Frees what lg_capture_load filled in; cap is empty after. NULL-safe. */
void lg_capture_free(struct lg_capture *cap);

static inline const uint8_t *lg_frame_data(const struct lg_capture *cap,
					   uint32_t i)
{
	return cap->data + cap->frames[i].off;
}

#endif
