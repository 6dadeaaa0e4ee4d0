/*
 * Logging in the OpenBSD daemons' manner.  log_warn appends errno's
 * text, log_warnx does not, log_debug only prints when verbose, and
 * fatal/fatalx end the process.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int	 log_debug_mode = 1;	/* stderr until log_init says otherwise */
static int	 log_verbose;
static const char *log_procname;
/*
 * A thread that must not write the log itself (a fork elsewhere could
 * copy a held lock of stdio or syslog): its lines are kept, the last
 * error one in log_held, for the main thread to log.
 */
static __thread char	*log_held;
static __thread size_t	 log_heldlen;

void
log_init(int debug, int facility)
{
	extern char	*__progname;

	log_debug_mode = debug;
	log_verbose = debug;

	/*
	 * LOG_NDELAY connects to /dev/log now, so that workers keep their
	 * syslog socket after chroot.
	 */
	if (!log_debug_mode)
		openlog(__progname, LOG_PID | LOG_NDELAY, facility);
	tzset();
}

void
log_procinit(const char *procname)
{
	if (procname != NULL)
		log_procname = procname;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
logit(int pri, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

/* This thread's log lines: the last error kept in buf, not written. */
void
log_hold(char *buf, size_t len)
{
	log_held = buf;
	log_heldlen = len;
	if (buf != NULL && len > 0)
		buf[0] = '\0';
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 buf[1024];
	int	 saved_errno = errno;

	if (log_held != NULL) {
		if (pri <= LOG_ERR)
			vsnprintf(log_held, log_heldlen, fmt, ap);
		errno = saved_errno;
		return;
	}
	if (log_debug_mode) {
		vsnprintf(buf, sizeof(buf), fmt, ap);
		if (log_procname != NULL)
			fprintf(stderr, "%s: %s\n", log_procname, buf);
		else
			fprintf(stderr, "%s\n", buf);
		fflush(stderr);
	} else
		vsyslog(pri, fmt, ap);
	errno = saved_errno;
}

void
log_warn(const char *emsg, ...)
{
	char	 buf[1024];
	va_list	 ap;
	int	 saved_errno = errno;

	if (emsg == NULL)
		logit(LOG_ERR, "%s", strerror(saved_errno));
	else {
		va_start(ap, emsg);
		vsnprintf(buf, sizeof(buf), emsg, ap);
		va_end(ap);
		logit(LOG_ERR, "%s: %s", buf, strerror(saved_errno));
	}
	errno = saved_errno;
}

void
log_warnx(const char *emsg, ...)
{
	va_list	 ap;

	va_start(ap, emsg);
	vlog(LOG_ERR, emsg, ap);
	va_end(ap);
}

void
log_info(const char *emsg, ...)
{
	va_list	 ap;

	va_start(ap, emsg);
	vlog(LOG_INFO, emsg, ap);
	va_end(ap);
}

void
log_debug(const char *emsg, ...)
{
	va_list	 ap;

	if (log_verbose) {
		va_start(ap, emsg);
		vlog(LOG_DEBUG, emsg, ap);
		va_end(ap);
	}
}

static __attribute__((__noreturn__)) void
vfatalc(int code, const char *emsg, va_list ap)
{
	char	 s[1024];

	if (emsg != NULL)
		vsnprintf(s, sizeof(s), emsg, ap);
	else
		s[0] = '\0';
	if (code) {
		if (s[0] != '\0')
			logit(LOG_CRIT, "fatal: %s: %s", s, strerror(code));
		else
			logit(LOG_CRIT, "fatal: %s", strerror(code));
	} else
		logit(LOG_CRIT, "fatal: %s", s[0] ? s : "unknown error");
	exit(1);
}

void
fatal(const char *emsg, ...)
{
	va_list	 ap;

	va_start(ap, emsg);
	vfatalc(errno, emsg, ap);
	va_end(ap);
}

void
fatalx(const char *emsg, ...)
{
	va_list	 ap;

	va_start(ap, emsg);
	vfatalc(0, emsg, ap);
	va_end(ap);
}
