/*
 * mutorch/stats_search.h - DeepCrime's bisection search for the weakest
 * killing value of a numeric source-level operator (a label-error
 * fraction, a number of epochs, ...).
 *
 * The search is a state machine: ask for the next value, train and decide
 * at it, report whether it killed. Or run it whole with a callback. It
 * assumes that killing is monotone in the value; docs/statistics.md says
 * what it returns when a statistical verdict is only monotone in
 * expectation.
 */
#ifndef MUTORCH_STATS_SEARCH_H
#define MUTORCH_STATS_SEARCH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- */
/* DeepCrime's bisection search for the weakest killing value.       */

typedef enum {
	/* larger values are stronger mutations (kill more): the weakest
	 * killing value is the smallest one that kills */
	MT_STATS_STRONGER_UP = 0,
	/* smaller values are stronger: the weakest is the largest */
	MT_STATS_STRONGER_DOWN
} mt_stats_direction;

typedef struct {
	/* public, read after each step */
	double weak, strong;    /* the weak end never killed (or is the
	                         * search start), the strong end killed */
	int done;               /* 1 when the search is over */
	int found;              /* done: 1 when some value killed */
	double weakest;         /* done && found: the weakest killing value */
	size_t evaluations;     /* values tried */
	/* private */
	double precision;
	int integer, strong_checked;
	double pending;
} mt_stats_bisection;

/* Search [lo, hi] (lo < hi) for the weakest killing value, to within
 * precision (> 0; for integer parameters pass integer = 1 and values are
 * whole numbers, precision >= 1). As DeepCrime: first the strongest end is
 * tried; if it does not kill, the operator is not killable in the range;
 * else binary search between the weak end (taken as not killing: it is the
 * value closest to the original) and the last killing value until they are
 * closer than precision. */
int mt_stats_bisection_init(mt_stats_bisection *b, double lo, double hi,
			    double precision, mt_stats_direction direction,
			    int integer);
/* The next value to train and test; 0 when there is one, 1 when done
 * (then b->found / b->weakest hold the answer). */
int mt_stats_bisection_next(mt_stats_bisection *b, double *value);
/* Report the outcome of the value mt_stats_bisection_next returned. */
int mt_stats_bisection_report(mt_stats_bisection *b, double value, int killed);

/* The whole search with a callback: is_killed sets *killed for a value and
 * returns 0, or a negative code that stops the search and is returned. */
typedef int (*mt_stats_kill_predicate)(int *killed, double value,
				       void *payload);
int mt_stats_bisection_run(mt_stats_bisection *b, double lo, double hi,
			   double precision, mt_stats_direction direction,
			   int integer, mt_stats_kill_predicate is_killed,
			   void *payload);

#ifdef __cplusplus
}
#endif
#endif
