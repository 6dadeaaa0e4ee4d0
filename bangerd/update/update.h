/*
 * The update worker: fetches and verifies signed releases.  Runs as
 * _banger, chrooted, with no capability, after sandbox_enter().
 */
#ifndef UPDATE_H
#define UPDATE_H

#include <stddef.h>

#include "proc.h"

/* preinit.c */
extern char	*upd_ca;		/* the CA bundle, NULL if none */
extern size_t	 upd_calen;
int	 update_preinit(const struct worker_init *);

/* update.c */
void	 update_worker(struct imsgev *, const struct worker_init *);

#endif /* UPDATE_H */
