/* The models a config names: the untrained original (built or loaded) and
 * the trained one. */
#include "mutorch/runner.h"
#include "mutorch/arch.h"
#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/recipe.h"
#include "mutorch/shim.h"

#include <stdlib.h>
#include <unistd.h>

int mt_runner_initial_model(mt_module **out, const mt_config *cfg)
{
	mt_arch *arch = NULL;
	mt_module *loaded = NULL;
	int error;

	*out = NULL;
	if (cfg->architecture) {
		if ((error = mt_arch_parse(&arch, cfg->architecture)) < 0) {
			mt_error_prefix("%s: model.architecture: ", cfg->path);
			return error;
		}
		if (cfg->has_input_shape &&
		    (error = mt_arch_check(arch, cfg->input_shape, NULL)) < 0) {
			mt_error_prefix("%s: model.architecture: ", cfg->path);
			goto cleanup;
		}
		error = mt_module_build(out, arch, cfg->init, cfg->seed);
		goto cleanup;
	}
	if ((error = mt_module_load(&loaded, cfg->torchscript)) < 0)
		goto cleanup;
	/* A clone's parameters are leaves an optimizer accepts. */
	error = mt_module_clone(out, loaded);
cleanup:
	mt_module_free(loaded);
	mt_arch_free(arch);
	return error;
}

int mt_runner_trained_model(mt_module **out, const char **loaded, const mt_config *cfg,
			    const char *path)
{
	const char *unused;
	*out = NULL;
	if (!loaded)
		loaded = &unused;
	*loaded = NULL;
	if (!path && access(cfg->output, F_OK) == 0)
		path = cfg->output;
	if (!path && cfg->torchscript)
		path = cfg->torchscript;
	if (path) {
		*loaded = path;
		return mt_module_load(out, path);
	}
	return mt_error_set(MT_ENOTFOUND,
			    "%s: no trained model: %s does not exist (run `mutorch train %s` first)",
			    cfg->path, cfg->output, cfg->path);
}
