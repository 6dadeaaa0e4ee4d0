/*
 * bangerctl: talk to bangerd over its control socket.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bangerctl.h"
#include "config.h"
#include "validate.h"

const char	*ctl_socket = BANGER_SOCKET;

static int	 cmd_status(int, char **);
static int	 cmd_log(int, char **);
static int	 cmd_reload(int, char **);
static int	 cmd_help(int, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", cmd_status, "[--json]",
	    "show the daemon, its workers and its configuration" },
	{ "log", cmd_log, "verbose | brief",
	    "switch the daemon's logging (root only)" },
	{ "reload", cmd_reload, "",
	    "read the configuration file again (root only)" },
	{ "net", cmd_net, "show [--json]",
	    "the bridge, NAT, DNS and each VM's address" },
	{ "vm", cmd_vm, "command ...", "create, run and remove VMs (below)" },
	{ "image", cmd_image, "command ...",
	    "import, build, list and remove images (below)" },
	{ "update", cmd_update, "check [--json] | apply | rollback",
	    "check for, install or roll back a release (root only)" },
	{ "help", cmd_help, "", "list the commands" },
};
#define NCMDS	(sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

static const struct option json_opts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ NULL, 0, NULL, 0 },
};

static __attribute__((__noreturn__)) void
usage(void)
{
	extern char	*__progname;
	size_t		 i;

	fprintf(stderr, "usage: %s [-s socket] command [arguments]\n\n",
	    __progname);
	for (i = 0; i < NCMDS; i++)
		fprintf(stderr, "  %-8s %-18s %s\n", ctl_cmds[i].name,
		    ctl_cmds[i].usage, ctl_cmds[i].help);
	vm_usage_list(stderr);
	image_usage_list(stderr);
	exit(1);
}

void
cmd_usage(const struct ctl_cmd *cmd)
{
	extern char	*__progname;

	fprintf(stderr, "usage: %s %s %s\n", __progname, cmd->name,
	    cmd->usage);
	exit(1);
}

static const struct ctl_cmd *
cmd_lookup(const char *name)
{
	size_t	 i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(ctl_cmds[i].name, name) == 0)
			return &ctl_cmds[i];
	return NULL;
}

int
main(int argc, char *argv[])
{
	const struct ctl_cmd	*cmd;
	int			 ch;

	if (getenv("BANGER_SOCKET") != NULL)
		ctl_socket = getenv("BANGER_SOCKET");
	while ((ch = getopt(argc, argv, "+s:")) != -1) {
		switch (ch) {
		case 's':
			ctl_socket = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if ((cmd = cmd_lookup(argv[0])) == NULL) {
		warnx("unknown command \"%s\"; \"bangerctl help\" lists them",
		    argv[0]);
		return 1;
	}
	optind = 0;	/* reset getopt for the command's own options */
	return cmd->run(argc, argv);
}

/* The group that may use the socket, for the message that says so. */
static const char *
socket_group(void)
{
	struct stat	 st;
	struct group	*gr;

	if (stat(ctl_socket, &st) == 0 && (gr = getgrgid(st.st_gid)) != NULL)
		return gr->gr_name;
	return BANGER_SOCKGROUP;
}

/*
 * Connect to the daemon.  A daemon that is not there, or a socket we may
 * not use, is one clear line and exit 1.
 */
int
ctl_connect(struct imsgbuf *ibuf)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, ctl_socket, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		errx(1, "socket path %s is too long", ctl_socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		switch (errno) {
		case ENOENT:
		case ECONNREFUSED:
			errx(1, "bangerd is not running (no daemon on %s)",
			    ctl_socket);
		case EACCES:
		case EPERM:
			errx(1, "%s: permission denied: you must be root or "
			    "in group %s", ctl_socket, socket_group());
		default:
			err(1, "%s", ctl_socket);
		}
	}
	if (imsgbuf_init(ibuf, fd) == -1)
		err(1, "imsgbuf_init");
	return fd;
}

int
ctl_send(struct imsgbuf *ibuf, uint32_t type, const void *data, size_t len)
{
	struct imsg	 imsg;

	if (imsg_compose(ibuf, type, 0, 0, -1, data, len) == -1)
		err(1, "imsg_compose");
	if (imsgbuf_flush(ibuf) == -1) {
		/*
		 * The daemon hung up before reading: it may have said why
		 * (a refused peer is told so on connect).
		 */
		if (errno == EPIPE || errno == ECONNRESET) {
			ctl_recv(ibuf, &imsg);
			(void)ctl_result(&imsg, 0);
			exit(1);
		}
		err(1, "write to bangerd");
	}
	return 0;
}

/* Wait for the next message from the daemon. */
int
ctl_recv(struct imsgbuf *ibuf, struct imsg *imsg)
{
	ssize_t	 n;

	for (;;) {
		if ((n = imsg_get(ibuf, imsg)) == -1)
			err(1, "bad message from bangerd");
		if (n > 0)
			return 0;
		switch (imsgbuf_read(ibuf)) {
		case -1:
			if (errno == EAGAIN || errno == EINTR)
				continue;
			err(1, "read from bangerd");
		case 0:
			errx(1, "bangerd closed the connection before it "
			    "answered (its vm worker restarted?); see "
			    "\"bangerctl vm ls\" and try again");
		}
	}
}

/*
 * Print a result message: the text on stdout if it succeeded (unless
 * quiet), as an error otherwise.  Returns the exit status: 0, 1, or 2
 * for a vm stop or restart that had to kill the guest (RES_KILLED).
 */
int
ctl_result(struct imsg *imsg, int quiet)
{
	struct result	 res;
	size_t		 len;

	if (imsg_get_type(imsg) != IMSG_CTL_RESULT ||
	    imsg_get_data(imsg, &res, sizeof(res)) == -1 ||
	    wire_string(res.res_msg, sizeof(res.res_msg), &len) == -1)
		errx(1, "unexpected answer from bangerd (type %u)",
		    imsg_get_type(imsg));
	if (res.res_error != 0) {
		warnx("%s", res.res_msg);
		return res.res_error == RES_KILLED ? 2 : 1;
	}
	if (!quiet && res.res_msg[0] != '\0')
		printf("%s\n", res.res_msg);
	return 0;
}

/*
 * Send one request whose only answer is its result, print that;
 * returns the exit status.
 */
int
ctl_request(uint32_t type, const void *data, size_t len)
{
	struct imsgbuf	 ibuf;
	struct imsg	 imsg;
	int		 rv;

	ctl_connect(&ibuf);
	ctl_send(&ibuf, type, data, len);
	ctl_recv(&ibuf, &imsg);
	rv = ctl_result(&imsg, 0);
	imsg_free(&imsg);
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	return rv;
}

static int
parse_json_flag(int argc, char **argv, const struct ctl_cmd *cmd)
{
	int	 ch, json = 0;

	while ((ch = getopt_long(argc, argv, "j", json_opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		default:
			cmd_usage(cmd);
		}
	}
	if (optind != argc)
		cmd_usage(cmd);
	return json;
}

static void
status_print_daemon(const struct status_daemon *sd)
{
	char	 b1[32], b2[32];

	printf("bangerd %s, pid %d, up %s, logging %s\n", sd->sd_version,
	    sd->sd_pid, fmt_duration(sd->sd_now - sd->sd_started, b1,
	    sizeof(b1)), sd->sd_verbose ? "verbose" : "brief");
	printf("%-12s %s\n", "config", sd->sd_config);
	printf("%-12s %s\n", "state dir", sd->sd_statedir);
	printf("%-12s %s (group %s)\n", "socket", sd->sd_socket,
	    sd->sd_sockgroup);
	printf("%-12s %s %s/%d, NAT egress %s\n", "bridge", sd->sd_bridge,
	    sd->sd_bridge_addr, sd->sd_bridge_prefix,
	    sd->sd_egress[0] ? sd->sd_egress : "none");
	printf("%-12s %s\n", "dns domain", sd->sd_domain);
	printf("%-12s %s\n", "storage", sd->sd_storage);
	printf("%-12s %s, jailer %s\n", "firecracker", sd->sd_firecracker,
	    sd->sd_jailer[0] ? sd->sd_jailer : "built-in");
	printf("%-12s %u-%u\n", "vm uids", sd->sd_vm_uid_min,
	    sd->sd_vm_uid_max);
	printf("%-12s %d cpu%s, %s memory, %s disk\n", "vm defaults",
	    sd->sd_def_cpus, sd->sd_def_cpus == 1 ? "" : "s",
	    fmt_size(sd->sd_def_memory << 20, b1, sizeof(b1)),
	    fmt_size(sd->sd_def_disk, b2, sizeof(b2)));
	printf("%-12s %u declared\n", "images", sd->sd_nimages);
	printf("%-12s %s\n", "updates",
	    sd->sd_update_url[0] ? sd->sd_update_url : "not configured");
	printf("%-12s %s (%s: %s)\n", "vm cgroups",
	    sd->sd_cgroup[0] ? sd->sd_cgroup : "none", sd->sd_cgroup_mode,
	    sd->sd_cgroup_why);
}

static json_t *
status_json_daemon(const struct status_daemon *sd)
{
	return json_pack("{s:s, s:i, s:I, s:I, s:s, s:s, s:s, s:s, s:s, "
	    "s:{s:s, s:s, s:i, s:s?}, s:s, s:s, s:s, s:s?, "
	    "s:{s:I, s:I}, s:{s:i, s:I, s:I}, s:i, s:s?, "
	    "s:{s:s, s:s?, s:s}}",
	    "version", sd->sd_version,
	    "pid", sd->sd_pid,
	    "started", (json_int_t)sd->sd_started,
	    "uptime", (json_int_t)(sd->sd_now - sd->sd_started),
	    "logging", sd->sd_verbose ? "verbose" : "brief",
	    "config", sd->sd_config,
	    "state_dir", sd->sd_statedir,
	    "socket", sd->sd_socket,
	    "socket_group", sd->sd_sockgroup,
	    "bridge",
		"name", sd->sd_bridge,
		"address", sd->sd_bridge_addr,
		"prefix", sd->sd_bridge_prefix,
		"egress", sd->sd_egress[0] ? sd->sd_egress : NULL,
	    "dns_domain", sd->sd_domain,
	    "storage", sd->sd_storage,
	    "firecracker", sd->sd_firecracker,
	    "jailer", sd->sd_jailer[0] ? sd->sd_jailer : NULL,
	    "vm_uids",
		"min", (json_int_t)sd->sd_vm_uid_min,
		"max", (json_int_t)sd->sd_vm_uid_max,
	    "vm_defaults",
		"cpus", sd->sd_def_cpus,
		"memory_mib", (json_int_t)sd->sd_def_memory,
		"disk_bytes", (json_int_t)sd->sd_def_disk,
	    "images", (int)sd->sd_nimages,
	    "update_url", sd->sd_update_url[0] ? sd->sd_update_url : NULL,
	    "cgroup",
		"mode", sd->sd_cgroup_mode,
		"root", sd->sd_cgroup[0] ? sd->sd_cgroup : NULL,
		"reason", sd->sd_cgroup_why);
}

static int
cmd_status(int argc, char **argv)
{
	struct status_daemon	 sd;
	struct status_worker	 sw;
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	json_t			*root = NULL, *workers = NULL;
	char			 b1[32];
	size_t			 len;
	int			 json, have_daemon = 0, done = 0, rv = 0;

	json = parse_json_flag(argc, argv, cmd_lookup("status"));
	ctl_connect(&ibuf);
	ctl_send(&ibuf, IMSG_CTL_STATUS, NULL, 0);
	if (json)
		workers = json_array();

	while (!done) {
		ctl_recv(&ibuf, &imsg);
		switch (imsg_get_type(&imsg)) {
		case IMSG_STATUS_DAEMON:
			if (imsg_get_data(&imsg, &sd, sizeof(sd)) == -1)
				errx(1, "bad status from bangerd");
			sd.sd_cgroup_mode[sizeof(sd.sd_cgroup_mode) - 1] =
			    '\0';
			sd.sd_cgroup[sizeof(sd.sd_cgroup) - 1] = '\0';
			sd.sd_cgroup_why[sizeof(sd.sd_cgroup_why) - 1] = '\0';
			have_daemon = 1;
			if (json)
				root = status_json_daemon(&sd);
			else {
				status_print_daemon(&sd);
				printf("\n%-7s %-8s %-8s %-11s %-9s %-8s %s\n",
				    "WORKER", "PID", "UID", "STATE",
				    "RESTARTS", "UPTIME", "ROOT");
			}
			break;
		case IMSG_STATUS_WORKER:
			if (!have_daemon ||
			    imsg_get_data(&imsg, &sw, sizeof(sw)) == -1 ||
			    wire_string(sw.sw_role, sizeof(sw.sw_role),
			    &len) == -1)
				errx(1, "bad worker status from bangerd");
			if (json)
				json_array_append_new(workers, json_pack(
				    "{s:s, s:i, s:I, s:I, s:s, s:I, s:I, s:s}",
				    "role", sw.sw_role, "pid", sw.sw_pid,
				    "uid", (json_int_t)sw.sw_uid,
				    "gid", (json_int_t)sw.sw_gid,
				    "state", worker_state_name(sw.sw_state),
				    "restarts", (json_int_t)sw.sw_restarts,
				    "started", (json_int_t)sw.sw_started,
				    "root", sw.sw_chroot));
			else
				printf("%-7s %-8d %-8u %-11s %-9u %-8s %s\n",
				    sw.sw_role, sw.sw_pid, sw.sw_uid,
				    worker_state_name(sw.sw_state),
				    sw.sw_restarts, sw.sw_pid ? fmt_duration(
				    sd.sd_now - sw.sw_started, b1,
				    sizeof(b1)) : "-", sw.sw_chroot);
			break;
		case IMSG_STATUS_END:
			done = 1;
			break;
		case IMSG_CTL_RESULT:
			rv = ctl_result(&imsg, 0);
			done = 1;
			break;
		default:
			errx(1, "unexpected answer from bangerd (type %u)",
			    imsg_get_type(&imsg));
		}
		imsg_free(&imsg);
	}
	if (json && root != NULL) {
		json_object_set_new(root, "workers", workers);
		json_print(root);
	} else if (json)
		json_decref(workers);
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	return rv;
}

static int
cmd_log(int argc, char **argv)
{
	const struct ctl_cmd	*cmd = cmd_lookup("log");
	struct set_verbose	 sv;

	if (argc != 2)
		cmd_usage(cmd);
	memset(&sv, 0, sizeof(sv));
	if (strcmp(argv[1], "verbose") == 0)
		sv.sv_verbose = 1;
	else if (strcmp(argv[1], "brief") == 0)
		sv.sv_verbose = 0;
	else {
		warnx("log: \"%s\" is not a level; use verbose or brief",
		    argv[1]);
		return 1;
	}
	return ctl_request(IMSG_CTL_LOG_VERBOSE, &sv, sizeof(sv));
}

static int
cmd_reload(int argc, char **argv)
{
	if (argc != 1)
		cmd_usage(cmd_lookup("reload"));
	return ctl_request(IMSG_CTL_RELOAD, NULL, 0);
}

static int
cmd_help(int argc, char **argv)
{
	size_t	 i;

	printf("usage: bangerctl [-s socket] command [arguments]\n\n");
	for (i = 0; i < NCMDS; i++)
		printf("  %-8s %-18s %s\n", ctl_cmds[i].name,
		    ctl_cmds[i].usage, ctl_cmds[i].help);
	vm_usage_list(stdout);
	image_usage_list(stdout);
	return 0;
}
