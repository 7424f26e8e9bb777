/* NumPy .npy reader: header parsing, dtypes, versions, and rejections. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "helpers.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"

/* A .npy file as numpy writes it: magic, version, little-endian header
 * length, the dict padded with spaces and '\n' to a multiple of 64. */
static unsigned char *make_npy(int major, const char *dict, const void *data,
			       size_t data_len, size_t *len)
{
	size_t pre = major == 1 ? 10 : 12, dict_len = strlen(dict);
	size_t total_header = (pre + dict_len + 1 + 63) / 64 * 64;
	size_t header_len = total_header - pre;
	unsigned char *buf = malloc(total_header + data_len + 1);

	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (unsigned char)major;
	buf[7] = 0;
	if (major == 1) {
		buf[8] = (unsigned char)header_len;
		buf[9] = (unsigned char)(header_len >> 8);
	} else {
		buf[8] = (unsigned char)header_len;
		buf[9] = (unsigned char)(header_len >> 8);
		buf[10] = (unsigned char)(header_len >> 16);
		buf[11] = (unsigned char)(header_len >> 24);
	}
	memset(buf + pre, ' ', header_len);
	memcpy(buf + pre, dict, dict_len);
	buf[total_header - 1] = '\n';
	if (data_len)
		memcpy(buf + total_header, data, data_len);
	*len = total_header + data_len;
	return buf;
}

/* y: four labels as little-endian int64 (the usual np.int64). */
static const int64_t y4[4] = {3, 0, 2, 1};
static const char y4_dict[] =
	"{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }";

static int load(mt_dataset **ds, const char *x_dict, const void *x,
		size_t x_len, const char *y_dict, const void *y, size_t y_len,
		int num_classes)
{
	size_t xl, yl;
	unsigned char *xb = make_npy(1, x_dict, x, x_len, &xl);
	unsigned char *yb = make_npy(1, y_dict, y, y_len, &yl);
	int error = mt_dataset_load_npy_buffer(ds, xb, xl, "x.npy", yb, yl, "y.npy",
					       num_classes);
	free(xb);
	free(yb);
	return error;
}

/* Remove a flat temporary directory and the files in it. */
static void remove_tempdir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4400];

	if (d) {
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
	free(dir);
}

#define assert_message_has(s)                                                  \
	cr_assert(strstr(mt_error_last(), (s)), "message '%s' lacks '%s'",      \
		  mt_error_last(), (s))

static unsigned char pixels24[24];

static void fill_pixels(void)
{
	int i;
	for (i = 0; i < 24; i++)
		pixels24[i] = (unsigned char)(i * 11);
}

Test(npy, uint8_images_3d_from_files)
{
	size_t xl, yl;
	unsigned char *xb, *yb;
	char *dir = th_tempdir("npy"), *xp, *yp;
	mt_dataset *ds = NULL;
	const unsigned char *px;
	int i;

	fill_pixels();
	xb = make_npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			 "(4, 2, 3), }", pixels24, 24, &xl);
	yb = make_npy(1, y4_dict, y4, sizeof(y4), &yl);
	xp = th_write(dir, "x.npy", xb, xl);
	yp = th_write(dir, "y.npy", yb, yl);
	cr_assert_eq(mt_dataset_load_npy(&ds, xp, yp, 4), 0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_count(ds), 4);
	cr_assert_eq(mt_dataset_shape(ds)[0], 1);
	cr_assert_eq(mt_dataset_shape(ds)[1], 2);
	cr_assert_eq(mt_dataset_shape(ds)[2], 3);
	cr_assert_eq(mt_dataset_pixel_type(ds), MT_PIXELS_U8);
	cr_assert_eq(mt_dataset_num_classes(ds), 4);
	cr_assert_str_eq(mt_dataset_name(ds), xp);
	px = mt_dataset_pixels(ds);
	for (i = 0; i < 24; i++)
		cr_assert_eq(px[i], (unsigned char)(i * 11));
	for (i = 0; i < 4; i++)
		cr_assert_eq(mt_dataset_labels(ds)[i], y4[i]);
	mt_dataset_free(ds);
	free(xb);
	free(yb);
	free(xp);
	free(yp);
	remove_tempdir(dir);
}

Test(npy, gzip_files)
{
	size_t xl, yl;
	unsigned char *xb, *yb;
	char *dir = th_tempdir("npy"), xp[4200], *yp;
	mt_dataset *ds = NULL;
	gzFile gz;

	fill_pixels();
	xb = make_npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			 "(4, 6), }", pixels24, 24, &xl);
	yb = make_npy(1, y4_dict, y4, sizeof(y4), &yl);
	snprintf(xp, sizeof(xp), "%s/x.npy.gz", dir);
	cr_assert(gz = gzopen(xp, "wb"));
	cr_assert_eq(gzwrite(gz, xb, (unsigned)xl), (int)xl);
	cr_assert_eq(gzclose(gz), Z_OK);
	yp = th_write(dir, "y.npy", yb, yl);
	cr_assert_eq(mt_dataset_load_npy(&ds, xp, yp, 0), 0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_count(ds), 4);
	cr_assert_eq(mt_dataset_sample_size(ds), 6);
	cr_assert_eq(((const unsigned char *)mt_dataset_pixels(ds))[23],
		     (unsigned char)(23 * 11));
	mt_dataset_free(ds);
	free(xb);
	free(yb);
	free(yp);
	remove_tempdir(dir);
}

Test(npy, shapes_2d_and_4d)
{
	mt_dataset *ds = NULL;

	fill_pixels();
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			       "(4, 6), }",
			  pixels24, 24, y4_dict, y4, sizeof(y4), 4),
		     0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_shape(ds)[0], 1);
	cr_assert_eq(mt_dataset_shape(ds)[1], 1);
	cr_assert_eq(mt_dataset_shape(ds)[2], 6);
	mt_dataset_free(ds);
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			       "(4, 3, 2, 1), }",
			  pixels24, 24, y4_dict, y4, sizeof(y4), 4),
		     0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_shape(ds)[0], 3);
	cr_assert_eq(mt_dataset_shape(ds)[1], 2);
	cr_assert_eq(mt_dataset_shape(ds)[2], 1);
	mt_dataset_free(ds);
}

Test(npy, float32_and_float64)
{
	const float f4[8] = {0.5f, -1.25f, 3.0e-3f, 255.0f, 1e-30f, -0.0f, 7.0f, 2.5f};
	const double f8[8] = {0.5, -1.25, 0.1, 255.0, 1e-30, -2.0, 7.0, 1.0 / 3.0};
	mt_dataset *ds = NULL;
	const float *px;
	int i;

	cr_assert_eq(load(&ds, "{'descr': '<f4', 'fortran_order': False, 'shape': "
			       "(4, 1, 2), }",
			  f4, sizeof(f4), y4_dict, y4, sizeof(y4), 4),
		     0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_pixel_type(ds), MT_PIXELS_F32);
	px = mt_dataset_pixels(ds);
	for (i = 0; i < 8; i++)
		cr_assert_eq(px[i], f4[i]);
	mt_dataset_free(ds);
	cr_assert_eq(load(&ds, "{'descr': '<f8', 'fortran_order': False, 'shape': "
			       "(4, 2), }",
			  f8, sizeof(f8), y4_dict, y4, sizeof(y4), 4),
		     0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_pixel_type(ds), MT_PIXELS_F32);
	px = mt_dataset_pixels(ds);
	for (i = 0; i < 8; i++)
		cr_assert_eq(px[i], (float)f8[i]);
	mt_dataset_free(ds);
}

Test(npy, label_dtypes)
{
	const unsigned char yu1[4] = {3, 0, 2, 1};
	const int32_t yi4[4] = {3, 0, 2, 1};
	const uint64_t yu8[4] = {3, 0, 2, 1};
	const char *dicts[3] = {
		"{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }",
		"{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }",
		"{'descr': '<u8', 'fortran_order': False, 'shape': (4,), }"};
	const void *ys[3] = {yu1, yi4, yu8};
	const size_t lens[3] = {sizeof(yu1), sizeof(yi4), sizeof(yu8)};
	mt_dataset *ds = NULL;
	int k, i;

	fill_pixels();
	for (k = 0; k < 3; k++) {
		cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, "
				       "'shape': (4, 6), }",
				  pixels24, 24, dicts[k], ys[k], lens[k], 0),
			     0, "%s: %s", dicts[k], mt_error_last());
		cr_assert_eq(mt_dataset_num_classes(ds), 4);
		for (i = 0; i < 4; i++)
			cr_assert_eq(mt_dataset_labels(ds)[i], y4[i]);
		mt_dataset_free(ds);
	}
}

Test(npy, versions_and_header_spellings)
{
	const char *x_dicts[] = {
		/* key order, quotes, spacing and trailing comma vary */
		"{\"shape\": (4,6), \"fortran_order\": False, \"descr\": \"|u1\"}",
		"{ 'descr':'|u1','fortran_order':False,'shape':( 4 , 6 ) }",
		"{'descr': '|u1', 'fortran_order': False, 'shape': (4L, 6L), }",
	};
	size_t xl, yl;
	unsigned char *xb, *yb;
	mt_dataset *ds = NULL;
	int major, k;

	fill_pixels();
	for (major = 1; major <= 3; major++) {
		for (k = 0; k < 3; k++) {
			xb = make_npy(major, x_dicts[k], pixels24, 24, &xl);
			yb = make_npy(major, y4_dict, y4, sizeof(y4), &yl);
			cr_assert_eq(mt_dataset_load_npy_buffer(&ds, xb, xl, "x.npy",
								yb, yl, "y.npy", 4),
				     0, "v%d %s: %s", major, x_dicts[k], mt_error_last());
			cr_assert_eq(mt_dataset_sample_size(ds), 6);
			cr_assert_eq(((const unsigned char *)mt_dataset_pixels(ds))[7],
				     77);
			mt_dataset_free(ds);
			free(xb);
			free(yb);
		}
	}
}

Test(npy, bad_magic_and_version)
{
	size_t xl, yl;
	unsigned char *xb, *yb;
	mt_dataset *ds = NULL;

	fill_pixels();
	xb = make_npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (4, 6), }",
		      pixels24, 24, &xl);
	yb = make_npy(1, y4_dict, y4, sizeof(y4), &yl);
	xb[6] = 4;
	cr_assert_eq(mt_dataset_load_npy_buffer(&ds, xb, xl, "x.npy", yb, yl,
						"y.npy", 4),
		     MT_EINVALID);
	assert_message_has("x.npy: .npy format version 4.0 is not supported, "
			   "expected 1.0, 2.0 or 3.0");
	xb[6] = 1;
	xb[1] = 'n';
	cr_assert_eq(mt_dataset_load_npy_buffer(&ds, xb, xl, "x.npy", yb, yl,
						"y.npy", 4),
		     MT_EINVALID);
	assert_message_has("x.npy: not a .npy file: wrong magic");
	cr_assert_eq(mt_dataset_load_npy_buffer(&ds, yb, 5, "y.npy", yb, yl,
						"y.npy", 4),
		     MT_EINVALID);
	assert_message_has("y.npy: not a .npy file: too short");
	/* header length beyond the end of the file */
	cr_assert_eq(mt_dataset_load_npy_buffer(&ds, yb, 40, "short.npy", yb, yl,
						"y.npy", 4),
		     MT_EINVALID);
	assert_message_has("short.npy: truncated .npy header: it declares 118 bytes "
			   "but the file has 30");
	cr_assert_null(ds);
	free(xb);
	free(yb);
}

Test(npy, bad_headers)
{
	const struct {
		const char *dict, *problem;
	} cases[] = {
		{"{'descr': '|u1', 'shape': (4, 6), }", "key 'fortran_order' is missing"},
		{"{'descr': '|u1', 'fortran_order': False, }", "key 'shape' is missing"},
		{"{'fortran_order': False, 'shape': (4, 6), }", "key 'descr' is missing"},
		{"{'descr': '|u1', 'fortran_order': False, 'shape': (4, 6), 'x': 1}",
		 "key 'x' is unknown or repeated"},
		{"{'descr': '|u1', 'descr': '|u1', 'fortran_order': False, 'shape': (4, 6)}",
		 "key 'descr' is unknown or repeated"},
		{"{'descr': '|u1', 'fortran_order': maybe, 'shape': (4, 6)}",
		 "fortran_order is not True or False"},
		{"{'descr': '|u1', 'fortran_order': False, 'shape': (4, -6)}",
		 "shape entry is not a non-negative integer"},
		{"{'descr': '|u1', 'fortran_order': False, 'shape': (4, 6)} junk",
		 "text after the dict"},
		{"{'descr: '|u1', 'fortran_order': False, 'shape': (4, 6)}",
		 "missing ':'"},
		{"'descr': '|u1'", "missing '{'"},
		{"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,)}",
		 "structured dtypes are not supported"},
		{"{'descr': '|u1', 'fortran_order': False, 'shape': (4, 6)",
		 "missing '}'"},
	};
	mt_dataset *ds = NULL;
	size_t k;

	fill_pixels();
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		cr_assert_eq(load(&ds, cases[k].dict, pixels24, 24, y4_dict, y4,
				  sizeof(y4), 4),
			     MT_EINVALID, "%s", cases[k].dict);
		assert_message_has("x.npy: bad .npy header: ");
		assert_message_has(cases[k].problem);
		cr_assert_null(ds);
	}
}

Test(npy, fortran_order_and_big_endian)
{
	const float f4[24] = {0};
	mt_dataset *ds = NULL;

	fill_pixels();
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': True, 'shape': "
			       "(4, 6), }",
			  pixels24, 24, y4_dict, y4, sizeof(y4), 4),
		     MT_EINVALID);
	assert_message_has("x.npy: fortran_order is True, expected C order");
	cr_assert_eq(load(&ds, "{'descr': '>f4', 'fortran_order': False, 'shape': "
			       "(4, 6), }",
			  f4, sizeof(f4), y4_dict, y4, sizeof(y4), 4),
		     MT_EINVALID);
	assert_message_has("x.npy: dtype '>f4' is big-endian, expected little "
			   "endian ('<')");
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			       "(4, 6), }",
			  pixels24, 24,
			  "{'descr': '>i8', 'fortran_order': False, 'shape': (4,), }",
			  y4, sizeof(y4), 4),
		     MT_EINVALID);
	assert_message_has("y.npy: dtype '>i8' is big-endian");
	cr_assert_null(ds);
}

Test(npy, unsupported_dtypes)
{
	const int16_t i2[24] = {0};
	const float yf[4] = {0};
	mt_dataset *ds = NULL;

	fill_pixels();
	cr_assert_eq(load(&ds, "{'descr': '<i2', 'fortran_order': False, 'shape': "
			       "(4, 6), }",
			  i2, sizeof(i2), y4_dict, y4, sizeof(y4), 4),
		     MT_EINVALID);
	assert_message_has("x.npy: dtype '<i2' is not supported for x, expected "
			   "'|u1', '<f4' or '<f8'");
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			       "(4, 6), }",
			  pixels24, 24,
			  "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
			  yf, sizeof(yf), 4),
		     MT_EINVALID);
	assert_message_has("y.npy: dtype '<f4' is not supported for y");
	cr_assert_eq(load(&ds, "{'descr': '<U3', 'fortran_order': False, 'shape': "
			       "(4, 2), }",
			  pixels24, 24, y4_dict, y4, sizeof(y4), 4),
		     MT_EINVALID);
	assert_message_has("x.npy: dtype '<U3' is not supported for x");
	cr_assert_eq(load(&ds, "{'descr': '<M8[ns]', 'fortran_order': False, "
			       "'shape': (4, 6), }",
			  pixels24, 24, y4_dict, y4, sizeof(y4), 4),
		     MT_EINVALID);
	assert_message_has("x.npy: dtype '<M8[ns]' is not a plain numeric type");
	cr_assert_null(ds);
}

Test(npy, payload_size_mismatch)
{
	mt_dataset *ds = NULL;

	fill_pixels();
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			       "(4, 6), }",
			  pixels24, 23, y4_dict, y4, sizeof(y4), 4),
		     MT_EINVALID);
	assert_message_has("x.npy: truncated: header says shape (4, 6) of '|u1' "
			   "(24 bytes) but the file has 23 bytes of data");
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			       "(3, 6), }",
			  pixels24, 24, y4_dict, y4, sizeof(y4), 4),
		     MT_EINVALID);
	assert_message_has("x.npy: 6 trailing bytes: header says shape (3, 6) of "
			   "'|u1' (18 bytes) but the file has 24 bytes of data");
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			       "(4, 6), }",
			  pixels24, 24, y4_dict, y4, sizeof(y4) - 8, 4),
		     MT_EINVALID);
	assert_message_has("y.npy: truncated: header says shape (4) of '<i8' (32 "
			   "bytes) but the file has 24 bytes of data");
	cr_assert_null(ds);
}

Test(npy, count_and_dimension_mismatch)
{
	mt_dataset *ds = NULL;

	fill_pixels();
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			       "(3, 8), }",
			  pixels24, 24, y4_dict, y4, sizeof(y4), 4),
		     MT_EINVALID);
	cr_assert_str_eq(mt_error_last(), "y.npy: 4 labels, but x.npy has 3 "
					  "samples; expected one label per sample");
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			       "(24,), }",
			  pixels24, 24, y4_dict, y4, sizeof(y4), 4),
		     MT_EINVALID);
	assert_message_has("x.npy: x has 1 dimensions, expected 2 (n, d), 3 (n, h, "
			   "w) or 4 (n, c, h, w)");
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			       "(4, 6), }",
			  pixels24, 24,
			  "{'descr': '<i8', 'fortran_order': False, 'shape': (4, 1), }",
			  y4, sizeof(y4), 4),
		     MT_EINVALID);
	assert_message_has("y.npy: y has 2 dimensions, expected 1 (n,)");
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			       "(4, 0, 6), }",
			  pixels24, 0, y4_dict, y4, sizeof(y4), 4),
		     MT_EINVALID);
	assert_message_has("x.npy: dimension 1 of x is 0");
	cr_assert_null(ds);
}

Test(npy, bad_labels)
{
	int64_t y[4] = {3, 0, 4, 1}; /* 4 of 4 classes: just outside */
	mt_dataset *ds = NULL;

	fill_pixels();
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			       "(4, 6), }",
			  pixels24, 24, y4_dict, y, sizeof(y), 4),
		     MT_EINVALID);
	cr_assert_str_eq(mt_error_last(), "y.npy: label 4 at index 2 is outside the "
					  "4 classes");
	y[2] = -1;
	cr_assert_eq(load(&ds, "{'descr': '|u1', 'fortran_order': False, 'shape': "
			       "(4, 6), }",
			  pixels24, 24, y4_dict, y, sizeof(y), 4),
		     MT_EINVALID);
	cr_assert_str_eq(mt_error_last(), "y.npy: label -1 at index 2 is negative");
	cr_assert_null(ds);
}

Test(npy, missing_file)
{
	char *dir = th_tempdir("npy"), x[4200], y[4200];
	mt_dataset *ds = NULL;

	snprintf(x, sizeof(x), "%s/x.npy", dir);
	snprintf(y, sizeof(y), "%s/y.npy", dir);
	cr_assert_eq(mt_dataset_load_npy(&ds, x, y, 10), MT_ENOTFOUND);
	assert_message_has(x);
	cr_assert_null(ds);
	remove_tempdir(dir);
}
