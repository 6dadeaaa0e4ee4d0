/*
 * Unit tests for common/validate.c: every validator against the values
 * it must refuse (each for its stated reason) and values it must take.
 * The path tests build a tree under /tmp with planted symlinks; the
 * process tests start real children and kill and reap each by pid.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regress.h"
#include "validate.h"

#define ID		"0123abcd"
#define OTHER_ID	"0123abce"
#define FC_EXE		"/usr/local/bin/firecracker"
#define SH		"/bin/sh"
#define SLEEP		"/bin/sleep"

struct str_case {
	const char	*s;
	size_t		 len;
	int		 ret;		/* expected return */
	const char	*why;		/* expected reason when ret is -1 */
};
#define OK(lit)		{ (lit), sizeof(lit) - 1, 0, NULL }
#define NO(lit, w)	{ (lit), sizeof(lit) - 1, -1, (w) }
#define NO_NULL(w)	{ NULL, 3, -1, (w) }
#define NCASES(a)	(sizeof(a) / sizeof((a)[0]))

typedef int (*str_validator)(const char *, size_t, const char **);

static void	quote(const char *, size_t, char *, size_t);
static void	check_str(const char *, str_validator, const struct str_case *,
		    size_t);
static void	test_wire_string(void);
static void	test_strings(void);
static void	test_ipv4(void);
static void	test_prefix(void);
static void	test_bridge_addr(void);
static void	test_path_under(void);
static void	test_pid_target(void);
static void	test_starttime(void);
static void	test_fc_process(void);
static void	test_name_now(void);
static pid_t	spawn(const char *, char *const []);
static int	wait_cmdline(pid_t);
static void	reap(pid_t);
static void	reap_all(void);

static pid_t	children[32];
static size_t	nchildren;
static int	hold[2] = { -1, -1 };	/* stdin of the shell children */

/* Render s as a check name: "..." with escapes, long ones shortened. */
static void
quote(const char *s, size_t len, char *buf, size_t size)
{
	size_t		i, o = 0, shown;
	unsigned char	c;

	if (s == NULL) {
		(void)snprintf(buf, size, "NULL");
		return;
	}
	shown = len > 40 ? 24 : len;
	buf[o++] = '"';
	for (i = 0; i < shown && o + 8 < size; i++) {
		c = s[i];
		if (c == '"' || c == '\\')
			o += snprintf(buf + o, size - o, "\\%c", c);
		else if (c == '\0')
			o += snprintf(buf + o, size - o, "\\0");
		else if (c == '\n')
			o += snprintf(buf + o, size - o, "\\n");
		else if (c == '\t')
			o += snprintf(buf + o, size - o, "\\t");
		else if (c < 0x20 || c >= 0x7f)
			o += snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = c;
	}
	if (shown < len)
		(void)snprintf(buf + o, size - o, "...\" (%zu bytes)", len);
	else
		(void)snprintf(buf + o, size - o, "\"");
}

/*
 * Each case twice: with a why pointer (which must name the expected
 * reason on a reject) and with why NULL (same result, no crash).
 */
static void
check_str(const char *what, str_validator f, const struct str_case *c,
    size_t n)
{
	char		 name[256], q[160];
	const char	*why;
	size_t		 i;
	int		 ret, ret2;

	for (i = 0; i < n; i++) {
		quote(c[i].s, c[i].len, q, sizeof(q));
		(void)snprintf(name, sizeof(name), "validate: %s %s %s",
		    what, c[i].ret == 0 ? "accepts" : "rejects", q);
		why = NULL;
		ret = f(c[i].s, c[i].len, &why);
		ret2 = f(c[i].s, c[i].len, NULL);
		if (c[i].ret == 0)
			T_CHECK(name, ret == 0 && ret2 == 0,
			    "returned %d/%d (%s)", ret, ret2,
			    why ? why : "no reason");
		else
			T_CHECK(name, ret == -1 && ret2 == -1 &&
			    why != NULL && strcmp(why, c[i].why) == 0,
			    "returned %d/%d, reason \"%s\", want -1 \"%s\"",
			    ret, ret2, why ? why : "(null)", c[i].why);
	}
}

static void
test_wire_string(void)
{
	static const struct {
		const char	*field;
		size_t		 size;
		int		 ret;
		size_t		 len;
		const char	*label;
	} c[] = {
		{ "abc\0\0\0", 6, 0, 3, "\"abc\" padded with NULs" },
		{ "abcd", 5, 0, 4, "\"abcd\" filling the field" },
		{ "\0", 1, 0, 0, "an empty 1-byte field" },
		{ "\0\0\0\0\0\0\0", 8, 0, 0, "an all-NUL field" },
		{ "br-fc\0\0\0\0\0\0\0\0\0\0", 16, 0, 5, "\"br-fc\" in 16" },
		{ "abcdef", 6, -1, 0, "a field without NUL" },
		{ "x", 1, -1, 0, "a 1-byte field without NUL" },
		{ "abc", 0, -1, 0, "a 0-byte field" },
		{ NULL, 8, -1, 0, "a NULL field" },
		{ "abc\0x\0", 6, -1, 0, "a byte behind the NUL" },
		{ "abc\0\0x", 6, -1, 0, "a last byte behind the NULs" },
		{ "\0abc", 5, -1, 0, "a string hidden behind a leading NUL" },
		{ "a\0b", 4, -1, 0, "two strings in one field" },
		{ "abc\0\0\0\0\x01", 8, -1, 0, "a \\x01 in the padding" },
		{ "\0\xff", 2, -1, 0, "a \\xff in the padding" },
		{ "abc\0 ", 6, -1, 0, "a space in the padding" },
	};
	char	name[256];
	size_t	i, len;
	int	ret;

	for (i = 0; i < NCASES(c); i++) {
		(void)snprintf(name, sizeof(name),
		    "validate: wire string %s %s",
		    c[i].ret == 0 ? "accepts" : "rejects", c[i].label);
		len = 12345;
		ret = wire_string(c[i].field, c[i].size, &len);
		if (c[i].ret == 0)
			T_CHECK(name, ret == 0 && len == c[i].len,
			    "returned %d, length %zu, want 0, %zu", ret, len,
			    c[i].len);
		else
			T_CHECK(name, ret == -1 && len == 12345,
			    "returned %d, length %zu, want -1 and untouched",
			    ret, len);
	}
}

static void
test_strings(void)
{
	static const struct str_case vm_id[] = {
		OK("0123abcd"), OK("deadbeef"), OK("00000000"),
		OK("ffffffff"), OK("7f3a0b12"),
		NO("", "empty"),
		NO_NULL("null string"),
		NO("0123abc", "not 8 hex digits"),
		NO("0123abcde", "too long"),
		NO("0123456789abcdef", "too long"),
		NO("0123ABCD", "not lowercase hex"),
		NO("0123abcg", "not lowercase hex"),
		NO("0123abc\0", "embedded NUL"),
		NO(" 123abcd", "not lowercase hex"),
		NO("0123abc ", "not lowercase hex"),
		NO("../../..", "not lowercase hex"),
		NO("0x123abc", "not lowercase hex"),
		NO("-123abcd", "not lowercase hex"),
	};
	static const struct str_case name[] = {
		OK("debian"), OK("a"), OK("0"), OK("web-1"), OK("vm-0123abcd"),
		OK("a2345678901234567890123456789012"
		    "3456789012345678901234567890123"),
		NO("", "empty"),
		NO_NULL("null string"),
		NO("a2345678901234567890123456789012"
		    "34567890123456789012345678901234", "too long"),
		NO("-debian", "starts with '-'"),
		NO("Debian", "not [a-z0-9-]"),
		NO("deb ian", "not [a-z0-9-]"),
		NO("deb_ian", "not [a-z0-9-]"),
		NO("deb.ian", "not [a-z0-9-]"),
		NO("../etc", "not [a-z0-9-]"),
		NO("a/b", "not [a-z0-9-]"),
		NO("deb\0ian", "embedded NUL"),
		NO("debian\n", "not [a-z0-9-]"),
		NO("d\xc3\xa9" "bian", "not [a-z0-9-]"),
	};
	static const struct str_case bridge[] = {
		OK("br-fc"), OK("br-fc-1"), OK("br-fc-test"), OK("br-fc-a-b"),
		OK("br-fc-123456789"), OK("br-fc--"),
		NO("br-fc0", "not br-fc or br-fc-*"),
		NO("eth0", "not br-fc or br-fc-*"),
		NO("lo", "not br-fc or br-fc-*"),
		NO("docker0", "not br-fc or br-fc-*"),
		NO("br-fc-", "nothing after br-fc-"),
		NO("br-fc-0123456789", "too long"),
		NO("br-fc\0x", "embedded NUL"),
		NO("br-fc-\0", "embedded NUL"),
		NO("BR-FC", "not br-fc or br-fc-*"),
		NO("br-fc-A", "not [a-z0-9-] after br-fc-"),
		NO("br-fc-a_b", "not [a-z0-9-] after br-fc-"),
		NO("br-fc-a.b", "not [a-z0-9-] after br-fc-"),
		NO("br-fc-a/b", "not [a-z0-9-] after br-fc-"),
		NO("br-fc-x ", "not [a-z0-9-] after br-fc-"),
		NO("br-fc ", "not br-fc or br-fc-*"),
		NO("br-f", "not br-fc or br-fc-*"),
		NO("xbr-fc", "not br-fc or br-fc-*"),
		NO("", "empty"),
		NO_NULL("null string"),
	};
	static const struct str_case tap[] = {
		OK("fc-tap-0123abcd"), OK("fc-tap-deadbeef"),
		OK("fc-tap-00000000"),
		NO("fc-tap-0123abc", "not fc-tap- and a vm id"),
		NO("fc-tap-0123abcde", "too long"),
		NO("fc-tap-0123ABCD", "not fc-tap- and a vm id"),
		NO("fc-tap-", "not fc-tap- and a vm id"),
		NO("fc-tap-../../x", "not fc-tap- and a vm id"),
		NO("fc-tap-0123abc ", "not fc-tap- and a vm id"),
		NO("fc-tap-0123abc\0", "embedded NUL"),
		NO("tap0", "not fc-tap-*"),
		NO("eth0", "not fc-tap-*"),
		NO("br-fc", "not fc-tap-*"),
		NO("fc-tab-0123abcd", "not fc-tap-*"),
		NO("FC-TAP-0123abcd", "not fc-tap-*"),
		NO("", "empty"),
		NO_NULL("null string"),
	};
	static const struct str_case ifname[] = {
		OK("eth0"), OK("ens3"), OK("enp0s31f6"), OK("wlan0"),
		OK("eth0.100"), OK("lo"), OK("br-lan_2@x"),
		OK("123456789012345"),
		NO("", "empty"),
		NO_NULL("null string"),
		NO("1234567890123456", "too long"),
		NO(".", "\".\" or \"..\""),
		NO("..", "\".\" or \"..\""),
		NO("eth/0", "contains '/'"),
		NO("../eth0", "contains '/'"),
		NO("eth0:1", "contains ':'"),
		NO("eth 0", "contains whitespace"),
		NO("eth0\n", "contains whitespace"),
		NO("eth\t0", "contains whitespace"),
		NO("eth\x01", "contains a control char"),
		NO("eth\x7f", "contains a control char"),
		NO("eth\"0", "contains a quote or backslash"),
		NO("eth'0", "contains a quote or backslash"),
		NO("eth\\0", "contains a quote or backslash"),
		NO("eth\xc3\xa9", "contains a non-ascii byte"),
		NO("eth\0x", "embedded NUL"),
	};
	static const struct str_case mac[] = {
		OK("02:fc:00:00:00:01"), OK("02:fc:0a:1b:2c:3d"),
		OK("02:fc:ff:ff:ff:ff"),
		NO("02:FC:00:00:00:01", "not lowercase hex"),
		NO("02:fc:00:00:00:0A", "not lowercase hex"),
		NO("02:fc:00:00:00:0g", "not lowercase hex"),
		NO("00:fc:00:00:00:01", "not 02:fc:*"),
		NO("02:fd:00:00:00:01", "not 02:fc:*"),
		NO("ff:ff:ff:ff:ff:ff", "not 02:fc:*"),
		NO("02-fc-00-00-00-01", "not colon separated"),
		NO("02:fc:0:00:00:001", "not lowercase hex"),
		NO("02:fc:00:00:00", "not six octets"),
		NO("02:fc:00:00:00:1", "not six octets"),
		NO("02fc00000001", "not six octets"),
		NO("02:fc:00:00:00:01:02", "too long"),
		NO("02:fc:00:00:00:0\0", "embedded NUL"),
		NO("", "empty"),
		NO_NULL("null string"),
	};
	static const struct str_case dm_name[] = {
		OK("fc-rootfs-0123abcd"), OK("fc-rootfs-deadbeef"),
		OK("fc-rootfs-00000000"),
		NO("fc-rootfs-", "not fc-rootfs- and a vm id"),
		NO("fc-rootfs-0123abc", "not fc-rootfs- and a vm id"),
		NO("fc-rootfs-0123ABCD", "not fc-rootfs- and a vm id"),
		NO("fc-rootfs-../x", "not fc-rootfs- and a vm id"),
		NO("fc-rootfs-0123abcde", "too long"),
		NO("/dev/mapper/fc-rootfs-0123abcd", "too long"),
		NO("fc-rootfs-0123abc\0", "embedded NUL"),
		NO("other", "not fc-rootfs-*"),
		NO("sda1", "not fc-rootfs-*"),
		NO("fc-rootfs0123abcd0", "not fc-rootfs-*"),
		NO("fc-snap-0123abcd", "not fc-rootfs-*"),
		NO("FC-ROOTFS-0123abcd", "not fc-rootfs-*"),
		NO("", "empty"),
		NO_NULL("null string"),
	};
	static const struct str_case dm_path[] = {
		OK("/dev/mapper/fc-rootfs-0123abcd"),
		OK("/dev/mapper/fc-rootfs-deadbeef"),
		OK("/dev/mapper/fc-rootfs-00000000"),
		NO("/dev/mapper/other", "not /dev/mapper/fc-rootfs-*"),
		NO("/dev/mapper/control", "not /dev/mapper/fc-rootfs-*"),
		NO("/dev/mapper/fc-rootfs-0123abc",
		    "not /dev/mapper/fc-rootfs-*"),
		NO("/dev/mapper/fc-rootfs-0123ABCD",
		    "not /dev/mapper/fc-rootfs-*"),
		NO("/dev/mapper/../sda1", "not /dev/mapper/fc-rootfs-*"),
		NO("/dev/mapper//fc-rootfs-0123abc",
		    "not /dev/mapper/fc-rootfs-*"),
		NO("/dev/mapper/fc-rootfs-0123abcde", "too long"),
		NO("/dev/mapper/fc-rootfs-0123abc\0", "embedded NUL"),
		NO("/dev/sda1", "not under /dev/mapper/"),
		NO("/dev/dm-0", "not under /dev/mapper/"),
		NO("fc-rootfs-0123abcd", "not under /dev/mapper/"),
		NO("/dev/Mapper/fc-rootfs-0123abcd", "not under /dev/mapper/"),
		NO("", "empty"),
		NO_NULL("null string"),
	};
	static const struct str_case loop[] = {
		OK("/dev/loop0"), OK("/dev/loop7"), OK("/dev/loop10"),
		OK("/dev/loop1048575"),
		NO("/dev/loop-control", "too long"),
		NO("/dev/loop-ctl", "not /dev/loopN"),
		NO("/dev/loop", "not /dev/loopN"),
		NO("/dev/loop-1", "not /dev/loopN"),
		NO("/dev/loop+1", "not /dev/loopN"),
		NO("/dev/loop1a", "not /dev/loopN"),
		NO("/dev/loop1 ", "not /dev/loopN"),
		NO("/dev/loop01", "leading zero"),
		NO("/dev/loop00", "leading zero"),
		NO("/dev/loop1048576", "loop number out of range"),
		NO("/dev/loop9999999", "loop number out of range"),
		NO("/dev/loop12345678", "too long"),
		NO("/dev/loop1\0", "embedded NUL"),
		NO("/dev/sda1", "not /dev/loopN"),
		NO("/dev//loop0", "not /dev/loopN"),
		NO("dev/loop0", "not /dev/loopN"),
		NO("", "empty"),
		NO_NULL("null string"),
	};

	check_str("vm id", valid_vm_id, vm_id, NCASES(vm_id));
	check_str("name", valid_name, name, NCASES(name));
	check_str("bridge name", valid_bridge_name, bridge, NCASES(bridge));
	check_str("tap name", valid_tap_name, tap, NCASES(tap));
	check_str("ifname", valid_ifname, ifname, NCASES(ifname));
	check_str("mac", valid_mac, mac, NCASES(mac));
	check_str("dm name", valid_dm_name, dm_name, NCASES(dm_name));
	check_str("dm path", valid_dm_path, dm_path, NCASES(dm_path));
	check_str("loop path", valid_loop_path, loop, NCASES(loop));
}

static void
test_ipv4(void)
{
	static const struct {
		const char	*s;
		size_t		 len;
		uint32_t	 addr;	/* host order, when accepted */
		const char	*why;	/* NULL when accepted */
	} c[] = {
#define IP_OK(lit, a)	{ (lit), sizeof(lit) - 1, (a), NULL }
#define IP_NO(lit, w)	{ (lit), sizeof(lit) - 1, 0, (w) }
		IP_OK("172.16.0.1", 0xac100001),
		IP_OK("10.0.0.1", 0x0a000001),
		IP_OK("192.168.1.254", 0xc0a801fe),
		IP_OK("0.0.0.0", 0),
		IP_OK("255.255.255.255", 0xffffffff),
		IP_NO("::1", "ipv6 address"),
		IP_NO("2001:db8::1", "ipv6 address"),
		IP_NO("::ffff:1.2.3.4", "ipv6 address"),
		IP_NO("fe80::1234:5678:9abc", "too long"),
		IP_NO("1.2.3", "not a dotted quad"),
		IP_NO("1.2.3.4.5", "not a dotted quad"),
		IP_NO(" 1.2.3.4", "not a dotted quad"),
		IP_NO("1.2.3.4 ", "not a dotted quad"),
		IP_NO("1.2.3.4\n", "not a dotted quad"),
		IP_NO("256.0.0.1", "not a dotted quad"),
		IP_NO("1.2.3.256", "not a dotted quad"),
		IP_NO("localhost", "not a dotted quad"),
		IP_NO("example.com", "not a dotted quad"),
		IP_NO("01.2.3.4", "not a dotted quad"),
		IP_NO("0x1.2.3.4", "not a dotted quad"),
		IP_NO("1.2.3.-4", "not a dotted quad"),
		IP_NO("1.2.3.4/24", "not a dotted quad"),
		IP_NO("16909060", "not a dotted quad"),
		IP_NO("1.2.3.4\0", "embedded NUL"),
		IP_NO("1111.222.333.444", "too long"),
		IP_NO("", "empty"),
		{ NULL, 7, 0, "null string" },
#undef IP_OK
#undef IP_NO
	};
	struct in_addr	 a;
	const char	*why;
	char		 name[256], q[160];
	size_t		 i;
	int		 ret;

	for (i = 0; i < NCASES(c); i++) {
		quote(c[i].s, c[i].len, q, sizeof(q));
		(void)snprintf(name, sizeof(name), "validate: ipv4 %s %s",
		    c[i].why == NULL ? "accepts" : "rejects", q);
		why = NULL;
		a.s_addr = htonl(0x01020304);
		ret = valid_ipv4(c[i].s, c[i].len, &a, &why);
		if (c[i].why == NULL)
			T_CHECK(name, ret == 0 && ntohl(a.s_addr) == c[i].addr,
			    "returned %d, address %08x, want 0, %08x", ret,
			    ntohl(a.s_addr), c[i].addr);
		else
			T_CHECK(name, ret == -1 && why != NULL &&
			    strcmp(why, c[i].why) == 0 &&
			    ntohl(a.s_addr) == 0x01020304,
			    "returned %d, reason \"%s\", want -1 \"%s\"", ret,
			    why ? why : "(null)", c[i].why);
	}
}

static void
test_prefix(void)
{
	static const struct {
		const char	*s;
		size_t		 len;
		int		 prefix;
		const char	*why;
	} c[] = {
#define PF_OK(lit, p)	{ (lit), sizeof(lit) - 1, (p), NULL }
#define PF_NO(lit, w)	{ (lit), sizeof(lit) - 1, 0, (w) }
		PF_OK("8", 8), PF_OK("9", 9), PF_OK("16", 16), PF_OK("24", 24),
		PF_OK("30", 30), PF_OK("32", 32),
		PF_NO("7", "prefix out of range 8..32"),
		PF_NO("33", "prefix out of range 8..32"),
		PF_NO("0", "prefix out of range 8..32"),
		PF_NO("99", "prefix out of range 8..32"),
		PF_NO("24x", "too long"),
		PF_NO("2x", "not decimal"),
		PF_NO("-1", "not decimal"),
		PF_NO("+8", "not decimal"),
		PF_NO("3 ", "not decimal"),
		PF_NO(" 24", "too long"),
		PF_NO("24 ", "too long"),
		PF_NO("100", "too long"),
		PF_NO("08", "leading zero"),
		PF_NO("2\0", "embedded NUL"),
		PF_NO("", "empty"),
		{ NULL, 2, 0, "null string" },
#undef PF_OK
#undef PF_NO
	};
	static const int num_ok[] = { 8, 16, 24, 31, 32 };
	static const int num_no[] = { 7, 33, 0, 1, -1, -24, 64, 100, 255,
	    INT_MIN, INT_MAX };
	const char	*why;
	char		 name[256], q[160];
	size_t		 i;
	int		 ret, p;

	for (i = 0; i < NCASES(c); i++) {
		quote(c[i].s, c[i].len, q, sizeof(q));
		(void)snprintf(name, sizeof(name), "validate: prefix %s %s",
		    c[i].why == NULL ? "accepts" : "rejects", q);
		why = NULL;
		p = -99;
		ret = valid_prefix(c[i].s, c[i].len, &p, &why);
		if (c[i].why == NULL)
			T_CHECK(name, ret == 0 && p == c[i].prefix,
			    "returned %d, prefix %d, want 0, %d", ret, p,
			    c[i].prefix);
		else
			T_CHECK(name, ret == -1 && p == -99 && why != NULL &&
			    strcmp(why, c[i].why) == 0,
			    "returned %d, reason \"%s\", want -1 \"%s\"", ret,
			    why ? why : "(null)", c[i].why);
	}
	for (i = 0; i < NCASES(num_ok); i++) {
		(void)snprintf(name, sizeof(name),
		    "validate: prefix number accepts %d", num_ok[i]);
		why = NULL;
		ret = valid_prefix_num(num_ok[i], &why);
		T_CHECK(name, ret == 0, "returned %d (%s)", ret,
		    why ? why : "no reason");
	}
	for (i = 0; i < NCASES(num_no); i++) {
		(void)snprintf(name, sizeof(name),
		    "validate: prefix number rejects %d", num_no[i]);
		why = NULL;
		ret = valid_prefix_num(num_no[i], &why);
		T_CHECK(name, ret == -1 && why != NULL &&
		    strcmp(why, "prefix out of range 8..32") == 0,
		    "returned %d, reason \"%s\"", ret, why ? why : "(null)");
	}
}

static void
test_bridge_addr(void)
{
	static const struct {
		const char	*addr;
		int		 prefix;
		const char	*why;
	} c[] = {
		{ "172.16.0.1", 24, NULL },
		{ "10.0.0.1", 8, NULL },
		{ "192.168.1.254", 24, NULL },
		{ "172.16.0.255", 16, NULL },
		{ "100.64.0.1", 30, NULL },
		{ "100.64.0.2", 30, NULL },
		{ "10.0.0.0", 31, NULL },
		{ "10.0.0.1", 31, NULL },
		{ "10.0.0.1", 32, NULL },
		{ "172.16.0.0", 24, "network address" },
		{ "172.16.0.255", 24, "broadcast address" },
		{ "10.0.0.0", 8, "network address" },
		{ "10.255.255.255", 8, "broadcast address" },
		{ "100.64.0.0", 30, "network address" },
		{ "100.64.0.3", 30, "broadcast address" },
		{ "0.0.0.0", 24, "unspecified address" },
		{ "0.0.0.0", 32, "unspecified address" },
		{ "0.1.2.3", 24, "in 0.0.0.0/8" },
		{ "127.0.0.1", 8, "loopback address" },
		{ "127.1.2.3", 24, "loopback address" },
		{ "224.0.0.1", 24, "multicast address" },
		{ "239.255.255.1", 24, "multicast address" },
		{ "240.0.0.1", 24, "reserved or broadcast address" },
		{ "255.255.255.255", 32, "reserved or broadcast address" },
		{ "172.16.0.1", 7, "prefix out of range 8..32" },
		{ "172.16.0.1", 33, "prefix out of range 8..32" },
		{ "172.16.0.1", 0, "prefix out of range 8..32" },
		{ "172.16.0.1", -1, "prefix out of range 8..32" },
	};
	struct in_addr	 a;
	const char	*why;
	char		 name[256];
	size_t		 i;
	int		 ret;

	for (i = 0; i < NCASES(c); i++) {
		(void)snprintf(name, sizeof(name),
		    "validate: bridge address %s %s/%d",
		    c[i].why == NULL ? "accepts" : "rejects", c[i].addr,
		    c[i].prefix);
		if (inet_pton(AF_INET, c[i].addr, &a) != 1) {
			t_fail(name, "bad test address");
			continue;
		}
		why = NULL;
		ret = valid_bridge_addr(a, c[i].prefix, &why);
		if (c[i].why == NULL)
			T_CHECK(name, ret == 0, "returned %d (%s)", ret,
			    why ? why : "no reason");
		else
			T_CHECK(name, ret == -1 && why != NULL &&
			    strcmp(why, c[i].why) == 0,
			    "returned %d, reason \"%s\", want -1 \"%s\"", ret,
			    why ? why : "(null)", c[i].why);
	}
}

/*
 * A tree under a fresh directory B:
 *	B/a/b/file	a file
 *	B/link -> a	a symlink in the middle of a path
 *	B/a/lastlink -> b/file, B/a/dangling -> /nonexistent
 *	B/a/up -> /	a symlink out of the tree
 */
static void
test_path_under(void)
{
	static const struct {
		const char	*suffix;	/* appended to B */
		int		 flags;
		const char	*why;
	} c[] = {
		{ "/a", 0, NULL },
		{ "/a/b", 0, NULL },
		{ "/a/b/file", 0, NULL },
		{ "/a/newfile", 0, NULL },
		{ "/a/b/newfile", 0, NULL },
		{ "", VALID_PATH_ALLOW_BASE, NULL },
		{ "/a", VALID_PATH_ALLOW_BASE, NULL },
		{ "", 0, "path is the base" },
		{ "/link/b", 0, "path has a symlink" },
		{ "/link/b/file", 0, "path has a symlink" },
		{ "/link", 0, "path has a symlink" },
		{ "/a/lastlink", 0, "path has a symlink" },
		{ "/a/dangling", 0, "path has a symlink" },
		{ "/a/up/etc/passwd", 0, "path has a symlink" },
		{ "/../etc/passwd", 0, "path has a \".\" or \"..\" component" },
		{ "/a/../../etc", 0, "path has a \".\" or \"..\" component" },
		{ "/a/..", 0, "path has a \".\" or \"..\" component" },
		{ "/./a", 0, "path has a \".\" or \"..\" component" },
		{ "/a/.", 0, "path has a \".\" or \"..\" component" },
		{ "//a", 0, "path has an empty component" },
		{ "/a//b", 0, "path has an empty component" },
		{ "/a/", 0, "path has an empty component" },
		{ "x/a", 0, "path not under base" },
		{ "/missing/newfile", 0, "path has a missing directory" },
		{ "/a/b/file/x", 0, "path has a non-directory" },
	};
	char		 tmpl[] = "/tmp/validate_test.XXXXXX", *base = NULL;
	char		 path[PATH_MAX], name[256], p2[PATH_MAX + 16];
	const char	*why;
	size_t		 i;
	int		 ret;

	if (mkdtemp(tmpl) == NULL) {
		t_fail("validate: path under: mkdtemp", "%s", strerror(errno));
		return;
	}
	/* The base must have no symlink: resolve whatever /tmp is. */
	if ((base = realpath(tmpl, NULL)) == NULL) {
		t_fail("validate: path under: realpath", "%s", strerror(errno));
		(void)rmdir(tmpl);
		return;
	}
#define P(s)	(snprintf(path, sizeof(path), "%s%s", base, (s)), path)
	if (mkdir(P("/a"), 0700) == -1 || mkdir(P("/a/b"), 0700) == -1 ||
	    close(open(P("/a/b/file"), O_CREAT | O_WRONLY, 0600)) == -1 ||
	    symlink("a", P("/link")) == -1 ||
	    symlink("b/file", P("/a/lastlink")) == -1 ||
	    symlink("/nonexistent", P("/a/dangling")) == -1 ||
	    symlink("/", P("/a/up")) == -1) {
		t_fail("validate: path under: tree", "%s", strerror(errno));
		goto done;
	}

	for (i = 0; i < NCASES(c); i++) {
		(void)snprintf(name, sizeof(name),
		    "validate: path under %s BASE%s%s",
		    c[i].why == NULL ? "accepts" : "rejects", c[i].suffix,
		    (c[i].flags & VALID_PATH_ALLOW_BASE) ?
		    " (base allowed)" : "");
		why = NULL;
		ret = valid_path_under(base, P(c[i].suffix), c[i].flags, &why);
		if (c[i].why == NULL)
			T_CHECK(name, ret == 0, "returned %d (%s)", ret,
			    why ? why : "no reason");
		else
			T_CHECK(name, ret == -1 && why != NULL &&
			    strcmp(why, c[i].why) == 0,
			    "returned %d, reason \"%s\", want -1 \"%s\"", ret,
			    why ? why : "(null)", c[i].why);
	}

	/* Paths and bases that are not built from the base. */
	{
		char	linkbase[PATH_MAX], viapath[PATH_MAX];
		char	slashbase[PATH_MAX], slashpath[PATH_MAX];
		char	dotbase[PATH_MAX], dotpath[PATH_MAX];
		size_t	j;

		const struct {
			const char	*label;
			const char	*base;
			const char	*path;
			const char	*why;
		} d[] = {
			{ "a relative path", base, "a/b", "path not absolute" },
			{ "an empty path", base, "", "path empty" },
			{ "a NULL path", base, NULL, "null path" },
			{ "/etc/passwd", base, "/etc/passwd",
			    "path not under base" },
			{ "/ as the path", base, "/",
			    "path has an empty component" },
			{ "a path through a symlinked base", linkbase, viapath,
			    "base has a symlink" },
			{ "a relative base", "tmp", "tmp/a",
			    "base not absolute" },
			{ "a base with a trailing /", slashbase, slashpath,
			    "base has an empty component" },
			{ "a base with ..", dotbase, dotpath,
			    "base has a \".\" or \"..\" component" },
			{ "a missing base", "/nonexistent/validate",
			    "/nonexistent/validate/a", "base missing" },
			{ "a file as base", "/etc/passwd", "/etc/passwd/x",
			    "base has a non-directory" },
			{ "/ as the base", "/", "/etc",
			    "base has an empty component" },
			{ "a NULL base", NULL, "/tmp", "null base" },
		};

		(void)snprintf(linkbase, sizeof(linkbase), "%s/link", base);
		(void)snprintf(viapath, sizeof(viapath), "%s/link/b", base);
		(void)snprintf(slashbase, sizeof(slashbase), "%s/", base);
		(void)snprintf(slashpath, sizeof(slashpath), "%s/a", base);
		(void)snprintf(dotbase, sizeof(dotbase), "%s/a/..", base);
		(void)snprintf(dotpath, sizeof(dotpath), "%s/a/../a", base);
		for (j = 0; j < NCASES(d); j++) {
			(void)snprintf(name, sizeof(name),
			    "validate: path under rejects %s", d[j].label);
			why = NULL;
			ret = valid_path_under(d[j].base, d[j].path,
			    VALID_PATH_ALLOW_BASE, &why);
			T_CHECK(name, ret == -1 && why != NULL &&
			    strcmp(why, d[j].why) == 0,
			    "returned %d, reason \"%s\", want -1 \"%s\"", ret,
			    why ? why : "(null)", d[j].why);
		}
	}

	/* A path one byte too long for PATH_MAX. */
	memset(p2, 'x', sizeof(p2) - 1);
	p2[sizeof(p2) - 1] = '\0';
	memcpy(p2, base, strlen(base));
	p2[strlen(base)] = '/';
	why = NULL;
	ret = valid_path_under(base, p2, 0, &why);
	T_CHECK("validate: path under rejects a path of PATH_MAX bytes",
	    ret == -1 && why != NULL && strcmp(why, "path too long") == 0,
	    "returned %d, reason \"%s\"", ret, why ? why : "(null)");

	/* The sibling B + "x" shares B's bytes but is not inside B. */
	(void)snprintf(p2, sizeof(p2), "%sx", base);
	if (mkdir(p2, 0700) == -1) {
		t_fail("validate: path under: sibling", "%s", strerror(errno));
	} else {
		(void)snprintf(path, sizeof(path), "%sx/a", base);
		why = NULL;
		ret = valid_path_under(base, path, 0, &why);
		T_CHECK("validate: path under rejects a sibling BASEx/a",
		    ret == -1 && why != NULL &&
		    strcmp(why, "path not under base") == 0,
		    "returned %d, reason \"%s\"", ret, why ? why : "(null)");
		(void)rmdir(p2);
	}

done:
	(void)unlink(P("/a/up"));
	(void)unlink(P("/a/dangling"));
	(void)unlink(P("/a/lastlink"));
	(void)unlink(P("/link"));
	(void)unlink(P("/a/b/file"));
	(void)rmdir(P("/a/b"));
	(void)rmdir(P("/a"));
	if (rmdir(base) == -1)
		t_fail("validate: path under: cleanup", "%s", strerror(errno));
#undef P
	free(base);
}

/*
 * Start path with argv, stdin on the holding pipe, and return once the
 * exec has happened and the new cmdline is visible.
 */
static pid_t
spawn(const char *path, char *const argv[])
{
	pid_t	pid;
	ssize_t	n;
	int	sync[2], err = 0;

	if (nchildren == NCASES(children))
		return (-1);
	if (pipe2(sync, O_CLOEXEC) == -1)
		return (-1);
	switch (pid = fork()) {
	case -1:
		close(sync[0]);
		close(sync[1]);
		return (-1);
	case 0:
		close(sync[0]);
		if (dup2(hold[0], STDIN_FILENO) == -1)
			_exit(127);
		execv(path, argv);
		err = errno;
		(void)write(sync[1], &err, sizeof(err));
		_exit(127);
	}
	children[nchildren++] = pid;
	close(sync[1]);
	/* EOF once close-on-exec has shut the child's end: exec done. */
	while ((n = read(sync[0], &err, sizeof(err))) == -1 && errno == EINTR)
		;
	close(sync[0]);
	if (n != 0) {
		reap(pid);
		errno = n > 0 ? err : EIO;
		return (-1);
	}
	if (wait_cmdline(pid) == -1) {
		reap(pid);
		return (-1);
	}
	return (pid);
}

/* The kernel sets up the new argv just after closing CLOEXEC fds. */
static int
wait_cmdline(pid_t pid)
{
	char	path[64], buf[64];
	ssize_t	n;
	int	fd, i;

	(void)snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	for (i = 0; i < 500; i++) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			return (-1);
		n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n > 0)
			return (0);
		usleep(10000);
	}
	errno = ETIMEDOUT;
	return (-1);
}

/* Kill and reap one child by pid, and forget it. */
static void
reap(pid_t pid)
{
	size_t	i;

	for (i = 0; i < nchildren; i++) {
		if (children[i] != pid)
			continue;
		(void)kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		children[i] = children[--nchildren];
		return;
	}
}

static void
reap_all(void)
{
	while (nchildren > 0)
		reap(children[nchildren - 1]);
}

static void
test_pid_target(void)
{
	const struct {
		pid_t		 pid;
		const char	*label;
		const char	*why;
	} c[] = {
		{ 2, "2", NULL },
		{ 12345, "12345", NULL },
		{ 4194304, "4194304 (PID_MAX_LIMIT)", NULL },
		{ 0, "PID 0", "pid not positive" },
		{ 1, "PID 1", "pid 1" },
		{ -1, "-1", "pid not positive" },
		{ -2, "-2", "pid not positive" },
		{ -32768, "-32768", "pid not positive" },
		{ INT_MIN, "INT_MIN", "pid not positive" },
		{ getpid(), "its own pid", "own pid" },
		{ getppid(), "its parent's pid",
		    getppid() == 1 ? "pid 1" : "parent pid" },
		{ 4194305, "4194305", "pid out of range" },
		{ INT_MAX, "INT_MAX", "pid out of range" },
	};
	char		 name[256];
	char *const	 argv[] = { SH, "-c", "read x", NULL };
	const char	*why;
	size_t		 i;
	pid_t		 pid;
	int		 ret;

	for (i = 0; i < NCASES(c); i++) {
		if (c[i].why == NULL && (c[i].pid == getpid() ||
		    c[i].pid == getppid()))
			continue;
		(void)snprintf(name, sizeof(name), "validate: pid target %s %s",
		    c[i].why == NULL ? "accepts" : "rejects", c[i].label);
		why = NULL;
		ret = valid_pid_target(c[i].pid, &why);
		if (c[i].why == NULL)
			T_CHECK(name, ret == 0, "returned %d (%s)", ret,
			    why ? why : "no reason");
		else
			T_CHECK(name, ret == -1 && why != NULL &&
			    strcmp(why, c[i].why) == 0,
			    "returned %d, reason \"%s\", want -1 \"%s\"", ret,
			    why ? why : "(null)", c[i].why);
	}
	if ((pid = spawn(SH, argv)) == -1) {
		t_fail("validate: pid target accepts a child", "spawn: %s",
		    strerror(errno));
		return;
	}
	why = NULL;
	ret = valid_pid_target(pid, &why);
	T_CHECK("validate: pid target accepts a child", ret == 0,
	    "returned %d (%s)", ret, why ? why : "no reason");
	reap(pid);
}

static void
test_starttime(void)
{
	unsigned long long	 self, before, after;
	char			 c;
	pid_t			 pid;
	int			 p[2], q[2], ret;

	ret = proc_starttime(getpid(), &self);
	T_CHECK("validate: proc starttime reads its own",
	    ret == 0 && self > 0, "returned %d (%s), value %llu", ret,
	    ret == -1 ? strerror(errno) : "ok", self);
	errno = 0;
	T_CHECK("validate: proc starttime fails on pid 0",
	    proc_starttime(0, &before) == -1 && errno == EINVAL,
	    "errno %d", errno);

	/*
	 * A child renames itself to a comm with spaces and ')': the start
	 * time read before and after must not change.
	 */
	if (pipe(p) == -1) {
		t_fail("validate: proc starttime: pipe", "%s", strerror(errno));
		return;
	}
	if (pipe(q) == -1) {
		t_fail("validate: proc starttime: pipe", "%s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return;
	}
	switch (pid = fork()) {
	case -1:
		t_fail("validate: proc starttime: fork", "%s", strerror(errno));
		close(p[0]);
		close(p[1]);
		close(q[0]);
		close(q[1]);
		return;
	case 0:
		close(p[1]);
		close(q[0]);
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		(void)prctl(PR_SET_NAME, "a) b c) d 1 2 3");
		(void)write(q[1], "r", 1);
		(void)read(p[0], &c, 1);	/* until the parent closes */
		_exit(0);
	}
	children[nchildren++] = pid;
	close(p[0]);
	close(q[1]);
	before = after = 0;
	ret = proc_starttime(pid, &before);
	(void)write(p[1], "g", 1);
	if (read(q[0], &c, 1) != 1)
		ret = -1;
	if (ret == 0)
		ret = proc_starttime(pid, &after);
	T_CHECK("validate: proc starttime reads field 22 past a comm "
	    "holding \") \" and spaces",
	    ret == 0 && before == after && before >= self,
	    "returned %d, before %llu, after %llu, self %llu", ret, before,
	    after, self);
	close(p[1]);
	close(q[0]);
	reap(pid);
	errno = 0;
	ret = proc_starttime(pid, &before);
	T_CHECK("validate: proc starttime fails on a reaped pid",
	    ret == -1 && errno == ENOENT, "returned %d, errno %d", ret, errno);
}

static void
test_fc_process(void)
{
	char *const	 good[] = { SH, "-c", "read x", "--id", ID, NULL };
	char *const	 goodbase[] = { "sh", "-c", "read x", "--id", ID,
			    NULL };
	char *const	 word[] = { SH, "-c", "read x", "firecracker", NULL };
	char *const	 execa[] = { "firecracker", "30", NULL };
	char *const	 impostor[] = { "firecracker", "-c", "read x", "--id",
			    ID, NULL };
	char *const	 otherid[] = { SH, "-c", "read x", "--id", OTHER_ID,
			    NULL };
	char *const	 idprefix[] = { SH, "-c", "read x", "--id", ID "0",
			    NULL };
	char *const	 ideq[] = { SH, "-c", "read x", "--id=" ID, NULL };
	char *const	 twice[] = { SH, "-c", "read x", "--id", ID, "--id", ID,
			    NULL };
	char *const	 idlast[] = { SH, "-c", "read x", ID, "--id", NULL };
	char *const	 noid[] = { SH, "-c", "read x", ID, NULL };
	struct {
		const char		 *label;
		const char		 *path;
		char *const		 *argv;
		pid_t			  pid;
		unsigned long long	  start;
	} ch[] = {
		{ "good", SH, good, -1, 0 },
		{ "goodbase", SH, goodbase, -1, 0 },
		{ "word", SH, word, -1, 0 },
		{ "execa", SLEEP, execa, -1, 0 },
		{ "impostor", SH, impostor, -1, 0 },
		{ "otherid", SH, otherid, -1, 0 },
		{ "idprefix", SH, idprefix, -1, 0 },
		{ "ideq", SH, ideq, -1, 0 },
		{ "twice", SH, twice, -1, 0 },
		{ "idlast", SH, idlast, -1, 0 },
		{ "noid", SH, noid, -1, 0 },
		{ "zombie", SH, good, -1, 0 },
	};
	enum { GOOD, GOODBASE, WORD, EXECA, IMPOSTOR, OTHERID, IDPREFIX, IDEQ,
	    TWICE, IDLAST, NOID, ZOMBIE };
	struct {
		const char		*label;
		int			 child;		/* ch[] index or -1 */
		pid_t			 pid;		/* when child is -1 */
		const char		*exe;
		const char		*id;
		long long		 skew;		/* added to start */
		const char		*why;
	} c[] = {
		{ "the firecracker it started", GOOD, 0, SH, ID, 0, NULL },
		{ "argv[0] that is the exe's base name", GOODBASE, 0, SH, ID, 0,
		    NULL },
		{ "PID 0", -1, 0, SH, ID, 0, "pid not positive" },
		{ "PID 1", -1, 1, SH, ID, 0, "pid 1" },
		{ "PID -1", -1, -1, SH, ID, 0, "pid not positive" },
		{ "its own pid", -1, getpid(), SH, ID, 0, "own pid" },
		{ "its parent's pid", -1, getppid(), SH, ID, 0,
		    getppid() == 1 ? "pid 1" : "parent pid" },
		{ "a start time one tick later", GOOD, 0, SH, ID, 1,
		    "start time mismatch" },
		{ "a start time one tick earlier", GOOD, 0, SH, ID, -1,
		    "start time mismatch" },
		{ "another vm id", GOOD, 0, SH, OTHER_ID, 0,
		    "--id does not match" },
		{ "an uppercase vm id", GOOD, 0, SH, "0123ABCD", 0,
		    "bad vm id" },
		{ "a NULL vm id", GOOD, 0, SH, NULL, 0, "bad vm id" },
		{ "another exe path", GOOD, 0, FC_EXE, ID, 0,
		    "argv[0] is not the firecracker binary" },
		{ "an exe with another base name", GOOD, 0, "/bin/bash", ID, 0,
		    "argv[0] is not the firecracker binary" },
		{ "a relative exe path", GOOD, 0, "sh", ID, 0,
		    "exe path not absolute" },
		{ "an exe path ending in /", GOOD, 0, "/bin/", ID, 0,
		    "exe path ends in '/'" },
		{ "a NULL exe path", GOOD, 0, NULL, ID, 0,
		    "exe path not absolute" },
		{ "a sh whose argv only contains \"firecracker\"", WORD, 0,
		    FC_EXE, ID, 0, "argv[0] is not the firecracker binary" },
		{ "a sleep whose argv[0] is \"firecracker\" (exec -a)", EXECA,
		    0, FC_EXE, ID, 0, "no --id" },
		{ "an impostor named firecracker with --id but another start",
		    IMPOSTOR, 0, FC_EXE, ID, 1, "start time mismatch" },
		{ "--id followed by another id", OTHERID, 0, SH, ID, 0,
		    "--id does not match" },
		{ "--id followed by the id and more", IDPREFIX, 0, SH, ID, 0,
		    "--id does not match" },
		{ "--id=ID in one argument", IDEQ, 0, SH, ID, 0, "no --id" },
		{ "--id given twice", TWICE, 0, SH, ID, 0,
		    "more than one --id" },
		{ "--id as the last argument", IDLAST, 0, SH, ID, 0,
		    "--id does not match" },
		{ "the id without --id", NOID, 0, SH, ID, 0, "no --id" },
		{ "a zombie", ZOMBIE, 0, SH, ID, 0, "empty cmdline" },
	};
	char			 name[256];
	const char		*why;
	siginfo_t		 si;
	size_t			 i;
	pid_t			 pid, gone;
	unsigned long long	 start;
	int			 ret;

	for (i = 0; i < NCASES(ch); i++) {
		if ((ch[i].pid = spawn(ch[i].path, ch[i].argv)) == -1 ||
		    proc_starttime(ch[i].pid, &ch[i].start) == -1) {
			t_fail("validate: fc process: spawn", "%s: %s",
			    ch[i].label, strerror(errno));
			goto done;
		}
	}
	/* Kill the zombie-to-be and wait for it without reaping it. */
	(void)kill(ch[ZOMBIE].pid, SIGKILL);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, ch[ZOMBIE].pid, &si, WEXITED | WNOWAIT) == -1) {
		t_fail("validate: fc process: waitid", "%s", strerror(errno));
		goto done;
	}

	for (i = 0; i < NCASES(c); i++) {
		(void)snprintf(name, sizeof(name), "validate: fc process %s %s",
		    c[i].why == NULL ? "accepts" : "rejects", c[i].label);
		if (c[i].child >= 0) {
			pid = ch[c[i].child].pid;
			start = ch[c[i].child].start + c[i].skew;
		} else {
			pid = c[i].pid;
			start = ch[GOOD].start;
		}
		why = NULL;
		ret = valid_fc_process(pid, c[i].exe, c[i].id, start, &why);
		if (c[i].why == NULL)
			T_CHECK(name, ret == 0, "returned %d (%s)", ret,
			    why ? why : "no reason");
		else
			T_CHECK(name, ret == -1 && why != NULL &&
			    strcmp(why, c[i].why) == 0,
			    "returned %d, reason \"%s\", want -1 \"%s\"", ret,
			    why ? why : "(null)", c[i].why);
	}

	/* Once reaped, the same pid and start time name no process. */
	gone = ch[GOOD].pid;
	start = ch[GOOD].start;
	reap(gone);
	why = NULL;
	ret = valid_fc_process(gone, SH, ID, start, &why);
	T_CHECK("validate: fc process rejects a reaped pid",
	    ret == -1 && why != NULL && strcmp(why, "no such process") == 0,
	    "returned %d, reason \"%s\"", ret, why ? why : "(null)");
done:
	reap_all();
}

/* A name of the moment: valid, its shape, and not the same twice. */
static void
test_name_now(void)
{
	char		 a[64], b[64], small[8];
	const char	*why = NULL;
	int		 i, d;

	valid_name_now(a, sizeof(a));
	if (valid_name(a, strlen(a), &why) == 0)
		t_pass("valid_name_now: a valid name");
	else
		t_fail("valid_name_now: a valid name", "\"%s\": %s", a, why);
	for (i = 0, d = 0; a[i] != '\0'; i++)
		if ((i == 8 || i == 15) ? a[i] != '-' :
		    (a[i] < '0' || a[i] > '9'))
			d++;
	if (strlen(a) == 19 && d == 0)
		t_pass("valid_name_now: YYYYmmdd-HHMMSS-mmm");
	else
		t_fail("valid_name_now: YYYYmmdd-HHMMSS-mmm", "\"%s\"", a);
	usleep(2000);
	valid_name_now(b, sizeof(b));
	if (strcmp(a, b) != 0)
		t_pass("valid_name_now: 2 ms apart, two names");
	else
		t_fail("valid_name_now: 2 ms apart, two names", "both \"%s\"", a);
	valid_name_now(small, sizeof(small));
	if (strlen(small) == sizeof(small) - 1)
		t_pass("valid_name_now: cut to the buffer, terminated");
	else
		t_fail("valid_name_now: cut to the buffer, terminated",
		    "%zu bytes", strlen(small));
}

static void
test_domain(void)
{
	static const char *const bad[] = {
		"", ".", "vm..internal", "-vm.internal", "vm-.internal",
		"VM.internal", "vm_1.internal", "vm internal", "vm.internal.",
		"a.-b", "x/y",
	};
	static const char *const good[] = {
		"vm.internal", "internal", "a", "x-1.example.org",
	};
	char		 name[128], longlabel[80], longname[300];
	const char	*why;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		snprintf(name, sizeof(name), "validate: domain rejects \"%s\"",
		    bad[i]);
		T_CHECK(name, valid_domain(bad[i], &why) == -1 && why != NULL,
		    "accepted");
	}
	memset(longlabel, 'a', 64);
	longlabel[64] = '\0';
	why = NULL;
	T_CHECK("validate: domain rejects a 64-character label",
	    valid_domain(longlabel, &why) == -1 && why != NULL &&
	    strcmp(why, "has a label longer than 63 characters") == 0,
	    "why: %s", why ? why : "(none)");
	for (i = 0; i < sizeof(longname) - 1; i++)
		longname[i] = (i % 2) ? '.' : 'a';
	longname[sizeof(longname) - 1] = '\0';
	why = NULL;
	T_CHECK("validate: domain rejects 299 characters",
	    valid_domain(longname, &why) == -1 && why != NULL,
	    "accepted");
	T_CHECK("validate: domain rejects NULL",
	    valid_domain(NULL, &why) == -1, "accepted");
	/* Callers that want no reason pass NULL, as to the other valid_*. */
	T_CHECK("validate: domain rejects NULL, no reason asked",
	    valid_domain(NULL, NULL) == -1, "accepted");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "validate: domain rejects \"%s\", "
		    "no reason asked", bad[i]);
		T_CHECK(name, valid_domain(bad[i], NULL) == -1, "accepted");
	}
	T_CHECK("validate: domain rejects 299 characters, no reason asked",
	    valid_domain(longname, NULL) == -1, "accepted");
	T_CHECK("validate: domain accepts vm.internal, no reason asked",
	    valid_domain("vm.internal", NULL) == 0, "rejected");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(name, sizeof(name), "validate: domain accepts \"%s\"",
		    good[i]);
		T_CHECK(name, valid_domain(good[i], &why) == 0, "why: %s", why);
	}
}

/* Boot args: what Firecracker's command line takes, nothing else. */
static void
test_bootargs(void)
{
	char		 s[VALID_BOOTARGS_MAX + 2];
	const char	*why;
	size_t		 i, off = 0;
	int		 c, bad;

	for (i = 0; i < VALID_BOOTARGS_MAX; i++)
		s[i] = 0x20 + i % (0x7f - 0x20);
	why = NULL;
	T_CHECK("validate: boot args of every printable byte, 1023 of them",
	    valid_bootargs(s, VALID_BOOTARGS_MAX, NULL, &why) == 0,
	    "why: %s", why ? why : "(none)");
	T_CHECK("validate: boot args may be empty",
	    valid_bootargs("", 0, NULL, &why) == 0, "why: %s", why);
	why = NULL;
	T_CHECK("validate: boot args of 1024 bytes are too long",
	    valid_bootargs(s, VALID_BOOTARGS_MAX + 1, NULL, &why) == -1 &&
	    why != NULL && strcmp(why, "too long") == 0, "why: %s",
	    why ? why : "(none)");
	/* Each byte outside 0x20-0x7e, control, DEL, UTF-8 and all. */
	for (c = 0, bad = -1; c < 256 && bad == -1; c++) {
		if (c >= 0x20 && c <= 0x7e)
			continue;
		memcpy(s, "quiet x", 7);
		s[5] = c;
		why = NULL;
		off = 99;
		if (valid_bootargs(s, 7, &off, &why) != -1 || off != 5 ||
		    why == NULL || strcmp(why, "not printable ASCII") != 0)
			bad = c;
	}
	T_CHECK("validate: boot args refuse the 161 other bytes, saying where",
	    bad == -1, "byte 0x%02x: off %zu, why: %s", bad, off,
	    why ? why : "(none)");
	T_CHECK("validate: boot args refuse a byte, no offset or reason asked",
	    valid_bootargs("caf\xc3\xa9", 5, NULL, NULL) == -1, "accepted");
}

int
main(void)
{
	if (pipe2(hold, O_CLOEXEC) == -1) {
		perror("pipe2");
		return (1);
	}
	test_wire_string();
	test_strings();
	test_ipv4();
	test_prefix();
	test_bridge_addr();
	test_path_under();
	test_pid_target();
	test_starttime();
	test_fc_process();
	test_domain();
	test_bootargs();
	test_name_now();
	reap_all();
	close(hold[0]);
	close(hold[1]);
	return (t_done());
}
