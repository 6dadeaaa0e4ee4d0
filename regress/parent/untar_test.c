/*
 * untar_programs: a release's ustar artifact is unpacked into the named
 * programs, and every archive the reader must not trust is refused with
 * a message naming what is wrong, whatever it wrote left to the caller.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "regress.h"
#include "parent/untar.h"
#include "shared/manifest.h"

static const char *const progs[] = { "bangerd", "bangerctl" };

/* An archive being built in memory. */
struct ar {
	unsigned char	*buf;
	size_t		 len;
};

static void
ar_add(struct ar *a, const void *p, size_t n)
{
	if ((a->buf = realloc(a->buf, a->len + n)) == NULL)
		abort();
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

/* A ustar header; sum_delta spoils the checksum, magic NULL: "ustar". */
static void
ar_header(struct ar *a, const char *name, char type, uint64_t size,
    const char *prefix, const char *magic, int sum_delta)
{
	unsigned char	 h[512];
	unsigned	 sum = 0;
	int		 i;

	memset(h, 0, sizeof(h));
	strncpy((char *)h, name, 100);
	snprintf((char *)h + 100, 8, "%07o", 0755);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	snprintf((char *)h + 136, 12, "%011o", 0);
	h[156] = type;
	memcpy(h + 257, magic ? magic : "ustar", 6);
	memcpy(h + 263, "00", 2);
	if (prefix != NULL)
		strncpy((char *)h + 345, prefix, 155);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum + sum_delta);
	ar_add(a, h, sizeof(h));
}

/* The header checksum again, after a change to the header at h. */
static void
ar_resum(unsigned char *h)
{
	unsigned	 sum = 0;
	int		 i;

	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
}

static void
ar_data(struct ar *a, const char *data, size_t n)
{
	static const unsigned char zero[512];

	ar_add(a, data, n);
	if (n % 512)
		ar_add(a, zero, 512 - n % 512);
}

static void
ar_file(struct ar *a, const char *name, const char *data)
{
	ar_header(a, name, '0', strlen(data), NULL, NULL, 0);
	ar_data(a, data, strlen(data));
}

static void
ar_end(struct ar *a)
{
	static const unsigned char zero[1024];

	ar_add(a, zero, sizeof(zero));
}

/* The programs and a man page, as publish-release.sh packs them. */
static void
ar_good(struct ar *a)
{
	ar_file(a, "bangerctl", "#!ctl\n");
	ar_file(a, "bangerd", "#!daemon\n");
	ar_header(a, "man/", '5', 0, NULL, NULL, 0);
	ar_file(a, "man/bangerd.8", ".Dd\n");
}

static int
memfd_of(const struct ar *a)
{
	int	 fd;

	if ((fd = memfd_create("artifact", MFD_CLOEXEC)) == -1 ||
	    write(fd, a->buf, a->len) != (ssize_t)a->len)
		abort();
	return fd;
}

/* A fresh empty directory. */
static int
dir_new(char *path, size_t len)
{
	int	 dfd;

	snprintf(path, len, "/tmp/untar-test.XXXXXX");
	if (mkdtemp(path) == NULL ||
	    (dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		abort();
	return dfd;
}

static int
dir_count(const char *path)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
dir_remove(int dfd, const char *path)
{
	DIR		*d;
	struct dirent	*de;

	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL)
			(void)unlinkat(dfd, de->d_name, 0);
		closedir(d);
	}
	close(dfd);
	rmdir(path);
}

/* Unpack a, expect a refusal whose message holds want, and nothing of
 * the man pages or other members written. */
static void
refused(const char *name, struct ar *a, const char *want)
{
	char	 dir[64], msg[512] = "";
	int	 fd, dfd, rv;

	fd = memfd_of(a);
	dfd = dir_new(dir, sizeof(dir));
	rv = untar_programs(fd, dfd, progs, 2, msg, sizeof(msg));
	T_CHECK(name, rv == -1 && strstr(msg, want) != NULL,
	    "returned %d, message \"%s\", want \"%s\"", rv, msg, want);
	close(fd);
	dir_remove(dfd, dir);
	free(a->buf);
	a->buf = NULL;
	a->len = 0;
}

static char *
slurp(int dfd, const char *name, struct stat *st)
{
	static char	 buf[4096];
	ssize_t		 n;
	int		 fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW)) == -1)
		return NULL;
	if (fstat(fd, st) == -1 || (n = read(fd, buf, sizeof(buf) - 1)) < 0) {
		close(fd);
		return NULL;
	}
	buf[n] = '\0';
	close(fd);
	return buf;
}

/* The whole of one file in dfd, or NULL; *lenp its length. */
static char *
slurp_all(int dfd, const char *name, size_t max, size_t *lenp)
{
	char	*buf;
	ssize_t	 n;
	int	 fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW)) == -1)
		return NULL;
	if ((buf = malloc(max + 1)) == NULL)
		abort();
	*lenp = 0;
	while ((n = read(fd, buf + *lenp, max + 1 - *lenp)) > 0)
		*lenp += n;
	close(fd);
	return buf;
}

#define RACE_BODY	(2 * 1024 * 1024)
#define RACE_ROUNDS	8

/*
 * The update worker hands the artifact over as a sealed memfd but may
 * keep a descriptor of it, sharing its file offset with the parent's.
 * Whatever it does with that offset, the parent must verify and unpack
 * the same bytes: the archive's own.
 */
static void
test_offset_race(void)
{
	struct ar		 a = { NULL, 0 };
	struct upd_release	 rel;
	char			 dir[64], msg[512] = "", err[UPD_ERR_MAX];
	char			*body, *got;
	uint32_t		 x = 1;
	size_t			 i, len;
	off_t			 off;
	pid_t			 pid;
	int			 fd, dfd, rv, bad = 0, p[2];

	if ((body = malloc(RACE_BODY)) == NULL)
		abort();
	for (i = 0; i < RACE_BODY; i++) {
		x = x * 1103515245 + 12345;
		body[i] = (char)(x >> 16);
	}
	ar_header(&a, "bangerd", '0', RACE_BODY, NULL, NULL, 0);
	ar_data(&a, body, RACE_BODY);
	ar_file(&a, "bangerctl", "#!ctl\n");
	ar_header(&a, "man/", '5', 0, NULL, NULL, 0);
	ar_file(&a, "man/bangerd.8", ".Dd\n");
	ar_end(&a);
	if ((fd = memfd_create("artifact", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1 ||
	    write(fd, a.buf, a.len) != (ssize_t)a.len ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1)
		abort();
	memset(&rel, 0, sizeof(rel));
	strlcpy(rel.ur_url, "https://example.org/banger-1.2.0-x86_64.tar",
	    sizeof(rel.ur_url));
	rel.ur_length = a.len;
	crypto_hash_sha256(rel.ur_sha256, a.buf, a.len);

	/* Reading it must not move the offset the other holder sees. */
	if (lseek(fd, 777, SEEK_SET) != 777)
		abort();
	dfd = dir_new(dir, sizeof(dir));
	rv = untar_programs(fd, dfd, progs, 2, msg, sizeof(msg));
	off = lseek(fd, 0, SEEK_CUR);
	T_CHECK("untar: unpacking leaves the shared file offset alone",
	    rv == 0 && off == 777, "rv %d (%s), offset %lld, want 777", rv,
	    msg, (long long)off);
	dir_remove(dfd, dir);

	/* A holder of the same open file moving its offset all along. */
	if (pipe(p) == -1 || (pid = fork()) == -1)
		abort();
	if (pid == 0) {
		close(p[0]);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		for (x = 7;; x = x * 1103515245 + 12345)
			(void)lseek(fd, (off_t)((x >> 8) % a.len) & ~511,
			    SEEK_SET);
	}
	close(p[1]);
	if (read(p[0], msg, 1) != 1)
		abort();
	close(p[0]);
	for (i = 0; i < RACE_ROUNDS; i++) {
		err[0] = msg[0] = '\0';
		dfd = dir_new(dir, sizeof(dir));
		if ((rv = upd_verify_fd(fd, &rel, 1, err, sizeof(err))) !=
		    UPD_OK) {
			bad++;
			snprintf(msg, sizeof(msg), "verify: %s", err);
		} else if (untar_programs(fd, dfd, progs, 2, msg,
		    sizeof(msg)) == -1)
			bad++;
		else if ((got = slurp_all(dfd, "bangerd", RACE_BODY,
		    &len)) == NULL || len != RACE_BODY ||
		    memcmp(got, body, RACE_BODY) != 0) {
			bad++;
			snprintf(msg, sizeof(msg), "bangerd differs from the "
			    "archive's (%zu bytes)", got ? len : 0);
			free(got);
		} else
			free(got);
		dir_remove(dfd, dir);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	T_CHECK("untar: another holder moving the shared offset changes "
	    "nothing verified or unpacked", bad == 0,
	    "%d of %d rounds went wrong, last: %s", bad, RACE_ROUNDS, msg);
	close(fd);
	free(body);
	free(a.buf);
}

int
main(void)
{
	struct ar	 a = { NULL, 0 };
	struct stat	 st;
	char		 dir[64], msg[512] = "", big[1500], *s;
	int		 fd, dfd, rv;

	/* What publish-release.sh makes. */
	ar_good(&a);
	ar_end(&a);
	fd = memfd_of(&a);
	dfd = dir_new(dir, sizeof(dir));
	rv = untar_programs(fd, dfd, progs, 2, msg, sizeof(msg));
	T_CHECK("untar: a release unpacks", rv == 0, "%s", msg);
	s = slurp(dfd, "bangerd", &st);
	T_CHECK("untar: bangerd has its content",
	    s != NULL && strcmp(s, "#!daemon\n") == 0, "got \"%s\"",
	    s ? s : "(none)");
	T_CHECK("untar: bangerd is mode 0755",
	    s != NULL && (st.st_mode & 07777) == 0755, "mode %o",
	    (unsigned)(st.st_mode & 07777));
	s = slurp(dfd, "bangerctl", &st);
	T_CHECK("untar: bangerctl has its content",
	    s != NULL && strcmp(s, "#!ctl\n") == 0, "got \"%s\"",
	    s ? s : "(none)");
	T_CHECK("untar: only the programs are written",
	    dir_count(dir) == 2, "%d entries", dir_count(dir));
	close(fd);
	dir_remove(dfd, dir);
	free(a.buf);
	a.buf = NULL;
	a.len = 0;

	/* A member spanning several blocks, a prefix-less long body. */
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	ar_file(&a, "bangerd", big);
	ar_file(&a, "bangerctl", "c");
	ar_end(&a);
	fd = memfd_of(&a);
	dfd = dir_new(dir, sizeof(dir));
	rv = untar_programs(fd, dfd, progs, 2, msg, sizeof(msg));
	s = slurp(dfd, "bangerd", &st);
	T_CHECK("untar: a member over several blocks is whole",
	    rv == 0 && s != NULL && strlen(s) == sizeof(big) - 1,
	    "rv %d, %zu bytes", rv, s ? strlen(s) : 0);
	close(fd);
	dir_remove(dfd, dir);
	free(a.buf);
	a.buf = NULL;
	a.len = 0;

	/* Refusals. */
	refused("untar: an empty file", &a, "truncated header");

	ar_add(&a, "not a tar", 9);
	refused("untar: not a tar archive", &a, "truncated header");

	ar_good(&a);
	a.len -= 200;
	refused("untar: a truncated member", &a, "is truncated");

	ar_header(&a, "bangerd", '0', 4, NULL, NULL, 1);
	ar_data(&a, "abcd", 4);
	ar_end(&a);
	refused("untar: a bad header checksum", &a, "bad header checksum");

	ar_header(&a, "bangerd", '0', 4, NULL, "gnutar", 0);
	ar_data(&a, "abcd", 4);
	ar_end(&a);
	refused("untar: a header without the ustar magic", &a,
	    "bad header checksum or magic");

	ar_file(&a, "../bangerd", "x");
	ar_end(&a);
	refused("untar: a name with ..", &a, "artifact: refusing entry "
	    "\"../bangerd\" (type '0', size 1): a name with \"..\" (only "
	    "plain relative names are taken)");

	ar_file(&a, "/usr/local/sbin/bangerd", "x");
	ar_end(&a);
	refused("untar: an absolute name", &a, "artifact: refusing entry "
	    "\"/usr/local/sbin/bangerd\" (type '0', size 1): an absolute "
	    "name (only plain relative names are taken)");

	ar_file(&a, "bangerd", "x");
	ar_header(&a, "bangerd", '0', 1, "..", NULL, 0);
	ar_data(&a, "y", 1);
	ar_end(&a);
	refused("untar: a prefix with ..", &a, "refusing entry \"../bangerd\"");

	ar_header(&a, "bangerd", '2', 0, NULL, NULL, 0);
	ar_end(&a);
	refused("untar: a symlink", &a, "\"bangerd\" is not a regular file "
	    "(type '2')");

	ar_header(&a, "bangerd", '1', 0, NULL, NULL, 0);
	ar_end(&a);
	refused("untar: a hard link", &a, "is not a regular file (type '1')");

	ar_header(&a, "dev", '3', 0, NULL, NULL, 0);
	ar_end(&a);
	refused("untar: a device node", &a, "\"dev\" is not a regular file");

	ar_header(&a, "etc/", '5', 0, NULL, NULL, 0);
	ar_end(&a);
	refused("untar: another directory", &a,
	    "unexpected directory \"etc/\"");

	ar_file(&a, "bangerd", "x");
	ar_file(&a, "bangerctl", "x");
	ar_file(&a, "evil.so", "x");
	ar_end(&a);
	refused("untar: another file", &a, "unexpected file \"evil.so\"");

	ar_file(&a, "man/sub/x.8", "x");
	ar_end(&a);
	refused("untar: a file below man/", &a,
	    "unexpected file \"man/sub/x.8\"");

	ar_file(&a, "bangerd", "x");
	ar_file(&a, "bangerd", "y");
	ar_end(&a);
	refused("untar: a program twice", &a, "bangerd twice");

	ar_file(&a, "bangerd", "x");
	ar_end(&a);
	refused("untar: a program missing", &a, "it has no bangerctl");

	ar_header(&a, "bangerd", '0', UNTAR_FILE_MAX + 1, NULL, NULL, 0);
	ar_end(&a);
	refused("untar: a member over the size cap", &a, "artifact: refusing "
	    "entry \"bangerd\" (type '0', size 268435457): larger than the "
	    "268435456 bytes a member may have");

	ar_header(&a, "bangerd", '0', 4, NULL, NULL, 0);
	memcpy(a.buf + 124, "0000000004x", 11);
	ar_resum(a.buf);
	ar_data(&a, "abcd", 4);
	ar_end(&a);
	refused("untar: a size field that is not octal", &a, "artifact: "
	    "refusing entry \"bangerd\" (type '0'): its size field is not an "
	    "octal number");

	ar_header(&a, "man/x.8", 0x01, 0, NULL, NULL, 0);
	ar_end(&a);
	refused("untar: an unprintable type is shown by its code", &a,
	    "artifact: \"man/x.8\" is not a regular file (type 0x01)");

	/* A program name that is already there is never written through. */
	ar_good(&a);
	ar_end(&a);
	fd = memfd_of(&a);
	dfd = dir_new(dir, sizeof(dir));
	if (symlinkat("/etc/passwd", dfd, "bangerd") == -1)
		abort();
	rv = untar_programs(fd, dfd, progs, 2, msg, sizeof(msg));
	T_CHECK("untar: an existing name is not written through", rv == -1 &&
	    strstr(msg, "bangerd: File exists") != NULL, "rv %d: %s", rv, msg);
	close(fd);
	dir_remove(dfd, dir);
	free(a.buf);

	if (sodium_init() < 0)
		abort();
	test_offset_race();
	return t_done();
}
