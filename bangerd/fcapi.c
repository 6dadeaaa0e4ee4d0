/*
 * The Firecracker API client, in the vm worker: HTTP/1.1 over a VM's API
 * socket (libcurl, CURLOPT_UNIX_SOCKET_PATH: the parent made the socket
 * reachable in the worker's root), JSON bodies with jansson.  A 400's
 * {"fault_message": ...} reaches the caller as that message.
 *
 * The socket is reached by path rather than as a connected fd because
 * Debian 12's libcurl (7.88) cannot use a socket that is already
 * connected (curl issue #10626: it calls connect() again).
 */
#include <sys/types.h>

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fcapi.h"
#include "log.h"

#define FCAPI_TIMEOUT_MS	5000
#define FCAPI_RESP_MAX		(64 * 1024)

struct respbuf {
	char	*buf;
	size_t	 len;
};

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

int
fcapi_init(void)
{
	return curl_global_init(CURL_GLOBAL_NOTHING) == CURLE_OK ? 0 : -1;
}

/*
 * One request.  Returns the HTTP status, or -1 (err says why; errno is
 * ECONNREFUSED if nothing listens on the socket, else EIO).  On a 2xx
 * with a body, *respp (if not NULL) gets the parsed JSON.
 */
int
fcapi_call(const char *sock, const char *method, const char *path,
    json_t *body, json_t **respp, char *err, size_t errlen)
{
	CURL			*c;
	struct curl_slist	*hdrs = NULL;
	struct respbuf		 rb = { NULL, 0 };
	json_error_t		 jerr;
	json_t			*resp = NULL, *fm;
	char			 url[512], *data = NULL;
	long			 status = -1, oserr = 0;
	CURLcode		 cc;

	if (respp != NULL)
		*respp = NULL;
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		return -1;
	}
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)FCAPI_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fcapi_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &rb);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (body != NULL) {
		/* POSTFIELDS would default to a form type: say it is JSON. */
		hdrs = curl_slist_append(hdrs,
		    "Content-Type: application/json");
		if ((data = json_dumps(body, JSON_COMPACT)) == NULL) {
			snprintf(err, errlen, "cannot encode request");
			goto done;
		}
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		snprintf(err, errlen, "%s %s: %s", method, path,
		    curl_easy_strerror(cc));
		if (cc == CURLE_COULDNT_CONNECT)
			curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rb.len > 0)
		resp = json_loads(rb.buf, 0, &jerr);
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
done:
	json_decref(resp);
	free(data);
	free(rb.buf);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (status == -1)
		errno = oserr == ECONNREFUSED ? ECONNREFUSED : EIO;
	return (int)status;
}

/* A request that must succeed with a 2xx; -1 with err otherwise. */
static int
fcapi_ok(const char *sock, const char *method, const char *path,
    json_t *body, char *err, size_t errlen)
{
	int	 st, saved_errno;

	st = fcapi_call(sock, method, path, body, NULL, err, errlen);
	saved_errno = errno;
	json_decref(body);
	if (st < 200 || st > 299) {
		errno = st == -1 ? saved_errno : EIO;
		return -1;
	}
	return 0;
}

/*
 * The pre-boot configuration, request by request.  Only the first can
 * find Firecracker not listening yet: errno is ECONNREFUSED then (the
 * caller may try again), EIO on any other failure.
 */
int
fcapi_configure(const char *sock, const struct fc_boot *fb, char *err,
    size_t errlen)
{
	struct {
		const char	*path;
		json_t		*body;
	}		 rq[6];
	size_t		 n = 0, i;
	int		 saved_errno;

	/* The logger first, so that Firecracker logs the rest. */
	if (fb->fb_log != NULL) {
		rq[n].path = "/logger";
		rq[n++].body = json_pack("{s:s, s:s, s:b, s:b}", "log_path",
		    fb->fb_log, "level", "Info", "show_level", 1,
		    "show_log_origin", 0);
	}
	if (fb->fb_metrics != NULL) {
		rq[n].path = "/metrics";
		rq[n++].body = json_pack("{s:s}", "metrics_path",
		    fb->fb_metrics);
	}
	rq[n].path = "/machine-config";
	rq[n++].body = json_pack("{s:i, s:I, s:b}", "vcpu_count", fb->fb_cpus,
	    "mem_size_mib", (json_int_t)fb->fb_memory, "smt", 0);
	rq[n].path = "/boot-source";
	rq[n].body = json_pack("{s:s, s:s}", "kernel_image_path",
	    fb->fb_kernel, "boot_args", fb->fb_bootargs);
	if (rq[n].body != NULL && fb->fb_initrd[0] != '\0')
		json_object_set_new(rq[n].body, "initrd_path",
		    json_string(fb->fb_initrd));
	n++;
	rq[n].path = "/drives/rootfs";
	rq[n++].body = json_pack("{s:s, s:b, s:s, s:b}", "drive_id",
	    "rootfs", "is_root_device", 1, "path_on_host", fb->fb_disk,
	    "is_read_only", 0);
	rq[n].path = "/network-interfaces/eth0";
	rq[n++].body = json_pack("{s:s, s:s, s:s}", "iface_id", "eth0",
	    "host_dev_name", fb->fb_tap, "guest_mac", fb->fb_mac);

	for (i = 0; i < n; i++) {
		/* fcapi_ok() takes the body */
		if (fcapi_ok(sock, "PUT", rq[i].path, rq[i].body, err,
		    errlen) == -1) {
			saved_errno = i == 0 && errno == ECONNREFUSED ?
			    ECONNREFUSED : EIO;
			while (++i < n)
				json_decref(rq[i].body);
			errno = saved_errno;
			return -1;
		}
	}
	return 0;
}

int
fcapi_action(const char *sock, const char *action, char *err, size_t errlen)
{
	return fcapi_ok(sock, "PUT", "/actions",
	    json_pack("{s:s}", "action_type", action), err, errlen);
}

int
fcapi_set_state(const char *sock, const char *state, char *err,
    size_t errlen)
{
	return fcapi_ok(sock, "PATCH", "/vm",
	    json_pack("{s:s}", "state", state), err, errlen);
}

/* GET /: {"id", "state", "vmm_version", "app_name"}. */
int
fcapi_instance(const char *sock, struct fc_instance *fi, char *err,
    size_t errlen)
{
	json_t		*r = NULL;
	const char	*state, *version;
	int		 st;

	memset(fi, 0, sizeof(*fi));
	st = fcapi_call(sock, "GET", "/", NULL, &r, err, errlen);
	if (st < 200 || st > 299) {
		json_decref(r);
		return -1;
	}
	if (r == NULL || json_unpack(r, "{s:s, s:s}", "state", &state,
	    "vmm_version", &version) == -1) {
		snprintf(err, errlen, "firecracker's GET / gave no state and "
		    "vmm_version");
		json_decref(r);
		return -1;
	}
	strlcpy(fi->fi_version, version, sizeof(fi->fi_version));
	strlcpy(fi->fi_state, state, sizeof(fi->fi_state));
	json_decref(r);
	return 0;
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
 * GET /vm/config after InstanceStart: Firecracker's view of the machine
 * must be what fcapi_configure() sent, or the VMM is not doing what we
 * asked (a misbehaving or foreign VMM): err names the first difference.
 */
int
fcapi_verify(const char *sock, const struct fc_boot *fb, char *err,
    size_t errlen)
{
	json_t		*r = NULL, *mc, *bs, *d, *n, *v;
	const char	*s;
	int		 st, rv = -1;

	st = fcapi_call(sock, "GET", "/vm/config", NULL, &r, err, errlen);
	if (st < 200 || st > 299)
		goto done;
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
	if (json_array_size(v) != 1 ||
	    (d = config_find(v, "drive_id", "rootfs")) == NULL)
		DIFFER("%zu drives, not the one rootfs", json_array_size(v));
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
	json_decref(r);
	return rv;
}
