/*
 * What the vm worker does as root, before its sandbox: libcurl
 * started (the Firecracker API client), with nothing of its own
 * (CURL_GLOBAL_NOTHING) to read from files the chroot lacks.
 */
#include <curl/curl.h>

#include "vm.h"

int
vm_preinit(void)
{
	return curl_global_init(CURL_GLOBAL_NOTHING) == CURLE_OK ? 0 : -1;
}
