/*
 * Unit tests for common/wire.c: structs packed without their runs of
 * zeros, and the unpacking of what a peer may send instead.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "regress.h"
#include "wire.h"

/* A pseudo-random struct of len bytes: runs of zeros of every length. */
static void
sparse(unsigned char *p, size_t len, unsigned int seed)
{
	size_t	 i = 0, n;

	srandom(seed);
	while (i < len) {
		n = random() % 40;
		if (random() % 2)
			while (n-- > 0 && i < len)
				p[i++] = 0;
		else
			while (n-- > 0 && i < len)
				p[i++] = 1 + random() % 255;
	}
}

static void
test_roundtrip(void)
{
	unsigned char	 a[3000], b[3000], packed[WIRE_ZPACK_MAX(3000)];
	char		 why[200] = "";
	size_t		 len, n, used;
	unsigned int	 seed;

	for (seed = 0; seed < 2000 && why[0] == '\0'; seed++) {
		len = 1 + seed % sizeof(a);
		sparse(a, len, seed);
		if (seed % 7 == 0)
			memset(a, 0, len);
		if (seed % 11 == 0)
			memset(a, 0xa5, len);
		memset(b, 0x5a, sizeof(b));
		n = wire_zpack(a, len, packed, sizeof(packed));
		if (n == 0 || n > WIRE_ZPACK_MAX(len))
			snprintf(why, sizeof(why), "seed %u: %zu bytes packed "
			    "in %zu", seed, len, n);
		else if (wire_zunpack(packed, n, b, len, &used) == -1 ||
		    used != n)
			snprintf(why, sizeof(why), "seed %u: unpack of %zu "
			    "took %zu", seed, n, used);
		else if (memcmp(a, b, len) != 0 || b[len] != 0x5a)
			snprintf(why, sizeof(why), "seed %u: bytes differ",
			    seed);
	}
	T_CHECK("wire: pack and unpack give the same bytes, any pattern",
	    why[0] == '\0', "%s", why);
}

static void
test_vm_info(void)
{
	struct vm_info	 vi, back[3];
	unsigned char	 buf[3 * WIRE_ZPACK_MAX(sizeof(vi))];
	size_t		 n = 0, k, used, off = 0;
	int		 i, ok = 1;

	memset(&vi, 0, sizeof(vi));
	strlcpy(vi.vi_id, "8dcd3ed1", sizeof(vi.vi_id));
	strlcpy(vi.vi_name, "web", sizeof(vi.vi_name));
	strlcpy(vi.vi_state, "running", sizeof(vi.vi_state));
	strlcpy(vi.vi_hostkey, "ssh-ed25519 AAAAC3Nza root@web",
	    sizeof(vi.vi_hostkey));
	vi.vi_memory = 512;
	vi.vi_disk = 4ULL << 30;
	for (i = 0; i < 3; i++) {
		vi.vi_cpus = i + 1;
		k = wire_zpack(&vi, sizeof(vi), buf + n, sizeof(buf) - n);
		ok = ok && k > 0;
		n += k;
	}
	T_CHECK("wire: a VM's information packs to a fraction of its size",
	    ok && n < 3 * sizeof(vi) / 8, "%zu bytes for 3 of %zu", n,
	    sizeof(vi));
	for (i = 0; i < 3 && ok; i++) {
		ok = wire_zunpack(buf + off, n - off, &back[i],
		    sizeof(back[i]), &used) == 0;
		off += used;
		vi.vi_cpus = i + 1;
		ok = ok && memcmp(&back[i], &vi, sizeof(vi)) == 0;
	}
	T_CHECK("wire: packed structs one after another unpack in turn",
	    ok && off == n, "ok %d, took %zu of %zu", ok, off, n);
}

/* Unpack len bytes of src as a struct of size bytes: errno, 0 if fine. */
static int
bad(const void *src, size_t len, size_t size)
{
	unsigned char	 dst[64];
	size_t		 used;

	if (wire_zunpack(src, len, dst, size, &used) == 0)
		return (0);
	return (errno);
}

static void
test_malformed(void)
{
	uint16_t	 h[8];
	unsigned char	 m[64];

	h[0] = 4;
	h[1] = 4;
	memcpy(m, h, 4);
	memcpy(m + 4, "abcd", 4);
	T_CHECK("wire: an exact segment unpacks", bad(m, 8, 8) == 0,
	    "errno %d", bad(m, 8, 8));
	T_CHECK("wire: a struct cut short is refused",
	    bad(m, 6, 8) == EBADMSG && bad(m, 3, 8) == EBADMSG &&
	    bad(m, 0, 8) == EBADMSG, "errno %d %d %d", bad(m, 6, 8),
	    bad(m, 3, 8), bad(m, 0, 8));
	T_CHECK("wire: segments beyond the struct are refused",
	    bad(m, 8, 7) == EBADMSG && bad(m, 8, 3) == EBADMSG,
	    "errno %d %d", bad(m, 8, 7), bad(m, 8, 3));
	T_CHECK("wire: segments short of the struct are refused",
	    bad(m, 8, 9) == EBADMSG, "errno %d", bad(m, 8, 9));

	h[0] = 0;
	h[1] = 0;
	memcpy(m, h, 4);
	T_CHECK("wire: an empty segment is refused", bad(m, 4, 8) == EBADMSG,
	    "errno %d", bad(m, 4, 8));
	h[0] = 0;
	h[1] = 65535;
	memcpy(m, h, 4);
	T_CHECK("wire: zeros past the struct are refused",
	    bad(m, 4, 64) == EBADMSG, "errno %d", bad(m, 4, 64));
	h[0] = 60;
	h[1] = 0;
	memcpy(m, h, 4);
	T_CHECK("wire: bytes past the message are refused",
	    bad(m, 20, 60) == EBADMSG, "errno %d", bad(m, 20, 60));
}

static void
test_limits(void)
{
	unsigned char	*a, *b, *p;
	size_t		 len = 200000, n, used;
	int		 ok;

	a = calloc(1, len);
	b = malloc(len);
	p = malloc(WIRE_ZPACK_MAX(len));
	if (a == NULL || b == NULL || p == NULL)
		exit(1);
	memset(a + 1000, 0x11, 70000);		/* bytes past a segment's */
	n = wire_zpack(a, len, p, WIRE_ZPACK_MAX(len));
	ok = n > 0 && wire_zunpack(p, n, b, len, &used) == 0 && used == n &&
	    memcmp(a, b, len) == 0;
	T_CHECK("wire: runs longer than a segment's count", ok,
	    "packed %zu", n);
	T_CHECK("wire: no room is 0", wire_zpack(a + 1000, 100, p, 50) == 0,
	    "packed");
	free(a);
	free(b);
	free(p);
}

int
main(void)
{
	test_roundtrip();
	test_vm_info();
	test_malformed();
	test_limits();
	return (t_done());
}
