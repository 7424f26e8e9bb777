/*
 * Float conversions the precision operators need, reproducing c10's casts
 * (x.half(), x.bfloat16()) bit for bit. (Random numbers: mutorch/rng.h.)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/floats.h"

/* ---- conversions --------------------------------------------------------- */

uint32_t mt_float_bits(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof(u));
	return u;
}

float mt_float_from_bits(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

uint16_t mt_float_to_fp16(float x)
{
	uint32_t f = mt_float_bits(x);
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
		float scaled = mt_float_from_bits(absf) * 0x1.0p24f;
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
		return mt_float_from_bits(mt_float_bits(v) | sign);
	}
	if (exp == 0x1f)
		return mt_float_from_bits(sign | 0x7f800000u | (mant << 13));
	return mt_float_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t mt_float_to_bf16(float x)
{
	if (isnan(x))
		return 0x7fc0u;
	uint32_t u = mt_float_bits(x);
	uint32_t rounding_bias = ((u >> 16) & 1u) + 0x7fffu;
	return (uint16_t)((u + rounding_bias) >> 16);
}

float mt_bf16_to_float(uint16_t h)
{
	return mt_float_from_bits((uint32_t)h << 16);
}

float mt_round_half_even(float x)
{
	return nearbyintf(x);
}
