/* A classic BPF program made fit for DPDK 22.11's rte_bpf (bpf_fix.h).
 * Plain C: the config check runs it before the EAL, and the fuzz build
 * has no DPDK. */
#include <stdlib.h>

#include "bpf_fix.h"

struct bpf_insn *dp_bpf_fix_ind_byte_loads(const struct bpf_program *in, unsigned int *n_out,
					    const char **why)
{
	const unsigned int n = in->bf_len;
	unsigned int extra = 0, *at, o = 0;
	struct bpf_insn *out;

	for (unsigned int i = 0; i < n; i++)
		extra += in->bf_insns[i].code == (BPF_LD | BPF_IND | BPF_B);
	out = malloc((n + extra) * sizeof(*out));
	at = malloc((n + 1) * sizeof(*at));
	if (out == NULL || at == NULL) {
		free(out);
		free(at);
		*why = "out of memory";
		return NULL;
	}
	/* at[i]: where instruction i lands; at[n]: the end. */
	for (unsigned int i = 0; i <= n; i++) {
		at[i] = o;
		if (i < n)
			o += 1 + (in->bf_insns[i].code == (BPF_LD | BPF_IND | BPF_B));
	}
	for (unsigned int i = 0; i < n; i++) {
		struct bpf_insn x = in->bf_insns[i];
		struct bpf_insn *d = &out[at[i]];

		if (x.code == (BPF_LD | BPF_IND | BPF_B)) {
			d[0] = (struct bpf_insn){ BPF_LD | BPF_IND | BPF_H, 0, 0, x.k ? x.k - 1 : 0 };
			d[1] = x.k ? (struct bpf_insn){ BPF_ALU | BPF_AND | BPF_K, 0, 0, 0xff } :
				     (struct bpf_insn){ BPF_ALU | BPF_RSH | BPF_K, 0, 0, 8 };
			continue;
		}
		if (BPF_CLASS(x.code) == BPF_JMP) {
			unsigned int from = at[i] + 1;

			if (BPF_OP(x.code) == BPF_JA) {
				x.k = at[i + 1 + x.k] - from;
			} else {
				unsigned int jt = at[i + 1 + x.jt] - from, jf = at[i + 1 + x.jf] - from;

				if (jt > 255 || jf > 255) {
					free(out);
					free(at);
					*why = "too long to run with DPDK's BPF";
					return NULL;
				}
				x.jt = (uint8_t)jt;
				x.jf = (uint8_t)jf;
			}
		}
		*d = x;
	}
	free(at);
	*n_out = n + extra;
	return out;
}
