/*
 * bangerctl update: check for, install or roll back a signed release.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bangerctl.h"
#include "validate.h"

#define RESTART_WAIT_S	60	/* for the daemon to be back */

static const struct ctl_cmd update_cmd = {
	"update", cmd_update, "check [--json] | apply | rollback",
	"check for, install or roll back a release (root only)"
};

static const char *
fmt_time(int64_t t, char *buf, size_t len)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%" PRId64, t);
	return buf;
}

static int
info_read(struct imsg *imsg, struct update_info *ui)
{
	size_t	 len;

	if (imsg_get_data(imsg, ui, sizeof(*ui)) == -1 ||
	    wire_string(ui->ui_running, sizeof(ui->ui_running), &len) == -1 ||
	    wire_string(ui->ui_installed, sizeof(ui->ui_installed),
	    &len) == -1 ||
	    wire_string(ui->ui_version, sizeof(ui->ui_version), &len) == -1 ||
	    wire_string(ui->ui_arch, sizeof(ui->ui_arch), &len) == -1 ||
	    wire_string(ui->ui_url, sizeof(ui->ui_url), &len) == -1 ||
	    wire_string(ui->ui_sha256, sizeof(ui->ui_sha256), &len) == -1 ||
	    wire_string(ui->ui_msg, sizeof(ui->ui_msg), &len) == -1)
		errx(1, "bad update information from bangerd");
	return 0;
}

static void
info_print(const struct update_info *ui)
{
	char	 b1[32], b2[32], b3[32];

	if (!ui->ui_available)
		return;
	printf("release %s for %s: %s, released %s, expires %s\n",
	    ui->ui_version, ui->ui_arch,
	    fmt_size(ui->ui_length, b1, sizeof(b1)),
	    fmt_time(ui->ui_released, b2, sizeof(b2)),
	    fmt_time(ui->ui_expires, b3, sizeof(b3)));
	printf("  %s\n  sha256 %s\n", ui->ui_url, ui->ui_sha256);
}

static json_t *
info_json(const struct update_info *ui, const char *msg, int error)
{
	char	 b1[32], b2[32];

	return json_pack("{s:b, s:s, s:s?, s:s?, s:s?, s:s?, s:I, s:s?, "
	    "s:s?, s:s?, s:s?}",
	    "available", ui->ui_available && !error,
	    "running", ui->ui_running,
	    "highest_installed", ui->ui_installed[0] ? ui->ui_installed :
	    NULL,
	    "version", ui->ui_available ? ui->ui_version : NULL,
	    "arch", ui->ui_available ? ui->ui_arch : NULL,
	    "url", ui->ui_available ? ui->ui_url : NULL,
	    "length", (json_int_t)ui->ui_length,
	    "sha256", ui->ui_available ? ui->ui_sha256 : NULL,
	    "released", ui->ui_available ? fmt_time(ui->ui_released, b1,
	    sizeof(b1)) : NULL,
	    "expires", ui->ui_available ? fmt_time(ui->ui_expires, b2,
	    sizeof(b2)) : NULL,
	    error ? "error" : "message", msg);
}

/* A bar on a terminal, a line per tenth otherwise. */
static void
progress_show(const struct update_progress *up, int tty, int *last)
{
	char	 b1[32], b2[32];
	int	 pct;

	if (up->up_total == 0)
		return;
	pct = (int)(up->up_done * 100 / up->up_total);
	if (tty) {
		progress_bar("downloading", up->up_done, up->up_total);
		if (up->up_done == up->up_total)
			fputc('\n', stderr);
	} else if (pct / 10 != *last / 10 || up->up_done == up->up_total) {
		fprintf(stderr, "downloaded %d%% (%s of %s)\n", pct,
		    fmt_size(up->up_done, b1, sizeof(b1)),
		    fmt_size(up->up_total, b2, sizeof(b2)));
	}
	fflush(stderr);
	*last = pct;
}

/*
 * The daemon re-executes itself: its old vm worker hangs up, and the
 * new one answers status.  Print the version it reports.
 */
static int
restart_wait(struct imsgbuf *ibuf)
{
	struct status_daemon	 sd;
	struct imsgbuf		 nbuf;
	struct imsg		 imsg;
	ssize_t			 n;
	pid_t			 pid;
	int			 i, status;

	/* Until the old connection ends. */
	for (;;) {
		if ((n = imsgbuf_read(ibuf)) == -1 &&
		    (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		while (imsg_get(ibuf, &imsg) > 0)
			imsg_free(&imsg);
	}
	imsgbuf_clear(ibuf);
	close(ibuf->fd);

	/*
	 * Each try in a child: ctl_connect exits when nobody answers.  What
	 * is buffered is written first, or each child that exits would
	 * write it again; and a child's "not running" is only a try that
	 * came too early, so it goes nowhere.
	 */
	for (i = 0; i < RESTART_WAIT_S * 10; i++) {
		fflush(stdout);
		fflush(stderr);
		if ((pid = fork()) == -1)
			err(1, "fork");
		if (pid == 0) {
			int	 fd;

			if ((fd = open("/dev/null", O_WRONLY)) == -1 ||
			    dup2(fd, STDERR_FILENO) == -1)
				_exit(1);
			close(fd);
			fd = ctl_connect(&nbuf);

			ctl_send(&nbuf, IMSG_CTL_STATUS, NULL, 0);
			ctl_recv(&nbuf, &imsg);
			if (imsg_get_type(&imsg) != IMSG_STATUS_DAEMON ||
			    imsg_get_data(&imsg, &sd, sizeof(sd)) == -1 ||
			    memchr(sd.sd_version, '\0',
			    sizeof(sd.sd_version)) == NULL)
				_exit(1);
			printf("bangerd restarted: version %s, pid %d\n",
			    sd.sd_version, sd.sd_pid);
			fflush(stdout);
			close(fd);
			_exit(0);
		}
		if (waitpid(pid, &status, 0) == -1)
			err(1, "waitpid");
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			return 0;
		usleep(100 * 1000);
	}
	warnx("bangerd did not come back within %d seconds", RESTART_WAIT_S);
	return 1;
}

int
cmd_update(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_update	 cu;
	struct update_info	 ui;
	struct update_progress	 up;
	struct result		 res;
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	size_t			 len;
	int			 ch, json = 0, done = 0, rv = 0, last = -1;
	int			 tty = isatty(STDERR_FILENO);

	if (argc < 2)
		cmd_usage(&update_cmd);
	memset(&cu, 0, sizeof(cu));
	if (strcmp(argv[1], "check") == 0)
		cu.cu_action = CTL_UPDATE_CHECK;
	else if (strcmp(argv[1], "apply") == 0)
		cu.cu_action = CTL_UPDATE_APPLY;
	else if (strcmp(argv[1], "rollback") == 0)
		cu.cu_action = CTL_UPDATE_ROLLBACK;
	else {
		warnx("update: \"%s\" is not a command; use check, apply or "
		    "rollback", argv[1]);
		return 1;
	}
	argc--;
	argv++;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			if (cu.cu_action != CTL_UPDATE_CHECK)
				cmd_usage(&update_cmd);
			json = 1;
			break;
		default:
			cmd_usage(&update_cmd);
		}
	}
	if (optind != argc)
		cmd_usage(&update_cmd);

	memset(&ui, 0, sizeof(ui));
	ctl_connect(&ibuf);
	ctl_send(&ibuf, IMSG_CTL_UPDATE, &cu, sizeof(cu));
	while (!done) {
		ctl_recv(&ibuf, &imsg);
		switch (imsg_get_type(&imsg)) {
		case IMSG_CTL_UPDATE_INFO:
			info_read(&imsg, &ui);
			if (!json && cu.cu_action == CTL_UPDATE_CHECK)
				info_print(&ui);
			else if (!json && ui.ui_available)
				fprintf(stderr, "fetching bangerd %s (%s)\n",
				    ui.ui_version, fmt_size(ui.ui_length,
				    res.res_msg, sizeof(res.res_msg)));
			break;
		case IMSG_CTL_UPDATE_PROGRESS:
			if (imsg_get_data(&imsg, &up, sizeof(up)) == -1)
				errx(1, "bad progress from bangerd");
			progress_show(&up, tty, &last);
			break;
		case IMSG_CTL_RESULT:
			if (!json) {
				rv = ctl_result(&imsg, 0);
			} else {
				if (imsg_get_data(&imsg, &res,
				    sizeof(res)) == -1 ||
				    wire_string(res.res_msg,
				    sizeof(res.res_msg), &len) == -1)
					errx(1, "bad answer from bangerd");
				json_print(info_json(&ui, res.res_msg,
				    res.res_error != 0));
				rv = res.res_error != 0;
			}
			done = 1;
			break;
		default:
			errx(1, "unexpected answer from bangerd (type %u)",
			    imsg_get_type(&imsg));
		}
		imsg_free(&imsg);
	}
	if (rv == 0 && (cu.cu_action == CTL_UPDATE_APPLY ||
	    cu.cu_action == CTL_UPDATE_ROLLBACK))
		return restart_wait(&ibuf);
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	return rv;
}
