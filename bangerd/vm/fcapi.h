/*
 * The Firecracker API client (vm worker).
 */
#ifndef BANGERD_FCAPI_H
#define BANGERD_FCAPI_H

#include <stdint.h>

#include <jansson.h>

struct fc_boot {
	int		 fb_cpus;
	uint64_t	 fb_memory;		/* MiB */
	const char	*fb_kernel;		/* paths as Firecracker sees them */
	const char	*fb_initrd;		/* "" if none */
	const char	*fb_bootargs;
	const char	*fb_disk;
	const char	*fb_tap;
	const char	*fb_mac;
	const char	*fb_log;		/* log FIFO, NULL: no logger */
	const char	*fb_metrics;		/* metrics FIFO, NULL: none */
	const char	*fb_identity;		/* identity drive, NULL: none */
	int		 fb_tap_override;	/* a restore: eth0 on fb_tap */
};

/* GET /: what Firecracker says of itself. */
struct fc_instance {
	char		 fi_version[32];	/* vmm_version */
	char		 fi_state[16];		/* Not started, Running, Paused */
};

/* fcapi_start's callback: arg, HTTP status or -1, body, error, errno. */
typedef void	(*fcapi_cb)(void *, int, json_t *, const char *, int);
struct fcapi_req;
#define FCAPI_ERR_MAX	512

struct fcapi_req *fcapi_start(const char *, const char *, const char *,
	    json_t *, fcapi_cb, void *, char *, size_t);
struct fcapi_req *fcapi_start_conn(const char *, const char *, const char *,
	    json_t *, int, fcapi_cb, void *, char *, size_t);
void	fcapi_cancel(struct fcapi_req *);
int	fcapi_idle(void);
int	fcapi_call(const char *, const char *, const char *, json_t *,
	    json_t **, char *, size_t);
#define FCAPI_CONFIG_MAX	7	/* requests before InstanceStart */
size_t	fcapi_config_reqs(const struct fc_boot *, const char **, json_t **);
size_t	fcapi_restore_reqs(const struct fc_boot *, const char *,
	    const char *, const char **, json_t **);
int	fcapi_instance_parse(json_t *, struct fc_instance *, char *, size_t);
int	fcapi_config_check(json_t *, const struct fc_boot *, char *, size_t);
int	fcapi_instance(const char *, struct fc_instance *, char *, size_t);

#endif /* BANGERD_FCAPI_H */
