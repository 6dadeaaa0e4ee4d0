/*
 * The parent's side of each VM: its own record of what it made for the
 * VM (uid, tap, disk, loop devices, Firecracker process), and the root
 * operations the vm worker may ask for, each legal only in certain
 * states.  The worker names a VM by its id and an image by its name;
 * every device, path, interface and process comes from this record and
 * the configuration, and each is validated again by the module that
 * acts on it.
 *
 * Records live in STATE/priv (root, 0700), one file per VM, written
 * atomically; the parent reads only files it wrote itself.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bangerd.h"
#include "jail.h"
#include "log.h"
#include "netops.h"
#include "storage.h"
#include "validate.h"

#define PRIV_DIR	"priv"
#define IMAGES_DIR	"images"

static struct pvms	 pvms = TAILQ_HEAD_INITIALIZER(pvms);

static void	 pvm_exit_cb(int, short, void *);
static int	 pvm_save(struct pvm *);

struct pvm *
pvm_find(const char *id)
{
	struct pvm	*pv;

	TAILQ_FOREACH(pv, &pvms, pv_entry)
		if (strcmp(pv->pv_id, id) == 0)
			return pv;
	return NULL;
}

struct pvms *
pvm_list(void)
{
	return &pvms;
}

/*
 * An image by name: declared in the configuration, or imported into
 * STATE/images/NAME (vmlinux, rootfs.ext4, optional initrd, boot-args).
 */
int
image_resolve(const char *name, struct image_files *img)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct conf_image	*ci;
	char			 path[PATH_MAX];
	FILE			*fp;
	const char		*why;

	memset(img, 0, sizeof(*img));
	if (valid_name(name, strlen(name), &why) == -1) {
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
		errno = ENAMETOOLONG;
		return -1;
	}
	if (access(img->initrd, F_OK) == -1)
		img->initrd[0] = '\0';
	if ((fp = fopen(path, "re")) != NULL) {
		if (fgets(img->bootargs, sizeof(img->bootargs), fp) != NULL)
			img->bootargs[strcspn(img->bootargs, "\n")] = '\0';
		fclose(fp);
	}
	return 0;
}

/* The lowest uid of the configured range that no VM holds. */
static int
pvm_uid_alloc(uid_t *uidp)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct pvm		*pv;
	uid_t			 uid;
	int			 used;

	for (uid = conf->cf_vm_uid_min; uid <= conf->cf_vm_uid_max; uid++) {
		used = 0;
		TAILQ_FOREACH(pv, &pvms, pv_entry)
			if (pv->pv_uid == uid)
				used = 1;
		if (!used) {
			*uidp = uid;
			return 0;
		}
		if (uid == conf->cf_vm_uid_max)
			break;
	}
	errno = ENOSPC;
	return -1;
}

static int
priv_path(const char *id, const char *suffix, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s/%s/%s%s", env->bd_conf->cf_statedir,
	    PRIV_DIR, id, suffix) >= (int)len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* temp file, fsync, rename, fsync of the directory */
static int
pvm_save(struct pvm *pv)
{
	char	 path[PATH_MAX], tmp[PATH_MAX], dir[PATH_MAX];
	FILE	*fp;
	size_t	 i;
	int	 fd, dfd, saved;

	if (priv_path(pv->pv_id, "", path, sizeof(path)) == -1 ||
	    priv_path(pv->pv_id, ".tmp", tmp, sizeof(tmp)) == -1)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		log_warn("vm %s: %s", pv->pv_id, tmp);
		return -1;
	}
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	fprintf(fp, "id %s\nimage %s\nowner %u\nuid %u\nstate %d\n"
	    "tap %s\nbackend %s\ndisk %s\ndisk_size %" PRIu64 "\n"
	    "loop_origin %s\nloop_cow %s\npid %d\nstarttime %llu\n"
	    "addr %u\n",
	    pv->pv_id, pv->pv_image, (unsigned)pv->pv_owner,
	    (unsigned)pv->pv_uid, pv->pv_state, pv->pv_tap, pv->pv_backend,
	    pv->pv_disk, pv->pv_disk_size, pv->pv_loop_origin,
	    pv->pv_loop_cow, (int)pv->pv_proc.fp_pid,
	    pv->pv_proc.fp_starttime, (unsigned)pv->pv_addr.s_addr);
	for (i = 0; i < pv->pv_npublish; i++)
		fprintf(fp, "publish %u %u %u %u\n",
		    pv->pv_publish[i].pp_proto,
		    (unsigned)pv->pv_publish[i].pp_host_addr,
		    pv->pv_publish[i].pp_host_port,
		    pv->pv_publish[i].pp_guest_port);
	if (fflush(fp) == EOF || fsync(fd) == -1) {
		saved = errno;
		fclose(fp);
		unlink(tmp);
		errno = saved;
		log_warn("vm %s: write %s", pv->pv_id, tmp);
		return -1;
	}
	fclose(fp);
	if (rename(tmp, path) == -1) {
		log_warn("vm %s: rename %s", pv->pv_id, tmp);
		unlink(tmp);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/%s", env->bd_conf->cf_statedir,
	    PRIV_DIR);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/*
 * The disk belongs to root while the VM is not running: e2fsck's child
 * and the jail give it to the VM's uid only for as long as they need.
 */
static void
pvm_disk_reclaim(struct pvm *pv)
{
	if (pv->pv_disk[0] != '\0' && fchownat(AT_FDCWD, pv->pv_disk, 0, 0,
	    AT_SYMLINK_NOFOLLOW) == -1 && errno != ENOENT)
		log_warn("vm %s: chown %s", pv->pv_id, pv->pv_disk);
}

static void
pvm_unsave(struct pvm *pv)
{
	char	 path[PATH_MAX];

	if (priv_path(pv->pv_id, "", path, sizeof(path)) == 0 &&
	    unlink(path) == -1 && errno != ENOENT)
		log_warn("vm %s: unlink %s", pv->pv_id, path);
}

/* Undo whatever exists of the VM's disk; idempotent. */
static int
pvm_disk_remove(struct pvm *pv)
{
	const char	*sd = env->bd_conf->cf_statedir;
	int		 rv = 0;

	if (strcmp(pv->pv_backend, "dm") == 0 && snap_remove(pv->pv_id) == -1)
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
	if (disk_remove(sd, pv->pv_id) == -1)
		rv = -1;
	return rv;
}

static int
pvm_disk_create(struct pvm *pv, const struct image_files *img,
    uint64_t size, int flags, char *msg, size_t msglen)
{
	const char	*sd = env->bd_conf->cf_statedir, *used = NULL;
	struct stat	 st;
	int		 fd, cowfd = -1, dm;

	if ((fd = open(img->rootfs, O_RDONLY | O_CLOEXEC)) == -1) {
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
		/* The record names each loop device once it is attached. */
		if (loop_attach(fd, 1, pv->pv_loop_origin,
		    sizeof(pv->pv_loop_origin)) == -1 ||
		    pvm_save(pv) == -1 ||
		    disk_cow_create(sd, pv->pv_id, pv->pv_disk_size,
		    &cowfd) == -1 ||
		    loop_attach(cowfd, 0, pv->pv_loop_cow,
		    sizeof(pv->pv_loop_cow)) == -1 ||
		    pvm_save(pv) == -1 ||
		    snap_create(pv->pv_id, pv->pv_loop_origin, pv->pv_loop_cow,
		    pv->pv_disk_size) == -1) {
			snprintf(msg, msglen, "vm %s: device-mapper snapshot: "
			    "%s", pv->pv_id, strerror(errno));
			goto fail;
		}
		snprintf(pv->pv_disk, sizeof(pv->pv_disk), "%s%s%s",
		    DM_DIR, DM_PREFIX, pv->pv_id);
	} else {
		if (disk_create(sd, pv->pv_id, fd, env->bd_conf->cf_storage ==
		    STORAGE_REFLINK ? STORAGE_REFLINK :
		    strcmp(env->bd_storage, "copy") == 0 ? STORAGE_COPY :
		    STORAGE_AUTO, pv->pv_disk_size, &used) == -1) {
			snprintf(msg, msglen, "vm %s: disk: %s", pv->pv_id,
			    strerror(errno));
			goto fail;
		}
		strlcpy(pv->pv_backend, used != NULL &&
		    strcmp(used, "existing") != 0 ? used : env->bd_storage,
		    sizeof(pv->pv_backend));
		snprintf(pv->pv_disk, sizeof(pv->pv_disk), "%s/%s/%s%s", sd,
		    DISKS_DIR, pv->pv_id, DISK_SUFFIX);
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

static void
pvm_result_init(struct pvm *pv, uint32_t op, struct vmop_result *vr)
{
	memset(vr, 0, sizeof(*vr));
	strlcpy(vr->vr_id, pv->pv_id, sizeof(vr->vr_id));
	vr->vr_op = op;
	vr->vr_state = pv->pv_state;
	vr->vr_pid = pv->pv_proc.fp_pid;
	vr->vr_uid = pv->pv_uid;
	strlcpy(vr->vr_tap, pv->pv_tap, sizeof(vr->vr_tap));
	strlcpy(vr->vr_image, pv->pv_image, sizeof(vr->vr_image));
	strlcpy(vr->vr_backend, pv->pv_backend, sizeof(vr->vr_backend));
	vr->vr_disk_size = pv->pv_disk_size;
	snprintf(vr->vr_socket, sizeof(vr->vr_socket), "/%s/%s/%s/%s%s",
	    JAIL_DIR, JAIL_EXEC_NAME, pv->pv_id, JAIL_ROOT, JAIL_API_SOCK);
	snprintf(vr->vr_kernel, sizeof(vr->vr_kernel), "/%s", JAIL_KERNEL);
	snprintf(vr->vr_disk, sizeof(vr->vr_disk), "/%s", JAIL_DISK);
}

static void
vmop_reply(struct worker *w, uint32_t peerid, struct vmop_result *vr,
    int fd)
{
	imsg_compose_event(w->w_iev, IMSG_VMOP_RESULT, peerid, 0, fd, vr,
	    sizeof(*vr));
}

static void
vmop_error(struct worker *w, uint32_t peerid, const char *id, uint32_t op,
    int error, const char *msg)
{
	struct vmop_result	 vr;

	memset(&vr, 0, sizeof(vr));
	strlcpy(vr.vr_id, id, sizeof(vr.vr_id));
	vr.vr_op = op;
	vr.vr_error = error ? error : EIO;
	strlcpy(vr.vr_msg, msg, sizeof(vr.vr_msg));
	log_warnx("vm %s: %s", id, msg);
	vmop_reply(w, peerid, &vr, -1);
}

int
vmop_create(struct worker *w, uint32_t peerid, const struct vmop_create *vc)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct image_files	 img;
	struct vmop_result	 vr;
	struct pvm		*pv;
	char			 msg[PROTO_MSG_MAX], dir[PATH_MAX];
	int			 saved_errno;

	if (image_resolve(vc->vc_image, &img) == -1) {
		snprintf(msg, sizeof(msg), "image %s not found", vc->vc_image);
		vmop_error(w, peerid, vc->vc_id, IMSG_VMOP_CREATE, ENOENT, msg);
		return 0;
	}
	if ((pv = calloc(1, sizeof(*pv))) == NULL)
		fatal(NULL);
	strlcpy(pv->pv_id, vc->vc_id, sizeof(pv->pv_id));
	strlcpy(pv->pv_image, vc->vc_image, sizeof(pv->pv_image));
	pv->pv_owner = vc->vc_owner;
	pv->pv_proc.fp_pidfd = -1;
	pv->pv_proc.fp_ptyfd = -1;
	if (pvm_uid_alloc(&pv->pv_uid) == -1) {
		snprintf(msg, sizeof(msg), "no free uid in vm-uids %u to %u",
		    conf->cf_vm_uid_min, conf->cf_vm_uid_max);
		goto fail;
	}
	snprintf(pv->pv_tap, sizeof(pv->pv_tap), "%s%s", TAP_PREFIX,
	    pv->pv_id);

	snprintf(dir, sizeof(dir), "%s/%s", conf->cf_statedir, PRIV_DIR);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(msg, sizeof(msg), "%s: %s", dir, strerror(errno));
		goto fail;
	}
	/*
	 * The record first, "creating": whatever a crash leaves of the
	 * disk and tap is then named by a record, which vmop_restore()
	 * undoes (pvm_create_undo).
	 */
	pv->pv_state = VMOP_CREATING;
	if (pvm_save(pv) == -1) {
		snprintf(msg, sizeof(msg), "cannot write its record");
		goto fail;
	}
	if (pvm_disk_create(pv, &img, vc->vc_disk_size, vc->vc_flags, msg,
	    sizeof(msg)) == -1)
		goto fail_record;
	if (net_tap_create(pv->pv_tap, conf->cf_bridge, pv->pv_uid,
	    pv->pv_uid) == -1) {
		snprintf(msg, sizeof(msg), "tap %s on %s: %s", pv->pv_tap,
		    conf->cf_bridge, strerror(errno));
		pvm_disk_remove(pv);
		goto fail_record;
	}
	pv->pv_state = VMOP_CREATED;
	if (pvm_save(pv) == -1) {
		snprintf(msg, sizeof(msg), "cannot write its record");
		net_tap_delete(pv->pv_tap);
		pvm_disk_remove(pv);
		goto fail_record;
	}
	TAILQ_INSERT_TAIL(&pvms, pv, pv_entry);
	log_info("vm %s: created for uid %u from image %s: uid %u, tap %s, "
	    "%s disk %s", pv->pv_id, (unsigned)pv->pv_owner, pv->pv_image,
	    (unsigned)pv->pv_uid, pv->pv_tap, pv->pv_backend, pv->pv_disk);
	pvm_result_init(pv, IMSG_VMOP_CREATE, &vr);
	strlcpy(vr.vr_bootargs, img.bootargs, sizeof(vr.vr_bootargs));
	if (img.initrd[0] != '\0')
		snprintf(vr.vr_initrd, sizeof(vr.vr_initrd), "/%s",
		    JAIL_INITRD);
	vmop_reply(w, peerid, &vr, -1);
	return 0;
fail_record:
	saved_errno = errno;
	pvm_unsave(pv);
	errno = saved_errno;
fail:
	vmop_error(w, peerid, vc->vc_id, IMSG_VMOP_CREATE, errno, msg);
	free(pv);
	return 0;
}

int
vmop_start(struct worker *w, uint32_t peerid, struct pvm *pv,
    const struct vmop_start *vs)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct image_files	 img;
	struct jail_spec	 js;
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];
	int			 exefd = -1, ptyfd;

	if (image_resolve(pv->pv_image, &img) == -1) {
		snprintf(msg, sizeof(msg), "image %s not found", pv->pv_image);
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_START, ENOENT, msg);
		return 0;
	}
	memset(&js, 0, sizeof(js));
	strlcpy(js.js_statedir, conf->cf_statedir, sizeof(js.js_statedir));
	strlcpy(js.js_vmid, pv->pv_id, sizeof(js.js_vmid));
	js.js_uid = js.js_gid = pv->pv_uid;
	js.js_uid_min = conf->cf_vm_uid_min;
	js.js_uid_max = conf->cf_vm_uid_max;
	strlcpy(js.js_kernel, img.kernel, sizeof(js.js_kernel));
	strlcpy(js.js_initrd, img.initrd, sizeof(js.js_initrd));
	strlcpy(js.js_disk, pv->pv_disk, sizeof(js.js_disk));
	strlcpy(js.js_jailer, conf->cf_jailer, sizeof(js.js_jailer));
	strlcpy(js.js_firecracker, conf->cf_firecracker,
	    sizeof(js.js_firecracker));
	if (env->bd_cgroup.ct_mode != CGT_NONE) {
		strlcpy(js.js_cgroot, env->bd_cgroup.ct_mount,
		    sizeof(js.js_cgroot));
		strlcpy(js.js_cgparent, env->bd_cgroup.ct_parent,
		    sizeof(js.js_cgparent));
	}
	js.js_cpus = vs->vs_cpus;
	js.js_memory = vs->vs_memory;
	js.js_flags = JAIL_F_CGROUP_PARTIAL;

	if (fc_exec_check(conf->cf_jailer[0] ? conf->cf_jailer :
	    conf->cf_firecracker, &exefd) == -1) {
		snprintf(msg, sizeof(msg), "%s cannot be trusted to run: %s",
		    conf->cf_jailer[0] ? conf->cf_jailer :
		    conf->cf_firecracker, strerror(errno));
		goto fail;
	}
	if (jail_prepare(&js) == -1 || jail_fifos(conf->cf_statedir,
	    pv->pv_id, pv->pv_uid, env->bd_gid) == -1) {
		snprintf(msg, sizeof(msg), "jail: %s", strerror(errno));
		jail_cleanup(conf->cf_statedir, pv->pv_id);
		goto fail;
	}
	if (fc_spawn(&js, exefd, &pv->pv_proc) == -1) {
		snprintf(msg, sizeof(msg), "firecracker: %s", strerror(errno));
		jail_cleanup(conf->cf_statedir, pv->pv_id);
		goto fail;
	}
	close(exefd);
	exefd = -1;
	pv->pv_state = VMOP_RUNNING;
	pv->pv_addr.s_addr = vs->vs_addr;
	pv->pv_npublish = vs->vs_npublish;
	memcpy(pv->pv_publish, vs->vs_publish, sizeof(pv->pv_publish));
	(void)pvm_save(pv);
	if (pv->pv_npublish > 0 && priv_nat_rebuild(msg, sizeof(msg)) == -1)
		log_warnx("vm %s: published ports: %s", pv->pv_id, msg);
	event_set(&pv->pv_exit_ev, pv->pv_proc.fp_pidfd, EV_READ,
	    pvm_exit_cb, pv);
	event_add(&pv->pv_exit_ev, NULL);
	log_info("vm %s: firecracker started, pid %d, uid %u", pv->pv_id,
	    (int)pv->pv_proc.fp_pid, (unsigned)pv->pv_uid);

	pvm_result_init(pv, IMSG_VMOP_START, &vr);
	strlcpy(vr.vr_bootargs, img.bootargs, sizeof(vr.vr_bootargs));
	if (img.initrd[0] != '\0')
		snprintf(vr.vr_initrd, sizeof(vr.vr_initrd), "/%s",
		    JAIL_INITRD);
	/*
	 * The console's master goes to the vm worker, which alone reads
	 * it (root never parses guest output).  We keep a copy only so a
	 * restarted vm worker can have it again (vmop_announce): the
	 * console outlives the worker, and the pty is closed with the VM.
	 */
	ptyfd = -1;
	if (pv->pv_proc.fp_ptyfd != -1 && (ptyfd = fcntl(pv->pv_proc.fp_ptyfd,
	    F_DUPFD_CLOEXEC, 0)) == -1)
		log_warn("vm %s: console", pv->pv_id);
	vmop_reply(w, peerid, &vr, ptyfd);
	return 0;
fail:
	if (exefd != -1)
		close(exefd);
	vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_START, errno, msg);
	return 0;
}

/* Firecracker ended: reap it, clean its jail, tell the vm worker. */
static void
pvm_exit_cb(int fd, short event, void *arg)
{
	struct pvm		*pv = arg;
	struct vmop_exited	 ve;
	struct worker		*w = &env->bd_workers[PROC_VM];
	int			 status = -1;

	if (fc_wait(&pv->pv_proc, 0, &status) == -1 && errno == ETIMEDOUT) {
		event_add(&pv->pv_exit_ev, NULL);
		return;
	}
	log_info("vm %s: firecracker (pid %d) ended, status %d", pv->pv_id,
	    (int)pv->pv_proc.fp_pid, status);
	pvm_stopped(pv);
	memset(&ve, 0, sizeof(ve));
	strlcpy(ve.ve_id, pv->pv_id, sizeof(ve.ve_id));
	ve.ve_status = status;
	if (w->w_iev != NULL && w->w_state == WORKER_RUNNING)
		imsg_compose_event(w->w_iev, IMSG_VMOP_EXITED, 0, 0, -1, &ve,
		    sizeof(ve));
}

/* The process is gone: its jail and cgroup go too. */
void
pvm_stopped(struct pvm *pv)
{
	const char	*sd = env->bd_conf->cf_statedir;

	if (event_initialized(&pv->pv_exit_ev))
		event_del(&pv->pv_exit_ev);
	fc_close(&pv->pv_proc);
	pv->pv_proc.fp_pid = 0;
	pv->pv_proc.fp_starttime = 0;
	if (jail_cleanup(sd, pv->pv_id) == -1)
		log_warn("vm %s: jail cleanup", pv->pv_id);
	if (env->bd_cgroup.ct_mode != CGT_NONE &&
	    fc_cgroup_remove(env->bd_cgroup.ct_mount, env->bd_cgroup.ct_parent,
	    pv->pv_id) == -1)
		log_debug("vm %s: cgroup removal: %s", pv->pv_id,
		    strerror(errno));
	pvm_disk_reclaim(pv);
	pv->pv_state = VMOP_CREATED;
	(void)pvm_save(pv);
	if (pv->pv_npublish > 0) {
		char	 msg[PROTO_MSG_MAX];

		pv->pv_npublish = 0;
		if (priv_nat_rebuild(msg, sizeof(msg)) == -1)
			log_warnx("vm %s: published ports: %s", pv->pv_id,
			    msg);
	}
}

int
vmop_socket(struct worker *w, uint32_t peerid, struct pvm *pv)
{
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];

	if (fc_socket_grant(env->bd_conf->cf_statedir, pv->pv_id,
	    env->bd_gid) == -1) {
		/* Not there yet is normal just after start: the worker retries. */
		if (errno != ENOENT) {
			snprintf(msg, sizeof(msg), "api socket: %s",
			    strerror(errno));
			vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SOCKET,
			    errno, msg);
			return 0;
		}
		memset(&vr, 0, sizeof(vr));
		strlcpy(vr.vr_id, pv->pv_id, sizeof(vr.vr_id));
		vr.vr_op = IMSG_VMOP_SOCKET;
		vr.vr_error = ENOENT;
		strlcpy(vr.vr_msg, "api socket not there yet",
		    sizeof(vr.vr_msg));
		vmop_reply(w, peerid, &vr, -1);
		return 0;
	}
	pvm_result_init(pv, IMSG_VMOP_SOCKET, &vr);
	vmop_reply(w, peerid, &vr, -1);
	return 0;
}

int
vmop_signal(struct worker *w, uint32_t peerid, struct pvm *pv, int sig)
{
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];

	/* A VM that already stopped needs no signal (the exit may race). */
	if (pv->pv_state == VMOP_RUNNING &&
	    fc_signal(&pv->pv_proc, sig) == -1) {
		snprintf(msg, sizeof(msg), "signal %d: %s", sig,
		    strerror(errno));
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SIGNAL, errno, msg);
		return 0;
	}
	log_info("vm %s: signal %d", pv->pv_id, sig);
	pvm_result_init(pv, IMSG_VMOP_SIGNAL, &vr);
	vmop_reply(w, peerid, &vr, -1);
	return 0;
}

int
vmop_disk(struct worker *w, uint32_t peerid, struct pvm *pv)
{
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];
	int			 fd;

	if (disk_open(env->bd_conf->cf_statedir, pv->pv_id, &fd) == -1) {
		snprintf(msg, sizeof(msg), "disk: %s", strerror(errno));
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_DISK, errno, msg);
		return 0;
	}
	pvm_result_init(pv, IMSG_VMOP_DISK, &vr);
	vmop_reply(w, peerid, &vr, fd);
	return 0;
}

int
vmop_destroy(struct worker *w, uint32_t peerid, struct pvm *pv)
{
	const char		*sd = env->bd_conf->cf_statedir;
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];

	if (net_tap_delete(pv->pv_tap) == -1) {
		snprintf(msg, sizeof(msg), "tap %s: %s", pv->pv_tap,
		    strerror(errno));
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_DESTROY, errno, msg);
		return 0;
	}
	if (jail_cleanup(sd, pv->pv_id) == -1 || pvm_disk_remove(pv) == -1) {
		snprintf(msg, sizeof(msg), "cleanup: %s", strerror(errno));
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_DESTROY, errno, msg);
		return 0;
	}
	pvm_unsave(pv);
	log_info("vm %s: destroyed", pv->pv_id);
	pvm_result_init(pv, IMSG_VMOP_DESTROY, &vr);
	vr.vr_state = 0;
	TAILQ_REMOVE(&pvms, pv, pv_entry);
	free(pv);
	vmop_reply(w, peerid, &vr, -1);
	return 0;
}

/* Tell a (re)started vm worker about every VM the parent holds. */
void
vmop_announce(struct worker *w)
{
	struct vmop_result	 vr;
	struct pvm		*pv;
	int			 fd;

	TAILQ_FOREACH(pv, &pvms, pv_entry) {
		pvm_result_init(pv, IMSG_VMOP_KNOWN, &vr);
		/* A running VM's console, again (see vmop_start). */
		fd = -1;
		if (pv->pv_state == VMOP_RUNNING && pv->pv_proc.fp_ptyfd != -1 &&
		    (fd = fcntl(pv->pv_proc.fp_ptyfd, F_DUPFD_CLOEXEC, 0)) == -1)
			log_warn("vm %s: console", pv->pv_id);
		if (imsg_compose_event(w->w_iev, IMSG_VMOP_KNOWN, 0, 0, fd, &vr,
		    sizeof(vr)) == -1 && fd != -1)
			close(fd);
	}
	imsg_compose_event(w->w_iev, IMSG_VMOP_KNOWN_END, 0, 0, -1, NULL, 0);
}

/* The VM defaults from the configuration, for the vm worker. */
void
vm_defaults_send(struct worker *w)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct vm_defaults	 vd;

	if (w->w_iev == NULL || w->w_state != WORKER_RUNNING)
		return;
	memset(&vd, 0, sizeof(vd));
	vd.vd_cpus = conf->cf_def_cpus;
	vd.vd_memory = conf->cf_def_memory;
	vd.vd_disk = conf->cf_def_disk;
	imsg_compose_event(w->w_iev, IMSG_VM_DEFAULTS, 0, 0, -1, &vd,
	    sizeof(vd));
}

static int
record_field(FILE *fp, struct pvm *pv)
{
	char		 line[PATH_MAX + 64], *val;
	unsigned long	 ul;

	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((val = strchr(line, ' ')) == NULL)
			return -1;
		*val++ = '\0';
		if (strcmp(line, "id") == 0)
			strlcpy(pv->pv_id, val, sizeof(pv->pv_id));
		else if (strcmp(line, "image") == 0)
			strlcpy(pv->pv_image, val, sizeof(pv->pv_image));
		else if (strcmp(line, "owner") == 0)
			pv->pv_owner = strtoul(val, NULL, 10);
		else if (strcmp(line, "uid") == 0) {
			ul = strtoul(val, NULL, 10);
			pv->pv_uid = ul;
		} else if (strcmp(line, "state") == 0)
			pv->pv_state = atoi(val);
		else if (strcmp(line, "tap") == 0)
			strlcpy(pv->pv_tap, val, sizeof(pv->pv_tap));
		else if (strcmp(line, "backend") == 0)
			strlcpy(pv->pv_backend, val, sizeof(pv->pv_backend));
		else if (strcmp(line, "disk") == 0)
			strlcpy(pv->pv_disk, val, sizeof(pv->pv_disk));
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
		else if (strcmp(line, "publish") == 0 &&
		    pv->pv_npublish < PROTO_PUBLISH_MAX) {
			struct proto_publish	*pp =
			    &pv->pv_publish[pv->pv_npublish];
			unsigned		 pr, ha, hp, gp;

			if (sscanf(val, "%u %u %u %u", &pr, &ha, &hp,
			    &gp) != 4)
				return -1;
			pp->pp_proto = pr;
			pp->pp_host_addr = ha;
			pp->pp_host_port = hp;
			pp->pp_guest_port = gp;
			pv->pv_npublish++;
		}
	}
	return 0;
}

/*
 * A record still "creating" at start: the parent stopped while it made
 * the VM's disk or tap.  The vm worker's request died with it and the
 * disk holds no guest files yet, so the VM cannot be finished: what the
 * record names goes, with any loop device on the VM's files it may not
 * name yet, then the record.  If something will not go, the record
 * stays, for the next start to try again (and the sweep leaves the id).
 */
static void
pvm_create_undo(struct pvm *pv)
{
	char	 tap[IFNAMSIZ];
	int	 rv = 0;

	log_info("vm %s: its creation was interrupted; undoing it", pv->pv_id);
	snprintf(tap, sizeof(tap), "%s%s", TAP_PREFIX, pv->pv_id);
	/* EPERM: not banger's mark, so never this VM's (create refuses it). */
	if (net_tap_delete(tap) == -1 && errno != EPERM)
		rv = -1;
	if (pvm_disk_remove(pv) == -1)
		rv = -1;
	if (sweep_vm_loops(pv->pv_id, "its creation was interrupted") == -1)
		rv = -1;
	if (rv == -1) {
		log_warnx("vm %s: interrupted creation not fully undone; its "
		    "record stays for the next start", pv->pv_id);
		return;
	}
	pvm_unsave(pv);
	log_info("vm %s: interrupted creation undone: tap %s, disk and "
	    "record removed", pv->pv_id, tap);
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

/*
 * At start: read our records back, re-adopt each Firecracker that is
 * still the process we started (same argv and start time), and clean up
 * after those that are gone.  After a re-exec, take back the consoles
 * the previous bangerd kept open.
 */
void
vmop_restore(const char *consoles)
{
	const char	*sd = env->bd_conf->cf_statedir, *why;
	char		 dir[PATH_MAX], path[PATH_MAX * 2];
	struct dirent	*de;
	struct pvm	*pv;
	DIR		*d;
	FILE		*fp;

	snprintf(dir, sizeof(dir), "%s/%s", sd, PRIV_DIR);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		fatal("mkdir %s", dir);
	if ((d = opendir(dir)) == NULL)
		fatal("%s", dir);
	while ((de = readdir(d)) != NULL) {
		if (valid_vm_id(de->d_name, strlen(de->d_name), &why) == -1)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((fp = fopen(path, "re")) == NULL)
			continue;
		if ((pv = calloc(1, sizeof(*pv))) == NULL)
			fatal(NULL);
		pv->pv_proc.fp_pidfd = -1;
		pv->pv_proc.fp_ptyfd = -1;
		if (record_field(fp, pv) == -1 ||
		    strcmp(pv->pv_id, de->d_name) != 0) {
			log_warnx("vm %s: unreadable record %s, ignored",
			    de->d_name, path);
			fclose(fp);
			free(pv);
			continue;
		}
		fclose(fp);
		strlcpy(pv->pv_proc.fp_vmid, pv->pv_id,
		    sizeof(pv->pv_proc.fp_vmid));
		if (pv->pv_state == VMOP_CREATING) {
			pvm_create_undo(pv);
			free(pv);
			continue;
		}
		if (pv->pv_state == VMOP_RUNNING) {
			/*
			 * argv[0] is "firecracker" in our jail and
			 * "/firecracker" in the jailer's: this matches both.
			 */
			if (fc_adopt(JAILER_ARGV0, pv->pv_id,
			    pv->pv_proc.fp_pid, pv->pv_proc.fp_starttime,
			    &pv->pv_proc.fp_pidfd) == 0) {
				event_set(&pv->pv_exit_ev,
				    pv->pv_proc.fp_pidfd, EV_READ,
				    pvm_exit_cb, pv);
				event_add(&pv->pv_exit_ev, NULL);
				log_info("vm %s: re-adopted firecracker pid %d",
				    pv->pv_id, (int)pv->pv_proc.fp_pid);
			} else {
				log_info("vm %s: firecracker pid %d is gone",
				    pv->pv_id, (int)pv->pv_proc.fp_pid);
				pvm_stopped(pv);
			}
		}
		TAILQ_INSERT_TAIL(&pvms, pv, pv_entry);
	}
	closedir(d);
	consoles_adopt(consoles);
}

/*
 * e2fsck -p on a VM's root disk, before it boots.  The parent opens the
 * disk and hands it to a child that runs e2fsck as the VM's own uid and
 * gid, with no privileges, so root never parses the guest's file system.
 */
#define E2FSCK		"/sbin/e2fsck"
#define FSCK_OUT_MAX	(PROTO_MSG_MAX - 64)

struct fsck_job {
	struct pvm	*fj_pv;
	struct worker	*fj_w;
	uint32_t	 fj_peerid;
	pid_t		 fj_pid;
	int		 fj_pidfd;
	int		 fj_outfd;
	char		 fj_out[FSCK_OUT_MAX];
	size_t		 fj_outlen;
	struct event	 fj_ev;
};

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
	close(fj->fj_pidfd);
	close(fj->fj_outfd);
	pvm_disk_reclaim(fj->fj_pv);

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
	fj->fj_pv->pv_busy = 0;
	if (fj->fj_w->w_iev != NULL)
		vmop_reply(fj->fj_w, fj->fj_peerid, &vr, -1);
	free(fj);
}

int
vmop_fsck(struct worker *w, uint32_t peerid, struct pvm *pv)
{
	struct fsck_job	*fj;
	char		 msg[PROTO_MSG_MAX];
	int		 disk, p[2];
	pid_t		 pid;
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
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_FSCK, errno, msg);
		return 0;
	}
	switch (pid = fork()) {
	case -1:
		snprintf(msg, sizeof(msg), "fork: %s", strerror(errno));
		close(disk);
		close(p[0]);
		close(p[1]);
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_FSCK, errno, msg);
		return 0;
	case 0:
		if (dup2(disk, 3) == -1 || dup2(p[1], 1) == -1 ||
		    dup2(p[1], 2) == -1)
			_exit(8);
		closefrom(4);
		if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
		    setresuid(pv->pv_uid, pv->pv_uid, pv->pv_uid) == -1 ||
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
	event_set(&fj->fj_ev, fj->fj_pidfd, EV_READ, fsck_done, fj);
	event_add(&fj->fj_ev, NULL);
	return 0;
}
