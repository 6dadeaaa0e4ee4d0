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
 * One request.  Returns the HTTP status, or -1 (err says why).  On a
 * 2xx with a body, *respp (if not NULL) gets the parsed JSON.
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
	long			 status = -1;
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
	return (int)status;
}

/* A request that must succeed with a 2xx; -1 with err otherwise. */
static int
fcapi_ok(const char *sock, const char *method, const char *path,
    json_t *body, char *err, size_t errlen)
{
	int	 st;

	st = fcapi_call(sock, method, path, body, NULL, err, errlen);
	json_decref(body);
	if (st < 200 || st > 299)
		return -1;
	return 0;
}

int
fcapi_configure(const char *sock, const struct fc_boot *fb, char *err,
    size_t errlen)
{
	json_t	*bs;

	if (fcapi_ok(sock, "PUT", "/machine-config", json_pack(
	    "{s:i, s:I, s:b}", "vcpu_count", fb->fb_cpus,
	    "mem_size_mib", (json_int_t)fb->fb_memory, "smt", 0),
	    err, errlen) == -1)
		return -1;
	bs = json_pack("{s:s, s:s}", "kernel_image_path", fb->fb_kernel,
	    "boot_args", fb->fb_bootargs);
	if (fb->fb_initrd[0] != '\0')
		json_object_set_new(bs, "initrd_path",
		    json_string(fb->fb_initrd));
	if (fcapi_ok(sock, "PUT", "/boot-source", bs, err, errlen) == -1)
		return -1;
	if (fcapi_ok(sock, "PUT", "/drives/rootfs", json_pack(
	    "{s:s, s:b, s:s, s:b}", "drive_id", "rootfs",
	    "is_root_device", 1, "path_on_host", fb->fb_disk,
	    "is_read_only", 0), err, errlen) == -1)
		return -1;
	if (fcapi_ok(sock, "PUT", "/network-interfaces/eth0", json_pack(
	    "{s:s, s:s, s:s}", "iface_id", "eth0",
	    "host_dev_name", fb->fb_tap, "guest_mac", fb->fb_mac),
	    err, errlen) == -1)
		return -1;
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
