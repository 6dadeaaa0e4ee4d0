/*
 * A fixed-size struct on the wire with its runs of zero bytes left out:
 * for answers that carry thousands of mostly empty string fields.
 */
#ifndef BANGER_WIRE_H
#define BANGER_WIRE_H

#include <stddef.h>

/* The most wire_zpack() makes of len bytes. */
#define WIRE_ZPACK_MAX(len)	((len) + 4 * ((len) / 65535 + 1))

size_t	wire_zpack(const void *, size_t, void *, size_t);
int	wire_zunpack(const void *, size_t, void *, size_t, size_t *);

#endif /* BANGER_WIRE_H */
