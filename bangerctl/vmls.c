/*
 * bangerctl's listings of VMs: vm ls, vm show and net show, in text or
 * JSON, from the VM information bangerd sends (vm_each, vm_collect).
 * The other vm commands are in vm.c.
 */
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bangerctl.h"
#include "validate.h"
#include "wire.h"

static const char *
fmt_publish(const struct proto_publish *pp, char *buf, size_t len)
{
	struct in_addr	 a;

	a.s_addr = pp->pp_host_addr;
	if (pp->pp_host_addr != 0)
		snprintf(buf, len, "%s:%u:%u/%s", inet_ntoa(a),
		    pp->pp_host_port, pp->pp_guest_port,
		    pp->pp_proto == IPPROTO_UDP ? "udp" : "tcp");
	else
		snprintf(buf, len, "%u:%u/%s", pp->pp_host_port,
		    pp->pp_guest_port, pp->pp_proto == IPPROTO_UDP ? "udp" :
		    "tcp");
	return buf;
}

static json_t *
publish_json(struct vm_info *vi)
{
	json_t		*arr;
	char		 b[64];
	uint32_t	 i;

	arr = json_array();
	for (i = 0; i < vi->vi_npublish && i < PROTO_PUBLISH_MAX; i++)
		json_array_append_new(arr, json_string(fmt_publish(
		    &vi->vi_publish[i], b, sizeof(b))));
	return arr;
}

static json_t *
info_json(struct vm_info *vi)
{
	json_t		*j;

	j = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I, s:I, s:I, s:I, "
	    "s:I, s:s, s:s, s:s?, s:s?, s:s, s:I, s:o?}",
	    "name", vi->vi_name, "id", vi->vi_id, "image", vi->vi_image,
	    "state", vi->vi_state,
	    "error", vi->vi_error[0] ? vi->vi_error : NULL,
	    "owner", (json_int_t)vi->vi_owner,
	    "cpus", (json_int_t)vi->vi_cpus,
	    "memory_mib", (json_int_t)vi->vi_memory,
	    "disk_bytes", (json_int_t)vi->vi_disk,
	    "pid", (json_int_t)vi->vi_pid,
	    "tap", vi->vi_tap, "mac", vi->vi_mac,
	    "address", vi->vi_addr[0] ? vi->vi_addr : NULL,
	    "fqdn", vi->vi_fqdn[0] ? vi->vi_fqdn : NULL,
	    "disk_backend", vi->vi_backend,
	    "created", (json_int_t)vi->vi_created,
	    "started", vi->vi_started ? json_integer(vi->vi_started) : NULL);
	json_object_set_new(j, "uid", json_integer(vi->vi_uid));
	json_object_set_new(j, "publish", publish_json(vi));
	vi->vi_hostkey[sizeof(vi->vi_hostkey) - 1] = '\0';
	json_object_set_new(j, "host_key", vi->vi_hostkey[0] ?
	    json_string(vi->vi_hostkey) : json_null());
	vi->vi_sshkey[sizeof(vi->vi_sshkey) - 1] = '\0';
	json_object_set_new(j, "ssh_key", vi->vi_sshkey[0] ?
	    json_string(vi->vi_sshkey) : json_null());
	vi->vi_clone_of[sizeof(vi->vi_clone_of) - 1] = '\0';
	json_object_set_new(j, "clone_of", vi->vi_clone_of[0] ?
	    json_string(vi->vi_clone_of) : json_null());
	/* What Firecracker said of itself (GET /) when it started. */
	vi->vi_vmm_version[sizeof(vi->vi_vmm_version) - 1] = '\0';
	vi->vi_vmm_state[sizeof(vi->vi_vmm_state) - 1] = '\0';
	json_object_set_new(j, "vmm_version", vi->vi_vmm_state[0] &&
	    vi->vi_vmm_version[0] ? json_string(vi->vi_vmm_version) :
	    json_null());
	json_object_set_new(j, "vmm_state", vi->vi_vmm_state[0] ?
	    json_string(vi->vi_vmm_state) : json_null());
	return j;
}

/* Do the strings of vi that info_json gives hold only ASCII? */
static int
info_ascii(struct vm_info *vi)
{
	return jw_ascii(vi->vi_name, sizeof(vi->vi_name)) &&
	    jw_ascii(vi->vi_id, sizeof(vi->vi_id)) &&
	    jw_ascii(vi->vi_image, sizeof(vi->vi_image)) &&
	    jw_ascii(vi->vi_state, sizeof(vi->vi_state)) &&
	    jw_ascii(vi->vi_error, sizeof(vi->vi_error)) &&
	    jw_ascii(vi->vi_tap, sizeof(vi->vi_tap)) &&
	    jw_ascii(vi->vi_mac, sizeof(vi->vi_mac)) &&
	    jw_ascii(vi->vi_addr, sizeof(vi->vi_addr)) &&
	    jw_ascii(vi->vi_fqdn, sizeof(vi->vi_fqdn)) &&
	    jw_ascii(vi->vi_backend, sizeof(vi->vi_backend)) &&
	    jw_ascii(vi->vi_hostkey, sizeof(vi->vi_hostkey)) &&
	    jw_ascii(vi->vi_sshkey, sizeof(vi->vi_sshkey)) &&
	    jw_ascii(vi->vi_clone_of, sizeof(vi->vi_clone_of)) &&
	    jw_ascii(vi->vi_vmm_version, sizeof(vi->vi_vmm_version)) &&
	    jw_ascii(vi->vi_vmm_state, sizeof(vi->vi_vmm_state));
}

/* A string member, or null if the string is empty. */
static void
info_str(struct jw *jw, const char *key, const char *s, size_t max)
{
	jw_key(jw, key);
	if (s[0] != '\0')
		jw_str(jw, s, max);
	else
		jw_null(jw);
}

#define INFO_STR(jw, key, vi, f)					\
	do {								\
		jw_key((jw), (key));					\
		jw_str((jw), (vi)->f, sizeof((vi)->f));			\
	} while (0)
#define INFO_INT(jw, key, v)						\
	do {								\
		jw_key((jw), (key));					\
		jw_int((jw), (v));					\
	} while (0)

/*
 * What info_json gives, written as it goes: the same members in the
 * same order.  Only for info_ascii's VMs.
 */
static void
info_write(struct jw *jw, struct vm_info *vi)
{
	char		 b[64];
	uint32_t	 i;

	jw_open(jw, '{');
	INFO_STR(jw, "name", vi, vi_name);
	INFO_STR(jw, "id", vi, vi_id);
	INFO_STR(jw, "image", vi, vi_image);
	INFO_STR(jw, "state", vi, vi_state);
	info_str(jw, "error", vi->vi_error, sizeof(vi->vi_error));
	INFO_INT(jw, "owner", (json_int_t)vi->vi_owner);
	INFO_INT(jw, "cpus", (json_int_t)vi->vi_cpus);
	INFO_INT(jw, "memory_mib", (json_int_t)vi->vi_memory);
	INFO_INT(jw, "disk_bytes", (json_int_t)vi->vi_disk);
	INFO_INT(jw, "pid", (json_int_t)vi->vi_pid);
	INFO_STR(jw, "tap", vi, vi_tap);
	INFO_STR(jw, "mac", vi, vi_mac);
	info_str(jw, "address", vi->vi_addr, sizeof(vi->vi_addr));
	info_str(jw, "fqdn", vi->vi_fqdn, sizeof(vi->vi_fqdn));
	INFO_STR(jw, "disk_backend", vi, vi_backend);
	INFO_INT(jw, "created", (json_int_t)vi->vi_created);
	jw_key(jw, "started");
	if (vi->vi_started)
		jw_int(jw, vi->vi_started);
	else
		jw_null(jw);
	INFO_INT(jw, "uid", (json_int_t)vi->vi_uid);
	jw_key(jw, "publish");
	jw_open(jw, '[');
	for (i = 0; i < vi->vi_npublish && i < PROTO_PUBLISH_MAX; i++) {
		jw_next(jw);
		fmt_publish(&vi->vi_publish[i], b, sizeof(b));
		jw_str(jw, b, sizeof(b));
	}
	jw_close(jw, ']');
	info_str(jw, "host_key", vi->vi_hostkey, sizeof(vi->vi_hostkey));
	info_str(jw, "ssh_key", vi->vi_sshkey, sizeof(vi->vi_sshkey));
	info_str(jw, "clone_of", vi->vi_clone_of, sizeof(vi->vi_clone_of));
	jw_key(jw, "vmm_version");
	if (vi->vi_vmm_state[0] && vi->vi_vmm_version[0])
		jw_str(jw, vi->vi_vmm_version, sizeof(vi->vi_vmm_version));
	else
		jw_null(jw);
	info_str(jw, "vmm_state", vi->vi_vmm_state,
	    sizeof(vi->vi_vmm_state));
	jw_close(jw, '}');
}

/* Check a VM's information as it came from bangerd. */
static void
info_check(struct vm_info *vi)
{
	size_t	 len;

	if (wire_string(vi->vi_name, sizeof(vi->vi_name), &len) == -1 ||
	    wire_string(vi->vi_state, sizeof(vi->vi_state), &len) == -1 ||
	    wire_string(vi->vi_error, sizeof(vi->vi_error), &len) == -1 ||
	    wire_string(vi->vi_addr, sizeof(vi->vi_addr), &len) == -1 ||
	    wire_string(vi->vi_fqdn, sizeof(vi->vi_fqdn), &len) == -1)
		errx(1, "bad VM information from bangerd");
}

/*
 * The name of a VM's owner.  getpwuid reads the password database
 * afresh each time, and a listing names the same few owners over and
 * over: the first OWNER_CACHE owners are remembered.
 */
#define OWNER_CACHE	32

static const char *
owner_name(uid_t uid, char *buf, size_t len)
{
	static struct {
		uid_t	 uid;
		char	*name;
	}		 cache[OWNER_CACHE];
	static size_t	 ncache;
	struct passwd	*pw;
	const char	*name;
	size_t		 i;

	for (i = 0; i < ncache; i++)
		if (cache[i].uid == uid)
			return cache[i].name;
	if ((pw = getpwuid(uid)) != NULL)
		name = pw->pw_name;
	else {
		snprintf(buf, len, "%u", (unsigned)uid);
		name = buf;
	}
	if (ncache < OWNER_CACHE &&
	    (cache[ncache].name = strdup(name)) != NULL) {
		cache[ncache].uid = uid;
		return cache[ncache++].name;
	}
	return name;
}

/*
 * Ask bangerd, and hand each VM of its IMSG_CTL_VM_INFO answers (each
 * carries one or more, packed) to fn, until the result; returns the
 * exit status.  One VM at a time, in the same memory: a listing of
 * thousands touches no more memory than one of a few.
 */
static int
vm_each(uint32_t type, const void *data, size_t len,
    void (*fn)(struct vm_info *, void *), void *arg)
{
	struct imsgbuf	 ibuf;
	struct imsg	 imsg;
	struct ibuf	 payload;
	struct vm_info	 vi;
	size_t		 used;
	int		 rv;

	ctl_connect(&ibuf);
	ctl_send(&ibuf, type, data, len);
	for (;;) {
		ctl_recv(&ibuf, &imsg);
		if (imsg_get_type(&imsg) == IMSG_CTL_RESULT)
			break;
		if (imsg_get_type(&imsg) == IMSG_CTL_VM_INFO) {
			if (imsg_get_ibuf(&imsg, &payload) == -1)
				errx(1, "bad VM information from bangerd");
			while (ibuf_size(&payload) > 0) {
				if (wire_zunpack(ibuf_data(&payload),
				    ibuf_size(&payload), &vi, sizeof(vi),
				    &used) == -1 ||
				    ibuf_skip(&payload, used) == -1)
					errx(1, "bad VM information from "
					    "bangerd");
				info_check(&vi);
				fn(&vi, arg);
			}
		}
		imsg_free(&imsg);
	}
	rv = ctl_result(&imsg, 1);
	imsg_free(&imsg);
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	return rv;
}

struct vm_array {
	struct vm_info	*va_vis;
	size_t		 va_n;
	size_t		 va_max;
};

static void
collect_one(struct vm_info *vi, void *arg)
{
	struct vm_array	*va = arg;
	struct vm_info	*nv;
	size_t		 max;

	if (va->va_n == va->va_max) {
		max = va->va_max ? va->va_max * 2 : 8;
		if ((nv = reallocarray(va->va_vis, max, sizeof(*nv))) == NULL)
			err(1, NULL);
		va->va_vis = nv;
		va->va_max = max;
	}
	va->va_vis[va->va_n++] = *vi;
}

/* The VMs of the answers, in an array. */
int
vm_collect(uint32_t type, const void *data, size_t len, struct vm_info **vis,
    size_t *nvis)
{
	struct vm_array	 va;
	int		 rv;

	memset(&va, 0, sizeof(va));
	rv = vm_each(type, data, len, collect_one, &va);
	*vis = va.va_vis;
	*nvis = va.va_n;
	return rv;
}

struct vm_ls {
	int		 json;
	size_t		 n;
	struct jw	 jw;		/* --json: the array */
};

static void
ls_header(void)
{
	printf("%-20s %-9s %-8s %-12s %4s %10s %10s %s\n", "NAME", "STATE",
	    "ID", "IMAGE", "CPUS", "MEMORY", "DISK", "OWNER");
}

/*
 * One VM of vm ls, printed as it arrives.  --json prints what
 * json_print would of the array of them all: info_write's objects,
 * or, for a VM with a string jansson must check, jansson's dump a
 * level deeper (JSON strings hold no newline).  A VM jansson refuses
 * is left out, as json_array_append_new leaves it out.
 */
static void
ls_one(struct vm_info *vi, void *arg)
{
	struct vm_ls	*ls = arg;
	json_t		*j;
	char		*text, *p, *nl;
	char		 b1[32], b2[32], b3[32];

	if (!ls->json) {
		if (ls->n++ == 0)
			ls_header();
		printf("%-20s %-9s %-8s %-12s %4u %10s %10s %s\n",
		    vi->vi_name, vi->vi_state, vi->vi_id, vi->vi_image,
		    vi->vi_cpus, fmt_size(vi->vi_memory << 20, b1, sizeof(b1)),
		    fmt_size(vi->vi_disk, b2, sizeof(b2)),
		    owner_name(vi->vi_owner, b3, sizeof(b3)));
		return;
	}

	if (info_ascii(vi)) {
		if (ls->n++ == 0)
			jw_open(&ls->jw, '[');
		jw_next(&ls->jw);
		info_write(&ls->jw, vi);
	} else {
		if ((j = info_json(vi)) == NULL)
			return;
		text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(j);
		if (text == NULL)
			return;
		if (ls->n++ == 0)
			jw_open(&ls->jw, '[');
		jw_next(&ls->jw);
		for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
			jw_raw(&ls->jw, p, nl - p);
			jw_raw(&ls->jw, "\n  ", 3);
		}
		jw_raw(&ls->jw, p, strlen(p));
		free(text);
	}
	if (ls->jw.jw_len >= 32768)
		jw_flush(&ls->jw);
}

int
vm_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct vm_ls	 ls;
	int		 ch, rv;

	memset(&ls, 0, sizeof(ls));
	ls.jw.jw_fp = stdout;
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch != 'j')
			vm_usage();
		ls.json = 1;
	}
	if (optind != argc)
		vm_usage();
	rv = vm_each(IMSG_CTL_VM_LS, NULL, 0, ls_one, &ls);
	if (rv != 0 && ls.n == 0)
		return rv;
	/* what was printed is ended, even should an error follow */
	if (ls.json) {
		if (ls.n == 0)
			jw_open(&ls.jw, '[');
		jw_close(&ls.jw, ']');
		jw_free(&ls.jw);
		putchar('\n');
	} else if (ls.n == 0)
		ls_header();
	return rv;
}

int
vm_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_vm	 cv;
	struct vm_info	*vis, *vi;
	size_t		 n;
	uint32_t	 i;
	char		 b1[64], b2[32], b3[32];
	int		 ch, json = 0, rv;

	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch != 'j')
			vm_usage();
		json = 1;
	}
	if (optind != argc - 1)
		vm_usage();
	if (check_name(argv[optind]) == -1)
		return 1;
	memset(&cv, 0, sizeof(cv));
	cv.cv_action = CTL_VM_SHOW;
	strlcpy(cv.cv_name, argv[optind], sizeof(cv.cv_name));
	if ((rv = vm_collect(IMSG_CTL_VM, &cv, sizeof(cv), &vis, &n)) != 0)
		return rv;
	if (n != 1)
		errx(1, "no information on %s from bangerd", cv.cv_name);
	vi = &vis[0];
	if (json)
		json_print(info_json(vi));
	else {
		printf("%-10s %s\n", "name", vi->vi_name);
		printf("%-10s %s\n", "id", vi->vi_id);
		printf("%-10s %s%s%s\n", "state", vi->vi_state,
		    vi->vi_error[0] ? ": " : "", vi->vi_error);
		printf("%-10s %s\n", "image", vi->vi_image);
		printf("%-10s %s\n", "owner", owner_name(vi->vi_owner, b3,
		    sizeof(b3)));
		printf("%-10s %u\n", "cpus", vi->vi_cpus);
		printf("%-10s %s\n", "memory", fmt_size(vi->vi_memory << 20,
		    b1, sizeof(b1)));
		printf("%-10s %s (%s)\n", "disk", fmt_size(vi->vi_disk, b2,
		    sizeof(b2)), vi->vi_backend[0] ? vi->vi_backend : "-");
		printf("%-10s %s, mac %s, tap %s\n", "address",
		    vi->vi_addr[0] ? vi->vi_addr : "-", vi->vi_mac,
		    vi->vi_tap[0] ? vi->vi_tap : "-");
		if (vi->vi_fqdn[0] != '\0')
			printf("%-10s %s\n", "dns name", vi->vi_fqdn);
		for (i = 0; i < vi->vi_npublish && i < PROTO_PUBLISH_MAX; i++)
			printf("%-10s %s\n", "publish", fmt_publish(
			    &vi->vi_publish[i], b1, sizeof(b1)));
		if (vi->vi_sshkey[0] != '\0')
			printf("%-10s %s\n", "ssh key", vi->vi_sshkey);
		vi->vi_clone_of[sizeof(vi->vi_clone_of) - 1] = '\0';
		if (vi->vi_clone_of[0] != '\0')
			printf("%-10s %s\n", "clone of", vi->vi_clone_of);
		if (vi->vi_pid > 0 && vi->vi_vmm_state[0] != '\0')
			printf("%-10s %s, %s, pid %d (uid %u)\n",
			    "firecracker", vi->vi_vmm_version,
			    vi->vi_vmm_state, vi->vi_pid, vi->vi_uid);
		else if (vi->vi_pid > 0)
			printf("%-10s %d (uid %u)\n", "firecracker",
			    vi->vi_pid, vi->vi_uid);
	}
	free(vis);
	return 0;
}

/*
 * bangerctl net show: the bridge, subnet, egress, DNS domain, resolver
 * routing and each VM's address, MAC and tap.
 */
int
cmd_net(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct status_daemon	 sd;
	struct vm_info		*vis;
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	struct in_addr		 net;
	json_t			*root, *arr;
	size_t			 n, i;
	char			 subnet[32];
	int			 ch, json = 0, got = 0, rv;

	if (argc < 2 || strcmp(argv[1], "show") != 0) {
		fprintf(stderr, "usage: bangerctl net show [--json]\n");
		return 1;
	}
	optind = 0;
	while ((ch = getopt_long(argc - 1, argv + 1, "j", opts, NULL)) != -1) {
		if (ch != 'j') {
			fprintf(stderr, "usage: bangerctl net show [--json]\n");
			return 1;
		}
		json = 1;
	}
	ctl_connect(&ibuf);
	ctl_send(&ibuf, IMSG_CTL_STATUS, NULL, 0);
	for (;;) {
		ctl_recv(&ibuf, &imsg);
		if (imsg_get_type(&imsg) == IMSG_STATUS_DAEMON &&
		    imsg_get_data(&imsg, &sd, sizeof(sd)) == 0)
			got = 1;
		if (imsg_get_type(&imsg) == IMSG_STATUS_END ||
		    imsg_get_type(&imsg) == IMSG_CTL_RESULT) {
			imsg_free(&imsg);
			break;
		}
		imsg_free(&imsg);
	}
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	if (!got)
		errx(1, "no status from bangerd");
	if ((rv = vm_collect(IMSG_CTL_VM_LS, NULL, 0, &vis, &n)) != 0)
		return rv;

	inet_pton(AF_INET, sd.sd_bridge_addr, &net);
	net.s_addr &= sd.sd_bridge_prefix ? htonl(0xffffffffU <<
	    (32 - sd.sd_bridge_prefix)) : 0;
	snprintf(subnet, sizeof(subnet), "%s/%d", inet_ntoa(net),
	    sd.sd_bridge_prefix);
	if (json) {
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, json_pack(
			    "{s:s, s:s?, s:s?, s:s, s:s, s:o}",
			    "name", vis[i].vi_name,
			    "address", vis[i].vi_addr[0] ? vis[i].vi_addr : NULL,
			    "fqdn", vis[i].vi_fqdn[0] ? vis[i].vi_fqdn : NULL,
			    "mac", vis[i].vi_mac, "tap", vis[i].vi_tap,
			    "publish", publish_json(&vis[i])));
		root = json_pack("{s:s, s:s, s:i, s:s, s:s?, s:b, s:s, s:b, "
		    "s:o}", "bridge", sd.sd_bridge,
		    "address", sd.sd_bridge_addr,
		    "prefix", sd.sd_bridge_prefix, "subnet", subnet,
		    "egress", sd.sd_egress[0] ? sd.sd_egress : NULL,
		    "nat", sd.sd_nat, "dns_domain", sd.sd_domain,
		    "resolver_routing", sd.sd_resolver, "vms", arr);
		json_print(root);
	} else {
		printf("%-12s %s %s/%d\n", "bridge", sd.sd_bridge,
		    sd.sd_bridge_addr, sd.sd_bridge_prefix);
		printf("%-12s %s\n", "subnet", subnet);
		printf("%-12s %s\n", "egress", sd.sd_egress[0] ?
		    sd.sd_egress : "none (VMs reach only the host and each "
		    "other)");
		printf("%-12s %s\n", "nat", sd.sd_nat ? "on" : "off");
		printf("%-12s %s (answered on %s:53)\n", "dns domain",
		    sd.sd_domain, sd.sd_bridge_addr);
		printf("%-12s %s\n", "resolver", sd.sd_resolver ?
		    "host queries for the domain go to the bridge "
		    "(systemd-resolved)" : "not routed (systemd-resolved "
		    "is not running)");
		printf("\n%-20s %-15s %-17s %-15s %s\n", "NAME", "ADDRESS",
		    "MAC", "TAP", "PUBLISHED");
		for (i = 0; i < n; i++) {
			char		 b[64];
			uint32_t	 k;

			printf("%-20s %-15s %-17s %-15s", vis[i].vi_name,
			    vis[i].vi_addr[0] ? vis[i].vi_addr : "-",
			    vis[i].vi_mac, vis[i].vi_tap[0] ? vis[i].vi_tap :
			    "-");
			for (k = 0; k < vis[i].vi_npublish &&
			    k < PROTO_PUBLISH_MAX; k++)
				printf(" %s", fmt_publish(&vis[i].vi_publish[k],
				    b, sizeof(b)));
			printf("%s\n", vis[i].vi_npublish ? "" : " -");
		}
	}
	free(vis);
	return 0;
}
