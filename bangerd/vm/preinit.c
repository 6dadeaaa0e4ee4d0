/*
 * What the vm worker does as root, before its sandbox: libcurl
 * started (the Firecracker API client), with nothing of its own
 * (CURL_GLOBAL_NOTHING) to read from files the chroot lacks.
 */
#include <curl/curl.h>

#include "log.h"
#include "vm.h"

int
vm_preinit(void)
{
	if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
		fatalx("cannot initialise libcurl");
	return 0;
}
