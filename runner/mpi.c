/* `mutorch run --mpi` (see mpi.h): the worker pool over MPI's ranks.
 * Compiled only when CMake found MPI (MUTORCH_MPI).
 *
 * Messages (MPI_COMM_WORLD, byte strings):
 *   0 -> r  TAG_JOB   the worker command line, its words joined by '\0'
 *   r -> 0  TAG_UP    "ready" | "R<task>\t<payload>" | "F<task>\t<reason>"
 *                     | "E<reason>" (the worker could not start)
 *   0 -> r  TAG_TASK  "<task>"
 *   0 -> r  TAG_DONE  the job has no more tasks for r
 *   0 -> r  TAG_EXIT  the command is over
 */
#include "mutorch/error.h"
#include "mutorch/mpi.h"
#include "mutorch/pool.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_JOB = 1, TAG_UP, TAG_TASK, TAG_DONE, TAG_EXIT };

static int world_rank, world_size;
static int served; /* this job's worker reached mt_pool_serve */

/* A whole message of any length from `from` with `tag` (MPI_ANY_*
 * allowed); *src and *got_tag say which. NUL-terminated, malloc'd. */
static char *recv_text(int from, int tag, int *src, int *got_tag, int *len)
{
	MPI_Status st;
	int n = 0;
	char *buf;

	MPI_Probe(from, tag, MPI_COMM_WORLD, &st);
	MPI_Get_count(&st, MPI_CHAR, &n);
	if (!(buf = malloc((size_t)n + 1)))
		return NULL;
	MPI_Recv(buf, n, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	buf[n] = '\0';
	if (src)
		*src = st.MPI_SOURCE;
	if (got_tag)
		*got_tag = st.MPI_TAG;
	if (len)
		*len = n;
	return buf;
}

static void send_text(int to, int tag, const char *text, int len)
{
	MPI_Send(text, len, MPI_CHAR, to, tag, MPI_COMM_WORLD);
}

/* ---- rank 0 ----------------------------------------------------------------- */

static int mpi_run(const mt_pool_options *o, const size_t *tasks, size_t ntasks)
{
	char job[8192], msg[64];
	size_t len = 0, next = 0;
	int released = 0, started = 0, error = 0, workers = world_size - 1;
	char first_failure[1024] = "";

	if (workers < 1)
		return mt_error_set(MT_EINVALID, "--mpi needs at least 2 ranks (rank 0 plans and records, the "
				    "others evaluate): start it with mpirun -n N, N >= 2");
	/* The worker's words after the program path. */
	for (char *const *a = o->argv + 1; *a; a++) {
		size_t n = strlen(*a) + 1;
		if (len + n > sizeof(job))
			return mt_error_set(MT_EINVALID, "the worker command line is too long for --mpi");
		memcpy(job + len, *a, n);
		len += n;
	}
	for (int r = 1; r < world_size; r++)
		send_text(r, TAG_JOB, job, (int)len);
	while (released < workers) {
		int src = 0;
		char *m = recv_text(MPI_ANY_SOURCE, TAG_UP, &src, NULL, NULL);
		if (!m) {
			error = mt_error_oom();
			m = NULL;
		} else if (m[0] == 'R' || m[0] == 'F') {
			char *tab = strchr(m, '\t');
			size_t task = (size_t)strtoull(m + 1, NULL, 10);
			if (error == 0 && tab)
				error = m[0] == 'R' ? o->on_result(o->ctx, task, tab + 1)
						    : o->on_failure(o->ctx, task, MT_POOL_CRASHED, tab + 1);
		} else if (m[0] == 'E') {
			if (!first_failure[0])
				snprintf(first_failure, sizeof(first_failure), "rank %d: %s", src, m + 1);
			free(m);
			send_text(src, TAG_DONE, "", 0);
			released++;
			continue;
		} else {
			started++;
		}
		free(m);
		/* the next task this run still wants, to the rank that asked */
		while (error == 0 && next < ntasks && o->skip && o->skip(o->ctx, tasks[next]))
			next++;
		if (error == 0 && next < ntasks) {
			int n = snprintf(msg, sizeof(msg), "%zu", tasks[next++]);
			send_text(src, TAG_TASK, msg, n);
		} else {
			send_text(src, TAG_DONE, "", 0);
			released++;
		}
	}
	if (error == 0 && next < ntasks)
		error = mt_error_set(MT_ERROR, "no MPI rank could start its worker: %s", first_failure);
	return error;
}

/* ---- the other ranks -------------------------------------------------------- */

static int mpi_serve(mt_pool_serve_fn serve, void *ctx)
{
	served = 1;
	send_text(0, TAG_UP, "ready", 5);
	for (;;) {
		int tag = 0;
		char *m = recv_text(0, MPI_ANY_TAG, NULL, &tag, NULL), *payload = NULL, *out;
		size_t task;
		int error;
		if (!m)
			return mt_error_oom();
		if (tag != TAG_TASK) {
			free(m);
			return 0; /* TAG_DONE */
		}
		task = (size_t)strtoull(m, NULL, 10);
		free(m);
		error = serve(&payload, ctx, task);
		if (error < 0) {
			/* Said as a crash of the task, as a local pool would;
			 * this rank goes on with the next. */
			const char *why = mt_error_last();
			size_t n = strlen(why) + 64;
			if (!(out = malloc(n)))
				return mt_error_oom();
			send_text(0, TAG_UP, out, snprintf(out, n, "F%zu\t%s", task, why));
		} else {
			size_t n = strlen(payload) + 32;
			if (!(out = malloc(n))) {
				free(payload);
				return mt_error_oom();
			}
			send_text(0, TAG_UP, out, snprintf(out, n, "R%zu\t%s", task, payload));
		}
		free(out);
		free(payload);
	}
}

static const mt_pool_transport transport = {mpi_run, mpi_serve};

int mt_mpi_init(int *argc, char ***argv, int *rank, int *size)
{
	if (MPI_Init(argc, argv) != MPI_SUCCESS)
		return mt_error_set(MT_ERROR, "MPI_Init failed");
	MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
	MPI_Comm_size(MPI_COMM_WORLD, &world_size);
	*rank = world_rank;
	*size = world_size;
	mt_pool_set_transport(&transport);
	return 0;
}

int mt_mpi_serve_jobs(int (*run_worker)(int argc, char **argv))
{
	for (;;) {
		int tag = 0, len = 0, argc = 0;
		char *m = recv_text(0, MPI_ANY_TAG, NULL, &tag, &len), *argv[16];
		if (!m)
			return mt_error_oom();
		if (tag == TAG_EXIT) {
			free(m);
			return 0;
		}
		for (int i = 0; i < len && argc < 15; i += (int)strlen(m + i) + 1)
			argv[argc++] = m + i;
		argv[argc] = NULL;
		served = 0;
		run_worker(argc, argv);
		if (!served) {
			/* It failed before asking for tasks: say why, and wait
			 * for rank 0 to let this job go. */
			const char *why = mt_error_last();
			size_t n = strlen(why) + 2;
			char *out = malloc(n), *done;
			if (out) {
				snprintf(out, n, "E%s", why);
				send_text(0, TAG_UP, out, (int)strlen(out));
			}
			free(out);
			done = recv_text(0, TAG_DONE, NULL, NULL, NULL);
			free(done);
		}
		free(m);
	}
}

void mt_mpi_finish(void)
{
	if (world_rank == 0)
		for (int r = 1; r < world_size; r++)
			send_text(r, TAG_EXIT, "", 0);
	MPI_Finalize();
}

const char *mt_mpi_library(void)
{
	static char version[MPI_MAX_LIBRARY_VERSION_STRING];
	int n = 0;
	char *nl;
	MPI_Get_library_version(version, &n);
	if ((nl = strchr(version, ',')))
		*nl = '\0';
	return version;
}
