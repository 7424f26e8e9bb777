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
/* training.optimizer, or the optimizer knob of an external program: the
 * key `key` of mapping `parent` (dotted path `prefix`). */
int cfg_load_optimizer(load_ctx *ctx, const yaml_node_t *parent, const char *prefix,
		       const char *key);

/* sections_program.c: an external training program (training.command) */
/* 1 when the root's training mapping sets a command (or another key of
 * an external program). */
int cfg_has_command(const load_ctx *ctx, const yaml_node_t *root);
/* training.command, program_files, hyperparameters and protocol of the
 * training mapping t (NULL: absent); the built-in trainer's keys are
 * refused next to a command. */
int cfg_load_program(load_ctx *ctx, const yaml_node_t *t);

#endif
