/*
 * A journal of VM records (journal.c): the parent's and the vm worker's.
 */
#ifndef BANGERD_JOURNAL_H
#define BANGERD_JOURNAL_H

#include <sys/types.h>

#include <stdint.h>

#define JOURNAL_NAME	".journal"	/* in the records' directory */
#define JOURNAL_CHUNK	(64 * 1024)	/* zeroed ahead of entries */
#define JOURNAL_MAX	(128 * 1024)	/* past it, a checkpoint */

struct journal;

struct journal	*journal_open(const char *);
const char	*journal_find(struct journal *, const char *, uint64_t *,
		    int *);
void		 journal_unmet(struct journal *,
		    void (*)(const char *, void *), void *);
void		 journal_forget(struct journal *);
void		 journal_close(struct journal *);
void		 journal_add(struct journal *, const char *, uint64_t,
		    const char *, size_t);
int		 journal_sync(struct journal *);
int		 journal_write(struct journal *);
off_t		 journal_used(struct journal *);
int		 journal_reset(struct journal *);
int		 journal_file_sync(const char *, int);
int		 journal_tmp_write(const char *, const char *, const char *,
		    size_t);

#endif /* BANGERD_JOURNAL_H */
