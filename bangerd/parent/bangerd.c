/*
 * bangerd: the root parent.  It reads the configuration, opens what the
 * workers need, starts the vm, net and update workers, restarts them
 * with backoff when they die, and performs the validated root
 * operations they request (priv.c).
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <linux/fs.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "parent.h"
#include "jail.h"
#include "log.h"
#include "netops.h"
#include "reaper.h"
#include "validate.h"

/*
 * A worker that dies is restarted at once, unless it died more than
 * CRASHLOOP_DEATHS times in CRASHLOOP_S seconds: then it waits, from
 * BACKOFF_MIN_MS doubling to BACKOFF_MAX_MS, until it has run
 * BACKOFF_RESET_S seconds.
 */
#define CRASHLOOP_DEATHS	5
#define CRASHLOOP_S		10
#define BACKOFF_MIN_MS		250
#define BACKOFF_MAX_MS		30000
#define BACKOFF_RESET_S		30	/* a worker up this long starts over */
#define SHUTDOWN_WAIT_MS	3000
#define REEXEC_DELAY_MS		300	/* the last answer reaches its client */
#define REEXEC_ENV		"BANGERD_REEXEC"
#define CONSOLES_ENV		"BANGERD_CONSOLES"	/* ID:FD,... */

struct bangerd	*env;

static char	*symsets[64];
static int	 nsymsets;
static char	**saved_argv;		/* for the re-exec after an update */
static struct event reexec_ev;

static __attribute__((__noreturn__)) void usage(void);
static void	 parent_sig(int, short, void *);
static void	 parent_dispatch(int, short, void *);
static int	 parent_dispatch_starting(struct worker *, struct imsg *);
static void	 parent_reap(void);
static void	 parent_shutdown(void);
static void	 workers_stop(void);
static void	 parent_reexec(int, short, void *);
static int	 worker_spawn(struct worker *);
static void	 worker_restart_cb(int, short, void *);
static void	 worker_kill(struct worker *, int);
static int	 config_load(struct bangerd_config **, char *, size_t);
static void	 setup_ids(void);
static void	 setup_dirs(void);
static int	 control_open(void);
static void	 pid_file_write(void);
static void	 nofile_raise(void);
static const char *storage_detect(void);
static void	 workers_open(void);

static __attribute__((__noreturn__)) void
usage(void)
{
	extern char	*__progname;

	fprintf(stderr, "usage: %s [-dnv] [-D macro=value] [-f file]\n",
	    __progname);
	exit(1);
}

int
main(int argc, char *argv[], char *envp[])
{
	char		 errbuf[PROTO_MSG_MAX];
	char		*consoles = NULL;
	struct fcscan	*fs;
	int		 ch, i, reexec = 0;

	/* setproctitle_init may reuse argv's memory: keep a copy. */
	if ((saved_argv = calloc(argc + 1, sizeof(*saved_argv))) == NULL)
		err(1, NULL);
	for (i = 0; i < argc; i++)
		if ((saved_argv[i] = strdup(argv[i])) == NULL)
			err(1, NULL);
	if (getenv(REEXEC_ENV) != NULL) {
		reexec = 1;
		unsetenv(REEXEC_ENV);
		/* The consoles the bangerd before us kept open for us. */
		if (getenv(CONSOLES_ENV) != NULL &&
		    (consoles = strdup(getenv(CONSOLES_ENV))) == NULL)
			err(1, NULL);
	}
	unsetenv(CONSOLES_ENV);
	setproctitle_init(argc, argv, envp);

	if ((env = calloc(1, sizeof(*env))) == NULL)
		err(1, NULL);
	env->bd_conffile = BANGERD_CONF;
	env->bd_ctlfd = -1;
	for (i = 0; i < PROC_ROLES; i++)
		env->bd_exefd[i] = -1;

	while ((ch = getopt(argc, argv, "dD:f:nv")) != -1) {
		switch (ch) {
		case 'd':
			env->bd_debug = 1;
			break;
		case 'D':
			if (nsymsets == (int)(sizeof(symsets) /
			    sizeof(symsets[0])))
				errx(1, "too many -D macros");
			if (strchr(optarg, '=') == NULL)
				errx(1, "-D %s: expected macro=value", optarg);
			symsets[nsymsets++] = optarg;
			break;
		case 'f':
			env->bd_conffile = optarg;
			break;
		case 'n':
			env->bd_noaction = 1;
			break;
		case 'v':
			env->bd_verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	if (argc > 0)
		usage();

	log_init(1, LOG_DAEMON);	/* stderr until daemonized */
	log_setverbose(env->bd_verbose);

	if (config_load(&env->bd_conf, errbuf, sizeof(errbuf)) == -1)
		exit(1);
	if (env->bd_noaction) {
		if (env->bd_verbose)
			config_print(stdout, env->bd_conf);
		fprintf(stderr, "configuration OK\n");
		exit(0);
	}

	if (geteuid() != 0)
		errx(1, "need root privileges");

	setup_ids();
	if (strlen(env->bd_conf->cf_statedir) + sizeof("/update") >
	    PROTO_PATH_MAX)
		fatalx("state-dir %s is too long (at most %zu bytes)",
		    env->bd_conf->cf_statedir,
		    PROTO_PATH_MAX - sizeof("/update"));
	setup_dirs();
	/* Jails, disks and snapshots are walked to from here on. */
	if (walk_hold("state-dir", env->bd_conf->cf_statedir) == -1)
		log_debug("state-dir %s not held: each walk starts at /",
		    env->bd_conf->cf_statedir);
	{
		struct stat	 st;

		if (stat(env->bd_conf->cf_statedir, &st) == -1)
			fatal("%s", env->bd_conf->cf_statedir);
		env->bd_statedev = st.st_dev;
		env->bd_stateino = st.st_ino;
	}
	nofile_raise();
	env->bd_storage = storage_detect();

	if (install_init() == -1)
		fatal("readlink /proc/self/exe");
	workers_open();

	if ((env->bd_ctlfd = control_open()) == -1)
		exit(1);

	log_init(env->bd_debug, LOG_DAEMON);
	log_setverbose(env->bd_debug ? 1 : env->bd_verbose);
	if (env->bd_verbose)
		log_setverbose(env->bd_verbose);
	/* Re-executed after an update: already detached, same pid. */
	if (!env->bd_debug && !reexec && daemon(0, 0) == -1)
		fatal("daemon");
	log_procinit("parent");
	setproctitle("parent");
	/* Low in the table, before the VMs' descriptors (jailspawn.c). */
	fc_spawn_init();
	env->bd_started = time(NULL);
	pid_file_write();
	cgroup_detect(&env->bd_cgroup);
	if (env->bd_cgroup.ct_mode == CGT_MOUNT)
		log_info("cgroup: %s; VMs in %s/%s/ID",
		    env->bd_cgroup.ct_why, env->bd_cgroup.ct_mount,
		    env->bd_cgroup.ct_parent);
	else if (cgroup_enter(&env->bd_cgroup) == -1 ||
	    env->bd_cgroup.ct_mode == CGT_NONE)
		log_warnx("cgroup: none for VMs: %s", env->bd_cgroup.ct_why);

	event_init();
	/* From here on a stray signal is logged, not fatal (signals.c). */
	parent_signals(parent_sig);
	fs = vmop_restore(consoles);
	free(consoles);
	vmop_sweep(fs);
	image_store_clean();
	if (reaper_init() == -1)
		fatal("cannot start the tap reaper");
	proc_trim_start();

	for (i = 0; i < PROC_MAX; i++) {
		struct worker	*w = &env->bd_workers[i];

		w->w_role = i;
		w->w_name = proc_name(i);
		w->w_pidfd = -1;
		w->w_backoff.tv_sec = 0;
		w->w_backoff.tv_usec = 0;
		evtimer_set(&w->w_restart_ev, worker_restart_cb, w);
		/*
		 * The update worker, the one with a way to the network, runs
		 * only while an update is asked for (priv.c).
		 */
		if (i == PROC_UPDATE) {
			w->w_state = WORKER_IDLE;
			continue;
		}
		if (worker_spawn(w) == -1)
			fatal("cannot start the %s worker", w->w_name);
	}

	evtimer_set(&reexec_ev, parent_reexec, NULL);
	log_info("bangerd %s %s (pid %d), storage %s", BANGER_VERSION,
	    reexec ? "re-executed" : "started", getpid(), env->bd_storage);
	event_dispatch();
	parent_shutdown();
	return 0;
}

/*
 * Parse the configuration file with the -D macros into a new config.
 * On failure, the first error is copied to errbuf.
 */
static int
config_load(struct bangerd_config **confp, char *errbuf, size_t len)
{
	struct bangerd_config	*conf;
	int			 i;

	if ((conf = config_new()) == NULL) {
		snprintf(errbuf, len, "%s", strerror(errno));
		return -1;
	}
	for (i = 0; i < nsymsets; i++)
		if (cmdline_symset(symsets[i]) < 0) {
			snprintf(errbuf, len, "cannot set macro %s",
			    symsets[i]);
			config_free(conf);
			return -1;
		}
	if (config_parse(conf, env->bd_conffile) == -1) {
		snprintf(errbuf, len, "%s", config_error());
		config_free(conf);
		return -1;
	}
	*confp = conf;
	return 0;
}

static void
setup_ids(void)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct passwd		*pw;
	struct group		*gr;

	if ((pw = getpwnam(conf->cf_user)) == NULL)
		fatalx("user %s does not exist (make deps creates it)",
		    conf->cf_user);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		fatalx("user %s must not be root or in group root",
		    conf->cf_user);
	env->bd_uid = pw->pw_uid;
	env->bd_gid = pw->pw_gid;
	if ((gr = getgrnam(conf->cf_sockgroup)) == NULL)
		fatalx("group %s does not exist (make deps creates it)",
		    conf->cf_sockgroup);
	env->bd_ctlgid = gr->gr_gid;
	if (conf->cf_vm_uid_min <= env->bd_uid &&
	    env->bd_uid <= conf->cf_vm_uid_max)
		fatalx("vm-uids %u to %u include user %s (uid %u)",
		    conf->cf_vm_uid_min, conf->cf_vm_uid_max, conf->cf_user,
		    (unsigned)env->bd_uid);
}

/*
 * Make a directory with the given owner and mode if it is missing, and
 * insist that what is there is a real directory with that owner and mode.
 */
static void
dir_ensure(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat	 st;
	int		 fd;

	if (mkdir(path, mode) == -1 && errno != EEXIST)
		fatal("mkdir %s", path);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		fatal("%s", path);
	if (fstat(fd, &st) == -1)
		fatal("fstat %s", path);
	if (st.st_uid != uid || st.st_gid != gid) {
		if (fchown(fd, uid, gid) == -1)
			fatal("chown %s", path);
	}
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode) == -1)
		fatal("chmod %s", path);
	close(fd);
}

static void
setup_dirs(void)
{
	const char	*sd = env->bd_conf->cf_statedir;
	char		 path[PATH_MAX];

	static const struct {
		const char	*name;
		int		 worker;	/* owned by the workers' user */
		mode_t		 mode;
	} subdirs[] = {
		{ "vms", 1, 0700 },	/* the vm worker's records */
		{ "net", 1, 0700 },	/* the net worker's root */
		{ "update", 1, 0700 },	/* the update worker's root */
		{ "pull", 0, 0711 },	/* the pull worker's: empty, not its */
		{ "priv", 0, 0700 },	/* the parent's VM records */
		{ "disks", 0, 0700 },	/* VMs' copy-on-write disks */
		{ "images", 0, 0755 },	/* the image store */
		{ "jail", 0, 0711 },	/* Firecracker jails */
	};
	size_t		 i;

	/* The vm worker's chroot is the state directory itself. */
	dir_ensure(sd, 0, 0, 0755);
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", sd,
		    subdirs[i].name) >= (int)sizeof(path))
			fatalx("state-dir %s is too long", sd);
		if (subdirs[i].worker)
			dir_ensure(path, env->bd_uid, env->bd_gid,
			    subdirs[i].mode);
		else
			dir_ensure(path, 0, 0, subdirs[i].mode);
	}
}

/* Probe files a crash left in the state directory (storage_detect). */
static void
probe_clean(void)
{
	const char	*sd = env->bd_conf->cf_statedir;
	struct dirent	*de;
	DIR		*d;

	if ((d = opendir(sd)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, ".reflink-probe.", 15) == 0 &&
		    strlen(de->d_name) == 21 &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0)
			log_info("removed %s/%s, left by a crash", sd,
			    de->d_name);
	closedir(d);
}

/*
 * Which copy-on-write backend serves VM disks: device-mapper where the
 * kernel has it, else reflinks where the state directory's file system
 * makes them, else sparse copies.
 */
static const char *
storage_detect(void)
{
	char	 line[256], path[PATH_MAX], path2[PATH_MAX];
	FILE	*fp;
	int	 dm = 0, a, b, reflink = 0;

	switch (env->bd_conf->cf_storage) {
	case STORAGE_DM:
		return "dm";
	case STORAGE_REFLINK:
		return "reflink";
	case STORAGE_COPY:
		return "copy";
	}
	if ((fp = fopen("/proc/misc", "re")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL)
			if (strstr(line, " device-mapper") != NULL)
				dm = 1;
		fclose(fp);
	}
	if (dm)
		return "dm";
	probe_clean();
	if (snprintf(path, sizeof(path), "%s/.reflink-probe.XXXXXX",
	    env->bd_conf->cf_statedir) >= (int)sizeof(path) ||
	    snprintf(path2, sizeof(path2), "%s/.reflink-probe.XXXXXX",
	    env->bd_conf->cf_statedir) >= (int)sizeof(path2))
		return "copy";
	if ((a = mkstemp(path)) != -1) {
		if ((b = mkstemp(path2)) != -1) {
			if (write(a, "banger", 6) == 6 &&
			    ioctl(b, FICLONE, a) == 0)
				reflink = 1;
			close(b);
			unlink(path2);
		}
		close(a);
		unlink(path);
	}
	return reflink ? "reflink" : "copy";
}

/*
 * The control socket: mode 0660, owned by root and the control group.
 * A socket that answers belongs to a running bangerd; a dead one is
 * replaced.
 */
static int
control_open(void)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct sockaddr_un	 sun;
	char			 dir[PATH_MAX];
	mode_t			 old_umask;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, conf->cf_socket, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("socket path %s is too long", conf->cf_socket);
		return -1;
	}
	strlcpy(dir, conf->cf_socket, sizeof(dir));
	if (mkdir(dirname(dir), 0755) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", dir);
		return -1;
	}
	if (snprintf(env->bd_pidfile, sizeof(env->bd_pidfile),
	    "%s/bangerd.pid", dir) >= (int)sizeof(env->bd_pidfile)) {
		log_warnx("socket directory %s is too long", dir);
		return -1;
	}

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("socket");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		log_warnx("%s: bangerd is already running", conf->cf_socket);
		close(fd);
		return -1;
	}
	if (unlink(conf->cf_socket) == -1 && errno != ENOENT) {
		log_warn("unlink %s", conf->cf_socket);
		close(fd);
		return -1;
	}
	old_umask = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("bind %s", conf->cf_socket);
		umask(old_umask);
		close(fd);
		return -1;
	}
	umask(old_umask);
	if (fchownat(AT_FDCWD, conf->cf_socket, 0, env->bd_ctlgid,
	    AT_SYMLINK_NOFOLLOW) == -1 ||
	    fchmodat(AT_FDCWD, conf->cf_socket, 0660, 0) == -1) {
		log_warn("%s", conf->cf_socket);
		unlink(conf->cf_socket);
		close(fd);
		return -1;
	}
	if (listen(fd, 16) == -1) {
		log_warn("listen");
		unlink(conf->cf_socket);
		close(fd);
		return -1;
	}
	return fd;
}

static void
pid_file_write(void)
{
	FILE	*fp;

	if ((fp = fopen(env->bd_pidfile, "we")) == NULL) {
		log_warn("%s", env->bd_pidfile);
		return;
	}
	fprintf(fp, "%d\n", getpid());
	fclose(fp);
}

/*
 * The parent holds descriptors for each VM (its pidfd, its console),
 * the vm worker more: the soft limit goes up to the hard limit, which
 * the workers inherit, and a hard limit too low for max-vms is named.
 */
static void
nofile_raise(void)
{
	struct rlimit	 rl;
	rlim_t		 want;
	int		 max = env->bd_conf->cf_max_vms;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit");
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE %llu",
			    (unsigned long long)rl.rlim_max);
	}
	want = proc_nofile(PROC_VM, max);
	if (proc_nofile(PROC_PARENT, max) > want)
		want = proc_nofile(PROC_PARENT, max);
	if (rl.rlim_max < want)
		log_warnx("RLIMIT_NOFILE is %llu: max-vms %d wants %llu; "
		    "raise it (LimitNOFILE= in the unit, ulimit -n) or fewer "
		    "VMs will run", (unsigned long long)rl.rlim_max, max,
		    (unsigned long long)want);
}

/*
 * The workers' programs, bangerd-ROLE beside bangerd, opened once at
 * start (and again by a re-executed bangerd after an update).  Root
 * executes each, so each must be a regular file with bangerd's own
 * owner that no one else may write, as bangerd is.
 */
static void
workers_open(void)
{
	struct stat	 self, st;
	char		 path[PATH_MAX];
	int		 fd, i;

	if (stat("/proc/self/exe", &self) == -1)
		fatal("stat /proc/self/exe");
	for (i = 0; i < PROC_ROLES; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s",
		    install_dir(), proc_program(i)) >= sizeof(path))
			fatalx("%s/%s: too long", install_dir(),
			    proc_program(i));
		if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1)
			fatal("the %s worker's program %s (installed beside "
			    "bangerd)", proc_name(i), path);
		if (fstat(fd, &st) == -1)
			fatal("fstat %s", path);
		if (!S_ISREG(st.st_mode) || (st.st_mode & S_IXUSR) == 0)
			fatalx("%s: not an executable file", path);
		if (st.st_uid != self.st_uid || (st.st_mode & 022) != 0)
			fatalx("%s: owner uid %u, mode %04o: must be "
			    "bangerd's owner's (uid %u) and writable by "
			    "its owner alone", path, (unsigned)st.st_uid,
			    (unsigned)(st.st_mode & 07777),
			    (unsigned)self.st_uid);
		/* Keep it clear of the worker's channel fd. */
		if ((env->bd_exefd[i] = fcntl(fd, F_DUPFD_CLOEXEC, 10)) == -1)
			fatal("fcntl");
		close(fd);
	}
}

/* The first message to a worker of role: who it runs as, and where. */
void
worker_init_fill(int role, struct worker_init *wi)
{
	struct bangerd_config	*conf = env->bd_conf;

	memset(wi, 0, sizeof(*wi));
	wi->wi_proto = BANGER_PROTO_VERSION;
	wi->wi_uid = env->bd_uid;
	wi->wi_gid = env->bd_gid;
	wi->wi_ctlgid = env->bd_ctlgid;
	wi->wi_verbose = log_getverbose();
	strlcpy(wi->wi_role, proc_name(role), sizeof(wi->wi_role));
	strlcpy(wi->wi_ctlgroup, conf->cf_sockgroup, sizeof(wi->wi_ctlgroup));
	wi->wi_bridge_addr = conf->cf_bridge_addr.s_addr;
	wi->wi_bridge_prefix = conf->cf_bridge_prefix;
	strlcpy(wi->wi_domain, conf->cf_domain, sizeof(wi->wi_domain));
	wi->wi_max_vms = conf->cf_max_vms;
	wi->wi_nofile = proc_nofile(role, conf->cf_max_vms);
	strlcpy(wi->wi_version, BANGER_VERSION, sizeof(wi->wi_version));
	if (worker_root(role, conf, wi->wi_chroot,
	    sizeof(wi->wi_chroot)) == -1)
		fatalx("state-dir %s is too long", conf->cf_statedir);
}

static int
worker_spawn(struct worker *w)
{
	struct worker_init	 wi;
	int			 fd;
	pid_t			 pid;

	if ((pid = proc_exec_worker(w->w_role, env->bd_exefd[w->w_role],
	    env->bd_debug,
	    log_getverbose(), &fd)) == -1) {
		log_warn("%s: fork", w->w_name);
		return -1;
	}
	w->w_pid = pid;
	if ((w->w_pidfd = pidfd_open(pid, 0)) == -1)
		fatal("pidfd_open");
	w->w_state = WORKER_STARTING;
	w->w_started = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &w->w_started_mono);
	w->w_dispatch = parent_dispatch_starting;

	if ((w->w_iev = calloc(1, sizeof(*w->w_iev))) == NULL)
		fatal(NULL);
	if (imsgev_init(w->w_iev, fd, parent_dispatch, w) == -1)
		fatal("imsgev_init");
	/*
	 * imsg sends fds only on buffers that allow them: the control
	 * socket and VM consoles (vm), the DNS sockets (net), the
	 * manifest and the artifact (update).
	 */
	if (w->w_role == PROC_VM || w->w_role == PROC_NET ||
	    w->w_role == PROC_UPDATE)
		imsgbuf_allow_fdpass(&w->w_iev->ibuf);

	worker_init_fill(w->w_role, &wi);
	imsg_compose_event(w->w_iev, IMSG_WORKER_INIT, 0, 0, -1, &wi,
	    sizeof(wi));
	log_debug("%s worker started, pid %d", w->w_name, pid);
	return 0;
}

static void
worker_restart_cb(int fd, short event, void *arg)
{
	struct worker	*w = arg;

	if (env->bd_shutdown)
		return;
	w->w_restarts++;
	if (worker_spawn(w) == -1) {
		w->w_backoff.tv_sec = BACKOFF_MAX_MS / 1000;
		evtimer_add(&w->w_restart_ev, &w->w_backoff);
	}
}

/* Stop listening to a worker and end it; SIGCHLD reaps and restarts it. */
static void
worker_kill(struct worker *w, int sig)
{
	if (w->w_iev != NULL) {
		imsgev_clear(w->w_iev);
		close(w->w_iev->ibuf.fd);
		free(w->w_iev);
		w->w_iev = NULL;
	}
	if (w->w_pidfd != -1 && pidfd_send_signal(w->w_pidfd, sig, NULL,
	    0) == -1 && errno != ESRCH)
		log_warn("%s: pidfd_send_signal", w->w_name);
}

/* Start a worker that runs only when needed; 0 if it runs already. */
int
parent_worker_wake(struct worker *w)
{
	if (w->w_state != WORKER_IDLE)
		return 0;
	w->w_retiring = 0;
	if (worker_spawn(w) == -1)
		return -1;
	log_info("%s worker started for a request (pid %d)", w->w_name,
	    w->w_pid);
	return 0;
}

/* End such a worker that has had nothing to do; it is started again. */
void
parent_worker_retire(struct worker *w)
{
	if (w->w_pid == 0 || w->w_retiring)
		return;
	log_info("%s worker idle; stopping it", w->w_name);
	w->w_retiring = 1;
	worker_kill(w, SIGTERM);
}

void
parent_worker_violation(struct worker *w, const char *fmt, ...)
{
	char	 buf[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s worker (pid %d): protocol violation: %s; killing it",
	    w->w_name, w->w_pid, buf);
	worker_kill(w, SIGKILL);
}

/* A worker that has not yet reported ready may only do that. */
static int
parent_dispatch_starting(struct worker *w, struct imsg *imsg)
{
	struct worker_ready	 wr;
	size_t			 len;
	int			 fd;

	if (imsg_get_type(imsg) != IMSG_WORKER_READY) {
		parent_worker_violation(w, "message type %u before ready",
		    imsg_get_type(imsg));
		return -1;
	}
	if (imsg_read_exact(imsg, &wr, sizeof(wr)) == -1) {
		parent_worker_violation(w, "ready of %zu bytes, expected %zu",
		    imsg_get_len(imsg), sizeof(wr));
		return -1;
	}
	if (wire_string(wr.wr_role, sizeof(wr.wr_role), &len) == -1 ||
	    wire_string(wr.wr_version, sizeof(wr.wr_version), &len) == -1) {
		parent_worker_violation(w, "unterminated string in ready");
		return -1;
	}
	if (wr.wr_proto != BANGER_PROTO_VERSION ||
	    strcmp(wr.wr_role, w->w_name) != 0) {
		parent_worker_violation(w, "ready from role \"%s\" proto %u",
		    wr.wr_role, wr.wr_proto);
		return -1;
	}
	w->w_state = WORKER_RUNNING;
	switch (w->w_role) {
	case PROC_VM:
		w->w_dispatch = priv_dispatch_vm;
		if ((fd = dup(env->bd_ctlfd)) == -1)
			fatal("dup");
		imsg_compose_event(w->w_iev, IMSG_CTL_SOCKET, 0, 0, fd,
		    NULL, 0);
		vm_defaults_send(w);
		vmop_announce(w);
		break;
	case PROC_NET:
		w->w_dispatch = priv_dispatch_net;
		/* Its table follows our records: every VM's name, address. */
		vmop_net_sync(w);
		break;
	case PROC_UPDATE:
		w->w_dispatch = priv_dispatch_update;
		priv_update_ready(w);
		break;
	}
	log_info("%s worker running (pid %d)", w->w_name, w->w_pid);
	return 0;
}

static void
parent_dispatch(int fd, short event, void *arg)
{
	struct worker	*w = arg;
	struct imsgev	*iev = w->w_iev;
	struct imsgbuf	*ibuf = &iev->ibuf;
	struct imsg	 imsg;
	uint32_t	 type;
	ssize_t		 n;

	if (event & EV_READ) {
		if ((n = imsgbuf_read(ibuf)) == -1 && errno != EAGAIN) {
			if (errno == ERANGE || errno == EBADMSG ||
			    errno == EMSGSIZE)
				parent_worker_violation(w,
				    "malformed message: %s", strerror(errno));
			else
				parent_worker_violation(w, "read: %s",
				    strerror(errno));
			return;
		}
		if (n == 0) {
			/* Closed: SIGCHLD will tell how it ended. */
			log_debug("%s worker closed its channel", w->w_name);
			worker_kill(w, SIGKILL);
			return;
		}
	}
	if (event & EV_WRITE) {
		if (imsgbuf_write(ibuf) == -1) {
			log_warn("%s worker: write", w->w_name);
			worker_kill(w, SIGKILL);
			return;
		}
	}
	for (;;) {
		if ((n = imsg_get(ibuf, &imsg)) == -1) {
			parent_worker_violation(w, "malformed message: %s",
			    strerror(errno));
			return;
		}
		if (n == 0)
			break;
		type = imsg_get_type(&imsg);
		if (w->w_dispatch(w, &imsg) == -1) {
			imsg_free(&imsg);
			/* A dispatcher that said why has already killed it. */
			if (w->w_iev != NULL)
				parent_worker_violation(w,
				    "unexpected message type %u", type);
			return;
		}
		imsg_free(&imsg);
		if (w->w_iev == NULL)
			return;
	}
	imsg_event_add(iev);
}

static void
parent_reap(void)
{
	struct worker	*w;
	struct timespec	 now;
	pid_t		 pid;
	long		 ms;
	int		 status, i;

	/*
	 * Only our workers: each Firecracker is reaped through its pidfd
	 * (vmstart.c), so never waitpid(-1) here.
	 */
	for (i = 0; i < PROC_MAX; i++) {
		w = &env->bd_workers[i];
		if (w->w_pid == 0 ||
		    (pid = waitpid(w->w_pid, &status, WNOHANG)) <= 0)
			continue;
		if ((env->bd_shutdown || w->w_retiring) &&
		    WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)
			log_debug("%s worker (pid %d) ended", w->w_name, pid);
		else if (WIFSIGNALED(status))
			log_warnx("%s worker (pid %d) killed by signal %d (%s)",
			    w->w_name, pid, WTERMSIG(status),
			    strsignal(WTERMSIG(status)));
		else if (!env->bd_shutdown || WEXITSTATUS(status) != 0)
			log_warnx("%s worker (pid %d) exited with status %d",
			    w->w_name, pid, WEXITSTATUS(status));
		if (w->w_role == PROC_VM) {
			image_worker_gone();
			vmop_vm_gone();
		}
		if (w->w_iev != NULL) {
			imsgev_clear(w->w_iev);
			close(w->w_iev->ibuf.fd);
			free(w->w_iev);
			w->w_iev = NULL;
		}
		close(w->w_pidfd);
		w->w_pidfd = -1;
		w->w_pid = 0;
		w->w_state = WORKER_RESTARTING;
		if (w->w_role == PROC_UPDATE) {
			/* Started again by the next request, not now. */
			w->w_state = WORKER_IDLE;
			w->w_retiring = 0;
			priv_update_worker_gone();
			continue;
		}
		if (w->w_role == PROC_NET)
			vmop_net_gone();
		if (env->bd_shutdown)
			continue;

		/*
		 * At once, but for a crash loop: then double the wait after
		 * each quick death, up to a cap.
		 */
		clock_gettime(CLOCK_MONOTONIC, &now);
		memmove(&w->w_deaths[1], &w->w_deaths[0],
		    sizeof(w->w_deaths) - sizeof(w->w_deaths[0]));
		w->w_deaths[0] = now.tv_sec;
		ms = (w->w_backoff.tv_sec * 1000) + w->w_backoff.tv_usec / 1000;
		if (now.tv_sec - w->w_started_mono.tv_sec >= BACKOFF_RESET_S)
			ms = 0;
		if (w->w_deaths[CRASHLOOP_DEATHS] == 0 ||
		    now.tv_sec - w->w_deaths[CRASHLOOP_DEATHS] > CRASHLOOP_S) {
			w->w_backoff.tv_sec = 0;
			w->w_backoff.tv_usec = 0;
			log_info("restarting the %s worker", w->w_name);
			evtimer_add(&w->w_restart_ev, &w->w_backoff);
			continue;
		}
		if (ms == 0)
			ms = BACKOFF_MIN_MS;
		else if ((ms *= 2) > BACKOFF_MAX_MS)
			ms = BACKOFF_MAX_MS;
		w->w_backoff.tv_sec = ms / 1000;
		w->w_backoff.tv_usec = (ms % 1000) * 1000;
		log_warnx("the %s worker died %d times in %d s: restarting it "
		    "in %ld ms", w->w_name, CRASHLOOP_DEATHS + 1, CRASHLOOP_S,
		    ms);
		evtimer_add(&w->w_restart_ev, &w->w_backoff);
	}
}

static void
parent_sig(int sig, short event, void *arg)
{
	char	 errbuf[PROTO_MSG_MAX];

	switch (sig) {
	case SIGINT:
	case SIGTERM:
	case SIGQUIT:
	case SIGXCPU:	/* past the soft CPU limit: stop before the hard */
		log_info("received %s, shutting down", signal_name(sig));
		env->bd_shutdown = 1;
		event_loopexit(NULL);
		break;
	case SIGHUP:
		log_info("received SIGHUP, reloading %s", env->bd_conffile);
		if (parent_reload(errbuf, sizeof(errbuf)) == -1)
			log_warnx("reload failed, configuration unchanged: %s",
			    errbuf);
		break;
	case SIGCHLD:
		parent_reap();
		break;
	default:
		/* No meaning here; ending would leave the VMs unattended. */
		log_warnx("received %s, ignored", signal_name(sig));
		break;
	}
}

/*
 * Read the configuration again.  What the running processes were built
 * on (state directory, socket, users) only changes at the next start.
 */
int
parent_reload(char *errbuf, size_t len)
{
	struct bangerd_config	*old = env->bd_conf, *conf;

	if (config_load(&conf, errbuf, len) == -1)
		return -1;
	if (strcmp(old->cf_statedir, conf->cf_statedir) != 0 ||
	    strcmp(old->cf_socket, conf->cf_socket) != 0 ||
	    strcmp(old->cf_sockgroup, conf->cf_sockgroup) != 0 ||
	    strcmp(old->cf_user, conf->cf_user) != 0) {
		log_warnx("state-dir, socket and user take effect at the next "
		    "start; keeping the running ones");
		strlcpy(conf->cf_statedir, old->cf_statedir,
		    sizeof(conf->cf_statedir));
		strlcpy(conf->cf_socket, old->cf_socket,
		    sizeof(conf->cf_socket));
		strlcpy(conf->cf_sockgroup, old->cf_sockgroup,
		    sizeof(conf->cf_sockgroup));
		strlcpy(conf->cf_user, old->cf_user, sizeof(conf->cf_user));
	}
	env->bd_conf = conf;
	config_free(old);
	env->bd_storage = storage_detect();
	vm_defaults_send(&env->bd_workers[PROC_VM]);
	log_info("configuration reloaded from %s", env->bd_conffile);
	return 0;
}

void
parent_set_verbose(int v)
{
	struct set_verbose	 sv;
	struct worker		*w;
	int			 i;

	log_setverbose(v);
	memset(&sv, 0, sizeof(sv));
	sv.sv_verbose = v;
	for (i = 0; i < PROC_MAX; i++) {
		w = &env->bd_workers[i];
		if (w->w_iev != NULL && w->w_state == WORKER_RUNNING)
			imsg_compose_event(w->w_iev, IMSG_SET_VERBOSE, 0, 0,
			    -1, &sv, sizeof(sv));
	}
	log_info("logging %s", v ? "verbose" : "brief");
}

/* Ask every worker to end, wait a little, then make sure. */
static void
workers_stop(void)
{
	struct worker	*w;
	struct timespec	 ts = { 0, 50 * 1000 * 1000 };
	int		 i, alive, waited;

	env->bd_shutdown = 1;
	for (i = 0; i < PROC_MAX; i++) {
		w = &env->bd_workers[i];
		evtimer_del(&w->w_restart_ev);
		if (w->w_pid != 0)
			worker_kill(w, SIGTERM);
	}
	for (waited = 0; waited < SHUTDOWN_WAIT_MS; waited += 50) {
		parent_reap();
		for (alive = 0, i = 0; i < PROC_MAX; i++)
			if (env->bd_workers[i].w_pid != 0)
				alive++;
		if (alive == 0)
			break;
		nanosleep(&ts, NULL);
	}
	for (i = 0; i < PROC_MAX; i++) {
		w = &env->bd_workers[i];
		if (w->w_pid != 0) {
			log_warnx("%s worker did not exit; killing it",
			    w->w_name);
			worker_kill(w, SIGKILL);
			waitpid(w->w_pid, NULL, 0);
		}
	}
}

static void
parent_shutdown(void)
{
	workers_stop();
	/*
	 * A start under way ends running, recorded so, or undone; removals
	 * under way end, their records gone.
	 */
	vmop_settle();
	/* The reaper is done: its spare taps go. */
	(void)net_spares_clear();
	/* Running VMs keep running; the next bangerd re-adopts them. */
	hostnet_teardown();
	unlink(env->bd_conf->cf_socket);
	unlink(env->bd_pidfile);
	log_info("bangerd stopped");
	exit(0);
}

/*
 * After an update or a rollback: once the answer is on its way, stop
 * the workers and execute the installed bangerd in place, with the same
 * arguments.  The pid stays, so the Firecracker processes stay its
 * children; the new parent re-adopts them from its records as at any
 * start, and binds the control socket again.
 */
void
parent_reexec_schedule(void)
{
	struct timeval	 tv = { 0, REEXEC_DELAY_MS * 1000 };

	evtimer_add(&reexec_ev, &tv);
}

static void
parent_reexec(int fd, short event, void *arg)
{
	extern char	**environ;
	const char	*exe = install_exe();
	char		 consoles[4096];

	log_info("re-executing %s", exe);
	workers_stop();
	vmop_settle();
	unlink(env->bd_conf->cf_socket);
	/* Running VMs keep their consoles: the new bangerd inherits them. */
	vmop_consoles_keep(consoles, sizeof(consoles));
	if (setenv(REEXEC_ENV, "1", 1) == -1 ||
	    (consoles[0] != '\0' && setenv(CONSOLES_ENV, consoles, 1) == -1))
		fatal("setenv");
	execve(exe, saved_argv, environ);
	fatal("execve %s", exe);
}
