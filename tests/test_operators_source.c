/* Source-level operators (operators/source*.c) on a hand-made 10-sample
 * dataset and a small recipe: exact maps, labels, noise and recipes,
 * determinism, refused equal configurations, the planner's target lists
 * and parameter errors. Expected random choices are recomputed here from
 * the draw order docs/operators.md documents, with mutorch/rng.h. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/arch.h"
#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/recipe.h"
#include "mutorch/rng.h"
#include "mutorch/source.h"
#include "mutorch/source_plan.h"

/* layers: 0 conv2d 1 relu 2 maxpool2d 3 dropout 4 flatten 5 linear(64,16)
 * 6 tanh 7 linear(16,16) 8 relu 9 linear(16,3) */
#define ARCH "conv2d(1,4,3,padding=1) relu maxpool2d(2) dropout(0.4) flatten " \
	     "linear(64,16) tanh linear(16,16) relu linear(16,3)"

static const char *const yaml_arch =
	"model:\n"
	"  architecture: \"" ARCH "\"\n"
	"  input_shape: [1, 8, 8]\n"
	"data:\n"
	"  format: npy\n"
	"  classes: 3\n"
	"  train: {x: x.npy, y: y.npy}\n"
	"  test: {x: x.npy, y: y.npy}\n"
	"  normalize: {scale: 255}\n"
	"  validation_split: 0.2\n"
	"training:\n"
	"  optimizer: {name: adam, lr: 0.001}\n"
	"  loss: cross_entropy\n"
	"  epochs: 10\n"
	"  batch_size: 4\n"
	"  l2: 0.001\n"
	"  patience: 3\n";

static const char *const yaml_ts =
	"model:\n"
	"  torchscript: model.pt\n"
	"data:\n"
	"  format: npy\n"
	"  classes: 3\n"
	"  train: {x: x.npy, y: y.npy}\n"
	"  test: {x: x.npy, y: y.npy}\n"
	"training:\n"
	"  batch_size: 64\n";

/* class 0: 0 2 4 6 9 (5), class 1: 1 5 8 (3), class 2: 3 7 (2) */
static const int64_t labels10[10] = { 0, 1, 0, 2, 0, 1, 0, 2, 1, 0 };

static mt_config *load(const char *yaml)
{
	mt_config *cfg = NULL;
	cr_assert_eq(mt_config_load_buffer(&cfg, yaml, strlen(yaml), "mutorch.yml", "/base"), 0,
		     "%s", mt_error_last());
	return cfg;
}

static mt_dataset *dataset10(void)
{
	uint8_t px[10 * 64];
	int64_t shape[3] = { 1, 8, 8 };
	mt_dataset *ds = NULL;
	for (int i = 0; i < 10 * 64; i++)
		px[i] = (uint8_t)((i * 37) % 256);
	cr_assert_eq(mt_dataset_new(&ds, "train10", MT_PIXELS_U8, px, labels10, 10, shape, 3), 0,
		     "%s", mt_error_last());
	return ds;
}

/* Apply with params "k=v" pairs (NULL-terminated). */
static int apply_kv(mt_source_mutant **mu, const mt_config *cfg, const mt_dataset *ds,
		    const char *op, const char *const *kv, uint64_t seed)
{
	mt_config_param p[8];
	size_t n = 0;
	for (size_t i = 0; kv && kv[i]; i += 2, n++) {
		p[n].key = (char *)kv[i];
		p[n].value = (char *)kv[i + 1];
		p[n].line = 0;
	}
	return mt_source_apply(mu, cfg, ds, op, p, n, seed);
}

static mt_source_mutant *must(const mt_config *cfg, const mt_dataset *ds, const char *op,
			      const char *const *kv, uint64_t seed)
{
	mt_source_mutant *mu = NULL;
	cr_assert_eq(apply_kv(&mu, cfg, ds, op, kv, seed), 0, "%s: %s", op, mt_error_last());
	cr_assert_not_null(mu);
	cr_assert_eq(mu->not_applicable, 0, "%s: %s", op, mu->reason);
	cr_assert_not_null(mu->config);
	cr_assert_not_null(mu->params);
	cr_assert_not_null(mu->description);
	return mu;
}

static void refused(const mt_config *cfg, const mt_dataset *ds, const char *op,
		    const char *const *kv, const char *why)
{
	mt_source_mutant *mu = NULL;
	cr_assert_eq(apply_kv(&mu, cfg, ds, op, kv, 1), 0, "%s: %s", op, mt_error_last());
	cr_assert_eq(mu->not_applicable, 1, "%s should be refused (%s)", op, why);
	cr_assert(strstr(mu->reason, why), "%s: reason '%s' lacks '%s'", op, mu->reason, why);
	cr_assert(strstr(mu->reason, op), "reason '%s' names the operator", mu->reason);
	cr_assert_null(mu->config);
	cr_assert_null(mu->order_map);
	mt_source_mutant_free(mu);
}

static void fails(const mt_config *cfg, const mt_dataset *ds, const char *op,
		  const char *const *kv, const char *param)
{
	mt_source_mutant *mu = NULL;
	cr_assert_eq(apply_kv(&mu, cfg, ds, op, kv, 1), MT_EINVALID, "%s with a bad %s", op, param);
	cr_assert_null(mu);
	const char *msg = mt_error_last();
	cr_assert(strncmp(msg, op, strlen(op)) == 0, "message '%s' starts with the operator", msg);
	cr_assert(strstr(msg, param), "message '%s' names '%s'", msg, param);
}

static char *canonical(const char *text)
{
	mt_arch *a = NULL;
	char *s = NULL;
	cr_assert_eq(mt_arch_parse(&a, text), 0, "%s", mt_error_last());
	cr_assert_eq(mt_arch_format(&s, a), 0);
	mt_arch_free(a);
	return s;
}

static void arch_is(const mt_source_mutant *mu, const char *expected)
{
	char *want = canonical(expected);
	cr_assert_str_eq(mu->config->architecture, want);
	free(want);
}

/* The recipe apart from what an operator changed must stay as it was. */
static void recipe_same_except_arch(const mt_config *a, const mt_config *b)
{
	cr_assert_eq(a->init, b->init);
	cr_assert_eq(a->optim.kind, b->optim.kind);
	cr_assert_eq(a->optim.lr, b->optim.lr);
	cr_assert_eq(a->loss, b->loss);
	cr_assert_eq(a->epochs, b->epochs);
	cr_assert_eq(a->batch_size, b->batch_size);
	cr_assert_eq(a->l1, b->l1);
	cr_assert_eq(a->l2, b->l2);
	cr_assert_eq(a->grad_clip, b->grad_clip);
	cr_assert_eq(a->patience, b->patience);
	cr_assert_eq(a->validation_split, b->validation_split);
	cr_assert_str_eq(a->train.paths[0], b->train.paths[0]);
}

/* ---- registry ---------------------------------------------------------------- */

Test(source, registry_lists_every_source_operator)
{
	static const char *const ops[] = { "DR", "LE", "DM", "DF", "NP", "TCL", "TRD", "TUD",
		"TAN", "TCO", "LRs", "LAs", "AFRs", "ACH", "ARM", "AAL", "HBS", "HLR", "HNE", "HDB",
		"RAW", "RCW", "RRW", "RCD", "RCP", "WCI", "WAB", "WRB", "LCH", "OCH", "OCG", "VRM" };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		const mt_operator *op = mt_operator_find(ops[i]);
		cr_assert_not_null(op, "%s registered", ops[i]);
		cr_assert_eq(op->level, MT_OP_LEVEL_SOURCE, "%s", ops[i]);
		cr_assert_eq(op->kind, MT_OP_KIND_SOURCE, "%s", ops[i]);
		cr_assert_null(op->apply);
		cr_assert_eq(mt_source_op_is_random(ops[i]), i < 10, "%s", ops[i]);
	}
	cr_assert_eq(mt_source_op_is_random("GF"), 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cr_assert_eq(mt_operators_print(f), 0);
	fclose(f);
	cr_assert(strstr(text, "ACH   source activation change"), "%s", text);
	cr_assert(strstr(text, "activation=- (relu|leaky_relu|elu|gelu|tanh|sigmoid|softmax)"));
	cr_assert(strstr(text, "GF    model"));
	free(text);
}

Test(source, model_level_and_unknown_operators_are_refused)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	mt_source_mutant *mu = NULL;
	cr_assert_eq(mt_source_apply(&mu, cfg, ds, "GF", NULL, 0, 1), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "model-level"), "%s", mt_error_last());
	cr_assert_eq(mt_source_apply(&mu, cfg, ds, "XYZ", NULL, 0, 1), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "not known") && strstr(mt_error_last(), "VRM"),
		  "%s", mt_error_last());
	cr_assert_eq(mt_source_apply(&mu, cfg, NULL, "DR", NULL, 0, 1), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "training set"), "%s", mt_error_last());
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

/* ---- data operators ------------------------------------------------------------ */

Test(source, dr_repeats_drawn_samples_after_the_original_order)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	mt_source_mutant *mu = must(cfg, ds, "DR", (const char *[]){ "ratio", "0.2", NULL }, 7);
	int64_t s[2];
	mt_rng r;
	mt_rng_seed(&r, 7);
	mt_rng_sample(s, &r, 10, 2);
	cr_assert_eq(mu->n_map, 12);
	for (int64_t i = 0; i < 10; i++)
		cr_assert_eq(mu->order_map[i], i);
	cr_assert_eq(mu->order_map[10], s[0]);
	cr_assert_eq(mu->order_map[11], s[1]);
	cr_assert_null(mu->labels);
	cr_assert_eq(mu->nnoise, 0);
	cr_assert_eq(mu->is_data, 1);
	cr_assert_str_eq(mu->params, "DR ratio=0.2 class=all seed=7");
	recipe_same_except_arch(mu->config, cfg);
	cr_assert_str_eq(mu->config->architecture, cfg->architecture);
	mt_source_mutant_free(mu);

	/* class 1 = samples 1, 5, 8: ratio 1 repeats each once, in draw order */
	mu = must(cfg, ds, "DR", (const char *[]){ "ratio", "1", "class", "1", NULL }, 3);
	mt_rng_seed(&r, 3);
	int64_t t[3], pool[3] = { 1, 5, 8 };
	mt_rng_sample(t, &r, 3, 3);
	cr_assert_eq(mu->n_map, 13);
	for (int j = 0; j < 3; j++)
		cr_assert_eq(mu->order_map[10 + j], pool[t[j]]);
	cr_assert_str_eq(mu->params, "DR ratio=1 class=1 seed=3");
	mt_source_mutant_free(mu);
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

Test(source, dm_deletes_and_refuses_an_empty_set)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	mt_source_mutant *mu = must(cfg, ds, "DM", (const char *[]){ "ratio", "1", "class", "2", NULL }, 5);
	int64_t want[8] = { 0, 1, 2, 4, 5, 6, 8, 9 };
	cr_assert_eq(mu->n_map, 8);
	cr_assert_arr_eq(mu->order_map, want, sizeof(want));
	mt_source_mutant_free(mu);

	/* global 0.3: 3 drawn samples gone, the rest in order */
	mu = must(cfg, ds, "DM", (const char *[]){ "ratio", "0.3", NULL }, 11);
	mt_rng r;
	int64_t s[3];
	mt_rng_seed(&r, 11);
	mt_rng_sample(s, &r, 10, 3);
	cr_assert_eq(mu->n_map, 7);
	for (int64_t j = 0, i = 0; i < 10; i++) {
		if (i == s[0] || i == s[1] || i == s[2])
			continue;
		cr_assert_eq(mu->order_map[j++], i);
	}
	mt_source_mutant_free(mu);
	refused(cfg, ds, "DM", (const char *[]){ "ratio", "1", NULL }, "every training sample");
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

Test(source, le_draws_a_wrong_label_from_the_others)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	mt_source_mutant *mu = must(cfg, ds, "LE", (const char *[]){ "ratio", "0.3", NULL }, 21);
	mt_rng r;
	int64_t s[3], want[10];
	memcpy(want, labels10, sizeof(want));
	mt_rng_seed(&r, 21);
	mt_rng_sample(s, &r, 10, 3);
	for (int j = 0; j < 3; j++) {
		int64_t x = (int64_t)mt_rng_below(&r, 2);
		want[s[j]] = x < labels10[s[j]] ? x : x + 1;
	}
	cr_assert_eq(mu->n_map, 10);
	cr_assert_not_null(mu->labels);
	cr_assert_arr_eq(mu->labels, want, sizeof(want));
	int changed = 0;
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(mu->order_map[i], i);
		changed += mu->labels[i] != labels10[i];
	}
	cr_assert_eq(changed, 3, "every chosen label is wrong");
	mt_source_mutant_free(mu);

	/* class 2 only: samples 3 and 7 change, to 0 or 1 */
	mu = must(cfg, ds, "LE", (const char *[]){ "ratio", "1", "class", "2", NULL }, 4);
	for (int i = 0; i < 10; i++)
		if (i == 3 || i == 7)
			cr_assert(mu->labels[i] == 0 || mu->labels[i] == 1);
		else
			cr_assert_eq(mu->labels[i], labels10[i]);
	mt_source_mutant_free(mu);
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

Test(source, df_permutes_the_chosen_positions_only)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	for (uint64_t seed = 1; seed <= 20; seed++) {
		mt_source_mutant *mu = must(cfg, ds, "DF", (const char *[]){ "ratio", "0.5", NULL }, seed);
		mt_rng r;
		int64_t s[5], perm[5], want[10];
		mt_rng_seed(&r, seed);
		mt_rng_sample(s, &r, 10, 5);
		for (int a = 0; a < 5; a++) /* ascending */
			for (int b = a + 1; b < 5; b++)
				if (s[b] < s[a]) {
					int64_t t = s[a];
					s[a] = s[b];
					s[b] = t;
				}
		mt_rng_permutation(&r, perm, 5);
		int identity = 1;
		for (int j = 0; j < 5; j++)
			identity &= perm[j] == j;
		for (int j = 0; identity && j < 5; j++)
			perm[j] = (j + 1) % 5;
		for (int i = 0; i < 10; i++)
			want[i] = i;
		for (int j = 0; j < 5; j++)
			want[s[j]] = s[perm[j]];
		cr_assert_eq(mu->n_map, 10);
		cr_assert_arr_eq(mu->order_map, want, sizeof(want), "seed %llu", (unsigned long long)seed);
		int moved = 0;
		for (int i = 0; i < 10; i++)
			moved += mu->order_map[i] != i;
		cr_assert(moved >= 2, "DF never keeps the original order");
		mt_source_mutant_free(mu);
	}
	refused(cfg, ds, "DF", (const char *[]){ "ratio", "0.05", NULL }, "2 or more");
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

Test(source, np_lists_noisy_rows_and_build_train_adds_the_noise)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	mt_source_mutant *mu = must(cfg, ds, "NP", (const char *[]){ "ratio", "0.2", "sigma", "0.5", NULL }, 9);
	mt_rng r;
	int64_t s[2];
	mt_rng_seed(&r, 9);
	mt_rng_sample(s, &r, 10, 2);
	cr_assert_eq(mu->nnoise, 2);
	for (int j = 0; j < 2; j++) {
		cr_assert_eq(mu->noise[j].index, s[j]);
		cr_assert_eq(mu->noise[j].sigma, 0.5);
		cr_assert_eq(mu->noise[j].seed, mt_rng_next(&r));
	}
	cr_assert_str_eq(mu->params, "NP ratio=0.2 class=all sigma=0.5 seed=9");

	mt_dataset *out = NULL;
	cr_assert_eq(mt_source_build_train(&out, mu, ds, cfg), 0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_count(out), 10);
	cr_assert_eq(mt_dataset_pixel_type(out), MT_PIXELS_F32);
	const float *f = mt_dataset_pixels(out);
	const uint8_t *u = mt_dataset_pixels(ds);
	for (int i = 0; i < 10; i++) {
		int noisy = i == s[0] || i == s[1];
		float row[64];
		for (int e = 0; e < 64; e++)
			row[e] = (float)u[i * 64 + e];
		if (noisy) {
			mt_rng nr;
			mt_rng_seed(&nr, mu->noise[i == s[0] ? 0 : 1].seed);
			for (int e = 0; e < 64; e++)
				row[e] = (float)((double)row[e] + 255.0 * 0.5 * mt_rng_normal(&nr));
		}
		int differs = 0;
		for (int e = 0; e < 64; e++) {
			cr_assert_eq(f[i * 64 + e], row[e], "sample %d element %d", i, e);
			differs |= f[i * 64 + e] != (float)u[i * 64 + e];
		}
		cr_assert_eq(differs, noisy, "sample %d", i);
		cr_assert_eq(mt_dataset_labels(out)[i], labels10[i]);
	}
	mt_dataset_free(out);
	mt_source_mutant_free(mu);
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

Test(source, tan_sigma_is_relative_to_the_pixel_std)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	mt_source_mutant *mu = must(cfg, ds, "TAN", (const char *[]){ "ratio", "0.1", "factor", "2", NULL }, 2);
	const uint8_t *u = mt_dataset_pixels(ds);
	double sum = 0, sq = 0;
	for (int e = 0; e < 640; e++)
		sum += u[e] / 255.0;
	for (int e = 0; e < 640; e++)
		sq += (u[e] / 255.0 - sum / 640) * (u[e] / 255.0 - sum / 640);
	double std = sqrt(sq / 640);
	cr_assert(std > 0.2 && std < 0.4, "std %g", std);
	cr_assert_eq(mu->nnoise, 1);
	cr_assert_float_eq(mu->noise[0].sigma, 2 * std, 1e-12);
	mt_source_mutant_free(mu);
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

Test(source, tcl_relabels_the_most_frequent_class)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	/* class 0 (5 samples) is the most frequent: 2 of them become class 2 */
	mt_source_mutant *mu = must(cfg, ds, "TCL", (const char *[]){ "ratio", "0.4", "to", "2", NULL }, 8);
	mt_rng r;
	int64_t s[2], pool[5] = { 0, 2, 4, 6, 9 }, want[10];
	mt_rng_seed(&r, 8);
	mt_rng_sample(s, &r, 5, 2);
	memcpy(want, labels10, sizeof(want));
	want[pool[s[0]]] = want[pool[s[1]]] = 2;
	cr_assert_arr_eq(mu->labels, want, sizeof(want));
	cr_assert_str_eq(mu->params, "TCL ratio=0.4 to=2 seed=8");
	mt_source_mutant_free(mu);

	/* random target: the chosen class-0 samples get 1 or 2 */
	mu = must(cfg, ds, "TCL", (const char *[]){ "ratio", "1", NULL }, 8);
	for (int i = 0; i < 10; i++)
		if (labels10[i] == 0)
			cr_assert(mu->labels[i] == 1 || mu->labels[i] == 2);
		else
			cr_assert_eq(mu->labels[i], labels10[i]);
	mt_source_mutant_free(mu);
	refused(cfg, ds, "TCL", (const char *[]){ "to", "0", NULL }, "most frequent class itself");
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

static void class_counts(int64_t counts[3], const mt_source_mutant *mu)
{
	counts[0] = counts[1] = counts[2] = 0;
	for (int64_t j = 0; j < mu->n_map; j++)
		counts[mu->labels ? mu->labels[j] : labels10[mu->order_map[j]]]++;
}

Test(source, trd_and_tud_delete_per_class)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	int64_t c[3];
	/* TRD 0.5: llround(2.5) = 3 of class 0, llround(1.5) = 2 of class 1, 1 of class 2 */
	mt_source_mutant *mu = must(cfg, ds, "TRD", (const char *[]){ "ratio", "0.5", NULL }, 6);
	class_counts(c, mu);
	cr_assert_eq(mu->n_map, 4);
	cr_assert_eq(c[0], 2);
	cr_assert_eq(c[1], 1);
	cr_assert_eq(c[2], 1);
	for (int64_t j = 1; j < mu->n_map; j++)
		cr_assert_gt(mu->order_map[j], mu->order_map[j - 1], "kept samples stay in order");
	/* exact: per class ascending, sample from that class's pool */
	mt_rng r;
	int64_t p0[5] = { 0, 2, 4, 6, 9 }, p1[3] = { 1, 5, 8 }, p2[2] = { 3, 7 }, s[3];
	unsigned char del[10] = { 0 };
	mt_rng_seed(&r, 6);
	mt_rng_sample(s, &r, 5, 3);
	for (int j = 0; j < 3; j++)
		del[p0[s[j]]] = 1;
	mt_rng_sample(s, &r, 3, 2);
	for (int j = 0; j < 2; j++)
		del[p1[s[j]]] = 1;
	mt_rng_sample(s, &r, 2, 1);
	del[p2[s[0]]] = 1;
	for (int64_t j = 0, i = 0; i < 10; i++)
		if (!del[i])
			cr_assert_eq(mu->order_map[j++], i);
	mt_source_mutant_free(mu);

	/* TUD: average 10/3; classes 1 (3) and 2 (2) lose 2 and 1, class 0 keeps 5 */
	mu = must(cfg, ds, "TUD", (const char *[]){ "ratio", "0.5", NULL }, 6);
	class_counts(c, mu);
	cr_assert_eq(c[0], 5);
	cr_assert_eq(c[1], 1);
	cr_assert_eq(c[2], 1);
	cr_assert_str_eq(mu->params, "TUD ratio=0.5 seed=6");
	mt_source_mutant_free(mu);

	refused(cfg, ds, "TRD", (const char *[]){ "ratio", "0.05", NULL }, "no class loses");
	refused(cfg, ds, "TRD", (const char *[]){ "ratio", "1", NULL }, "every training sample");
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

Test(source, tco_duplicates_the_largest_class_as_the_second)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	mt_source_mutant *mu = must(cfg, ds, "TCO", (const char *[]){ "ratio", "0.4", NULL }, 12);
	mt_rng r;
	int64_t s[2], pool[5] = { 0, 2, 4, 6, 9 };
	mt_rng_seed(&r, 12);
	mt_rng_sample(s, &r, 5, 2);
	cr_assert_eq(mu->n_map, 12);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(mu->order_map[i], i);
		cr_assert_eq(mu->labels[i], labels10[i]);
	}
	for (int j = 0; j < 2; j++) {
		cr_assert_eq(mu->order_map[10 + j], pool[s[j]]);
		cr_assert_eq(mu->labels[10 + j], 1, "labelled as class 1, the second largest");
	}
	mt_dataset *out = NULL;
	cr_assert_eq(mt_source_build_train(&out, mu, ds, cfg), 0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_count(out), 12);
	cr_assert_eq(mt_dataset_pixel_type(out), MT_PIXELS_U8);
	cr_assert_eq(mt_dataset_labels(out)[11], 1);
	cr_assert_arr_eq((const uint8_t *)mt_dataset_pixels(out) + 11 * 64,
			 (const uint8_t *)mt_dataset_pixels(ds) + pool[s[1]] * 64, 64);
	mt_dataset_free(out);
	mt_source_mutant_free(mu);
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

Test(source, data_operators_are_deterministic_by_seed)
{
	mt_config *cfg = load(yaml_arch);
	enum { N = 999 }; /* 333 per class: balanced */
	static uint8_t px[N * 4];
	static int64_t lab[N];
	int64_t shape[3] = { 1, 2, 2 };
	mt_dataset *ds = NULL;
	for (int i = 0; i < N; i++)
		lab[i] = i % 3;
	cr_assert_eq(mt_dataset_new(&ds, "big", MT_PIXELS_U8, px, lab, N, shape, 3), 0);
	static const char *const ops[] = { "DR", "LE", "DM", "DF", "NP", "TCL", "TRD", "TAN", "TCO" };
	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		if (!strcmp(ops[o], "TAN"))
			continue; /* all-zero pixels: refused below */
		mt_source_mutant *a = must(cfg, ds, ops[o], NULL, 100);
		mt_source_mutant *b = must(cfg, ds, ops[o], NULL, 100);
		mt_source_mutant *c = must(cfg, ds, ops[o], NULL, 101);
		cr_assert_eq(a->n_map, b->n_map);
		cr_assert_arr_eq(a->order_map, b->order_map, (size_t)a->n_map * 8, "%s", ops[o]);
		if (a->labels)
			cr_assert_arr_eq(a->labels, b->labels, (size_t)a->n_map * 8);
		int differ = a->n_map != c->n_map ||
			     memcmp(a->order_map, c->order_map, (size_t)a->n_map * 8) != 0 ||
			     (a->labels && memcmp(a->labels, c->labels, (size_t)a->n_map * 8) != 0) ||
			     (a->nnoise && a->noise[0].index != c->noise[0].index);
		cr_assert(differ, "%s: another seed gives another mutant", ops[o]);
		mt_source_mutant_free(a);
		mt_source_mutant_free(b);
		mt_source_mutant_free(c);
	}
	refused(cfg, ds, "TAN", NULL, "std 0");
	/* TUD on balanced classes */
	refused(cfg, ds, "TUD", NULL, "smaller than the average");
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

/* ---- program operators: architecture ------------------------------------------ */

Test(source, layer_operators_rewrite_the_architecture)
{
	mt_config *cfg = load(yaml_arch);
	mt_source_mutant *mu;

	mu = must(cfg, NULL, "LRs", (const char *[]){ "layer", "7", NULL }, 0);
	arch_is(mu, "conv2d(1,4,3,padding=1) relu maxpool2d(2) dropout(0.4) flatten "
		    "linear(64,16) tanh relu linear(16,3)");
	recipe_same_except_arch(mu->config, cfg);
	cr_assert_eq(mu->is_data, 0);
	cr_assert_null(mu->order_map);
	cr_assert_eq(mu->n_map, 0);
	cr_assert_str_eq(mu->params, "LRs layer=7");
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "LAs", (const char *[]){ "layer", "7", NULL }, 0);
	arch_is(mu, "conv2d(1,4,3,padding=1) relu maxpool2d(2) dropout(0.4) flatten "
		    "linear(64,16) tanh linear(16,16) linear(16,16) relu linear(16,3)");
	cr_assert_str_eq(mu->params, "LAs layer=7 what=copy");
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "LAs", (const char *[]){ "layer", "5", "what", "batchnorm", NULL }, 0);
	arch_is(mu, "conv2d(1,4,3,padding=1) relu maxpool2d(2) dropout(0.4) flatten "
		    "linear(64,16) batchnorm1d(16) tanh linear(16,16) relu linear(16,3)");
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "LAs", (const char *[]){ "layer", "0", "what", "batchnorm", NULL }, 0);
	arch_is(mu, "conv2d(1,4,3,padding=1) batchnorm2d(4) relu maxpool2d(2) dropout(0.4) flatten "
		    "linear(64,16) tanh linear(16,16) relu linear(16,3)");
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "LAs", (const char *[]){ "layer", "9", "what", "activation",
						       "activation", "sigmoid", NULL }, 0);
	arch_is(mu, ARCH " sigmoid");
	cr_assert_str_eq(mu->params, "LAs layer=9 what=activation activation=sigmoid");
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "AFRs", (const char *[]){ "layer", "6", NULL }, 0);
	arch_is(mu, "conv2d(1,4,3,padding=1) relu maxpool2d(2) dropout(0.4) flatten "
		    "linear(64,16) linear(16,16) relu linear(16,3)");
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "ACH", (const char *[]){ "layer", "1", "activation", "leaky_relu", NULL }, 0);
	arch_is(mu, "conv2d(1,4,3,padding=1) leaky_relu(0.01) maxpool2d(2) dropout(0.4) flatten "
		    "linear(64,16) tanh linear(16,16) relu linear(16,3)");
	cr_assert_str_eq(mu->params, "ACH layer=1 activation=leaky_relu");
	cr_assert_str_eq(mu->description, "ACH: layer 1 'relu' -> leaky_relu");
	mt_source_mutant_free(mu);

	/* ARM removes the activation after linear 5; AAL adds one after linear 9 */
	mu = must(cfg, NULL, "ARM", (const char *[]){ "layer", "5", NULL }, 0);
	arch_is(mu, "conv2d(1,4,3,padding=1) relu maxpool2d(2) dropout(0.4) flatten "
		    "linear(64,16) linear(16,16) relu linear(16,3)");
	mt_source_mutant_free(mu);
	mu = must(cfg, NULL, "ARM", (const char *[]){ "layer", "0", NULL }, 0);
	arch_is(mu, "conv2d(1,4,3,padding=1) maxpool2d(2) dropout(0.4) flatten "
		    "linear(64,16) tanh linear(16,16) relu linear(16,3)");
	mt_source_mutant_free(mu);
	mu = must(cfg, NULL, "AAL", (const char *[]){ "layer", "9", NULL }, 0);
	arch_is(mu, ARCH " relu");
	cr_assert_str_eq(mu->params, "AAL layer=9 activation=relu");
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "RCD", (const char *[]){ "layer", "3", NULL }, 0);
	arch_is(mu, "conv2d(1,4,3,padding=1) relu maxpool2d(2) dropout(0.2) flatten "
		    "linear(64,16) tanh linear(16,16) relu linear(16,3)");
	cr_assert_str_eq(mu->params, "RCD layer=3 rate=0.2");
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "WRB", (const char *[]){ "layer", "9", NULL }, 0);
	arch_is(mu, "conv2d(1,4,3,padding=1) relu maxpool2d(2) dropout(0.4) flatten "
		    "linear(64,16) tanh linear(16,16) relu linear(16,3,bias=false)");
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "WCI", (const char *[]){ "init", "xavier_uniform", NULL }, 0);
	cr_assert_eq(mu->config->init, MT_INIT_XAVIER_UNIFORM);
	cr_assert_str_eq(mu->config->architecture, cfg->architecture);
	mt_source_mutant_free(mu);
	mt_config_free(cfg);
}

Test(source, wab_adds_a_bias_where_there_is_none)
{
	const char *yaml =
		"model:\n"
		"  architecture: \"flatten linear(4,3,bias=false) relu linear(3,2)\"\n"
		"  input_shape: [1, 2, 2]\n"
		"data:\n  format: npy\n  classes: 2\n  train: {x: x.npy, y: y.npy}\n"
		"  test: {x: x.npy, y: y.npy}\n";
	mt_config *cfg = load(yaml);
	mt_source_mutant *mu = must(cfg, NULL, "WAB", (const char *[]){ "layer", "1", NULL }, 0);
	arch_is(mu, "flatten linear(4,3) relu linear(3,2)");
	mt_source_mutant_free(mu);
	refused(cfg, NULL, "WAB", (const char *[]){ "layer", "3", NULL }, "already has a bias");
	refused(cfg, NULL, "WRB", (const char *[]){ "layer", "1", NULL }, "has no bias");
	/* linear(4,3) changes the shape: not a layer LRs takes */
	fails(cfg, NULL, "LRs", (const char *[]){ "layer", "1", NULL }, "layer");
	mt_config_free(cfg);
}

Test(source, equal_architectures_are_refused)
{
	mt_config *cfg = load(yaml_arch);
	refused(cfg, NULL, "ACH", (const char *[]){ "layer", "1", "activation", "relu", NULL }, "already relu");
	refused(cfg, NULL, "ARM", (const char *[]){ "layer", "9", NULL }, "no activation follows");
	refused(cfg, NULL, "AAL", (const char *[]){ "layer", "0", NULL }, "already has an activation (layer 1)");
	refused(cfg, NULL, "RCD", (const char *[]){ "layer", "3", "rate", "0.4", NULL }, "already has rate");
	refused(cfg, NULL, "WAB", (const char *[]){ "layer", "9", NULL }, "already has a bias");
	refused(cfg, NULL, "WCI", (const char *[]){ "init", "default", NULL }, "already default");
	mt_config_free(cfg);
}

Test(source, torchscript_models_refuse_architecture_operators)
{
	mt_config *cfg = load(yaml_ts);
	static const char *const ops[] = { "LRs", "LAs", "AFRs", "ACH", "ARM", "AAL", "RCD",
		"WAB", "WRB", "WCI" };
	static const char *const layer0[] = { "layer", "0", NULL };
	static const char *const zeros[] = { "init", "zeros", NULL };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		refused(cfg, NULL, ops[i], strcmp(ops[i], "WCI") ? layer0 : zeros,
			"the model is a TorchScript file, not an architecture");
	/* recipe operators still apply */
	mt_source_mutant *mu = must(cfg, NULL, "HBS", NULL, 0);
	cr_assert_eq(mu->config->batch_size, 32);
	cr_assert_str_eq(mu->config->torchscript, cfg->torchscript);
	cr_assert_null(mu->config->architecture);
	mt_source_mutant_free(mu);
	mt_config_free(cfg);
}

/* ---- program operators: recipe ---------------------------------------------------- */

Test(source, recipe_operators_change_one_setting)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	mt_source_mutant *mu;

	mu = must(cfg, NULL, "HBS", NULL, 0);
	cr_assert_eq(mu->config->batch_size, 2);
	cr_assert_str_eq(mu->params, "HBS factor=0.5");
	mt_source_mutant_free(mu);
	mu = must(cfg, NULL, "HBS", (const char *[]){ "value", "16", NULL }, 0);
	cr_assert_eq(mu->config->batch_size, 16);
	cr_assert_str_eq(mu->params, "HBS value=16");
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "HLR", NULL, 0);
	cr_assert_float_eq(mu->config->optim.lr, 0.0001, 1e-15);
	cr_assert_eq(mu->config->optim.kind, MT_OPTIM_ADAM);
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "HNE", NULL, 0);
	cr_assert_eq(mu->config->epochs, 5);
	mt_source_mutant_free(mu);

	mu = must(cfg, ds, "HDB", NULL, 0);
	cr_assert_eq(mu->config->batch_size, 10);
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "RAW", (const char *[]){ "penalty", "l1", NULL }, 0);
	cr_assert_eq(mu->config->l1, 0.01);
	cr_assert_eq(mu->config->l2, 0.001);
	cr_assert_str_eq(mu->params, "RAW penalty=l1 value=0.01");
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "RCW", NULL, 0);
	cr_assert_eq(mu->config->l1, 0.001);
	cr_assert_eq(mu->config->l2, 0);
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "RRW", (const char *[]){ "penalty", "l2", NULL }, 0);
	cr_assert_eq(mu->config->l2, 0);
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "RCP", NULL, 0);
	cr_assert_eq(mu->config->patience, 2); /* llround(3 * 0.5) */
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "LCH", (const char *[]){ "loss", "mse", NULL }, 0);
	cr_assert_eq(mu->config->loss, MT_LOSS_MSE);
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "OCH", (const char *[]){ "optimizer", "sgd", NULL }, 0);
	mt_optim_config sgd;
	mt_optim_config_defaults(&sgd, MT_OPTIM_SGD);
	cr_assert_eq(mu->config->optim.kind, MT_OPTIM_SGD);
	cr_assert_eq(mu->config->optim.lr, sgd.lr);
	cr_assert_eq(mu->config->optim.momentum, sgd.momentum);
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "OCG", NULL, 0);
	cr_assert_eq(mu->config->grad_clip, 1.0);
	mt_source_mutant_free(mu);

	mu = must(cfg, NULL, "VRM", NULL, 0);
	cr_assert_eq(mu->config->validation_split, 0);
	cr_assert_eq(mu->config->patience, 3);
	cr_assert_str_eq(mu->params, "VRM");
	mt_source_mutant_free(mu);

	/* the mutant's recipe text differs from the original's only there */
	char *a = NULL, *b = NULL;
	mu = must(cfg, NULL, "HNE", (const char *[]){ "value", "7", NULL }, 0);
	cr_assert_eq(mt_source_recipe_text(&a, cfg), 0);
	cr_assert_eq(mt_source_recipe_text(&b, mu->config), 0);
	cr_assert(strstr(a, "epochs=10 ") && strstr(b, "epochs=7 "), "%s\n%s", a, b);
	cr_assert_str_neq(a, b);
	free(a);
	free(b);
	mt_source_mutant_free(mu);
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

Test(source, equal_recipes_are_refused)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	refused(cfg, NULL, "HBS", (const char *[]){ "value", "4", NULL }, "would stay 4");
	refused(cfg, NULL, "HLR", (const char *[]){ "factor", "1", NULL }, "would stay");
	refused(cfg, NULL, "HLR", (const char *[]){ "value", "0.001", NULL }, "would stay");
	refused(cfg, NULL, "HNE", (const char *[]){ "value", "10", NULL }, "would stay 10");
	refused(cfg, NULL, "RAW", (const char *[]){ "penalty", "l2", NULL }, "already has l2");
	refused(cfg, NULL, "RRW", (const char *[]){ "penalty", "l1", NULL }, "no l1 weight penalty");
	refused(cfg, NULL, "RCP", (const char *[]){ "value", "3", NULL }, "would stay 3");
	refused(cfg, NULL, "LCH", (const char *[]){ "loss", "cross_entropy", NULL }, "already cross_entropy");
	refused(cfg, NULL, "OCH", (const char *[]){ "optimizer", "adam", NULL }, "already adam");
	mt_config *big = load(yaml_ts); /* batch 64 >= 10 samples, no split, no penalty */
	refused(big, ds, "HDB", NULL, "already covers");
	refused(big, NULL, "VRM", NULL, "already 0");
	refused(big, NULL, "RCW", NULL, "are equal");
	refused(big, NULL, "RCP", NULL, "early stopping is off");
	refused(big, NULL, "RCP", (const char *[]){ "value", "2", NULL }, "needs a validation split");
	mt_config_free(big);
	const char *clipped = "model:\n  torchscript: model.pt\n"
			      "data:\n  format: npy\n  train: {x: x.npy, y: y.npy}\n"
			      "  test: {x: x.npy, y: y.npy}\n"
			      "training:\n  grad_clip: 1.0\n";
	big = load(clipped);
	refused(big, NULL, "OCG", NULL, "already clipped at norm 1");
	mt_source_mutant *mu = must(big, NULL, "OCG", (const char *[]){ "value", "5", NULL }, 0);
	cr_assert_eq(mu->config->grad_clip, 5);
	mt_source_mutant_free(mu);
	mt_config_free(big);
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

Test(source, parameter_errors_name_the_operator_and_parameter)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	fails(cfg, ds, "DR", (const char *[]){ "ratio", "2", NULL }, "'ratio'");
	fails(cfg, ds, "DR", (const char *[]){ "ratio", "0", NULL }, "'ratio'");
	fails(cfg, ds, "LE", (const char *[]){ "class", "3", NULL }, "'class'");
	fails(cfg, ds, "DM", (const char *[]){ "clas", "1", NULL }, "unknown parameter 'clas'");
	fails(cfg, ds, "NP", (const char *[]){ "sigma", "-1", NULL }, "'sigma'");
	fails(cfg, ds, "DR", (const char *[]){ "seed", "-4", NULL }, "'seed'");
	fails(cfg, NULL, "ACH", (const char *[]){ "layer", "1", NULL }, "'activation' is missing");
	fails(cfg, NULL, "ACH", (const char *[]){ "layer", "1", "activation", "swish", NULL }, "'activation'");
	fails(cfg, NULL, "ACH", (const char *[]){ "layer", "0", "activation", "tanh", NULL },
	      "expected an activation layer");
	fails(cfg, NULL, "LRs", (const char *[]){ "layer", "99", NULL }, "[0, 9]");
	fails(cfg, NULL, "LRs", (const char *[]){ "layer", "2", NULL }, "input and output shapes match");
	fails(cfg, NULL, "LRs", NULL, "'layer' is missing");
	fails(cfg, NULL, "RCD", (const char *[]){ "layer", "3", "rate", "1", NULL }, "'rate'");
	fails(cfg, NULL, "RCD", (const char *[]){ "layer", "5", NULL }, "a dropout layer");
	fails(cfg, NULL, "HBS", (const char *[]){ "value", "8", "factor", "2", NULL }, "'factor'");
	fails(cfg, NULL, "HBS", (const char *[]){ "value", "0", NULL }, "'value'");
	fails(cfg, NULL, "VRM", (const char *[]){ "ratio", "0.5", NULL }, "unknown parameter 'ratio'");
	fails(cfg, NULL, "WCI", (const char *[]){ "init", "he", NULL }, "'init'");
	fails(cfg, NULL, "RAW", NULL, "'penalty' is missing");
	/* the planner's key is skipped; seed overrides the argument */
	mt_source_mutant *mu = must(cfg, ds, "DR", (const char *[]){ "mutants", "5", "seed", "77", NULL }, 1);
	cr_assert_eq(mu->seed, 77);
	cr_assert(strstr(mu->params, "seed=77"), "%s", mu->params);
	mt_source_mutant_free(mu);
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

/* ---- planner ------------------------------------------------------------------------ */

static mt_source_variant *plan(size_t *n, const mt_config *cfg, const mt_dataset *ds,
			       const char *op, const char *const *kv, char *reason)
{
	mt_config_param p[8];
	size_t np = 0;
	mt_source_variant *v = NULL;
	for (size_t i = 0; kv && kv[i]; i += 2, np++) {
		p[np].key = (char *)kv[i];
		p[np].value = (char *)kv[i + 1];
		p[np].line = 3;
	}
	cr_assert_eq(mt_source_plan_targets(&v, n, cfg, ds, op, p, np, reason), 0, "%s: %s", op,
		     mt_error_last());
	/* every variant applies and gives a distinct recipe or data mutant */
	char **texts = calloc(*n + 1, sizeof(char *));
	for (size_t i = 0; i < *n; i++) {
		mt_source_mutant *mu = NULL;
		cr_assert_eq(mt_source_apply(&mu, cfg, ds, op, v[i].params, v[i].nparams, 5), 0,
			     "%s", mt_error_last());
		cr_assert_eq(mu->not_applicable, 0, "%s %s: %s", op, v[i].target, mu->reason);
		cr_assert_eq(mt_source_recipe_text(&texts[i], mu->config), 0);
		for (size_t j = 0; j < i && !mu->is_data; j++)
			cr_assert_str_neq(texts[i], texts[j], "%s: %s and %s", op, v[i].target, v[j].target);
		mt_source_mutant_free(mu);
	}
	for (size_t i = 0; i < *n; i++)
		free(texts[i]);
	free(texts);
	return v;
}

static void targets_are(mt_source_variant *v, size_t n, const char *const *want, size_t nwant)
{
	cr_assert_eq(n, nwant, "%zu variants, expected %zu", n, nwant);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(v[i].target, want[i]);
}

Test(source, planner_lists_applicable_targets)
{
	mt_config *cfg = load(yaml_arch);
	mt_dataset *ds = dataset10();
	char reason[MT_OP_REASON_MAX];
	size_t n;
	mt_source_variant *v;

	v = plan(&n, cfg, ds, "AFRs", NULL, reason);
	targets_are(v, n, (const char *[]){ "layer=1", "layer=6", "layer=8" }, 3);
	cr_assert_str_eq(reason, "");
	mt_source_variants_free(v, n);

	/* 3 activations x 6 other kinds */
	v = plan(&n, cfg, ds, "ACH", NULL, reason);
	cr_assert_eq(n, 18);
	cr_assert_str_eq(v[0].target, "layer=1 activation=leaky_relu");
	cr_assert_str_eq(v[6].target, "layer=6 activation=relu");
	cr_assert_str_eq(v[17].target, "layer=8 activation=softmax");
	mt_source_variants_free(v, n);

	/* an explicit layer expands only the activation */
	v = plan(&n, cfg, ds, "ACH", (const char *[]){ "layer", "6", NULL }, reason);
	cr_assert_eq(n, 6);
	cr_assert_str_eq(v[0].target, "activation=relu");
	cr_assert_eq(v[0].nparams, 2);
	cr_assert_str_eq(v[0].params[0].key, "layer");
	cr_assert_eq(v[0].params[0].line, 3);
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "LRs", NULL, reason);
	targets_are(v, n, (const char *[]){ "layer=3", "layer=7" }, 2);
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "LAs", NULL, reason);
	targets_are(v, n, (const char *[]){ "layer=0 what=batchnorm", "layer=3 what=copy",
					     "layer=5 what=batchnorm", "layer=7 what=copy",
					     "layer=7 what=batchnorm", "layer=9 what=batchnorm" }, 6);
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "ARM", NULL, reason);
	targets_are(v, n, (const char *[]){ "layer=0", "layer=5", "layer=7" }, 3);
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "AAL", NULL, reason);
	cr_assert_eq(n, 7, "7 kinds after the last linear");
	cr_assert_str_eq(v[0].target, "layer=9 activation=relu");
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "RCD", NULL, reason);
	targets_are(v, n, (const char *[]){ "layer=3" }, 1);
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "WRB", NULL, reason);
	targets_are(v, n, (const char *[]){ "layer=0", "layer=5", "layer=7", "layer=9" }, 4);
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "WAB", NULL, reason);
	cr_assert_eq(n, 0);
	cr_assert(strstr(reason, "already has a bias"), "%s", reason);
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "OCH", NULL, reason);
	targets_are(v, n, (const char *[]){ "optimizer=sgd", "optimizer=adamw", "optimizer=rmsprop",
					     "optimizer=adagrad" }, 4);
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "LCH", NULL, reason);
	targets_are(v, n, (const char *[]){ "loss=nll", "loss=mse" }, 2);
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "WCI", NULL, reason);
	cr_assert_eq(n, 7);
	cr_assert_str_eq(v[0].target, "init=xavier_uniform");
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "RAW", NULL, reason);
	targets_are(v, n, (const char *[]){ "penalty=l1" }, 1);
	mt_source_variants_free(v, n);

	/* l2 and all remove the same penalty: one variant */
	v = plan(&n, cfg, ds, "RRW", NULL, reason);
	targets_are(v, n, (const char *[]){ "penalty=l2" }, 1);
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "HLR", (const char *[]){ "factor", "10", NULL }, reason);
	targets_are(v, n, (const char *[]){ "" }, 1);
	cr_assert_str_eq(v[0].params[0].value, "10");
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "DR", (const char *[]){ "class", "each", "ratio", "0.5", NULL }, reason);
	targets_are(v, n, (const char *[]){ "class=0", "class=1", "class=2" }, 3);
	cr_assert_eq(v[1].nparams, 2, "class: each is replaced");
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "DR", NULL, reason);
	targets_are(v, n, (const char *[]){ "" }, 1);
	mt_source_variants_free(v, n);

	v = plan(&n, cfg, ds, "HNE", (const char *[]){ "value", "10", NULL }, reason);
	cr_assert_eq(n, 0);
	cr_assert(strstr(reason, "would stay 10"), "%s", reason);
	mt_source_variants_free(v, n);

	mt_config *ts = load(yaml_ts);
	v = plan(&n, ts, ds, "ACH", NULL, reason);
	cr_assert_eq(n, 0);
	cr_assert(strstr(reason, "TorchScript"), "%s", reason);
	v = plan(&n, ts, ds, "WCI", NULL, reason);
	cr_assert_eq(n, 0);
	v = plan(&n, ts, ds, "OCH", NULL, reason);
	cr_assert_eq(n, 4);
	mt_source_variants_free(v, n);
	mt_config_free(ts);

	mt_source_variant *none = NULL;
	cr_assert_eq(mt_source_plan_targets(&none, &n, cfg, ds, "ACH",
					    (mt_config_param[]){ { "activation", "swish", 4 } }, 1, reason),
		     MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "ACH: parameter 'activation'"), "%s", mt_error_last());
	cr_assert_eq(mt_source_plan_targets(&none, &n, cfg, ds, "GF", NULL, 0, reason), MT_EINVALID);
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

/* ---- the real Fashion-MNIST training set ------------------------------------------ */

#define FASHION_DIR "/usr/share/datasets/fashion-mnist/"

Test(source, fashion_mnist_data_operators)
{
	static const char *const yaml =
		"model:\n"
		"  architecture: \"conv2d(1,6,5,padding=2) relu maxpool2d(2) conv2d(6,16,5) relu "
		"maxpool2d(2) flatten linear(400,120) relu linear(120,84) relu linear(84,10)\"\n"
		"  input_shape: [1, 28, 28]\n"
		"data:\n"
		"  format: idx\n"
		"  train: {images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz}\n"
		"  test: {images: t10k-images-idx3-ubyte.gz, labels: t10k-labels-idx1-ubyte.gz}\n"
		"  normalize: {scale: 255, mean: [0.2860], std: [0.3530]}\n";
	mt_config *cfg = load(yaml);
	mt_dataset *ds = NULL;
	cr_assert_eq(mt_dataset_load_idx(&ds, FASHION_DIR "train-images-idx3-ubyte.gz",
					 FASHION_DIR "train-labels-idx1-ubyte.gz", 10), 0,
		     "%s", mt_error_last());
	cr_assert_eq(mt_dataset_count(ds), 60000);

	/* TAN: the pixel std in scaled units is Fashion-MNIST's known 0.3530 */
	mt_source_mutant *mu = must(cfg, ds, "TAN", (const char *[]){ "ratio", "0.01", NULL }, 1);
	cr_assert_eq(mu->nnoise, 600);
	cr_assert(fabs(mu->noise[0].sigma - 0.3530) < 0.0005, "std %g", mu->noise[0].sigma);
	mt_dataset *noisy = NULL;
	cr_assert_eq(mt_source_build_train(&noisy, mu, ds, cfg), 0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_count(noisy), 60000);
	cr_assert_eq(mt_dataset_pixel_type(noisy), MT_PIXELS_F32);
	const float *f = mt_dataset_pixels(noisy);
	const uint8_t *u = mt_dataset_pixels(ds);
	int64_t quiet = 0;
	for (int64_t i = 0; i < 60000; i++)
		quiet += f[i * 784 + 400] == (float)u[i * 784 + 400];
	cr_assert_eq(quiet, 60000 - 600, "only the listed rows get noise");
	mt_dataset_free(noisy);
	mt_source_mutant_free(mu);

	/* balanced classes (6000 each): TRD keeps 5400 of each, TUD is refused */
	mu = must(cfg, ds, "TRD", (const char *[]){ "ratio", "0.1", NULL }, 2);
	cr_assert_eq(mu->n_map, 54000);
	int64_t per[10] = { 0 };
	for (int64_t j = 0; j < mu->n_map; j++)
		per[mt_dataset_labels(ds)[mu->order_map[j]]]++;
	for (int c = 0; c < 10; c++)
		cr_assert_eq(per[c], 5400, "class %d", c);
	mt_source_mutant_free(mu);
	refused(cfg, ds, "TUD", NULL, "smaller than the average");

	/* TCL: ties go to class 0; 600 of its samples get another label */
	mu = must(cfg, ds, "TCL", NULL, 3);
	int64_t moved = 0;
	for (int64_t i = 0; i < 60000; i++)
		if (mu->labels[i] != mt_dataset_labels(ds)[i]) {
			cr_assert_eq(mt_dataset_labels(ds)[i], 0);
			moved++;
		}
	cr_assert_eq(moved, 600);
	mt_source_mutant_free(mu);

	/* LeNet: ACH has 4 relus x 6 kinds; LRs has nothing to remove */
	size_t n;
	char reason[MT_OP_REASON_MAX];
	mt_source_variant *v = plan(&n, cfg, ds, "ACH", NULL, reason);
	cr_assert_eq(n, 24);
	mt_source_variants_free(v, n);
	v = plan(&n, cfg, ds, "LRs", NULL, reason);
	cr_assert_eq(n, 0);
	cr_assert(strstr(reason, "no layer LRs takes"), "%s", reason);
	v = plan(&n, cfg, ds, "HDB", NULL, reason);
	cr_assert_eq(n, 1);
	mt_source_mutant *hdb = NULL;
	cr_assert_eq(mt_source_apply(&hdb, cfg, ds, "HDB", v[0].params, v[0].nparams, 0), 0);
	cr_assert_eq(hdb->config->batch_size, 60000);
	mt_source_mutant_free(hdb);
	mt_source_variants_free(v, n);
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

Test(source, mutant_recipes_are_deep_copies)
{
	char *yaml = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&yaml, &len);
	fprintf(f, "%smutation:\n  source_level:\n    - {op: ACH, layer: 1}\n    - {op: DR, class: each}\n",
		yaml_arch);
	fclose(f);
	mt_config *cfg = load(yaml);
	free(yaml);
	cr_assert_eq(cfg->nsource_level, 2);
	const mt_config_mutation *e = &cfg->source_level[0];
	mt_source_mutant *mu = NULL;
	cr_assert_eq(mt_source_apply(&mu, cfg, NULL, e->op, e->params, e->nparams, 0), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "'activation' is missing"), "%s", mt_error_last());
	mu = must(cfg, NULL, "HNE", NULL, 0);
	mt_config *c = mu->config;
	cr_assert_neq(c->path, cfg->path);
	cr_assert_str_eq(c->path, cfg->path);
	cr_assert_neq(c->architecture, cfg->architecture);
	cr_assert_neq(c->train.paths, cfg->train.paths);
	cr_assert_str_eq(c->train.paths[1], cfg->train.paths[1]);
	cr_assert_eq(c->nsource_level, 2);
	cr_assert_neq(c->source_level, cfg->source_level);
	cr_assert_str_eq(c->source_level[1].op, "DR");
	cr_assert_str_eq(c->source_level[1].params[0].value, "each");
	cr_assert_eq(c->source_level[1].params[0].line, cfg->source_level[1].params[0].line);
	/* freeing the mutant leaves the original intact */
	mt_source_mutant_free(mu);
	cr_assert_str_eq(cfg->source_level[0].op, "ACH");
	cr_assert_str_eq(cfg->train.paths[0], "/base/x.npy");
	mt_config_free(cfg);
}
