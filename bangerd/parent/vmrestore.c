/*
 * The parent's records read back at start (vmrecord.c writes them):
 * each VM driven to what its state allows (see vmops.c), its running
 * Firecracker re-adopted, its tap made again if a reboot took it, and
 * its console kept open across a re-exec and taken back.  What no
 * record names is removed by the sweep (sweep.c).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"
#include "journal.h"
#include "jail.h"
#include "log.h"
#include "netops.h"
#include "validate.h"

#define PRIV_DIR	"priv"

/*
 * A record's fields into pv; a run-time record's boot into boot (if
 * not NULL), and *end set if the record ends with "end".
 */
static int
record_field(FILE *fp, struct pvm *pv, char *boot, size_t bootlen, int *end)
{
	char		 line[PATH_MAX + 64], *val;

	*end = 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (*end)
			return -1;	/* nothing follows "end" */
		line[strcspn(line, "\n")] = '\0';
		if ((val = strchr(line, ' ')) == NULL) {
			/* An empty value: "tap " is "tap" here. */
			if (line[0] == '\0')
				return -1;
			val = line + strlen(line);
		} else
			*val++ = '\0';
		if (strcmp(line, "id") == 0)
			strlcpy(pv->pv_id, val, sizeof(pv->pv_id));
		else if (strcmp(line, "name") == 0)
			strlcpy(pv->pv_name, val, sizeof(pv->pv_name));
		else if (strcmp(line, "image") == 0)
			strlcpy(pv->pv_image, val, sizeof(pv->pv_image));
		else if (strcmp(line, "owner") == 0)
			pv->pv_owner = strtoul(val, NULL, 10);
		else if (strcmp(line, "uid") == 0)
			pv->pv_uid = strtoul(val, NULL, 10);
		else if (strcmp(line, "state") == 0)
			pv->pv_state = atoi(val);
		else if (strcmp(line, "tap") == 0)
			strlcpy(pv->pv_tap, val, sizeof(pv->pv_tap));
		else if (strcmp(line, "backend") == 0)
			strlcpy(pv->pv_backend, val, sizeof(pv->pv_backend));
		else if (strcmp(line, "disk") == 0)
			pvm_disk_setf(pv, "%s", val);
		else if (strcmp(line, "disk_size") == 0)
			pv->pv_disk_size = strtoull(val, NULL, 10);
		else if (strcmp(line, "loop_origin") == 0)
			strlcpy(pv->pv_loop_origin, val,
			    sizeof(pv->pv_loop_origin));
		else if (strcmp(line, "loop_cow") == 0)
			strlcpy(pv->pv_loop_cow, val, sizeof(pv->pv_loop_cow));
		else if (strcmp(line, "pid") == 0)
			pv->pv_proc.fp_pid = atoi(val);
		else if (strcmp(line, "starttime") == 0)
			pv->pv_proc.fp_starttime = strtoull(val, NULL, 10);
		else if (strcmp(line, "addr") == 0)
			pv->pv_addr.s_addr = strtoul(val, NULL, 10);
		else if (strcmp(line, "cpus") == 0)
			pv->pv_cpus = strtoul(val, NULL, 10);
		else if (strcmp(line, "memory") == 0)
			pv->pv_memory = strtoull(val, NULL, 10);
		else if (strcmp(line, "ended") == 0)
			pv->pv_ended = atoi(val) != 0;
		else if (strcmp(line, "exit_time") == 0)
			pv->pv_exit_time = strtoll(val, NULL, 10);
		else if (strcmp(line, "exit_status") == 0)
			pv->pv_exit_status = atoi(val);
		else if (strcmp(line, "gen") == 0)
			pv->pv_gen = strtoull(val, NULL, 10);
		else if (strcmp(line, "boot") == 0 && boot != NULL)
			strlcpy(boot, val, bootlen);
		else if (strcmp(line, "end") == 0)
			*end = 1;
		else if (strcmp(line, "publish") == 0 &&
		    pv->pv_npublish < PROTO_PUBLISH_MAX) {
			struct proto_publish	*pp;
			unsigned		 pr, ha, hp, gp;

			if (sscanf(val, "%u %u %u %u", &pr, &ha, &hp,
			    &gp) != 4)
				return -1;
			if ((pp = reallocarray(pv->pv_publish,
			    pv->pv_npublish + 1, sizeof(*pp))) == NULL)
				fatal(NULL);
			pv->pv_publish = pp;
			pp += pv->pv_npublish;
			memset(pp, 0, sizeof(*pp));
			pp->pp_proto = pr;
			pp->pp_host_addr = ha;
			pp->pp_host_port = hp;
			pp->pp_guest_port = gp;
			pv->pv_npublish++;
		} else if (strcmp(line, "snap") == 0) {
			struct psnap	 ps;
			const char	*why;
			long long	 created;

			memset(&ps, 0, sizeof(ps));
			if (sscanf(val, "%63s %d %lld %" SCNu64 " %" SCNu64
			    " %" SCNu64 " %" SCNu64 " %" SCNu64 " %7s",
			    ps.ps_name, &ps.ps_state, &created, &ps.ps_memory,
			    &ps.ps_vmstate, &ps.ps_disk, &ps.ps_disk_alloc,
			    &ps.ps_ms, ps.ps_how) != 9 ||
			    valid_name(ps.ps_name, strlen(ps.ps_name),
			    &why) == -1 || ps.ps_state < PSNAP_CREATING ||
			    ps.ps_state > PSNAP_REMOVING ||
			    psnap_find(pv, ps.ps_name) != NULL ||
			    psnap_add(pv, ps.ps_name, ps.ps_state) == -1)
				return -1;
			ps.ps_created = created;
			pv->pv_snaps[pv->pv_nsnaps - 1] = ps;
		}
	}
	return 0;
}

/*
 * Before re-executing after an update: each running VM's console master
 * stays open across the exec, named in buf as "ID:FD,...", for
 * vmop_restore to take back.  What does not fit is closed with the exec.
 */
void
vmop_consoles_keep(char *buf, size_t len)
{
	struct pvm	*pv;
	char		 one[PROTO_VMID_MAX + 16];
	int		 flags;

	buf[0] = '\0';
	TAILQ_FOREACH(pv, &pvms, pv_entry) {
		if (pv->pv_state != VMOP_RUNNING || pv->pv_proc.fp_ptyfd == -1)
			continue;
		snprintf(one, sizeof(one), "%s%s:%d", buf[0] ? "," : "",
		    pv->pv_id, pv->pv_proc.fp_ptyfd);
		if (strlcat(buf, one, len) >= len) {
			buf[strlen(buf) - strlen(one)] = '\0';
			log_warnx("vm %s: console not kept across the re-exec",
			    pv->pv_id);
			continue;
		}
		if ((flags = fcntl(pv->pv_proc.fp_ptyfd, F_GETFD)) == -1 ||
		    fcntl(pv->pv_proc.fp_ptyfd, F_SETFD, flags & ~FD_CLOEXEC) ==
		    -1)
			log_warn("vm %s: console", pv->pv_id);
	}
}

/*
 * After a re-exec: the consoles the bangerd before us kept ("ID:FD,...",
 * see vmop_consoles_keep).  An fd is taken only if it is a pty master
 * and names a VM re-adopted as running; every other one listed is
 * closed.  Nothing else about the string is trusted.
 */
static void
consoles_adopt(const char *list)
{
	struct stat	 st;
	struct pvm	*pv;
	char		*dup, *p, *tok, *colon, *end;
	const char	*why;
	long		 fd;

	if (list == NULL || (dup = strdup(list)) == NULL)
		return;
	for (p = dup; (tok = strsep(&p, ",")) != NULL; ) {
		if ((colon = strchr(tok, ':')) == NULL)
			continue;
		*colon++ = '\0';
		errno = 0;
		fd = strtol(colon, &end, 10);
		if (errno != 0 || *end != '\0' || fd <= STDERR_FILENO ||
		    fd > 65535 || fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
			continue;
		pv = valid_vm_id(tok, strlen(tok), &why) == 0 ?
		    pvm_find(tok) : NULL;
		if (pv == NULL || pv->pv_state != VMOP_RUNNING ||
		    pv->pv_proc.fp_pidfd == -1 || pv->pv_proc.fp_ptyfd != -1 ||
		    fstat(fd, &st) == -1 || !S_ISCHR(st.st_mode) ||
		    major(st.st_rdev) != 5 || minor(st.st_rdev) != 2) {
			log_warnx("console fd %ld for vm %s not taken", fd,
			    tok);
			close(fd);
			continue;
		}
		pv->pv_proc.fp_ptyfd = fd;
		log_info("vm %s: console kept across the re-exec", pv->pv_id);
	}
	free(dup);
}

static void
pvm_record_free(struct pvm *pv)
{
	free(pv->pv_publish);
	free(pv->pv_disk);
	free(pv->pv_snaps);
	free(pv);
}

/*
 * One record read from fp: NULL if it is not a whole record of id
 * (errno EINVAL).  boot as record_field.  fp is closed.
 */
static struct pvm *
pvm_read_fp(FILE *fp, const char *id, char *boot, size_t bootlen, int *end)
{
	struct pvm	*pv;

	if ((pv = calloc(1, sizeof(*pv))) == NULL)
		fatal(NULL);
	pv->pv_proc.fp_pidfd = -1;
	pv->pv_proc.fp_ptyfd = -1;
	pv->pv_exit_status = -1;
	if (record_field(fp, pv, boot, bootlen, end) == -1 || ferror(fp) ||
	    strcmp(pv->pv_id, id) != 0 ||
	    pv->pv_state < VMOP_CREATED || pv->pv_state > VMOP_DESTROYING) {
		fclose(fp);
		pvm_record_free(pv);
		errno = EINVAL;
		return NULL;
	}
	fclose(fp);
	return pv;
}

/*
 * One file of STATE/priv read: NULL if it cannot be opened (errno set)
 * or is not a whole record of id (errno EINVAL).
 */
static struct pvm *
pvm_read(const char *path, const char *id, char *boot, size_t bootlen,
    int *end)
{
	FILE	*fp;

	if ((fp = fopen(path, "re")) == NULL)
		return NULL;
	return pvm_read_fp(fp, id, boot, bootlen, end);
}

/*
 * Read one record of STATE/priv: ID, unless the journal holds a later
 * one (a power cut left ID older, torn or missing; ID is then written
 * from it), or ID.run if that is the later one (vmrecord.c: whole, of
 * this boot, following the record's gen).  NULL (logged) if there is
 * no whole record.  A run-time record not taken is removed, and so is
 * a VM the journal says is gone.
 */
static struct pvm *
pvm_load(const char *dir, const char *id)
{
	char		 path[PATH_MAX * 2], boot[64];
	const char	*why = NULL, *now, *text;
	struct pvm	*pv, *rv;
	uint64_t	 jgen;
	FILE		*fp;
	int		 end, gone, err;

	snprintf(path, sizeof(path), "%s/%s", dir, id);
	text = journal_find(pvm_journal(), id, &jgen, &gone);
	if (text != NULL && gone) {
		/* Removed, and a power cut kept its files. */
		if (unlink(path) == 0)
			log_info("vm %s: removed %s: the journal says the VM "
			    "is gone", id, path);
		snprintf(path, sizeof(path), "%s/%s%s", dir, id, RUN_SUFFIX);
		(void)unlink(path);
		return NULL;
	}
	pv = pvm_read(path, id, NULL, 0, &end);
	err = errno;
	if (text != NULL && (pv == NULL || pv->pv_gen < jgen)) {
		why = pv != NULL ? "older" : err == ENOENT ? "missing" :
		    "not whole";
		if (pv != NULL)
			pvm_record_free(pv);
		if ((fp = fmemopen((void *)text, strlen(text), "r")) == NULL)
			fatal("fmemopen");
		if ((pv = pvm_read_fp(fp, id, NULL, 0, &end)) == NULL) {
			log_warnx("vm %s: its record in the journal is not "
			    "whole, ignored", id);
			return NULL;
		}
		log_info("vm %s: %s is %s: the journal's record (gen %" PRIu64
		    ") is kept", id, path, why, jgen);
		(void)pvm_record_put(id, text, strlen(text));
		why = NULL;
	} else if (pv == NULL) {
		if (err == EINVAL)
			log_warnx("vm %s: unreadable record %s, ignored", id,
			    path);
		else {
			errno = err;
			log_warn("vm %s: %s", id, path);
		}
		return NULL;
	}
	/* Its file may be unsynced: the checkpoint syncs it. */
	pv->pv_jdirty = text != NULL;
	snprintf(path, sizeof(path), "%s/%s%s", dir, id, RUN_SUFFIX);
	boot[0] = '\0';
	if ((rv = pvm_read(path, id, boot, sizeof(boot), &end)) == NULL) {
		if (errno == EINVAL)
			why = "is not whole";
		else if (errno != ENOENT)
			log_warn("vm %s: %s", id, path);
	} else if (!end)
		why = "is not whole";
	else if ((now = pvm_boot_id()) == NULL || strcmp(boot, now) != 0)
		why = "is of an earlier boot";
	else if (rv->pv_gen != pv->pv_gen)
		why = "is older than its record";
	if (rv != NULL && why == NULL) {
		rv->pv_jdirty = pv->pv_jdirty;
		pvm_record_free(pv);
		pv = rv;
		pv->pv_run = 1;
	} else {
		if (rv != NULL)
			pvm_record_free(rv);
		if (why != NULL) {
			log_info("vm %s: %s %s: the synced record holds", id,
			    path, why);
			if (unlink(path) == -1)
				log_warn("vm %s: unlink %s", id, path);
		}
	}
	strlcpy(pv->pv_proc.fp_vmid, pv->pv_id, sizeof(pv->pv_proc.fp_vmid));
	return pv;
}

/* journal_unmet()'s: a VM whose record file a power cut lost. */
static void
pvm_load_lost(const char *id, void *arg)
{
	size_t		*n = arg;
	char		 dir[PATH_MAX];
	struct pvm	*pv;

	snprintf(dir, sizeof(dir), "%s/%s", env->bd_conf->cf_statedir,
	    PRIV_DIR);
	if ((pv = pvm_load(dir, id)) == NULL)
		return;
	pvm_insert(pv);
	(*n)++;
}

/*
 * A Firecracker of this VM that its record does not account for (its
 * root is the VM's jail, or its argv names the VM's id), and whatever
 * else runs in the jail: killed.
 */
static void
pvm_kill_unrecorded(struct fcscan *fs, struct pvm *pv)
{
	pid_t	 pid;

	while ((pid = fcscan_find(fs, pv->pv_id, 0)) > 0) {
		log_warnx("vm %s: firecracker pid %d runs though its record "
		    "(%s) does not account for it; killing it", pv->pv_id,
		    (int)pid, pvm_state_name(pv->pv_state));
		if (fcscan_kill(fs, pid) == -1)
			log_warn("vm %s: kill pid %d", pv->pv_id, (int)pid);
	}
}

/*
 * One record at start, driven to what its state allows (see the top of
 * vmops.c).  Returns 0 if the record stays, -1 if it went.
 */
static int
pvm_restore_one(struct fcscan *fs, struct pvm *pv)
{
	char	 why[PROTO_MSG_MAX];

	switch (pv->pv_state) {
	case VMOP_CREATING:
	case VMOP_DESTROYING:
		pvm_kill_unrecorded(fs, pv);
		log_info("vm %s: its %s was interrupted; %s it", pv->pv_id,
		    pv->pv_state == VMOP_CREATING ? "creation" : "removal",
		    pv->pv_state == VMOP_CREATING ? "undoing" : "finishing");
		if (pvm_teardown(pv, why, sizeof(why)) == -1) {
			log_warnx("vm %s: not all of it could be removed "
			    "(%s); its record stays for the next start",
			    pv->pv_id, why);
			return 0;
		}
		log_info("vm %s: removed (tap, disk, address and record)",
		    pv->pv_id);
		return -1;
	case VMOP_STARTING:
		/* Nothing of it was told to boot: its process goes. */
		pvm_kill_unrecorded(fs, pv);
		pvm_unjail(pv);
		pv->pv_proc.fp_pid = 0;
		pv->pv_proc.fp_starttime = 0;
		pvm_publish_set(pv, NULL, 0);
		pv->pv_ended = 0;
		log_info("vm %s: its start was interrupted; stopped", pv->pv_id);
		(void)pvm_set_state(pv, VMOP_CREATED);
		return 0;
	case VMOP_RUNNING:
		/*
		 * argv[0] is "firecracker" in our jail and "/firecracker"
		 * in the jailer's: this matches both.
		 */
		if (fc_adopt(JAILER_ARGV0, pv->pv_id, pv->pv_proc.fp_pid,
		    pv->pv_proc.fp_starttime, &pv->pv_proc.fp_pidfd) == 0) {
			/* Others in its jail are its own (a VMM's helpers). */
			event_set(&pv->pv_exit_ev, pv->pv_proc.fp_pidfd,
			    EV_READ, pvm_exit_cb, pv);
			event_add(&pv->pv_exit_ev, NULL);
			log_info("vm %s: re-adopted firecracker pid %d",
			    pv->pv_id, (int)pv->pv_proc.fp_pid);
			return 0;
		}
		log_info("vm %s: firecracker pid %d ended while bangerd was "
		    "not running", pv->pv_id, (int)pv->pv_proc.fp_pid);
		pvm_kill_unrecorded(fs, pv);
		pvm_stopped(pv, -1);
		return 0;
	default:
		pvm_kill_unrecorded(fs, pv);
		pvm_unjail(pv);
		return 0;
	}
}

/*
 * At start: read our records back and drive the host to them: adopt
 * each Firecracker that is still the process we started (same argv and
 * start time), finish or undo what a crash cut short, and note the VMs
 * whose Firecracker ended meanwhile.  After a re-exec, take back the
 * consoles the previous bangerd kept open.  Returns the scan of the
 * processes it made, for the sweep (vmop_sweep) to use and free: one
 * pass over /proc for both.
 */
struct fcscan *
vmop_restore(const char *consoles)
{
	const char	*sd = env->bd_conf->cf_statedir, *why;
	char		 dir[PATH_MAX];
	struct dirent	*de;
	struct fcscan	*fs;
	struct pvm	*pv, *tpv;
	DIR		*d;
	size_t		 n = 0;

	snprintf(dir, sizeof(dir), "%s/%s", sd, PRIV_DIR);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		fatal("mkdir %s", dir);
	if ((d = opendir(dir)) == NULL)
		fatal("%s", dir);
	while ((de = readdir(d)) != NULL) {
		if (valid_vm_id(de->d_name, strlen(de->d_name), &why) == -1)
			continue;
		if ((pv = pvm_load(dir, de->d_name)) == NULL)
			continue;
		pvm_insert(pv);
		n++;
	}
	closedir(d);
	journal_unmet(pvm_journal(), pvm_load_lost, &n);
	journal_forget(pvm_journal());
	fs = fcscan_new();
	TAILQ_FOREACH_SAFE(pv, &pvms, pv_entry, tpv) {
		if (pvm_restore_one(fs, pv) == -1)
			pvm_free(pv);
		else
			pvm_snaps_restore(pv);
	}
	consoles_adopt(consoles);
	log_info("%zu VM records read", n);
	/* Every record read from the journal synced in its file. */
	(void)pvm_checkpoint();
	return fs;
}

