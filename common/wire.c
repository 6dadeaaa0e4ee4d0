/*
 * A fixed-size struct on the wire with its runs of zero bytes left out.
 * Payloads are fixed-size structs whose strings are NUL-padded fields
 * (proto.h); a VM's information is 1936 bytes, most of them padding,
 * and a listing of thousands of VMs spent its time copying zeros.
 *
 * Packed, a struct is segments, each a header of two uint16 (host
 * order, as every payload): a count of bytes that follow as they are,
 * then a count of zero bytes that follow them in the struct; the
 * counts add up to the struct's size exactly.  Runs of zeros shorter
 * than ZRUN_MIN stay in the bytes as they are: a header costs 4.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

#define ZRUN_MIN	8
#define SEG_MAX		UINT16_MAX

/*
 * Pack the len bytes at src into dst, which has room for dstlen
 * (WIRE_ZPACK_MAX(len) is always enough).  Returns the bytes written,
 * or 0 if they do not fit (or len is 0).
 */
size_t
wire_zpack(const void *src, size_t len, void *dst, size_t dstlen)
{
	const unsigned char	*s = src, *z;
	unsigned char		*d = dst;
	uint64_t		 w;
	uint16_t		 h[2];
	size_t			 i = 0, j, k, lit, zeros, out = 0;

	while (i < len) {
		/* the next run of zeros worth a header: [j, k) */
		for (j = i, k = len; j < len; j = k) {
			if ((z = memchr(s + j, 0, len - j)) == NULL) {
				j = k = len;
				break;
			}
			j = z - s;
			for (k = j; len - k >= sizeof(w); k += sizeof(w)) {
				memcpy(&w, s + k, sizeof(w));
				if (w != 0)
					break;
			}
			while (k < len && s[k] == 0)
				k++;
			if (k - j >= ZRUN_MIN || k == len)
				break;
		}
		lit = j - i;
		zeros = k - j;
		if (lit > SEG_MAX) {
			lit = SEG_MAX;
			zeros = 0;
		}
		if (zeros > SEG_MAX)
			zeros = SEG_MAX;
		if (sizeof(h) + lit > dstlen - out)
			return (0);
		h[0] = lit;
		h[1] = zeros;
		memcpy(d + out, h, sizeof(h));
		memcpy(d + out + sizeof(h), s + i, lit);
		out += sizeof(h) + lit;
		i += lit + zeros;
	}
	return (out);
}

/*
 * Unpack the struct of len bytes at the start of the srclen bytes at
 * src into dst; *used is the bytes it took (others may follow).  -1
 * with EBADMSG unless its segments make exactly len bytes; dst may
 * then hold part of them.
 */
int
wire_zunpack(const void *src, size_t srclen, void *dst, size_t len,
    size_t *used)
{
	const unsigned char	*s = src;
	unsigned char		*d = dst;
	uint16_t		 h[2];
	size_t			 in = 0, out = 0;

	while (out < len) {
		if (srclen - in < sizeof(h))
			goto bad;
		memcpy(h, s + in, sizeof(h));
		in += sizeof(h);
		if ((h[0] == 0 && h[1] == 0) || h[0] > srclen - in ||
		    h[0] > len - out || h[1] > len - out - h[0])
			goto bad;
		memcpy(d + out, s + in, h[0]);
		in += h[0];
		out += h[0];
		memset(d + out, 0, h[1]);
		out += h[1];
	}
	*used = in;
	return (0);

 bad:
	errno = EBADMSG;
	return (-1);
}
