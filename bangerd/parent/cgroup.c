/*
 * The parent's view of the cgroup2 hierarchy: where its own group is,
 * whether that group was delegated to it, and so where VMs go (see
 * cgroup.h).  Under systemd's single-writer rule a service writes only
 * below a group delegated to it; there the parent first moves itself
 * into GROUP/supervisor, since a group whose children use controllers
 * may hold no processes of its own.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"

#define MOUNTINFO	"/proc/self/mountinfo"
#define SELF_CGROUP	"/proc/self/cgroup"

/* Undo mountinfo's octal escapes (\040 and the like) in place. */
void
mountinfo_unescape(char *s)
{
	char	*d = s;

	for (; *s != '\0'; s++, d++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d = (s[1] - '0') << 6 | (s[2] - '0') << 3 |
			    (s[3] - '0');
			s += 3;
		} else
			*d = *s;
	}
	*d = '\0';
}

/*
 * The first cgroup2 mount in a mountinfo file that shows the whole
 * hierarchy (its root field is "/"), into buf.  0, or -1 if none.
 */
int
cgroup_mountinfo(FILE *fp, char *buf, size_t len)
{
	char	*line = NULL, *f[5], *sep, *p, *type;
	size_t	 cap = 0;
	int	 i, rv = -1;

	while (rv == -1 && getline(&line, &cap, fp) != -1) {
		line[strcspn(line, "\n")] = '\0';
		if ((sep = strstr(line, " - ")) == NULL)
			continue;
		*sep = '\0';
		type = sep + 3;
		type[strcspn(type, " ")] = '\0';
		if (strcmp(type, "cgroup2") != 0)
			continue;
		for (i = 0, p = line; i < 5; i++)
			if ((f[i] = strsep(&p, " ")) == NULL)
				break;
		if (i < 5 || strcmp(f[3], "/") != 0 || f[4][0] != '/')
			continue;
		mountinfo_unescape(f[4]);
		if (strlcpy(buf, f[4], len) < len)
			rv = 0;
	}
	free(line);
	return rv;
}

/* Our group in the cgroup2 hierarchy: the "0::PATH" line, into buf. */
int
cgroup_self(FILE *fp, char *buf, size_t len)
{
	char	*line = NULL;
	size_t	 cap = 0;
	int	 rv = -1;

	while (rv == -1 && getline(&line, &cap, fp) != -1) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::/", 4) != 0)
			continue;
		if (strlcpy(buf, line + 3, len) < len)
			rv = 0;
	}
	free(line);
	return rv;
}

/* Group dir is marked delegated: trusted.delegate or user.delegate "1". */
int
cgroup_delegated(const char *dir)
{
	static const char *const names[] = { "trusted.delegate",
	    "user.delegate" };
	char	 v[8];
	ssize_t	 n;
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = getxattr(dir, names[i], v, sizeof(v));
		if (n >= 1 && v[0] == '1' && (n == 1 || v[1] == '\0' ||
		    v[1] == '\n'))
			return 1;
	}
	return 0;
}

const char *
cgroup_mode_name(int mode)
{
	switch (mode) {
	case CGT_DELEGATED:
		return "delegated";
	case CGT_MOUNT:
		return "mount";
	default:
		return "none";
	}
}

static int
read_file(const char *path, int (*parse)(FILE *, char *, size_t), char *buf,
    size_t len)
{
	FILE	*fp;
	int	 rv;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	rv = parse(fp, buf, len);
	fclose(fp);
	return rv;
}

void
cgroup_detect(struct cgroup_tree *ct)
{
	char	 self[PATH_MAX], path[PATH_MAX * 2], *slash;

	memset(ct, 0, sizeof(*ct));
	ct->ct_mode = CGT_NONE;
	if (read_file(MOUNTINFO, cgroup_mountinfo, ct->ct_mount,
	    sizeof(ct->ct_mount)) == -1) {
		ct->ct_mount[0] = '\0';
		(void)snprintf(ct->ct_why, sizeof(ct->ct_why),
		    "no cgroup2 mount in %s", MOUNTINFO);
		return;
	}
	if (read_file(SELF_CGROUP, cgroup_self, self, sizeof(self)) == -1) {
		(void)snprintf(ct->ct_why, sizeof(ct->ct_why),
		    "no cgroup2 group (0::) in %s", SELF_CGROUP);
		return;
	}
	if (strcmp(self, "/") != 0) {
		(void)snprintf(path, sizeof(path), "%s%s", ct->ct_mount, self);
		if (cgroup_delegated(path)) {
			(void)strlcpy(ct->ct_group, self,
			    sizeof(ct->ct_group));
		} else if ((slash = strrchr(self, '/')) != self &&
		    strcmp(slash + 1, CGT_SUPERVISOR) == 0) {
			/* Already moved: re-executed, or DelegateSubgroup=. */
			*slash = '\0';
			(void)snprintf(path, sizeof(path), "%s%s",
			    ct->ct_mount, self);
			if (cgroup_delegated(path))
				(void)strlcpy(ct->ct_group, self,
				    sizeof(ct->ct_group));
			else
				*slash = '/';
		}
	}
	if (ct->ct_group[0] != '\0') {
		ct->ct_mode = CGT_DELEGATED;
		(void)snprintf(ct->ct_parent, sizeof(ct->ct_parent), "%s/%s",
		    ct->ct_group + 1, CGT_VMS);
		(void)snprintf(ct->ct_why, sizeof(ct->ct_why),
		    "bangerd's group %s is delegated to it", ct->ct_group);
		return;
	}
	if (cgroup_delegated(ct->ct_mount)) {
		(void)snprintf(ct->ct_why, sizeof(ct->ct_why),
		    "bangerd's group %s is not delegated to it, and the "
		    "cgroup2 mount %s is a group delegated to another manager",
		    self, ct->ct_mount);
		return;
	}
	if (access(ct->ct_mount, W_OK) == -1) {
		(void)snprintf(ct->ct_why, sizeof(ct->ct_why),
		    "bangerd's group %s is not delegated to it, and the "
		    "cgroup2 mount %s is not writable: %s", self, ct->ct_mount,
		    strerror(errno));
		return;
	}
	ct->ct_mode = CGT_MOUNT;
	(void)strlcpy(ct->ct_parent, "banger", sizeof(ct->ct_parent));
	(void)snprintf(ct->ct_why, sizeof(ct->ct_why),
	    "bangerd's group %s is not delegated to it; the cgroup2 mount "
	    "%s is writable", self, ct->ct_mount);
}

/* A group below dir, made if missing; its fd. */
static int
group_open(const char *dir, const char *name)
{
	char	 path[PATH_MAX * 2];

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		log_warn("cgroup: mkdir %s", path);
		return -1;
	}
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/*
 * Delegated: move this process (so every process it starts later) into
 * GROUP/supervisor and make GROUP/vms.  On failure VMs get no cgroup,
 * and ct says why.
 */
int
cgroup_enter(struct cgroup_tree *ct)
{
	char	 group[PATH_MAX * 2], pid[32], ctl[256];
	int	 sfd = -1, vfd = -1, fd = -1, saved_errno;
	ssize_t	 n;

	if (ct->ct_mode != CGT_DELEGATED)
		return 0;
	(void)snprintf(group, sizeof(group), "%s%s", ct->ct_mount,
	    ct->ct_group);
	if ((sfd = group_open(group, CGT_SUPERVISOR)) == -1 ||
	    (vfd = group_open(group, CGT_VMS)) == -1)
		goto fail;
	(void)snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if ((fd = openat(sfd, "cgroup.procs", O_WRONLY | O_CLOEXEC)) == -1 ||
	    write(fd, pid, strlen(pid)) != (ssize_t)strlen(pid)) {
		log_warn("cgroup: moving into %s/%s", group, CGT_SUPERVISOR);
		goto fail;
	}
	close(fd);
	fd = -1;
	ctl[0] = '\0';
	if ((fd = open(group, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		int	cfd;

		if ((cfd = openat(fd, "cgroup.controllers", O_RDONLY |
		    O_CLOEXEC)) != -1) {
			if ((n = read(cfd, ctl, sizeof(ctl) - 1)) >= 0)
				ctl[n] = '\0';
			ctl[strcspn(ctl, "\n")] = '\0';
			close(cfd);
		}
		close(fd);
		fd = -1;
	}
	log_info("cgroup: %s; bangerd runs in %s/%s, VMs in %s/%s/ID; "
	    "controllers: %s", ct->ct_why, ct->ct_group, CGT_SUPERVISOR,
	    ct->ct_group, CGT_VMS, ctl[0] != '\0' ? ctl : "none");
	close(sfd);
	close(vfd);
	return 0;
fail:
	saved_errno = errno;
	(void)snprintf(ct->ct_why, sizeof(ct->ct_why),
	    "bangerd's group %s is delegated to it, but it cannot use it: "
	    "%s", ct->ct_group, strerror(saved_errno));
	ct->ct_mode = CGT_NONE;
	ct->ct_parent[0] = '\0';
	if (fd != -1)
		close(fd);
	if (sfd != -1)
		close(sfd);
	if (vfd != -1)
		close(vfd);
	errno = saved_errno;
	return -1;
}
