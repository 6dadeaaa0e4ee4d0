/*
 * Taps deleted off the parent's event loop (reaper.c).
 */
#ifndef BANGERD_REAPER_H
#define BANGERD_REAPER_H

int	reaper_init(void);
void	reaper_tap_delete(const char *, void (*)(void *, int, const char *),
	    void *);
void	reaper_drain(void);

#endif /* BANGERD_REAPER_H */
