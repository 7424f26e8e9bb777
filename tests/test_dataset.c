/* mt_dataset_new, accessors, mt_dataset_select and mt_dataset_split. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "mutorch/dataset.h"
#include "mutorch/error.h"

/* n samples of shape 1x2x2, sample i filled with the value i, label i % k. */
static mt_dataset *make_counting(int64_t n, int k)
{
	static const int64_t shape[3] = {1, 2, 2};
	unsigned char *pixels = malloc((size_t)n * 4 + 1);
	int64_t *labels = malloc((size_t)n * sizeof(int64_t) + 1);
	mt_dataset *ds = NULL;
	int64_t i;

	for (i = 0; i < n; i++) {
		memset(pixels + 4 * i, (int)(i & 0xff), 4);
		labels[i] = i % k;
	}
	cr_assert_eq(mt_dataset_new(&ds, "counting", MT_PIXELS_U8, pixels, labels,
				     n, shape, k),
		     0, "%s", mt_error_last());
	free(pixels);
	free(labels);
	return ds;
}

Test(dataset_new, copies_arrays_and_reports_them)
{
	const int64_t shape[3] = {2, 1, 3};
	float pixels[12] = {0.5f, -1.0f, 2.25f, 3, 4, 5, 6, 7, 8, 9, 10, 1e-3f};
	int64_t labels[2] = {1, 0};
	mt_dataset *ds = NULL;

	cr_assert_eq(mt_dataset_new(&ds, "mem", MT_PIXELS_F32, pixels, labels, 2,
				    shape, 4),
		     0, "%s", mt_error_last());
	pixels[0] = 99.0f; /* the dataset holds its own copy */
	labels[0] = 3;
	cr_assert_eq(mt_dataset_count(ds), 2);
	cr_assert_eq(mt_dataset_shape(ds)[0], 2);
	cr_assert_eq(mt_dataset_shape(ds)[1], 1);
	cr_assert_eq(mt_dataset_shape(ds)[2], 3);
	cr_assert_eq(mt_dataset_sample_size(ds), 6);
	cr_assert_eq(mt_dataset_pixel_type(ds), MT_PIXELS_F32);
	cr_assert_eq(mt_dataset_num_classes(ds), 4);
	cr_assert_str_eq(mt_dataset_name(ds), "mem");
	cr_assert_eq(((const float *)mt_dataset_pixels(ds))[0], 0.5f);
	cr_assert_eq(((const float *)mt_dataset_pixels(ds))[11], 1e-3f);
	cr_assert_eq(mt_dataset_labels(ds)[0], 1);
	cr_assert_eq(mt_dataset_labels(ds)[1], 0);
	mt_dataset_free(ds);
	mt_dataset_free(NULL);
}

Test(dataset_new, infers_classes_from_the_largest_label)
{
	const int64_t shape[3] = {1, 1, 1};
	unsigned char pixels[3] = {1, 2, 3};
	int64_t labels[3] = {0, 6, 2};
	mt_dataset *ds = NULL;

	cr_assert_eq(mt_dataset_new(&ds, "x", MT_PIXELS_U8, pixels, labels, 3,
				    shape, 0),
		     0);
	cr_assert_eq(mt_dataset_num_classes(ds), 7);
	mt_dataset_free(ds);
}

Test(dataset_new, rejects_labels_out_of_range)
{
	const int64_t shape[3] = {1, 1, 1};
	unsigned char pixels[3] = {0};
	int64_t labels[3] = {0, 1, 10};
	int64_t negative[3] = {0, -2, 1};
	mt_dataset *ds = NULL;

	cr_assert_eq(mt_dataset_new(&ds, "mem.pt", MT_PIXELS_U8, pixels, labels, 3,
				    shape, 10),
		     MT_EINVALID);
	cr_assert_null(ds);
	cr_assert_str_eq(mt_error_last(),
			 "mem.pt: label 10 at index 2 is outside the 10 classes");
	cr_assert_eq(mt_dataset_new(&ds, "mem.pt", MT_PIXELS_U8, pixels, negative,
				    3, shape, 0),
		     MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "mem.pt: label -2 at index 1 is negative"),
		  "%s", mt_error_last());
}

Test(dataset_new, rejects_bad_arguments)
{
	int64_t shape[3] = {1, 0, 3};
	unsigned char pixels[3] = {0};
	int64_t labels[1] = {0};
	mt_dataset *ds = NULL;

	cr_assert_eq(mt_dataset_new(&ds, "zero", MT_PIXELS_U8, pixels, labels, 1,
				    shape, 1),
		     MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "zero: shape [1, 0, 3]"), "%s",
		  mt_error_last());
	shape[1] = 1;
	cr_assert_eq(mt_dataset_new(&ds, "neg", MT_PIXELS_U8, pixels, labels, -1,
				    shape, 1),
		     MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "neg: negative sample count"));
	cr_assert_eq(mt_dataset_new(&ds, "nolabels", MT_PIXELS_U8, pixels, NULL, 1,
				    shape, 1),
		     MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "nolabels: 1 samples but no labels"));
	cr_assert_eq(mt_dataset_new(&ds, "cls", MT_PIXELS_U8, pixels, labels, 1,
				    shape, -3),
		     MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "cls: negative number of classes -3"));
	cr_assert_eq(mt_dataset_new(&ds, "type", (mt_pixel_type)7, pixels, labels,
				    1, shape, 1),
		     MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "type: pixel type 7"));
	cr_assert_null(ds);
}

Test(dataset_select, gathers_rows_in_order_with_repeats)
{
	mt_dataset *src = make_counting(10, 3), *sel = NULL;
	const int64_t idx[5] = {9, 0, 4, 4, 7};
	const unsigned char *px;
	int i, j;

	cr_assert_eq(mt_dataset_select(&sel, src, idx, 5), 0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_count(sel), 5);
	cr_assert_eq(mt_dataset_num_classes(sel), 3);
	cr_assert_eq(mt_dataset_sample_size(sel), 4);
	cr_assert_eq(mt_dataset_shape(sel)[1], 2);
	px = mt_dataset_pixels(sel);
	for (i = 0; i < 5; i++) {
		cr_assert_eq(mt_dataset_labels(sel)[i], idx[i] % 3);
		for (j = 0; j < 4; j++)
			cr_assert_eq(px[4 * i + j], idx[i]);
	}
	mt_dataset_free(sel);
	mt_dataset_free(src);
}

Test(dataset_select, keeps_float_pixels_and_class_count)
{
	const int64_t shape[3] = {1, 1, 2};
	const float pixels[6] = {0.25f, -0.5f, 1.5f, 2.5f, -3.75f, 4.0f};
	const int64_t labels[3] = {0, 1, 4};
	const int64_t idx[2] = {2, 0};
	mt_dataset *src = NULL, *sel = NULL;
	const float *px;

	cr_assert_eq(mt_dataset_new(&src, "f", MT_PIXELS_F32, pixels, labels, 3,
				    shape, 5),
		     0);
	cr_assert_eq(mt_dataset_select(&sel, src, idx, 2), 0);
	px = mt_dataset_pixels(sel);
	cr_assert_eq(mt_dataset_pixel_type(sel), MT_PIXELS_F32);
	cr_assert_eq(px[0], -3.75f);
	cr_assert_eq(px[1], 4.0f);
	cr_assert_eq(px[2], 0.25f);
	cr_assert_eq(px[3], -0.5f);
	/* label 4 is missing from a selection of {0}, the count stays 5 */
	mt_dataset_free(sel);
	cr_assert_eq(mt_dataset_select(&sel, src, idx + 1, 1), 0);
	cr_assert_eq(mt_dataset_num_classes(sel), 5);
	mt_dataset_free(sel);
	mt_dataset_free(src);
}

Test(dataset_select, rejects_indexes_outside_the_dataset)
{
	mt_dataset *src = make_counting(4, 2), *sel = NULL;
	const int64_t too_big[2] = {1, 4};
	const int64_t negative[1] = {-1};

	cr_assert_eq(mt_dataset_select(&sel, src, too_big, 2), MT_EINVALID);
	cr_assert_str_eq(mt_error_last(), "counting: index 4 at position 1 is "
					  "outside the 4 samples");
	cr_assert_eq(mt_dataset_select(&sel, src, negative, 1), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "index -1 at position 0"));
	cr_assert_null(sel);
	cr_assert_eq(mt_dataset_select(&sel, src, NULL, 0), 0);
	cr_assert_eq(mt_dataset_count(sel), 0);
	mt_dataset_free(sel);
	mt_dataset_free(src);
}

/* Membership is a function of (n, fraction, seed): check the parts cover
 * the set, are disjoint, ascending, and carry their samples' data. */
static void check_split(const mt_dataset *src, const mt_dataset *train,
			const mt_dataset *val, int64_t n_val)
{
	int64_t n = mt_dataset_count(src), i;
	char *seen = calloc((size_t)n, 1);
	const mt_dataset *parts[2] = {train, val};
	int p;

	cr_assert_eq(mt_dataset_count(val), n_val);
	cr_assert_eq(mt_dataset_count(train), n - n_val);
	for (p = 0; p < 2; p++) {
		const unsigned char *px = mt_dataset_pixels(parts[p]);
		int last = -1;
		for (i = 0; i < mt_dataset_count(parts[p]); i++) {
			int orig = px[4 * i]; /* sample i of src holds value i */
			cr_assert_gt(orig, last, "part %d not ascending", p);
			last = orig;
			cr_assert_eq(seen[orig], 0, "sample %d in both parts", orig);
			seen[orig] = 1;
			cr_assert_eq(mt_dataset_labels(parts[p])[i],
				     mt_dataset_labels(src)[orig]);
		}
		cr_assert_eq(mt_dataset_num_classes(parts[p]),
			     mt_dataset_num_classes(src));
	}
	for (i = 0; i < n; i++)
		cr_assert(seen[i], "sample %lld in neither part", (long long)i);
	free(seen);
}

Test(dataset_split, sizes_disjointness_and_order)
{
	mt_dataset *src = make_counting(200, 10), *train = NULL, *val = NULL;

	cr_assert_eq(mt_dataset_split(&train, &val, src, 0.2, 7), 0, "%s",
		     mt_error_last());
	check_split(src, train, val, 40);
	mt_dataset_free(train);
	mt_dataset_free(val);
	/* rounded to the nearest sample: 0.25 * 10 = 2.5 -> 3 */
	mt_dataset_free(src);
	src = make_counting(10, 2);
	cr_assert_eq(mt_dataset_split(&train, &val, src, 0.25, 7), 0);
	check_split(src, train, val, 3);
	mt_dataset_free(train);
	mt_dataset_free(val);
	mt_dataset_free(src);
}

static void val_members(const mt_dataset *val, int *out)
{
	const unsigned char *px = mt_dataset_pixels(val);
	int64_t i;
	for (i = 0; i < mt_dataset_count(val); i++)
		out[i] = px[4 * i];
}

Test(dataset_split, deterministic_by_seed)
{
	mt_dataset *src = make_counting(100, 10), *t1, *v1, *t2, *v2, *t3, *v3;
	int a[10], b[10], c[10];

	cr_assert_eq(mt_dataset_split(&t1, &v1, src, 0.1, 42), 0);
	cr_assert_eq(mt_dataset_split(&t2, &v2, src, 0.1, 42), 0);
	cr_assert_eq(mt_dataset_split(&t3, &v3, src, 0.1, 43), 0);
	val_members(v1, a);
	val_members(v2, b);
	val_members(v3, c);
	cr_assert_arr_eq(a, b, sizeof(a));
	cr_assert(memcmp(a, c, sizeof(a)) != 0, "seeds 42 and 43 gave the same split");
	mt_dataset_free(t1);
	mt_dataset_free(v1);
	mt_dataset_free(t2);
	mt_dataset_free(v2);
	mt_dataset_free(t3);
	mt_dataset_free(v3);
	mt_dataset_free(src);
}

/* The split is documented (docs/datasets.md) well enough to be reproduced
 * elsewhere: these members come from an independent Python implementation
 * of splitmix64 -> xoshiro256** -> Fisher-Yates with rejection sampling. */
Test(dataset_split, matches_the_documented_permutation)
{
	mt_dataset *src = make_counting(20, 4), *train, *val;
	const int expected[5] = {2, 4, 10, 11, 15};
	int got[5];

	cr_assert_eq(mt_dataset_split(&train, &val, src, 0.25, 42), 0);
	cr_assert_eq(mt_dataset_count(val), 5);
	val_members(val, got);
	cr_assert_arr_eq(got, expected, sizeof(got), "%d %d %d %d %d", got[0],
			 got[1], got[2], got[3], got[4]);
	mt_dataset_free(train);
	mt_dataset_free(val);
	mt_dataset_free(src);
}

Test(dataset_split, zero_fraction_copies_everything)
{
	mt_dataset *src = make_counting(6, 3), *train = NULL, *val = (void *)1;
	const unsigned char *px;
	int i;

	cr_assert_eq(mt_dataset_split(&train, &val, src, 0.0, 1), 0);
	cr_assert_null(val);
	cr_assert_eq(mt_dataset_count(train), 6);
	cr_assert_neq(mt_dataset_pixels(train), mt_dataset_pixels(src));
	px = mt_dataset_pixels(train);
	for (i = 0; i < 6; i++)
		cr_assert_eq(px[4 * i], i);
	mt_dataset_free(train);
	mt_dataset_free(src);
}

Test(dataset_split, rejects_bad_fractions)
{
	mt_dataset *src = make_counting(10, 2), *train = NULL, *val = NULL;

	cr_assert_eq(mt_dataset_split(&train, &val, src, 1.0, 1), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "counting: validation fraction 1 is "
					  "outside [0, 1)"),
		  "%s", mt_error_last());
	cr_assert_eq(mt_dataset_split(&train, &val, src, -0.1, 1), MT_EINVALID);
	cr_assert_eq(mt_dataset_split(&train, &val, src, NAN, 1), MT_EINVALID);
	cr_assert_eq(mt_dataset_split(&train, &val, src, 0.01, 1), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "gives 0 validation samples, expected "
					  "1..9"),
		  "%s", mt_error_last());
	cr_assert_eq(mt_dataset_split(&train, &val, src, 0.99, 1), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "gives 10 validation samples"));
	cr_assert_null(train);
	cr_assert_null(val);
	mt_dataset_free(src);
}
