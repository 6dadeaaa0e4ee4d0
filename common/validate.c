/*
 * The parent's validators.  The parent derives every name, path and
 * PID itself, and still checks each one here before it acts: a bug or
 * a compromised worker must not be able to steer a root operation onto
 * an interface, device, file or process banger does not own.
 *
 * Everything here is pure except valid_path_under() (lstat only),
 * proc_starttime() and valid_fc_process() (read /proc).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "validate.h"

#define PID_LIMIT	4194304		/* the kernel's PID_MAX_LIMIT */
#define PROC_STAT_MAX	1024		/* /proc/PID/stat is far shorter */

static int	reject(const char **, const char *);
static int	str_check(const char *, size_t, size_t, const char **);
static int	is_lower_hex(unsigned char);
static int	is_name_char(unsigned char);
static int	has_prefix(const char *, size_t, const char *);
static int	path_normalized(const char *, size_t, int, const char **);
static int	path_walk(const char *, size_t, size_t, int, const char **);
static ssize_t	proc_read(pid_t, const char *, char *, size_t);

static int
reject(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return (-1);
}

/* The checks every received string must pass first. */
static int
str_check(const char *s, size_t len, size_t max, const char **why)
{
	if (s == NULL)
		return (reject(why, "null string"));
	if (len == 0)
		return (reject(why, "empty"));
	if (len > max)
		return (reject(why, "too long"));
	if (memchr(s, '\0', len) != NULL)
		return (reject(why, "embedded NUL"));
	return (0);
}

static int
is_lower_hex(unsigned char c)
{
	return ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
}

/* [a-z0-9-], the alphabet of names, bridge suffixes and VM names. */
static int
is_name_char(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-');
}

static int
has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t	plen = strlen(prefix);

	return (len >= plen && memcmp(s, prefix, plen) == 0);
}

/*
 * A fixed-size string field of a message: it must hold a NUL, and
 * every byte after the first NUL must be NUL too, so that a field has
 * exactly one encoding and nothing rides along behind the string.
 */
int
wire_string(const char *field, size_t fieldsize, size_t *lenp)
{
	const char	*nul;
	size_t		 rest;

	if (field == NULL || fieldsize == 0)
		return (-1);
	if ((nul = memchr(field, '\0', fieldsize)) == NULL)
		return (-1);
	/* zeros to the end: each byte from the NUL on equals the next */
	rest = fieldsize - (nul - field);
	if (rest > 1 && memcmp(nul, nul + 1, rest - 1) != 0)
		return (-1);
	if (lenp != NULL)
		*lenp = nul - field;
	return (0);
}

int
valid_vm_id(const char *s, size_t len, const char **why)
{
	size_t	i;

	if (str_check(s, len, VM_ID_LEN, why) == -1)
		return (-1);
	if (len != VM_ID_LEN)
		return (reject(why, "not 8 hex digits"));
	for (i = 0; i < len; i++)
		if (!is_lower_hex(s[i]))
			return (reject(why, "not lowercase hex"));
	return (0);
}

int
valid_name(const char *s, size_t len, const char **why)
{
	size_t	i;

	if (str_check(s, len, VALID_NAME_MAX, why) == -1)
		return (-1);
	if (s[0] == '-')
		return (reject(why, "starts with '-'"));
	for (i = 0; i < len; i++)
		if (!is_name_char(s[i]))
			return (reject(why, "not [a-z0-9-]"));
	return (0);
}

/*
 * A file of an OCI image layout as an import names it: "index.json", or
 * a blob, "blobs/sha256/" and 64 lowercase hex digits.  Nothing else of
 * a layout is read (oci-layout's version is the index's schemaVersion).
 * "layer.tar" is image build's: one tar, a layer without a layout;
 * "archive.tar" a docker-archive's (image import --docker-archive).
 */
int
valid_oci_name(const char *s, size_t len, const char **why)
{
	static const char	 pre[] = "blobs/sha256/";
	size_t			 i, plen = sizeof(pre) - 1;

	if (str_check(s, len, plen + 64, why) == -1)
		return (-1);
	if ((len == 10 && memcmp(s, "index.json", 10) == 0) ||
	    (len == 9 && memcmp(s, "layer.tar", 9) == 0) ||
	    (len == 11 && memcmp(s, "archive.tar", 11) == 0))
		return (0);
	if (len != plen + 64 || memcmp(s, pre, plen) != 0)
		return (reject(why, "not index.json or blobs/sha256/HEX"));
	for (i = plen; i < len; i++)
		if (!is_lower_hex((unsigned char)s[i]))
			return (reject(why, "not a sha256 digest in lowercase "
			    "hex"));
	return (0);
}

/*
 * Only bridges banger may own: "br-fc" or "br-fc-SUFFIX".  Anything
 * else, "br-fc0" included, could be someone else's interface.
 */
int
valid_bridge_name(const char *s, size_t len, const char **why)
{
	size_t	plen = sizeof(BRIDGE_PREFIX) - 1, i;

	if (str_check(s, len, IFNAMSIZ - 1, why) == -1)
		return (-1);
	if (len == plen && memcmp(s, BRIDGE_PREFIX, plen) == 0)
		return (0);
	if (!has_prefix(s, len, BRIDGE_PREFIX "-"))
		return (reject(why, "not br-fc or br-fc-*"));
	if (len == plen + 1)
		return (reject(why, "nothing after br-fc-"));
	for (i = plen + 1; i < len; i++)
		if (!is_name_char(s[i]))
			return (reject(why, "not [a-z0-9-] after br-fc-"));
	return (0);
}

int
valid_tap_name(const char *s, size_t len, const char **why)
{
	size_t	plen = sizeof(TAP_PREFIX) - 1;

	if (str_check(s, len, plen + VM_ID_LEN, why) == -1)
		return (-1);
	if (!has_prefix(s, len, TAP_PREFIX))
		return (reject(why, "not fc-tap-*"));
	if (valid_vm_id(s + plen, len - plen, NULL) == -1)
		return (reject(why, "not fc-tap- and a vm id"));
	return (0);
}

/*
 * An existing interface banger did not create (the NAT egress).  Beyond
 * the kernel's own rules, quotes, backslashes and non-ASCII bytes are
 * refused: the name ends up inside nftables rule text.
 */
int
valid_ifname(const char *s, size_t len, const char **why)
{
	size_t		i;
	unsigned char	c;

	if (str_check(s, len, IFNAMSIZ - 1, why) == -1)
		return (-1);
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' &&
	    s[1] == '.'))
		return (reject(why, "\".\" or \"..\""));
	for (i = 0; i < len; i++) {
		c = s[i];
		if (c == '/')
			return (reject(why, "contains '/'"));
		if (c == ':')
			return (reject(why, "contains ':'"));
		if (c == ' ' || (c >= '\t' && c <= '\r'))
			return (reject(why, "contains whitespace"));
		if (c < 0x20 || c == 0x7f)
			return (reject(why, "contains a control char"));
		if (c == '"' || c == '\'' || c == '\\')
			return (reject(why, "contains a quote or backslash"));
		if (c > 0x7f)
			return (reject(why, "contains a non-ascii byte"));
	}
	return (0);
}

int
valid_ipv4(const char *s, size_t len, struct in_addr *addr, const char **why)
{
	char		buf[INET_ADDRSTRLEN];
	struct in_addr	a;

	if (str_check(s, len, sizeof(buf) - 1, why) == -1)
		return (-1);
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (memchr(buf, ':', len) != NULL)
		return (reject(why, "ipv6 address"));
	/* glibc's inet_pton takes dotted quads only, without leading 0s. */
	if (inet_pton(AF_INET, buf, &a) != 1)
		return (reject(why, "not a dotted quad"));
	if (addr != NULL)
		*addr = a;
	return (0);
}

int
valid_prefix_num(int prefix, const char **why)
{
	if (prefix < PREFIX_MIN || prefix > PREFIX_MAX)
		return (reject(why, "prefix out of range 8..32"));
	return (0);
}

int
valid_prefix(const char *s, size_t len, int *prefixp, const char **why)
{
	size_t	i;
	int	prefix = 0;

	if (str_check(s, len, 2, why) == -1)
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (reject(why, "not decimal"));
		prefix = prefix * 10 + (s[i] - '0');
	}
	if (len > 1 && s[0] == '0')
		return (reject(why, "leading zero"));
	if (valid_prefix_num(prefix, why) == -1)
		return (-1);
	if (prefixp != NULL)
		*prefixp = prefix;
	return (0);
}

/*
 * The bridge's own address: a host address usable on the link.  /31
 * and /32 have no network or broadcast address (RFC 3021).
 */
int
valid_bridge_addr(struct in_addr addr, int prefix, const char **why)
{
	uint32_t	a = ntohl(addr.s_addr), hostmask;

	if (valid_prefix_num(prefix, why) == -1)
		return (-1);
	if (a == 0)
		return (reject(why, "unspecified address"));
	if ((a >> 24) == 0)
		return (reject(why, "in 0.0.0.0/8"));
	if ((a >> 24) == 127)
		return (reject(why, "loopback address"));
	if ((a >> 28) == 0xe)
		return (reject(why, "multicast address"));
	if ((a >> 28) == 0xf)
		return (reject(why, "reserved or broadcast address"));
	if (prefix <= 30) {
		hostmask = 0xffffffffU >> prefix;
		if ((a & hostmask) == 0)
			return (reject(why, "network address"));
		if ((a & hostmask) == hostmask)
			return (reject(why, "broadcast address"));
	}
	return (0);
}

/*
 * The host address of a published port: INADDR_ANY (every address of
 * the host), or one NAT can forward from: not 0.0.0.0/8, loopback
 * (DNAT there needs route_localnet, which banger does not turn on),
 * multicast, reserved or broadcast.
 */
int
valid_publish_host(struct in_addr addr, const char **why)
{
	if (addr.s_addr == INADDR_ANY)
		return (0);
	return (valid_bridge_addr(addr, 32, why));
}

/* A guest MAC banger hands out: 02:fc: and four more octets. */
int
valid_mac(const char *s, size_t len, const char **why)
{
	size_t	i;

	if (str_check(s, len, 17, why) == -1)
		return (-1);
	if (len != 17)
		return (reject(why, "not six octets"));
	for (i = 0; i < len; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':')
				return (reject(why, "not colon separated"));
		} else if (!is_lower_hex(s[i]))
			return (reject(why, "not lowercase hex"));
	}
	if (!has_prefix(s, len, MAC_PREFIX))
		return (reject(why, "not 02:fc:*"));
	return (0);
}

/*
 * A guest's MAC, from its address: 02 (locally administered, unicast),
 * fc (banger's), then the address's four bytes, so it is as stable and
 * as unique within the subnet as the address (the parent and the net
 * worker both derive it).
 */
void
mac_from_addr(struct in_addr addr, char *mac)
{
	const uint8_t	*b = (const uint8_t *)&addr.s_addr;

	snprintf(mac, MAC_SIZE, "%s%02x:%02x:%02x:%02x", MAC_PREFIX,
	    b[0], b[1], b[2], b[3]);
}

int
valid_dm_name(const char *s, size_t len, const char **why)
{
	size_t	plen = sizeof(DM_PREFIX) - 1;

	if (str_check(s, len, plen + VM_ID_LEN, why) == -1)
		return (-1);
	if (!has_prefix(s, len, DM_PREFIX))
		return (reject(why, "not fc-rootfs-*"));
	if (valid_vm_id(s + plen, len - plen, NULL) == -1)
		return (reject(why, "not fc-rootfs- and a vm id"));
	return (0);
}

int
valid_dm_path(const char *s, size_t len, const char **why)
{
	size_t	dlen = sizeof(DM_DIR) - 1;

	if (str_check(s, len, dlen + sizeof(DM_PREFIX) - 1 + VM_ID_LEN,
	    why) == -1)
		return (-1);
	if (!has_prefix(s, len, DM_DIR))
		return (reject(why, "not under /dev/mapper/"));
	if (valid_dm_name(s + dlen, len - dlen, NULL) == -1)
		return (reject(why, "not /dev/mapper/fc-rootfs-*"));
	return (0);
}

int
valid_loop_path(const char *s, size_t len, const char **why)
{
	size_t		plen = sizeof(LOOP_PREFIX) - 1, i;
	unsigned long	n = 0;

	if (str_check(s, len, plen + 7, why) == -1)
		return (-1);
	if (!has_prefix(s, len, LOOP_PREFIX) || len == plen)
		return (reject(why, "not /dev/loopN"));
	for (i = plen; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (reject(why, "not /dev/loopN"));
		n = n * 10 + (s[i] - '0');
	}
	if (len - plen > 1 && s[plen] == '0')
		return (reject(why, "leading zero"));
	if (n > LOOP_NUM_MAX)
		return (reject(why, "loop number out of range"));
	return (0);
}

/*
 * Absolute, with no empty, "." or ".." component and no trailing '/'
 * ("/" itself is refused: nothing banger owns lives there).
 */
static int
path_normalized(const char *p, size_t len, int isbase, const char **why)
{
	size_t	i, j, clen;

	if (len == 0)
		return (reject(why, isbase ? "base empty" : "path empty"));
	if (p[0] != '/')
		return (reject(why, isbase ? "base not absolute" :
		    "path not absolute"));
	for (i = 1; i <= len; i = j + 1) {
		for (j = i; j < len && p[j] != '/'; j++)
			;
		clen = j - i;
		if (clen == 0)
			return (reject(why, isbase ?
			    "base has an empty component" :
			    "path has an empty component"));
		if ((clen == 1 && p[i] == '.') ||
		    (clen == 2 && p[i] == '.' && p[i + 1] == '.'))
			return (reject(why, isbase ?
			    "base has a \".\" or \"..\" component" :
			    "path has a \".\" or \"..\" component"));
	}
	return (0);
}

/*
 * lstat each prefix of p that ends after offset from: none may be a
 * symlink, and each but the last must be a directory.  For the base
 * all must exist and the last too must be a directory; for a path the
 * last may be missing.
 */
static int
path_walk(const char *p, size_t from, size_t len, int isbase,
    const char **why)
{
	char		buf[PATH_MAX];
	struct stat	st;
	size_t		e;

	memcpy(buf, p, len);
	buf[len] = '\0';
	for (e = from + 1; e <= len; e++) {
		if (e < len && buf[e] != '/')
			continue;
		buf[e] = '\0';
		if (lstat(buf, &st) == -1) {
			if (errno == ENOENT && e == len && !isbase)
				return (0);
			if (errno == ENOENT)
				return (reject(why, isbase ? "base missing" :
				    "path has a missing directory"));
			return (reject(why, isbase ? "base cannot be read" :
			    "path cannot be read"));
		}
		if (S_ISLNK(st.st_mode))
			return (reject(why, isbase ? "base has a symlink" :
			    "path has a symlink"));
		if ((e < len || isbase) && !S_ISDIR(st.st_mode))
			return (reject(why, isbase ?
			    "base has a non-directory" :
			    "path has a non-directory"));
		if (e < len)
			buf[e] = '/';
	}
	return (0);
}

/*
 * path is strictly inside base (or equal to it with
 * VALID_PATH_ALLOW_BASE) and reaches its target through no symlink.
 * This only narrows the window: callers still open with O_NOFOLLOW.
 */
int
valid_path_under(const char *base, const char *path, int flags,
    const char **why)
{
	size_t	blen, plen;

	if (base == NULL)
		return (reject(why, "null base"));
	if (path == NULL)
		return (reject(why, "null path"));
	if ((blen = strnlen(base, PATH_MAX)) == PATH_MAX)
		return (reject(why, "base too long"));
	if ((plen = strnlen(path, PATH_MAX)) == PATH_MAX)
		return (reject(why, "path too long"));
	if (path_normalized(base, blen, 1, why) == -1 ||
	    path_walk(base, 0, blen, 1, why) == -1)
		return (-1);
	if (path_normalized(path, plen, 0, why) == -1)
		return (-1);
	if (plen < blen || memcmp(path, base, blen) != 0 ||
	    (path[blen] != '\0' && path[blen] != '/'))
		return (reject(why, "path not under base"));
	if (plen == blen) {
		if (flags & VALID_PATH_ALLOW_BASE)
			return (0);
		return (reject(why, "path is the base"));
	}
	return (path_walk(path, blen, plen, 0, why));
}

int
valid_pid_target(pid_t pid, const char **why)
{
	if (pid <= 0)
		return (reject(why, "pid not positive"));
	if (pid == 1)
		return (reject(why, "pid 1"));
	if (pid > PID_LIMIT)
		return (reject(why, "pid out of range"));
	if (pid == getpid())
		return (reject(why, "own pid"));
	if (pid == getppid())
		return (reject(why, "parent pid"));
	return (0);
}

/*
 * Read /proc/PID/WHAT whole into buf, NUL-terminated; -1 with errno
 * set if it cannot be read or does not fit.
 */
static ssize_t
proc_read(pid_t pid, const char *what, char *buf, size_t size)
{
	char	path[64];
	size_t	total = 0;
	ssize_t	n;
	int	fd, saved_errno;

	(void)snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, what);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	while (total < size - 1) {
		n = read(fd, buf + total, size - 1 - total);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		total += n;
	}
	if (total == size - 1) {
		errno = EFBIG;
		goto fail;
	}
	close(fd);
	buf[total] = '\0';
	return (total);
fail:
	saved_errno = errno;
	close(fd);
	errno = saved_errno;
	return (-1);
}

/*
 * Field 22 of /proc/PID/stat, the start time in clock ticks since boot.
 * Field 2 (comm) is "(NAME)" where NAME may hold spaces and ')', so
 * fields are counted from the last ')'.
 */
int
proc_starttime(pid_t pid, unsigned long long *startp)
{
	char			 buf[PROC_STAT_MAX], *p, *end;
	ssize_t			 len;
	unsigned long long	 start;
	int			 field;

	if (pid <= 0) {
		errno = EINVAL;
		return (-1);
	}
	if ((len = proc_read(pid, "stat", buf, sizeof(buf))) == -1)
		return (-1);
	if ((p = memrchr(buf, ')', len)) == NULL || p[1] != ' ')
		goto bad;
	p += 2;				/* field 3, the state */
	for (field = 3; field < 22; field++) {
		if ((p = strchr(p, ' ')) == NULL)
			goto bad;
		p++;
	}
	if (*p < '0' || *p > '9')
		goto bad;
	errno = 0;
	start = strtoull(p, &end, 10);
	if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
		goto bad;
	*startp = start;
	return (0);
bad:
	errno = EINVAL;
	return (-1);
}

/*
 * pid is still the Firecracker the parent started for vm_id: same
 * start time as recorded, argv[0] the configured binary (or its base
 * name), and exactly one "--id" followed by vm_id.  A process that
 * only names itself "firecracker" does not pass.
 */
int
valid_fc_process(pid_t pid, const char *exe_path, const char *vm_id,
    unsigned long long starttime, const char **why)
{
	char			 buf[CMDLINE_MAX], *arg, *next, *end;
	const char		*exe_base;
	unsigned long long	 start;
	ssize_t			 len;
	int			 nid = 0;

	if (valid_pid_target(pid, why) == -1)
		return (-1);
	if (exe_path == NULL || exe_path[0] != '/')
		return (reject(why, "exe path not absolute"));
	exe_base = strrchr(exe_path, '/') + 1;
	if (*exe_base == '\0')
		return (reject(why, "exe path ends in '/'"));
	if (vm_id == NULL || valid_vm_id(vm_id, strlen(vm_id), NULL) == -1)
		return (reject(why, "bad vm id"));

	if (proc_starttime(pid, &start) == -1)
		return (reject(why, errno == ENOENT || errno == ESRCH ?
		    "no such process" : "cannot read process stat"));
	if (start != starttime)
		return (reject(why, "start time mismatch"));
	if ((len = proc_read(pid, "cmdline", buf, sizeof(buf))) == -1)
		return (reject(why, errno == ENOENT || errno == ESRCH ?
		    "no such process" : "cannot read process cmdline"));
	/* The pid may have died and been reused while we read. */
	if (proc_starttime(pid, &start) == -1 || start != starttime)
		return (reject(why, "process changed while read"));
	if (len == 0)
		return (reject(why, "empty cmdline"));
	if (buf[len - 1] != '\0')
		return (reject(why, "cmdline not NUL-terminated"));

	end = buf + len;
	arg = buf;
	if (strcmp(arg, exe_path) != 0 && strcmp(arg, exe_base) != 0)
		return (reject(why, "argv[0] is not the firecracker binary"));
	for (arg += strlen(arg) + 1; arg < end; arg = next) {
		next = arg + strlen(arg) + 1;
		if (strcmp(arg, "--id") != 0)
			continue;
		if (next >= end || strcmp(next, vm_id) != 0)
			return (reject(why, "--id does not match"));
		nid++;
		next += strlen(next) + 1;
	}
	if (nid == 0)
		return (reject(why, "no --id"));
	if (nid > 1)
		return (reject(why, "more than one --id"));
	return (0);
}

/* A DNS name as bangerd.conf(5) takes it: lowercase labels of [a-z0-9-]. */
int
valid_domain(const char *s, const char **why)
{
	size_t	 len, i, label = 0;

	if (s == NULL)
		return (reject(why, "null domain"));
	len = strnlen(s, VALID_DOMAIN_MAX + 1);
	if (len == 0 || len > VALID_DOMAIN_MAX)
		return (reject(why, "not 1 to 253 characters long"));
	for (i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0)
				return (reject(why, "has an empty label"));
			if (label > 63)
				return (reject(why,
				    "has a label longer than 63 characters"));
			if (s[i - 1] == '-')
				return (reject(why,
				    "has a label ending with '-'"));
			label = 0;
			continue;
		}
		if (label == 0 && s[i] == '-')
			return (reject(why, "has a label starting with '-'"));
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return (reject(why,
			    "not lowercase letters, digits, '-' and '.'"));
		label++;
	}
	return (0);
}

/*
 * An image's kernel boot arguments: at most VALID_BOOTARGS_MAX bytes of
 * printable ASCII (0x20 to 0x7e), or none.  Firecracker's command line
 * (linux-loader's Cmdline) refuses any other byte, so such a value
 * would pass here and fail only when a VM starts.  *offp, when offp is
 * not NULL, gets the offset of the first byte refused.
 */
int
valid_bootargs(const char *s, size_t len, size_t *offp, const char **why)
{
	size_t	i;

	if (s == NULL)
		return (reject(why, "null string"));
	if (len > VALID_BOOTARGS_MAX)
		return (reject(why, "too long"));
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
			if (offp != NULL)
				*offp = i;
			return (reject(why, "not printable ASCII"));
		}
	}
	return (0);
}

/*
 * A valid name made of the time, in UTC to the millisecond, for what is
 * named when it is made (a snapshot): "20261206-091502-123".
 */
void
valid_name_now(char *buf, size_t len)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 s[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y%m%d-%H%M%S", &tm);
	snprintf(buf, len, "%s-%03ld", s, ts.tv_nsec / 1000000);
}
