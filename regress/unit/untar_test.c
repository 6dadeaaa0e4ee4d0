/*
 * untar_programs: a release's ustar artifact is unpacked into the named
 * programs, and every archive the reader must not trust is refused with
 * a message naming what is wrong, whatever it wrote left to the caller.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regress.h"
#include "untar.h"

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
	refused("untar: a name with ..", &a, "refusing entry \"../bangerd\"");

	ar_file(&a, "/usr/local/sbin/bangerd", "x");
	ar_end(&a);
	refused("untar: an absolute name", &a,
	    "refusing entry \"/usr/local/sbin/bangerd\"");

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
	refused("untar: a member over the size cap", &a,
	    "refusing entry \"bangerd\"");

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

	return t_done();
}
