/*
 * The operators' own random numbers and float conversions.
 *
 * The generator is xoshiro256** (Blackman and Vigna) seeded by four
 * successive splitmix64 outputs, so every mutant is reproducible from its
 * seed alone on every platform; neither rand() nor torch's generator is used.
 * The fp16 / bf16 conversions reproduce c10's (x.half(), x.bfloat16()) bit
 * for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/operators.h"

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void mt_rng_seed(mt_rng *rng, uint64_t seed)
{
	uint64_t sm = seed;
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&sm);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t mt_rng_next(mt_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double mt_rng_uniform(mt_rng *rng)
{
	return (double)(mt_rng_next(rng) >> 11) * 0x1.0p-53;
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

double mt_rng_normal(mt_rng *rng)
{
	double u1 = (double)((mt_rng_next(rng) >> 11) + 1) * 0x1.0p-53;
	double u2 = mt_rng_uniform(rng);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int mt_rng_sample(int64_t *out, mt_rng *rng, int64_t n, int64_t k)
{
	if (n < 0 || k < 0 || k > n)
		return mt_error_set(MT_EINVALID,
				    "rng: cannot sample %lld of %lld, expected 0 <= k <= n",
				    (long long)k, (long long)n);
	if (k == 0)
		return 0;
	int64_t *a = malloc((size_t)n * sizeof(*a));
	if (!a)
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

/* ---- conversions --------------------------------------------------------- */

static uint32_t float_bits(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof(u));
	return u;
}

static float bits_float(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

uint16_t mt_float_to_fp16(float x)
{
	uint32_t f = float_bits(x);
	uint16_t sign = (uint16_t)((f >> 16) & 0x8000u);
	uint32_t absf = f & 0x7fffffffu;
	if (absf > 0x7f800000u) /* NaN: c10 gives the canonical quiet NaN */
		return sign | 0x7e00u;
	if (absf >= 0x477ff000u) /* >= 65520 rounds to infinity */
		return sign | 0x7c00u;
	if (absf < 0x38800000u) {
		/* below 2^-14: a subnormal half, i.e. a multiple of 2^-24; the
		 * scaling is exact and rintf rounds half to even (1024 becomes
		 * the smallest normal, whose encoding is the same integer) */
		float scaled = bits_float(absf) * 0x1.0p24f;
		return sign | (uint16_t)rintf(scaled);
	}
	/* normal: rebias the exponent (127 -> 15) and round the 13 dropped
	 * mantissa bits to nearest even; a carry moves into the exponent */
	uint32_t rounded = absf + 0xfffu + ((absf >> 13) & 1u);
	return sign | (uint16_t)((rounded - 0x38000000u) >> 13);
}

float mt_fp16_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t mant = h & 0x3ffu;
	if (exp == 0) {
		/* zero or subnormal: mant * 2^-24, exact in float */
		float v = (float)mant * 0x1.0p-24f;
		return bits_float(float_bits(v) | sign);
	}
	if (exp == 0x1f)
		return bits_float(sign | 0x7f800000u | (mant << 13));
	return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t mt_float_to_bf16(float x)
{
	if (isnan(x))
		return 0x7fc0u;
	uint32_t u = float_bits(x);
	uint32_t rounding_bias = ((u >> 16) & 1u) + 0x7fffu;
	return (uint16_t)((u + rounding_bias) >> 16);
}

float mt_bf16_to_float(uint16_t h)
{
	return bits_float((uint32_t)h << 16);
}

float mt_round_half_even(float x)
{
	return nearbyintf(x);
}
