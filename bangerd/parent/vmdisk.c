/*
 * A VM's root disk, the parent's side: the image it is made from, by
 * name (image_resolve), the disk made and removed (a device-mapper
 * snapshot over loop devices, or a reflink or sparse copy: storage.c),
 * given back to root, and checked by e2fsck -p as the VM's uid before
 * it boots.  The requests that call these are in vmops.c and vmstart.c.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"
#include "log.h"
#include "storage.h"
#include "validate.h"

#define IMAGES_DIR	"images"

_Static_assert(BANGER_BOOTARGS_MAX == PROTO_BOOTARGS_MAX,
    "configured and imported boot args travel in the same fields");

/*
 * STATE/images/NAME/boot-args: one line, the whole of it as
 * valid_bootargs() takes it, or the image cannot be used (EILSEQ, err
 * says why): cut short or passed on as it is, the guest would boot with
 * other arguments than the image's, or not at all.
 */
static int
image_bootargs_read(const char *name, const char *path, char *buf,
    size_t size, char *err, size_t errlen)
{
	FILE		*fp;
	char		*line = NULL;
	size_t		 cap = 0, len, off;
	ssize_t		 n;
	const char	*why;
	int		 extra;

	buf[0] = '\0';
	if ((fp = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "image %s: %s: %s", name, path,
		    strerror(errno));
		errno = EILSEQ;
		return -1;
	}
	n = getline(&line, &cap, fp);
	extra = n != -1 && fgetc(fp) != EOF;
	fclose(fp);
	if (n == -1) {
		free(line);
		return 0;
	}
	len = n;
	if (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	if (extra)
		snprintf(err, errlen, "image %s: %s: more than one line",
		    name, path);
	else if (len >= size)
		snprintf(err, errlen, "image %s: %s: %zu bytes, more than "
		    "the %zu boot args may have", name, path, len, size - 1);
	else if (valid_bootargs(line, len, &off, &why) == -1)
		snprintf(err, errlen, "image %s: %s: byte 0x%02x at offset "
		    "%zu is %s; Firecracker takes only 0x20 to 0x7e", name,
		    path, (unsigned char)line[off], off, why);
	else {
		memcpy(buf, line, len + 1);
		free(line);
		return 0;
	}
	free(line);
	errno = EILSEQ;
	return -1;
}

/*
 * An image by name: declared in the configuration, or imported into
 * STATE/images/NAME (vmlinux, rootfs.ext4, optional initrd, boot-args).
 * -1 with errno ENOENT if there is none; EILSEQ if its boot-args cannot
 * be used (its files are filled in, err says why).
 */
int
image_resolve(const char *name, struct image_files *img, char *err,
    size_t errlen)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct conf_image	*ci;
	char			 path[PATH_MAX];
	const char		*why;

	memset(img, 0, sizeof(*img));
	if (valid_name(name, strlen(name), &why) == -1) {
		snprintf(err, errlen, "image %s not found", name);
		errno = EINVAL;
		return -1;
	}
	TAILQ_FOREACH(ci, &conf->cf_images, img_entry) {
		if (strcmp(ci->img_name, name) != 0)
			continue;
		strlcpy(img->kernel, ci->img_kernel, sizeof(img->kernel));
		strlcpy(img->initrd, ci->img_initrd, sizeof(img->initrd));
		strlcpy(img->rootfs, ci->img_rootfs, sizeof(img->rootfs));
		strlcpy(img->bootargs, ci->img_bootargs,
		    sizeof(img->bootargs));
		return 0;
	}
	if (snprintf(path, sizeof(path), "%s/%s/%s", conf->cf_statedir,
	    IMAGES_DIR, name) >= (int)sizeof(path) ||
	    access(path, F_OK) == -1) {
		snprintf(err, errlen, "image %s not found", name);
		errno = ENOENT;
		return -1;
	}
	/* Message truncation is fine elsewhere; a truncated path is not. */
	if (snprintf(img->kernel, sizeof(img->kernel), "%s/vmlinux",
	    path) >= (int)sizeof(img->kernel) ||
	    snprintf(img->rootfs, sizeof(img->rootfs), "%s/rootfs.ext4",
	    path) >= (int)sizeof(img->rootfs) ||
	    snprintf(img->initrd, sizeof(img->initrd), "%s/initrd",
	    path) >= (int)sizeof(img->initrd) ||
	    strlcat(path, "/boot-args", sizeof(path)) >= sizeof(path)) {
		snprintf(err, errlen, "image %s: path too long", name);
		errno = ENAMETOOLONG;
		return -1;
	}
	if (access(img->initrd, F_OK) == -1)
		img->initrd[0] = '\0';
	return image_bootargs_read(name, path, img->bootargs,
	    sizeof(img->bootargs), err, errlen);
}

/*
 * The disk belongs to root while the VM is not running: e2fsck's child
 * and the jail give it to the VM's uid only for as long as they need.
 */
void
pvm_disk_reclaim(struct pvm *pv)
{
	if (pv->pv_disk != NULL && fchownat(AT_FDCWD, pv->pv_disk, 0, 0,
	    AT_SYMLINK_NOFOLLOW) == -1 && errno != ENOENT)
		log_warn("vm %s: chown %s", pv->pv_id, pv->pv_disk);
}

/* Undo whatever exists of the VM's disk; idempotent. */
int
pvm_disk_remove(struct pvm *pv)
{
	const char	*sd = env->bd_conf->cf_statedir;
	int		 rv = 0;

	if ((strcmp(pv->pv_backend, "dm") == 0 || storage_has_dm()) &&
	    snap_remove(pv->pv_id) == -1)
		rv = -1;
	if (pv->pv_loop_cow[0] != '\0') {
		if (loop_detach(pv->pv_loop_cow) == -1)
			rv = -1;
		else
			pv->pv_loop_cow[0] = '\0';
	}
	if (pv->pv_loop_origin[0] != '\0') {
		if (loop_detach(pv->pv_loop_origin) == -1)
			rv = -1;
		else
			pv->pv_loop_origin[0] = '\0';
	}
	/* Any the record does not name yet: found by their mark. */
	if (sweep_vm_loops(pv->pv_id, "its disk goes") == -1)
		rv = -1;
	if (disk_remove(sd, pv->pv_id) == -1)
		rv = -1;
	return rv;
}

int
pvm_disk_create(struct pvm *pv, const struct image_files *img, int srcfd,
    uint64_t size, int flags, char *msg, size_t msglen)
{
	const char	*sd = env->bd_conf->cf_statedir, *used = NULL;
	char		 mark[LOOP_MARK_MAX];
	struct stat	 st;
	int		 fd = srcfd, cowfd = -1, dm;

	/* srcfd: a clone's, the snapshot's disk (ours to close); else the image's */
	if (fd == -1 && (fd = open(img->rootfs, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(msg, msglen, "image %s: %s: %s", pv->pv_image,
		    img->rootfs, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(msg, msglen, "image %s: %s is not a regular file",
		    pv->pv_image, img->rootfs);
		close(fd);
		return -1;
	}
	if (flags & VC_F_DISK_AT_LEAST && size < (uint64_t)st.st_size)
		size = 0;
	if (size != 0 && size < (uint64_t)st.st_size) {
		snprintf(msg, msglen, "disk size %" PRIu64 " is smaller than "
		    "image %s (%lld bytes)", size, pv->pv_image,
		    (long long)st.st_size);
		close(fd);
		errno = EINVAL;
		return -1;
	}
	pv->pv_disk_size = size ? size : (uint64_t)st.st_size;
	dm = strcmp(env->bd_storage, "dm") == 0;

	if (dm) {
		strlcpy(pv->pv_backend, "dm", sizeof(pv->pv_backend));
		/*
		 * Each loop device carries the VM's mark from its first
		 * moment (the origin is backed by the image, outside
		 * STATE/disks); the record names it once attached.
		 */
		pvm_loop_mark(pv->pv_id, mark, sizeof(mark));
		if (pvm_save(pv) == -1 ||
		    loop_attach(fd, 1, mark, pv->pv_loop_origin,
		    sizeof(pv->pv_loop_origin)) == -1 ||
		    pvm_save(pv) == -1 ||
		    disk_cow_create(sd, pv->pv_id, pv->pv_disk_size,
		    &cowfd) == -1 ||
		    loop_attach(cowfd, 0, mark, pv->pv_loop_cow,
		    sizeof(pv->pv_loop_cow)) == -1 ||
		    pvm_save(pv) == -1 ||
		    snap_create(pv->pv_id, pv->pv_loop_origin, pv->pv_loop_cow,
		    pv->pv_disk_size) == -1) {
			snprintf(msg, msglen, "vm %s: device-mapper snapshot: "
			    "%s", pv->pv_id, strerror(errno));
			goto fail;
		}
		pvm_disk_setf(pv, "%s%s%s", DM_DIR, DM_PREFIX, pv->pv_id);
	} else {
		if (disk_create(sd, pv->pv_id, fd, env->bd_conf->cf_storage ==
		    STORAGE_REFLINK ? STORAGE_REFLINK :
		    strcmp(env->bd_storage, "copy") == 0 ? STORAGE_COPY :
		    STORAGE_AUTO, pv->pv_disk_size, 0, &used) == -1) {
			snprintf(msg, msglen, "vm %s: disk: %s", pv->pv_id,
			    strerror(errno));
			goto fail;
		}
		strlcpy(pv->pv_backend, used != NULL &&
		    strcmp(used, "existing") != 0 ? used : env->bd_storage,
		    sizeof(pv->pv_backend));
		pvm_disk_setf(pv, "%s/%s/%s%s", sd, DISKS_DIR, pv->pv_id,
		    DISK_SUFFIX);
	}
	if (cowfd != -1)
		close(cowfd);
	close(fd);
	return 0;
fail:
	if (cowfd != -1)
		close(cowfd);
	close(fd);
	pvm_disk_remove(pv);
	return -1;
}

/*
 * e2fsck -p on a VM's root disk, before it boots.  The parent opens the
 * disk and hands it to a child that runs e2fsck as the VM's own uid and
 * gid, with no privileges, so root never parses the guest's file system.
 * The child dies with the parent (PR_SET_PDEATHSIG), and is killed when
 * the vm worker that asked goes: nothing checks a disk no one waits for.
 */
#define E2FSCK		"/sbin/e2fsck"
#define FSCK_OUT_MAX	(PROTO_MSG_MAX - 64)

struct fsck_job {
	TAILQ_ENTRY(fsck_job) fj_entry;
	struct pvm	*fj_pv;
	struct worker	*fj_w;
	uint32_t	 fj_peerid;
	pid_t		 fj_pid;
	int		 fj_pidfd;
	int		 fj_outfd;
	int		 fj_cancelled;
	char		 fj_out[FSCK_OUT_MAX];
	size_t		 fj_outlen;
	struct event	 fj_ev;
};
static TAILQ_HEAD(, fsck_job) fsck_jobs = TAILQ_HEAD_INITIALIZER(fsck_jobs);

static void
fsck_done(int fd, short event, void *arg)
{
	struct fsck_job		*fj = arg;
	struct vmop_result	 vr;
	ssize_t			 n;
	int			 status = 0;

	/* Drain what it said, then reap it. */
	while (fj->fj_outlen < sizeof(fj->fj_out) - 1 &&
	    (n = read(fj->fj_outfd, fj->fj_out + fj->fj_outlen,
	    sizeof(fj->fj_out) - 1 - fj->fj_outlen)) > 0)
		fj->fj_outlen += n;
	fj->fj_out[fj->fj_outlen] = '\0';
	if (waitpid(fj->fj_pid, &status, 0) == -1)
		status = -1;
	TAILQ_REMOVE(&fsck_jobs, fj, fj_entry);
	close(fj->fj_pidfd);
	close(fj->fj_outfd);
	pvm_disk_reclaim(fj->fj_pv);
	fj->fj_pv->pv_busy = 0;
	if (fj->fj_cancelled) {
		log_info("vm %s: e2fsck -p stopped: no one waits for it",
		    fj->fj_pv->pv_id);
		free(fj);
		return;
	}

	pvm_result_init(fj->fj_pv, IMSG_VMOP_FSCK, &vr);
	/* e2fsck: 0 clean, 1 errors corrected; 4 and up are failures. */
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) >= 2) {
		vr.vr_error = EIO;
		snprintf(vr.vr_msg, sizeof(vr.vr_msg), "e2fsck -p failed "
		    "(%s %d): %s", WIFEXITED(status) ? "status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) :
		    WTERMSIG(status), fj->fj_out);
		log_warnx("vm %s: %s", fj->fj_pv->pv_id, vr.vr_msg);
	} else {
		snprintf(vr.vr_msg, sizeof(vr.vr_msg), "e2fsck -p: %s",
		    WEXITSTATUS(status) == 1 ? "errors corrected" : "clean");
		log_info("vm %s: %s", fj->fj_pv->pv_id, vr.vr_msg);
	}
	vmop_reply(fj->fj_w, fj->fj_peerid, &vr, -1);
	free(fj);
}

void
fsck_cancel_all(void)
{
	struct fsck_job	*fj;

	TAILQ_FOREACH(fj, &fsck_jobs, fj_entry) {
		fj->fj_cancelled = 1;
		if (pidfd_send_signal(fj->fj_pidfd, SIGKILL, NULL, 0) == -1 &&
		    errno != ESRCH)
			log_warn("vm %s: kill e2fsck", fj->fj_pv->pv_id);
	}
}

int
vmop_fsck(struct worker *w, uint32_t peerid, struct pvm *pv)
{
	struct fsck_job	*fj;
	char		 msg[PROTO_MSG_MAX];
	int		 disk, p[2];
	pid_t		 pid, ppid = getpid();
	gid_t		 gid = pv->pv_uid;

	if (disk_open(env->bd_conf->cf_statedir, pv->pv_id, &disk) == -1) {
		snprintf(msg, sizeof(msg), "disk: %s", strerror(errno));
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_FSCK, errno, msg);
		return 0;
	}
	/* e2fsck opens /dev/fd/3 again: the VM's uid must own the disk. */
	if (fchown(disk, pv->pv_uid, gid) == -1 ||
	    pipe2(p, O_CLOEXEC) == -1) {
		snprintf(msg, sizeof(msg), "disk: %s", strerror(errno));
		close(disk);
		pvm_disk_reclaim(pv);
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_FSCK, errno, msg);
		return 0;
	}
	switch (pid = fork()) {
	case -1:
		snprintf(msg, sizeof(msg), "fork: %s", strerror(errno));
		close(disk);
		close(p[0]);
		close(p[1]);
		pvm_disk_reclaim(pv);
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_FSCK, errno, msg);
		return 0;
	case 0:
		if (dup2(disk, 3) == -1 || dup2(p[1], 1) == -1 ||
		    dup2(p[1], 2) == -1)
			_exit(8);
		closefrom(4);
		if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
		    setresuid(pv->pv_uid, pv->pv_uid, pv->pv_uid) == -1 ||
		    /* Not to outlive us (we give its disk back to root);
		     * set after the uid changes, which clear it. */
		    prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != ppid ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
		    fsck_filter() == -1)
			_exit(8);
		execle(E2FSCK, "e2fsck", "-p", "/dev/fd/3", (char *)NULL,
		    (char *[]){ "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL });
		_exit(8);
	}
	close(disk);
	close(p[1]);
	if ((fj = calloc(1, sizeof(*fj))) == NULL)
		fatal(NULL);
	fj->fj_pv = pv;
	fj->fj_w = w;
	fj->fj_peerid = peerid;
	fj->fj_pid = pid;
	fj->fj_outfd = p[0];
	if ((fj->fj_pidfd = pidfd_open(pid, 0)) == -1)
		fatal("pidfd_open");
	pv->pv_busy = 1;
	TAILQ_INSERT_TAIL(&fsck_jobs, fj, fj_entry);
	event_set(&fj->fj_ev, fj->fj_pidfd, EV_READ, fsck_done, fj);
	event_add(&fj->fj_ev, NULL);
	return 0;
}
