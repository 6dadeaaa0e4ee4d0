/*
 * The parent's records of its VMs (see vmops.c for what each state
 * allows): held in memory by id and by uid, each VM's uid taken from
 * vm-uids, and saved in STATE/priv, one file per VM, alone or many in
 * one group commit.  vmrestore.c reads them back at start.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"
#include "journal.h"
#include "log.h"

#define PRIV_DIR	"priv"
#define BOOT_ID_PATH	"/proc/sys/kernel/random/boot_id"

/* Every record: vmops.c and the other vm*.c go through them all. */
struct pvms		 pvms = TAILQ_HEAD_INITIALIZER(pvms);
size_t			 pvm_count;	/* records in pvms */

/*
 * The records by id, and by uid (then id, as two records may name one
 * uid after vm-uids changed): thousands of VMs, and a lookup for every
 * request and every object the sweep finds.
 */
static int
pvm_id_cmp(struct pvm *a, struct pvm *b)
{
	return strcmp(a->pv_id, b->pv_id);
}

static int
pvm_uid_cmp(struct pvm *a, struct pvm *b)
{
	if (a->pv_uid != b->pv_uid)
		return a->pv_uid < b->pv_uid ? -1 : 1;
	return strcmp(a->pv_id, b->pv_id);
}

/* By address (then id: two records may name one, which is refused). */
static int
pvm_addr_cmp(struct pvm *a, struct pvm *b)
{
	if (a->pv_addr.s_addr != b->pv_addr.s_addr)
		return ntohl(a->pv_addr.s_addr) < ntohl(b->pv_addr.s_addr) ?
		    -1 : 1;
	return strcmp(a->pv_id, b->pv_id);
}

RB_HEAD(pvm_ids, pvm);
RB_HEAD(pvm_uids, pvm);
RB_HEAD(pvm_addrs, pvm);
RB_PROTOTYPE(pvm_ids, pvm, pv_byid, pvm_id_cmp)
RB_PROTOTYPE(pvm_uids, pvm, pv_byuid, pvm_uid_cmp)
RB_PROTOTYPE(pvm_addrs, pvm, pv_byaddr, pvm_addr_cmp)
RB_GENERATE(pvm_ids, pvm, pv_byid, pvm_id_cmp)
RB_GENERATE(pvm_uids, pvm, pv_byuid, pvm_uid_cmp)
RB_GENERATE(pvm_addrs, pvm, pv_byaddr, pvm_addr_cmp)
static struct pvm_ids	 pvm_byid = RB_INITIALIZER(&pvm_byid);
static struct pvm_uids	 pvm_byuid = RB_INITIALIZER(&pvm_byuid);
/* Those with an address (pv_addr not 0). */
static struct pvm_addrs	 pvm_byaddr = RB_INITIALIZER(&pvm_byaddr);
/* Every uid from uid_from up to uid_next is held (pvm_uid_alloc). */
static uid_t		 uid_from, uid_next;

struct pvm *
pvm_find(const char *id)
{
	struct pvm	 key;

	if (strlcpy(key.pv_id, id, sizeof(key.pv_id)) >= sizeof(key.pv_id))
		return NULL;
	return RB_FIND(pvm_ids, &pvm_byid, &key);
}

/* Another VM than pv whose record names addr, or NULL. */
struct pvm *
pvm_addr_other(const struct pvm *pv, struct in_addr addr)
{
	struct pvm	 key, *o;

	memset(key.pv_id, 0, sizeof(key.pv_id));
	key.pv_addr = addr;
	for (o = RB_NFIND(pvm_addrs, &pvm_byaddr, &key);
	    o != NULL && o->pv_addr.s_addr == addr.s_addr;
	    o = RB_NEXT(pvm_addrs, &pvm_byaddr, o))
		if (o != pv)
			return o;
	return NULL;
}

/* pv's address, from its lease (pv is inserted). */
void
pvm_addr_set(struct pvm *pv, struct in_addr addr)
{
	if (pv->pv_addr.s_addr != 0)
		RB_REMOVE(pvm_addrs, &pvm_byaddr, pv);
	pv->pv_addr = addr;
	if (addr.s_addr != 0)
		RB_INSERT(pvm_addrs, &pvm_byaddr, pv);
}

struct pvms *
pvm_list(void)
{
	return &pvms;
}

/*
 * The lowest uid of the configured range that no record holds: the
 * held ones in order from the lowest not known to be held, which moves
 * up as uids are taken and down as they are freed (pvm_free), so that
 * one creation after another costs a step or two, not a pass over all.
 */
int
pvm_uid_alloc(uid_t *uidp)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct pvm		 key, *pv;
	uid_t			 uid;

	if (uid_from != conf->cf_vm_uid_min || uid_next < uid_from) {
		uid_from = conf->cf_vm_uid_min;
		uid_next = uid_from;
	}
	uid = uid_next;
	key.pv_uid = uid;
	key.pv_id[0] = '\0';
	for (pv = RB_NFIND(pvm_uids, &pvm_byuid, &key);
	    pv != NULL && pv->pv_uid <= uid && uid <= conf->cf_vm_uid_max;
	    pv = RB_NEXT(pvm_uids, &pvm_byuid, pv))
		if (pv->pv_uid == uid)
			uid++;
	uid_next = uid;
	if (uid > conf->cf_vm_uid_max) {
		errno = ENOSPC;
		return -1;
	}
	*uidp = uid;
	return 0;
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

/* A VM's disk path, "" before it has one. */
const char *
pvm_disk(const struct pvm *pv)
{
	return pv->pv_disk != NULL ? pv->pv_disk : "";
}

/* Whether its disk is a file of STATE/disks (reflink, copy), not dm's. */
int
pvm_disk_file(const struct pvm *pv)
{
	return pv->pv_disk != NULL && strcmp(pv->pv_backend, "dm") != 0;
}

/* Its disk path, held for as long as it is (not PATH_MAX per VM). */
void
pvm_disk_setf(struct pvm *pv, const char *fmt, ...)
{
	va_list	 ap;
	char	*p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) == -1)
		fatal(NULL);
	va_end(ap);
	free(pv->pv_disk);
	pv->pv_disk = p[0] != '\0' ? p : NULL;
	if (pv->pv_disk == NULL)
		free(p);
}

/*
 * The boot this daemon runs in (the kernel's boot_id), which every
 * run-time record names: one from an earlier boot is never read back.
 * NULL if it cannot be read; then every save is a synced one.
 */
const char *
pvm_boot_id(void)
{
	static char	 id[40];
	static int	 done;
	ssize_t		 n;
	int		 fd;

	if (!done) {
		done = 1;
		n = -1;
		if ((fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC)) != -1) {
			n = read(fd, id, sizeof(id) - 1);
			close(fd);
		}
		id[n > 0 ? n : 0] = '\0';
		id[strcspn(id, "\n")] = '\0';
		if (id[0] == '\0')
			log_warnx("%s cannot be read: every record of a VM "
			    "is synced", BOOT_ID_PATH);
	}
	return id[0] != '\0' ? id : NULL;
}

/*
 * A VM's record, in two files of STATE/priv:
 *
 * ID, its synced record: appended to the journal (STATE/priv/.journal,
 * journal.c) and synced there, then written to ID.tmp and renamed
 * over the last, unsynced, until a checkpoint (pvm_checkpoint) syncs
 * it and empties the journal.  So it survives a power cut, in ID or
 * in the journal, whose later record vmrestore.c reads instead of an
 * ID a power cut left older, torn or missing.  That is wanted for the
 * states a power cut must not undo: created (the client is told),
 * destroying (resources go next), and a snapshot's.  A new record
 * (creating) goes the same way but unsynced (pvm_save_unsynced), and
 * "created" syncs it.  Each such save counts one more in its "gen".
 *
 * ID.run, its run-time record: everything else (starting, running, the
 * process, stopped, its address and loop devices while it is created),
 * written to ID.run.tmp and renamed, never synced.  It names the gen of
 * the synced record it follows and the boot it was written in, and ends
 * with "end".  At start (vmrestore.c) it is read instead of ID only if
 * it is whole, of this boot and of ID's gen: after a crash of the
 * daemon it is the latest; after a power cut it is from another boot,
 * or empty, or torn, and ID holds what a power cut must keep.  No VM
 * survives a power cut: a record that says starting or running with no
 * such process ends as created (pvm_restore_one), and the sweep removes
 * what a creation's unsynced part named.  pvm_save_all() saves many
 * synced records as one group commit.
 */
static int
pvm_record_text(struct pvm *pv, int run, char *buf, size_t size)
{
	const struct psnap *ps;
	size_t	 i;
	int	 n;

	n = snprintf(buf, size, "id %s\nname %s\nimage %s\n"
	    "owner %u\nuid %u\nstate %d\ntap %s\nbackend %s\ndisk %s\n"
	    "disk_size %" PRIu64 "\nloop_origin %s\nloop_cow %s\npid %d\n"
	    "starttime %llu\naddr %u\ncpus %u\nmemory %" PRIu64 "\n"
	    "ended %d\nexit_time %lld\nexit_status %d\ngen %" PRIu64 "\n",
	    pv->pv_id, pv->pv_name, pv->pv_image, (unsigned)pv->pv_owner,
	    (unsigned)pv->pv_uid, pv->pv_state, pv->pv_tap, pv->pv_backend,
	    pvm_disk(pv), pv->pv_disk_size, pv->pv_loop_origin,
	    pv->pv_loop_cow, (int)pv->pv_proc.fp_pid,
	    pv->pv_proc.fp_starttime, (unsigned)pv->pv_addr.s_addr,
	    pv->pv_cpus, pv->pv_memory, pv->pv_ended,
	    (long long)pv->pv_exit_time, pv->pv_exit_status, pv->pv_gen);
	if (run && n > 0 && (size_t)n < size)
		n += snprintf(buf + n, size - n, "boot %s\n", pvm_boot_id());
	for (i = 0; i < pv->pv_npublish && n > 0 && (size_t)n < size; i++)
		n += snprintf(buf + n, size - n, "publish %u %u %u %u\n",
		    pv->pv_publish[i].pp_proto,
		    (unsigned)pv->pv_publish[i].pp_host_addr,
		    pv->pv_publish[i].pp_host_port,
		    pv->pv_publish[i].pp_guest_port);
	for (i = 0; i < pv->pv_nsnaps && n > 0 && (size_t)n < size; i++) {
		ps = &pv->pv_snaps[i];
		n += snprintf(buf + n, size - n, "snap %s %d %" PRId64 " %"
		    PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
		    " %s\n", ps->ps_name, ps->ps_state, ps->ps_created,
		    ps->ps_memory, ps->ps_vmstate, ps->ps_disk,
		    ps->ps_disk_alloc, ps->ps_ms, ps->ps_how);
	}
	if (n > 0 && (size_t)n < size)
		n += snprintf(buf + n, size - n, "end\n");
	if (n < 0 || (size_t)n >= size) {
		log_warnx("vm %s: its record does not fit %zu bytes",
		    pv->pv_id, size);
		errno = EOVERFLOW;
		return -1;
	}
	return n;
}

/* STATE/priv/ID+suffix written with text, through ID+suffix.tmp. */
static int
priv_put(const char *id, const char *suffix, const char *text, size_t len)
{
	char	 sfx[16], path[PATH_MAX], tmp[PATH_MAX];
	int	 saved;

	snprintf(sfx, sizeof(sfx), "%s.tmp", suffix);
	if (priv_path(id, suffix, path, sizeof(path)) == -1 ||
	    priv_path(id, sfx, tmp, sizeof(tmp)) == -1 ||
	    journal_tmp_write(id, tmp, text, len) == -1)
		return -1;
	if (rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		log_warn("vm %s: write %s", id, tmp);
		return -1;
	}
	return 0;
}

/* The run-time record into ID.run.tmp, then renamed to ID.run. */
static int
pvm_write_run(struct pvm *pv)
{
	char	 buf[8192];
	int	 len;

	if ((len = pvm_record_text(pv, 1, buf, sizeof(buf))) == -1)
		return -1;
	return priv_put(pv->pv_id, RUN_SUFFIX, buf, len);
}

/* ID.run, which a synced save has made stale, removed (unsynced). */
static void
pvm_run_drop(struct pvm *pv)
{
	char	 path[PATH_MAX];

	if (!pv->pv_run)
		return;
	pv->pv_run = 0;
	if (priv_path(pv->pv_id, RUN_SUFFIX, path, sizeof(path)) == 0 &&
	    unlink(path) == -1 && errno != ENOENT)
		log_warn("vm %s: unlink %s", pv->pv_id, path);
}

/* STATE/priv synced: the renames and unlinks in it survive a power cut. */
int
priv_dir_sync(void)
{
	char	 dir[PATH_MAX];
	int	 dfd, saved;

	snprintf(dir, sizeof(dir), "%s/%s", env->bd_conf->cf_statedir,
	    PRIV_DIR);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1) {
		saved = errno;
		if (dfd != -1)
			close(dfd);
		errno = saved;
		log_warn("fsync %s", dir);
		return -1;
	}
	close(dfd);
	return 0;
}

/*
 * The journal of the synced records (journal.c), STATE/priv/.journal:
 * opened and read by vmop_restore(), which then calls pvm_checkpoint().
 */
static struct journal	*privj;
/* A record the journal holds is not in its file: no checkpoint. */
static int		 ckpt_stuck;

struct journal *
pvm_journal(void)
{
	char	 dir[PATH_MAX];

	if (privj == NULL) {
		snprintf(dir, sizeof(dir), "%s/%s",
		    env->bd_conf->cf_statedir, PRIV_DIR);
		privj = journal_open(dir);
	}
	return privj;
}

/*
 * ID written with text, unsynced (ID.tmp renamed over it): the
 * journal holds what a power cut must keep, until a checkpoint syncs
 * it.
 */
int
pvm_record_put(const char *id, const char *text, size_t len)
{
	if (priv_put(id, "", text, len) == -1) {
		/* The journal holds it, and must until a start. */
		ckpt_stuck = 1;
		return -1;
	}
	return 0;
}

/* Entries added to the journal, synced: 0, or -1 (logged). */
static int
pvm_journal_sync(void)
{
	return journal_sync(pvm_journal());
}

/* pv's record text in the journal's entries (not yet synced). */
static int
pvm_journal_add(struct pvm *pv, char *buf, size_t size)
{
	int	 len;

	if ((len = pvm_record_text(pv, 0, buf, size)) == -1)
		return -1;
	journal_add(pvm_journal(), pv->pv_id, pv->pv_gen, buf, len);
	return len;
}

/* After its journal's sync: the record's file (unsynced), ID.run gone. */
static int
pvm_put(struct pvm *pv, const char *buf, size_t len)
{
	if (pvm_record_put(pv->pv_id, buf, len) == -1)
		return -1;
	pv->pv_jdirty = 1;
	pvm_run_drop(pv);
	return 0;
}

/* The journal past JOURNAL_MAX: a checkpoint. */
static void
pvm_checkpoint_maybe(void)
{
	if (journal_used(pvm_journal()) > JOURNAL_MAX)
		(void)pvm_checkpoint();
}

/*
 * The synced record (see above): in the journal, synced, then its file
 * renamed into place.
 */
int
pvm_save_sync(struct pvm *pv)
{
	char	 buf[8192];
	int	 len;

	pv->pv_gen++;
	if ((len = pvm_journal_add(pv, buf, sizeof(buf))) == -1 ||
	    pvm_journal_sync() == -1) {
		pv->pv_gen--;
		return -1;
	}
	(void)pvm_put(pv, buf, len);
	pvm_checkpoint_maybe();
	return 0;
}

/*
 * The record in the journal and its file, not synced: a crash of the
 * daemon finds it, a power cut may not, and the next synced record
 * syncs it with its own.  Only a creation's first record is saved so
 * (vmop_create): all that a creation makes is named by the VM's id,
 * and the sweep removes it at start if no record survived to name it.
 */
int
pvm_save_unsynced(struct pvm *pv)
{
	char	 buf[8192];
	int	 len;

	pv->pv_gen++;
	if ((len = pvm_journal_add(pv, buf, sizeof(buf))) == -1 ||
	    journal_write(pvm_journal()) == -1) {
		pv->pv_gen--;
		return -1;
	}
	(void)pvm_put(pv, buf, len);
	pvm_checkpoint_maybe();
	return 0;
}

/*
 * pvm_save_sync() for each of n records, with one sync for them all:
 * every record appended to the journal, the journal synced once, then
 * each file renamed into place.  errs[i]: 0, or the errno of pvs[i]'s
 * failure (logged).
 */
void
pvm_save_all(struct pvm **pvs, int *errs, size_t n)
{
	char	 buf[8192], **texts;
	size_t	 i;
	int	 len, err;

	if ((texts = calloc(n, sizeof(*texts))) == NULL)
		fatal(NULL);
	for (i = 0; i < n; i++) {
		pvs[i]->pv_gen++;
		if ((len = pvm_journal_add(pvs[i], buf, sizeof(buf))) == -1)
			errs[i] = errno ? errno : EIO;
		else {
			errs[i] = 0;
			if ((texts[i] = strndup(buf, len)) == NULL)
				fatal(NULL);
		}
	}
	err = pvm_journal_sync() == -1 ? (errno ? errno : EIO) : 0;
	for (i = 0; i < n; i++) {
		if (errs[i] == 0)
			errs[i] = err;
		if (errs[i] != 0)
			pvs[i]->pv_gen--;
		else
			(void)pvm_put(pvs[i], texts[i], strlen(texts[i]));
		free(texts[i]);
	}
	free(texts);
	pvm_checkpoint_maybe();
}

/*
 * The checkpoint (journal.c): every record the journal holds synced in
 * its file (writeback started for all of them first), STATE/priv
 * synced, then an empty journal.  -1, logged, if any of it failed: the
 * journal is kept.
 */
int
pvm_checkpoint(void)
{
	char		 path[PATH_MAX];
	struct pvm	*pv;
	int		 pass, n = 0, failed = 0;

	if (ckpt_stuck) {
		log_warnx("STATE/priv/" JOURNAL_NAME ": not emptied: a record "
		    "it holds could not be written to its file (until the "
		    "next start)");
		return -1;
	}
	for (pass = 0; pass < 2 && !failed; pass++)
		TAILQ_FOREACH(pv, &pvms, pv_entry)
			if (pv->pv_jdirty && (priv_path(pv->pv_id, "", path,
			    sizeof(path)) == -1 ||
			    journal_file_sync(path, pass == 0) == -1))
				failed = 1;
	if (failed || priv_dir_sync() == -1 ||
	    journal_reset(pvm_journal()) == -1)
		return -1;
	TAILQ_FOREACH(pv, &pvms, pv_entry) {
		n += pv->pv_jdirty;
		pv->pv_jdirty = 0;
	}
	log_debug("%s/%s/" JOURNAL_NAME ": checkpoint: %d records synced in "
	    "their files, the journal emptied", env->bd_conf->cf_statedir,
	    PRIV_DIR, n);
	return 0;
}

/*
 * The run-time record (see above): read back after a crash of the
 * daemon, never after a power cut.
 */
int
pvm_save(struct pvm *pv)
{
	if (pvm_boot_id() == NULL)
		return pvm_save_sync(pv);
	if (pvm_write_run(pv) == -1)
		return -1;
	pv->pv_run = 1;
	return 0;
}

/* A state change, recorded: -1 if it could not be (then logged). */
int
pvm_set_state(struct pvm *pv, int state)
{
	int	 was = pv->pv_state;

	pv->pv_state = state;
	if (state == VMOP_DESTROYING ||
	    (state == VMOP_CREATED && was == VMOP_CREATING))
		return pvm_save_sync(pv);
	return pvm_save(pv);
}

void
pvm_unlink(struct pvm *pv)
{
	char	 path[PATH_MAX];

	pvm_run_drop(pv);
	if (priv_path(pv->pv_id, "", path, sizeof(path)) == 0 &&
	    unlink(path) == -1 && errno != ENOENT)
		log_warn("vm %s: unlink %s", pv->pv_id, path);
}

/*
 * Gone, says the journal, written unsynced: the next synced record
 * syncs it before its own.  A power cut that takes it leaves the
 * destroying record, whose removal the next start finishes.
 */
void
pvm_gone(struct pvm *pv)
{
	journal_add(pvm_journal(), pv->pv_id, pv->pv_gen, NULL, 0);
	(void)journal_write(pvm_journal());
}

void
pvm_unsave(struct pvm *pv)
{
	pvm_unlink(pv);
	pvm_gone(pv);
}

void
pvm_insert(struct pvm *pv)
{
	if (RB_INSERT(pvm_ids, &pvm_byid, pv) != NULL)
		fatalx("vm %s: two records of it", pv->pv_id);
	RB_INSERT(pvm_uids, &pvm_byuid, pv);
	if (pv->pv_addr.s_addr != 0)
		RB_INSERT(pvm_addrs, &pvm_byaddr, pv);
	TAILQ_INSERT_TAIL(&pvms, pv, pv_entry);
	pvm_count++;
}

/* Its published ports, held at their number: n of them from pp. */
void
pvm_publish_set(struct pvm *pv, const struct proto_publish *pp, size_t n)
{
	struct proto_publish	*p = NULL;

	if (n > 0) {
		if ((p = reallocarray(NULL, n, sizeof(*p))) == NULL)
			fatal(NULL);
		memcpy(p, pp, n * sizeof(*p));
	}
	free(pv->pv_publish);
	pv->pv_publish = p;
	pv->pv_npublish = n;
}

void
pvm_free(struct pvm *pv)
{
	RB_REMOVE(pvm_ids, &pvm_byid, pv);
	RB_REMOVE(pvm_uids, &pvm_byuid, pv);
	if (pv->pv_addr.s_addr != 0)
		RB_REMOVE(pvm_addrs, &pvm_byaddr, pv);
	if (pv->pv_uid >= uid_from && pv->pv_uid < uid_next)
		uid_next = pv->pv_uid;
	TAILQ_REMOVE(&pvms, pv, pv_entry);
	pvm_count--;
	free(pv->pv_publish);
	free(pv->pv_disk);
	free(pv->pv_snaps);
	free(pv->pv_from);
	free(pv);
}

const char *
pvm_state_name(int state)
{
	switch (state) {
	case VMOP_CREATING:
		return "creating";
	case VMOP_CREATED:
		return "created";
	case VMOP_STARTING:
		return "starting";
	case VMOP_RUNNING:
		return "running";
	case VMOP_DESTROYING:
		return "destroying";
	}
	return "unknown";
}

/*
 * The mark each loop device of the VM carries from the moment it is
 * attached (loop.c loop_attach): "banger ID DEV:INO", DEV:INO being
 * the state directory's, so that two bangerds never take each other's.
 */
void
pvm_loop_mark(const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "banger %s %llx:%llx", id,
	    (unsigned long long)env->bd_statedev,
	    (unsigned long long)env->bd_stateino);
}
