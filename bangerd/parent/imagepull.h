/*
 * An image's root file system from an OCI image layout, or from a
 * registry when the reference is given (imagepull.c); the manifest's
 * digest into a buffer of 80.
 */
#ifndef IMAGEPULL_H
#define IMAGEPULL_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct image_ref;
int	 image_oci_rootfs(int, const char *, const char *, uint64_t,
	    const int *, char [][PROTO_PATH_MAX], size_t,
	    const struct image_ref *, void (*)(void *, uint64_t, uint64_t),
	    void *, char *, char *, size_t);

#endif /* IMAGEPULL_H */
