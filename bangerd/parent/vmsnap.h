/*
 * What vmsnap.c (snapshots) and vmsnaprest.c (vm restore) share: the
 * files of a snapshot, the disk child's reports, and the helpers both
 * use.  The parent's other files go through parent.h.
 */
#ifndef VMSNAP_H
#define VMSNAP_H

#include <stdint.h>

#define SNAPS_DIR		"snapshots"
#define SNAP_F_STATE		"vmstate"
#define SNAP_F_MEM		"memory"
#define SNAP_F_DISK		"disk"
#define SNAP_VMSTATE_MAX	(16ULL << 20)	/* Firecracker's: kilobytes */
#define SNAP_SPACE_SLACK	(64ULL << 20)	/* left free beyond it */
#define MIB			((uint64_t)1 << 20)

/*
 * The disk copy child's reports, each one write (less than PIPE_BUF):
 * progress (sr_done 0) every SNAP_PROGRESS_STEP copied, then its end.
 */
struct snap_res {
	int32_t		 sr_done;
	int32_t		 sr_error;
	uint64_t	 sr_bytes;
	uint64_t	 sr_total;
	char		 sr_how[8];
	char		 sr_msg[PROTO_MSG_MAX];
};
#define SNAP_PROGRESS_STEP	(32ULL << 20)

struct snap_copy {
	int		 sc_out;
	uint64_t	 sc_last;
};

struct pvm;
struct worker;

const char	*psnap_state_name(int);
int		 jail_root_open(struct pvm *);
int		 snap_disk_open(struct pvm *, int *);
int		 snap_dir_open(struct pvm *, const char *);
int		 snaps_dir_open(const char *, int);
int		 snaps_tree_remove(const char *, const char *);
void		 snap_child_begin(int, struct snap_res *, struct snap_copy *,
		    const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
int		 snap_copy(int, int, struct snap_res *, struct snap_copy *);
int		 snap_job_start(struct pvm *, uint32_t, const char *, uint32_t,
		    int, char *, size_t);
/* vmsnaprest.c */
__attribute__((__noreturn__)) void
		 restore_disk_child(int, struct pvm *, const char *, int);
void		 restore_tmp_remove(struct pvm *);

#endif /* VMSNAP_H */
