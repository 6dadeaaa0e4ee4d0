/*
 * IPAM for the net worker: which VM has which address in the bridge's
 * subnet.  Addresses go out lowest free first; the bridge's own address
 * and the subnet's network and broadcast addresses never do.  The MAC
 * of a guest is 02:fc: and the four bytes of its address, so it is as
 * stable and as unique within the subnet as the address.
 *
 * The table is one text file, IPAM_TABLE, one "VMID ADDRESS" line per
 * VM, in a directory the caller hands over as an fd (the worker runs
 * chrooted, so no absolute path is involved).  Every change rewrites it
 * whole: temporary file, rename.  Nothing is synced: the table is not
 * what a power cut must keep.  The owner of the records (bangerd's
 * parent) records each address it is given before anyone hears of it,
 * and at every start names every VM it holds with its address
 * (ipam_assign), then prunes the others (ipam_prune); so a table a
 * power cut left older, empty or torn only has to be readable, or set
 * aside (the caller's: a table that cannot be parsed is refused with
 * EBADMSG).  The table in memory is what the last rename committed,
 * but for the addresses ipam_forget() freed since: they are written
 * with the next change, or by ipam_flush().  A table ipam_defer() was
 * called on writes no change at once: ipam_flush() writes them all,
 * so that a caller can write a table of thousands once for many
 * changes (each write is the whole table), not once for each.
 *
 * Entries are kept sorted by address (the lowest free one is found in
 * one walk) and, as copies, by VM id (ipam_find): a lookup, a change or
 * a release costs a binary search and a memmove, not a scan.
 *
 * System calls (for the net worker's seccomp allow-list): openat,
 * fstat (newfstatat), read, write, renameat, unlinkat (only to clean up
 * after a failed save), close.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipam.h"
#include "log.h"
#include "validate.h"

#define IPAM_TABLE_MAX	(8 * 1024 * 1024)	/* bytes; ~400k VMs */
#define IPAM_LINE_MAX	(VM_ID_LEN + 1 + INET_ADDRSTRLEN + 1)

struct ipam_entry {
	uint32_t	 ie_addr;		/* host byte order */
	char		 ie_vmid[VM_ID_LEN + 1];
};

struct ipam {
	int		 ip_dirfd;
	uint32_t	 ip_net;		/* host byte order */
	uint32_t	 ip_bcast;
	uint32_t	 ip_bridge;
	int		 ip_prefix;
	char		 ip_subnet[INET_ADDRSTRLEN + 3];	/* a.b.c.d/nn */
	struct ipam_entry *ip_ent;		/* sorted by address */
	struct ipam_entry *ip_byid;		/* the same, by VM id */
	size_t		 ip_n;
	size_t		 ip_cap;
	int		 ip_dirty;		/* changed, not saved */
	int		 ip_defer;		/* changes saved by ipam_flush */
	char		 ip_err[IPAM_ERR_SIZE];
};

static int	ipam_error(struct ipam *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	ipam_check_id(struct ipam *, const char *);
static int	ipam_find(const struct ipam *, const char *, size_t *);
static int	ipam_find_id(const struct ipam *, const char *, size_t *);
static int	ipam_index(struct ipam *);
static int	ipam_host(const struct ipam *, uint32_t);
static int	ipam_insert(struct ipam *, size_t, uint32_t, const char *);
static void	ipam_remove(struct ipam *, size_t);
static int	ipam_load(struct ipam *);
static int	ipam_parse(struct ipam *, char *, size_t);
static int	ipam_save(struct ipam *, int *);
static int	write_all(int, const char *, size_t);

/* Record why the last call failed; returns -1 with errno set to err. */
static int
ipam_error(struct ipam *ip, int err, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(ip->ip_err, sizeof(ip->ip_err), fmt, ap);
	va_end(ap);
	errno = err;
	return (-1);
}

const char *
ipam_strerror(const struct ipam *ip)
{
	return (ip->ip_err);
}

static int
ipam_check_id(struct ipam *ip, const char *vmid)
{
	const char	*why;

	if (vmid == NULL)
		return (ipam_error(ip, EINVAL, "vm id: null"));
	if (valid_vm_id(vmid, strnlen(vmid, VM_ID_LEN + 1), &why) == -1)
		return (ipam_error(ip, EINVAL, "vm id \"%.*s\": %s",
		    VM_ID_LEN + 1, vmid, why));
	return (0);
}

/* Whether a (host order) address may be handed to a VM. */
static int
ipam_host(const struct ipam *ip, uint32_t a)
{
	if (ip->ip_prefix > 30)
		return (0);
	return (a > ip->ip_net && a < ip->ip_bcast && a != ip->ip_bridge);
}

static int
entry_id_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct ipam_entry *)a)->ie_vmid,
	    ((const struct ipam_entry *)b)->ie_vmid));
}

/*
 * Where vmid is in ip_byid (0), or would go (-1); *idx either way.
 */
static int
ipam_find_id(const struct ipam *ip, const char *vmid, size_t *idx)
{
	size_t	 lo = 0, hi = ip->ip_n, mid;
	int	 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(ip->ip_byid[mid].ie_vmid, vmid)) == 0) {
			*idx = mid;
			return (0);
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*idx = lo;
	return (-1);
}

/* Where addr (host order) is in ip_ent, or would go. */
static size_t
ipam_at(const struct ipam *ip, uint32_t addr)
{
	size_t	 lo = 0, hi = ip->ip_n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ip->ip_ent[mid].ie_addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

/* The index in ip_ent of vmid's entry. */
static int
ipam_find(const struct ipam *ip, const char *vmid, size_t *idx)
{
	size_t	 i;

	if (ip->ip_n == 0 || ipam_find_id(ip, vmid, &i) == -1)
		return (-1);
	if (idx != NULL)
		*idx = ipam_at(ip, ip->ip_byid[i].ie_addr);
	return (0);
}

/* ip_byid again from ip_ent, after ip_ent was put back whole. */
static int
ipam_index(struct ipam *ip)
{
	if (ip->ip_n == 0)
		return (0);
	memcpy(ip->ip_byid, ip->ip_ent, ip->ip_n * sizeof(*ip->ip_ent));
	qsort(ip->ip_byid, ip->ip_n, sizeof(*ip->ip_byid), entry_id_cmp);
	return (0);
}

static int
ipam_insert(struct ipam *ip, size_t at, uint32_t addr, const char *vmid)
{
	struct ipam_entry	*ent, *byid;
	size_t			 cap, j;

	if (ip->ip_n == ip->ip_cap) {
		cap = ip->ip_cap ? ip->ip_cap * 2 : 16;
		if ((ent = reallocarray(ip->ip_ent, cap, sizeof(*ent))) == NULL)
			return (ipam_error(ip, errno, "%s", strerror(errno)));
		ip->ip_ent = ent;
		if ((byid = reallocarray(ip->ip_byid, cap,
		    sizeof(*byid))) == NULL)
			return (ipam_error(ip, errno, "%s", strerror(errno)));
		ip->ip_byid = byid;
		ip->ip_cap = cap;
	}
	memmove(&ip->ip_ent[at + 1], &ip->ip_ent[at],
	    (ip->ip_n - at) * sizeof(*ip->ip_ent));
	ip->ip_ent[at].ie_addr = addr;
	strlcpy(ip->ip_ent[at].ie_vmid, vmid, sizeof(ip->ip_ent[at].ie_vmid));
	(void)ipam_find_id(ip, vmid, &j);
	memmove(&ip->ip_byid[j + 1], &ip->ip_byid[j],
	    (ip->ip_n - j) * sizeof(*ip->ip_byid));
	ip->ip_byid[j] = ip->ip_ent[at];
	ip->ip_n++;
	return (0);
}

static void
ipam_remove(struct ipam *ip, size_t at)
{
	size_t	 j;

	if (ipam_find_id(ip, ip->ip_ent[at].ie_vmid, &j) == 0) {
		memmove(&ip->ip_byid[j], &ip->ip_byid[j + 1],
		    (ip->ip_n - j - 1) * sizeof(*ip->ip_byid));
	}
	memmove(&ip->ip_ent[at], &ip->ip_ent[at + 1],
	    (ip->ip_n - at - 1) * sizeof(*ip->ip_ent));
	ip->ip_n--;
}

/*
 * net is the subnet (host bits are ignored), bridge the host's address
 * on it.  dirfd is the directory holding the table (AT_FDCWD works);
 * the handle keeps its own descriptor on it.
 */
struct ipam *
ipam_open(int dirfd, struct in_addr net, int prefix, struct in_addr bridge,
    char *err, size_t errlen)
{
	struct ipam	*ip;
	const char	*why;
	uint32_t	 mask;
	char		 nbuf[INET_ADDRSTRLEN];
	int		 saved;

	if (valid_prefix_num(prefix, &why) == -1 ||
	    valid_bridge_addr(bridge, prefix, &why) == -1) {
		if (err != NULL)
			snprintf(err, errlen, "bridge address: %s", why);
		errno = EINVAL;
		return (NULL);
	}
	mask = prefix == 0 ? 0 : 0xffffffffU << (32 - prefix);
	if ((ntohl(bridge.s_addr) & mask) != (ntohl(net.s_addr) & mask)) {
		if (err != NULL)
			snprintf(err, errlen, "bridge address not in its "
			    "subnet");
		errno = EINVAL;
		return (NULL);
	}
	if ((ip = calloc(1, sizeof(*ip))) == NULL) {
		if (err != NULL)
			snprintf(err, errlen, "%s", strerror(errno));
		return (NULL);
	}
	ip->ip_dirfd = -1;
	ip->ip_prefix = prefix;
	ip->ip_net = ntohl(net.s_addr) & mask;
	ip->ip_bcast = ip->ip_net | ~mask;
	ip->ip_bridge = ntohl(bridge.s_addr);
	net.s_addr = htonl(ip->ip_net);
	inet_ntop(AF_INET, &net, nbuf, sizeof(nbuf));
	snprintf(ip->ip_subnet, sizeof(ip->ip_subnet), "%s/%d", nbuf, prefix);

	/* Our own descriptor of the directory. */
	if ((ip->ip_dirfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		ipam_error(ip, errno, "state directory: %s", strerror(errno));
		goto fail;
	}
	if (ipam_load(ip) == -1)
		goto fail;
	return (ip);

 fail:
	saved = errno;
	if (err != NULL)
		strlcpy(err, ip->ip_err, errlen);
	ipam_close(ip);
	errno = saved;
	return (NULL);
}

void
ipam_close(struct ipam *ip)
{
	if (ip == NULL)
		return;
	if (ip->ip_dirfd != -1)
		close(ip->ip_dirfd);
	free(ip->ip_ent);
	free(ip->ip_byid);
	free(ip);
}

static int
ipam_load(struct ipam *ip)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = openat(ip->ip_dirfd, IPAM_TABLE, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return (0);
		return (ipam_error(ip, errno, "%s: %s", IPAM_TABLE,
		    strerror(errno)));
	}
	if (fstat(fd, &st) == -1) {
		ipam_error(ip, errno, "%s: %s", IPAM_TABLE, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		ipam_error(ip, EINVAL, "%s: not a regular file", IPAM_TABLE);
		goto fail;
	}
	if (st.st_size > IPAM_TABLE_MAX) {
		ipam_error(ip, EFBIG, "%s: larger than %d bytes", IPAM_TABLE,
		    IPAM_TABLE_MAX);
		goto fail;
	}
	if ((buf = malloc(st.st_size + 1)) == NULL) {
		ipam_error(ip, errno, "%s: %s", IPAM_TABLE, strerror(errno));
		goto fail;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			ipam_error(ip, errno, "%s: %s", IPAM_TABLE,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		off += n;
	}
	close(fd);
	fd = -1;
	if (ipam_parse(ip, buf, off) == -1)
		goto fail;
	free(buf);
	return (0);

 fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	free(buf);
	errno = saved;
	return (-1);
}

/*
 * A malformed or contradictory table (bad line, a VM or an address
 * twice) is refused (EBADMSG): guessing could hand one address to two
 * running VMs.  Records outside the current subnet (the bridge was
 * renumbered) are dropped: those VMs get new addresses.
 */
static int
ipam_parse(struct ipam *ip, char *buf, size_t len)
{
	struct in_addr	 a;
	const char	*why;
	char		*line, *next, *sp, *end = buf + len;
	size_t		 lineno = 0, at;
	uint32_t	 addr;

	for (line = buf; line < end; line = next) {
		lineno++;
		if ((next = memchr(line, '\n', end - line)) == NULL) {
			return (ipam_error(ip, EBADMSG, "%s:%zu: no newline at "
			    "end", IPAM_TABLE, lineno));
		}
		*next++ = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		if ((sp = strchr(line, ' ')) == NULL)
			return (ipam_error(ip, EBADMSG, "%s:%zu: not \"vmid "
			    "address\"", IPAM_TABLE, lineno));
		*sp++ = '\0';
		if (valid_vm_id(line, strlen(line), &why) == -1)
			return (ipam_error(ip, EBADMSG, "%s:%zu: vm id: %s",
			    IPAM_TABLE, lineno, why));
		if (valid_ipv4(sp, strlen(sp), &a, &why) == -1)
			return (ipam_error(ip, EBADMSG, "%s:%zu: address: %s",
			    IPAM_TABLE, lineno, why));
		addr = ntohl(a.s_addr);
		if (ipam_find(ip, line, NULL) == 0)
			return (ipam_error(ip, EBADMSG, "%s:%zu: vm %s listed "
			    "twice", IPAM_TABLE, lineno, line));
		if (!ipam_host(ip, addr)) {
			log_warnx("%s:%zu: vm %s: %s is not a host address of "
			    "%s, dropped", IPAM_TABLE, lineno, line, sp,
			    ip->ip_subnet);
			continue;
		}
		at = ipam_at(ip, addr);
		if (at < ip->ip_n && ip->ip_ent[at].ie_addr == addr)
			return (ipam_error(ip, EBADMSG, "%s:%zu: %s given to "
			    "vm %s and vm %s", IPAM_TABLE, lineno, sp,
			    ip->ip_ent[at].ie_vmid, line));
		if (ipam_insert(ip, at, addr, line) == -1)
			return (-1);
	}
	return (0);
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		buf += n;
		len -= n;
	}
	return (0);
}

/*
 * Write the table to a temporary file and rename it over the table;
 * not synced (see the top).  *committed says whether the rename
 * happened.
 */
static int
ipam_save(struct ipam *ip, int *committed)
{
	struct in_addr	 a;
	char		*buf, abuf[INET_ADDRSTRLEN];
	const char	*hdr = "# banger ipam: vm id, address\n";
	size_t		 len, cap, i;
	int		 fd, saved;

	*committed = 0;
	cap = strlen(hdr) + ip->ip_n * IPAM_LINE_MAX + 1;
	if ((buf = malloc(cap)) == NULL)
		return (ipam_error(ip, errno, "%s", strerror(errno)));
	len = strlcpy(buf, hdr, cap);
	for (i = 0; i < ip->ip_n; i++) {
		a.s_addr = htonl(ip->ip_ent[i].ie_addr);
		inet_ntop(AF_INET, &a, abuf, sizeof(abuf));
		len += snprintf(buf + len, cap - len, "%s %s\n",
		    ip->ip_ent[i].ie_vmid, abuf);
	}

	if ((fd = openat(ip->ip_dirfd, IPAM_TABLE_TMP, O_WRONLY | O_CREAT |
	    O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		saved = errno;
		free(buf);
		return (ipam_error(ip, saved, "%s: %s", IPAM_TABLE_TMP,
		    strerror(saved)));
	}
	if (write_all(fd, buf, len) == -1) {
		saved = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) == -1) {
		saved = errno;
		goto fail;
	}
	free(buf);
	if (renameat(ip->ip_dirfd, IPAM_TABLE_TMP, ip->ip_dirfd,
	    IPAM_TABLE) == -1) {
		saved = errno;
		unlinkat(ip->ip_dirfd, IPAM_TABLE_TMP, 0);
		return (ipam_error(ip, saved, "%s: rename: %s", IPAM_TABLE,
		    strerror(saved)));
	}
	*committed = 1;
	ip->ip_dirty = 0;
	return (0);

 fail:
	free(buf);
	unlinkat(ip->ip_dirfd, IPAM_TABLE_TMP, 0);
	return (ipam_error(ip, saved, "%s: %s", IPAM_TABLE_TMP,
	    strerror(saved)));
}

/*
 * The table as changed, written now, or (ipam_defer) by ipam_flush():
 * for a deferred table nothing is written here, and the change stands.
 */
static int
ipam_store(struct ipam *ip, int *committed)
{
	if (ip->ip_defer) {
		ip->ip_dirty = 1;
		*committed = 1;
		return (0);
	}
	return (ipam_save(ip, committed));
}

/* Changes written by ipam_flush() only, from now on. */
void
ipam_defer(struct ipam *ip)
{
	ip->ip_defer = 1;
}

/*
 * The VM's address: the one it has, else the lowest free one, saved
 * (or, ipam_defer, to be) before it is returned.  mac (IPAM_MAC_SIZE
 * bytes) may be NULL.
 */
int
ipam_alloc(struct ipam *ip, const char *vmid, struct in_addr *addr,
    char *mac)
{
	uint32_t	 cand, first, last;
	size_t		 i, at;
	int		 committed, saved;

	if (ipam_check_id(ip, vmid) == -1)
		return (-1);
	if (ipam_find(ip, vmid, &i) == 0) {
		addr->s_addr = htonl(ip->ip_ent[i].ie_addr);
		if (mac != NULL)
			mac_from_addr(*addr, mac);
		return (0);
	}

	/* Walk candidates and the sorted table together. */
	first = ip->ip_net + 1;
	last = ip->ip_bcast - 1;
	at = 0;
	for (cand = first; ip->ip_prefix <= 30 && cand <= last; cand++) {
		if (cand == ip->ip_bridge)
			continue;
		while (at < ip->ip_n && ip->ip_ent[at].ie_addr < cand)
			at++;
		if (at < ip->ip_n && ip->ip_ent[at].ie_addr == cand)
			continue;
		break;
	}
	if (ip->ip_prefix > 30 || cand > last)
		return (ipam_error(ip, EADDRNOTAVAIL,
		    "no free address in %s", ip->ip_subnet));

	if (ipam_insert(ip, at, cand, vmid) == -1)
		return (-1);
	if (ipam_store(ip, &committed) == -1) {
		saved = errno;
		if (!committed)
			ipam_remove(ip, at);
		errno = saved;
		return (-1);
	}
	addr->s_addr = htonl(cand);
	if (mac != NULL)
		mac_from_addr(*addr, mac);
	return (0);
}

/* A copy of the entries, for ipam_commit to put back. */
static int
ipam_keep(struct ipam *ip, struct ipam_entry **oldp)
{
	*oldp = NULL;
	if (ip->ip_n == 0)
		return (0);
	if ((*oldp = reallocarray(NULL, ip->ip_n, sizeof(**oldp))) == NULL)
		return (ipam_error(ip, errno, "%s", strerror(errno)));
	memcpy(*oldp, ip->ip_ent, ip->ip_n * sizeof(**oldp));
	return (0);
}

/*
 * Save the table as changed (changed: 0, else the change failed): if it
 * did not reach the disk, the n entries kept are the table again (the
 * room is there: the table never shrinks).
 */
static int
ipam_commit(struct ipam *ip, int changed, struct ipam_entry *old, size_t n)
{
	int	 committed = 0, saved;

	if (changed == -1 || ipam_store(ip, &committed) == -1) {
		saved = errno;
		if (!committed) {
			if (n > 0)
				memcpy(ip->ip_ent, old, n * sizeof(*old));
			ip->ip_n = n;
			ipam_index(ip);
		}
		free(old);
		errno = saved;
		return (-1);
	}
	free(old);
	return (0);
}

/*
 * The VM has exactly this address (its owner's record says so): taken
 * from whichever entry holds it, and the VM's old one, if another,
 * freed.  For a table that must follow records kept elsewhere.
 */
int
ipam_assign(struct ipam *ip, const char *vmid, struct in_addr addr)
{
	struct ipam_entry	*old;
	uint32_t		 a = ntohl(addr.s_addr);
	size_t			 i, at, n = ip->ip_n;

	if (ipam_check_id(ip, vmid) == -1)
		return (-1);
	if (!ipam_host(ip, a))
		return (ipam_error(ip, EINVAL, "%s is not a VM address in %s",
		    inet_ntoa(addr), ip->ip_subnet));
	if (ipam_find(ip, vmid, &i) == 0 && ip->ip_ent[i].ie_addr == a)
		return (0);
	if (ipam_keep(ip, &old) == -1)
		return (-1);
	if (ipam_find(ip, vmid, &i) == 0)
		ipam_remove(ip, i);
	if ((at = ipam_at(ip, a)) < ip->ip_n && ip->ip_ent[at].ie_addr == a)
		ipam_remove(ip, at);
	return (ipam_commit(ip, ipam_insert(ip, at, a, vmid), old, n));
}

/*
 * Drop every entry keep() says no to, in one write of the table.
 * Returns how many went, or -1.
 */
int
ipam_prune(struct ipam *ip, int (*keep)(const char *, void *), void *arg)
{
	struct ipam_entry	*old;
	size_t			 i, n = ip->ip_n, dropped = 0;

	if (ipam_keep(ip, &old) == -1)
		return (-1);
	for (i = 0; i < ip->ip_n; ) {
		if (keep(ip->ip_ent[i].ie_vmid, arg))
			i++;
		else {
			ipam_remove(ip, i);
			dropped++;
		}
	}
	if (dropped == 0) {
		free(old);
		return (0);
	}
	if (ipam_commit(ip, 0, old, n) == -1)
		return (-1);
	return ((int)dropped);
}

int
ipam_lookup(struct ipam *ip, const char *vmid, struct in_addr *addr,
    char *mac)
{
	size_t	 i;

	if (ipam_check_id(ip, vmid) == -1)
		return (-1);
	if (ipam_find(ip, vmid, &i) == -1)
		return (ipam_error(ip, ENOENT, "vm %s has no address", vmid));
	addr->s_addr = htonl(ip->ip_ent[i].ie_addr);
	if (mac != NULL)
		mac_from_addr(*addr, mac);
	return (0);
}

/* Free the VM's address; ENOENT if it had none. */
int
ipam_release(struct ipam *ip, const char *vmid)
{
	struct ipam_entry	 saved_ent;
	size_t			 i;
	int			 committed, saved;

	if (ipam_check_id(ip, vmid) == -1)
		return (-1);
	if (ipam_find(ip, vmid, &i) == -1)
		return (ipam_error(ip, ENOENT, "vm %s has no address", vmid));
	saved_ent = ip->ip_ent[i];
	ipam_remove(ip, i);
	if (ipam_store(ip, &committed) == -1) {
		saved = errno;
		if (!committed)		/* cannot fail: the room is there */
			ipam_insert(ip, i, saved_ent.ie_addr,
			    saved_ent.ie_vmid);
		errno = saved;
		return (-1);
	}
	return (0);
}

/*
 * Free the VM's address in memory only (ENOENT if it had none): the
 * table on disk keeps it until the next change or ipam_flush(), so that
 * many releases cost one write.  For a table that follows records kept
 * elsewhere (see the top of the file).
 */
int
ipam_forget(struct ipam *ip, const char *vmid)
{
	size_t	 i;

	if (ipam_check_id(ip, vmid) == -1)
		return (-1);
	if (ipam_find(ip, vmid, &i) == -1)
		return (ipam_error(ip, ENOENT, "vm %s has no address", vmid));
	ipam_remove(ip, i);
	ip->ip_dirty = 1;
	return (0);
}

/*
 * The addresses ipam_forget() freed, and every change of a deferred
 * table, written; 0 if there were none.
 */
int
ipam_flush(struct ipam *ip)
{
	int	 committed;

	if (!ip->ip_dirty)
		return (0);
	return (ipam_save(ip, &committed));
}

/* The callback must not change the table. */
int
ipam_foreach(struct ipam *ip, ipam_cb cb, void *arg)
{
	struct in_addr	 a;
	char		 mac[IPAM_MAC_SIZE];
	size_t		 i;

	for (i = 0; i < ip->ip_n; i++) {
		a.s_addr = htonl(ip->ip_ent[i].ie_addr);
		mac_from_addr(a, mac);
		if (cb(ip->ip_ent[i].ie_vmid, a, mac, arg) == -1)
			return (-1);
	}
	return (0);
}

size_t
ipam_count(const struct ipam *ip)
{
	return (ip->ip_n);
}
