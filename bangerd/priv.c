/*
 * The parent's answers to its workers.  Each worker may send only the
 * messages listed for it here, each exactly the size of its struct, with
 * every string field terminated; anything else is a protocol violation
 * and the caller kills the worker.  The parent derives whatever it acts
 * on from its own configuration and records, never from the message.
 */
#include <sys/types.h>

#include <arpa/inet.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bangerd.h"
#include "log.h"
#include "validate.h"

static const char *const ctl_commands[] = {
	"status", "log", "reload",
};

/* Check the client credentials and command name a request carries. */
static int
audit_check(struct worker *w, const struct ctl_audit *ca)
{
	size_t	 len, i;

	if (wire_string(ca->ca_cmd, sizeof(ca->ca_cmd), &len) == -1) {
		parent_worker_violation(w, "unterminated command name");
		return -1;
	}
	for (i = 0; i < sizeof(ctl_commands) / sizeof(ctl_commands[0]); i++)
		if (strcmp(ca->ca_cmd, ctl_commands[i]) == 0)
			return 0;
	parent_worker_violation(w, "unknown command \"%s\"", ca->ca_cmd);
	return -1;
}

static int
read_request(struct worker *w, struct imsg *imsg, void *data, size_t len)
{
	int	 fd;

	if (imsg_read_exact(imsg, data, len) == -1) {
		parent_worker_violation(w, "message type %u of %zu bytes, "
		    "expected %zu", imsg_get_type(imsg), imsg_get_len(imsg),
		    len);
		return -1;
	}
	if ((fd = imsg_get_fd(imsg)) != -1) {
		close(fd);
		parent_worker_violation(w, "unexpected fd with message type %u",
		    imsg_get_type(imsg));
		return -1;
	}
	return 0;
}

void
priv_status(struct worker *vm, uint32_t peerid)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct status_daemon	 sd;
	struct status_worker	 sw;
	struct worker		*w;
	int			 i;

	memset(&sd, 0, sizeof(sd));
	strlcpy(sd.sd_version, BANGER_VERSION, sizeof(sd.sd_version));
	sd.sd_pid = getpid();
	sd.sd_verbose = log_getverbose();
	sd.sd_started = env->bd_started;
	sd.sd_now = time(NULL);
	strlcpy(sd.sd_config, env->bd_conffile, sizeof(sd.sd_config));
	strlcpy(sd.sd_statedir, conf->cf_statedir, sizeof(sd.sd_statedir));
	strlcpy(sd.sd_socket, conf->cf_socket, sizeof(sd.sd_socket));
	strlcpy(sd.sd_sockgroup, conf->cf_sockgroup, sizeof(sd.sd_sockgroup));
	strlcpy(sd.sd_bridge, conf->cf_bridge, sizeof(sd.sd_bridge));
	inet_ntop(AF_INET, &conf->cf_bridge_addr, sd.sd_bridge_addr,
	    sizeof(sd.sd_bridge_addr));
	sd.sd_bridge_prefix = conf->cf_bridge_prefix;
	strlcpy(sd.sd_egress, conf->cf_egress, sizeof(sd.sd_egress));
	strlcpy(sd.sd_domain, conf->cf_domain, sizeof(sd.sd_domain));
	strlcpy(sd.sd_firecracker, conf->cf_firecracker,
	    sizeof(sd.sd_firecracker));
	strlcpy(sd.sd_jailer, conf->cf_jailer, sizeof(sd.sd_jailer));
	strlcpy(sd.sd_storage, env->bd_storage, sizeof(sd.sd_storage));
	strlcpy(sd.sd_update_url, conf->cf_update_url,
	    sizeof(sd.sd_update_url));
	sd.sd_vm_uid_min = conf->cf_vm_uid_min;
	sd.sd_vm_uid_max = conf->cf_vm_uid_max;
	sd.sd_def_cpus = conf->cf_def_cpus;
	sd.sd_def_memory = conf->cf_def_memory;
	sd.sd_def_disk = conf->cf_def_disk;
	{
		struct conf_image	*img;

		TAILQ_FOREACH(img, &conf->cf_images, img_entry)
			sd.sd_nimages++;
	}
	imsg_compose_event(vm->w_iev, IMSG_STATUS_DAEMON, peerid, 0, -1, &sd,
	    sizeof(sd));

	for (i = 0; i < PROC_MAX; i++) {
		w = &env->bd_workers[i];
		memset(&sw, 0, sizeof(sw));
		strlcpy(sw.sw_role, w->w_name, sizeof(sw.sw_role));
		sw.sw_pid = w->w_pid;
		sw.sw_uid = env->bd_uid;
		sw.sw_gid = env->bd_gid;
		sw.sw_state = w->w_state;
		sw.sw_restarts = w->w_restarts;
		sw.sw_started = w->w_started;
		(void)worker_root(w->w_role, conf, sw.sw_chroot,
		    sizeof(sw.sw_chroot));
		imsg_compose_event(vm->w_iev, IMSG_STATUS_WORKER, peerid, 0,
		    -1, &sw, sizeof(sw));
	}
	imsg_compose_event(vm->w_iev, IMSG_STATUS_END, peerid, 0, -1, NULL, 0);
}

int
priv_dispatch_vm(struct worker *w, struct imsg *imsg)
{
	struct ctl_audit	 ca;
	struct verbose_req	 vr;
	char			 errbuf[PROTO_MSG_MAX];
	uint32_t		 peerid = imsg_get_id(imsg);

	switch (imsg_get_type(imsg)) {
	case IMSG_STATUS_REQ:
		if (read_request(w, imsg, &ca, sizeof(ca)) == -1 ||
		    audit_check(w, &ca) == -1)
			return -1;
		priv_status(w, peerid);
		return 0;
	case IMSG_VERBOSE_REQ:
		if (read_request(w, imsg, &vr, sizeof(vr)) == -1 ||
		    audit_check(w, &vr.vr_audit) == -1)
			return -1;
		if (vr.vr_verbose != 0 && vr.vr_verbose != 1) {
			parent_worker_violation(w, "verbosity %d",
			    vr.vr_verbose);
			return -1;
		}
		log_info("uid %u: log %s", vr.vr_audit.ca_uid,
		    vr.vr_verbose ? "verbose" : "brief");
		parent_set_verbose(vr.vr_verbose);
		imsg_send_result(w->w_iev, IMSG_RESULT, peerid, 0,
		    "logging %s", vr.vr_verbose ? "verbose" : "brief");
		return 0;
	case IMSG_RELOAD_REQ:
		if (read_request(w, imsg, &ca, sizeof(ca)) == -1 ||
		    audit_check(w, &ca) == -1)
			return -1;
		log_info("uid %u: reload", ca.ca_uid);
		if (parent_reload(errbuf, sizeof(errbuf)) == -1) {
			log_warnx("reload failed, configuration unchanged: %s",
			    errbuf);
			imsg_send_result(w->w_iev, IMSG_RESULT, peerid, EINVAL,
			    "reload failed, configuration unchanged: %s",
			    errbuf);
		} else
			imsg_send_result(w->w_iev, IMSG_RESULT, peerid, 0,
			    "configuration reloaded from %s",
			    env->bd_conffile);
		return 0;
	}
	return -1;
}

int
priv_dispatch_net(struct worker *w, struct imsg *imsg)
{
	/* The net worker asks nothing of the parent yet. */
	return -1;
}

int
priv_dispatch_update(struct worker *w, struct imsg *imsg)
{
	/* The update worker asks nothing of the parent yet. */
	return -1;
}
