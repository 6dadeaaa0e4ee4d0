/*
 * Taps deleted off the parent's event loop.  The kernel takes tens of
 * milliseconds to unregister a link (it waits for RCU grace periods),
 * during which the parent would serve no one: a thread of its own
 * takes the taps it is given away, and the parent carries on with the
 * VM's removal (its record goes last) when the thread says it is done.
 * The taps queued while it works go together (net_taps_retire): while
 * there is room, each is kept as a spare for a creation to take
 * (tap.c), which costs no grace period; the rest are deleted in one
 * request, and links deleted at once share the grace periods, so a
 * prune of thousands of VMs waits for them a few times, not once a
 * VM.
 *
 * The thread only deletes links, with a netlink socket of its own, and
 * writes no log (its lines are held and logged here): a fork in the
 * parent while it runs copies no lock of stdio or syslog it could hold.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <net/if.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"
#include "log.h"
#include "netops.h"
#include "reaper.h"

struct reap {
	TAILQ_ENTRY(reap)	 r_entry;
	char			 r_tap[IFNAMSIZ];
	int			 r_error;	/* errno; 0: it is gone */
	char			 r_msg[256];	/* the thread's error line */
	void			(*r_done)(void *, int, const char *);
	void			*r_arg;
};
TAILQ_HEAD(reapq, reap);

static pthread_mutex_t	 reap_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 reap_cond = PTHREAD_COND_INITIALIZER;
static struct reapq	 reap_todo = TAILQ_HEAD_INITIALIZER(reap_todo);
static struct reapq	 reap_done = TAILQ_HEAD_INITIALIZER(reap_done);
static int		 reap_busy;	/* taken by the thread, not done */
static int		 reap_pipe[2] = { -1, -1 };
static struct event	 reap_ev;
static size_t		 reap_pending;	/* queued and not yet called back */

/*
 * The thread: every tap queued so far in one net_taps_retire(), whose
 * deleted links share the kernel's grace periods, then the next batch.
 */
static void *
reaper_thread(void *arg)
{
	struct reapq	 q = TAILQ_HEAD_INITIALIZER(q);
	struct reap	*r;
	const char	**taps;
	char		 msg[256];
	int		*errs;
	size_t		 n, i;
	char		 c = 0;

	for (;;) {
		pthread_mutex_lock(&reap_lock);
		while (TAILQ_EMPTY(&reap_todo))
			pthread_cond_wait(&reap_cond, &reap_lock);
		TAILQ_CONCAT(&q, &reap_todo, r_entry);
		reap_busy = 1;
		pthread_mutex_unlock(&reap_lock);

		n = 0;
		TAILQ_FOREACH(r, &q, r_entry)
			n++;
		taps = calloc(n, sizeof(*taps));
		errs = calloc(n, sizeof(*errs));
		i = 0;
		TAILQ_FOREACH(r, &q, r_entry)
			if (taps != NULL)
				taps[i++] = r->r_tap;
		log_hold(msg, sizeof(msg));
		if (taps == NULL || errs == NULL)
			strlcpy(msg, "tap deletion: out of memory",
			    sizeof(msg));
		else
			(void)net_taps_retire(taps, errs, n);
		log_hold(NULL, 0);
		i = 0;
		TAILQ_FOREACH(r, &q, r_entry) {
			/* EPERM: not banger's mark, so never this VM's. */
			if (taps == NULL || errs == NULL)
				r->r_error = ENOMEM;
			else if (errs[i] != 0 && errs[i] != EPERM)
				r->r_error = errs[i];
			if (r->r_error != 0)
				strlcpy(r->r_msg, msg, sizeof(r->r_msg));
			i++;
		}
		free(taps);
		free(errs);

		pthread_mutex_lock(&reap_lock);
		TAILQ_CONCAT(&reap_done, &q, r_entry);
		reap_busy = 0;
		pthread_mutex_unlock(&reap_lock);
		/* A full pipe already says there is something to collect. */
		(void)write(reap_pipe[1], &c, 1);
	}
	return NULL;
}

/* Call back for every deletion the thread has finished. */
static void
reaper_collect(void)
{
	struct reapq	 q = TAILQ_HEAD_INITIALIZER(q);
	struct reap	*r;
	char		 buf[64];

	while (read(reap_pipe[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&reap_lock);
	TAILQ_CONCAT(&q, &reap_done, r_entry);
	pthread_mutex_unlock(&reap_lock);
	while ((r = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, r, r_entry);
		reap_pending--;
		if (r->r_error != 0 && r->r_msg[0] != '\0')
			log_warnx("%s", r->r_msg);
		r->r_done(r->r_arg, r->r_error, r->r_error != 0 &&
		    r->r_msg[0] != '\0' ? r->r_msg : strerror(r->r_error));
		free(r);
	}
}

static void
reaper_ready(int fd, short event, void *arg)
{
	reaper_collect();
}

int
reaper_init(void)
{
	pthread_t	 t;
	sigset_t	 all, old;
	int		 rv;

	if (pipe2(reap_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return -1;
	/* Signals are the event loop's, not the thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rv = pthread_create(&t, NULL, reaper_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rv != 0) {
		errno = rv;
		return -1;
	}
	pthread_detach(t);
	event_set(&reap_ev, reap_pipe[0], EV_READ | EV_PERSIST, reaper_ready,
	    NULL);
	event_add(&reap_ev, NULL);
	return 0;
}

/*
 * Delete tap (a VM's, fc-tap-ID) in the thread; done(arg, error, why)
 * is called from the event loop when it is gone (error 0) or could not
 * be deleted.
 */
void
reaper_tap_delete(const char *tap, void (*done)(void *, int, const char *),
    void *arg)
{
	struct reap	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal(NULL);
	strlcpy(r->r_tap, tap, sizeof(r->r_tap));
	r->r_done = done;
	r->r_arg = arg;
	reap_pending++;
	pthread_mutex_lock(&reap_lock);
	TAILQ_INSERT_TAIL(&reap_todo, r, r_entry);
	pthread_cond_signal(&reap_cond);
	pthread_mutex_unlock(&reap_lock);
}

/* Wait for every deletion queued, and call each back. */
void
reaper_drain(void)
{
	struct pollfd	 pfd;

	while (reap_pending > 0) {
		pfd.fd = reap_pipe[0];
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, 100);
		reaper_collect();
	}
}
