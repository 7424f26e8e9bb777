/* IDX reader: values, gzip through zlib, and every corruption it rejects. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "helpers.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"

#define N 3
#define ROWS 2
#define COLS 3

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Images i have pixel j = 10 * i + j. Returns the buffer size. */
static size_t make_images(unsigned char *buf, uint32_t magic, uint32_t n)
{
	uint32_t i, j;
	put_be32(buf, magic);
	put_be32(buf + 4, n);
	put_be32(buf + 8, ROWS);
	put_be32(buf + 12, COLS);
	for (i = 0; i < n; i++)
		for (j = 0; j < ROWS * COLS; j++)
			buf[16 + i * ROWS * COLS + j] = (unsigned char)(10 * i + j);
	return 16 + (size_t)n * ROWS * COLS;
}

static const unsigned char label_values[N] = {2, 0, 1};

static size_t make_labels(unsigned char *buf, uint32_t n)
{
	put_be32(buf, 0x00000801);
	put_be32(buf + 4, n);
	memcpy(buf + 8, label_values, n);
	return 8 + n;
}

static char *write_gz(const char *dir, const char *name, const void *data,
		      size_t len)
{
	char *path = malloc(4096);
	gzFile gz;
	snprintf(path, 4096, "%s/%s", dir, name);
	cr_assert(gz = gzopen(path, "wb"));
	cr_assert_eq(gzwrite(gz, data, (unsigned)len), (int)len);
	cr_assert_eq(gzclose(gz), Z_OK);
	return path;
}

static void check_values(const mt_dataset *ds, const char *name)
{
	const unsigned char *px = mt_dataset_pixels(ds);
	int i, j;

	cr_assert_eq(mt_dataset_count(ds), N);
	cr_assert_eq(mt_dataset_shape(ds)[0], 1);
	cr_assert_eq(mt_dataset_shape(ds)[1], ROWS);
	cr_assert_eq(mt_dataset_shape(ds)[2], COLS);
	cr_assert_eq(mt_dataset_pixel_type(ds), MT_PIXELS_U8);
	cr_assert_str_eq(mt_dataset_name(ds), name);
	for (i = 0; i < N; i++) {
		cr_assert_eq(mt_dataset_labels(ds)[i], label_values[i]);
		for (j = 0; j < ROWS * COLS; j++)
			cr_assert_eq(px[i * ROWS * COLS + j], 10 * i + j);
	}
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

/* Load images/labels buffers through files in a fresh directory (removed
 * again); return the code and the paths used (static, for messages). */
static int load_files(const void *images, size_t images_len, const void *labels,
		      size_t labels_len, int num_classes, char **images_path,
		      char **labels_path)
{
	static char images_copy[4200], labels_copy[4200];
	char *dir = th_tempdir("idx"), *ip, *lp;
	mt_dataset *ds = NULL;
	int error;

	ip = th_write(dir, "imgs.idx", images, images_len);
	lp = th_write(dir, "lbls.idx", labels, labels_len);
	error = mt_dataset_load_idx(&ds, ip, lp, num_classes);
	if (error < 0)
		cr_assert_null(ds);
	mt_dataset_free(ds);
	snprintf(images_copy, sizeof(images_copy), "%s", ip);
	snprintf(labels_copy, sizeof(labels_copy), "%s", lp);
	*images_path = images_copy;
	*labels_path = labels_copy;
	free(ip);
	free(lp);
	remove_tempdir(dir);
	return error;
}


#define assert_message_has(s)                                                  \
	cr_assert(strstr(mt_error_last(), (s)), "message '%s' lacks '%s'",      \
		  mt_error_last(), (s))

Test(idx, plain_files)
{
	unsigned char images[64], labels[16];
	size_t il = make_images(images, 0x00000803, N), ll = make_labels(labels, N);
	char *dir = th_tempdir("idx");
	char *ip = th_write(dir, "images-idx3-ubyte", images, il);
	char *lp = th_write(dir, "labels-idx1-ubyte", labels, ll);
	mt_dataset *ds = NULL;

	cr_assert_eq(mt_dataset_load_idx(&ds, ip, lp, 3), 0, "%s", mt_error_last());
	check_values(ds, ip);
	cr_assert_eq(mt_dataset_num_classes(ds), 3);
	mt_dataset_free(ds);
	/* 0 classes: max label + 1 */
	cr_assert_eq(mt_dataset_load_idx(&ds, ip, lp, 0), 0);
	cr_assert_eq(mt_dataset_num_classes(ds), 3);
	mt_dataset_free(ds);
	cr_assert_eq(mt_dataset_load_idx(&ds, ip, lp, 10), 0);
	cr_assert_eq(mt_dataset_num_classes(ds), 10);
	mt_dataset_free(ds);
	free(ip);
	free(lp);
	remove_tempdir(dir);
}

Test(idx, gzip_files_and_mixed)
{
	unsigned char images[64], labels[16];
	size_t il = make_images(images, 0x00000803, N), ll = make_labels(labels, N);
	char *dir = th_tempdir("idx");
	char *igz = write_gz(dir, "images.gz", images, il);
	char *lgz = write_gz(dir, "labels.gz", labels, ll);
	char *lp = th_write(dir, "labels", labels, ll);
	mt_dataset *ds = NULL;

	cr_assert_eq(mt_dataset_load_idx(&ds, igz, lgz, 3), 0, "%s", mt_error_last());
	check_values(ds, igz);
	mt_dataset_free(ds);
	cr_assert_eq(mt_dataset_load_idx(&ds, igz, lp, 3), 0, "%s", mt_error_last());
	check_values(ds, igz);
	mt_dataset_free(ds);
	free(igz);
	free(lgz);
	free(lp);
	remove_tempdir(dir);
}

Test(idx, buffers_plain_and_gzip)
{
	unsigned char images[64], labels[16];
	size_t il = make_images(images, 0x00000803, N), ll = make_labels(labels, N);
	unsigned char gz[256];
	uLongf gz_len = sizeof(gz);
	z_stream zs;
	mt_dataset *ds = NULL;

	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, images, il, "blob:images",
						labels, ll, "blob:labels", 3),
		     0, "%s", mt_error_last());
	check_values(ds, "blob:images");
	mt_dataset_free(ds);

	/* gzip-wrapped images in memory, as read out of a git blob */
	memset(&zs, 0, sizeof(zs));
	cr_assert_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
				  Z_DEFAULT_STRATEGY),
		     Z_OK);
	zs.next_in = images;
	zs.avail_in = (uInt)il;
	zs.next_out = gz;
	zs.avail_out = (uInt)gz_len;
	cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	gz_len = zs.total_out;
	deflateEnd(&zs);
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, gz, gz_len, "blob.gz", labels,
						ll, "blob:labels", 3),
		     0, "%s", mt_error_last());
	check_values(ds, "blob.gz");
	mt_dataset_free(ds);
	/* a broken gzip blob names the blob */
	gz[gz_len / 2] ^= 0x55;
	gz[gz_len / 2 + 1] ^= 0xAA;
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, gz, gz_len, "blob.gz", labels,
						ll, "blob:labels", 3),
		     MT_EINVALID);
	assert_message_has("blob.gz: ");
	assert_message_has("gzip");
}

Test(idx, float32_images)
{
	unsigned char buf[16 + 4 * 4], labels[16];
	const float values[4] = {0.5f, -1.25f, 3e-3f, 255.0f};
	mt_dataset *ds = NULL;
	const float *px;
	int i;

	put_be32(buf, 0x00000D03);
	put_be32(buf + 4, 2);
	put_be32(buf + 8, 1);
	put_be32(buf + 12, 2);
	for (i = 0; i < 4; i++) {
		uint32_t bits;
		memcpy(&bits, &values[i], 4);
		put_be32(buf + 16 + 4 * i, bits);
	}
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, buf, sizeof(buf), "f.idx",
						labels, make_labels(labels, 2),
						"l.idx", 3),
		     0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_pixel_type(ds), MT_PIXELS_F32);
	cr_assert_eq(mt_dataset_count(ds), 2);
	cr_assert_eq(mt_dataset_shape(ds)[2], 2);
	px = mt_dataset_pixels(ds);
	for (i = 0; i < 4; i++)
		cr_assert_eq(px[i], values[i]);
	mt_dataset_free(ds);
	/* float32 payload is checked at 4 bytes per pixel */
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, buf, sizeof(buf) - 4, "f.idx",
						labels, make_labels(labels, 2),
						"l.idx", 3),
		     MT_EINVALID);
	assert_message_has("f.idx: truncated: header says 2 float32 images of 1x2 "
			   "(16 bytes) but the file has 12 bytes of data");
}

Test(idx, wrong_magic)
{
	unsigned char images[64], labels[16];
	size_t il = make_images(images, 0x00000804, N), ll = make_labels(labels, N);
	char *ip, *lp;

	cr_assert_eq(load_files(images, il, labels, ll, 3, &ip, &lp), MT_EINVALID);
	assert_message_has(ip);
	assert_message_has("wrong magic 0x00000804, expected 0x00000803 (IDX ubyte "
			   "images, 3 dimensions)");
	/* images and labels swapped */
	il = make_images(images, 0x00000803, N);
	cr_assert_eq(load_files(labels, ll, images, il, 3, &ip, &lp), MT_EINVALID);
	assert_message_has(ip);
	assert_message_has("wrong magic 0x00000801");
	/* labels file with an images magic */
	cr_assert_eq(load_files(images, il, images, il, 3, &ip, &lp), MT_EINVALID);
	assert_message_has(lp);
	assert_message_has("wrong magic 0x00000803, expected 0x00000801 (IDX ubyte "
			   "labels, 1 dimension)");
}

Test(idx, truncated_headers)
{
	unsigned char images[64], labels[16];
	size_t il = make_images(images, 0x00000803, N), ll = make_labels(labels, N);
	char *ip, *lp;

	cr_assert_eq(load_files(images, 10, labels, ll, 3, &ip, &lp), MT_EINVALID);
	assert_message_has(ip);
	assert_message_has("truncated: 10 bytes, an IDX images header needs 16 "
			   "bytes");
	cr_assert_eq(load_files(images, 2, labels, ll, 3, &ip, &lp), MT_EINVALID);
	assert_message_has("truncated: 2 bytes");
	cr_assert_eq(load_files(images, il, labels, 6, 3, &ip, &lp), MT_EINVALID);
	assert_message_has(lp);
	assert_message_has("truncated: 6 bytes, an IDX labels header needs 8 bytes");
	cr_assert_eq(load_files(images, il, labels, 0, 3, &ip, &lp), MT_EINVALID);
	assert_message_has(lp);
}

Test(idx, truncated_and_trailing_payload)
{
	unsigned char images[64], labels[16];
	size_t il = make_images(images, 0x00000803, N), ll = make_labels(labels, N);
	char *ip, *lp, msg[256];

	cr_assert_eq(load_files(images, il - 1, labels, ll, 3, &ip, &lp),
		     MT_EINVALID);
	snprintf(msg, sizeof(msg), "%s: truncated: header says 3 images of 2x3 "
		 "(18 bytes) but the file has 17 bytes of data", ip);
	cr_assert_str_eq(mt_error_last(), msg);

	images[il] = 0;
	images[il + 1] = 0;
	cr_assert_eq(load_files(images, il + 2, labels, ll, 3, &ip, &lp),
		     MT_EINVALID);
	assert_message_has(ip);
	assert_message_has("2 trailing bytes: header says 3 images of 2x3 (18 "
			   "bytes) but the file has 20 bytes of data");

	cr_assert_eq(load_files(images, il, labels, ll - 1, 3, &ip, &lp),
		     MT_EINVALID);
	assert_message_has(lp);
	assert_message_has("truncated: header says 3 labels (3 bytes) but the file "
			   "has 2 bytes of data");
	labels[ll] = 1;
	cr_assert_eq(load_files(images, il, labels, ll + 1, 3, &ip, &lp),
		     MT_EINVALID);
	assert_message_has(lp);
	assert_message_has("1 trailing bytes");
}

Test(idx, huge_header_counts_do_not_overflow)
{
	unsigned char images[64], labels[16];
	size_t il = make_images(images, 0x00000803, N), ll = make_labels(labels, N);
	mt_dataset *ds = NULL;

	put_be32(images + 4, 0xFFFFFFFFu);
	put_be32(images + 8, 0xFFFFFFFFu);
	put_be32(images + 12, 0xFFFFFFFFu);
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, images, il, "big.idx", labels,
						ll, "l.idx", 3),
		     MT_EINVALID);
	assert_message_has("big.idx: header says 4294967295 images of "
			   "4294967295x4294967295, which overflows");
	put_be32(images + 4, 0);
	put_be32(images + 8, ROWS);
	put_be32(images + 12, COLS);
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, images, 16, "empty.idx",
						labels, 8, "l.idx", 3),
		     MT_EINVALID);
	assert_message_has("empty.idx: header says 0 images");
	put_be32(images + 4, N);
	put_be32(images + 8, 0);
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, images, 16, "flat.idx",
						labels, ll, "l.idx", 3),
		     MT_EINVALID);
	assert_message_has("flat.idx: image size 0x3 has a zero dimension");
	cr_assert_null(ds);
}

Test(idx, count_mismatch)
{
	unsigned char images[64], labels[16];
	size_t il = make_images(images, 0x00000803, N), ll = make_labels(labels, 2);
	char *ip, *lp, msg[512];

	cr_assert_eq(load_files(images, il, labels, ll, 3, &ip, &lp), MT_EINVALID);
	snprintf(msg, sizeof(msg), "%s: 2 labels, but %s has 3 images; expected "
		 "one label per image", lp, ip);
	cr_assert_str_eq(mt_error_last(), msg);
}

Test(idx, label_out_of_range)
{
	unsigned char images[64], labels[16];
	size_t il = make_images(images, 0x00000803, N), ll = make_labels(labels, N);
	char *ip, *lp, msg[512];

	labels[8 + 1] = 12;
	cr_assert_eq(load_files(images, il, labels, ll, 10, &ip, &lp), MT_EINVALID);
	snprintf(msg, sizeof(msg), "%s: label 12 at index 1 is outside the 10 "
		 "classes", lp);
	cr_assert_str_eq(mt_error_last(), msg);
	/* the boundary: label == classes is already outside */
	labels[8 + 1] = 3;
	cr_assert_eq(load_files(images, il, labels, ll, 3, &ip, &lp), MT_EINVALID);
	snprintf(msg, sizeof(msg), "%s: label 3 at index 1 is outside the 3 "
		 "classes", lp);
	cr_assert_str_eq(mt_error_last(), msg);
	cr_assert_eq(load_files(images, il, labels, ll, 4, &ip, &lp), 0);
	labels[8 + 1] = 12;
	/* inferred class count accepts it */
	cr_assert_eq(load_files(images, il, labels, ll, 0, &ip, &lp), 0);
	cr_assert_eq(load_files(images, il, labels, ll, -1, &ip, &lp), MT_EINVALID);
	assert_message_has("negative number of classes -1");
}

Test(idx, missing_file)
{
	unsigned char labels[16];
	size_t ll = make_labels(labels, N);
	char *dir = th_tempdir("idx");
	char *lp = th_write(dir, "labels", labels, ll);
	char missing[4200];
	mt_dataset *ds = NULL;

	snprintf(missing, sizeof(missing), "%s/no-such-images.gz", dir);
	cr_assert_eq(mt_dataset_load_idx(&ds, missing, lp, 10), MT_ENOTFOUND);
	assert_message_has(missing);
	cr_assert_null(ds);
	cr_assert_eq(mt_dataset_load_idx(&ds, lp, missing, 10), MT_ENOTFOUND);
	assert_message_has(missing);
	cr_assert_eq(mt_dataset_load_idx(&ds, NULL, lp, 10), MT_EINVALID);
	assert_message_has("images path not given");
	free(lp);
	remove_tempdir(dir);
}

Test(idx, corrupt_and_truncated_gzip)
{
	unsigned char images[64], labels[16], *gz;
	size_t il = make_images(images, 0x00000803, N), ll = make_labels(labels, N);
	char *dir = th_tempdir("idx");
	char *igz = write_gz(dir, "images.gz", images, il);
	char *lp = th_write(dir, "labels", labels, ll);
	char *bad;
	FILE *f;
	long gz_len;
	mt_dataset *ds = NULL;

	cr_assert(f = fopen(igz, "rb"));
	fseek(f, 0, SEEK_END);
	gz_len = ftell(f);
	fseek(f, 0, SEEK_SET);
	gz = malloc((size_t)gz_len);
	cr_assert_eq(fread(gz, 1, (size_t)gz_len, f), (size_t)gz_len);
	fclose(f);

	/* cut in the middle of the deflate stream */
	bad = th_write(dir, "cut.gz", gz, (size_t)gz_len / 2);
	cr_assert_eq(mt_dataset_load_idx(&ds, bad, lp, 3), MT_EINVALID);
	assert_message_has(bad);
	assert_message_has("truncated gzip stream");
	/* flipped bytes: the deflate data or the CRC no longer check out */
	gz[gz_len / 2] ^= 0xFF;
	gz[gz_len / 2 + 1] ^= 0x5A;
	free(bad);
	bad = th_write(dir, "flipped.gz", gz, (size_t)gz_len);
	cr_assert_eq(mt_dataset_load_idx(&ds, bad, lp, 3), MT_EINVALID);
	assert_message_has(bad);
	assert_message_has("corrupt gzip data");
	cr_assert_null(ds);
	free(gz);
	free(bad);
	free(igz);
	free(lp);
	remove_tempdir(dir);
}
