/*
 * What the vm worker does as root, before its sandbox: the provisioner
 * forked first, while the worker is smallest (provision.c), then
 * libcurl started (the Firecracker API client), with nothing of its
 * own (CURL_GLOBAL_NOTHING) to read from files the chroot lacks, and
 * OpenSSL, which it starts, kept to the least.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "log.h"
#include "vm.h"

int	 vm_prov_fd = -1;
pid_t	 vm_prov_pid = -1;

/*
 * The provisioner forked, with a socket to it (non-blocking at both
 * ends): it enters the sandbox the worker is about to, then serves
 * (vm_provisioner).  Without it the worker forks each disk child.
 */
static void
vm_provisioner_fork(const struct worker_init *wi)
{
	pid_t	 self = getpid();
	int	 sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0, sv) == -1) {
		log_warn("provisioner: socketpair");
		return;
	}
	switch (vm_prov_pid = fork()) {
	case -1:
		log_warn("provisioner: fork");
		close(sv[0]);
		close(sv[1]);
		return;
	case 0:
		close(sv[0]);
		sandbox_enter(PROC_VM, wi->wi_nofile, wi);
		vm_provisioner(sv[1], self);
	}
	close(sv[1]);
	vm_prov_fd = sv[0];
	log_debug("provisioner: pid %ld", (long)vm_prov_pid);
}

/*
 * The worker speaks plain HTTP on Firecracker's Unix sockets and never
 * TLS, but libcurl starts OpenSSL all the same: its error strings, every
 * cipher and digest named, its configuration file read, 1.4 MiB of
 * memory touched.  Started first with all of that declined, OpenSSL
 * ignores libcurl's asking for it again (OPENSSL_init_ssl(3)).
 */
static void
vm_openssl_init(void)
{
	if (OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
	    OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS |
	    OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		fatalx("cannot initialise OpenSSL");
}

int
vm_preinit(const struct worker_init *wi)
{
	vm_provisioner_fork(wi);
	vm_openssl_init();
	if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
		fatalx("cannot initialise libcurl");
	return 0;
}
