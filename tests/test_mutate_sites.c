/* The planner's expansion of graph operators over sites anywhere in the
 * module tree (mutate/plan.c), with a fake model: one mutant per
 * applicable site in the model's order, ids naming nested sites, the
 * `sites:` list checked, and a configured site the operator does not take
 * refused with the config line and the model's explanation (the shim
 * writes it; here a fake one), a site the model cannot list refused with
 * the model's error. Pure C: no libtorch. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/plan.h"

static const char *const ld_sites[] = {"bn1", "layer1.0.relu@2", "layer1.0:add@1",
				       "block@2.conv1"};
static const char *const afrm_sites[] = {"relu", "layer1.0.relu@2", "block@2:relu@1"};

static int fail_sites;

static int fake_sites(void *ctx, const char *op, const char *const **sites, size_t *count)
{
	(void)ctx;
	if (fail_sites)
		return mt_error_set(MT_EINVALID, "the model's forward fails on one input");
	if (!strcmp(op, "AFRm")) {
		*sites = afrm_sites;
		*count = 3;
	} else {
		*sites = ld_sites;
		*count = 4;
	}
	return 0;
}

static int explained;

static int fake_explain(void *ctx, const char *op, const char *site, char *buf, size_t len)
{
	(void)ctx;
	explained++;
	if (!strncmp(site, "layer9", 6)) {
		snprintf(buf, len, "no site '%s' in the module tree; the sites in the model's forward are ...", site);
		return MT_ENOTFOUND;
	}
	snprintf(buf, len, "site '%s' (Conv2d, in the forward of layer1.0): not for %s", site, op);
	return MT_EINVALID;
}

static mt_config *load(const char *mutation)
{
	char yaml[2048];
	mt_config *cfg = NULL;
	snprintf(yaml, sizeof(yaml),
		 "model: {torchscript: m.pt, input_shape: [3, 32, 32]}\n"
		 "data:\n"
		 "  format: npy\n"
		 "  train: {x: x.npy, y: y.npy}\n"
		 "  test: {x: x.npy, y: y.npy}\n"
		 "mutation:\n"
		 "  model_level:\n%s",
		 mutation);
	cr_assert_eq(mt_config_load_buffer(&cfg, yaml, strlen(yaml), "mutorch.yml", "/base"), 0,
		     "%s", mt_error_last());
	return cfg;
}

static mt_plan_model fake_model(void)
{
	mt_plan_model pm;
	memset(&pm, 0, sizeof(pm));
	pm.graph_sites = fake_sites;
	pm.explain_site = fake_explain;
	return pm;
}

Test(sites, every_applicable_site_in_the_tree_is_a_mutant)
{
	mt_config *cfg = load("    - {op: LD}\n    - {op: AFRm}\n");
	mt_plan_model pm = fake_model();
	mt_plan *plan = NULL;
	fail_sites = 0;
	cr_assert_eq(mt_plan_model_level(&plan, cfg, &pm), 0, "%s", mt_error_last());
	cr_assert_eq(mt_plan_count(plan), 7);
	for (size_t i = 0; i < 4; i++) {
		char id[128];
		snprintf(id, sizeof(id), "LD-%s", ld_sites[i]);
		cr_assert_str_eq(mt_plan_at(plan, i)->id, id);
		cr_assert_str_eq(mt_plan_at(plan, i)->target, ld_sites[i]);
		cr_assert(strstr(mt_plan_at(plan, i)->params, ld_sites[i]), "%s",
			  mt_plan_at(plan, i)->params);
	}
	cr_assert_str_eq(mt_plan_at(plan, 6)->id, "AFRm-block@2:relu@1");
	mt_plan_free(plan);
	mt_config_free(cfg);
}

Test(sites, a_list_of_nested_sites)
{
	mt_config *cfg = load("    - {op: LD, sites: [\"layer1.0:add@1\", block@2.conv1]}\n");
	mt_plan_model pm = fake_model();
	mt_plan *plan = NULL;
	fail_sites = 0;
	cr_assert_eq(mt_plan_model_level(&plan, cfg, &pm), 0, "%s", mt_error_last());
	cr_assert_eq(mt_plan_count(plan), 2);
	cr_assert_str_eq(mt_plan_at(plan, 0)->id, "LD-layer1.0:add@1");
	cr_assert_str_eq(mt_plan_at(plan, 1)->id, "LD-block@2.conv1");
	mt_plan_free(plan);
	mt_config_free(cfg);
}

Test(sites, a_site_the_operator_does_not_take_is_explained)
{
	mt_config *cfg = load("    - {op: LD}\n    - {op: AFRm, sites: [relu, layer1.0.conv1]}\n");
	mt_plan_model pm = fake_model();
	mt_plan *plan = NULL;
	fail_sites = 0;
	explained = 0;
	cr_assert_eq(mt_plan_model_level(&plan, cfg, &pm), MT_EINVALID);
	cr_assert_null(plan);
	cr_assert_eq(explained, 1);
	const char *msg = mt_error_last();
	cr_assert(strstr(msg, "mutorch.yml:9") && strstr(msg, "model_level[1] (AFRm)") &&
		  strstr(msg, "site 'layer1.0.conv1' (Conv2d, in the forward of layer1.0): not for AFRm"),
		  "%s", msg);

	mt_config_free(cfg);
	cfg = load("    - {op: LD, sites: [layer9.conv]}\n");
	cr_assert_eq(mt_plan_model_level(&plan, cfg, &pm), MT_ENOTFOUND);
	cr_assert(strstr(mt_error_last(), "no site 'layer9.conv'"), "%s", mt_error_last());
	mt_config_free(cfg);
}

Test(sites, the_models_error_names_the_entry)
{
	mt_config *cfg = load("    - {op: AFRm}\n");
	mt_plan_model pm = fake_model();
	mt_plan *plan = NULL;
	fail_sites = 1;
	cr_assert_eq(mt_plan_model_level(&plan, cfg, &pm), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "model_level[0] (AFRm)") &&
		  strstr(mt_error_last(), "forward fails"), "%s", mt_error_last());
	fail_sites = 0;
	mt_config_free(cfg);
}
