/* The shards' deal (mt_shard_assign) and the --shard argument
 * (mt_shard_parse): deterministic, every item dealt once, balanced within
 * the longest-first bound, and bad K/N refused. (runner/shard.c is part of
 * the runner library, which links libtorch: hence a torch_ test.) */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/rng.h"
#include "mutorch/shard.h"

Test(shard_deal, parse_accepts_k_of_n_and_refuses_the_rest)
{
	int k, n;
	cr_assert_eq(mt_shard_parse(&k, &n, "2/3"), 0);
	cr_assert_eq(k, 2);
	cr_assert_eq(n, 3);
	cr_assert_eq(mt_shard_parse(&k, &n, "1/1"), 0);
	const char *bad[] = {"0/3", "4/3", "3", "/3", "1/", "a/b", "1/3x", "-1/3", "1/0", "1/1000001", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(mt_shard_parse(&k, &n, bad[i]), MT_EINVALID, "'%s' accepted", bad[i]);
		cr_assert(strstr(mt_error_last(), "K/N"), "%s", mt_error_last());
	}
}

Test(shard_deal, longest_first_balanced_and_deterministic)
{
	enum { N = 200, W = 7 };
	double cost[N], load[W] = {0}, total = 0, max_item = 0, max_load = 0, min_load = 1e300;
	int owner[N], again[N];
	mt_rng rng;

	mt_rng_seed(&rng, 11);
	for (int i = 0; i < N; i++) {
		/* a few long items among many short ones, as first layers
		 * among last ones */
		cost[i] = i % 10 == 0 ? 1.0 + mt_rng_uniform(&rng) : 0.1 + 0.2 * mt_rng_uniform(&rng);
		total += cost[i];
		if (cost[i] > max_item)
			max_item = cost[i];
	}
	cr_assert_eq(mt_shard_assign(owner, cost, N, W), 0);
	cr_assert_eq(mt_shard_assign(again, cost, N, W), 0);
	cr_assert_eq(memcmp(owner, again, sizeof(owner)), 0, "the deal is not deterministic");
	for (int i = 0; i < N; i++) {
		cr_assert(owner[i] >= 0 && owner[i] < W);
		load[owner[i]] += cost[i];
	}
	for (int s = 0; s < W; s++) {
		if (load[s] > max_load)
			max_load = load[s];
		if (load[s] < min_load)
			min_load = load[s];
	}
	/* list scheduling's bound: no shard exceeds the mean by more than
	 * the longest item */
	cr_assert_leq(max_load, total / W + max_item, "%g > %g", max_load, total / W + max_item);
	cr_assert_leq(max_load - min_load, max_item + 1e-12);
}

Test(shard_deal, more_shards_than_items_and_equal_costs)
{
	double cost[3] = {1, 1, 1};
	int owner[3];
	cr_assert_eq(mt_shard_assign(owner, cost, 3, 5), 0);
	/* ties go to the lower item and the lower shard: 0, 1, 2 */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(owner[i], i);
	cr_assert_eq(mt_shard_assign(owner, cost, 0, 5), 0);
}
