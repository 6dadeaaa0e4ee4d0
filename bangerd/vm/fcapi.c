/*
 * The Firecracker API client, in the vm worker: HTTP/1.1 over a VM's API
 * socket (libcurl, CURLOPT_UNIX_SOCKET_PATH: the parent made the socket
 * reachable in the worker's root), JSON bodies with jansson.  A 400's
 * {"fault_message": ...} reaches the caller as that message.
 *
 * The socket is reached by path rather than as a connected fd because
 * Debian 12's libcurl (7.88) cannot use a socket that is already
 * connected (curl issue #10626: it calls connect() again).
 *
 * Requests run on libcurl's multi interface driven by the worker's
 * libevent loop (fcapi_start): no VM's slow VMM holds up another's, and
 * a VM's requests reuse one kept-alive connection (libcurl's connection
 * cache tells sockets apart by path).  fcapi_call() is the blocking
 * form, for reconcile at start-up.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <curl/curl.h>
#include <errno.h>
#include <event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fcapi.h"
#include "log.h"

#define FCAPI_TIMEOUT_MS	5000
#define FCAPI_SNAPSHOT_TIMEOUT_MS 300000	/* /snapshot/create, load */
#define FCAPI_RESP_MAX		(64 * 1024)
#define FCAPI_READ_BUF		4096L	/* libcurl's read buffer */
/* Idle kept-alive connections the multi handle may hold, all VMs. */
#define FCAPI_MAXCONNECTS	16

struct respbuf {
	char	*buf;
	size_t	 len;
};

/* A request in flight on the multi handle. */
struct fcapi_req {
	TAILQ_ENTRY(fcapi_req)	 r_entry;
	CURL			*r_easy;
	struct curl_slist	*r_hdrs;
	char			*r_data;
	struct respbuf		 r_rb;
	char			 r_method[8];
	char			 r_path[64];
	fcapi_cb		 r_cb;
	void			*r_arg;
};

/* libcurl's interest in one socket. */
struct fcapi_sock {
	struct event	 s_ev;
	int		 s_fd;
};

static CURLM			*multi;
static struct event		 multi_timer;
static TAILQ_HEAD(, fcapi_req)	 reqs = TAILQ_HEAD_INITIALIZER(reqs);

static size_t
fcapi_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct respbuf	*rb = arg;
	size_t		 n = size * nmemb;
	char		*nbuf;

	if (rb->len + n > FCAPI_RESP_MAX)
		return 0;	/* aborts the transfer */
	if ((nbuf = realloc(rb->buf, rb->len + n + 1)) == NULL)
		return 0;
	rb->buf = nbuf;
	memcpy(rb->buf + rb->len, ptr, n);
	rb->len += n;
	rb->buf[rb->len] = '\0';
	return n;
}

static void	fcapi_multi_run(curl_socket_t, int);

static void
fcapi_sock_ready(int fd, short event, void *arg)
{
	int	 what = 0;

	if (event & EV_READ)
		what |= CURL_CSELECT_IN;
	if (event & EV_WRITE)
		what |= CURL_CSELECT_OUT;
	fcapi_multi_run(fd, what);
}

static void
fcapi_timer_fired(int fd, short event, void *arg)
{
	fcapi_multi_run(CURL_SOCKET_TIMEOUT, 0);
}

/* libcurl says which events of a socket it waits for. */
static int
fcapi_sock_cb(CURL *e, curl_socket_t fd, int what, void *u, void *sp)
{
	struct fcapi_sock	*s = sp;
	short			 ev = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			event_del(&s->s_ev);
			free(s);
			curl_multi_assign(multi, fd, NULL);
		}
		return 0;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			log_warn("%s", __func__);
			return -1;
		}
		s->s_fd = fd;
		curl_multi_assign(multi, fd, s);
	} else
		event_del(&s->s_ev);
	if (what & CURL_POLL_IN)
		ev |= EV_READ;
	if (what & CURL_POLL_OUT)
		ev |= EV_WRITE;
	event_set(&s->s_ev, fd, ev, fcapi_sock_ready, s);
	event_add(&s->s_ev, NULL);
	return 0;
}

static int
fcapi_timer_cb(CURLM *m, long ms, void *u)
{
	struct timeval	 tv;

	evtimer_del(&multi_timer);
	if (ms < 0)
		return 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = ms % 1000 * 1000;
	evtimer_add(&multi_timer, &tv);
	return 0;
}

/* The multi handle, made on first use (after the event loop is). */
static int
fcapi_multi(void)
{
	if (multi != NULL)
		return 0;
	if ((multi = curl_multi_init()) == NULL)
		return -1;
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, fcapi_sock_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, fcapi_timer_cb);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
	    (long)FCAPI_MAXCONNECTS);
	evtimer_set(&multi_timer, fcapi_timer_fired, NULL);
	return 0;
}

/* An easy handle for one request; the body is encoded into *datap. */
static CURL *
fcapi_easy(const char *sock, const char *method, const char *path,
    json_t *body, struct curl_slist **hdrsp, char **datap,
    struct respbuf *rb, char *err, size_t errlen)
{
	CURL	*c;
	char	 url[512];

	*hdrsp = NULL;
	*datap = NULL;
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		return NULL;
	}
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	/* A snapshot writes or maps all of the guest's memory. */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, strncmp(path, "/snapshot/",
	    10) == 0 ? (long)FCAPI_SNAPSHOT_TIMEOUT_MS :
	    (long)FCAPI_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/*
	 * Answers are small (GET /vm/config, about 1 KiB): a read buffer
	 * of 4 KiB, not libcurl's 16, for each of a boot's requests in
	 * flight at once (fcapi_write() gathers a longer one).
	 */
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, FCAPI_READ_BUF);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fcapi_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rb);
	*hdrsp = curl_slist_append(*hdrsp, "Accept: application/json");
	if (body != NULL) {
		/* POSTFIELDS would default to a form type: say it is JSON. */
		*hdrsp = curl_slist_append(*hdrsp,
		    "Content-Type: application/json");
		if ((*datap = json_dumps(body, JSON_COMPACT)) == NULL) {
			snprintf(err, errlen, "cannot encode request");
			curl_slist_free_all(*hdrsp);
			*hdrsp = NULL;
			curl_easy_cleanup(c);
			return NULL;
		}
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, *datap);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrsp);
	return c;
}

/*
 * What a finished transfer gave: the HTTP status, or -1 (err says why;
 * errno is ECONNREFUSED if nothing listens on the socket, else EIO).  On
 * a 2xx with a body, *respp (if not NULL) gets the parsed JSON.
 */
static int
fcapi_result(CURL *c, CURLcode cc, const struct respbuf *rb,
    const char *method, const char *path, json_t **respp, char *err,
    size_t errlen)
{
	json_error_t	 jerr;
	json_t		*resp = NULL, *fm;
	long		 status = -1, oserr = 0;

	if (respp != NULL)
		*respp = NULL;
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s %s: %s", method, path,
		    curl_easy_strerror(cc));
		if (cc == CURLE_COULDNT_CONNECT)
			curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
		errno = oserr == ECONNREFUSED ? ECONNREFUSED : EIO;
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rb->len > 0)
		resp = json_loads(rb->buf, 0, &jerr);
	if (status >= 400) {
		if (resp != NULL && (fm = json_object_get(resp,
		    "fault_message")) != NULL && json_is_string(fm))
			snprintf(err, errlen, "%s", json_string_value(fm));
		else
			snprintf(err, errlen, "%s %s: HTTP %ld", method, path,
			    status);
	} else if (respp != NULL) {
		*respp = resp;
		resp = NULL;
	}
	json_decref(resp);
	return (int)status;
}

/* One request, waited for; as fcapi_result() returns. */
int
fcapi_call(const char *sock, const char *method, const char *path,
    json_t *body, json_t **respp, char *err, size_t errlen)
{
	CURL			*c;
	struct curl_slist	*hdrs;
	struct respbuf		 rb = { NULL, 0 };
	char			*data;
	int			 st, saved_errno;

	if (respp != NULL)
		*respp = NULL;
	if ((c = fcapi_easy(sock, method, path, body, &hdrs, &data, &rb, err,
	    errlen)) == NULL) {
		errno = EIO;
		return -1;
	}
	st = fcapi_result(c, curl_easy_perform(c), &rb, method, path, respp,
	    err, errlen);
	saved_errno = errno;
	free(data);
	free(rb.buf);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	errno = saved_errno;
	return st;
}

static void
fcapi_req_free(struct fcapi_req *r)
{
	curl_multi_remove_handle(multi, r->r_easy);
	curl_easy_cleanup(r->r_easy);
	curl_slist_free_all(r->r_hdrs);
	free(r->r_data);
	free(r->r_rb.buf);
	free(r);
}

/* Finished transfers: each one's callback, then it goes. */
static void
fcapi_multi_run(curl_socket_t fd, int what)
{
	struct fcapi_req	*r;
	CURLMsg			*m;
	json_t			*resp;
	char			 err[FCAPI_ERR_MAX];
	int			 running, left, st, errnum;

	curl_multi_socket_action(multi, fd, what, &running);
	while ((m = curl_multi_info_read(multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		r = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
		if (r == NULL)
			continue;
		err[0] = '\0';
		st = fcapi_result(r->r_easy, m->data.result, &r->r_rb,
		    r->r_method, r->r_path, &resp, err, sizeof(err));
		errnum = st == -1 ? errno : 0;
		TAILQ_REMOVE(&reqs, r, r_entry);
		/* m is not to be used once the handle is removed. */
		curl_multi_remove_handle(multi, r->r_easy);
		r->r_cb(r->r_arg, st, resp, err, errnum);
		json_decref(resp);
		fcapi_req_free(r);
	}
}

/*
 * Start a request; cb(arg, status, resp, err, errnum) is called from the
 * event loop when it ends, with fcapi_call()'s results (resp is the
 * parsed JSON body of a 2xx, or NULL; it is freed after cb returns).
 * The body is taken.  NULL (err says why) if it could not be started.
 */
struct fcapi_req *
fcapi_start(const char *sock, const char *method, const char *path,
    json_t *body, fcapi_cb cb, void *arg, char *err, size_t errlen)
{
	return fcapi_start_conn(sock, method, path, body, 0, cb, arg, err,
	    errlen);
}

/*
 * fcapi_start(), on a connection of its own if apart (closed once it is
 * answered) rather than the VM's kept-alive one: requests sent together.
 * libcurl would otherwise queue some of them for the kept-alive
 * connection, one after another.
 */
struct fcapi_req *
fcapi_start_conn(const char *sock, const char *method, const char *path,
    json_t *body, int apart, fcapi_cb cb, void *arg, char *err,
    size_t errlen)
{
	struct fcapi_req	*r;

	if (fcapi_multi() == -1) {
		snprintf(err, errlen, "curl_multi_init failed");
		json_decref(body);
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		json_decref(body);
		return NULL;
	}
	strlcpy(r->r_method, method, sizeof(r->r_method));
	strlcpy(r->r_path, path, sizeof(r->r_path));
	r->r_cb = cb;
	r->r_arg = arg;
	r->r_easy = fcapi_easy(sock, method, path, body, &r->r_hdrs,
	    &r->r_data, &r->r_rb, err, errlen);
	json_decref(body);
	if (r->r_easy == NULL) {
		free(r);
		return NULL;
	}
	curl_easy_setopt(r->r_easy, CURLOPT_PRIVATE, r);
	if (apart) {
		curl_easy_setopt(r->r_easy, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(r->r_easy, CURLOPT_FORBID_REUSE, 1L);
	}
	if (curl_multi_add_handle(multi, r->r_easy) != CURLM_OK) {
		snprintf(err, errlen, "curl_multi_add_handle failed");
		curl_easy_cleanup(r->r_easy);
		curl_slist_free_all(r->r_hdrs);
		free(r->r_data);
		free(r);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&reqs, r, r_entry);
	return r;
}

/* A request no one waits for any more: it ends, its callback unmade. */
void
fcapi_cancel(struct fcapi_req *r)
{
	if (r == NULL)
		return;
	TAILQ_REMOVE(&reqs, r, r_entry);
	fcapi_req_free(r);
}

/* Whether no request is in flight, of any VM's. */
int
fcapi_idle(void)
{
	return TAILQ_EMPTY(&reqs);
}

/*
 * The logger and the metrics, the first requests of a boot and of a
 * restore, so that Firecracker logs the rest.
 */
static size_t
fcapi_output_reqs(const struct fc_boot *fb, const char **paths,
    json_t **bodies)
{
	size_t	 n = 0;

	if (fb->fb_log != NULL) {
		paths[n] = "/logger";
		bodies[n++] = json_pack("{s:s, s:s, s:b, s:b}", "log_path",
		    fb->fb_log, "level", "Info", "show_level", 1,
		    "show_log_origin", 0);
	}
	if (fb->fb_metrics != NULL) {
		paths[n] = "/metrics";
		bodies[n++] = json_pack("{s:s}", "metrics_path",
		    fb->fb_metrics);
	}
	return n;
}

/*
 * The pre-boot configuration's requests, in order: paths[i] and
 * bodies[i] (the caller's to free) for each; returns their number.
 */
size_t
fcapi_config_reqs(const struct fc_boot *fb, const char **paths,
    json_t **bodies)
{
	size_t	 n = fcapi_output_reqs(fb, paths, bodies);

	paths[n] = "/machine-config";
	bodies[n++] = json_pack("{s:i, s:I, s:b}", "vcpu_count", fb->fb_cpus,
	    "mem_size_mib", (json_int_t)fb->fb_memory, "smt", 0);
	paths[n] = "/boot-source";
	bodies[n] = json_pack("{s:s, s:s}", "kernel_image_path",
	    fb->fb_kernel, "boot_args", fb->fb_bootargs);
	if (bodies[n] != NULL && fb->fb_initrd[0] != '\0')
		json_object_set_new(bodies[n], "initrd_path",
		    json_string(fb->fb_initrd));
	n++;
	paths[n] = "/drives/rootfs";
	bodies[n++] = json_pack("{s:s, s:b, s:s, s:b}", "drive_id",
	    "rootfs", "is_root_device", 1, "path_on_host", fb->fb_disk,
	    "is_read_only", 0);
	if (fb->fb_identity != NULL) {
		paths[n] = "/drives/identity";
		bodies[n++] = json_pack("{s:s, s:b, s:s, s:b}", "drive_id",
		    "identity", "is_root_device", 0, "path_on_host",
		    fb->fb_identity, "is_read_only", 1);
	}
	paths[n] = "/network-interfaces/eth0";
	bodies[n++] = json_pack("{s:s, s:s, s:s}", "iface_id", "eth0",
	    "host_dev_name", fb->fb_tap, "guest_mac", fb->fb_mac);
	return n;
}

/*
 * A restore's requests: the logger and metrics, as at boot, then PUT
 * /snapshot/load of state and mem (paths in the jail), resumed: the
 * machine, its drive and its network are the snapshot's.
 */
size_t
fcapi_restore_reqs(const struct fc_boot *fb, const char *state,
    const char *mem, const char **paths, json_t **bodies)
{
	size_t	 n = fcapi_output_reqs(fb, paths, bodies);

	paths[n] = "/snapshot/load";
	bodies[n] = json_pack("{s:s, s:{s:s, s:s}, s:b, s:b}",
	    "snapshot_path", state, "mem_backend", "backend_type", "File",
	    "backend_path", mem, "enable_diff_snapshots", 0, "resume_vm", 1);
	/* Firecracker 1.12 and later: a clone's interface on its own tap */
	if (bodies[n] != NULL && fb->fb_tap_override)
		json_object_set_new(bodies[n], "network_overrides",
		    json_pack("[{s:s, s:s}]", "iface_id", "eth0",
		    "host_dev_name", fb->fb_tap));
	n++;
	return n;
}

/* GET /'s body: {"id", "state", "vmm_version", "app_name"}. */
int
fcapi_instance_parse(json_t *r, struct fc_instance *fi, char *err,
    size_t errlen)
{
	const char	*state, *version;

	memset(fi, 0, sizeof(*fi));
	if (r == NULL || json_unpack(r, "{s:s, s:s}", "state", &state,
	    "vmm_version", &version) == -1) {
		snprintf(err, errlen, "firecracker's GET / gave no state and "
		    "vmm_version");
		return -1;
	}
	strlcpy(fi->fi_version, version, sizeof(fi->fi_version));
	strlcpy(fi->fi_state, state, sizeof(fi->fi_state));
	return 0;
}

int
fcapi_instance(const char *sock, struct fc_instance *fi, char *err,
    size_t errlen)
{
	json_t		*r = NULL;
	int		 st, rv;

	memset(fi, 0, sizeof(*fi));
	st = fcapi_call(sock, "GET", "/", NULL, &r, err, errlen);
	if (st < 200 || st > 299) {
		json_decref(r);
		return -1;
	}
	rv = fcapi_instance_parse(r, fi, err, errlen);
	json_decref(r);
	return rv;
}

/* A string member of o, "" if missing or null; NULL if of another type. */
static const char *
config_str(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return "";
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The element of array a whose key is id. */
static json_t *
config_find(json_t *a, const char *key, const char *id)
{
	json_t		*e;
	const char	*s;
	size_t		 i;

	json_array_foreach(a, i, e)
		if ((s = config_str(e, key)) != NULL && strcmp(s, id) == 0)
			return e;
	return NULL;
}

#define DIFFER(...)	do {						\
	snprintf(err, errlen, "firecracker's configuration is not what "	\
	    "was sent: " __VA_ARGS__);					\
	goto done;							\
} while (0)

/*
 * GET /vm/config's body r, after InstanceStart: Firecracker's view of
 * the machine must be what the configuration requests sent, or the VMM
 * is not doing what we asked (a misbehaving or foreign VMM): err names
 * the first difference.
 */
int
fcapi_config_check(json_t *r, const struct fc_boot *fb, char *err,
    size_t errlen)
{
	json_t		*mc, *bs, *d, *n, *v;
	const char	*s;
	int		 rv = -1;

	if (r == NULL || !json_is_object(r))
		DIFFER("GET /vm/config gave no JSON object");

	mc = json_object_get(r, "machine-config");
	if ((v = json_object_get(mc, "vcpu_count")) == NULL ||
	    !json_is_integer(v) || json_integer_value(v) != fb->fb_cpus)
		DIFFER("vcpu_count is %lld, not %d", v != NULL &&
		    json_is_integer(v) ? (long long)json_integer_value(v) :
		    -1LL, fb->fb_cpus);
	if ((v = json_object_get(mc, "mem_size_mib")) == NULL ||
	    !json_is_integer(v) ||
	    (uint64_t)json_integer_value(v) != fb->fb_memory)
		DIFFER("mem_size_mib is %lld, not %llu", v != NULL &&
		    json_is_integer(v) ? (long long)json_integer_value(v) :
		    -1LL, (unsigned long long)fb->fb_memory);

	bs = json_object_get(r, "boot-source");
	if ((s = config_str(bs, "kernel_image_path")) == NULL ||
	    strcmp(s, fb->fb_kernel) != 0)
		DIFFER("kernel_image_path is \"%s\", not \"%s\"",
		    s ? s : "?", fb->fb_kernel);
	if ((s = config_str(bs, "initrd_path")) == NULL ||
	    strcmp(s, fb->fb_initrd) != 0)
		DIFFER("initrd_path is \"%s\", not \"%s\"", s ? s : "?",
		    fb->fb_initrd);
	if ((s = config_str(bs, "boot_args")) == NULL ||
	    strcmp(s, fb->fb_bootargs) != 0)
		DIFFER("boot_args are \"%s\", not \"%s\"", s ? s : "?",
		    fb->fb_bootargs);

	v = json_object_get(r, "drives");
	if (json_array_size(v) != (fb->fb_identity != NULL ? 2 : 1) ||
	    (d = config_find(v, "drive_id", "rootfs")) == NULL)
		DIFFER("%zu drives, not %s", json_array_size(v),
		    fb->fb_identity != NULL ? "rootfs and identity" :
		    "the one rootfs");
	if (fb->fb_identity != NULL) {
		json_t	*id = config_find(v, "drive_id", "identity");

		if (id == NULL || (s = config_str(id, "path_on_host")) ==
		    NULL || strcmp(s, fb->fb_identity) != 0 ||
		    !json_is_false(json_object_get(id, "is_root_device")) ||
		    !json_is_true(json_object_get(id, "is_read_only")))
			DIFFER("the identity drive is not %s, read-only",
			    fb->fb_identity);
	}
	if ((s = config_str(d, "path_on_host")) == NULL ||
	    strcmp(s, fb->fb_disk) != 0)
		DIFFER("rootfs is \"%s\", not \"%s\"", s ? s : "?",
		    fb->fb_disk);
	if (!json_is_true(json_object_get(d, "is_root_device")) ||
	    !json_is_false(json_object_get(d, "is_read_only")))
		DIFFER("rootfs is not the read-write root device");

	v = json_object_get(r, "network-interfaces");
	if (json_array_size(v) != 1 ||
	    (n = config_find(v, "iface_id", "eth0")) == NULL)
		DIFFER("%zu network interfaces, not the one eth0",
		    json_array_size(v));
	if ((s = config_str(n, "host_dev_name")) == NULL ||
	    strcmp(s, fb->fb_tap) != 0)
		DIFFER("eth0's tap is \"%s\", not \"%s\"", s ? s : "?",
		    fb->fb_tap);
	if ((s = config_str(n, "guest_mac")) == NULL ||
	    strcasecmp(s, fb->fb_mac) != 0)
		DIFFER("eth0's MAC is \"%s\", not \"%s\"", s ? s : "?",
		    fb->fb_mac);
	rv = 0;
done:
	return rv;
}
