/* Client fingerprints (docs/analyzer.md, "Client profiles"): clients as
 * points of a few features, normalised, grouped with k-means; k chosen by
 * the mean silhouette; labels kept across refits by matching the new
 * centroids to the previous ones.
 *
 * Normalisation: each feature is divided by max(its standard deviation
 * across the clients, a floor per feature), after centring. The floor is
 * the smallest spread that means a difference (a factor ~1.4 for the log
 * features): a feature on which every client is the same up to noise (the
 * latency every client of one server sees) is not blown up to unit
 * variance and cannot split a group by its noise.
 *
 * k: k-means++ seeding and Lloyd iterations, a few seeded restarts per k
 * (the least inertia kept), k = 2..k_max; the k with the highest mean
 * silhouette (Rousseeuw 1987) wins, among the k whose groups are distinct
 * (of the restarts, the least inertia among those): none empty, and every
 * two centroids differ by at least the floor in some one feature
 * (differences under the floors do not add up). The silhouette alone
 * splits a tight group into tighter ones: steady clients whose latency or
 * burstiness a few stalls moved by a fraction of the floor formed groups
 * of their own, well separated only against how alike each was. Below 0.25 ("no substantial structure",
 * Kaufman & Rousseeuw) the clients are one group (k = 1).
 *
 * Stable labels: the previous fit's centroids (in raw feature units) and
 * labels are matched to the new centroids greedily, closest pair first, in
 * the new fit's normalised units; a new centroid left over gets a label
 * never used before. Deterministic: the same points give the same fit.
 *
 * Plain C, single-threaded; allocates per fit (O(n * d) plus O(n) per k). */
#ifndef AN_FINGERPRINT_H
#define AN_FINGERPRINT_H

#include <stdint.h>

#define FP_DIMS 6	/* features per client */
#define FP_K_MAX 16
#define FP_SIL_MIN 0.25	/* below: one group */

struct fp_fit {
	uint32_t k;
	double silhouette;		/* of the fit chosen; 0 for k = 1 */
	double centroid[FP_K_MAX][FP_DIMS];	/* raw feature units */
	uint32_t label[FP_K_MAX];	/* stable labels, >= 1 */
	uint32_t size[FP_K_MAX];
	double scale[FP_DIMS];		/* the normalisation used */
	double center[FP_DIMS];
};

/* Fits x[n][FP_DIMS] (raw features) with k <= k_max (clamped to
 * 1..FP_K_MAX and n - 1), floors[d] as above, seed for the restarts.
 * assign[n] gets each point's cluster index 0..k-1 (not its label).
 * prev (may be NULL, or a fit with k 0) gives the labels to keep;
 * *next_label is the next never-used label, advanced as new ones are
 * given. Returns 0, -EINVAL (n 0), -ENOMEM. O(n^2 d k_max) for the
 * silhouettes, O(n d k iterations restarts) for the fits. */
int fp_fit(const double (*x)[FP_DIMS], uint32_t n, uint32_t k_max,
	   const double floors[FP_DIMS], uint64_t seed, const struct fp_fit *prev,
	   uint32_t *next_label, struct fp_fit *out, uint32_t *assign);

/* Mean silhouette of an assignment of z[n][FP_DIMS] (normalised) into k
 * clusters; 0 for k < 2. A point alone in its cluster counts 0. O(n^2 d). */
double fp_silhouette(const double (*z)[FP_DIMS], uint32_t n, const uint32_t *assign,
		     uint32_t k);

/* Adjusted Rand index of two labelings of n points (Hubert & Arabie 1985):
 * 1 for the same partition, about 0 for chance. Labels < 64. For tests. */
double fp_ari(const uint32_t *a, const uint32_t *b, uint32_t n);

#endif
