/*
 * bangerctl vm logs and vm console: a VM's serial console, as kept in
 * its log or live.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "bangerctl.h"
#include "validate.h"

/* Input ended (not a terminal): detach once output is this long quiet. */
#define CONSOLE_SETTLE_MS	1000

static struct termios	 tty_saved;
static volatile sig_atomic_t tty_raw;

static void
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "write");
		}
		p += n;
		len -= n;
	}
}

/* The first size bytes of a log file the daemon opened for us. */
static void
log_copy(int fd, uint64_t size)
{
	char		 buf[65536];
	uint64_t	 off = 0;
	ssize_t		 n;

	while (off < size) {
		n = pread(fd, buf, size - off < sizeof(buf) ? size - off :
		    sizeof(buf), off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			err(1, "console log");
		}
		if (n == 0)
			break;
		write_all(STDOUT_FILENO, buf, n);
		off += n;
	}
}

/*
 * The end of a session: a failure is a warning and status 1; a normal
 * end (the VM stopped, or was removed while followed) says so on
 * stderr, so that stdout holds only what the console said.
 */
static int
session_result(struct imsg *imsg)
{
	struct result	 res;
	size_t		 len;

	if (imsg_get_data(imsg, &res, sizeof(res)) == -1 ||
	    wire_string(res.res_msg, sizeof(res.res_msg), &len) == -1)
		errx(1, "unexpected answer from bangerd");
	if (res.res_error != 0) {
		warnx("%s", res.res_msg);
		return 1;
	}
	if (res.res_msg[0] != '\0')
		fprintf(stderr, "%s\n", res.res_msg);
	return 0;
}

int
vm_logs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_console	 cs;
	struct ctl_logfd	 lf;
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	int			 ch, fd, rv = -1;

	memset(&cs, 0, sizeof(cs));
	while ((ch = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (ch != 'f')
			vm_usage();
		cs.cs_flags |= CTL_CONSOLE_F_FOLLOW;
	}
	if (optind != argc - 1)
		vm_usage();
	if (check_name(argv[optind]) == -1)
		return 1;
	strlcpy(cs.cs_name, argv[optind], sizeof(cs.cs_name));

	ctl_connect(&ibuf);
	imsgbuf_allow_fdpass(&ibuf);
	ctl_send(&ibuf, IMSG_CTL_VM_LOGS, &cs, sizeof(cs));
	while (rv == -1) {
		ctl_recv(&ibuf, &imsg);
		switch (imsg_get_type(&imsg)) {
		case IMSG_CTL_VM_LOGFD:
			if (imsg_get_data(&imsg, &lf, sizeof(lf)) == -1 ||
			    (fd = imsg_get_fd(&imsg)) == -1)
				errx(1, "bad console log from bangerd");
			log_copy(fd, lf.lf_size);
			close(fd);
			break;
		case IMSG_CTL_CONSOLE_OUT:
			write_all(STDOUT_FILENO, imsg.data,
			    imsg_get_len(&imsg));
			break;
		case IMSG_CTL_RESULT:
			rv = session_result(&imsg);
			break;
		default:
			errx(1, "unexpected answer from bangerd (type %u)",
			    imsg_get_type(&imsg));
		}
		imsg_free(&imsg);
	}
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	return rv;
}

static void
tty_restore(void)
{
	if (tty_raw) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &tty_saved);
		tty_raw = 0;
	}
}

/* Killed while the terminal is raw: put it back, then die of it. */
static void
tty_signal(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
tty_make_raw(void)
{
	static const int	 sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM,
				    SIGPIPE };
	struct termios		 tio;
	struct sigaction	 sa;
	size_t			 i;

	if (tcgetattr(STDIN_FILENO, &tty_saved) == -1)
		err(1, "tcgetattr");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	atexit(tty_restore);
	tio = tty_saved;
	cfmakeraw(&tio);
	tty_raw = 1;
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &tio) == -1) {
		tty_raw = 0;
		err(1, "tcsetattr");
	}
}

/* The monotonic clock in milliseconds (vm ssh --wait's deadline too). */
int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Escapes, as ssh has them: "~." at the start of a line, "~~" a '~'. */
struct escape {
	int	 at_bol;		/* the last byte sent ended a line */
	int	 tilde;			/* a '~' at the start of a line, held */
};

/*
 * Copy what was typed into out, less the escapes; returns 1 if "~."
 * ended it (what came before is in out), else 0.
 */
static int
escape_filter(struct escape *e, const char *in, size_t n, char *out,
    size_t *outlen)
{
	size_t	 i, o = 0;
	char	 c;

	for (i = 0; i < n; i++) {
		c = in[i];
		if (e->tilde) {
			e->tilde = 0;
			if (c == '.') {
				*outlen = o;
				return 1;
			}
			out[o++] = '~';
			if (c == '~') {
				e->at_bol = 0;
				continue;
			}
		} else if (e->at_bol && c == '~') {
			e->tilde = 1;
			continue;
		}
		out[o++] = c;
		e->at_bol = c == '\r' || c == '\n';
	}
	*outlen = o;
	return 0;
}

static void
console_send(struct imsgbuf *ibuf, const char *buf, size_t len)
{
	size_t	 chunk;

	while (len > 0) {
		chunk = len < PROTO_CONSOLE_CHUNK ? len : PROTO_CONSOLE_CHUNK;
		ctl_send(ibuf, IMSG_CTL_CONSOLE_IN, buf, chunk);
		buf += chunk;
		len -= chunk;
	}
}

/*
 * vm console: what the VM's serial console says goes to stdout, what
 * stdin gives goes to it.  On a terminal, stdin is raw (so ^C reaches
 * the guest) and "~." detaches at once.  Otherwise, for scripts, the end
 * of input (EOF, or "~.") detaches once the console has been quiet for
 * CONSOLE_SETTLE_MS, so that the answer to the last line is seen.
 */
int
vm_console(int argc, char **argv)
{
	static const struct option opts[] = {
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_console	 cs;
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	struct pollfd		 pfd[2];
	struct escape		 esc = { 1, 0 };
	char			 in[PROTO_CONSOLE_CHUNK];
	char			 out[PROTO_CONSOLE_CHUNK * 2];
	const char		*name;
	size_t			 outlen;
	ssize_t			 n;
	int64_t			 settle = -1;
	int			 interactive, rv = -1, detached = 0, timeout;

	memset(&cs, 0, sizeof(cs));
	if (getopt_long(argc, argv, "", opts, NULL) != -1)
		vm_usage();
	if (optind != argc - 1)
		vm_usage();
	name = argv[optind];
	if (check_name(name) == -1)
		return 1;
	strlcpy(cs.cs_name, name, sizeof(cs.cs_name));

	ctl_connect(&ibuf);
	ctl_send(&ibuf, IMSG_CTL_VM_CONSOLE, &cs, sizeof(cs));
	ctl_recv(&ibuf, &imsg);
	switch (imsg_get_type(&imsg)) {
	case IMSG_CTL_CONSOLE_READY:
		break;
	case IMSG_CTL_RESULT:
		rv = ctl_result(&imsg, 0);
		imsg_free(&imsg);
		return rv ? rv : 1;
	default:
		errx(1, "unexpected answer from bangerd (type %u)",
		    imsg_get_type(&imsg));
	}
	imsg_free(&imsg);

	interactive = isatty(STDIN_FILENO);
	fprintf(stderr, "Connected to %s's console; ~. to detach\n", name);
	if (interactive)
		tty_make_raw();

	while (rv == -1 && !detached) {
		pfd[0].fd = settle == -1 ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = ibuf.fd;
		pfd[1].events = POLLIN;
		timeout = -1;
		if (settle != -1) {
			timeout = settle - now_ms();
			if (timeout <= 0) {
				detached = 1;
				break;
			}
		}
		if (poll(pfd, 2, timeout) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(STDIN_FILENO, in, sizeof(in))) == -1) {
				if (errno != EINTR && errno != EAGAIN)
					err(1, "stdin");
			} else if (n == 0) {
				settle = now_ms() + CONSOLE_SETTLE_MS;
			} else {
				if (escape_filter(&esc, in, n, out,
				    &outlen) == 1) {
					if (interactive)
						detached = 1;
					else
						settle = now_ms() +
						    CONSOLE_SETTLE_MS;
				}
				if (outlen > 0)
					console_send(&ibuf, out, outlen);
			}
		}
		if (!(pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if ((n = imsgbuf_read(&ibuf)) == -1 && errno != EAGAIN &&
		    errno != EINTR) {
			tty_restore();
			err(1, "read from bangerd");
		}
		if (n == 0) {
			tty_restore();
			warnx("%s%s's console: bangerd closed the connection",
			    interactive ? "\r\n" : "", name);
			return 1;
		}
		while (rv == -1) {
			if ((n = imsg_get(&ibuf, &imsg)) == -1)
				err(1, "bad message from bangerd");
			if (n == 0)
				break;
			switch (imsg_get_type(&imsg)) {
			case IMSG_CTL_CONSOLE_OUT:
				write_all(STDOUT_FILENO, imsg.data,
				    imsg_get_len(&imsg));
				if (settle != -1)
					settle = now_ms() + CONSOLE_SETTLE_MS;
				break;
			case IMSG_CTL_RESULT:
				tty_restore();
				if (interactive)
					fprintf(stderr, "\r\n");
				rv = session_result(&imsg);
				break;
			default:
				errx(1, "unexpected answer from bangerd "
				    "(type %u)", imsg_get_type(&imsg));
			}
			imsg_free(&imsg);
		}
	}
	tty_restore();
	if (detached) {
		fprintf(stderr, "%sDetached from %s's console\n",
		    interactive ? "\r\n" : "", name);
		rv = 0;
	}
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	return rv;
}
