/*
 * Guest provisioning: before a VM's first boot, write its identity,
 * network configuration, SSH keys for root and fresh SSH host keys into
 * its ext2/3/4 root disk, through an already-open file descriptor and
 * libext2fs.  Nothing is mounted and no path on the host is opened: an
 * unprivileged, sandboxed process that holds only the disk's fd can do
 * it (guestfs_syscalls lists what it needs).
 *
 * guestfs_provision() writes, each owned by root:root, mtime and ctime
 * now, replacing whatever was there (a regular file, a symlink such as
 * systemd-resolved's /etc/resolv.conf, a hard link: the old name is
 * unlinked and its inode freed when no other name holds it):
 *
 *	/etc/hostname				0644
 *	/etc/hosts				0644
 *	/etc/resolv.conf			0644
 *	/etc/systemd/network/10-banger.network	0644	(systemd-networkd)
 *	/etc/network/interfaces.d/banger	0644	(ifupdown, eth0)
 *	/root/.ssh/authorized_keys		0600	(/root/.ssh 0700)
 * and with gs_hostkeys:
 *	/etc/ssh/ssh_host_ed25519_key		0600
 *	/etc/ssh/ssh_host_ed25519_key.pub	0644
 * removing every other /etc/ssh/ssh_host_{rsa,ecdsa,dsa,ed25519}_key*
 * (an image made by debootstrap carries keys every VM would share).
 *
 * Missing directories are created 0755 (/root 0700).  No symbolic link
 * is followed inside the guest: each path component is looked up in
 * its directory, and a symlink, or anything but a directory, where a
 * directory must be refuses the whole operation before anything is
 * written; so does a directory where a file is to be written.
 *
 * The fd must be open O_RDWR on a regular file or block device holding
 * an unmounted file system that e2fsck -p has checked; a journal that
 * needs recovery or a file system marked with errors is refused.  The
 * caller keeps its fd (guestfs works on a dup, which libext2fs closes).
 * Only the blocks that change are written: the files' inodes and data,
 * the directories they are linked into, the primary superblock and
 * group descriptors, and the allocation bitmaps.
 *
 * Returns 0, or -1 with a one-line reason in err (nothing written when
 * the spec, the fd or a guest path is refused; a failure while writing
 * may leave the file system for e2fsck to repair).  Not thread-safe: it
 * relies on no other thread opening or closing fds meanwhile.
 */
#ifndef BANGERD_GUESTFS_H
#define BANGERD_GUESTFS_H

#include <netinet/in.h>
#include <stddef.h>

#include "sshkey.h"

#define GUESTFS_DOMAIN_MAX	253	/* without NUL */
#define GUESTFS_KEYS_MAX	65536	/* authorized_keys text, without NUL */
#define GUESTFS_KEYLINE_MAX	16384	/* one public key line */
#define GUESTFS_ERR_MAX		256	/* a good size for err */

struct guest_spec {
	const char	*gs_hostname;	/* valid_name() */
	const char	*gs_domain;	/* lowercase DNS name */
	struct in_addr	 gs_addr;	/* the VM's address */
	int		 gs_prefix;	/* and prefix length */
	struct in_addr	 gs_gateway;	/* in the VM's subnet */
	struct in_addr	 gs_dns;	/* the bridge address */
	const char	*gs_mac;	/* valid_mac(): 02:fc:... */
	const char	*gs_authkeys;	/* OpenSSH public key lines, or NULL */
	int		 gs_hostkeys;	/* generate SSH host keys */
	int		 gs_nosync;	/* the caller syncs the disk after */
};

struct guest_result {
	/*
	 * The new host key, for known_hosts: "ssh-ed25519 AAAA...
	 * root@NAME" and "SHA256:..."; "" without gs_hostkeys or on
	 * failure.
	 */
	char		gr_hostkey[SSHKEY_PUB_MAX];
	char		gr_fingerprint[SSHKEY_FP_MAX];
	int		gr_written;	/* files written */
	int		gr_removed;	/* old host key files removed */
	int		gr_mkdirs;	/* directories created */
};

/* guestfs.c */
extern const char *const guestfs_syscalls[];
int	guestfs_check_spec(const struct guest_spec *, char *, size_t);
int	guestfs_check_authkeys(const char *, char *, size_t);
int	guestfs_provision(int, const struct guest_spec *,
	    struct guest_result *, char *, size_t);

#endif /* BANGERD_GUESTFS_H */
