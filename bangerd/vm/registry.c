/*
 * The VM registry: every VM the worker holds, in a list and in two
 * red-black trees (by name, by id), and their records on disk,
 * /vms/ID/vm.json, read at the worker's start and written at each
 * change.  The state machine that changes them is state.c.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/tree.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmint.h"
#include "journal.h"
#include "log.h"
#include "validate.h"

static const char *const vm_state_names[] = {
	[VM_CREATING] = "creating",
	[VM_CREATED] = "created",
	[VM_STARTING] = "starting",
	[VM_RUNNING] = "running",
	[VM_PAUSED] = "paused",
	[VM_STOPPING] = "stopping",
	[VM_STOPPED] = "stopped",
	[VM_ERROR] = "error",
	[VM_REMOVING] = "removing",
};

struct vm_list		 vms = TAILQ_HEAD_INITIALIZER(vms);
/*
 * The same VMs by name and by id, so that finding one costs the same
 * among thousands as among a few.  Records read from disk may repeat a
 * name: the tie goes to the first linked, the one a walk of vms meets
 * first.
 */
RB_HEAD(vm_names, vm);
RB_HEAD(vm_ids, vm);
static struct vm_names	 vm_names = RB_INITIALIZER(&vm_names);
static struct vm_ids	 vm_ids = RB_INITIALIZER(&vm_ids);
static uint64_t		 vm_seq;
static int		 vm_name_cmp(struct vm *, struct vm *);
static int		 vm_id_cmp(struct vm *, struct vm *);
RB_PROTOTYPE(vm_names, vm, v_name_node, vm_name_cmp)
RB_PROTOTYPE(vm_ids, vm, v_id_node, vm_id_cmp)
size_t			 nvms;		/* VMs in vms */
static void		 commit_drop(struct vm *);

/*
 * Set one of a VM's strings: a copy of src, at most max - 1 bytes (as
 * the array it replaces held), NULL if empty.  A VM holds thousands of
 * bytes less than with arrays of the longest each may be.
 */
void
vm_strset(char **dst, const char *src, size_t max)
{
	size_t	 len = strnlen(src, max - 1);

	if (*dst != NULL && strlen(*dst) == len &&
	    memcmp(*dst, src, len) == 0)
		return;
	free(*dst);
	*dst = NULL;
	if (len == 0)
		return;
	if ((*dst = strndup(src, len)) == NULL)
		fatal(NULL);
}

/* vm_strset() of a message, formatted (at most PROTO_MSG_MAX - 1). */
void
vm_strf(char **dst, const char *fmt, ...)
{
	char	 buf[PROTO_MSG_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	vm_strset(dst, buf, sizeof(buf));
}

const char *
state_name(int s)
{
	if (s < 0 || s > VM_REMOVING)
		return "unknown";
	return vm_state_names[s];
}

int
state_by_name(const char *name)
{
	int	 i;

	for (i = 0; i <= VM_REMOVING; i++)
		if (strcmp(vm_state_names[i], name) == 0)
			return i;
	return -1;
}

static int
vm_seq_cmp(const struct vm *a, const struct vm *b)
{
	if (a->v_seq != b->v_seq)
		return a->v_seq < b->v_seq ? -1 : 1;
	return 0;
}

static int
vm_name_cmp(struct vm *a, struct vm *b)
{
	int	 c;

	if ((c = strcmp(a->v_name, b->v_name)) != 0)
		return c;
	return vm_seq_cmp(a, b);
}

static int
vm_id_cmp(struct vm *a, struct vm *b)
{
	int	 c;

	if ((c = strcmp(a->v_id, b->v_id)) != 0)
		return c;
	return vm_seq_cmp(a, b);
}

RB_GENERATE(vm_names, vm, v_name_node, vm_name_cmp)
RB_GENERATE(vm_ids, vm, v_id_node, vm_id_cmp)

/* Add v to vms and to the trees; its name and id are set, and stay. */
void
vm_link(struct vm *v)
{
	v->v_seq = vm_seq++;
	TAILQ_INSERT_TAIL(&vms, v, v_entry);
	if (RB_INSERT(vm_names, &vm_names, v) != NULL ||
	    RB_INSERT(vm_ids, &vm_ids, v) != NULL)
		fatalx("%s: vm %s linked twice", __func__, v->v_id);
	nvms++;
}

void
vm_unlink(struct vm *v)
{
	commit_drop(v);
	TAILQ_REMOVE(&vms, v, v_entry);
	RB_REMOVE(vm_names, &vm_names, v);
	RB_REMOVE(vm_ids, &vm_ids, v);
	nvms--;
}

/* The first linked of the VMs with id, or NULL. */
struct vm *
vm_by_id(const char *id)
{
	struct vm	*v, *found = NULL;
	int		 c;

	for (v = RB_ROOT(&vm_ids); v != NULL; ) {
		if ((c = strcmp(id, v->v_id)) <= 0) {
			if (c == 0)
				found = v;
			v = RB_LEFT(v, v_id_node);
		} else
			v = RB_RIGHT(v, v_id_node);
	}
	return found;
}

/* The first linked of the VMs named name, or NULL. */
struct vm *
vm_by_name(const char *name)
{
	struct vm	*v, *found = NULL;
	int		 c;

	for (v = RB_ROOT(&vm_names); v != NULL; ) {
		if ((c = strcmp(name, v->v_name)) <= 0) {
			if (c == 0)
				found = v;
			v = RB_LEFT(v, v_name_node);
		} else
			v = RB_RIGHT(v, v_name_node);
	}
	return found;
}

/* Root sees every VM, anyone else only their own. */
int
vm_visible(const struct vm *v, uid_t uid)
{
	return uid == 0 || v->v_owner == uid;
}

void
vm_mac(struct vm *v)
{
	snprintf(v->v_mac, sizeof(v->v_mac), "02:fc:%.2s:%.2s:%.2s:%.2s",
	    v->v_id, v->v_id + 2, v->v_id + 4, v->v_id + 6);
}

/* Its published ports, held at their number: n of them from pp. */
void
vm_publish_set(struct vm *v, const struct proto_publish *pp, size_t n)
{
	struct proto_publish	*p = NULL;

	if (n > 0) {
		if ((p = reallocarray(NULL, n, sizeof(*p))) == NULL)
			fatal(NULL);
		memcpy(p, pp, n * sizeof(*p));
	}
	free(v->v_publish);
	v->v_publish = p;
	v->v_npublish = n;
}

void
vm_info(const struct vm *v, struct vm_info *vi)
{
	memset(vi, 0, sizeof(*vi));
	strlcpy(vi->vi_id, v->v_id, sizeof(vi->vi_id));
	strlcpy(vi->vi_name, v->v_name, sizeof(vi->vi_name));
	strlcpy(vi->vi_image, v->v_image, sizeof(vi->vi_image));
	strlcpy(vi->vi_state, state_name(v->v_state), sizeof(vi->vi_state));
	strlcpy(vi->vi_error, S(v->v_error), sizeof(vi->vi_error));
	vi->vi_owner = v->v_owner;
	vi->vi_uid = v->v_uid;
	vi->vi_cpus = v->v_cpus;
	vi->vi_pid = v->v_pid;
	vi->vi_memory = v->v_memory;
	vi->vi_disk = v->v_disk_size ? v->v_disk_size : v->v_disk;
	strlcpy(vi->vi_tap, v->v_tap, sizeof(vi->vi_tap));
	strlcpy(vi->vi_mac, v->v_mac, sizeof(vi->vi_mac));
	if (v->v_addr.s_addr != 0) {
		inet_ntop(AF_INET, &v->v_addr, vi->vi_addr,
		    sizeof(vi->vi_addr));
		snprintf(vi->vi_fqdn, sizeof(vi->vi_fqdn), "%s.%s", v->v_name,
		    S(v->v_domain));
	}
	strlcpy(vi->vi_backend, v->v_backend, sizeof(vi->vi_backend));
	vi->vi_created = v->v_created;
	vi->vi_started = v->v_started;
	strlcpy(vi->vi_hostkey, S(v->v_hostkey), sizeof(vi->vi_hostkey));
	strlcpy(vi->vi_sshkey, S(v->v_sshkey), sizeof(vi->vi_sshkey));
	strlcpy(vi->vi_clone_of, S(v->v_clone_of), sizeof(vi->vi_clone_of));
	strlcpy(vi->vi_vmm_version, v->v_vmm_version,
	    sizeof(vi->vi_vmm_version));
	if (v->v_state == VM_RUNNING || v->v_state == VM_PAUSED)
		strlcpy(vi->vi_vmm_state, v->v_vmm_state,
		    sizeof(vi->vi_vmm_state));
	vi->vi_npublish = v->v_npublish;
	if (v->v_npublish > 0)
		memcpy(vi->vi_publish, v->v_publish,
		    v->v_npublish * sizeof(*v->v_publish));
}

/*
 * Records: /vms/ID/vm.json, written whole to a temporary file and
 * renamed over the last: a crash of the daemon leaves the old record or
 * the new, never part of one.  Every state is recorded, and before the
 * request that leads to it goes to the parent: a VM being created or
 * removed has a record from its first moment to its last, so after a
 * crash it is finished or undone (vm_reconcile), never lost or left
 * behind.
 *
 * Against a power cut: the states that must outlive one (creating,
 * created and removing, and the first start of a VM, which records
 * that a guest has booted the disk, so e2fsck checks it from then on)
 * go to the journal (journal.c), synced, before anything acts on them;
 * vm.json is renamed after, unsynced, and synced at the next
 * checkpoint (vm_checkpoint).  At start a VM's last entry in the
 * journal is its record, whatever a power cut left of vm.json.  Each
 * such save counts one more in the record's "gen".
 *
 * The run-time states (starting, running, paused, stopping, stopped,
 * error) go to /vms/ID/vm.run instead, renamed into place but never
 * synced, naming the gen of the vm.json it follows.  At start it is
 * read instead of vm.json only if it is whole and of the same gen:
 * after a crash of the daemon it is the latest; after a power cut it
 * may be missing, empty, torn or older, and vm.json holds what must be
 * kept.  No VM survives a power cut, and at the next start every VM
 * whose Firecracker is gone is stopped (vm_reconcile_one), whichever of
 * these states its record held.
 */
/* vm.run, which a synced save has made stale, removed (unsynced). */
static void
vm_run_drop(struct vm *v)
{
	char	 path[128];

	if (!v->v_run)
		return;
	v->v_run = 0;
	snprintf(path, sizeof(path), "%s/%s/%s", VMS_DIR, v->v_id, VM_RUNREC);
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("vm %s: unlink %s", v->v_name, path);
}

/*
 * Group commit of the synced records, once the event loop runs
 * (vm_save_grouped): vm_save() writes the record to its temporary file,
 * adds it to the journal's entries and queues the VM; until
 * commit_run(), in the next turn of the event loop, has synced the
 * journal (one fdatasync for them all) and renamed each record
 * queued, nothing the worker has composed
 * leaves it (imsg_hold), to the parent or to any client.  So the
 * requests at hand share the syncs, and what anyone hears of a VM is
 * never ahead of what a power cut keeps.  A crash before the commit
 * leaves the records as they were, and no one was told otherwise.
 */
static TAILQ_HEAD(, vm)	 commit_q = TAILQ_HEAD_INITIALIZER(commit_q);
static struct event	 commit_ev;
static int		 commit_grouped;
/* The journal of the synced records (journal.c), from vm_load(). */
static struct journal	*vmj;
/* A record the journal holds is not in its file: no checkpoint. */
static int		 ckpt_stuck;

void
vm_save_grouped(void)
{
	commit_grouped = 1;
}

static void
commit_run(int fd, short event, void *arg)
{
	char		 path[128], tmp[128];
	struct vm	*v;
	int		 failed;

	failed = journal_sync(vmj) == -1;
	while ((v = TAILQ_FIRST(&commit_q)) != NULL) {
		TAILQ_REMOVE(&commit_q, v, v_commit);
		v->v_queued = 0;
		snprintf(path, sizeof(path), "%s/%s/%s", VMS_DIR, v->v_id,
		    VM_RECORD);
		snprintf(tmp, sizeof(tmp), "%s/%s/.%s.tmp", VMS_DIR, v->v_id,
		    VM_RECORD);
		if (failed) {
			unlink(tmp);
			v->v_sync = 1;
			continue;
		}
		if (rename(tmp, path) == -1) {
			/* The journal holds it, and must until a start. */
			log_warn("vm %s: rename %s", v->v_name, tmp);
			unlink(tmp);
			ckpt_stuck = 1;
			continue;
		}
		v->v_jdirty = 1;
		/* A vm.run written since the save follows it: it stays. */
		if (v->v_run && v->v_run_gen < v->v_gen)
			vm_run_drop(v);
	}
	if (!failed && journal_used(vmj) > JOURNAL_MAX)
		(void)vm_checkpoint();
	imsg_hold = 0;
	vmop_release();
	control_release();
}

/* The commit queued, run now rather than in the next turn of the loop. */
void
vm_commit_now(void)
{
	if (TAILQ_EMPTY(&commit_q))
		return;
	if (evtimer_initialized(&commit_ev))
		evtimer_del(&commit_ev);
	commit_run(-1, EV_TIMEOUT, NULL);
}

/* The commit run in the next turn of the event loop. */
static void
commit_kick(void)
{
	struct timeval	 now = { 0, 0 };

	if (!evtimer_initialized(&commit_ev))
		evtimer_set(&commit_ev, commit_run, NULL);
	if (!evtimer_pending(&commit_ev, NULL))
		evtimer_add(&commit_ev, &now);
}

/* v queued for the group commit, its record in .vm.json.tmp. */
static int
commit_add(struct vm *v)
{
	/* Asked for, and under way: saves until the commit are run-time. */
	v->v_sync = 0;
	if (!v->v_queued) {
		v->v_queued = 1;
		TAILQ_INSERT_TAIL(&commit_q, v, v_commit);
	}
	imsg_hold = 1;
	commit_kick();
	return 0;
}

/* A VM that goes: out of the queue, its record no longer written. */
static void
commit_drop(struct vm *v)
{
	if (!v->v_queued)
		return;
	TAILQ_REMOVE(&commit_q, v, v_commit);
	v->v_queued = 0;
}

int
vm_save(struct vm *v)
{
	char	 dir[64], path[128], tmp[128], *buf;
	json_t	*j;
	size_t	 len;
	int	 sync;

	sync = v->v_state == VM_CREATING || v->v_state == VM_CREATED ||
	    v->v_state == VM_REMOVING || v->v_sync;
	snprintf(dir, sizeof(dir), "%s/%s", VMS_DIR, v->v_id);
	snprintf(path, sizeof(path), "%s/%s", dir, sync ? VM_RECORD :
	    VM_RUNREC);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, sync ? VM_RECORD :
	    VM_RUNREC);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("vm %s: mkdir %s", v->v_name, dir);
		return -1;
	}
	j = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:I, "
	    "s:I}", "gen", (json_int_t)(v->v_gen + (sync ? 1 : 0)),
	    "id", v->v_id, "name", v->v_name, "image", v->v_image,
	    "owner", (json_int_t)v->v_owner, "cpus", (json_int_t)v->v_cpus,
	    "memory_mib", (json_int_t)v->v_memory,
	    "disk_bytes", (json_int_t)v->v_disk,
	    "state", state_name(v->v_state),
	    "created", (json_int_t)v->v_created,
	    "started", (json_int_t)v->v_started);
	if (j == NULL)
		return -1;
	if (v->v_error != NULL)
		json_object_set_new(j, "error", json_string(v->v_error));
	if (v->v_hostkey != NULL)
		json_object_set_new(j, "host_key", json_string(v->v_hostkey));
	if (v->v_sshkey != NULL)
		json_object_set_new(j, "ssh_key", json_string(v->v_sshkey));
	if (v->v_vmm_version[0] != '\0')
		json_object_set_new(j, "vmm_version",
		    json_string(v->v_vmm_version));
	if (v->v_vmm_state[0] != '\0')
		json_object_set_new(j, "vmm_state", json_string(v->v_vmm_state));
	if (v->v_fresh)
		json_object_set_new(j, "fresh", json_true());
	if (v->v_snap_paused)
		json_object_set_new(j, "snapshot_paused", json_true());
	if (v->v_clone_of != NULL)
		json_object_set_new(j, "clone_of", json_string(v->v_clone_of));
	if (v->v_clone_snap != NULL)
		json_object_set_new(j, "clone_snapshot",
		    json_string(v->v_clone_snap));
	if (v->v_clone_key != NULL)
		json_object_set_new(j, "clone_key",
		    json_string(v->v_clone_key));
	if (v->v_npublish > 0) {
		json_t	*arr = json_array();
		size_t	 i;

		for (i = 0; i < v->v_npublish; i++)
			json_array_append_new(arr, json_pack("[i, I, i, i]",
			    v->v_publish[i].pp_proto,
			    (json_int_t)v->v_publish[i].pp_host_addr,
			    v->v_publish[i].pp_host_port,
			    v->v_publish[i].pp_guest_port));
		json_object_set_new(j, "publish", arr);
	}
	/* One write of the whole record, not one per token. */
	buf = json_dumps(j, JSON_INDENT(1));
	json_decref(j);
	if (buf == NULL)
		return -1;
	len = strlen(buf);
	if (journal_tmp_write(v->v_name, tmp, buf, len) == -1) {
		free(buf);
		return -1;
	}
	if (!sync) {
		free(buf);
		if (rename(tmp, path) == -1) {
			log_warn("vm %s: rename", v->v_name);
			unlink(tmp);
			return -1;
		}
		v->v_run = 1;
		v->v_run_gen = v->v_gen;
		return 0;
	}
	/* Synced: in the journal, then vm.json renamed (see above). */
	v->v_gen++;
	journal_add(vmj, v->v_id, v->v_gen, buf, len);
	free(buf);
	if (commit_grouped)
		return commit_add(v);
	if (journal_sync(vmj) == -1) {
		unlink(tmp);
		v->v_gen--;
		return -1;
	}
	if (rename(tmp, path) == -1) {
		log_warn("vm %s: rename", v->v_name);
		unlink(tmp);
		ckpt_stuck = 1;
		return -1;
	}
	vm_run_drop(v);
	v->v_sync = 0;
	v->v_jdirty = 1;
	if (journal_used(vmj) > JOURNAL_MAX)
		(void)vm_checkpoint();
	return 0;
}

/*
 * The checkpoint (journal.c): every record the journal holds synced in
 * its file, with its directory (writeback started for all of them
 * first), then an empty journal, which syncs /vms (the directories
 * made and removed).  -1, logged, if any of it failed: the journal is
 * kept.
 */
int
vm_checkpoint(void)
{
	char		 path[128];
	struct vm	*v;
	int		 pass, n, failed = 0;

	if (ckpt_stuck) {
		log_warnx("%s: not emptied: a record it holds could not be "
		    "written to its file (until the next start)", VMS_DIR "/"
		    JOURNAL_NAME);
		return -1;
	}
	for (pass = 0; pass < 2 && !failed; pass++)
		TAILQ_FOREACH(v, &vms, v_entry) {
			if (!v->v_jdirty)
				continue;
			snprintf(path, sizeof(path), "%s/%s/%s", VMS_DIR,
			    v->v_id, VM_RECORD);
			if (journal_file_sync(path, pass == 0) == -1)
				failed = 1;
			else if (pass == 1) {
				snprintf(path, sizeof(path), "%s/%s", VMS_DIR,
				    v->v_id);
				failed = journal_file_sync(path, 0) == -1;
			}
		}
	if (failed || journal_reset(vmj) == -1)
		return -1;
	n = 0;
	TAILQ_FOREACH(v, &vms, v_entry) {
		n += v->v_jdirty;
		v->v_jdirty = 0;
	}
	log_debug("%s: checkpoint: %d records synced in their files, the "
	    "journal emptied", VMS_DIR "/" JOURNAL_NAME, n);
	return 0;
}

void
vm_unsave(struct vm *v)
{
	char	 dir[64], path[128];

	commit_drop(v);
	vm_run_drop(v);
	/*
	 * Gone, says the journal: with the commit at hand, or else written
	 * unsynced, for the next commit to sync.  A power cut that takes
	 * it leaves the removing record, whose removal the next start
	 * finishes (vm_reconcile_one).
	 */
	journal_add(vmj, v->v_id, v->v_gen, NULL, 0);
	if (!commit_grouped || !evtimer_initialized(&commit_ev) ||
	    !evtimer_pending(&commit_ev, NULL))
		(void)journal_write(vmj);
	snprintf(dir, sizeof(dir), "%s/%s", VMS_DIR, v->v_id);
	snprintf(path, sizeof(path), "%s/%s", dir, VM_RECORD);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.%s.tmp", dir, VM_RUNREC);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, VM_CONSOLE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, VM_CONSOLE_OLD);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, VM_FCLOG);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, VM_FCLOG_OLD);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, VM_METRICS);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.%s.tmp", dir, VM_RECORD);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.%s.tmp", dir, VM_METRICS);
	unlink(path);
	if (rmdir(dir) == -1 && errno != ENOENT)
		log_warn("vm %s: rmdir %s", v->v_name, dir);
}

struct vm *
vm_new(void)
{
	struct vm	*v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		fatal(NULL);
	v->v_ptyfd = -1;
	v->v_logfd = -1;
	v->v_fclogfd = -1;
	v->v_metricsfd = -1;
	TAILQ_INIT(&v->v_waiters);
	TAILQ_INIT(&v->v_viewers);
	return v;
}

/*
 * The run-time record of VM id, if it is the later record (whole, and
 * following *jp's gen): then *jp is replaced by it and 1 returned.  One
 * that is not is removed.
 */
static int
vm_load_run(const char *id, json_t **jp)
{
	char		 path[128];
	json_error_t	 jerr;
	json_int_t	 gen = 0, rgen = -1;
	json_t		*r;
	struct stat	 st;
	const char	*why;

	snprintf(path, sizeof(path), "%s/%s/%s", VMS_DIR, id, VM_RUNREC);
	if ((r = json_load_file(path, 0, &jerr)) == NULL) {
		if (lstat(path, &st) == -1 && errno == ENOENT)
			return 0;
		why = "is not whole";
	} else {
		(void)json_unpack(*jp, "{s:I}", "gen", &gen);
		(void)json_unpack(r, "{s:I}", "gen", &rgen);
		why = rgen != gen ? "is older than its record" : NULL;
	}
	if (why == NULL) {
		json_decref(*jp);
		*jp = r;
		return 1;
	}
	json_decref(r);
	log_info("vm %s: %s %s: vm.json holds", id, path, why);
	if (unlink(path) == -1)
		log_warn("vm %s: unlink %s", id, path);
	return 0;
}

/*
 * VM id's record: vm.json, unless the journal holds a later one (a
 * power cut left vm.json older, torn or missing), which is then also
 * written to vm.json.  NULL if there is none to read; *fromj set if the
 * journal holds the VM (its vm.json may be unsynced).
 */
static json_t *
vm_load_record(const char *id, const char *path, int *fromj)
{
	struct stat	 st;
	char		 dir[64], tmp[128];
	json_error_t	 jerr;
	json_int_t	 fgen = -1;
	json_t		*j, *f;
	const char	*text, *why;
	uint64_t	 jgen;
	int		 gone;

	*fromj = 0;
	if ((text = journal_find(vmj, id, &jgen, &gone)) != NULL && gone)
		return NULL;	/* vm_dir_clean() removed it */
	if (text == NULL) {
		if ((j = json_load_file(path, 0, &jerr)) == NULL)
			log_warnx("%s: %s", path, jerr.text);
		return j;
	}
	/* Its file, unsynced, for the checkpoint to sync. */
	*fromj = 1;
	if ((f = json_load_file(path, 0, &jerr)) != NULL &&
	    json_unpack(f, "{s:I}", "gen", &fgen) == 0 &&
	    fgen >= (json_int_t)jgen)
		return f;	/* what the journal says (or a forger) */
	json_decref(f);
	if ((j = json_loads(text, 0, &jerr)) == NULL) {
		log_warnx("%s: vm %s: %s", VMS_DIR "/" JOURNAL_NAME, id,
		    jerr.text);
		return NULL;
	}
	why = fgen >= 0 ? "older" : lstat(path, &st) == 0 ? "not whole" :
	    "missing";
	log_info("vm %s: %s is %s: the journal's record (gen %" PRIu64
	    ") is kept", id, path, why, jgen);
	snprintf(dir, sizeof(dir), "%s/%s", VMS_DIR, id);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, VM_RECORD);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("vm %s: mkdir %s", id, dir);
		ckpt_stuck = 1;
	} else if (journal_tmp_write(id, tmp, text, strlen(text)) == -1)
		ckpt_stuck = 1;
	else if (rename(tmp, path) == -1) {
		log_warn("vm %s: rename %s", id, tmp);
		unlink(tmp);
		ckpt_stuck = 1;
	}
	return j;
}

static void
vm_load_one(const char *id)
{
	char		 path[128];
	json_error_t	 jerr;
	json_t		*j;
	const char	*name, *image, *state, *error = NULL, *hostkey = NULL;
	const char	*cl;
	const char	*sshkey = NULL, *vmm;
	json_int_t	 owner, cpus, mem, disk, created, started, gen;
	struct vm	*v;
	int		 s, run, fromj;

	snprintf(path, sizeof(path), "%s/%s/%s", VMS_DIR, id, VM_RECORD);
	if ((j = vm_load_record(id, path, &fromj)) == NULL)
		return;
	run = vm_load_run(id, &j);
	if (json_unpack_ex(j, &jerr, 0, "{s:s, s:s, s:I, s:I, s:I, s:I, "
	    "s:s, s?s, s:I, s:I}", "name", &name, "image", &image,
	    "owner", &owner, "cpus", &cpus, "memory_mib", &mem,
	    "disk_bytes", &disk, "state", &state, "error", &error,
	    "created", &created, "started", &started) == -1 ||
	    (s = state_by_name(state)) == -1) {
		log_warnx("%s: unreadable record, ignored", path);
		json_decref(j);
		return;
	}
	v = vm_new();
	strlcpy(v->v_id, id, sizeof(v->v_id));
	strlcpy(v->v_name, name, sizeof(v->v_name));
	strlcpy(v->v_image, image, sizeof(v->v_image));
	v->v_owner = owner;
	v->v_cpus = cpus;
	v->v_memory = mem;
	v->v_disk = disk;
	v->v_state = s;
	if (error != NULL)
		vm_strset(&v->v_error, error, PROTO_MSG_MAX);
	if (json_unpack(j, "{s:s}", "host_key", &hostkey) == 0)
		vm_strset(&v->v_hostkey, hostkey, PROTO_HOSTKEY_MAX);
	if (json_unpack(j, "{s:s}", "ssh_key", &sshkey) == 0 &&
	    sshkey[0] == '/')
		vm_strset(&v->v_sshkey, sshkey, PROTO_PATH_MAX);
	if (json_unpack(j, "{s:s}", "vmm_version", &vmm) == 0)
		strlcpy(v->v_vmm_version, vmm, sizeof(v->v_vmm_version));
	if (json_unpack(j, "{s:s}", "vmm_state", &vmm) == 0)
		strlcpy(v->v_vmm_state, vmm, sizeof(v->v_vmm_state));
	v->v_fresh = json_is_true(json_object_get(j, "fresh"));
	v->v_snap_paused = json_is_true(json_object_get(j,
	    "snapshot_paused"));
	if (json_unpack(j, "{s:s}", "clone_of", &cl) == 0)
		vm_strset(&v->v_clone_of, cl, 2 * PROTO_VMNAME_MAX);
	if (json_unpack(j, "{s:s}", "clone_snapshot", &cl) == 0)
		vm_strset(&v->v_clone_snap, cl, PROTO_VMNAME_MAX);
	if (json_unpack(j, "{s:s}", "clone_key", &cl) == 0 &&
	    strlen(cl) == 64 && strspn(cl, "0123456789abcdef") == 64)
		vm_strset(&v->v_clone_key, cl, 65);
	v->v_created = created;
	v->v_started = started;
	v->v_run = run;
	v->v_jdirty = fromj;
	if (json_unpack(j, "{s:I}", "gen", &gen) == 0 && gen > 0)
		v->v_gen = gen;
	vm_mac(v);
	{
		struct proto_publish	 pp[PROTO_PUBLISH_MAX];
		json_t			*arr, *e;
		size_t			 i, n = 0;
		int			 pr, hp, gp;
		json_int_t		 ha;

		memset(pp, 0, sizeof(pp));
		if ((arr = json_object_get(j, "publish")) != NULL)
			json_array_foreach(arr, i, e) {
				if (n >= PROTO_PUBLISH_MAX ||
				    json_unpack(e, "[i, I, i, i]", &pr, &ha,
				    &hp, &gp) == -1)
					break;
				pp[n].pp_proto = pr;
				pp[n].pp_host_addr = ha;
				pp[n].pp_host_port = hp;
				pp[n].pp_guest_port = gp;
				n++;
			}
		vm_publish_set(v, pp, n);
	}
	json_decref(j);
	vm_link(v);
}

/*
 * What a crash may leave in /vms/ID besides a record: the temporary
 * files of a record or metrics write, and, for an id with no record
 * (a VM removed up to its directory), the directory and its logs.
 */
static void
vm_dir_clean(const char *id)
{
	static const char *const names[] = { VM_CONSOLE, VM_CONSOLE_OLD,
	    VM_FCLOG, VM_FCLOG_OLD, VM_METRICS, VM_RUNREC,
	    "." VM_RECORD ".tmp", "." VM_RUNREC ".tmp",
	    "." VM_METRICS ".tmp" };
	struct stat	 st;
	char		 path[128];
	const char	*text;
	uint64_t	 jgen;
	size_t		 i;
	int		 record, gone = 0;

	snprintf(path, sizeof(path), "%s/%s/%s", VMS_DIR, id, VM_RECORD);
	if ((text = journal_find(vmj, id, &jgen, &gone)) != NULL && gone) {
		/* Removed, and a power cut kept its files. */
		if (unlink(path) == 0)
			log_info("vm %s: removed %s: the journal says the VM "
			    "is gone", id, path);
		record = 0;
	} else
		record = text != NULL || lstat(path, &st) == 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (record && names[i][0] != '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", VMS_DIR, id,
		    names[i]);
		if (unlink(path) == 0)
			log_info("vm %s: removed %s, left by a crash", id,
			    path);
	}
	if (!record) {
		snprintf(path, sizeof(path), "%s/%s", VMS_DIR, id);
		if (rmdir(path) == 0)
			log_info("vm %s: removed %s, which had no record", id,
			    path);
		else if (errno != ENOENT)
			log_warn("vm %s: rmdir %s", id, path);
	}
}

/* journal_unmet()'s: a VM whose directory a power cut lost. */
static void
vm_load_lost(const char *id, void *arg)
{
	(void)arg;
	vm_load_one(id);
}

void
vm_load(void)
{
	struct dirent	*de;
	DIR		*d;
	const char	*why;

	if ((d = opendir(VMS_DIR)) == NULL) {
		log_warn("%s", VMS_DIR);
		return;
	}
	vmj = journal_open(VMS_DIR);
	while ((de = readdir(d)) != NULL)
		if (valid_vm_id(de->d_name, strlen(de->d_name), &why) == 0) {
			vm_dir_clean(de->d_name);
			vm_load_one(de->d_name);
		}
	closedir(d);
	/* Those a power cut left without a directory. */
	journal_unmet(vmj, vm_load_lost, NULL);
	journal_forget(vmj);
	/* Every record read from the journal synced in its file. */
	(void)vm_checkpoint();
}
