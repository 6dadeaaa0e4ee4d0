/*
 * IPAM: one IPv4 address per VM from the bridge's subnet, and the
 * guest MAC derived from it.  The net worker owns the table; it lives
 * in one file (IPAM_TABLE) in a directory the worker owns, rewritten
 * atomically on every change (releases may be gathered first:
 * ipam_forget, ipam_flush; or every change, ipam_defer), never synced:
 * the parent's records, named
 * again at each start, keep a VM's address for its whole life and
 * across restarts of the daemon and power cuts.
 */
#ifndef BANGER_IPAM_H
#define BANGER_IPAM_H

#include <sys/types.h>

#include <netinet/in.h>
#include <stddef.h>

#include "validate.h"

#define IPAM_TABLE	"ipam.table"
#define IPAM_TABLE_TMP	"ipam.table.tmp"
#define IPAM_TABLE_BAD	"ipam.table.bad"	/* one set aside (net.c) */
#define IPAM_MAC_SIZE	MAC_SIZE
#define IPAM_ERR_SIZE	256

struct ipam;

/* Called for each allocation, in address order; -1 stops the walk. */
typedef int	(*ipam_cb)(const char *vmid, struct in_addr addr,
		    const char *mac, void *arg);

/* ipam.c */
struct ipam	*ipam_open(int, struct in_addr, int, struct in_addr, char *,
		    size_t);
void		 ipam_close(struct ipam *);
int		 ipam_alloc(struct ipam *, const char *, struct in_addr *,
		    char *);
int		 ipam_lookup(struct ipam *, const char *, struct in_addr *,
		    char *);
int		 ipam_release(struct ipam *, const char *);
int		 ipam_forget(struct ipam *, const char *);
int		 ipam_flush(struct ipam *);
void		 ipam_defer(struct ipam *);
int		 ipam_assign(struct ipam *, const char *, struct in_addr);
int		 ipam_prune(struct ipam *, int (*)(const char *, void *),
		    void *);
int		 ipam_foreach(struct ipam *, ipam_cb, void *);
size_t		 ipam_count(const struct ipam *);
const char	*ipam_strerror(const struct ipam *);

#endif /* BANGER_IPAM_H */
