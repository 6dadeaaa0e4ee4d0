/*
 * Unpacking a release's programs from its ustar artifact (untar.c).
 */
#ifndef BANGER_UNTAR_H
#define BANGER_UNTAR_H

#include <stddef.h>

#define UNTAR_PROGS_MAX	8
#define UNTAR_FILE_MAX	(256ULL * 1024 * 1024)	/* one member's size */

/*
 * Read the tar archive on fd (from offset 0, with pread(2) only: fd's
 * file offset is neither used nor moved) and write each of progs
 * (nprogs <= UNTAR_PROGS_MAX) into the directory dfd; 0, or -1 with a
 * message naming what was refused and by which rule.  What it wrote is
 * left for the caller to remove.
 */
int	untar_programs(int, int, const char *const *, size_t, char *, size_t);

/* Format into msg (len bytes), errno kept; returns -1. */
int	msgf(char *, size_t, const char *, ...)
	    __attribute__((__format__(__printf__, 3, 4)));

#endif /* BANGER_UNTAR_H */
