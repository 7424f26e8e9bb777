/* mutorch.yml on hostile input: nesting beyond MT_CONFIG_MAX_DEPTH refused
 * before libyaml's quadratic scan, a second document refused instead of
 * ignored, training.threads bounded, oversized files refused, a FIFO or a
 * directory as the config path refused without blocking. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "mutorch/config.h"
#include "mutorch/error.h"

#define VALID \
	"model:\n  torchscript: model.pt\n" \
	"data:\n" \
	"  train: {images: tr-img.gz, labels: tr-lab.gz}\n" \
	"  test: {images: te-img.gz, labels: te-lab.gz}\n"

static int load(const char *yaml, size_t len)
{
	mt_config *cfg = NULL;
	int error = mt_config_load_buffer(&cfg, yaml, len, "mutorch.yml", "/base");
	cr_assert_eq(error == 0, cfg != NULL);
	mt_config_free(cfg);
	return error;
}

static void load_fails(const char *yaml, const char *needle)
{
	int error = load(yaml, strlen(yaml));
	cr_assert_eq(error, MT_EINVALID, "expected MT_EINVALID, got %d (%s)", error,
		     mt_error_last());
	cr_assert(th_contains(mt_error_last(), needle), "message '%s' lacks '%s'",
		  mt_error_last(), needle);
}

/* VALID plus an extra top-level key whose value is a flow list nested
 * depth deep: [[[...]]]. */
static char *nested_flow(int depth, char open, char close)
{
	size_t n = strlen(VALID) + 16 + 2 * (size_t)depth;
	char *s = malloc(n + 1), *p;
	int i;
	cr_assert(s);
	p = s + sprintf(s, "%sextra: ", VALID);
	for (i = 0; i < depth; i++)
		*p++ = open;
	for (i = 0; i < depth; i++)
		*p++ = close;
	*p++ = '\n';
	*p = '\0';
	return s;
}

/* The old quadratic scan took minutes on 100,000 levels; the test's
 * timeout (not a timing assertion) catches a return of it. */
Test(config_limits, deep_flow_nesting_refused_early, .timeout = 60)
{
	char *s = nested_flow(100000, '[', ']');
	load_fails(s, "mutorch.yml:6: lists and mappings nested more than 64 deep");
	free(s);
	s = nested_flow(100000, '{', '}');
	load_fails(s, "nested more than 64 deep");
	free(s);
}

Test(config_limits, depth_at_the_limit_is_parsed)
{
	/* 62 flow levels inside the top mapping and its 'extra' key's
	 * mapping: reaches the loader, which names the unknown key */
	char *s = nested_flow(MT_CONFIG_MAX_DEPTH - 1, '[', ']');
	load_fails(s, "'extra'");
	free(s);
	s = nested_flow(MT_CONFIG_MAX_DEPTH, '[', ']');
	load_fails(s, "nested more than 64 deep");
	free(s);
}

Test(config_limits, deep_block_nesting_refused)
{
	char s[4096];
	size_t n = (size_t)sprintf(s, "%sextra:\n", VALID);
	int i;
	for (i = 0; i < 100; i++)
		n += (size_t)sprintf(s + n, "- ");
	sprintf(s + n, "x\n");
	load_fails(s, "nested more than 64 deep");
}

Test(config_limits, second_document_refused)
{
	load_fails(VALID "---\nmodel: {torchscript: other.pt}\n",
		   "mutorch.yml:6: a second YAML document starts here");
	/* even an invalid one: it was ignored before */
	load_fails(VALID "---\n[unclosed\n", "YAML syntax error in a second YAML document");
	/* one document with explicit markers is fine */
	cr_assert_eq(load("---\n" VALID "...\n", strlen("---\n" VALID "...\n")), 0, "%s",
		     mt_error_last());
}

Test(config_limits, threads_bounded)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long bound = cpus * MT_CONFIG_THREADS_PER_CPU < MT_CONFIG_MAX_THREADS
			     ? cpus * MT_CONFIG_THREADS_PER_CPU : MT_CONFIG_MAX_THREADS;
	char s[1024];

	load_fails(VALID "training:\n  threads: 4096\n",
		   "mutorch.yml:7: 'training.threads' is 4096, expected at most");
	load_fails(VALID "training:\n  threads: 1073741824\n", "'training.threads'");
	snprintf(s, sizeof(s), VALID "training:\n  threads: %ld\n", bound);
	cr_assert_eq(load(s, strlen(s)), 0, "%s", mt_error_last());
	snprintf(s, sizeof(s), VALID "training:\n  threads: %ld\n", bound + 1);
	load_fails(s, "'training.threads'");
}

Test(config_limits, oversized_file_refused)
{
	size_t n = MT_CONFIG_MAX_BYTES + 1;
	char *s = malloc(n + 1);
	cr_assert(s);
	memset(s, '#', n);
	memcpy(s, VALID, strlen(VALID));
	s[strlen(VALID)] = '#';
	s[n] = '\0';
	cr_assert_eq(load(s, n), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "expected a config of at most 1048576 bytes"),
		  "%s", mt_error_last());
	free(s);
}

Test(config_limits, fifo_and_directory_as_config, .timeout = 20)
{
	char *dir = th_tempdir("cfg-fifo"), path[4200];
	mt_config *cfg = NULL;

	snprintf(path, sizeof(path), "%s/mutorch.yml", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(mt_config_load(&cfg, path), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "mutorch.yml: is a FIFO (named pipe), "
			      "expected a regular file"), "%s", mt_error_last());
	unlink(path);
	cr_assert_eq(mt_config_load(&cfg, dir), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "is a directory"), "%s", mt_error_last());
	rmdir(dir);
	free(dir);
}
