#ifndef DP_BPF_FIX_H
#define DP_BPF_FIX_H

#include <pcap/pcap.h>

/* DPDK 22.11's rte_bpf gets indirect byte loads (ldb [x + k], what
 * "udp[3]" or "tcp[tcpflags]" compile to) wrong, in the interpreter and the
 * JIT alike: the filter never matches. Halfword indirect loads are right,
 * so each ldb [x + k] becomes ldh [x + k - 1] and the low byte (for k = 0,
 * ldh [x] and the high byte: only a filter on a packet's very last byte
 * at x + 0 then misses). Jumps across an inserted instruction grow by one.
 * Returns the new program (free() it), or NULL with *why set when a jump
 * would no longer fit its 8 bits or memory is short. */
struct bpf_insn *dp_bpf_fix_ind_byte_loads(const struct bpf_program *in, unsigned int *n_out,
					    const char **why);

#endif
