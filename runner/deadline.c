/* A time limit on work that nothing can interrupt (see runner.h): a
 * watchdog thread waits on a condition variable until the work is done or
 * the deadline passes, and then ends the process. */
#include "mutorch/error.h"
#include "mutorch/runner.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static pthread_t watchdog;
static int armed, done;
static struct timespec due;
static char message[2048];
static size_t message_len;

static void init_wake(void)
{
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	/* The monotonic clock: a wall-clock change must not move the limit. */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&wake, &attr);
	pthread_condattr_destroy(&attr);
}

static void *watch(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	while (!done) {
		if (pthread_cond_timedwait(&wake, &lock, &due) == ETIMEDOUT && !done) {
			/* The work is stuck inside libtorch, whose state we
			 * cannot unwind: say why and end the process without
			 * running destructors under the stuck thread's feet. */
			ssize_t unused = write(STDERR_FILENO, message, message_len);
			(void)unused;
			_exit(MT_RUNNER_DEADLINE_EXIT);
		}
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int mt_runner_deadline_set(double seconds, const char *msg)
{
	struct timespec now;
	double end;
	int err;

	mt_runner_deadline_clear();
	if (!(seconds > 0))
		return 0;
	pthread_once(&wake_once, init_wake);
	clock_gettime(CLOCK_MONOTONIC, &now);
	end = (double)now.tv_sec + (double)now.tv_nsec * 1e-9 + seconds;
	if (end > 1e15)
		end = 1e15; /* "forever", still representable */
	due.tv_sec = (time_t)end;
	due.tv_nsec = (long)((end - (double)due.tv_sec) * 1e9);
	if (due.tv_nsec >= 1000000000L)
		due.tv_nsec = 999999999L;
	message_len = (size_t)snprintf(message, sizeof(message), "%s\n", msg);
	if (message_len >= sizeof(message))
		message_len = sizeof(message) - 1;
	done = 0;
	if ((err = pthread_create(&watchdog, NULL, watch, NULL)) != 0)
		return mt_error_set(MT_ERROR, "cannot start the time-limit thread: %s", strerror(err));
	armed = 1;
	return 0;
}

void mt_runner_deadline_clear(void)
{
	if (!armed)
		return;
	pthread_mutex_lock(&lock);
	done = 1;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(watchdog, NULL);
	armed = 0;
}
