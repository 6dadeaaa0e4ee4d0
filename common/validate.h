/*
 * Validators for every name, path, device and PID the root parent
 * derives before it acts on one.  Each returns 0 if the value is
 * valid and -1 if not, and then points *why (when why is not NULL) at
 * a short static lowercase reason.
 *
 * String validators take the bytes exactly as received: s holds len
 * bytes of content, not necessarily NUL-terminated.  Length 0, a
 * length over the limit and any NUL byte within len are rejected.
 */
#ifndef BANGER_VALIDATE_H
#define BANGER_VALIDATE_H

#include <sys/types.h>

#include <netinet/in.h>
#include <stddef.h>

#define VM_ID_LEN		8	/* lowercase hex digits */
#define VALID_NAME_MAX		63	/* VM and image names, without NUL */
#define BRIDGE_PREFIX		"br-fc"
#define TAP_PREFIX		"fc-tap-"
#define DM_PREFIX		"fc-rootfs-"
#define DM_DIR			"/dev/mapper/"
#define LOOP_PREFIX		"/dev/loop"
#define LOOP_NUM_MAX		1048575	/* 2^20 - 1, the largest minor */
#define MAC_PREFIX		"02:fc:"
#define MAC_SIZE		18	/* "02:fc:xx:xx:xx:xx" and its NUL */
#define PREFIX_MIN		8
#define PREFIX_MAX		32
#define VALID_DOMAIN_MAX	253	/* a DNS name, without NUL */
#define VALID_BOOTARGS_MAX	1023	/* an image's boot args, without NUL */
#define CMDLINE_MAX		16384	/* longest /proc/PID/cmdline read */

/* valid_path_under() flags */
#define VALID_PATH_ALLOW_BASE	0x01	/* path may equal the base */

/* validate.c */
int	wire_string(const char *, size_t, size_t *);
int	valid_vm_id(const char *, size_t, const char **);
int	valid_name(const char *, size_t, const char **);
int	valid_oci_name(const char *, size_t, const char **);
void	valid_name_now(char *, size_t);
int	valid_bridge_name(const char *, size_t, const char **);
int	valid_tap_name(const char *, size_t, const char **);
int	valid_ifname(const char *, size_t, const char **);
int	valid_ipv4(const char *, size_t, struct in_addr *, const char **);
int	valid_prefix(const char *, size_t, int *, const char **);
int	valid_prefix_num(int, const char **);
int	valid_bridge_addr(struct in_addr, int, const char **);
int	valid_publish_host(struct in_addr, const char **);
int	valid_mac(const char *, size_t, const char **);
struct in_addr;
void	mac_from_addr(struct in_addr, char *);
int	valid_dm_name(const char *, size_t, const char **);
int	valid_dm_path(const char *, size_t, const char **);
int	valid_loop_path(const char *, size_t, const char **);
int	valid_path_under(const char *, const char *, int, const char **);
int	valid_pid_target(pid_t, const char **);
int	valid_domain(const char *, const char **);
int	valid_bootargs(const char *, size_t, size_t *, const char **);
int	proc_starttime(pid_t, unsigned long long *);
int	valid_fc_process(pid_t, const char *, const char *,
	    unsigned long long, const char **);

#endif /* BANGER_VALIDATE_H */
