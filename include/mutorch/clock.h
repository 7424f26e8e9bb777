/*
 * mutorch/clock.h - elapsed time.
 */
#ifndef MUTORCH_CLOCK_H
#define MUTORCH_CLOCK_H

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds on the monotonic clock (only differences mean anything). */
double mt_clock_now(void);
/* CPU seconds of the whole process, all threads (differences only): on a
 * shared machine, a figure that other processes disturb less. */
double mt_clock_cpu(void);

#ifdef __cplusplus
}
#endif
#endif
