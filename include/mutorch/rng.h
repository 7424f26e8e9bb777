/*
 * mutorch/rng.h - the seeded random numbers every mutorch decision uses.
 *
 * xoshiro256** seeded through splitmix64 (Blackman and Vigna): fast, good
 * quality and, unlike rand() or torch's generator, fully specified, so a
 * mutant or a data order depends only on the seed and this file.
 */
#ifndef MUTORCH_RNG_H
#define MUTORCH_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	uint64_t s[4];
} mt_rng;

/* Seed the state from one 64-bit value (splitmix64 expansion). */
void mt_rng_seed(mt_rng *rng, uint64_t seed);
/* Derive a seed from a base seed and a stream number (run i, epoch e, ...). */
uint64_t mt_rng_derive(uint64_t seed, uint64_t stream);
/* The seed of a named thing (a mutant): mt_rng_derive(seed,
 * FNV-1a-64(id)), so adding or removing other names changes no seed. */
uint64_t mt_rng_seed_for_id(uint64_t seed, const char *id);
uint64_t mt_rng_next(mt_rng *rng);
/* Uniform integer in [0, n), n >= 1, without modulo bias: draws r until
 * r >= (2^64 - n) % n, returns r % n (usually one draw). */
uint64_t mt_rng_below(mt_rng *rng, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double mt_rng_uniform(mt_rng *rng);
/* Standard normal by Box-Muller, two draws per value, no caching:
 * u1 = ((next >> 11) + 1) * 2^-53 in (0, 1], u2 = uniform [0, 1),
 * z = sqrt(-2 ln u1) * cos(2 pi u2). */
double mt_rng_normal(mt_rng *rng);
/* k distinct indices of [0, n) by a partial Fisher-Yates shuffle of
 * 0..n-1: for i in 0..k-1, j = i + below(n - i), swap(a[i], a[j]); out
 * receives a[0..k) in draw order (not sorted). k <= n. */
int mt_rng_sample(int64_t *out, mt_rng *rng, int64_t n, int64_t k);
/* Shuffle a float array in place (Fisher-Yates from the end: for i = n-1
 * down to 1, j = below(i + 1), swap(a[i], a[j])). */
void mt_rng_shuffle_floats(mt_rng *rng, float *a, int64_t n);
/* Fisher-Yates from the end (for i = n-1 down to 1, j = below(i + 1),
 * swap): order[0..n) becomes a random permutation of 0..n-1. */
void mt_rng_permutation(mt_rng *rng, int64_t *order, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
