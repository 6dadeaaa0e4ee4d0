/*
 * bangerd's configuration, as parsed from bangerd.conf(5) by parse.y.
 */
#ifndef BANGERD_CONFIG_H
#define BANGERD_CONFIG_H

#include <sys/types.h>
#include <sys/queue.h>

#include <net/if.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#define BANGERD_CONF		"/etc/banger/bangerd.conf"
#define BANGER_STATEDIR		"/var/lib/banger"
#define BANGER_SOCKET		"/run/banger/bangerd.sock"
#define BANGER_SOCKGROUP	"banger"
#define BANGER_USER		"_banger"
#define BANGER_BRIDGE		"br-fc"
#define BANGER_BRIDGE_ADDR	"172.16.0.1"
#define BANGER_BRIDGE_PREFIX	24
#define BANGER_DOMAIN		"vm.internal"
#define BANGER_FIRECRACKER	"/usr/local/bin/firecracker"
#define BANGER_VM_UID_MIN	300000
#define BANGER_VM_UID_MAX	399999
#define BANGER_MAX_VMS		4096	/* VMs at once */
#define BANGER_MAX_VMS_LIMIT	65536
#define BANGER_DEF_CPUS		1
#define BANGER_DEF_MEMORY	512		/* MiB */
#define BANGER_DEF_DISK		(4ULL << 30)	/* bytes */

#define BANGER_NAME_MAX		64	/* image and VM names, with NUL */
#define BANGER_BOOTARGS_MAX	1024
#define BANGER_URL_MAX		1024
#define BANGER_DOMAIN_MAX	254
#define BANGER_GROUP_MAX	33

/* Storage backends for a VM's copy-on-write root disk. */
#define STORAGE_AUTO		0	/* dm if the kernel has it, else reflink, else copy */
#define STORAGE_DM		1
#define STORAGE_REFLINK		2
#define STORAGE_COPY		3

struct conf_image {
	TAILQ_ENTRY(conf_image)	 img_entry;
	char			 img_name[BANGER_NAME_MAX];
	char			 img_kernel[PATH_MAX];
	char			 img_initrd[PATH_MAX];	/* "" if none */
	char			 img_rootfs[PATH_MAX];
	char			 img_bootargs[BANGER_BOOTARGS_MAX]; /* "" if none */
};
TAILQ_HEAD(conf_images, conf_image);

/*
 * A registry image pull may reach (bangerd.conf(5), "registry"): its
 * domain as references name it, plain http or not, a CA bundle for
 * it, other hosts its token service and blob store live on, and
 * mirrors to try first.
 */
#define BANGER_REGISTRY_HOSTS	8
#define BANGER_REGISTRY_MIRRORS	4
#define BANGER_REGISTRY_HOST_MAX 256	/* host[:port], with NUL */

struct conf_registry {
	TAILQ_ENTRY(conf_registry) reg_entry;
	char		 reg_domain[BANGER_REGISTRY_HOST_MAX];
	int		 reg_insecure;		/* plain http */
	char		 reg_cafile[PATH_MAX];	/* "" = the system's */
	char		 reg_hosts[BANGER_REGISTRY_HOSTS]
			    [BANGER_REGISTRY_HOST_MAX];
	size_t		 reg_nhosts;
	char		 reg_mirrors[BANGER_REGISTRY_MIRRORS]
			    [BANGER_REGISTRY_HOST_MAX];	/* tried first */
	size_t		 reg_nmirrors;
};
TAILQ_HEAD(conf_registries, conf_registry);

struct bangerd_config {
	char		 cf_path[PATH_MAX];	/* file it was read from */
	char		 cf_statedir[PATH_MAX];
	char		 cf_socket[PATH_MAX];
	char		 cf_sockgroup[BANGER_GROUP_MAX];
	char		 cf_user[BANGER_GROUP_MAX];	/* workers run as */

	char		 cf_bridge[IFNAMSIZ];
	struct in_addr	 cf_bridge_addr;
	int		 cf_bridge_prefix;
	char		 cf_egress[IFNAMSIZ];	/* "" = no NAT egress */
	char		 cf_domain[BANGER_DOMAIN_MAX];

	char		 cf_firecracker[PATH_MAX];
	char		 cf_jailer[PATH_MAX];	/* "" = banger's own jail */
	uid_t		 cf_vm_uid_min;		/* uids and gids for VMs */
	uid_t		 cf_vm_uid_max;
	int		 cf_max_vms;		/* every limit follows from it */
	int		 cf_storage;		/* STORAGE_* */

	char		 cf_update_url[BANGER_URL_MAX];	/* "" = no updates */
	int		 cf_update_allow_http;	/* plain http to loopback */

	int		 cf_def_cpus;
	uint64_t	 cf_def_memory;		/* MiB */
	uint64_t	 cf_def_disk;		/* bytes */

	struct conf_images cf_images;
	struct conf_registries cf_registries;
	char		 cf_registry_auth[PATH_MAX];	/* "" = none */
};

/* parse.y */
struct bangerd_config *config_new(void);
void	config_free(struct bangerd_config *);
int	config_parse(struct bangerd_config *, const char *);
int	cmdline_symset(char *);
/* The first error of the last config_parse, "FILE:LINE: message", or NULL. */
const char *config_error(void);
/* The effective configuration, in bangerd.conf(5) syntax (bangerd -nv). */
void	config_print(FILE *, const struct bangerd_config *);

#endif /* BANGERD_CONFIG_H */
