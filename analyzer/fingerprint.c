/* k-means with k by silhouette, and labels kept across refits
 * (fingerprint.h). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fingerprint.h"

#define RESTARTS 6
#define MAX_ITER 100

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double unif(uint64_t *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

/* Whether assign's k groups of x are distinct: none empty, and every two
 * centroids (raw units) differ by at least floors[j] in some one feature j
 * (differences under the floors do not add up across features). */
static bool distinct(const double (*x)[FP_DIMS], uint32_t n, const uint32_t *assign, uint32_t k,
		     const double floors[FP_DIMS])
{
	double c[FP_K_MAX][FP_DIMS] = { { 0 } };
	uint32_t size[FP_K_MAX] = { 0 };

	for (uint32_t i = 0; i < n; i++) {
		size[assign[i]]++;
		for (int j = 0; j < FP_DIMS; j++)
			c[assign[i]][j] += x[i][j];
	}
	for (uint32_t m = 0; m < k; m++) {
		if (size[m] == 0)
			return false;
		for (int j = 0; j < FP_DIMS; j++)
			c[m][j] /= size[m];
	}
	for (uint32_t a = 0; a < k; a++)
		for (uint32_t b = a + 1; b < k; b++) {
			bool apart = false;

			for (int j = 0; j < FP_DIMS && !apart; j++)
				apart = fabs(c[a][j] - c[b][j]) >= floors[j];
			if (!apart)
				return false;
		}
	return true;
}

static double dist2(const double *a, const double *b)
{
	double d = 0;

	for (int j = 0; j < FP_DIMS; j++)
		d += (a[j] - b[j]) * (a[j] - b[j]);
	return d;
}

/* One k-means run: k-means++ seeds, Lloyd to convergence. Returns the
 * inertia; c[k][d] and a[n] filled. */
static double kmeans_once(const double (*z)[FP_DIMS], uint32_t n, uint32_t k, uint64_t *rng,
			  double (*c)[FP_DIMS], uint32_t *a, double *dmin)
{
	double inertia = 0;

	memcpy(c[0], z[rnd(rng) % n], sizeof(c[0]));
	for (uint32_t i = 0; i < n; i++)
		dmin[i] = dist2(z[i], c[0]);
	for (uint32_t m = 1; m < k; m++) {
		double tot = 0, r;
		uint32_t pick = n - 1;

		for (uint32_t i = 0; i < n; i++)
			tot += dmin[i];
		r = unif(rng) * tot;
		for (uint32_t i = 0; i < n && tot > 0; i++) {
			r -= dmin[i];
			if (r <= 0) {
				pick = i;
				break;
			}
		}
		if (!(tot > 0))
			pick = (uint32_t)(rnd(rng) % n);
		memcpy(c[m], z[pick], sizeof(c[m]));
		for (uint32_t i = 0; i < n; i++) {
			double d = dist2(z[i], c[m]);

			if (d < dmin[i])
				dmin[i] = d;
		}
	}
	for (uint32_t i = 0; i < n; i++)
		a[i] = UINT32_MAX;
	for (int it = 0; it < MAX_ITER; it++) {
		bool moved = false;
		double sum[FP_K_MAX][FP_DIMS] = { { 0 } };
		uint32_t cnt[FP_K_MAX] = { 0 };

		inertia = 0;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t best = 0;
			double bd = DBL_MAX;

			for (uint32_t m = 0; m < k; m++) {
				double d = dist2(z[i], c[m]);

				if (d < bd) {
					bd = d;
					best = m;
				}
			}
			moved |= a[i] != best;
			a[i] = best;
			inertia += bd;
			cnt[best]++;
			for (int j = 0; j < FP_DIMS; j++)
				sum[best][j] += z[i][j];
		}
		for (uint32_t m = 0; m < k; m++) {
			if (cnt[m] == 0) {
				/* an empty cluster takes the point farthest from its centroid */
				uint32_t far = 0;
				double fd = -1;

				for (uint32_t i = 0; i < n; i++) {
					double d = dist2(z[i], c[a[i]]);

					if (d > fd) {
						fd = d;
						far = i;
					}
				}
				memcpy(c[m], z[far], sizeof(c[m]));
				moved = true;
				continue;
			}
			for (int j = 0; j < FP_DIMS; j++)
				c[m][j] = sum[m][j] / cnt[m];
		}
		if (!moved)
			break;
	}
	return inertia;
}

double fp_silhouette(const double (*z)[FP_DIMS], uint32_t n, const uint32_t *assign,
		     uint32_t k)
{
	double total = 0, *sum;
	uint32_t cnt[FP_K_MAX] = { 0 };

	if (k < 2 || n < 2 || k > FP_K_MAX)
		return 0;
	sum = malloc(sizeof(double) * k);
	if (sum == NULL)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		cnt[assign[i]]++;
	for (uint32_t i = 0; i < n; i++) {
		double a, b = DBL_MAX;
		uint32_t own = assign[i];

		if (cnt[own] < 2)
			continue;	/* s(i) = 0 */
		memset(sum, 0, sizeof(double) * k);
		for (uint32_t j = 0; j < n; j++)
			if (j != i)
				sum[assign[j]] += sqrt(dist2(z[i], z[j]));
		a = sum[own] / (cnt[own] - 1);
		for (uint32_t m = 0; m < k; m++)
			if (m != own && cnt[m] > 0 && sum[m] / cnt[m] < b)
				b = sum[m] / cnt[m];
		if (b == DBL_MAX)
			continue;
		if (a < b)
			total += 1 - a / b;
		else if (a > b)
			total += b / a - 1;
	}
	free(sum);
	return total / n;
}

/* Greedy matching of the new centroids to prev's, closest pair first. */
static void keep_labels(struct fp_fit *f, const struct fp_fit *prev, uint32_t *next_label)
{
	bool used_new[FP_K_MAX] = { false }, used_old[FP_K_MAX] = { false };
	uint32_t pairs = prev != NULL ? (f->k < prev->k ? f->k : prev->k) : 0;

	for (uint32_t p = 0; p < pairs; p++) {
		double bd = DBL_MAX;
		uint32_t bn = 0, bo = 0;

		for (uint32_t m = 0; m < f->k; m++) {
			if (used_new[m])
				continue;
			for (uint32_t o = 0; o < prev->k; o++) {
				double d = 0;

				if (used_old[o])
					continue;
				for (int j = 0; j < FP_DIMS; j++) {
					double t = (f->centroid[m][j] - prev->centroid[o][j]) /
						   f->scale[j];

					d += t * t;
				}
				if (d < bd) {
					bd = d;
					bn = m;
					bo = o;
				}
			}
		}
		used_new[bn] = used_old[bo] = true;
		f->label[bn] = prev->label[bo];
	}
	for (uint32_t m = 0; m < f->k; m++)
		if (!used_new[m])
			f->label[m] = (*next_label)++;
}

int fp_fit(const double (*x)[FP_DIMS], uint32_t n, uint32_t k_max,
	   const double floors[FP_DIMS], uint64_t seed, const struct fp_fit *prev,
	   uint32_t *next_label, struct fp_fit *out, uint32_t *assign)
{
	double (*z)[FP_DIMS] = NULL, *dmin = NULL;
	double c[FP_K_MAX][FP_DIMS], bc[FP_K_MAX][FP_DIMS];
	uint32_t *a = NULL, *best_a = NULL;
	uint64_t rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
	double best_sil = -2;
	uint32_t best_k = 1;
	int rc = -ENOMEM;

	if (n == 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (k_max > FP_K_MAX)
		k_max = FP_K_MAX;
	if (k_max > n - 1)
		k_max = n > 1 ? n - 1 : 1;
	z = malloc(sizeof(*z) * n);
	dmin = malloc(sizeof(double) * n);
	a = malloc(sizeof(uint32_t) * n);
	best_a = malloc(sizeof(uint32_t) * n);
	if (!z || !dmin || !a || !best_a)
		goto out;
	for (int j = 0; j < FP_DIMS; j++) {
		double m = 0, v = 0;

		for (uint32_t i = 0; i < n; i++)
			m += x[i][j];
		m /= n;
		for (uint32_t i = 0; i < n; i++)
			v += (x[i][j] - m) * (x[i][j] - m);
		v = sqrt(v / n);
		out->center[j] = m;
		out->scale[j] = v > floors[j] ? v : floors[j];
		if (!(out->scale[j] > 0))
			out->scale[j] = 1;
		for (uint32_t i = 0; i < n; i++)
			z[i][j] = (x[i][j] - m) / out->scale[j];
	}
	for (uint32_t i = 0; i < n; i++)
		best_a[i] = 0;
	for (uint32_t k = 2; k <= k_max; k++) {
		double bi = DBL_MAX, sil;
		uint32_t *ka = NULL;

		ka = malloc(sizeof(uint32_t) * n);
		if (ka == NULL)
			goto out;
		/* the least inertia among the restarts whose groups are
		 * distinct */
		for (int r = 0; r < RESTARTS; r++) {
			double in = kmeans_once((const double (*)[FP_DIMS])z, n, k, &rng, c, a, dmin);

			if (in < bi && distinct(x, n, a, k, floors)) {
				bi = in;
				memcpy(ka, a, sizeof(uint32_t) * n);
			}
		}
		sil = bi < DBL_MAX ? fp_silhouette((const double (*)[FP_DIMS])z, n, ka, k) : -2;
		if (sil > best_sil + 1e-9) {
			best_sil = sil;
			best_k = k;
			memcpy(best_a, ka, sizeof(uint32_t) * n);
		}
		free(ka);
	}
	if (best_sil < FP_SIL_MIN) {
		best_k = 1;
		best_sil = 0;
		for (uint32_t i = 0; i < n; i++)
			best_a[i] = 0;
	}
	out->k = best_k;
	out->silhouette = best_sil;
	/* centroids in raw units, sizes */
	memset(bc, 0, sizeof(bc));
	for (uint32_t i = 0; i < n; i++) {
		out->size[best_a[i]]++;
		for (int j = 0; j < FP_DIMS; j++)
			bc[best_a[i]][j] += x[i][j];
	}
	for (uint32_t m = 0; m < best_k; m++)
		for (int j = 0; j < FP_DIMS; j++)
			out->centroid[m][j] = out->size[m] ? bc[m][j] / out->size[m] : 0;
	keep_labels(out, prev != NULL && prev->k > 0 ? prev : NULL, next_label);
	memcpy(assign, best_a, sizeof(uint32_t) * n);
	rc = 0;
out:
	free(z);
	free(dmin);
	free(a);
	free(best_a);
	return rc;
}

double fp_ari(const uint32_t *a, const uint32_t *b, uint32_t n)
{
	uint64_t t[64][64];
	uint64_t ra[64] = { 0 }, rb[64] = { 0 };
	double sij = 0, sa = 0, sb = 0, exp, max;

	memset(t, 0, sizeof(t));
	for (uint32_t i = 0; i < n; i++) {
		t[a[i] & 63][b[i] & 63]++;
		ra[a[i] & 63]++;
		rb[b[i] & 63]++;
	}
	for (int i = 0; i < 64; i++) {
		for (int j = 0; j < 64; j++)
			sij += (double)t[i][j] * (t[i][j] - 1) / 2;
		sa += (double)ra[i] * (ra[i] - 1) / 2;
		sb += (double)rb[i] * (rb[i] - 1) / 2;
	}
	exp = sa * sb / ((double)n * (n - 1) / 2);
	max = (sa + sb) / 2;
	if (max == exp)
		return 1;
	return (sij - exp) / (max - exp);
}
