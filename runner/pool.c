/* Worker processes: posix_spawn, pipes and poll(). See pool.h. */
#include "mutorch/clock.h"
#include "mutorch/pool.h"
#include "mutorch/error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct {
	pid_t pid;
	int to_fd, from_fd;
	int ready;
	int busy;          /* has a task */
	size_t task;
	double deadline;   /* for the task, or for startup */
	char *buf;         /* partial line */
	size_t len, cap;
} worker;

static int worker_start(worker *w, const mt_pool_options *o)
{
	int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err;
	posix_spawn_file_actions_t fa;

	memset(w, 0, sizeof(*w));
	w->to_fd = w->from_fd = -1;
	if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) {
		err = mt_error_set(MT_EIO, "cannot create pipes for a worker: %s", strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_pipe[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, in_pipe[1]);
	posix_spawn_file_actions_addclose(&fa, out_pipe[0]);
	err = posix_spawn(&w->pid, o->argv[0], &fa, NULL, o->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err != 0) {
		err = mt_error_set(MT_EIO, "cannot start worker %s: %s", o->argv[0], strerror(err));
		goto fail;
	}
	close(in_pipe[0]);
	close(out_pipe[1]);
	w->to_fd = in_pipe[1];
	w->from_fd = out_pipe[0];
	fcntl(w->to_fd, F_SETFD, FD_CLOEXEC);
	fcntl(w->from_fd, F_SETFD, FD_CLOEXEC);
	w->deadline = o->startup_timeout > 0 ? mt_clock_now() + o->startup_timeout : 0;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in_pipe[i] >= 0)
			close(in_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
	}
	w->pid = 0;
	return err;
}

/* Stop a worker and describe how it ended. */
static void worker_stop(worker *w, int kill_it, char *how, size_t howlen)
{
	int status = 0;
	if (w->to_fd >= 0)
		close(w->to_fd);
	if (w->from_fd >= 0)
		close(w->from_fd);
	w->to_fd = w->from_fd = -1;
	if (w->pid > 0) {
		if (kill_it)
			kill(w->pid, SIGKILL);
		while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
			;
		if (how) {
			if (WIFSIGNALED(status))
				snprintf(how, howlen, "worker killed by signal %d (%s)",
					 WTERMSIG(status), strsignal(WTERMSIG(status)));
			else if (WIFEXITED(status))
				snprintf(how, howlen, "worker exited with status %d",
					 WEXITSTATUS(status));
			else
				snprintf(how, howlen, "worker ended");
		}
	}
	free(w->buf);
	memset(w, 0, sizeof(*w));
	w->to_fd = w->from_fd = -1;
}

static int send_task(worker *w, size_t task, const mt_pool_options *o)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "%zu\n", task);
	if (write(w->to_fd, line, (size_t)n) != n)
		return -1;
	w->busy = 1;
	w->task = task;
	w->deadline = o->task_timeout > 0 ? mt_clock_now() + o->task_timeout : 0;
	return 0;
}

static const mt_pool_transport *transport;

void mt_pool_set_transport(const mt_pool_transport *t)
{
	transport = t;
}

int mt_pool_run(const mt_pool_options *o, const size_t *tasks, size_t ntasks)
{
	int jobs = o->jobs < 1 ? 1 : o->jobs;
	worker *ws = NULL;
	struct pollfd *pfds = NULL;
	size_t next = 0, done = 0;
	int error = 0, startup_failures = 0;
	void (*old_pipe)(int);

	if (ntasks == 0)
		return 0;
	if (transport)
		return transport->run(o, tasks, ntasks);
	if ((size_t)jobs > ntasks)
		jobs = (int)ntasks;
	/* A worker that dies leaves a broken pipe; report it, don't die. */
	old_pipe = signal(SIGPIPE, SIG_IGN);
	ws = calloc((size_t)jobs, sizeof(*ws));
	pfds = calloc((size_t)jobs, sizeof(*pfds));
	if (!ws || !pfds) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (int i = 0; i < jobs; i++)
		if ((error = worker_start(&ws[i], o)) < 0)
			goto cleanup;

	while (done < ntasks) {
		double t = mt_clock_now(), wait_ms = 1000;
		int rc;

		for (int i = 0; i < jobs; i++) {
			pfds[i].fd = ws[i].from_fd;
			pfds[i].events = POLLIN;
			pfds[i].revents = 0;
			if (ws[i].deadline > 0) {
				double left = (ws[i].deadline - t) * 1000;
				if (left < wait_ms)
					wait_ms = left < 0 ? 0 : left;
			}
		}
		rc = poll(pfds, (nfds_t)jobs, (int)wait_ms + 1);
		if (rc < 0 && errno != EINTR) {
			error = mt_error_set(MT_EIO, "poll failed: %s", strerror(errno));
			goto cleanup;
		}
		t = mt_clock_now();
		for (int i = 0; i < jobs; i++) {
			worker *w = &ws[i];
			char how[256];
			int dead = 0, timed_out = 0;

			if (w->pid <= 0)
				continue;
			if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				char chunk[65536];
				ssize_t n = read(w->from_fd, chunk, sizeof(chunk));
				if (n <= 0) {
					dead = 1;
				} else {
					if (w->len + (size_t)n + 1 > w->cap) {
						size_t cap = (w->cap ? w->cap * 2 : 65536);
						while (cap < w->len + (size_t)n + 1)
							cap *= 2;
						char *nb = realloc(w->buf, cap);
						if (!nb) {
							error = mt_error_oom();
							goto cleanup;
						}
						w->buf = nb;
						w->cap = cap;
					}
					memcpy(w->buf + w->len, chunk, (size_t)n);
					w->len += (size_t)n;
					w->buf[w->len] = '\0';
				}
			}
			/* Complete lines. */
			while (w->buf && w->len > 0) {
				char *nl = memchr(w->buf, '\n', w->len);
				size_t linelen;
				if (!nl)
					break;
				*nl = '\0';
				linelen = (size_t)(nl - w->buf) + 1;
				if (!w->ready) {
					if (!strcmp(w->buf, "ready")) {
						w->ready = 1;
						w->deadline = 0;
						startup_failures = 0;
					}
				} else if (w->busy) {
					char *tab = strchr(w->buf, '\t');
					size_t task = (size_t)strtoull(w->buf, NULL, 10);
					if (tab && task == w->task) {
						w->busy = 0;
						w->deadline = 0;
						done++;
						if ((error = o->on_result(o->ctx, task, tab + 1)) < 0)
							goto cleanup;
					}
				}
				memmove(w->buf, w->buf + linelen, w->len - linelen);
				w->len -= linelen;
			}
			if (!dead && w->deadline > 0 && t > w->deadline)
				timed_out = 1;
			if (dead || timed_out) {
				int was_ready = w->ready, was_busy = w->busy;
				size_t task = w->task;
				worker_stop(w, 1, how, sizeof(how));
				if (!was_ready) {
					if (++startup_failures >= 2) {
						error = mt_error_set(MT_ERROR, "a worker failed during start-up twice (%s%s); see its messages above",
								     timed_out ? "start-up time limit passed, " : "", how);
						goto cleanup;
					}
				} else if (was_busy) {
					done++;
					if (timed_out)
						snprintf(how, sizeof(how), "passed the time limit of %.1f s", o->task_timeout);
					if ((error = o->on_failure(o->ctx, task,
								   timed_out ? MT_POOL_TIMEOUT : MT_POOL_CRASHED, how)) < 0)
						goto cleanup;
				}
				if (done < ntasks && next < ntasks &&
				    (error = worker_start(w, o)) < 0)
					goto cleanup;
				continue;
			}
			if (w->ready && !w->busy) {
				while (next < ntasks && o->skip && o->skip(o->ctx, tasks[next])) {
					next++;
					done++;
				}
				if (next < ntasks) {
					if (send_task(w, tasks[next], o) == 0)
						next++;
				} else {
					worker_stop(w, 0, NULL, 0);
				}
			}
		}
	}
cleanup:
	if (ws)
		for (int i = 0; i < jobs; i++)
			if (ws[i].pid > 0)
				worker_stop(&ws[i], error < 0, NULL, 0);
	free(ws);
	free(pfds);
	signal(SIGPIPE, old_pipe);
	return error;
}

int mt_pool_serve(mt_pool_serve_fn serve, void *ctx)
{
	char line[256];
	int error = 0;

	if (transport)
		return transport->serve(serve, ctx);
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		size_t task = (size_t)strtoull(line, NULL, 10);
		char *payload = NULL;
		if ((error = serve(&payload, ctx, task)) < 0)
			break;
		printf("%zu\t%s\n", task, payload);
		fflush(stdout);
		free(payload);
	}
	return error;
}
