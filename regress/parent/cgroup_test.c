/*
 * cgroup_mountinfo and cgroup_self: the parent finds the cgroup2 mount
 * wherever it is (unified, or /sys/fs/cgroup/unified on a hybrid host),
 * only one that shows the whole hierarchy, and its own group from the
 * "0::" line among cgroup v1 lines.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "parent/cgroup.h"
#include "regress.h"

static int
mount_of(const char *text, char *buf, size_t len)
{
	FILE	*fp;
	int	 rv;

	if ((fp = fmemopen((void *)text, strlen(text), "r")) == NULL)
		return -2;
	rv = cgroup_mountinfo(fp, buf, len);
	fclose(fp);
	return rv;
}

static int
self_of(const char *text, char *buf, size_t len)
{
	FILE	*fp;
	int	 rv;

	if ((fp = fmemopen((void *)text, strlen(text), "r")) == NULL)
		return -2;
	rv = cgroup_self(fp, buf, len);
	fclose(fp);
	return rv;
}

#define HYBRID \
"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" \
"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" \
"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup " \
    "rw,name=systemd\n" \
"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
#define UNIFIED \
"22 28 0:21 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n" \
"26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev shared:9 - cgroup2 cgroup2 " \
    "rw,nsdelegate\n"
#define BIND_FIRST \
"50 22 0:24 /system.slice /mnt/cg rw shared:9 - cgroup2 cgroup2 rw\n" \
"51 22 0:24 / /srv/cgroup\\040two rw - cgroup2 cgroup2 rw\n"
#define NONE \
"22 28 0:21 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"

int
main(void)
{
	char	buf[PATH_MAX], tiny[8];
	int	rv;

	rv = mount_of(HYBRID, buf, sizeof(buf));
	T_CHECK("mountinfo: hybrid host: /sys/fs/cgroup/unified",
	    rv == 0 && strcmp(buf, "/sys/fs/cgroup/unified") == 0,
	    "rv %d, %s", rv, buf);
	rv = mount_of(UNIFIED, buf, sizeof(buf));
	T_CHECK("mountinfo: unified host, optional fields: /sys/fs/cgroup",
	    rv == 0 && strcmp(buf, "/sys/fs/cgroup") == 0,
	    "rv %d, %s", rv, buf);
	rv = mount_of(BIND_FIRST, buf, sizeof(buf));
	T_CHECK("mountinfo: a bind of a subtree is passed over; "
	    "escapes undone", rv == 0 && strcmp(buf, "/srv/cgroup two") == 0,
	    "rv %d, %s", rv, buf);
	T_CHECK("mountinfo: no cgroup2 mount", mount_of(NONE, buf,
	    sizeof(buf)) == -1, "found one");
	T_CHECK("mountinfo: a mount point too long for the buffer",
	    mount_of(HYBRID, tiny, sizeof(tiny)) == -1, "accepted");

	rv = self_of("9:name=systemd:/\n4:memory:/x\n"
	    "0::/system.slice/bangerd.service\n", buf, sizeof(buf));
	T_CHECK("self: the 0:: line among v1 lines",
	    rv == 0 && strcmp(buf, "/system.slice/bangerd.service") == 0,
	    "rv %d, %s", rv, buf);
	rv = self_of("0::/\n", buf, sizeof(buf));
	T_CHECK("self: the root group", rv == 0 && strcmp(buf, "/") == 0,
	    "rv %d, %s", rv, buf);
	T_CHECK("self: v1 only: none", self_of("1:cpu:/\n", buf,
	    sizeof(buf)) == -1, "found %s", buf);

	T_CHECK("mode names", strcmp(cgroup_mode_name(CGT_DELEGATED),
	    "delegated") == 0 && strcmp(cgroup_mode_name(CGT_MOUNT),
	    "mount") == 0 && strcmp(cgroup_mode_name(CGT_NONE), "none") == 0,
	    "wrong");
	return t_done();
}
