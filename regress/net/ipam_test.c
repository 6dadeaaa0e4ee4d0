/*
 * Unit tests for bangerd/net/ipam.c: addresses go out lowest free first,
 * skip the bridge, come back after release, survive a reopen, run out
 * with a message naming the subnet; bad VM ids are refused; MACs are
 * 02:fc: plus the address.  Each test works in its own directory under
 * /tmp, removed at the end.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/ipam.h"
#include "regress.h"
#include "validate.h"

static int		 tdir(char *, size_t);
static void		 rmtree(const char *);
static struct in_addr	 ip4(const char *);
static const char	*ntoa(struct in_addr);
static struct ipam	*open_net(int, const char *, int, const char *);
static char		*slurp(int, const char *);
static void		 test_order(void);
static void		 test_release(void);
static void		 test_persist(void);
static void		 test_exhaust(void);
static void		 test_bad_ids(void);
static void		 test_mac(void);
static void		 test_table_refused(void);
static void		 test_renumbered(void);
static void		 test_write_failure(void);
static void		 test_foreach(void);
static void		 test_open_refused(void);
static void		 test_assign(void);
static void		 test_prune(void);
static void		 test_forget(void);
static void		 test_many(void);

static int
tdir(char *path, size_t len)
{
	int	 fd;

	snprintf(path, len, "/tmp/banger-ipam-test.XXXXXX");
	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		perror(path);
		exit(1);
	}
	return (fd);
}

/* The test directories hold files and at most one empty directory. */
static void
rmtree(const char *path)
{
	char	 p[512];

	snprintf(p, sizeof(p), "%s/%s", path, IPAM_TABLE);
	unlink(p);
	snprintf(p, sizeof(p), "%s/%s", path, IPAM_TABLE_TMP);
	if (unlink(p) == -1 && errno == EISDIR)
		rmdir(p);
	rmdir(path);
}

static struct in_addr
ip4(const char *s)
{
	struct in_addr	 a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "bad address %s\n", s);
		exit(1);
	}
	return (a);
}

static const char *
ntoa(struct in_addr a)
{
	static char	 buf[4][INET_ADDRSTRLEN];
	static int	 n;

	n = (n + 1) % 4;
	return (inet_ntop(AF_INET, &a, buf[n], sizeof(buf[n])));
}

static struct ipam *
open_net(int dirfd, const char *net, int prefix, const char *bridge)
{
	struct ipam	*ip;
	char		 err[IPAM_ERR_SIZE];

	if ((ip = ipam_open(dirfd, ip4(net), prefix, ip4(bridge), err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "ipam_open %s/%d: %s\n", net, prefix, err);
		exit(1);
	}
	return (ip);
}

static char *
slurp(int dirfd, const char *name)
{
	static char	 buf[65536];
	ssize_t		 n;
	int		 fd;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return (NULL);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return (buf);
}

static void
test_order(void)
{
	struct ipam	*ip;
	struct in_addr	 a, b, c, again;
	char		 path[64];
	int		 dfd;

	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "172.16.0.0", 24, "172.16.0.1");
	T_CHECK("ipam: empty table on a new directory", ipam_count(ip) == 0,
	    "%zu entries", ipam_count(ip));
	T_CHECK("ipam: first allocation succeeds",
	    ipam_alloc(ip, "0000000a", &a, NULL) == 0, "%s",
	    ipam_strerror(ip));
	ipam_alloc(ip, "0000000b", &b, NULL);
	ipam_alloc(ip, "0000000c", &c, NULL);
	T_CHECK("ipam: lowest free first, skipping network and bridge",
	    strcmp(ntoa(a), "172.16.0.2") == 0 &&
	    strcmp(ntoa(b), "172.16.0.3") == 0 &&
	    strcmp(ntoa(c), "172.16.0.4") == 0, "got %s %s %s", ntoa(a),
	    ntoa(b), ntoa(c));
	T_CHECK("ipam: allocating again for a VM returns its address",
	    ipam_alloc(ip, "0000000b", &again, NULL) == 0 &&
	    again.s_addr == b.s_addr && ipam_count(ip) == 3, "got %s",
	    ntoa(again));
	T_CHECK("ipam: lookup returns the allocated address",
	    ipam_lookup(ip, "0000000c", &again, NULL) == 0 &&
	    again.s_addr == c.s_addr, "got %s", ntoa(again));
	ipam_close(ip);

	close(dfd);
	rmtree(path);

	/* A bridge in the middle of the subnet is skipped too. */
	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "10.9.0.0", 29, "10.9.0.3");
	ipam_alloc(ip, "00000001", &a, NULL);
	ipam_alloc(ip, "00000002", &b, NULL);
	ipam_alloc(ip, "00000003", &c, NULL);
	T_CHECK("ipam: a bridge address inside the range is skipped",
	    strcmp(ntoa(a), "10.9.0.1") == 0 &&
	    strcmp(ntoa(b), "10.9.0.2") == 0 &&
	    strcmp(ntoa(c), "10.9.0.4") == 0, "got %s %s %s", ntoa(a),
	    ntoa(b), ntoa(c));
	ipam_close(ip);
	close(dfd);
	rmtree(path);
}

static void
test_release(void)
{
	struct ipam	*ip;
	struct in_addr	 a, b, c, d;
	char		 path[64];
	int		 dfd;

	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "172.16.0.0", 24, "172.16.0.1");
	ipam_alloc(ip, "00000001", &a, NULL);
	ipam_alloc(ip, "00000002", &b, NULL);
	ipam_alloc(ip, "00000003", &c, NULL);
	T_CHECK("ipam: release of an allocated VM succeeds",
	    ipam_release(ip, "00000002") == 0, "%s", ipam_strerror(ip));
	T_CHECK("ipam: a released VM has no address",
	    ipam_lookup(ip, "00000002", &d, NULL) == -1 && errno == ENOENT &&
	    strcmp(ipam_strerror(ip), "vm 00000002 has no address") == 0,
	    "errno %d, '%s'", errno, ipam_strerror(ip));
	T_CHECK("ipam: released address is reused first",
	    ipam_alloc(ip, "00000004", &d, NULL) == 0 &&
	    d.s_addr == b.s_addr, "got %s, want %s", ntoa(d), ntoa(b));
	T_CHECK("ipam: release of an unknown VM is ENOENT",
	    ipam_release(ip, "0000ffff") == -1 && errno == ENOENT,
	    "errno %d", errno);
	ipam_release(ip, "00000001");
	ipam_release(ip, "00000003");
	ipam_release(ip, "00000004");
	T_CHECK("ipam: empty after releasing everything",
	    ipam_count(ip) == 0, "%zu left", ipam_count(ip));
	ipam_close(ip);
	close(dfd);
	rmtree(path);
}

static void
test_persist(void)
{
	struct ipam	*ip;
	struct in_addr	 a, b, c, d;
	struct stat	 st;
	char		 path[64], *t;
	int		 dfd;

	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "172.16.0.0", 24, "172.16.0.1");
	ipam_alloc(ip, "00000001", &a, NULL);
	ipam_alloc(ip, "00000002", &b, NULL);
	ipam_alloc(ip, "00000003", &c, NULL);
	ipam_release(ip, "00000001");
	ipam_close(ip);

	t = slurp(dfd, IPAM_TABLE);
	T_CHECK("ipam: table file lists each VM and its address",
	    t != NULL && strstr(t, "\n00000002 172.16.0.3\n") != NULL &&
	    strstr(t, "00000003 172.16.0.4\n") != NULL &&
	    strstr(t, "00000001") == NULL, "table: %s", t ? t : "missing");
	T_CHECK("ipam: table is private to the worker (0600)",
	    fstatat(dfd, IPAM_TABLE, &st, 0) == 0 &&
	    (st.st_mode & 07777) == 0600, "mode %o", st.st_mode & 07777);
	T_CHECK("ipam: no temporary file left behind",
	    faccessat(dfd, IPAM_TABLE_TMP, F_OK, 0) == -1 && errno == ENOENT,
	    "%s exists", IPAM_TABLE_TMP);

	ip = open_net(dfd, "172.16.0.0", 24, "172.16.0.1");
	T_CHECK("ipam: reopen keeps every allocation", ipam_count(ip) == 2 &&
	    ipam_lookup(ip, "00000002", &d, NULL) == 0 &&
	    d.s_addr == b.s_addr &&
	    ipam_lookup(ip, "00000003", &d, NULL) == 0 &&
	    d.s_addr == c.s_addr, "%zu entries, 00000002 at %s",
	    ipam_count(ip), ntoa(d));
	T_CHECK("ipam: after reopen the freed address is handed out first",
	    ipam_alloc(ip, "00000009", &d, NULL) == 0 &&
	    d.s_addr == a.s_addr, "got %s, want %s", ntoa(d), ntoa(a));
	ipam_close(ip);

	/* Opening through AT_FDCWD works the same. */
	if (fchdir(dfd) == 0) {
		ip = open_net(AT_FDCWD, "172.16.0.0", 24, "172.16.0.1");
		T_CHECK("ipam: open relative to the working directory",
		    ipam_count(ip) == 3, "%zu entries", ipam_count(ip));
		ipam_close(ip);
		if (chdir("/") == -1)
			exit(1);
	}
	close(dfd);
	rmtree(path);
}

static void
test_exhaust(void)
{
	struct ipam	*ip;
	struct in_addr	 a;
	char		 path[64], id[VM_ID_LEN + 1];
	int		 dfd, i, ok = 1;

	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "172.16.0.0", 29, "172.16.0.1");
	/* A /29 has 6 host addresses; the bridge takes one. */
	for (i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "%08x", i + 1);
		if (ipam_alloc(ip, id, &a, NULL) == -1)
			ok = 0;
	}
	T_CHECK("ipam: a /29 holds 5 VMs beside the bridge", ok &&
	    strcmp(ntoa(a), "172.16.0.6") == 0, "last %s: %s", ntoa(a),
	    ipam_strerror(ip));
	errno = 0;
	T_CHECK("ipam: a full subnet refuses the next VM",
	    ipam_alloc(ip, "000000ff", &a, NULL) == -1 &&
	    errno == EADDRNOTAVAIL, "errno %d", errno);
	T_CHECK("ipam: the refusal names the subnet",
	    strcmp(ipam_strerror(ip), "no free address in 172.16.0.0/29") == 0,
	    "'%s'", ipam_strerror(ip));
	T_CHECK("ipam: a refused allocation changes nothing",
	    ipam_count(ip) == 5 &&
	    ipam_lookup(ip, "000000ff", &a, NULL) == -1, "%zu entries",
	    ipam_count(ip));
	ipam_release(ip, "00000003");
	T_CHECK("ipam: a full subnet takes a VM again after a release",
	    ipam_alloc(ip, "000000ff", &a, NULL) == 0 &&
	    strcmp(ntoa(a), "172.16.0.4") == 0, "got %s", ntoa(a));
	ipam_close(ip);
	close(dfd);
	rmtree(path);

	/* /31 and /32 leave nothing beside the bridge. */
	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "172.16.9.0", 31, "172.16.9.0");
	T_CHECK("ipam: a /31 has no address for a VM",
	    ipam_alloc(ip, "00000001", &a, NULL) == -1 &&
	    strcmp(ipam_strerror(ip), "no free address in 172.16.9.0/31") == 0,
	    "'%s'", ipam_strerror(ip));
	ipam_close(ip);
	ip = open_net(dfd, "172.16.9.9", 32, "172.16.9.9");
	T_CHECK("ipam: a /32 has no address for a VM",
	    ipam_alloc(ip, "00000001", &a, NULL) == -1 &&
	    strcmp(ipam_strerror(ip), "no free address in 172.16.9.9/32") == 0,
	    "'%s'", ipam_strerror(ip));
	ipam_close(ip);
	close(dfd);
	rmtree(path);
}

static void
test_bad_ids(void)
{
	static const char *bad[] = {
		"", "0123abc", "0123abcd0", "0123ABCD", "0123abcg",
		"../ipam.", "0123 abc", "-123abcd",
	};
	struct ipam	*ip;
	struct in_addr	 a;
	char		 path[64], name[64];
	size_t		 i;
	int		 dfd;

	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "172.16.0.0", 24, "172.16.0.1");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "ipam: bad vm id \"%s\" refused",
		    bad[i]);
		errno = 0;
		T_CHECK(name, ipam_alloc(ip, bad[i], &a, NULL) == -1 &&
		    errno == EINVAL &&
		    strncmp(ipam_strerror(ip), "vm id", 5) == 0 &&
		    ipam_lookup(ip, bad[i], &a, NULL) == -1 &&
		    errno == EINVAL &&
		    ipam_release(ip, bad[i]) == -1 && errno == EINVAL,
		    "errno %d, '%s'", errno, ipam_strerror(ip));
	}
	T_CHECK("ipam: a null vm id is refused",
	    ipam_alloc(ip, NULL, &a, NULL) == -1 && errno == EINVAL,
	    "errno %d", errno);
	T_CHECK("ipam: the refusal says why",
	    ipam_alloc(ip, "0123ABCD", &a, NULL) == -1 &&
	    strcmp(ipam_strerror(ip), "vm id \"0123ABCD\": not lowercase hex")
	    == 0, "'%s'", ipam_strerror(ip));
	T_CHECK("ipam: refused ids allocate nothing", ipam_count(ip) == 0 &&
	    faccessat(dfd, IPAM_TABLE, F_OK, 0) == -1, "%zu entries",
	    ipam_count(ip));
	ipam_close(ip);
	close(dfd);
	rmtree(path);
}

static void
test_mac(void)
{
	struct ipam	*ip;
	struct in_addr	 a;
	char		 path[64], id[VM_ID_LEN + 1];
	char		 macs[100][IPAM_MAC_SIZE], mac[IPAM_MAC_SIZE];
	const char	*why = NULL;
	int		 dfd, i, j, valid = 1, unique = 1;

	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "172.16.0.0", 16, "172.16.0.1");
	ipam_alloc(ip, "00000001", &a, mac);
	T_CHECK("ipam: mac is 02:fc: and the address's bytes",
	    strcmp(mac, "02:fc:ac:10:00:02") == 0, "got %s", mac);
	T_CHECK("ipam: valid_mac accepts the mac",
	    valid_mac(mac, strlen(mac), &why) == 0, "%s", why);
	for (i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "%08x", 0x100 + i * 37);
		if (ipam_alloc(ip, id, &a, macs[i]) == -1 ||
		    valid_mac(macs[i], strlen(macs[i]), &why) == -1)
			valid = 0;
		/* Past a byte boundary too: 172.16.1.x. */
		if (i == 50)
			for (j = 0; j < 260; j++) {
				snprintf(id, sizeof(id), "f%07x", j);
				ipam_alloc(ip, id, &a, NULL);
			}
	}
	for (i = 0; i < 100; i++)
		for (j = i + 1; j < 100; j++)
			if (strcmp(macs[i], macs[j]) == 0)
				unique = 0;
	T_CHECK("ipam: 100 macs all pass valid_mac", valid, "%s", why);
	T_CHECK("ipam: macs are unique within the subnet", unique,
	    "duplicate mac");
	T_CHECK("ipam: lookup gives the same mac as the allocation",
	    ipam_lookup(ip, "00000001", &a, mac) == 0 &&
	    strcmp(mac, "02:fc:ac:10:00:02") == 0, "got %s", mac);
	mac_from_addr(ip4("10.200.3.254"), mac);
	T_CHECK("ipam: mac_from_addr of 10.200.3.254",
	    strcmp(mac, "02:fc:0a:c8:03:fe") == 0, "got %s", mac);
	ipam_close(ip);
	close(dfd);
	rmtree(path);
}

static int
put_table(int dfd, const char *text)
{
	int	 fd;
	ssize_t	 n;

	if ((fd = openat(dfd, IPAM_TABLE, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) == -1)
		return (-1);
	n = write(fd, text, strlen(text));
	close(fd);
	return (n == (ssize_t)strlen(text) ? 0 : -1);
}

static void
test_table_refused(void)
{
	static const struct {
		const char	*text, *err;
	} cases[] = {
		{ "00000001 172.16.0.2\n00000002 172.16.0.2\n",
		  "ipam.table:2: 172.16.0.2 given to vm 00000001 and "
		  "vm 00000002" },
		{ "00000001 172.16.0.2\n00000001 172.16.0.3\n",
		  "ipam.table:2: vm 00000001 listed twice" },
		{ "# x\n00000001\n", "ipam.table:2: not \"vmid address\"" },
		{ "0000000G 172.16.0.2\n",
		  "ipam.table:1: vm id: not lowercase hex" },
		{ "00000001 172.16.0.02\n",
		  "ipam.table:1: address: not a dotted quad" },
		{ "00000001 172.16.0.2", "ipam.table:1: no newline at end" },
	};
	char		 path[64], err[IPAM_ERR_SIZE], name[128];
	size_t		 i;
	int		 dfd;
	struct ipam	*ip;

	dfd = tdir(path, sizeof(path));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put_table(dfd, cases[i].text);
		err[0] = '\0';
		ip = ipam_open(dfd, ip4("172.16.0.0"), 24, ip4("172.16.0.1"),
		    err, sizeof(err));
		snprintf(name, sizeof(name), "ipam: corrupt table refused: %s",
		    cases[i].err);
		T_CHECK(name, ip == NULL && errno == EBADMSG &&
		    strcmp(err, cases[i].err) == 0, "got '%s' (%s)", err,
		    strerror(errno));
		ipam_close(ip);
	}
	close(dfd);
	rmtree(path);
}

static void
test_renumbered(void)
{
	struct ipam	*ip;
	struct in_addr	 a;
	char		 path[64];
	int		 dfd;

	dfd = tdir(path, sizeof(path));
	put_table(dfd, "00000001 172.16.0.2\n00000002 10.0.0.5\n"
	    "00000003 10.0.0.1\n00000004 10.0.0.255\n");
	ip = open_net(dfd, "10.0.0.0", 24, "10.0.0.1");
	T_CHECK("ipam: after renumbering only addresses of the new subnet "
	    "stay", ipam_count(ip) == 1 &&
	    ipam_lookup(ip, "00000002", &a, NULL) == 0 &&
	    strcmp(ntoa(a), "10.0.0.5") == 0 &&
	    ipam_lookup(ip, "00000001", &a, NULL) == -1, "%zu entries",
	    ipam_count(ip));
	ipam_alloc(ip, "00000001", &a, NULL);
	T_CHECK("ipam: a VM dropped by renumbering gets a new address",
	    strcmp(ntoa(a), "10.0.0.2") == 0, "got %s", ntoa(a));
	ipam_close(ip);
	close(dfd);
	rmtree(path);
}

static void
test_write_failure(void)
{
	struct ipam	*ip;
	struct in_addr	 a;
	char		 path[64], *t;
	int		 dfd;

	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "172.16.0.0", 24, "172.16.0.1");
	ipam_alloc(ip, "00000001", &a, NULL);
	/* A directory where the temporary file goes: every save fails. */
	if (mkdirat(dfd, IPAM_TABLE_TMP, 0700) == -1) {
		t_fail("ipam: write failure", "mkdirat: %s", strerror(errno));
		goto out;
	}
	T_CHECK("ipam: an allocation that cannot be saved fails",
	    ipam_alloc(ip, "00000002", &a, NULL) == -1 && errno == EISDIR &&
	    strstr(ipam_strerror(ip), IPAM_TABLE_TMP) != NULL,
	    "errno %d '%s'", errno, ipam_strerror(ip));
	T_CHECK("ipam: an unsaved allocation is rolled back",
	    ipam_count(ip) == 1 && ipam_lookup(ip, "00000002", &a, NULL) == -1,
	    "%zu entries", ipam_count(ip));
	T_CHECK("ipam: a release that cannot be saved fails and is undone",
	    ipam_release(ip, "00000001") == -1 && ipam_count(ip) == 1 &&
	    ipam_lookup(ip, "00000001", &a, NULL) == 0, "%zu entries",
	    ipam_count(ip));
	t = slurp(dfd, IPAM_TABLE);
	T_CHECK("ipam: the table on disk is the last good one",
	    t != NULL && strstr(t, "00000001 172.16.0.2\n") != NULL &&
	    strstr(t, "00000002") == NULL, "table: %s", t ? t : "missing");
	unlinkat(dfd, IPAM_TABLE_TMP, AT_REMOVEDIR);
	T_CHECK("ipam: saving works again once the obstacle is gone",
	    ipam_alloc(ip, "00000002", &a, NULL) == 0 &&
	    strcmp(ntoa(a), "172.16.0.3") == 0, "%s", ipam_strerror(ip));
 out:
	ipam_close(ip);
	close(dfd);
	rmtree(path);
}

struct walk {
	char	 seen[512];
	int	 n, stop_at;
};

static int
walk_cb(const char *vmid, struct in_addr a, const char *mac, void *arg)
{
	struct walk	*w = arg;
	size_t		 len = strlen(w->seen);

	snprintf(w->seen + len, sizeof(w->seen) - len, "%s=%s=%s ", vmid,
	    ntoa(a), mac);
	if (++w->n == w->stop_at)
		return (-1);
	return (0);
}

static void
test_foreach(void)
{
	struct ipam	*ip;
	struct in_addr	 a;
	struct walk	 w;
	char		 path[64];
	int		 dfd;

	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "172.16.0.0", 24, "172.16.0.1");
	ipam_alloc(ip, "0000000c", &a, NULL);
	ipam_alloc(ip, "0000000a", &a, NULL);
	ipam_alloc(ip, "0000000b", &a, NULL);
	ipam_release(ip, "0000000c");
	ipam_alloc(ip, "0000000d", &a, NULL);
	memset(&w, 0, sizeof(w));
	T_CHECK("ipam: foreach visits every VM in address order",
	    ipam_foreach(ip, walk_cb, &w) == 0 && strcmp(w.seen,
	    "0000000d=172.16.0.2=02:fc:ac:10:00:02 "
	    "0000000a=172.16.0.3=02:fc:ac:10:00:03 "
	    "0000000b=172.16.0.4=02:fc:ac:10:00:04 ") == 0, "'%s'", w.seen);
	memset(&w, 0, sizeof(w));
	w.stop_at = 2;
	T_CHECK("ipam: foreach stops when the callback says so",
	    ipam_foreach(ip, walk_cb, &w) == -1 && w.n == 2, "%d visited",
	    w.n);
	ipam_close(ip);
	close(dfd);
	rmtree(path);
}

static void
test_open_refused(void)
{
	struct ipam	*ip;
	char		 path[64], err[IPAM_ERR_SIZE];
	int		 dfd;

	dfd = tdir(path, sizeof(path));
	ip = ipam_open(dfd, ip4("172.16.0.0"), 24, ip4("172.16.1.1"), err,
	    sizeof(err));
	T_CHECK("ipam: a bridge outside the subnet is refused", ip == NULL &&
	    strcmp(err, "bridge address not in its subnet") == 0, "'%s'", err);
	ipam_close(ip);
	ip = ipam_open(dfd, ip4("172.16.0.0"), 24, ip4("172.16.0.255"), err,
	    sizeof(err));
	T_CHECK("ipam: a broadcast bridge address is refused", ip == NULL &&
	    strcmp(err, "bridge address: broadcast address") == 0, "'%s'",
	    err);
	ipam_close(ip);
	ip = ipam_open(dfd, ip4("172.16.0.0"), 7, ip4("172.16.0.1"), err,
	    sizeof(err));
	T_CHECK("ipam: a prefix out of range is refused", ip == NULL &&
	    strstr(err, "prefix out of range") != NULL, "'%s'", err);
	ipam_close(ip);
	ip = ipam_open(-1, ip4("172.16.0.0"), 24, ip4("172.16.0.1"), err,
	    sizeof(err));
	T_CHECK("ipam: a bad directory fd is refused", ip == NULL &&
	    errno == EBADF, "errno %d '%s'", errno, err);
	ipam_close(ip);
	/* Host bits in the subnet argument are ignored. */
	ip = ipam_open(dfd, ip4("172.16.0.77"), 24, ip4("172.16.0.1"), err,
	    sizeof(err));
	T_CHECK("ipam: subnet host bits are masked", ip != NULL, "'%s'", err);
	ipam_close(ip);
	close(dfd);
	rmtree(path);
}

/*
 * The table follows records kept elsewhere: a VM gets exactly the
 * address named, taken from whichever entry held it.
 */
static void
test_assign(void)
{
	struct ipam	*ip;
	struct in_addr	 a;
	char		 path[64], *t;
	int		 dfd;

	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "172.16.0.0", 24, "172.16.0.1");
	ipam_alloc(ip, "00000001", &a, NULL);		/* .2 */
	ipam_alloc(ip, "00000002", &a, NULL);		/* .3 */
	T_CHECK("ipam: assign gives a new VM the address named",
	    ipam_assign(ip, "00000003", ip4("172.16.0.9")) == 0 &&
	    ipam_lookup(ip, "00000003", &a, NULL) == 0 &&
	    strcmp(ntoa(a), "172.16.0.9") == 0, "%s", ntoa(a));
	T_CHECK("ipam: assign takes an address another VM held",
	    ipam_assign(ip, "00000004", ip4("172.16.0.2")) == 0 &&
	    ipam_lookup(ip, "00000001", &a, NULL) == -1 &&
	    ipam_lookup(ip, "00000004", &a, NULL) == 0 &&
	    strcmp(ntoa(a), "172.16.0.2") == 0 && ipam_count(ip) == 3,
	    "%zu entries", ipam_count(ip));
	T_CHECK("ipam: assign moves a VM, freeing its old address",
	    ipam_assign(ip, "00000002", ip4("172.16.0.20")) == 0 &&
	    ipam_count(ip) == 3 && ipam_alloc(ip, "00000005", &a, NULL) == 0 &&
	    strcmp(ntoa(a), "172.16.0.3") == 0, "got %s", ntoa(a));
	T_CHECK("ipam: assign of the address a VM has changes nothing",
	    ipam_assign(ip, "00000002", ip4("172.16.0.20")) == 0 &&
	    ipam_count(ip) == 4, "%zu entries", ipam_count(ip));
	T_CHECK("ipam: assign refuses the bridge's address",
	    ipam_assign(ip, "00000006", ip4("172.16.0.1")) == -1 &&
	    errno == EINVAL && strstr(ipam_strerror(ip),
	    "172.16.0.1 is not a VM address in 172.16.0.0/24") != NULL,
	    "'%s'", ipam_strerror(ip));
	T_CHECK("ipam: assign refuses an address outside the subnet",
	    ipam_assign(ip, "00000006", ip4("10.0.0.5")) == -1 &&
	    errno == EINVAL, "errno %d", errno);
	ipam_close(ip);
	t = slurp(dfd, IPAM_TABLE);
	T_CHECK("ipam: assignments are saved",
	    t != NULL && strstr(t, "00000004 172.16.0.2\n") != NULL &&
	    strstr(t, "00000002 172.16.0.20\n") != NULL &&
	    strstr(t, "00000001") == NULL, "table: %s", t ? t : "missing");
	/* A save that fails leaves the table as it was, in memory too. */
	ip = open_net(dfd, "172.16.0.0", 24, "172.16.0.1");
	if (mkdirat(dfd, IPAM_TABLE_TMP, 0700) == 0) {
		T_CHECK("ipam: an assignment that cannot be saved is undone",
		    ipam_assign(ip, "00000007", ip4("172.16.0.2")) == -1 &&
		    ipam_lookup(ip, "00000004", &a, NULL) == 0 &&
		    strcmp(ntoa(a), "172.16.0.2") == 0 &&
		    ipam_lookup(ip, "00000007", &a, NULL) == -1,
		    "%zu entries", ipam_count(ip));
		unlinkat(dfd, IPAM_TABLE_TMP, AT_REMOVEDIR);
	}
	ipam_close(ip);
	close(dfd);
	rmtree(path);
}

static int
keep_odd(const char *vmid, void *arg)
{
	(*(int *)arg)++;
	return ((vmid[7] - '0') % 2 == 1);
}

/* One write drops every lease its owner does not hold. */
static void
test_prune(void)
{
	struct ipam	*ip;
	struct in_addr	 a;
	char		 path[64], id[16], *t;
	int		 dfd, i, asked = 0;

	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "172.16.0.0", 24, "172.16.0.1");
	for (i = 1; i <= 6; i++) {
		snprintf(id, sizeof(id), "0000000%d", i);
		ipam_alloc(ip, id, &a, NULL);
	}
	T_CHECK("ipam: prune drops the entries keep() refuses",
	    ipam_prune(ip, keep_odd, &asked) == 3 && ipam_count(ip) == 3 &&
	    asked == 6 && ipam_lookup(ip, "00000002", &a, NULL) == -1 &&
	    ipam_lookup(ip, "00000003", &a, NULL) == 0, "%zu entries, %d asked",
	    ipam_count(ip), asked);
	T_CHECK("ipam: a prune that drops nothing says 0",
	    ipam_prune(ip, keep_odd, &asked) == 0 && ipam_count(ip) == 3,
	    "%zu entries", ipam_count(ip));
	ipam_close(ip);
	t = slurp(dfd, IPAM_TABLE);
	T_CHECK("ipam: the pruned table is saved",
	    t != NULL && strstr(t, "00000004") == NULL &&
	    strstr(t, "00000005 172.16.0.6\n") != NULL, "table: %s",
	    t ? t : "missing");
	close(dfd);
	rmtree(path);
}

/*
 * ipam_forget frees in memory only: the table on disk, and a handle
 * opened on it (as after a crash), keep the address until ipam_flush or
 * the next change writes the table.
 */
static void
test_forget(void)
{
	struct ipam	*ip, *ip2;
	struct in_addr	 a, b, c, d;
	char		 path[64], *t;
	int		 dfd;

	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "172.16.0.0", 24, "172.16.0.1");
	ipam_alloc(ip, "00000001", &a, NULL);
	ipam_alloc(ip, "00000002", &b, NULL);
	ipam_alloc(ip, "00000003", &c, NULL);
	T_CHECK("ipam: forget of an allocated VM succeeds",
	    ipam_forget(ip, "00000002") == 0, "%s", ipam_strerror(ip));
	T_CHECK("ipam: a forgotten VM has no address",
	    ipam_lookup(ip, "00000002", &d, NULL) == -1 && errno == ENOENT,
	    "errno %d", errno);
	T_CHECK("ipam: forget of an unknown VM is ENOENT",
	    ipam_forget(ip, "0000ffff") == -1 && errno == ENOENT,
	    "errno %d", errno);
	t = slurp(dfd, IPAM_TABLE);
	T_CHECK("ipam: the table on disk keeps a forgotten address",
	    t != NULL && strstr(t, "00000002 172.16.0.3\n") != NULL,
	    "table: %s", t ? t : "missing");
	ip2 = open_net(dfd, "172.16.0.0", 24, "172.16.0.1");
	T_CHECK("ipam: so does a table opened again before a flush",
	    ipam_lookup(ip2, "00000002", &d, NULL) == 0 &&
	    d.s_addr == b.s_addr, "%s", ipam_strerror(ip2));
	ipam_close(ip2);
	T_CHECK("ipam: flush writes what was forgotten",
	    ipam_flush(ip) == 0 && (t = slurp(dfd, IPAM_TABLE)) != NULL &&
	    strstr(t, "00000002") == NULL &&
	    strstr(t, "00000003 172.16.0.4\n") != NULL, "table: %s",
	    t ? t : "missing");
	T_CHECK("ipam: a flush with nothing forgotten succeeds",
	    ipam_flush(ip) == 0, "%s", ipam_strerror(ip));
	ipam_forget(ip, "00000001");
	T_CHECK("ipam: a forgotten address is reused first",
	    ipam_alloc(ip, "00000004", &d, NULL) == 0 &&
	    d.s_addr == a.s_addr, "got %s, want %s", ntoa(d), ntoa(a));
	t = slurp(dfd, IPAM_TABLE);
	T_CHECK("ipam: an allocation writes the forgotten ones too",
	    t != NULL && strstr(t, "00000001") == NULL &&
	    strstr(t, "00000004 172.16.0.2\n") != NULL, "table: %s",
	    t ? t : "missing");
	ipam_close(ip);
	close(dfd);
	rmtree(path);
}

/*
 * A deferred table (ipam_defer) writes no change until ipam_flush, and
 * then all of them in one write: a thousand assignments (the parent
 * naming its VMs at a start) and allocations leave the file as it was
 * until then.  Before ipam_defer, each wrote the whole table.
 */
static void
test_defer(void)
{
	struct ipam	*ip, *ip2;
	struct in_addr	 a, b;
	struct stat	 st0, st1;
	char		 path[64], id[VM_ID_LEN + 1], *t;
	int		 dfd, i, n;

	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "10.0.0.0", 16, "10.0.0.1");
	ipam_alloc(ip, "00000001", &a, NULL);
	T_CHECK("ipam: before ipam_defer, an allocation is written at once",
	    (t = slurp(dfd, IPAM_TABLE)) != NULL &&
	    strstr(t, "00000001 10.0.0.2\n") != NULL, "table: %s",
	    t ? t : "missing");
	T_CHECK("ipam: the table's file", fstatat(dfd, IPAM_TABLE, &st0, 0) == 0,
	    "%s", strerror(errno));
	ipam_defer(ip);
	for (i = 0, n = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "%08x", 0x100 + i);
		b.s_addr = htonl(0x0a000100 + i);
		n += ipam_assign(ip, id, b) == 0;
	}
	n += ipam_alloc(ip, "00000002", &b, NULL) == 0;
	n += ipam_release(ip, "00000001") == 0;
	T_CHECK("ipam: a deferred table takes every change",
	    n == 1002 && ipam_count(ip) == 1001, "%d changes, %zu leases", n,
	    ipam_count(ip));
	T_CHECK("ipam: ... and writes none of them",
	    fstatat(dfd, IPAM_TABLE, &st1, 0) == 0 && st1.st_ino == st0.st_ino &&
	    (t = slurp(dfd, IPAM_TABLE)) != NULL &&
	    strstr(t, "00000001 10.0.0.2\n") != NULL && strstr(t, "00000100") ==
	    NULL, "table: %s", t ? t : "missing");
	T_CHECK("ipam: a flush writes them all at once",
	    ipam_flush(ip) == 0 && (t = slurp(dfd, IPAM_TABLE)) != NULL &&
	    strstr(t, "00000001 ") == NULL &&
	    strstr(t, "00000100 10.0.1.0\n") != NULL &&
	    strstr(t, "000004e7 10.0.4.231\n") != NULL &&
	    strstr(t, "00000002 10.0.0.3\n") != NULL, "table: %.200s",
	    t ? t : "missing");
	ip2 = open_net(dfd, "10.0.0.0", 16, "10.0.0.1");
	T_CHECK("ipam: ... which a table opened again reads",
	    ipam_count(ip2) == 1001, "%zu leases", ipam_count(ip2));
	ipam_close(ip2);
	T_CHECK("ipam: a flush with nothing changed writes nothing",
	    fstatat(dfd, IPAM_TABLE, &st0, 0) == 0 && ipam_flush(ip) == 0 &&
	    fstatat(dfd, IPAM_TABLE, &st1, 0) == 0 &&
	    st1.st_ino == st0.st_ino, "%s", ipam_strerror(ip));
	ipam_close(ip);
	close(dfd);
	rmtree(path);
}

struct many_walk {
	int		 n;
	uint32_t	 last;
	int		 sorted;
};

static int
many_cb(const char *vmid, struct in_addr addr, const char *mac, void *arg)
{
	struct many_walk	*mw = arg;

	if (mw->n > 0 && ntohl(addr.s_addr) <= mw->last)
		mw->sorted = 0;
	mw->last = ntohl(addr.s_addr);
	mw->n++;
	return (0);
}

/*
 * Hundreds of VMs, their ids in no order, released, forgotten and
 * reassigned in another: every lookup by id finds the VM's own address.
 */
#define MANY	500

static void
test_many(void)
{
	struct ipam		*ip;
	struct in_addr		 a, want[MANY];
	struct many_walk	 mw;
	char			 path[64], id[16];
	int			 dfd, i, k, bad = 0, gone;

	dfd = tdir(path, sizeof(path));
	ip = open_net(dfd, "10.8.0.0", 23, "10.8.0.1");
	for (i = 0; i < MANY; i++) {
		snprintf(id, sizeof(id), "%08x", (unsigned)(i * 2654435761U));
		if (ipam_alloc(ip, id, &want[i], NULL) == -1)
			bad++;
	}
	for (i = 0; i < MANY; i += 3) {
		snprintf(id, sizeof(id), "%08x", (unsigned)(i * 2654435761U));
		if ((i / 3) % 2 ? ipam_forget(ip, id) : ipam_release(ip, id))
			bad++;
	}
	(void)ipam_flush(ip);
	/* Every fifth of the rest moves to an address freed above. */
	for (i = 1, k = 0; i < MANY; i += 5, k += 3) {
		if (i % 3 == 0)
			continue;
		snprintf(id, sizeof(id), "%08x", (unsigned)(i * 2654435761U));
		if (ipam_assign(ip, id, want[k]) == -1)
			bad++;
		want[i] = want[k];
	}
	for (i = 0, gone = 0; i < MANY; i++) {
		snprintf(id, sizeof(id), "%08x", (unsigned)(i * 2654435761U));
		if (i % 3 == 0) {
			gone++;
			if (ipam_lookup(ip, id, &a, NULL) != -1)
				bad++;
		} else if (ipam_lookup(ip, id, &a, NULL) == -1 ||
		    a.s_addr != want[i].s_addr)
			bad++;
	}
	memset(&mw, 0, sizeof(mw));
	mw.sorted = 1;
	ipam_foreach(ip, many_cb, &mw);
	T_CHECK("ipam: 500 VMs, released, forgotten and moved: each found at "
	    "its address", bad == 0 && mw.n == MANY - gone && mw.sorted &&
	    (size_t)mw.n == ipam_count(ip), "%d wrong, %d entries%s", bad,
	    mw.n, mw.sorted ? "" : ", out of order");
	ipam_close(ip);
	close(dfd);
	rmtree(path);
}

int
main(void)
{
	test_order();
	test_release();
	test_persist();
	test_exhaust();
	test_bad_ids();
	test_mac();
	test_table_refused();
	test_renumbered();
	test_write_failure();
	test_foreach();
	test_open_refused();
	test_assign();
	test_prune();
	test_forget();
	test_defer();
	test_many();
	return (t_done());
}
