/*
 * bangerd.conf(5) parser tests: valid files parse to the expected values,
 * invalid ones fail with the expected "FILE:LINE: message".
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/config.h"
#include "regress.h"

static char	 tmpdir[] = "/tmp/banger-config-test.XXXXXX";

/* tmpdir/name, in one of a few rotating buffers. */
static const char *
tpath(const char *name)
{
	static char	 bufs[4][PATH_MAX];
	static int	 n;
	char		*buf = bufs[n++ % 4];

	snprintf(buf, PATH_MAX, "%s/%s", tmpdir, name);
	return buf;
}

static const char *
write_file(const char *name, const char *text)
{
	const char	*path = tpath(name);
	FILE		*fp;

	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* Parse text as tmpdir/name into a new config; NULL if it fails. */
static struct bangerd_config *
parse_text(const char *name, const char *text)
{
	struct bangerd_config	*c;

	if ((c = config_new()) == NULL) {
		perror("config_new");
		exit(1);
	}
	if (config_parse(c, write_file(name, text)) == -1) {
		config_free(c);
		return NULL;
	}
	return c;
}

static int
image_count(const struct bangerd_config *c)
{
	const struct conf_image	*i;
	int			 n = 0;

	TAILQ_FOREACH(i, &c->cf_images, img_entry)
		n++;
	return n;
}

static const struct conf_image *
image_find(const struct bangerd_config *c, const char *name)
{
	const struct conf_image	*i;

	TAILQ_FOREACH(i, &c->cf_images, img_entry)
		if (strcmp(i->img_name, name) == 0)
			return i;
	return NULL;
}

static const char *
addr_str(struct in_addr a)
{
	static char	 buf[INET_ADDRSTRLEN];

	return inet_ntop(AF_INET, &a, buf, sizeof(buf));
}

/* Everything but cf_path; says which field differs. */
static const char *
conf_diff(const struct bangerd_config *a, const struct bangerd_config *b)
{
	const struct conf_image	*i, *j;

#define STR(f)	if (strcmp(a->f, b->f) != 0) return #f
#define NUM(f)	if (a->f != b->f) return #f
	STR(cf_statedir);
	STR(cf_socket);
	STR(cf_sockgroup);
	STR(cf_user);
	STR(cf_bridge);
	NUM(cf_bridge_addr.s_addr);
	NUM(cf_bridge_prefix);
	STR(cf_egress);
	STR(cf_domain);
	STR(cf_firecracker);
	STR(cf_jailer);
	NUM(cf_vm_uid_min);
	NUM(cf_vm_uid_max);
	NUM(cf_storage);
	STR(cf_update_url);
	NUM(cf_update_allow_http);
	NUM(cf_def_cpus);
	NUM(cf_def_memory);
	NUM(cf_def_disk);
	for (i = TAILQ_FIRST(&a->cf_images), j = TAILQ_FIRST(&b->cf_images);
	    i != NULL && j != NULL; i = TAILQ_NEXT(i, img_entry),
	    j = TAILQ_NEXT(j, img_entry)) {
		if (strcmp(i->img_name, j->img_name) != 0 ||
		    strcmp(i->img_kernel, j->img_kernel) != 0 ||
		    strcmp(i->img_initrd, j->img_initrd) != 0 ||
		    strcmp(i->img_rootfs, j->img_rootfs) != 0 ||
		    strcmp(i->img_bootargs, j->img_bootargs) != 0)
			return "cf_images";
	}
	if (i != NULL || j != NULL)
		return "cf_images (count)";
#undef STR
#undef NUM
	return NULL;
}

static void
test_defaults(void)
{
	struct bangerd_config	*c;
	struct in_addr		 def;

	inet_pton(AF_INET, BANGER_BRIDGE_ADDR, &def);

	c = config_new();
	T_CHECK("config_new", c != NULL, "NULL");
	if (c == NULL)
		return;
	T_CHECK("new: statedir", strcmp(c->cf_statedir, BANGER_STATEDIR) == 0,
	    "%s", c->cf_statedir);
	T_CHECK("new: no images", image_count(c) == 0, "%d", image_count(c));
	config_free(c);
	config_free(NULL);

	c = parse_text("empty.conf", "");
	T_CHECK("empty: parses", c != NULL, "%s", config_error());
	T_CHECK("empty: no error", config_error() == NULL, "%s",
	    config_error());
	if (c == NULL)
		return;
	T_CHECK("empty: path", strcmp(c->cf_path, tpath("empty.conf")) == 0,
	    "%s", c->cf_path);
	T_CHECK("empty: state-dir", strcmp(c->cf_statedir,
	    BANGER_STATEDIR) == 0, "%s", c->cf_statedir);
	T_CHECK("empty: socket", strcmp(c->cf_socket, BANGER_SOCKET) == 0,
	    "%s", c->cf_socket);
	T_CHECK("empty: socket group", strcmp(c->cf_sockgroup,
	    BANGER_SOCKGROUP) == 0, "%s", c->cf_sockgroup);
	T_CHECK("empty: user", strcmp(c->cf_user, BANGER_USER) == 0, "%s",
	    c->cf_user);
	T_CHECK("empty: bridge", strcmp(c->cf_bridge, BANGER_BRIDGE) == 0,
	    "%s", c->cf_bridge);
	T_CHECK("empty: bridge address", c->cf_bridge_addr.s_addr ==
	    def.s_addr, "%s", addr_str(c->cf_bridge_addr));
	T_CHECK("empty: bridge prefix", c->cf_bridge_prefix ==
	    BANGER_BRIDGE_PREFIX, "%d", c->cf_bridge_prefix);
	T_CHECK("empty: egress", c->cf_egress[0] == '\0', "%s", c->cf_egress);
	T_CHECK("empty: domain", strcmp(c->cf_domain, BANGER_DOMAIN) == 0,
	    "%s", c->cf_domain);
	T_CHECK("empty: firecracker", strcmp(c->cf_firecracker,
	    BANGER_FIRECRACKER) == 0, "%s", c->cf_firecracker);
	T_CHECK("empty: jailer", c->cf_jailer[0] == '\0', "%s", c->cf_jailer);
	T_CHECK("empty: vm-uids", c->cf_vm_uid_min == BANGER_VM_UID_MIN &&
	    c->cf_vm_uid_max == BANGER_VM_UID_MAX, "%u to %u",
	    c->cf_vm_uid_min, c->cf_vm_uid_max);
	T_CHECK("empty: max-vms", c->cf_max_vms == BANGER_MAX_VMS, "%d",
	    c->cf_max_vms);
	T_CHECK("empty: storage", c->cf_storage == STORAGE_AUTO, "%d",
	    c->cf_storage);
	T_CHECK("empty: update", c->cf_update_url[0] == '\0' &&
	    c->cf_update_allow_http == 0, "%s %d", c->cf_update_url,
	    c->cf_update_allow_http);
	T_CHECK("empty: cpus", c->cf_def_cpus == BANGER_DEF_CPUS, "%d",
	    c->cf_def_cpus);
	T_CHECK("empty: memory", c->cf_def_memory == BANGER_DEF_MEMORY,
	    "%llu", (unsigned long long)c->cf_def_memory);
	T_CHECK("empty: disk", c->cf_def_disk == BANGER_DEF_DISK, "%llu",
	    (unsigned long long)c->cf_def_disk);
	T_CHECK("empty: no images", image_count(c) == 0, "%d",
	    image_count(c));
	config_free(c);

	c = parse_text("comments.conf", "# only a comment\n\n   \t\n# another");
	T_CHECK("comments only: parses", c != NULL, "%s", config_error());
	config_free(c);
}

static const char full_conf[] =
    "# every setting\n"
    "state-dir \"/srv/banger\"\n"
    "socket \"/run/b/b.sock\"\n"
    "socket group \"wheel\"\n"
    "user \"_bworker\"\n"
    "bridge \"br-fc-test1\" {\n"
    "\taddress 10.20.30.254/23\n"
    "\tegress \"enp0s31f6\"\n"
    "}\n"
    "domain \"VMs.Example.ORG\"\n"
    "firecracker \"/opt/fc/firecracker\"\n"
    "jailer \"/opt/fc/jailer\"\n"
    "vm-uids 100000 to 165535\n"
    "max-vms 9000\n"
    "storage reflink\n"
    "update url \"https://example.org/banger/manifest.json\"\n"
    "defaults {\n"
    "\tcpus 4\n"
    "\tmemory 2G\n"
    "\tdisk 10G\n"
    "}\n"
    "image \"debian-12\" {\n"
    "\tkernel \"/img/vmlinux\"\n"
    "\tinitrd \"/img/initrd.img\"\n"
    "\trootfs \"/img/rootfs.ext4\"\n"
    "\tboot-args \"console=ttyS0 reboot=k panic=1\"\n"
    "}\n"
    "image \"alpine\" { kernel \"/a/k\", rootfs \"/a/r\" }\n";

static void
test_full(void)
{
	struct bangerd_config	*c, *c2;
	const struct conf_image	*i;
	const char		*why;
	struct in_addr		 want;

	c = parse_text("full.conf", full_conf);
	T_CHECK("full: parses", c != NULL, "%s", config_error());
	if (c == NULL)
		return;
	inet_pton(AF_INET, "10.20.30.254", &want);
	T_CHECK("full: state-dir", strcmp(c->cf_statedir, "/srv/banger") == 0,
	    "%s", c->cf_statedir);
	T_CHECK("full: socket", strcmp(c->cf_socket, "/run/b/b.sock") == 0,
	    "%s", c->cf_socket);
	T_CHECK("full: socket group", strcmp(c->cf_sockgroup, "wheel") == 0,
	    "%s", c->cf_sockgroup);
	T_CHECK("full: user", strcmp(c->cf_user, "_bworker") == 0, "%s",
	    c->cf_user);
	T_CHECK("full: bridge", strcmp(c->cf_bridge, "br-fc-test1") == 0,
	    "%s", c->cf_bridge);
	T_CHECK("full: address", c->cf_bridge_addr.s_addr == want.s_addr,
	    "%s", addr_str(c->cf_bridge_addr));
	T_CHECK("full: prefix", c->cf_bridge_prefix == 23, "%d",
	    c->cf_bridge_prefix);
	T_CHECK("full: egress", strcmp(c->cf_egress, "enp0s31f6") == 0, "%s",
	    c->cf_egress);
	T_CHECK("full: domain lowercased", strcmp(c->cf_domain,
	    "vms.example.org") == 0, "%s", c->cf_domain);
	T_CHECK("full: firecracker", strcmp(c->cf_firecracker,
	    "/opt/fc/firecracker") == 0, "%s", c->cf_firecracker);
	T_CHECK("full: jailer", strcmp(c->cf_jailer, "/opt/fc/jailer") == 0,
	    "%s", c->cf_jailer);
	T_CHECK("full: vm-uids", c->cf_vm_uid_min == 100000 &&
	    c->cf_vm_uid_max == 165535, "%u to %u", c->cf_vm_uid_min,
	    c->cf_vm_uid_max);
	T_CHECK("full: max-vms", c->cf_max_vms == 9000, "%d",
	    c->cf_max_vms);
	T_CHECK("full: storage", c->cf_storage == STORAGE_REFLINK, "%d",
	    c->cf_storage);
	T_CHECK("full: update url", strcmp(c->cf_update_url,
	    "https://example.org/banger/manifest.json") == 0 &&
	    c->cf_update_allow_http == 0, "%s %d", c->cf_update_url,
	    c->cf_update_allow_http);
	T_CHECK("full: cpus", c->cf_def_cpus == 4, "%d", c->cf_def_cpus);
	T_CHECK("full: memory", c->cf_def_memory == 2048, "%llu",
	    (unsigned long long)c->cf_def_memory);
	T_CHECK("full: disk", c->cf_def_disk == 10ULL << 30, "%llu",
	    (unsigned long long)c->cf_def_disk);
	T_CHECK("full: two images", image_count(c) == 2, "%d",
	    image_count(c));
	i = TAILQ_FIRST(&c->cf_images);
	T_CHECK("full: image order", i != NULL &&
	    strcmp(i->img_name, "debian-12") == 0, "%s",
	    i != NULL ? i->img_name : "none");
	i = image_find(c, "debian-12");
	T_CHECK("full: image debian-12", i != NULL &&
	    strcmp(i->img_kernel, "/img/vmlinux") == 0 &&
	    strcmp(i->img_initrd, "/img/initrd.img") == 0 &&
	    strcmp(i->img_rootfs, "/img/rootfs.ext4") == 0 &&
	    strcmp(i->img_bootargs, "console=ttyS0 reboot=k panic=1") == 0,
	    "wrong values");
	i = image_find(c, "alpine");
	T_CHECK("full: one-line image", i != NULL &&
	    strcmp(i->img_kernel, "/a/k") == 0 &&
	    strcmp(i->img_rootfs, "/a/r") == 0 && i->img_initrd[0] == '\0' &&
	    i->img_bootargs[0] == '\0', "wrong values");

	/* The same file again, in the same process. */
	c2 = parse_text("full.conf", full_conf);
	T_CHECK("full: parses twice", c2 != NULL, "%s", config_error());
	if (c2 != NULL) {
		why = conf_diff(c, c2);
		T_CHECK("full: same result twice", why == NULL, "%s differs",
		    why);
		config_free(c2);
	}
	config_free(c);
}

/* config_print's output parses back to the same configuration. */
static void
test_print(void)
{
	struct bangerd_config	*c, *c2;
	const char		*why;
	char			*text = NULL;
	size_t			 len = 0;
	FILE			*fp;

	c = parse_text("print.conf", full_conf);
	if (c == NULL) {
		t_fail("print: parse", "%s", config_error());
		return;
	}
	/* Something that needs escaping, and a plain-http update URL. */
	strlcpy(TAILQ_FIRST(&c->cf_images)->img_bootargs,
	    "init=/bin/sh x=\"a b\" y=c\\d", BANGER_BOOTARGS_MAX);
	strlcpy(c->cf_update_url, "http://127.0.0.1:8080/m.json",
	    BANGER_URL_MAX);
	c->cf_update_allow_http = 1;
	c->cf_def_memory = 1536;
	c->cf_def_disk = 1000000000ULL * 512;

	if ((fp = open_memstream(&text, &len)) == NULL) {
		perror("open_memstream");
		exit(1);
	}
	config_print(fp, c);
	fclose(fp);
	T_CHECK("print: has keywords", strstr(text, "state-dir \"/srv/banger\"")
	    != NULL && strstr(text, "allow-http") != NULL &&
	    strstr(text, "memory 1536M") != NULL, "%s", text);

	c2 = parse_text("printed.conf", text);
	T_CHECK("print: output parses", c2 != NULL, "%s", config_error());
	if (c2 != NULL) {
		why = conf_diff(c, c2);
		T_CHECK("print: round trip", why == NULL, "%s differs", why);
		config_free(c2);
	}
	free(text);
	config_free(c);

	/* Defaults print and parse back too. */
	c = config_new();
	text = NULL;
	if ((fp = open_memstream(&text, &len)) == NULL)
		exit(1);
	config_print(fp, c);
	fclose(fp);
	c2 = parse_text("printed-defaults.conf", text);
	T_CHECK("print: defaults parse", c2 != NULL, "%s", config_error());
	if (c2 != NULL) {
		why = conf_diff(c, c2);
		T_CHECK("print: defaults round trip", why == NULL,
		    "%s differs", why);
		config_free(c2);
	}
	free(text);
	config_free(c);
}

static void
test_macros(void)
{
	struct bangerd_config	*c;
	const struct conf_image	*i;
	struct in_addr		 want;
	char			 d1[] = "dmem=2G", d2[] = "dcpus=8";
	char			 d3[] = "dnew=/from/cmdline";
	char			 bad1[] = "noequals", bad2[] = "1x=3";
	char			 bad3[] = "disk=5", bad4[] = "a-b=1";

	c = parse_text("macros.conf",
	    "addr = \"192.168.7.1/24\"\n"
	    "dir=\"/opt/images\"\n"
	    "n = 3\n"
	    "eg = eth1\n"
	    "grp = 'banger-users'\n"
	    "name = deb\n"
	    "bridge \"br-fc\" { address $addr\n egress $eg }\n"
	    "socket group $grp\n"
	    "defaults {\n\tcpus $n\n}\n"
	    "image $name {\n"
	    "\tkernel $dir/vmlinux\n"
	    "\trootfs $dir\"/root fs.ext4\"\n"
	    "\tinitrd \"/x/$dir\"\n"
	    "}\n");
	T_CHECK("macros: parse", c != NULL, "%s", config_error());
	if (c != NULL) {
		inet_pton(AF_INET, "192.168.7.1", &want);
		T_CHECK("macros: address", c->cf_bridge_addr.s_addr ==
		    want.s_addr && c->cf_bridge_prefix == 24, "%s/%d",
		    addr_str(c->cf_bridge_addr), c->cf_bridge_prefix);
		T_CHECK("macros: egress", strcmp(c->cf_egress, "eth1") == 0,
		    "%s", c->cf_egress);
		T_CHECK("macros: single quotes", strcmp(c->cf_sockgroup,
		    "banger-users") == 0, "%s", c->cf_sockgroup);
		T_CHECK("macros: number", c->cf_def_cpus == 3, "%d",
		    c->cf_def_cpus);
		i = image_find(c, "deb");
		T_CHECK("macros: image name", i != NULL, "no image deb");
		T_CHECK("macros: joined word", i != NULL &&
		    strcmp(i->img_kernel, "/opt/images/vmlinux") == 0, "%s",
		    i != NULL ? i->img_kernel : "");
		T_CHECK("macros: joined quoted", i != NULL &&
		    strcmp(i->img_rootfs, "/opt/images/root fs.ext4") == 0,
		    "%s", i != NULL ? i->img_rootfs : "");
		T_CHECK("macros: not expanded in quotes", i != NULL &&
		    strcmp(i->img_initrd, "/x/$dir") == 0, "%s",
		    i != NULL ? i->img_initrd : "");
		config_free(c);
	}

	/* Macros do not survive into the next parse. */
	c = parse_text("macros2.conf", "state-dir $dir\n");
	T_CHECK("macros: forgotten after parse", c == NULL &&
	    config_error() != NULL &&
	    strstr(config_error(), "macro \"dir\" is not defined") != NULL,
	    "%s", config_error());
	config_free(c);

	/* -D wins over the file, and survives between parses. */
	T_CHECK("-D: set", cmdline_symset(d1) == 0 && cmdline_symset(d2) == 0 &&
	    cmdline_symset(d3) == 0, "cmdline_symset failed");
	T_CHECK("-D: no '='", cmdline_symset(bad1) == -1, "accepted");
	T_CHECK("-D: bad name", cmdline_symset(bad2) == -1, "accepted");
	T_CHECK("-D: keyword", cmdline_symset(bad3) == -1, "accepted");
	T_CHECK("-D: dash in name", cmdline_symset(bad4) == -1, "accepted");
	c = parse_text("cmdline.conf",
	    "dmem = 1G\n"
	    "dcpus = 2\n"
	    "defaults {\n\tmemory $dmem\n\tcpus $dcpus\n}\n"
	    "state-dir $dnew\n");
	T_CHECK("-D: parse", c != NULL, "%s", config_error());
	if (c != NULL) {
		T_CHECK("-D: overrides string", c->cf_def_memory == 2048,
		    "%llu", (unsigned long long)c->cf_def_memory);
		T_CHECK("-D: overrides number", c->cf_def_cpus == 8, "%d",
		    c->cf_def_cpus);
		T_CHECK("-D: without definition in the file",
		    strcmp(c->cf_statedir, "/from/cmdline") == 0, "%s",
		    c->cf_statedir);
		config_free(c);
	}
	c = parse_text("cmdline2.conf",
	    "defaults {\n\tmemory $dmem\n}\n");
	T_CHECK("-D: kept for the next parse", c != NULL &&
	    c->cf_def_memory == 2048, "%s", config_error());
	config_free(c);
}

static void
test_includes(void)
{
	struct bangerd_config	*c;
	const char		*main_path, *err;
	char			 want[PATH_MAX + 64];

	if (mkdir(tpath("conf.d"), 0755) == -1 && errno != EEXIST) {
		perror("mkdir");
		exit(1);
	}
	write_file("conf.d/images.conf",
	    "# images\n"
	    "image \"inc1\" {\n"
	    "\tkernel \"/k\"\n"
	    "\trootfs \"/r\"\n"
	    "}\n"
	    "include \"more.conf\"\n");
	write_file("conf.d/more.conf",
	    "incdomain = \"inc.example\"\n"
	    "image \"inc2\" { kernel \"/k2\", rootfs \"/r2\" }");
	c = parse_text("inc-main.conf",
	    "include \"conf.d/images.conf\"\n"
	    "domain $incdomain\n"
	    "image \"main\" { kernel \"/k\" rootfs \"/r\" }\n");
	T_CHECK("include: parses", c != NULL, "%s", config_error());
	if (c != NULL) {
		T_CHECK("include: images", image_count(c) == 3 &&
		    image_find(c, "inc1") != NULL &&
		    image_find(c, "inc2") != NULL &&
		    image_find(c, "main") != NULL, "%d images",
		    image_count(c));
		T_CHECK("include: macro from include",
		    strcmp(c->cf_domain, "inc.example") == 0, "%s",
		    c->cf_domain);
		config_free(c);
	}

	/* An absolute include. */
	snprintf(want, sizeof(want), "include \"%s\"\n",
	    tpath("conf.d/images.conf"));
	c = parse_text("inc-abs.conf", want);
	T_CHECK("include: absolute path", c != NULL && image_count(c) == 2,
	    "%s", config_error());
	config_free(c);

	/* An error in an included file names that file and its line. */
	write_file("conf.d/bad.conf", "\n\ndefaults {\n\tcpus 64\n}\n");
	c = parse_text("inc-bad.conf", "# x\ninclude \"conf.d/bad.conf\"\n");
	err = config_error();
	snprintf(want, sizeof(want), "%s:4: cpus 64",
	    tpath("conf.d/bad.conf"));
	T_CHECK("include: error in included file", c == NULL && err != NULL &&
	    strncmp(err, want, strlen(want)) == 0, "got \"%s\", want \"%s\"",
	    err, want);
	config_free(c);

	/* A line after the include is counted in the including file. */
	c = parse_text("inc-after.conf", "include \"conf.d/images.conf\"\n"
	    "\n"
	    "domain \"bad..name\"\n");
	err = config_error();
	snprintf(want, sizeof(want), "%s:3: domain", tpath("inc-after.conf"));
	T_CHECK("include: lines after include", c == NULL && err != NULL &&
	    strncmp(err, want, strlen(want)) == 0, "got \"%s\", want \"%s\"",
	    err, want);
	config_free(c);

	/* A missing top-level file. */
	c = config_new();
	errno = 0;
	main_path = tpath("does-not-exist.conf");
	T_CHECK("missing file: fails", config_parse(c, main_path) == -1 &&
	    errno == ENOENT, "errno %d", errno);
	err = config_error();
	T_CHECK("missing file: error", err != NULL &&
	    strncmp(err, main_path, strlen(main_path)) == 0 &&
	    strstr(err, "No such file") != NULL, "%s", err);
	config_free(c);
}

static void
test_values(void)
{
	struct bangerd_config	*c, *c2;
	const struct conf_image	*i;
	const struct conf_registry *r;
	char			 args[BANGER_BOOTARGS_MAX], *text = NULL;
	size_t			 n, len = 0;
	FILE			*fp;

	c = parse_text("sizes1.conf", "defaults {\n\tmemory 1024\n"
	    "\tdisk 8589934592\n}\n");
	T_CHECK("sizes: plain numbers", c != NULL && c->cf_def_memory == 1024 &&
	    c->cf_def_disk == 8ULL << 30, "%s", config_error());
	config_free(c);

	c = parse_text("sizes2.conf", "defaults { memory 1.5G, disk 512M }\n");
	T_CHECK("sizes: fraction and M", c != NULL &&
	    c->cf_def_memory == 1536 && c->cf_def_disk == 512ULL << 20, "%s",
	    config_error());
	config_free(c);

	c = parse_text("sizes3.conf", "defaults { memory \"256\"\n"
	    "disk 16T\ncpus 32 }\n");
	T_CHECK("sizes: quoted number, limits", c != NULL &&
	    c->cf_def_memory == 256 && c->cf_def_disk == 16ULL << 40 &&
	    c->cf_def_cpus == 32, "%s", config_error());
	config_free(c);

	c = parse_text("sizes4.conf", "defaults {\n memory 1T\n disk 262144k\n"
	    " cpus 1 }\n");
	T_CHECK("sizes: 1T and lower-case k", c != NULL &&
	    c->cf_def_memory == 1048576 && c->cf_def_disk == 256ULL << 20,
	    "%s", config_error());
	config_free(c);

	c = parse_text("registry.conf", "registry-auth \"/etc/a.json\"\n"
	    "registry \"r.example:5000\" {\n\tinsecure\n"
	    "\tca-file \"/etc/ca.pem\"\n\thost \"auth.example\"\n"
	    "\thost \"cdn.example:8443\"\n\tmirror \"m.example:5000\"\n}\n"
	    "registry \"docker.io\" { }\n");
	r = c != NULL ? TAILQ_FIRST(&c->cf_registries) : NULL;
	T_CHECK("registry: a block", r != NULL &&
	    strcmp(r->reg_domain, "r.example:5000") == 0 && r->reg_insecure &&
	    strcmp(r->reg_cafile, "/etc/ca.pem") == 0 && r->reg_nhosts == 2 &&
	    strcmp(r->reg_hosts[1], "cdn.example:8443") == 0 &&
	    r->reg_nmirrors == 1 &&
	    strcmp(r->reg_mirrors[0], "m.example:5000") == 0 &&
	    strcmp(c->cf_registry_auth, "/etc/a.json") == 0, "%s",
	    config_error());
	r = r != NULL ? TAILQ_NEXT(r, reg_entry) : NULL;
	T_CHECK("registry: an empty block", r != NULL &&
	    strcmp(r->reg_domain, "docker.io") == 0 && !r->reg_insecure &&
	    r->reg_cafile[0] == '\0' && r->reg_nhosts == 0, "%s",
	    config_error());
	if (c != NULL && (fp = open_memstream(&text, &len)) != NULL) {
		config_print(fp, c);
		fclose(fp);
		c2 = parse_text("registry2.conf", text);
		r = c2 != NULL ? TAILQ_FIRST(&c2->cf_registries) : NULL;
		T_CHECK("registry: printed, it parses the same", r != NULL &&
		    strcmp(r->reg_hosts[0], "auth.example") == 0 &&
		    r->reg_nmirrors == 1 &&
		    r->reg_insecure && TAILQ_NEXT(r, reg_entry) != NULL &&
		    strcmp(c2->cf_registry_auth, "/etc/a.json") == 0, "%s",
		    config_error());
		config_free(c2);
		free(text);
		text = NULL;
		len = 0;
	}
	config_free(c);

	c = parse_text("storage.conf", "storage dm\n");
	T_CHECK("storage dm", c != NULL && c->cf_storage == STORAGE_DM, "%s",
	    config_error());
	config_free(c);
	c = parse_text("storage2.conf", "storage copy\n");
	T_CHECK("storage copy", c != NULL && c->cf_storage == STORAGE_COPY,
	    "%s", config_error());
	config_free(c);

	c = parse_text("http.conf",
	    "update url \"http://localhost:8000/m.json\" allow-http\n");
	T_CHECK("update: http to localhost", c != NULL &&
	    c->cf_update_allow_http == 1, "%s", config_error());
	config_free(c);
	c = parse_text("http2.conf",
	    "update url \"http://127.1.2.3/m.json\" allow-http\n");
	T_CHECK("update: http to 127/8", c != NULL, "%s", config_error());
	config_free(c);
	c = parse_text("http3.conf",
	    "update url \"http://[::1]:99/m.json\" allow-http\n");
	T_CHECK("update: http to [::1]", c != NULL, "%s", config_error());
	config_free(c);

	c = parse_text("bootargs.conf",
	    "image \"x\" {\n"
	    "\tkernel \"/k\"\n"
	    "\trootfs \"/r\"\n"
	    "\tboot-args \"console=ttyS0\n"
	    "\t    reboot=k \\\"q\\\"\n"
	    "\t    panic=1\"\n"
	    "}\n");
	i = c != NULL ? TAILQ_FIRST(&c->cf_images) : NULL;
	T_CHECK("boot-args over lines", i != NULL &&
	    strcmp(i->img_bootargs, "console=ttyS0 reboot=k \"q\" panic=1") ==
	    0, "%s", i != NULL ? i->img_bootargs : config_error());
	config_free(c);

	/* Every printable ASCII byte, in the longest value an image takes. */
	memset(args, 0, sizeof(args));
	for (n = 0; n < BANGER_BOOTARGS_MAX - 1; n++)
		args[n] = 0x20 + n % (0x7f - 0x20);
	if ((fp = open_memstream(&text, &len)) == NULL)
		exit(1);
	fprintf(fp, "image \"x\" {\n\tkernel \"/k\"\n\trootfs \"/r\"\n"
	    "\tboot-args \"");
	for (n = 0; args[n] != '\0'; n++)
		fprintf(fp, "%s%c", args[n] == '"' || args[n] == '\\' ?
		    "\\" : "", args[n]);
	fprintf(fp, "\"\n}\n");
	fclose(fp);
	c = parse_text("bootargs-max.conf", text);
	free(text);
	text = NULL;
	i = c != NULL ? TAILQ_FIRST(&c->cf_images) : NULL;
	T_CHECK("boot-args: 1023 bytes of printable ASCII", i != NULL &&
	    strcmp(i->img_bootargs, args) == 0, "%s",
	    i != NULL ? i->img_bootargs : config_error());
	config_free(c);

	c = parse_text("cont.conf",
	    "state-dir \\\n\t\"/x\"\n"
	    "vm-uids 10 \\\n to 20\n"
	    "domain \"a\"\n");
	T_CHECK("backslash-newline continues", c != NULL &&
	    strcmp(c->cf_statedir, "/x") == 0 && c->cf_vm_uid_max == 20,
	    "%s", config_error());
	config_free(c);

	c = parse_text("maxvms.conf", "vm-uids 10 to 19\n");
	T_CHECK("max-vms defaults to the uids of a small vm-uids", c != NULL &&
	    c->cf_max_vms == 10, "%d", c != NULL ? c->cf_max_vms : -1);
	config_free(c);

	c = parse_text("longname.conf", "image \"a12345678901234567890"
	    "1234567890123456789012345678901234567890-3\" {\n"
	    "\tkernel \"/k\"\n\trootfs \"/r\"\n}\n");
	i = c != NULL ? TAILQ_FIRST(&c->cf_images) : NULL;
	T_CHECK("image name of 63 characters", i != NULL &&
	    strlen(i->img_name) == 63, "%s", config_error());
	config_free(c);

	c = parse_text("brace.conf",
	    "bridge \"br-fc-a-1\" {}\nbridge2 = 1\n"
	    "defaults\n{\n\n\tcpus 2\n\n}\n"
	    "image \"b\"\n\n{\n\tkernel \"/k\"\n\trootfs \"/r\" }\n");
	T_CHECK("empty block, '{' on the next line", c != NULL &&
	    strcmp(c->cf_bridge, "br-fc-a-1") == 0 && c->cf_def_cpus == 2 &&
	    image_count(c) == 1, "%s", config_error());
	config_free(c);
}

struct bad {
	const char	*name;
	const char	*text;
	int		 line;
	const char	*msg;		/* the start of the message */
};

static const struct bad bad[] = {
	{ "registry: not a domain", "registry \"Reg istry\" { insecure }\n",
	    1, "registry \"Reg istry\": expected a host name or address" },
	{ "registry: twice", "registry \"r.example\" { insecure }\n"
	    "registry \"r.example\" { }\n", 2,
	    "registry \"r.example\" already defined" },
	{ "registry: insecure twice", "registry \"r.example\" {\n insecure\n"
	    " insecure\n}\n", 3, "insecure already set in this registry" },
	{ "registry: a relative ca-file", "registry \"r.example\" {\n"
	    " ca-file \"ca.pem\"\n}\n", 2,
	    "ca-file \"ca.pem\": expected an absolute path" },
	{ "registry: a bad host", "registry \"r.example\" { host \"a/b\" }\n",
	    1, "host \"a/b\": expected a host name or address" },
	{ "registry: nine hosts", "registry \"r.example\" { host \"a\", "
	    "host \"b\", host \"c\", host \"d\", host \"e\", host \"f\", "
	    "host \"g\", host \"h\", host \"i\" }\n", 1,
	    "host \"i\": a registry has at most 8 hosts" },
	{ "registry: five mirrors", "registry \"r.example\" { mirror \"a\", "
	    "mirror \"b\", mirror \"c\", mirror \"d\", mirror \"e\" }\n", 1,
	    "mirror \"e\": a registry has at most 4 mirrors" },
	{ "registry: a bad mirror", "registry \"r.example\" {\n"
	    " mirror \"http://m\"\n}\n", 2,
	    "mirror \"http://m\": expected a host name or address" },
	{ "registry-auth twice", "registry-auth \"/a\"\nregistry-auth \"/b\"\n",
	    2, "registry-auth already set" },
	{ "registry-auth relative", "registry-auth \"auth.json\"\n", 1,
	    "registry-auth \"auth.json\": expected an absolute path" },
	{ "unknown keyword", "\n\nfoo \"bar\"\n", 3,
	    "unknown keyword \"foo\"" },
	{ "unknown keyword in block", "image \"a\" {\n kernel \"/k\"\n"
	    " cmdline \"x\"\n rootfs \"/r\"\n}\n", 3,
	    "unknown keyword \"cmdline\"" },
	{ "keyword out of its block", "cpus 2\n", 1,
	    "\"cpus\" is only valid inside a defaults block" },
	{ "missing value", "state-dir\n", 1,
	    "syntax error: unexpected end of line after \"state-dir\"" },
	{ "trailing word", "domain \"vm.internal\" extra\n", 1,
	    "syntax error: unexpected \"extra\" after \"domain\"" },
	{ "stray brace", "# x\n}\n", 2, "syntax error: unexpected \"}\"" },
	{ "unclosed block", "defaults {\n\tcpus 2\n", 1,
	    "missing '}'" },
	{ "unterminated string", "state-dir \"/var\n\n", 1,
	    "unterminated quoted string" },
	{ "undefined macro", "\nstate-dir $nosuch\n", 2,
	    "macro \"nosuch\" is not defined" },
	{ "macro named like a keyword", "x = 1\nmemory = 2\n", 2,
	    "macro name \"memory\" is a reserved keyword" },
	{ "bad macro name", "my-var = 2\n", 1,
	    "invalid macro name \"my-var\"" },
	{ "relative state-dir", "state-dir \"var/lib/banger\"\n", 1,
	    "state-dir \"var/lib/banger\": expected an absolute path" },
	{ "relative firecracker", "firecracker \"firecracker\"\n", 1,
	    "firecracker \"firecracker\": expected an absolute path" },
	{ "relative jailer", "jailer \"usr/bin/jailer\"\n", 1,
	    "jailer \"usr/bin/jailer\": expected an absolute path" },
	{ "relative kernel", "image \"a\" {\n\tkernel \"vmlinux\"\n"
	    "\trootfs \"/r\"\n}\n", 2,
	    "kernel \"vmlinux\": expected an absolute path" },
	{ "newline in a path", "state-dir \"/var\nlib\"\n", 1,
	    "state-dir \"/var\\nlib\": a path must not contain newlines" },
	{ "socket path too long", "socket \"/run/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\"\n", 1, "socket \"/run/aaaa" },
	{ "bad user", "user \"bad:user\"\n", 1,
	    "user \"bad:user\": invalid name" },
	{ "user too long", "user \"abcdefghijklmnopqrstuvwxyz0123456\"\n",
	    1, "user \"abcdefghijklmnopqrstuvwxyz0123456\": invalid name" },
	{ "bad group", "socket group \"9group\"\n", 1,
	    "socket group \"9group\": invalid name" },
	{ "bad bridge name", "bridge \"virbr0\" {\n}\n", 1,
	    "bridge \"virbr0\": invalid name; expected \"br-fc\" or "
	    "\"br-fc-\" followed by 1 to 5 of [a-z0-9-]" },
	{ "bridge name too long", "bridge \"br-fc-0123456789\" {}\n", 1,
	    "bridge \"br-fc-0123456789\": invalid name" },
	{ "bridge name with no room for its leaves",
	    "bridge \"br-fc-abcdef\" {}\n", 1,
	    "bridge \"br-fc-abcdef\": invalid name; expected \"br-fc\" or "
	    "\"br-fc-\" followed by 1 to 5 of [a-z0-9-]" },
	{ "bridge name upper case", "bridge \"br-fc-A\" {}\n", 1,
	    "bridge \"br-fc-A\": invalid name" },
	{ "address without prefix", "bridge \"br-fc\" {\n"
	    "\taddress 172.16.0.1\n}\n", 2,
	    "address \"172.16.0.1\": expected an IPv4 address and prefix" },
	{ "address not dotted quad", "bridge \"br-fc\" {\n"
	    "\taddress 172.16.1/24\n}\n", 2,
	    "address \"172.16.1/24\": \"172.16.1\" is not a dotted-quad" },
	{ "address prefix 31", "bridge \"br-fc\" { address 10.0.0.1/31 }\n",
	    1, "address \"10.0.0.1/31\": prefix length must be from 8 to 30" },
	{ "address prefix 7", "bridge \"br-fc\" { address 10.0.0.1/7 }\n",
	    1, "address \"10.0.0.1/7\": prefix length must be from 8 to 30" },
	{ "network address", "bridge \"br-fc\" {\n\n"
	    "\taddress 172.16.0.0/24\n}\n", 3,
	    "address \"172.16.0.0/24\": that is the network address of "
	    "172.16.0.0/24; use a host address such as 172.16.0.1/24" },
	{ "broadcast address", "bridge \"br-fc\" {\n"
	    "\taddress 10.1.3.255/22\n}\n", 2,
	    "address \"10.1.3.255/22\": that is the broadcast address of "
	    "10.1.0.0/22" },
	{ "loopback address", "bridge \"br-fc\" {\n"
	    "\taddress 127.0.0.1/8\n}\n", 2,
	    "address \"127.0.0.1/8\": not a usable unicast address" },
	{ "bad egress", "bridge \"br-fc\" {\n\tegress \"eth0:1\"\n}\n", 2,
	    "egress \"eth0:1\": invalid interface name" },
	{ "egress too long", "bridge \"br-fc\" {\n"
	    "\tegress \"abcdefghijklmnop\"\n}\n", 2,
	    "egress \"abcdefghijklmnop\": invalid interface name" },
	{ "egress dotdot", "bridge \"br-fc\" {\n\tegress \"..\"\n}\n", 2,
	    "egress \"..\": invalid interface name" },
	{ "egress is the bridge", "bridge \"br-fc-x\" {\n"
	    "\tegress \"br-fc-x\"\n}\n", 2,
	    "egress \"br-fc-x\": the egress interface cannot be the bridge" },
	{ "bad domain", "domain \"vm_internal\"\n", 1,
	    "domain \"vm_internal\": may only contain letters, digits" },
	{ "domain empty label", "domain \"vm..internal\"\n", 1,
	    "domain \"vm..internal\": has an empty label" },
	{ "domain label dash", "domain \"vm-.internal\"\n", 1,
	    "domain \"vm-.internal\": has a label ending with '-'" },
	{ "domain label too long", "domain \"a123456789012345678901234567890"
	    "12345678901234567890123456789012345.x\"\n", 1,
	    "domain \"a12345" },
	{ "max-vms zero", "max-vms 0\n", 1,
	    "max-vms 0: expected a number from 1 to 65536" },
	{ "max-vms too large", "max-vms 65537\n", 1,
	    "max-vms 65537: expected a number from 1 to 65536" },
	{ "max-vms a word", "max-vms lots\n", 1,
	    "max-vms \"lots\": expected a number from 1 to 65536" },
	{ "max-vms twice", "max-vms 5\nmax-vms 6\n", 2,
	    "max-vms already set at line 1" },
	{ "max-vms over the uids", "vm-uids 10 to 19\nmax-vms 11\n", 2,
	    "max-vms 11: more than the 10 uids of vm-uids 10 to 19, one for "
	    "each VM" },
	{ "vm-uids zero", "vm-uids 0 to 10\n", 1,
	    "vm-uids 0 to 10: the first uid must be from 1 to" },
	{ "vm-uids reversed", "vm-uids 10 to 10\n", 1,
	    "vm-uids 10 to 10: the first uid must be lower than the last" },
	{ "vm-uids too high", "vm-uids 10 to 4294967295\n", 1,
	    "vm-uids 10 to 4294967295: the last uid must be from 2 to "
	    "4294967294" },
	{ "vm-uids negative", "vm-uids -5 to 10\n", 1,
	    "vm-uids -5 to 10: the first uid must be from 1" },
	{ "vm-uids without to", "vm-uids 10 20\n", 1,
	    "syntax error: unexpected \"20\" after \"vm-uids\"" },
	{ "number too large", "vm-uids 1 to 99999999999999999999\n", 1,
	    "number 99999999999999999999 is too large" },
	{ "unknown storage", "storage btrfs\n", 1,
	    "storage \"btrfs\": unknown backend; expected auto, dm, reflink "
	    "or copy" },
	{ "update ftp", "update url \"ftp://example.org/m\"\n", 1,
	    "update url \"ftp://example.org/m\": expected an https:// URL" },
	{ "update http without allow-http",
	    "update url \"http://127.0.0.1/m\"\n", 1,
	    "update url \"http://127.0.0.1/m\": expected an https:// URL "
	    "(plain http:// needs allow-http and a loopback host)" },
	{ "update http not loopback",
	    "update url \"http://example.org/m\" allow-http\n", 1,
	    "update url \"http://example.org/m\": allow-http only permits a "
	    "loopback host" },
	{ "update http 128.0.0.1",
	    "update url \"http://128.0.0.1/m\" allow-http\n", 1,
	    "update url \"http://128.0.0.1/m\": allow-http only permits" },
	{ "update no host", "update url \"https:///m\"\n", 1,
	    "update url \"https:///m\": expected a host name" },
	{ "update bad port", "update url \"https://e.org:99999/m\"\n", 1,
	    "update url \"https://e.org:99999/m\": the port must be" },
	{ "cpus zero", "defaults {\n\tcpus 0\n}\n", 2,
	    "cpus 0: expected a number from 1 to 32" },
	{ "cpus 33", "defaults { cpus 33 }\n", 1,
	    "cpus 33: expected a number from 1 to 32" },
	{ "cpus not a number", "defaults {\n\tcpus two\n}\n", 2,
	    "cpus \"two\": expected a number from 1 to 32" },
	{ "memory too small", "defaults {\n\tmemory 127\n}\n", 2,
	    "memory \"127\": must be from 128M to 1T" },
	{ "memory too large", "defaults {\n\tmemory 2T\n}\n", 2,
	    "memory \"2T\": must be from 128M to 1T" },
	{ "memory bad suffix", "defaults {\n\tmemory 1Gb\n}\n", 2,
	    "memory \"1Gb\": invalid size" },
	{ "memory not whole MiB", "defaults {\n\tmemory 1000000K\n}\n", 2,
	    "memory \"1000000K\": not a whole number of MiB" },
	{ "disk too small", "defaults {\n\tdisk 255M\n}\n", 2,
	    "disk \"255M\": must be from 256M to 16T" },
	{ "disk too large", "defaults {\n\tdisk 17T\n}\n", 2,
	    "disk \"17T\": must be from 256M to 16T" },
	{ "disk huge number", "defaults {\n\tdisk 99999999999T\n}\n", 2,
	    "disk \"99999999999T\": invalid size" },
	{ "disk not sectors", "defaults {\n\tdisk 268435457\n}\n", 2,
	    "disk \"268435457\": must be a whole number of 512-byte sectors" },
	{ "image bad name", "image \"Debian\" {\n\tkernel \"/k\"\n"
	    "\trootfs \"/r\"\n}\n", 1, "image \"Debian\": invalid name" },
	{ "image name starts with dash", "image \"-x\" { kernel \"/k\", "
	    "rootfs \"/r\" }\n", 1, "image \"-x\": invalid name" },
	{ "image name too long", "image \"a1234567890123456789012345678901"
	    "23456789012345678901234567890123\" {\n"
	    "\tkernel \"/k\", rootfs \"/r\" }\n", 1, "image \"a123" },
	{ "duplicate image", "image \"a\" {\n\tkernel \"/k\"\n"
	    "\trootfs \"/r\"\n}\n\nimage \"a\" { kernel \"/k\" rootfs \"/r\" }"
	    "\n", 6, "image \"a\" already defined at line 1" },
	{ "image without kernel", "image \"a\" {\n\trootfs \"/r\"\n\n}\n", 4,
	    "image \"a\": missing kernel" },
	{ "image without rootfs", "image \"a\" {\n\tkernel \"/k\"\n}\n", 3,
	    "image \"a\": missing rootfs" },
	{ "image kernel twice", "image \"a\" {\n\tkernel \"/k\"\n"
	    "\tkernel \"/k2\"\n\trootfs \"/r\"\n}\n", 3,
	    "kernel already set at line 2 in this image" },
	{ "boot-args too long", NULL, 4, "boot-args \"xxxx" },
	{ "boot-args control character", "image \"a\" { kernel \"/k\"\n"
	    "rootfs \"/r\"\nboot-args \"a\007b\" }\n", 3,
	    "boot-args \"a\\x07b\": must not contain control characters" },
	{ "boot-args not ASCII", "image \"a\" { kernel \"/k\"\n"
	    "rootfs \"/r\"\nboot-args \"quiet caf\xc3\xa9\" }\n", 3,
	    "boot-args \"quiet caf\\xc3\\xa9\": byte 0xc3 at offset 9 is not "
	    "printable ASCII; Firecracker takes only 0x20 to 0x7e" },
	{ "setting twice", "domain \"a\"\n# x\ndomain \"b\"\n", 3,
	    "domain already set at line 1" },
	{ "defaults twice", "defaults { cpus 2 }\ndefaults { cpus 3 }\n", 2,
	    "cpus already set at line 1" },
	{ "missing include", "# x\n\ninclude \"nonexistent.conf\"\n", 3,
	    "include \"" },
	{ "recursive include", "\ninclude \"bad-recursive.conf\"\n", 2,
	    "include \"" },
	{ "semicolon", "state-dir \"/x\";\n", 1,
	    "syntax error: unexpected \";\" after \"state-dir\"" },
	{ "lone dollar", "state-dir $ x\n", 1,
	    "'$' must be followed by a macro name" },
	{ "bridge without a block", "bridge \"br-fc\"\n\ndomain \"x\"\n", 3,
	    "syntax error: unexpected \"domain\"" },
};

static void
test_bad(void)
{
	struct bangerd_config	*c;
	const struct bad	*b;
	const char		*path, *err;
	char			 want[PATH_MAX + 1024], name[64];
	char			*text;
	size_t			 i, n;
	FILE			*fp;

	write_file("bad-recursive.conf", "include \"bad-recursive2.conf\"\n");
	write_file("bad-recursive2.conf",
	    "\n\ninclude \"bad-recursive.conf\"\n");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = &bad[i];
		snprintf(name, sizeof(name), "bad-%02zu.conf", i);
		if (b->text != NULL)
			text = strdup(b->text);
		else {
			/* boot-args of 1024 bytes: one more than fits. */
			n = BANGER_BOOTARGS_MAX;
			if ((text = malloc(n + 100)) == NULL)
				exit(1);
			snprintf(text, n + 100, "image \"a\" {\n"
			    "\tkernel \"/k\"\n\trootfs \"/r\"\n"
			    "\tboot-args \"%0*d\"\n}\n", (int)n, 0);
			memset(strchr(text, '0'), 'x', n);
		}
		if (text == NULL)
			exit(1);
		path = write_file(name, text);
		free(text);

		if ((c = config_new()) == NULL)
			exit(1);
		if (config_parse(c, path) == 0) {
			t_fail(b->name, "parsed without error");
			config_free(c);
			continue;
		}
		config_free(c);
		err = config_error();
		if (strcmp(b->name, "recursive include") == 0)
			/* Reported where the loop closes. */
			snprintf(want, sizeof(want), "%s:3: include \"%s\": "
			    "recursive include", tpath("bad-recursive2.conf"),
			    tpath("bad-recursive.conf"));
		else if (strcmp(b->name, "missing include") == 0)
			snprintf(want, sizeof(want), "%s:%d: include \"%s\": "
			    "cannot open: No such file or directory", path,
			    b->line, tpath("nonexistent.conf"));
		else
			snprintf(want, sizeof(want), "%s:%d: %s", path,
			    b->line, b->msg);
		T_CHECK(b->name, err != NULL &&
		    strncmp(err, want, strlen(want)) == 0,
		    "got \"%s\", want \"%s\"", err != NULL ? err : "(null)",
		    want);
	}
	T_CHECK("at least 25 invalid files", i >= 25, "%zu", i);

	/* A NUL byte, which fputs could not write. */
	path = tpath("nul.conf");
	if ((fp = fopen(path, "w")) == NULL)
		exit(1);
	fwrite("domain \"a\"\n\0x\n", 1, 14, fp);
	fclose(fp);
	if ((c = config_new()) == NULL)
		exit(1);
	snprintf(want, sizeof(want), "%s:2: NUL character", path);
	T_CHECK("NUL character", config_parse(c, path) == -1 &&
	    strncmp(config_error(), want, strlen(want)) == 0,
	    "got \"%s\", want \"%s\"", config_error(), want);
	config_free(c);

	/* A good parse after a bad one clears the error. */
	c = parse_text("good-after-bad.conf", "domain \"ok\"\n");
	T_CHECK("error cleared by a good parse", c != NULL &&
	    config_error() == NULL, "%s", config_error());
	config_free(c);

	/* Every error is counted, not just the first. */
	c = parse_text("two-errors.conf", "cpus 1\ndomain \"-\"\n");
	T_CHECK("first of several errors", c == NULL && config_error() !=
	    NULL && strstr(config_error(), ":1: ") != NULL, "%s",
	    config_error());
	config_free(c);
}

/* The example configuration in the tree parses. */
static void
test_example(void)
{
	struct bangerd_config	*c;
	const char		*top = getenv("TOP");
	char			 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/etc/bangerd.conf",
	    top != NULL ? top : ".");
	if (access(path, R_OK) == -1) {
		t_skip("etc/bangerd.conf parses", "%s: %s", path,
		    strerror(errno));
		return;
	}
	if ((c = config_new()) == NULL)
		exit(1);
	T_CHECK("etc/bangerd.conf parses", config_parse(c, path) == 0, "%s",
	    config_error());
	T_CHECK("etc/bangerd.conf: dev paths", strcmp(c->cf_statedir,
	    "/var/lib/banger") == 0 && strcmp(c->cf_socket,
	    "/run/banger/bangerd.sock") == 0 && strcmp(c->cf_bridge,
	    BANGER_BRIDGE) == 0 && c->cf_egress[0] == '\0', "%s %s %s %s",
	    c->cf_statedir, c->cf_socket, c->cf_bridge, c->cf_egress);
	config_free(c);
}

static void
cleanup(const char *dir)
{
	char		 path[PATH_MAX];
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			cleanup(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_defaults();
	test_full();
	test_print();
	test_macros();
	test_includes();
	test_values();
	test_bad();
	test_example();
	cleanup(tmpdir);
	return t_done();
}
