/*
 * mutorch/floats.h - float conversions identical to torch's casts: float32
 * to and from IEEE binary16 (fp16) and bfloat16 bits, and rounding half to
 * even (pure C, no torch).
 *
 * The deployment operators (WPR, QNT) use them to reproduce what casting a
 * tensor in PyTorch gives, bit for bit.
 */
#ifndef MUTORCH_FLOATS_H
#define MUTORCH_FLOATS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* float32 -> IEEE binary16 bits, round to nearest even, overflow to inf,
 * subnormals kept, NaN stays NaN (as x.half()). */
uint16_t mt_float_to_fp16(float x);
float mt_fp16_to_float(uint16_t h);
/* float32 -> bfloat16 bits, round to nearest even, NaN -> 0x7fc0 (as
 * x.bfloat16()). */
uint16_t mt_float_to_bf16(float x);
float mt_bf16_to_float(uint16_t h);
/* The IEEE bits of a float32 and back (BF flips them; "changed" means
 * the bits differ, so that -0.0 and NaN payloads count). */
uint32_t mt_float_bits(float x);
float mt_float_from_bits(uint32_t u);
/* Round half to even (as torch.round / nearbyint in the default mode). */
float mt_round_half_even(float x);

#ifdef __cplusplus
}
#endif
#endif
