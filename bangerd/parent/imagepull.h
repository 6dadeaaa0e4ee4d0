/* An image's root file system from an OCI image layout (imagepull.c). */
#ifndef IMAGEPULL_H
#define IMAGEPULL_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

int	 image_oci_rootfs(int, const char *, const char *, uint64_t,
	    const int *, char [][PROTO_PATH_MAX], size_t,
	    void (*)(void *, uint64_t), void *, char *, size_t);

#endif /* IMAGEPULL_H */
