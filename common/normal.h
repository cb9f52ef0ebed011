/* The inverse of the standard normal CDF, for the analyzer's intervals
 * and the dataplane's jittered delays (one copy of the constants). */
#ifndef ST_NORMAL_H
#define ST_NORMAL_H

/* Acklam's rational approximation, relative error below 1.2e-9 on (0, 1):
 * a few multiplications, a log and a sqrt in the tails; cheap enough per
 * packet. p outside (0, 1) gives -inf/+inf, NaN gives NaN. */
double st_norm_ppf_fast(double p);

#endif
