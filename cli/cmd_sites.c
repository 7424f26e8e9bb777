/* mutorch sites: the graph operators' sites of the config's model. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/runner.h"
#include "mutorch/shim.h"
#include "mutorch/shim_graph.h"

static const char sites_usage[] =
	"usage: mutorch sites [CONFIG] [--op OP] [--json]\n"
	"\n"
	"List every site of the graph operators (LD, LAm, AFRm) in CONFIG's trained\n"
	"model, anywhere in its module tree, in forward order: each call's name (what\n"
	"`sites:` of a graph operator and the mutant ids use), what it calls, its\n"
	"input and output shapes for one sample of model.input_shape, and for each\n"
	"operator whether it applies there or why not. docs/operators.md explains\n"
	"the names.\n"
	"\n"
	"  -o, --op OP     only the sites where OP (LD, LAm or AFRm) applies\n"
	"      --json      one JSON object: {\"input_shape\", \"sites\": [...], \"counts\"}\n"
	"  -h, --help      show this help\n";

static const char *kind_name(mt_site_kind k)
{
	return k == MT_SITE_MODULE ? "module" : k == MT_SITE_FUNCTION ? "function" : "op";
}

/* "Conv2d" for a qualified type or function name. */
static const char *short_target(const char *target)
{
	const char *dot = strrchr(target, '.');
	return dot ? dot + 1 : target;
}

static void shape_text(char *buf, size_t len, const int64_t *shape, int ndim)
{
	size_t used = (size_t)snprintf(buf, len, "[");
	for (int i = 0; i < ndim && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? "," : "",
					 (long long)shape[i]);
	if (used < len)
		snprintf(buf + used, len - used, "]");
}

static json_t *shape_json(const int64_t *shape, int ndim)
{
	json_t *a = json_array();
	for (int i = 0; i < ndim; i++)
		json_array_append_new(a, json_integer((json_int_t)shape[i]));
	return a;
}

static json_t *sites_json(const mt_graph_site *sites, size_t n, const int64_t *shape,
			  const size_t *counts, int only)
{
	json_t *root = json_object(), *arr = json_array(), *c = json_object();
	for (size_t i = 0; i < n; i++) {
		const mt_graph_site *s = &sites[i];
		json_t *ops = json_object();
		if (only >= 0 && !s->applicable[only])
			continue;
		for (int op = 0; op < MT_GRAPH__COUNT; op++)
			json_object_set_new(ops, mt_graph_op_name(op),
					    s->applicable[op] ? json_pack("{s:b}", "applies", 1)
							      : json_pack("{s:b, s:s}", "applies", 0,
									  "reason", s->reason[op]));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:o, s:o, s:o}",
						     "name", s->name, "kind", kind_name(s->kind),
						     "module", s->module, "caller", s->caller,
						     "target", s->target,
						     "depth", s->depth, "activation", s->is_activation,
						     "input_shape", shape_json(s->in_shape, s->in_ndim),
						     "output_shape", shape_json(s->out_shape, s->out_ndim),
						     "operators", ops));
	}
	for (int op = 0; op < MT_GRAPH__COUNT; op++)
		json_object_set_new(c, mt_graph_op_name(op), json_integer((json_int_t)counts[op]));
	json_object_set_new(c, "sites", json_integer((json_int_t)n));
	json_object_set_new(root, "input_shape", shape_json(shape, 4));
	json_object_set_new(root, "sites", arr);
	json_object_set_new(root, "counts", c);
	return root;
}

/* A reason without what the table shows already (the shapes, the type). */
static const char *short_reason(const char *reason)
{
	if (!strncmp(reason, "changes the shape", 17))
		return "changes the shape";
	if (strstr(reason, "is not an activation"))
		return "not an activation";
	return reason;
}

/* Why not, compactly: the operators that share a reason are named once. */
static void why_not(char *buf, size_t len, const mt_graph_site *s)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int op = 0; op < MT_GRAPH__COUNT; op++) {
		const char *why = short_reason(s->reason[op]);
		int seen = 0;
		if (s->applicable[op])
			continue;
		for (int k = 0; k < op; k++)
			seen |= !s->applicable[k] && !strcmp(short_reason(s->reason[k]), why);
		if (seen)
			continue;
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s", used ? "; " : "");
		for (int k = op, first = 1; k < MT_GRAPH__COUNT; k++)
			if (!s->applicable[k] && !strcmp(short_reason(s->reason[k]), why)) {
				used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
							 first ? "" : ",", mt_graph_op_name(k));
				first = 0;
			}
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, ": %s", why);
	}
}

static void sites_table(const mt_graph_site *sites, size_t n, const size_t *counts, int only)
{
	printf("%-36s %-20s %-16s %-16s %-3s %-3s %-4s %s\n", "site", "calls", "input", "output",
	       "LD", "LAm", "AFRm", "why not (--json: the full reasons)");
	for (size_t i = 0; i < n; i++) {
		const mt_graph_site *s = &sites[i];
		char in[96], out[96], why[1024];
		if (only >= 0 && !s->applicable[only])
			continue;
		shape_text(in, sizeof(in), s->in_shape, s->in_ndim);
		shape_text(out, sizeof(out), s->out_shape, s->out_ndim);
		why_not(why, sizeof(why), s);
		printf("%-36s %-20s %-16s %-16s %-3s %-3s %-4s %s\n", s->name, short_target(s->target),
		       in, out, s->applicable[MT_GRAPH_LD] ? "yes" : "-",
		       s->applicable[MT_GRAPH_LAM] ? "yes" : "-",
		       s->applicable[MT_GRAPH_AFRM] ? "yes" : "-", why);
	}
	printf("%zu sites; LD applies to %zu, LAm to %zu, AFRm to %zu\n", n, counts[MT_GRAPH_LD],
	       counts[MT_GRAPH_LAM], counts[MT_GRAPH_AFRM]);
}

int cmd_sites(int argc, char **argv)
{
	static const struct option opts[] = {
		{"op", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'J'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *config_path = "mutorch.yml";
	mt_config *cfg = NULL;
	mt_module *model = NULL;
	mt_graph_site *sites = NULL;
	size_t nsites = 0, counts[MT_GRAPH__COUNT] = {0};
	int64_t shape[4] = {1, 0, 0, 0};
	int json = 0, c, error = 0, rc, only = -1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': {
			mt_graph_op op;
			if (mt_graph_op_from_name(&op, optarg) < 0)
				return cli_usage_error("sites", "--op must be LD, LAm or AFRm, got '%s'", optarg);
			only = (int)op;
			break;
		}
		case 'J': json = 1; break;
		case 'h': fputs(sites_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("sites", "unknown option");
		}
	}
	if (optind < argc)
		config_path = argv[optind++];
	if (optind < argc)
		return cli_usage_error("sites", "unexpected argument '%s'", argv[optind]);
	if ((error = cli_load_config(&cfg, config_path)) < 0)
		goto cleanup;
	if (!cfg->has_input_shape) {
		error = mt_error_set(MT_EINVALID, "%s: model.input_shape is required to list the sites (their shapes come from one sample)",
				     cfg->path);
		goto cleanup;
	}
	memcpy(shape + 1, cfg->input_shape, sizeof(cfg->input_shape));
	if ((error = mt_runner_trained_model(&model, NULL, cfg, NULL)) < 0 ||
	    (error = mt_graph_sites(&sites, &nsites, model, shape, 4)) < 0)
		goto cleanup;
	for (size_t i = 0; i < nsites; i++)
		for (int op = 0; op < MT_GRAPH__COUNT; op++)
			counts[op] += sites[i].applicable[op] != 0;
	if (json) {
		json_t *root = sites_json(sites, nsites, shape, counts, only);
		json_dumpf(root, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(root);
	} else {
		sites_table(sites, nsites, counts, only);
	}
cleanup:
	rc = error < 0 ? cli_fail("sites", error) : MT_EXIT_OK;
	free(sites);
	mt_module_free(model);
	mt_config_free(cfg);
	return rc;
}
