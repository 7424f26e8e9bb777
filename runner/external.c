/* Training with the user's own program (see external.h and
 * docs/training-programs.md): the JSON spec, the program in its own
 * process group with a time limit and its output kept, the model it wrote;
 * and `mutorch train` with it. The training set's .npy files and the
 * checks on the model are in external_data.c. */
#define _GNU_SOURCE /* pipe2 */
#include "external.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mutorch/clock.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/recipe.h"
#include "mutorch/runner.h"
#include "mutorch/strbuf.h"
#include "source_internal.h"

extern char **environ;

/* ---- the command ----------------------------------------------------------- */

static int is_executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int mt_ext_resolve_command(char **path, const mt_config *cfg)
{
	const char *name = cfg->ncommand ? cfg->command[0] : "";
	char real[PATH_MAX];

	*path = NULL;
	if (strchr(name, '/')) {
		/* relative to the config's directory, where the program runs */
		char *joined = mt_io_path_join(cfg->base_dir, name);
		if (!joined)
			return mt_error_oom();
		if (!is_executable(joined) || !realpath(joined, real)) {
			free(joined);
			return mt_error_set(MT_ENOTFOUND, "%s: 'training.command' runs '%s', which is not an executable file in %s; expected a program (e.g. [python3, train.py])",
					    cfg->path, name, cfg->base_dir);
		}
		free(joined);
		return (*path = strdup(real)) ? 0 : mt_error_oom();
	}
	const char *dirs = getenv("PATH");
	for (const char *p = dirs && *dirs ? dirs : "/usr/local/bin:/usr/bin:/bin"; *name && p;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		char cand[PATH_MAX];
		if (snprintf(cand, sizeof(cand), "%.*s/%s", (int)len, len ? p : ".", name) < (int)sizeof(cand) &&
		    is_executable(cand) && realpath(cand, real))
			return (*path = strdup(real)) ? 0 : mt_error_oom();
		p = colon ? colon + 1 : NULL;
	}
	return mt_error_set(MT_ENOTFOUND, "%s: 'training.command' runs '%s', which is not found on PATH (%s); expected an installed program (e.g. [python3, train.py])",
			    cfg->path, name, dirs ? dirs : "unset");
}

/* ---- the spec ----------------------------------------------------------------- */

/* The optimizer as torch.optim's keyword arguments, with its name. */
static json_t *optimizer_json(const mt_optim_config *o)
{
	json_t *j = json_pack("{s:s, s:f}", "name", mt_optim_kind_name(o->kind), "lr", o->lr);
	switch (o->kind) {
	case MT_OPTIM_SGD:
		json_object_set_new(j, "momentum", json_real(o->momentum));
		json_object_set_new(j, "dampening", json_real(o->dampening));
		json_object_set_new(j, "weight_decay", json_real(o->weight_decay));
		json_object_set_new(j, "nesterov", json_boolean(o->nesterov));
		break;
	case MT_OPTIM_ADAM:
	case MT_OPTIM_ADAMW:
		json_object_set_new(j, "betas", json_pack("[f, f]", o->beta1, o->beta2));
		json_object_set_new(j, "eps", json_real(o->eps));
		json_object_set_new(j, "weight_decay", json_real(o->weight_decay));
		json_object_set_new(j, "amsgrad", json_boolean(o->amsgrad));
		break;
	case MT_OPTIM_RMSPROP:
		json_object_set_new(j, "alpha", json_real(o->alpha));
		json_object_set_new(j, "eps", json_real(o->eps));
		json_object_set_new(j, "weight_decay", json_real(o->weight_decay));
		json_object_set_new(j, "momentum", json_real(o->momentum));
		break;
	case MT_OPTIM_ADAGRAD:
		json_object_set_new(j, "lr_decay", json_real(o->lr_decay));
		json_object_set_new(j, "weight_decay", json_real(o->weight_decay));
		json_object_set_new(j, "eps", json_real(o->eps));
		break;
	}
	return j;
}

/* The declared knobs with this run's (mutated) values, and only those. */
static json_t *knobs_json(const mt_config *r)
{
	json_t *h = json_object();
	for (int i = 0; i < MT_KNOB_COUNT; i++) {
		unsigned bit = 1u << i;
		json_t *v = NULL;
		if (!(r->knobs & bit))
			continue;
		switch (bit) {
		case MT_KNOB_LR: v = json_real(r->optim.lr); break;
		case MT_KNOB_BATCH_SIZE: v = json_integer((json_int_t)r->batch_size); break;
		case MT_KNOB_EPOCHS: v = json_integer(r->epochs); break;
		case MT_KNOB_OPTIMIZER: v = optimizer_json(&r->optim); break;
		case MT_KNOB_LOSS: v = json_string(mt_loss_kind_name(r->loss)); break;
		case MT_KNOB_L1: v = json_real(r->l1); break;
		case MT_KNOB_L2: v = json_real(r->l2); break;
		case MT_KNOB_GRAD_CLIP: v = json_real(r->grad_clip); break;
		case MT_KNOB_DROPOUT: v = json_real(r->dropout); break;
		case MT_KNOB_PATIENCE: v = json_integer(r->patience); break;
		case MT_KNOB_VALIDATION_SPLIT: v = json_real(r->validation_split); break;
		case MT_KNOB_INIT: v = json_string(mt_init_kind_name(r->init)); break;
		}
		json_object_set_new(h, mt_knob_name(i), v);
	}
	return h;
}

static int write_spec(const mt_ext_job *job, const char *spec_path, const char *model_path)
{
	const mt_config *r = job->recipe;
	const mt_ext_data *d = job->data;
	/* 31 bits: every seeding function takes it (numpy's needs < 2^32) */
	json_int_t seed = (json_int_t)(r->seed & 0x7fffffffu);
	json_t *spec = json_pack("{s:i, s:I, s:i, s:{s:s, s:s, s:I, s:[I, I, I], s:i}, s:o, s:s, s:i, s:o}",
				 "protocol", job->cfg->protocol, "seed", seed, "threads", job->cfg->threads,
				 "train", "x", d->x, "y", d->y, "count", (json_int_t)d->count, "shape",
				 (json_int_t)d->shape[0], (json_int_t)d->shape[1], (json_int_t)d->shape[2],
				 "classes", job->cfg->num_classes, "hyperparameters", knobs_json(r),
				 "output", model_path, "run", job->run,
				 "mutant", job->mutant ? json_string(job->mutant) : json_null());
	/* Not fsync'ed: a spec lives as long as its training, which a crash
	 * repeats anyway (mutorch's overhead is part of every training). */
	int error = spec ? json_dump_file(spec, spec_path, JSON_INDENT(2)) : -1;
	if (error != 0)
		error = mt_error_set(MT_EIO, "%s: cannot write the spec: %s", spec_path, strerror(errno));
	json_decref(spec);
	return error;
}

/* ---- running the program ------------------------------------------------------- */

/* The environment of the program: ours, with MUTORCH_SPEC and
 * OMP_NUM_THREADS set (the thread count is part of every result). */
static char **program_env(const char *spec_path, int threads)
{
	size_t n = 0, k = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 3, sizeof(char *));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "MUTORCH_SPEC=", 13) && strncmp(environ[i], "OMP_NUM_THREADS=", 16))
			env[k++] = environ[i];
	size_t len = strlen(spec_path) + 16;
	if (!(env[k] = malloc(len)) || !(env[k + 1] = malloc(32))) {
		free(env[k]);
		free(env);
		return NULL;
	}
	snprintf(env[k], len, "MUTORCH_SPEC=%s", spec_path);
	snprintf(env[k + 1], 32, "OMP_NUM_THREADS=%d", threads > 0 ? threads : 1);
	return env;
}

static void env_free(char **env)
{
	size_t n = 0;
	if (!env)
		return;
	while (env[n])
		n++;
	/* the last two are ours */
	if (n >= 2) {
		free(env[n - 1]);
		free(env[n - 2]);
	}
	free(env);
}

/* vfork + execve, not posix_spawn: the child must set its own process
 * group (one kill stops every process the program starts) and die with
 * the worker (PR_SET_PDEATHSIG), which posix_spawn cannot ask for. vfork,
 * not fork: the worker holds libtorch and its data (hundreds of MB), and a
 * fork would copy its page tables and make every later write to them a
 * copy-on-write fault. The child makes only system calls (setpgid, prctl,
 * chdir, dup2, execve, write) and _exit. Returns the errno of a failed
 * exec in *exec_errno. */
static pid_t start_program(int *exec_errno, const char *exe, char *const argv[], char *const env[],
			   const char *cwd, int out_fd, int err_fd)
{
	int pfd[2], in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC), code[2] = { 0, 0 };
	pid_t parent = getpid(), pid;

	*exec_errno = 0;
	if (in_fd < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
		*exec_errno = errno;
		if (in_fd >= 0)
			close(in_fd);
		return -1;
	}
	pid = vfork();
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (chdir(cwd) < 0)
			code[0] = 1;
		else if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
			code[0] = 2;
		else {
			execve(exe, argv, env);
			code[0] = 3;
		}
		code[1] = errno;
		if (write(pfd[1], code, sizeof(code)) < 0)
			_exit(126);
		_exit(127);
	}
	close(pfd[1]);
	close(in_fd);
	if (pid < 0) {
		*exec_errno = errno;
		close(pfd[0]);
		return -1;
	}
	setpgid(pid, pid); /* also here: no race with a kill of the group */
	/* The pipe closes on a successful exec; a failure sends its errno. */
	ssize_t got;
	while ((got = read(pfd[0], code, sizeof(code))) < 0 && errno == EINTR)
		;
	close(pfd[0]);
	if (got == (ssize_t)sizeof(code)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		*exec_errno = code[1] ? code[1] : EIO;
		return -1;
	}
	return pid;
}

/* Wait for the program, at most `limit` seconds (<= 0: no limit); then
 * kill its process group. *timed_out is set when the limit passed. */
static void wait_program(int *status, struct rusage *ru, int *timed_out, pid_t pid, double limit)
{
	double deadline = limit > 0 ? mt_clock_now() + limit : 0;
	int pidfd = -1;

	*timed_out = 0;
#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	for (;;) {
		double left = deadline > 0 ? deadline - mt_clock_now() : -1;
		if (deadline > 0 && left <= 0) {
			*timed_out = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			break;
		}
		if (pidfd >= 0) {
			struct pollfd p = { pidfd, POLLIN, 0 };
			int rc = poll(&p, 1, left < 0 ? -1 : (int)(left * 1000) + 1);
			if (rc > 0 || (rc < 0 && errno != EINTR))
				break;
		} else {
			/* no pidfd (an old kernel): look every 5 ms without reaping */
			siginfo_t info;
			info.si_pid = 0;
			if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
				break;
			struct timespec ts = { 0, 5 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	/* What it left running goes with it; killed before the leader is
	 * reaped, while its pid still names the group. */
	kill(-pid, SIGKILL);
	while (wait4(pid, status, 0, ru) < 0 && errno == EINTR)
		;
}

/* The first lines of a log (and its last line when there are more), on
 * one line. */
static void log_excerpt(char *buf, size_t size, const char *path)
{
	enum { FIRST = 6 };
	char head[4096], tail[1024], *last = NULL;
	size_t n = 0, used = 0;
	int lines = 0, more = 0;
	FILE *f = fopen(path, "rb");

	buf[0] = '\0';
	if (!f)
		return;
	n = fread(head, 1, sizeof(head) - 1, f);
	head[n] = '\0';
	for (char *line = head, *nl; line && *line && used < size; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (lines == FIRST || (!nl && n == sizeof(head) - 1)) {
			more = 1;
			break;
		}
		if (*line)
			used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? " | " : "", line);
		lines++;
	}
	if (more && fseek(f, -(long)(sizeof(tail) - 1), SEEK_END) == 0) {
		size_t t = fread(tail, 1, sizeof(tail) - 1, f);
		tail[t] = '\0';
		while (t > 0 && (tail[t - 1] == '\n' || tail[t - 1] == '\r'))
			tail[--t] = '\0';
		last = strrchr(tail, '\n');
		last = last ? last + 1 : tail;
	}
	if (more && used < size)
		snprintf(buf + used, size - used, " | ...%s%.300s", last ? " | " : "", last ? last : "");
	fclose(f);
}

void mt_ext_program_name(char *buf, size_t size, const mt_config *cfg)
{
	size_t used = (size_t)snprintf(buf, size, "training program '");
	for (size_t i = 0; i < cfg->ncommand && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%.100s", i ? " " : "", cfg->command[i]);
	if (used < size)
		snprintf(buf + used, size - used, "'");
}

/* out->reason: "training program 'python3 train.py' WHAT; stderr: ...;
 * logs in DIR". */
static void set_reason(mt_ext_outcome *out, const mt_ext_job *job, const char *err_path,
		       const char *what)
{
	char cmd[300], excerpt[900];
	mt_ext_program_name(cmd, sizeof(cmd), job->cfg);
	log_excerpt(excerpt, sizeof(excerpt), err_path);
	snprintf(out->reason, sizeof(out->reason), "%s %s%s%s; logs in %s", cmd, what,
		 excerpt[0] ? "; stderr: " : "; stderr is empty", excerpt, job->dir);
}

static int open_log(int *fd, const char *path)
{
	*fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	return *fd < 0 ? mt_error_set(MT_EIO, "%s: cannot create: %s", path, strerror(errno)) : 0;
}

int mt_ext_train(mt_module **model, mt_ext_outcome *out, const mt_ext_job *job)
{
	const mt_config *cfg = job->cfg;
	char *exe = NULL, *spec = NULL, *out_log = NULL, *err_log = NULL, **env = NULL, **argv = NULL;
	char what[512], dir[PATH_MAX];
	int out_fd = -1, err_fd = -1, status = 0, timed_out = 0, exec_errno, error;
	struct rusage ru;
	pid_t pid;
	double t0;

	*model = NULL;
	memset(out, 0, sizeof(*out));
	memset(&ru, 0, sizeof(ru));
	if ((error = mt_io_mkdirs(job->dir)) < 0)
		return error;
	/* absolute: the program runs in the config's directory */
	if (!realpath(job->dir, dir))
		return mt_error_set(MT_EIO, "%s: %s", job->dir, strerror(errno));
	if (!(spec = mt_io_path_join(dir, "spec.json")) ||
	    !(out_log = mt_io_path_join(dir, "stdout.log")) ||
	    !(err_log = mt_io_path_join(dir, "stderr.log")) ||
	    !(out->model_path = mt_io_path_join(dir, "model.pt")) ||
	    !(argv = calloc(cfg->ncommand + 1, sizeof(char *)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (size_t i = 0; i < cfg->ncommand; i++)
		argv[i] = cfg->command[i];
	unlink(out->model_path); /* an earlier attempt's must not count */
	if ((error = mt_ext_resolve_command(&exe, cfg)) < 0 ||
	    (error = write_spec(job, spec, out->model_path)) < 0 ||
	    (error = open_log(&out_fd, out_log)) < 0 || (error = open_log(&err_fd, err_log)) < 0)
		goto cleanup;
	if (!(env = program_env(spec, cfg->threads))) {
		error = mt_error_oom();
		goto cleanup;
	}
	t0 = mt_clock_now();
	pid = start_program(&exec_errno, exe, argv, env, cfg->base_dir, out_fd, err_fd);
	out->spawn_seconds = mt_clock_now() - t0;
	t0 += out->spawn_seconds; /* the program's time starts at its exec */
	if (pid < 0) {
		out->status = MT_EXT_FAILED;
		snprintf(what, sizeof(what), "could not be started (%s in %s): %s", exe, cfg->base_dir,
			 strerror(exec_errno));
		set_reason(out, job, err_log, what);
		goto cleanup;
	}
	wait_program(&status, &ru, &timed_out, pid, cfg->src_timeout);
	out->program_seconds = mt_clock_now() - t0;
	out->program_cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
				   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
	out->status = MT_EXT_FAILED;
	if (timed_out) {
		out->status = MT_EXT_TIMEOUT;
		snprintf(what, sizeof(what), "passed mutation.source.timeout (%g s) and was killed",
			 cfg->src_timeout);
	} else if (WIFSIGNALED(status)) {
		snprintf(what, sizeof(what), "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
		out->status = MT_EXT_REJECTED;
		snprintf(what, sizeof(what), "rejected its spec (exit status 3: it does not speak protocol version %d, 'training.protocol')",
			 cfg->protocol);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(what, sizeof(what), "exited with status %d", WEXITSTATUS(status));
	} else if (access(out->model_path, F_OK) != 0) {
		snprintf(what, sizeof(what), "exited with status 0 but wrote no model at %s (the spec's 'output')",
			 out->model_path);
	} else if (mt_module_load(model, out->model_path) < 0) {
		snprintf(what, sizeof(what), "wrote a model that does not load as TorchScript (%.300s)",
			 mt_error_last());
		mt_error_clear();
	} else {
		out->status = MT_EXT_TRAINED;
	}
	if (out->status != MT_EXT_TRAINED)
		set_reason(out, job, err_log, what);
cleanup:
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	if (error < 0)
		mt_ext_outcome_dispose(out);
	env_free(env);
	free(argv);
	free(exe);
	free(spec);
	free(out_log);
	free(err_log);
	return error;
}

void mt_ext_outcome_dispose(mt_ext_outcome *out)
{
	free(out->model_path);
	out->model_path = NULL;
}

/* ---- `mutorch train` -------------------------------------------------------- */

int mt_runner_train_program(mt_module **model, char **log_dir, const mt_config *cfg,
			    const mt_dataset *train, const mt_progress *progress)
{
	mt_ext_data data = { 0 };
	mt_ext_outcome oc = { 0 };
	char name[300];
	double seconds;
	int error;

	*model = NULL;
	if (!(*log_dir = mt_io_path_join(cfg->run_dir, "training/train")))
		return mt_error_oom();
	mt_ext_program_name(name, sizeof(name), cfg);
	if ((error = mt_ext_data_write(&data, &seconds, cfg, train, cfg->run_dir)) < 0)
		goto cleanup;
	if (progress && progress->stream) {
		fprintf(progress->stream, "%s: %lld training samples, logs in %s\n", name,
			(long long)data.count, *log_dir);
		fflush(progress->stream);
	}
	mt_ext_job job = { cfg, cfg, &data, *log_dir, NULL, 0 };
	if ((error = mt_ext_train(model, &oc, &job)) < 0)
		goto cleanup;
	if (oc.status != MT_EXT_TRAINED)
		error = mt_error_set(MT_EINVALID, "%s: %s", cfg->path, oc.reason);
	else
		unlink(oc.model_path); /* loaded; the caller saves it where it belongs */
cleanup:
	mt_ext_outcome_dispose(&oc);
	mt_ext_data_dispose(&data);
	return error;
}
