/* The section loaders of mutorch.yml that mt_config_load_buffer (config.c)
 * calls in turn; not a public header. Each reads its section of the root
 * mapping into ctx->cfg (an absent optional section keeps the defaults). */
#ifndef MUTORCH_CONFIG_SECTIONS_H
#define MUTORCH_CONFIG_SECTIONS_H

#include <yaml.h>

#include "yaml_get.h"

/* sections_model_data.c */
int cfg_load_model(load_ctx *ctx, const yaml_node_t *root);
int cfg_load_data(load_ctx *ctx, const yaml_node_t *root);

/* sections_training_mutation.c */
int cfg_load_training(load_ctx *ctx, const yaml_node_t *root);
int cfg_load_run(load_ctx *ctx, const yaml_node_t *root);
int cfg_load_mutation(load_ctx *ctx, const yaml_node_t *root);
int cfg_load_ci(load_ctx *ctx, const yaml_node_t *root);

#endif
