/*
 * The vm worker: the control socket's server, the VM registry and state
 * machine, and the Firecracker API client.  Runs as _banger, chrooted,
 * with no capability, after sandbox_enter().  What its files share
 * among themselves is in vmint.h.
 */
#ifndef VM_H
#define VM_H

#include <sys/types.h>

#include <stdint.h>

#include "proc.h"

/* control.c */
/*
 * Clients served at once.  Root may take any of CONTROL_MAX_CLIENTS;
 * other users share all but CONTROL_ROOT_SLOTS of them, at most
 * CONTROL_MAX_PER_UID each, so that neither one user nor all of them
 * together keep root from status.  Sixteen is a console and a followed
 * log for each of a few VMs, with waits and commands beside them, and
 * lets seven users hold as many at once.  Each client holds its socket,
 * and root's image import up to IMAGE_NFILES files: a quarter of the
 * worker's descriptors at most, the rest are the VMs'.
 */
#define CONTROL_MAX_CLIENTS	128
#define CONTROL_ROOT_SLOTS	8
#define CONTROL_MAX_PER_UID	16
/* The descriptors clients may hold at most: proc_nofile() counts them. */
#define CONTROL_FDS_MAX		(CONTROL_MAX_CLIENTS * (1 + IMAGE_NFILES) + \
				    OCI_FILES_MAX)

/* An IMSG_CTL_VM_INFO being filled: VMs packed, sent when it is full. */
struct ctl_info {
	uint32_t	 ci_client;
	size_t		 ci_len;
	unsigned char	 ci_buf[MAX_IMSGSIZE - IMSG_HEADER_SIZE];
};
/*
 * What the control server hands clients' requests to (vm.c's table),
 * so that it calls into no other file of the worker.
 */
struct control_ops {
	void	(*co_create)(uint32_t, uid_t, const struct ctl_vm_create *);
	void	(*co_action)(uint32_t, uid_t, const struct ctl_vm *);
	void	(*co_ls)(uint32_t, uid_t);
	void	(*co_logs)(uint32_t, uid_t, const struct ctl_console *);
	void	(*co_console)(uint32_t, uid_t, const struct ctl_console *);
	void	(*co_input)(uint32_t, const void *, size_t);
	void	(*co_gone)(uint32_t);		/* a client left */
	int	(*co_image_users)(const char *, uid_t, char *, size_t,
		    uint32_t *);
	void	(*co_snap)(uint32_t, uid_t, const struct ctl_snap *);
};
void	 control_init(struct imsgev *, const struct worker_init *,
	    const struct control_ops *);
void	 control_listen(int);
void	 control_release(void);
void	 control_relay(uint32_t, uint32_t, struct imsg *);
void	 control_reply(uint32_t, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
void	 control_info(uint32_t, const struct vm_info *);
void	 control_info_start(struct ctl_info *, uint32_t);
void	 control_info_add(struct ctl_info *, const struct vm_info *);
void	 control_info_end(struct ctl_info *);
void	 control_send(uint32_t, uint32_t, const void *, size_t);
int	 control_uid(uint32_t, uid_t *);
int	 control_alive(uint32_t);
int	 control_data(uint32_t, uint32_t, const void *, size_t);
int	 control_fd(uint32_t, uint32_t, int, const void *, size_t);
struct ucred;
int	 control_cred(uint32_t, struct ucred *);
void	 control_pause(uint32_t, int);

/* state.c */
void	 vm_ctl_create(uint32_t, uid_t, const struct ctl_vm_create *);
void	 vm_ctl_action(uint32_t, uid_t, const struct ctl_vm *);
void	 vm_ctl_ls(uint32_t, uid_t);

/* console.c */
void	 vm_ctl_logs(uint32_t, uid_t, const struct ctl_console *);
void	 vm_ctl_console(uint32_t, uid_t, const struct ctl_console *);
void	 vm_console_input(uint32_t, const void *, size_t);
void	 vm_client_gone(uint32_t);

/* preinit.c */
int	 vm_preinit(const struct worker_init *);
/* curlload.c: bangerd-vm's alone */
void	 vm_curl_load(void);
extern int	 vm_prov_fd;	/* the provisioner's socket, or -1 */
extern pid_t	 vm_prov_pid;

/* provision.c: the provisioner's loop, in the worker's sandbox */
void	 vm_provisioner(int, pid_t) __attribute__((__noreturn__));

/* vm.c */
int	 vm_image_users(const char *, uid_t, char *, size_t, uint32_t *);
void	 vm_worker(struct imsgev *, const struct worker_init *);

#endif /* VM_H */
