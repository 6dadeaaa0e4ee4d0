/*
 * Where the VMs' cgroups go: banger's own tree in the cgroup2
 * hierarchy, found once by the parent at start (cgroup.c).
 *
 *	delegated	bangerd was started in a group delegated to it
 *			(systemd's Delegate=yes marks it with the xattr
 *			trusted.delegate=1, newer systemd also
 *			user.delegate=1): the parent and its workers run
 *			in GROUP/supervisor, VMs in GROUP/vms/VMID.
 *	mount		not delegated, and the cgroup2 mount MOUNT
 *			(wherever it is mounted) is writable and is not
 *			itself a delegated group: VMs in MOUNT/banger/VMID.
 *	none		otherwise: VMs stay in bangerd's own group.
 */
#ifndef BANGER_CGROUP_H
#define BANGER_CGROUP_H

#include <limits.h>
#include <stdio.h>

#define CGT_NONE	0
#define CGT_MOUNT	1
#define CGT_DELEGATED	2

#define CGT_SUPERVISOR	"supervisor"	/* GROUP/supervisor: bangerd */
#define CGT_VMS		"vms"		/* GROUP/vms/VMID: the VMs */
#define CGT_WHY_MAX	256

struct cgroup_tree {
	int	ct_mode;		/* CGT_* */
	char	ct_mount[PATH_MAX];	/* the cgroup2 mount, "" if none */
	char	ct_group[PATH_MAX];	/* delegated: GROUP, "/a/b" */
	char	ct_parent[PATH_MAX];	/* the VMs' group below ct_mount */
	char	ct_why[CGT_WHY_MAX];	/* how it was chosen, or why none */
};

/* cgroup.c */
void	mountinfo_unescape(char *);
int	cgroup_mountinfo(FILE *, char *, size_t);
int	cgroup_self(FILE *, char *, size_t);
int	cgroup_delegated(const char *);
void	cgroup_detect(struct cgroup_tree *);
int	cgroup_enter(struct cgroup_tree *);
const char *cgroup_mode_name(int);

#endif /* BANGER_CGROUP_H */
