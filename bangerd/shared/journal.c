/*
 * A journal of VM records, DIR/.journal: the parent's (STATE/priv,
 * vmrecord.c) and the vm worker's (/vms, registry.c).  What their
 * synced saves say is appended, each group commit synced with one
 * fdatasync, in place of a synced temporary file, a rename and a
 * synced directory per record.  A record's file is then written and
 * renamed unsynced, as the journal's last entry for its VM says; a
 * checkpoint (pvm_checkpoint, vm_checkpoint) syncs those files and
 * their directories and starts an empty journal, at every start and
 * once it passes JOURNAL_MAX.  So a record a power cut left older, torn
 * or missing is read from the journal at the next start.
 *
 * The file is zeroed ahead of its entries (JOURNAL_CHUNK at a time),
 * so an append changes no size and its fdatasync writes no metadata.
 * An entry is one header line and its text:
 *
 *	R ID GEN LEN HASH\n		a record: its LEN bytes, \n
 *	G ID GEN 0 HASH\n		the VM is gone: \n
 *
 * HASH is BLAKE2b-128 (libsodium), in hex, of the header up to it and
 * the text.  Entries are read up to the first zero byte, or the first
 * that is not whole: a power cut tears only the last commit, which no
 * one was told of.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/tree.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "validate.h"

#define HDR_MAX		96	/* "R ID GEN LEN HASH\n" at most */
#define HASH_LEN	16	/* bytes: 32 hex digits */

/* The last entry of each VM, as read at start (journal_open). */
struct jentry {
	RB_ENTRY(jentry)	 je_node;
	char			 je_id[VM_ID_LEN + 1];
	uint64_t		 je_gen;
	int			 je_gone;
	int			 je_used;
	char			*je_text;	/* NUL-terminated, or NULL */
};
RB_HEAD(jentries, jentry);

struct journal {
	char			 j_dir[PATH_MAX];
	char			 j_path[PATH_MAX];
	char			 j_tmp[PATH_MAX];
	struct jentries		 j_read;	/* as read at start */
	int			 j_fd;
	off_t			 j_used;	/* bytes of entries */
	off_t			 j_alloc;	/* bytes zeroed or used */
	/* Entries not yet written: journal_sync() writes them. */
	char			*j_pend;
	size_t			 j_pendlen, j_pendsize;
};

static int
je_cmp(struct jentry *a, struct jentry *b)
{
	return strcmp(a->je_id, b->je_id);
}
RB_PROTOTYPE(jentries, jentry, je_node, je_cmp)
RB_GENERATE(jentries, jentry, je_node, je_cmp)

static void
hash_hex(const char *hdr, size_t hlen, const char *text, size_t len,
    char hex[2 * HASH_LEN + 1])
{
	crypto_generichash_state	 st;
	unsigned char			 h[HASH_LEN];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)hdr, hlen);
	crypto_generichash_update(&st, (const unsigned char *)text, len);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex, 2 * HASH_LEN + 1, h, sizeof(h));
}

/* n zero bytes written at off; 0, or -1. */
static int
zero_at(int fd, off_t off, size_t n)
{
	static const char	 zeros[65536];
	ssize_t			 w;
	size_t			 c;

	while (n > 0) {
		c = n < sizeof(zeros) ? n : sizeof(zeros);
		if ((w = pwrite(fd, zeros, c, off)) <= 0)
			return -1;
		n -= w;
		off += w;
	}
	return 0;
}

/* One entry at data + off (of size bytes): its length, or 0 if none. */
static size_t
entry_parse(const char *data, size_t size, size_t off, struct jentry *je,
    const char **textp, size_t *lenp)
{
	char		 hdr[HDR_MAX + 1], kind, id[VM_ID_LEN + 2];
	char		 hash[2 * HASH_LEN + 2], want[2 * HASH_LEN + 1];
	const char	*nl, *why;
	unsigned long long gen;
	size_t		 hlen, len, pre;
	int		 n;

	if (off >= size || data[off] == '\0')
		return 0;
	if ((nl = memchr(data + off, '\n', size - off < HDR_MAX ?
	    size - off : HDR_MAX)) == NULL)
		return 0;
	hlen = nl - (data + off) + 1;
	memcpy(hdr, data + off, hlen);
	hdr[hlen] = '\0';
	if (sscanf(hdr, "%c %9s %llu %zu %n%33s", &kind, id, &gen, &len, &n,
	    hash) != 5 || (kind != 'R' && kind != 'G') ||
	    valid_vm_id(id, strlen(id), &why) == -1 ||
	    strlen(hash) != 2 * HASH_LEN || (kind == 'G' && len != 0) ||
	    len > size || off + hlen + len + 1 > size ||
	    data[off + hlen + len] != '\n')
		return 0;
	pre = (size_t)n;
	hash_hex(hdr, pre, data + off + hlen, len, want);
	if (strcmp(hash, want) != 0)
		return 0;
	strlcpy(je->je_id, id, sizeof(je->je_id));
	je->je_gen = gen;
	je->je_gone = kind == 'G';
	*textp = data + off + hlen;
	*lenp = len;
	return hlen + len + 1;
}

/* The last entry of each VM read into j_read; the offset after them. */
static off_t
journal_read(struct journal *j, const char *data, size_t size)
{
	struct jentry	 key, *je;
	const char	*text;
	size_t		 off = 0, n, len;

	while ((n = entry_parse(data, size, off, &key, &text, &len)) > 0) {
		if ((je = RB_FIND(jentries, &j->j_read, &key)) == NULL) {
			if ((je = calloc(1, sizeof(*je))) == NULL)
				fatal(NULL);
			strlcpy(je->je_id, key.je_id, sizeof(je->je_id));
			RB_INSERT(jentries, &j->j_read, je);
		}
		free(je->je_text);
		je->je_text = NULL;
		je->je_gen = key.je_gen;
		je->je_gone = key.je_gone;
		if (!je->je_gone && (je->je_text = strndup(text, len)) == NULL)
			fatal(NULL);
		off += n;
	}
	if (off < size && data[off] != '\0')
		log_warnx("%s: the entry at byte %zu is not whole: it and "
		    "what follows it are left out (a power cut tore the last "
		    "commit)", j->j_path, off);
	return off;
}

/*
 * The journal of directory dir (made if missing), read: journal_find()
 * then gives each VM's last entry.  If it cannot be opened (logged),
 * every journal_sync() fails.
 */
struct journal *
journal_open(const char *dir)
{
	struct journal	*j;
	struct stat	 st;
	char		*data = NULL;
	ssize_t		 n;
	size_t		 got = 0;

	if (sodium_init() == -1)
		fatalx("libsodium: cannot start");
	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatal(NULL);
	RB_INIT(&j->j_read);
	if (strlcpy(j->j_dir, dir, sizeof(j->j_dir)) >= sizeof(j->j_dir) ||
	    snprintf(j->j_path, sizeof(j->j_path), "%s/" JOURNAL_NAME, dir) >=
	    (int)sizeof(j->j_path) || snprintf(j->j_tmp, sizeof(j->j_tmp),
	    "%s/" JOURNAL_NAME ".tmp", dir) >= (int)sizeof(j->j_tmp))
		fatalx("%s: too long a path for a journal", dir);
	(void)unlink(j->j_tmp);
	if ((j->j_fd = open(j->j_path, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1 || fstat(j->j_fd, &st) == -1) {
		log_warn("%s", j->j_path);
		if (j->j_fd != -1)
			close(j->j_fd);
		j->j_fd = -1;
		return j;
	}
	if (st.st_size > 0) {
		if ((data = malloc(st.st_size)) == NULL)
			fatal(NULL);
		while (got < (size_t)st.st_size && (n = pread(j->j_fd,
		    data + got, st.st_size - got, got)) > 0)
			got += n;
		j->j_used = journal_read(j, data, got);
		/*
		 * What a torn commit left after the entries, zeroed: no
		 * later append may end where an entry of it begins.
		 */
		if (got > (size_t)j->j_used && data[j->j_used] != '\0' &&
		    (zero_at(j->j_fd, j->j_used, got - j->j_used) == -1 ||
		    fdatasync(j->j_fd) == -1))
			log_warn("%s: zero the torn commit", j->j_path);
		free(data);
	}
	j->j_alloc = st.st_size;
	return j;
}

/* VM id's last entry in the journal as read: its text, "" if gone. */
const char *
journal_find(struct journal *j, const char *id, uint64_t *genp,
    int *gonep)
{
	struct jentry	 key, *je;

	if (strlcpy(key.je_id, id, sizeof(key.je_id)) >= sizeof(key.je_id) ||
	    (je = RB_FIND(jentries, &j->j_read, &key)) == NULL)
		return NULL;
	je->je_used = 1;
	*genp = je->je_gen;
	*gonep = je->je_gone;
	return je->je_gone ? "" : je->je_text;
}

/* Each VM of the journal as read that journal_find() never met. */
void
journal_unmet(struct journal *j, void (*fn)(const char *, void *),
    void *arg)
{
	struct jentry	*je;

	RB_FOREACH(je, jentries, &j->j_read)
		if (!je->je_used && !je->je_gone)
			fn(je->je_id, arg);
}

/* The entries as read, forgotten. */
void
journal_forget(struct journal *j)
{
	struct jentry	*je, *tje;

	RB_FOREACH_SAFE(je, jentries, &j->j_read, tje) {
		RB_REMOVE(jentries, &j->j_read, je);
		free(je->je_text);
		free(je);
	}
}

/* The journal closed and freed, its entries not synced dropped. */
void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	journal_forget(j);
	if (j->j_fd != -1)
		close(j->j_fd);
	free(j->j_pend);
	free(j);
}

/* An entry for journal_sync(): VM id's record text, or (NULL) gone. */
void
journal_add(struct journal *j, const char *id, uint64_t gen,
    const char *text, size_t len)
{
	char	 hdr[HDR_MAX], hash[2 * HASH_LEN + 1];
	size_t	 need;
	int	 n;

	if (text == NULL)
		len = 0;
	n = snprintf(hdr, sizeof(hdr), "%c %s %" PRIu64 " %zu ",
	    text != NULL ? 'R' : 'G', id, gen, len);
	hash_hex(hdr, n, text != NULL ? text : "", len, hash);
	need = j->j_pendlen + n + sizeof(hash) + len + 1;
	if (need > j->j_pendsize) {
		while (j->j_pendsize < need)
			j->j_pendsize = j->j_pendsize ? j->j_pendsize * 2 :
			    8192;
		if ((j->j_pend = realloc(j->j_pend, j->j_pendsize)) == NULL)
			fatal(NULL);
	}
	memcpy(j->j_pend + j->j_pendlen, hdr, n);
	j->j_pendlen += n;
	memcpy(j->j_pend + j->j_pendlen, hash, sizeof(hash) - 1);
	j->j_pendlen += sizeof(hash) - 1;
	j->j_pend[j->j_pendlen++] = '\n';
	memcpy(j->j_pend + j->j_pendlen, text != NULL ? text : "", len);
	j->j_pendlen += len;
	j->j_pend[j->j_pendlen++] = '\n';
}

/*
 * The entries added, appended, and synced (one fdatasync) if sync is
 * set: 0, or -1 (logged) with none of them counted (the next append
 * writes over them).  Appended unsynced, they are synced by the next
 * sync, in order.
 */
static int
journal_append(struct journal *j, int sync)
{
	off_t	 grow;
	ssize_t	 n;
	size_t	 off = 0;

	if (j->j_pendlen == 0)
		return 0;
	if (j->j_fd == -1) {
		errno = EBADF;
		goto fail;
	}
	if (j->j_used + (off_t)j->j_pendlen > j->j_alloc) {
		grow = ((j->j_used + j->j_pendlen) / JOURNAL_CHUNK + 1) *
		    JOURNAL_CHUNK;
		if (zero_at(j->j_fd, j->j_alloc, grow - j->j_alloc) == -1)
			goto fail;
		j->j_alloc = grow;
	}
	while (off < j->j_pendlen) {
		if ((n = pwrite(j->j_fd, j->j_pend + off, j->j_pendlen - off,
		    j->j_used + off)) <= 0)
			goto fail;
		off += n;
	}
	if (sync && fdatasync(j->j_fd) == -1)
		goto fail;
	j->j_used += j->j_pendlen;
	j->j_pendlen = 0;
	return 0;
 fail:
	log_warn("%s: append", j->j_path);
	j->j_pendlen = 0;
	return -1;
}

/* The entries added, appended and synced. */
int
journal_sync(struct journal *j)
{
	return journal_append(j, 1);
}

/*
 * The entries added, appended but not synced: a crash of the daemon
 * finds them, a power cut may not, and the next journal_sync() syncs
 * them with its own.
 */
int
journal_write(struct journal *j)
{
	return journal_append(j, 0);
}

/* Bytes of entries since the last journal_reset(). */
off_t
journal_used(struct journal *j)
{
	return j->j_used;
}

/*
 * An empty journal in place of this one, once every record it holds
 * is synced in its file (the checkpoint): zeroed, synced, renamed over
 * it, and its directory synced.  Entries added and not synced are
 * kept.
 */
int
journal_reset(struct journal *j)
{
	int	 fd;

	if ((fd = open(j->j_tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		log_warn("%s", j->j_tmp);
		return -1;
	}
	if (zero_at(fd, 0, JOURNAL_CHUNK) == -1 || fsync(fd) == -1 ||
	    rename(j->j_tmp, j->j_path) == -1) {
		log_warn("%s", j->j_tmp);
		close(fd);
		(void)unlink(j->j_tmp);
		return -1;
	}
	if (j->j_fd != -1)
		close(j->j_fd);
	j->j_fd = fd;
	j->j_used = 0;
	j->j_alloc = JOURNAL_CHUNK;
	if (journal_file_sync(j->j_dir, 0) == -1) {
		/* Nothing goes in a journal a power cut may take back. */
		close(j->j_fd);
		j->j_fd = -1;
		return -1;
	}
	return 0;
}

/*
 * For a checkpoint, a record's file or directory at path: its
 * writeback started (start), or synced.  -1 (logged) if that failed.
 */
int
journal_file_sync(const char *path, int start)
{
	int	 fd, rv;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		log_warn("checkpoint: %s", path);
		return -1;
	}
	rv = start ? sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) :
	    fsync(fd);
	if (rv == -1)
		log_warn("checkpoint: %s: %s", path, start ? "writeback" :
		    "fsync");
	close(fd);
	return rv;
}

/*
 * VM id's record text written whole into its temporary file tmp (0600,
 * never through a symbolic link), for the caller to rename into place:
 * 0, or -1 (logged, errno set) with tmp removed.
 */
int
journal_tmp_write(const char *id, const char *tmp, const char *text,
    size_t len)
{
	size_t	 off;
	ssize_t	 n = 0;
	int	 fd, saved;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		log_warn("vm %s: %s", id, tmp);
		return -1;
	}
	for (off = 0; off < len; off += n)
		if ((n = write(fd, text + off, len - off)) <= 0)
			break;
	saved = n == 0 ? EIO : errno;
	close(fd);
	if (off < len) {
		unlink(tmp);
		errno = saved;
		log_warn("vm %s: write %s", id, tmp);
		return -1;
	}
	return 0;
}
