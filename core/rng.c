/* xoshiro256** and splitmix64, as published by Blackman and Vigna. */
#include "mutorch/rng.h"

#include "mutorch/error.h"
#include "mutorch/hash.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void mt_rng_seed(mt_rng *rng, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
}

uint64_t mt_rng_derive(uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
	splitmix64(&x);
	return splitmix64(&x);
}

uint64_t mt_rng_seed_for_id(uint64_t seed, const char *id)
{
	return mt_rng_derive(seed, mt_fnv1a64(id, strlen(id), MT_FNV1A64_INIT));
}

uint64_t mt_rng_next(mt_rng *rng)
{
	uint64_t *s = rng->s;
	const uint64_t result = rotl(s[1] * 5, 7) * 9;
	const uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t mt_rng_below(mt_rng *rng, uint64_t n)
{
	if (n <= 1)
		return 0;
	/* (2^64 - n) % n: the values below it make r % n biased */
	uint64_t threshold = (0 - n) % n;
	for (;;) {
		uint64_t r = mt_rng_next(rng);
		if (r >= threshold)
			return r % n;
	}
}

double mt_rng_uniform(mt_rng *rng)
{
	return (double)(mt_rng_next(rng) >> 11) * 0x1.0p-53;
}

double mt_rng_normal(mt_rng *rng)
{
	double u1 = (double)((mt_rng_next(rng) >> 11) + 1) * 0x1.0p-53;
	double u2 = mt_rng_uniform(rng);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int mt_rng_sample(int64_t *out, mt_rng *rng, int64_t n, int64_t k)
{
	int64_t *a;

	if (n < 0 || k < 0 || k > n)
		return mt_error_set(MT_EINVALID,
				    "rng: cannot sample %lld of %lld, expected 0 <= k <= n",
				    (long long)k, (long long)n);
	if (k == 0)
		return 0;
	if (!(a = malloc((size_t)n * sizeof(*a))))
		return mt_error_set(MT_ENOMEM, "rng: out of memory sampling %lld of %lld",
				    (long long)k, (long long)n);
	for (int64_t i = 0; i < n; i++)
		a[i] = i;
	for (int64_t i = 0; i < k; i++) {
		int64_t j = i + (int64_t)mt_rng_below(rng, (uint64_t)(n - i));
		int64_t t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
	memcpy(out, a, (size_t)k * sizeof(*a));
	free(a);
	return 0;
}

void mt_rng_shuffle_floats(mt_rng *rng, float *a, int64_t n)
{
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)mt_rng_below(rng, (uint64_t)i + 1);
		float t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

void mt_rng_permutation(mt_rng *rng, int64_t *order, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		order[i] = i;
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)mt_rng_below(rng, (uint64_t)i + 1);
		int64_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}
