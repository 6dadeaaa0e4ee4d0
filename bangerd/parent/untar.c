/*
 * The reader of a release's artifact (banger-manifest(5)): an
 * uncompressed ustar archive holding the programs and man/.  It runs as
 * root in the parent, on bytes whose signature and SHA-256 were already
 * checked, and still trusts nothing in them: only regular files and the
 * man/ directory, plain relative names without "..", sizes within
 * UNTAR_FILE_MAX, each program exactly once; it writes only the named
 * programs (mode 0755, created new, never through a link) into dfd and
 * reads past the man pages.  It reads at its own offsets (pread): the
 * update worker that sent the sealed memfd may keep a descriptor of it
 * and move the file offset they share, which would otherwise splice
 * other parts of the checked archive into what is installed.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "untar.h"

#define TAR_BLOCK	512
#define TAR_FILE_MAX	UNTAR_FILE_MAX

/* See untar.h. */
int
msgf(char *msg, size_t len, const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

static uint64_t
tar_octal(const char *p, size_t n, int *bad)
{
	uint64_t	 v = 0;
	size_t		 i = 0;

	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v > (UINT64_MAX >> 3))
			*bad = 1;
		v = (v << 3) | (uint64_t)(p[i] - '0');
	}
	if (i < n && p[i] != '\0' && p[i] != ' ')
		*bad = 1;
	return v;
}

static int
prog_index(const char *name, const char *const *progs, size_t nprogs)
{
	size_t	 i;

	for (i = 0; i < nprogs; i++)
		if (strcmp(name, progs[i]) == 0)
			return i;
	return -1;
}

/* A member's type flag for a message: '0', or its code if unprintable. */
static const char *
type_str(unsigned char t, char *buf, size_t len)
{
	if (t > ' ' && t < 0x7f)
		snprintf(buf, len, "'%c'", t);
	else
		snprintf(buf, len, "0x%02x", t);
	return buf;
}

/*
 * Read exactly len bytes at off (less only at the end of the file): the
 * count, or -1.  Never read(2): the sender of the artifact may keep a
 * descriptor sharing its file offset and move it under us.
 */
static ssize_t
preadn(int fd, void *buf, size_t len, uint64_t off)
{
	size_t	 done = 0;
	ssize_t	 n;

	while (done < len) {
		if ((n = pread(fd, (char *)buf + done, len - done,
		    (off_t)(off + done))) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

/*
 * Unpack the programs named in progs from the tar archive on fd into
 * dfd.
 * Only regular files and directories, with plain relative names, are
 * accepted; the man pages are read past.
 */
int
untar_programs(int fd, int dfd, const char *const *progs, size_t nprogs,
    char *msg, size_t len)
{
	unsigned char	 hdr[TAR_BLOCK];
	char		 name[TAR_BLOCK], buf[65536], ts[8];
	const char	*why;
	uint64_t	 size, left, skip, off = 0;
	int		 ofd = -1, bad, i, n;
	int		 seen[UNTAR_PROGS_MAX] = { 0 };
	int		 zeros = 0, rv = -1;
	unsigned	 sum, want;

	if (nprogs > UNTAR_PROGS_MAX)
		return msgf(msg, len, "untar: %zu programs", nprogs);
	for (;;) {
		if ((n = preadn(fd, hdr, sizeof(hdr), off)) != TAR_BLOCK) {
			if (n == 0 && zeros > 0)
				break;
			if (n == -1)
				msgf(msg, len, "artifact: %s",
				    strerror(errno));
			else
				msgf(msg, len, "artifact: not a tar archive "
				    "(truncated header)");
			goto out;
		}
		off += TAR_BLOCK;
		for (i = 0; i < TAR_BLOCK && hdr[i] == 0; i++)
			;
		if (i == TAR_BLOCK) {
			if (++zeros == 2)
				break;
			continue;
		}
		zeros = 0;
		bad = 0;
		want = tar_octal((char *)hdr + 148, 8, &bad);
		for (sum = 0, i = 0; i < TAR_BLOCK; i++)
			sum += (i >= 148 && i < 156) ? ' ' : hdr[i];
		if (bad || sum != want || memcmp(hdr + 257, "ustar", 5) != 0) {
			msgf(msg, len, "artifact: not a tar archive (bad "
			    "header checksum or magic)");
			goto out;
		}
		size = tar_octal((char *)hdr + 124, 12, &bad);
		/* prefix (ustar) + "/" + name */
		if (memcmp(hdr + 257, "ustar\0", 6) == 0 && hdr[345] != '\0')
			snprintf(name, sizeof(name), "%.155s/%.100s",
			    hdr + 345, hdr);
		else
			snprintf(name, sizeof(name), "%.100s", hdr);
		type_str(hdr[156], ts, sizeof(ts));
		if (bad) {
			msgf(msg, len, "artifact: refusing entry \"%.100s\" "
			    "(type %s): its size field is not an octal number",
			    name, ts);
			goto out;
		}
		why = NULL;
		if (name[0] == '/')
			why = "an absolute name (only plain relative names "
			    "are taken)";
		else if (strstr(name, "..") != NULL)
			why = "a name with \"..\" (only plain relative names "
			    "are taken)";
		if (why != NULL || size > TAR_FILE_MAX) {
			if (why == NULL)
				snprintf(buf, sizeof(buf), "larger than the "
				    "%llu bytes a member may have",
				    (unsigned long long)TAR_FILE_MAX);
			msgf(msg, len, "artifact: refusing entry \"%.100s\" "
			    "(type %s, size %llu): %s", name, ts,
			    (unsigned long long)size, why ? why : buf);
			goto out;
		}
		switch (hdr[156]) {
		case '5':		/* a directory: only man/ */
			if (strcmp(name, "man/") != 0 &&
			    strcmp(name, "man") != 0) {
				msgf(msg, len, "artifact: unexpected "
				    "directory \"%.100s\"", name);
				goto out;
			}
			continue;
		case '0':
		case '\0':
			break;
		default:
			msgf(msg, len, "artifact: \"%.100s\" is not a regular "
			    "file (type %s)", name, ts);
			goto out;
		}
		if ((i = prog_index(name, progs, nprogs)) != -1) {
			if (seen[i]++) {
				msgf(msg, len, "artifact: %s twice", name);
				goto out;
			}
			if ((ofd = openat(dfd, name, O_WRONLY | O_CREAT |
			    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755)) == -1) {
				msgf(msg, len, "%s: %s", name,
				    strerror(errno));
				goto out;
			}
		} else if (strncmp(name, "man/", 4) != 0 ||
		    strchr(name + 4, '/') != NULL) {
			msgf(msg, len, "artifact: unexpected file \"%.100s\"",
			    name);
			goto out;
		}
		skip = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
		for (left = size + skip; left > 0; left -= n) {
			n = left > sizeof(buf) ? (int)sizeof(buf) : (int)left;
			if (preadn(fd, buf, n, off) != n) {
				msgf(msg, len, "artifact: %s is truncated",
				    name);
				goto out;
			}
			off += n;
			if (ofd != -1 && left > skip) {
				uint64_t data = left - skip;
				size_t	 w = (uint64_t)n < data ? (size_t)n :
				    (size_t)data;

				if (write(ofd, buf, w) != (ssize_t)w) {
					msgf(msg, len, "%s: %s", name,
					    strerror(errno));
					goto out;
				}
			}
		}
		if (ofd != -1) {
			if (fchmod(ofd, 0755) == -1 || fsync(ofd) == -1) {
				msgf(msg, len, "%s: %s", name,
				    strerror(errno));
				goto out;
			}
			close(ofd);
			ofd = -1;
		}
	}
	for (i = 0; i < (int)nprogs; i++)
		if (!seen[i]) {
			msgf(msg, len, "artifact: it has no %s",
			    progs[i]);
			goto out;
		}
	rv = 0;
 out:
	if (ofd != -1)
		close(ofd);
	return rv;
}
