/*
 * Unit tests for bangerd/shared/journal.c, the journal of VM records:
 * what is synced is read back, each VM's last entry (a record, or
 * gone); a torn or altered commit is left out with all that follows it;
 * an emptied journal holds nothing and is zeroed ahead; entries past
 * the space zeroed grow it, and are read back.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regress.h"
#include "log.h"
#include "shared/journal.h"

static char	 dir[] = "/tmp/banger-journal.XXXXXX";
static char	 path[sizeof(dir) + 16];
static int	 unmet_n;
static char	 unmet_ids[64];

static void
unmet(const char *id, void *arg)
{
	(void)arg;
	unmet_n++;
	strlcat(unmet_ids, id, sizeof(unmet_ids));
	strlcat(unmet_ids, " ", sizeof(unmet_ids));
}

/* VM id's last entry as "GEN TEXT", "GEN gone", or "none". */
static const char *
last(struct journal *j, const char *id)
{
	static char	 buf[256];
	const char	*t;
	uint64_t	 gen;
	int		 gone;

	if ((t = journal_find(j, id, &gen, &gone)) == NULL)
		return "none";
	snprintf(buf, sizeof(buf), "%llu %s", (unsigned long long)gen,
	    gone ? "gone" : t);
	return buf;
}

static off_t
fsize(void)
{
	struct stat	 st;

	return stat(path, &st) == -1 ? -1 : st.st_size;
}

/* Bytes before the first zero byte: the entries. */
static off_t
used_on_disk(void)
{
	char	 c;
	off_t	 off = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	while (pread(fd, &c, 1, off) == 1 && c != '\0')
		off++;
	close(fd);
	return off;
}

static void
poke(off_t off, const char *s)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY)) == -1 ||
	    pwrite(fd, s, strlen(s), off) != (ssize_t)strlen(s))
		t_fail("poke", "%s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
}

static void
test_round_trip(void)
{
	struct journal	*j;
	off_t		 first;

	j = journal_open(dir);
	T_CHECK("journal: a new journal holds nothing",
	    strcmp(last(j, "0000000a"), "none") == 0 && journal_used(j) == 0,
	    "got %s, %lld bytes", last(j, "0000000a"),
	    (long long)journal_used(j));
	journal_add(j, "0000000a", 1, "one\n", 4);
	journal_add(j, "0000000b", 1, "two", 3);
	T_CHECK("journal: entries added are not written before a sync",
	    fsize() == 0, "%lld bytes", (long long)fsize());
	T_CHECK("journal: a sync writes them", journal_sync(j) == 0 &&
	    journal_used(j) > 0 && used_on_disk() == journal_used(j),
	    "used %lld, on disk %lld", (long long)journal_used(j),
	    (long long)used_on_disk());
	T_CHECK("journal: ...into space zeroed ahead",
	    fsize() == JOURNAL_CHUNK, "%lld bytes", (long long)fsize());
	first = journal_used(j);
	journal_add(j, "0000000a", 2, "one, later", 10);
	journal_add(j, "0000000b", 2, NULL, 0);
	T_CHECK("journal: a second commit", journal_sync(j) == 0, "failed");
	journal_add(j, "0000000e", 7, NULL, 0);
	T_CHECK("journal: an entry written unsynced is appended",
	    journal_write(j) == 0 && used_on_disk() == journal_used(j),
	    "used %lld, on disk %lld", (long long)journal_used(j),
	    (long long)used_on_disk());
	journal_close(j);

	j = journal_open(dir);
	T_CHECK("journal: read again, a VM's last record",
	    strcmp(last(j, "0000000a"), "2 one, later") == 0, "got %s",
	    last(j, "0000000a"));
	T_CHECK("journal: ...and a VM gone",
	    strcmp(last(j, "0000000b"), "2 gone") == 0, "got %s",
	    last(j, "0000000b"));
	T_CHECK("journal: ...and no other", strcmp(last(j, "0000000c"),
	    "none") == 0, "got %s", last(j, "0000000c"));
	T_CHECK("journal: ...and the one written unsynced",
	    strcmp(last(j, "0000000e"), "7 gone") == 0, "got %s",
	    last(j, "0000000e"));
	journal_close(j);

	/* Torn: the second commit's text altered, as a power cut might. */
	poke(first + 40, "X");
	j = journal_open(dir);
	T_CHECK("journal: an altered commit is left out, the one before "
	    "stands", strcmp(last(j, "0000000a"), "1 one\n") == 0 &&
	    strcmp(last(j, "0000000b"), "1 two") == 0, "got %s and %s",
	    last(j, "0000000a"), last(j, "0000000b"));
	T_CHECK("journal: ...and the next append writes over it",
	    journal_used(j) == first, "used %lld, want %lld",
	    (long long)journal_used(j), (long long)first);
	T_CHECK("journal: ...what the torn commit left is zeroed",
	    used_on_disk() == first, "%lld bytes before a zero, want %lld",
	    (long long)used_on_disk(), (long long)first);
	journal_add(j, "0000000c", 5, "three", 5);
	(void)journal_sync(j);
	journal_close(j);
	j = journal_open(dir);
	unmet_n = 0;
	unmet_ids[0] = '\0';
	(void)last(j, "0000000a");
	journal_unmet(j, unmet, NULL);
	T_CHECK("journal: the VMs not looked up are named",
	    unmet_n == 2 && strcmp(unmet_ids, "0000000b 0000000c ") == 0,
	    "%d: %s", unmet_n, unmet_ids);
	journal_close(j);

	/* A header cut short at the end. */
	poke(used_on_disk(), "R 0000000d 9 500 01");
	j = journal_open(dir);
	T_CHECK("journal: a torn header is left out",
	    strcmp(last(j, "0000000d"), "none") == 0 &&
	    strcmp(last(j, "0000000c"), "5 three") == 0, "got %s, %s",
	    last(j, "0000000d"), last(j, "0000000c"));
	journal_close(j);
}

static void
test_reset_and_grow(void)
{
	struct journal	*j;
	char		 text[1000], id[16];
	int		 i, ok;

	j = journal_open(dir);
	T_CHECK("journal: emptied", journal_reset(j) == 0 &&
	    journal_used(j) == 0 && used_on_disk() == 0 &&
	    fsize() == JOURNAL_CHUNK, "used %lld, on disk %lld, size %lld",
	    (long long)journal_used(j), (long long)used_on_disk(),
	    (long long)fsize());
	journal_close(j);
	j = journal_open(dir);
	T_CHECK("journal: ...and read so", strcmp(last(j, "0000000a"),
	    "none") == 0, "got %s", last(j, "0000000a"));
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "%08x", i);
		journal_add(j, id, i + 1, text, strlen(text));
		if (i % 50 == 49)
			(void)journal_sync(j);
	}
	T_CHECK("journal: 200 KB of entries grow it a chunk at a time",
	    fsize() > 200000 && fsize() % JOURNAL_CHUNK == 0 &&
	    journal_used(j) == used_on_disk(), "size %lld, used %lld",
	    (long long)fsize(), (long long)journal_used(j));
	journal_close(j);
	j = journal_open(dir);
	ok = 1;
	for (i = 0; i < 200 && ok; i++) {
		snprintf(id, sizeof(id), "%08x", i);
		ok = strncmp(last(j, id), "0 ", 0) == 0 &&
		    strtoul(last(j, id), NULL, 10) == (unsigned long)i + 1;
	}
	T_CHECK("journal: ...all read back", ok, "entry %d", i - 1);
	journal_close(j);
}

int
main(void)
{
	char	 cmd[sizeof(dir) + 16];

	log_init(1, 0);
	if (mkdtemp(dir) == NULL) {
		t_fail("mkdtemp", "%s", strerror(errno));
		return t_done();
	}
	snprintf(path, sizeof(path), "%s/" JOURNAL_NAME, dir);
	test_round_trip();
	test_reset_and_grow();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		t_fail("cleanup", "%s", cmd);
	return t_done();
}
