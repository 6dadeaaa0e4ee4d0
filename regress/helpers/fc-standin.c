/*
 * fc-standin: test infrastructure.  A stand-in for Firecracker that
 * speaks its HTTP API on the unix socket named by --api-sock, checks
 * request bodies and VM state the way Firecracker does and answers with
 * the same status codes and fault messages, so that banger's tests can
 * run where Firecracker cannot.
 *
 * Built twice from this file:
 *	fc-standin-idle		(default) no guest: InstanceStart prints a
 *				boot banner on stdout, then a tiny getty
 *				answers each line on stdin ("echo: LINE";
 *				"poweroff" exits 0); Ctrl+Alt+Del makes
 *				the guest reboot and the VMM exit 0 (a
 *				paused guest reads it when resumed).
 *				PUT /snapshot/create and /snapshot/load
 *				work as in 1.12.1 (state file ours, memory
 *				file sparse zeros; no Uffd backend).
 *	fc-standin-qemu		(-DSTANDIN_MODE_QEMU) InstanceStart runs
 *				qemu-system-x86_64 (-DQEMU_PATH, or env
 *				FC_STANDIN_QEMU) as a child, console on our
 *				stdio, the taps opened at PUT passed as fds;
 *				SendCtrlAltDel is the keypress (QMP send-key)
 *				and nothing more; the API keeps answering;
 *				we exit, with qemu's status, when qemu does
 *				(the guest powered off or rebooted).
 *				PUT /snapshot/create and /snapshot/load
 *				as in the idle mode, but the memory file
 *				is qemu's migration stream of the guest,
 *				and load runs qemu -incoming from it.
 *
 * As Firecracker does, PUT /network-interfaces opens the tap then and
 * there (TUNSETIFF on /dev/net/tun, as whoever runs us, in our network
 * namespace) and holds it, and InstanceStart loads the kernel: an ELF
 * vmlinux (x86_64) or an arm64 Image (aarch64), checked as
 * linux-loader checks it.
 *
 * Stand-in-only knobs:
 *	--standin-log FILE, env FC_STANDIN_LOG, or ./fc-standin.log-path,
 *	else fc-standin.requests beside the API socket
 *		append {"method","path","body","status"} per request.
 *	--standin-arch x86_64|aarch64, env FC_STANDIN_ARCH (idle mode)
 *		the host architecture to answer as: on aarch64 the kernel
 *		is an arm64 Image and SendCtrlAltDel is refused.
 *	--standin-listen-delay MS, env FC_STANDIN_LISTEN_DELAY_MS
 *		bind the API socket, then wait MS before listening: the
 *		socket file is there and connections are refused.
 *	fc_standin.api_delay_ms=MS in the boot arguments
 *		once PUT /boot-source has set them, every API answer
 *		comes MS late (at most 60000): a slow VMM among fast
 *		ones, for the benches.
 *	fc_standin.snapshot_hostile=symlink|link|long|none likewise
 *		a VMM that tampers with the snapshot files it wrote
 *		(snapshot_hostile()), for the daemon's checks of them.
 *	./fc-standin.args (read at start, from the cwd: the jail root of
 *		a jailed stand-in, which gets no environment and no
 *		options of ours) more options, whitespace-separated.
 *	./fc-standin.responses (read at start, from the cwd) lines
 *		"METHOD PATH STATUS [JSON]": that request is answered so
 *		and not acted on, for tests of what a misbehaving VMM's
 *		answers do.  PATH "/actions:TYPE" is only the action of
 *		that action_type (a guest that ignores SendCtrlAltDel, a
 *		VMM that refuses it), "/vm:STATE" only that state
 *		(Paused, Resumed).
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <net/if.h>

#include <linux/if_tun.h>

#include <jansson.h>

#include "fc-standin-serde.h"

#ifndef QEMU_PATH
#define QEMU_PATH		"/usr/bin/qemu-system-x86_64"
#endif

#define FC_VERSION		"1.12.1"
#define DEFAULT_API_SOCK	"/run/firecracker.socket"
#define DEFAULT_ID		"anonymous-instance"
#define LOGPATH_FILE		"fc-standin.log-path"
#define RESPONSES_FILE		"fc-standin.responses"
#define ARGS_FILE		"fc-standin.args"
#define METRICS_PERIOD_MS	60000	/* WRITE_METRICS_PERIOD_MS */

#define HTTP_MAX_PAYLOAD	51200	/* vmm::HTTP_MAX_PAYLOAD_SIZE */
#define HTTP_LINE_MAX		1024	/* micro_http's read buffer */
#define HTTP_HEAD_MAX		65536	/* ours: all header lines */
#define MAX_CONNECTIONS		10	/* micro_http's */
#define MAX_VCPUS		32
#define CMDLINE_MAX		2048	/* x86_64 CMDLINE_MAX_SIZE */
#define DEFAULT_CMDLINE		"reboot=k panic=1 pci=off nomodule " \
				"8250.nr_uarts=0 i8042.noaux i8042.nomux " \
				"i8042.dumbkbd"

#define EXIT_GENERIC		1	/* FcExitCode::GenericError */
#define EXIT_BADCONF		152	/* FcExitCode::BadConfiguration */
#define EXIT_ARGPARSE		153	/* FcExitCode::ArgParsing */
#define EXIT_SIGHUP		156	/* FcExitCode::SIGHUP */

#define ERR_PREBOOT	"The requested operation is not supported before " \
			"starting the microVM."
#define ERR_POSTBOOT	"The requested operation is not supported after " \
			"starting the microVM."
#define ERR_NOKERNEL	"Start microvm error: Cannot start microvm " \
			"without kernel configuration."
#define ERR_VCPUS	"Machine config error: The number of vCPUs must be " \
			"greater than 0, less than 32 and must be 1 or an " \
			"even number if SMT is enabled."
#define ERR_MEMSIZE	"Machine config error: The memory size (MiB) is " \
			"either 0, or not a multiple of the configured page " \
			"size."
#define ERR_IDMISMATCH	"The id from the path does not match the id from " \
			"the body!"
#define ERR_NETDEV	"Network config error: Could not create the network " \
			"device: "
#define ERR_KERNEL	"Start microvm error: Cannot load kernel due to " \
			"invalid memory configuration or invalid kernel " \
			"image: Kernel Loader: "
#define ERR_I8042_FULL	"Internal VMM error: I8042 error: i8042 internal " \
			"buffer full."
#define ERR_CAD_AARCH64	"SendCtrlAltDel does not supported on aarch64."
#define ERR_SNAP_DIFF	"The requested operation is not supported: Diff " \
			"snapshots are not allowed on uVMs with dirty page " \
			"tracking disabled."
#define ERR_SNAP_RUN	"Create snapshot error: Cannot save the microVM " \
			"state: Operation not allowed: save/restore " \
			"unavailable while running"
#define ERR_SNAP_CREATE	"Create snapshot error: "
#define ERR_LOAD_NOTNOW	"Load snapshot error: Loading a microVM snapshot " \
			"not allowed after configuring boot-specific " \
			"resources."
#define ERR_LOAD	"Load snapshot error: Failed to restore from " \
			"snapshot: "
#define ERR_LOAD_STATE	ERR_LOAD "Failed to get snapshot state from file: "
#define ERR_LOAD_FORMAT	ERR_LOAD_STATE "Failed to load snapshot state " \
			"from file: "
#define ERR_LOAD_MEM	ERR_LOAD "Failed to load guest memory: Error " \
			"creating guest memory from file: "
#define ERR_LOAD_DEV	ERR_LOAD "Failed to build microVM from snapshot: " \
			"Failed to restore MMIO device: Cannot restore " \
			"devices: "
#define ERR_LOAD_BOTH	"too many fields: either `mem_backend` or " \
			"`mem_file_path` exclusively is required"
#define ERR_LOAD_NONE	"missing field: either `mem_backend` or " \
			"`mem_file_path` is required"

#define SNAP_MAGIC_FC	0x0710198486640000ULL	/* x86_64 SNAPSHOT_MAGIC_ID */
#define SNAP_MAGIC	"fc-standin snapshot 1\n"
#define SNAP_BODY_MAX	(1 << 20)	/* ours are a few KiB */

#define VNET_HDR_LEN		12	/* virtio_net_hdr_v1 */
#define I8042_BUF_SIZE		16	/* i8042.rs BUF_SIZE */
#define I8042_CAD_LEN		4	/* Ctrl, Alt, extended Del */
#define X86_HIMEM_START		0x100000ULL
#define X86_MMIO_MEM_START	(0x100000000ULL - (768ULL << 20))
#define ARM_DRAM_START		0x80000000ULL
#define ARM_KERNEL_START	(ARM_DRAM_START + 0x200000ULL)

enum method { M_GET, M_PUT, M_PATCH };
enum vmstate { VM_NOT_STARTED, VM_RUNNING, VM_PAUSED };
enum { LV_OFF, LV_ERROR, LV_WARN, LV_INFO, LV_DEBUG, LV_TRACE };

struct req {
	enum method	 method;
	const char	*mname;
	char		*uri;
	const char	*body;		/* NULL when Content-Length is 0 */
	size_t		 bodylen;
};

struct resp {
	int		 status;
	char		*body;		/* JSON text, or NULL for 204 */
	int		 deprecated;
};

struct conn {
	int		 fd;
	char		*in;
	size_t		 inlen, incap;
	char		*out;
	size_t		 outlen, outcap, outoff;
	int		 dead;		/* close once out is flushed */
	int		 continued;	/* sent 100 Continue already */
};

struct strv {
	char		**v;
	size_t		 n, cap;
};

static struct {
	const char	*id;
	enum vmstate	 state;
	unsigned int	 vcpus;
	uint64_t	 mem_mib;
	int		 smt;
	int		 track_dirty;
	int		 boot_path;	/* configured: no snapshot load */
	const char	*huge_pages;
	const char	*cpu_template;	/* NULL: none */
	json_t		*boot;		/* BootSourceConfig, or NULL */
	json_t		*boot_built;	/* the last one that could be used */
	json_t		*drives;	/* [BlockDeviceConfig], root first */
	json_t		*nets;		/* [NetworkInterfaceConfig] */
	int		*tapfds;	/* each net's open tap, in order */
	int		 kernel_fd;	/* boot_built's, open since PUT */
	json_t		*vsock;
	json_t		*entropy;
	json_t		*mmds_cfg;
	json_t		*mmds;		/* data store, NULL until used */
	int		 metrics_fd;
	int64_t		 metrics_next;	/* periodic flush, 0: none */
} vm;

static struct {
	const char	*api_sock;
	int		 sock_made;
	int		 listen_fd;
	int		 sig_fd;
	size_t		 max_payload;
	int		 reqlog_fd;
	int		 log_fd;	/* Firecracker's own log */
	int		 log_level;
	int		 show_level;
	int		 show_origin;
	struct conn	 conns[MAX_CONNECTIONS];
	size_t		 nconns;
	int64_t		 t0;		/* start, for the banner clock */
	int		 exit_pending;
	int		 exit_code;
	int64_t		 exit_at;
	pid_t		 qemu_pid;
	char		 qmp_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int		 qmp_fd;
	int64_t		 term_kill_at;		/* 0: none */
	int		 aarch64;	/* --standin-arch aarch64 */
	int		 kbd_len;	/* i8042 bytes the guest has not read */
	long		 listen_delay;	/* ms, --standin-listen-delay */
	json_t		*canned;	/* [[method, path, status, body]] */
} g;

/* Request body schemas, field by field in Firecracker's order. */
static const char * const en_action_v[] = {
	"FlushMetrics", "InstanceStart", "SendCtrlAltDel", NULL };
static const struct sd_enum en_action = { en_action_v, 0 };
static const struct sd_field f_action[] = {
	{ "action_type", SD_ENUM, 0, &en_action },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_action = { "ActionBody", f_action, 0 };

static const char * const en_vmstate_v[] = { "Paused", "Resumed", NULL };
static const struct sd_enum en_vmstate = { en_vmstate_v, 0 };
static const struct sd_field f_vm[] = {
	{ "state", SD_ENUM, 0, &en_vmstate },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_vm = { "Vm", f_vm, 0 };

static const char * const en_cputmpl_v[] = {
	"C3", "T2", "T2S", "None", "T2CL", "T2A", NULL };
static const struct sd_enum en_cputmpl = { en_cputmpl_v, 0 };
static const char * const en_huge_v[] = { "None", "2M", NULL };
static const struct sd_enum en_huge = { en_huge_v, 0 };
static const struct sd_field f_mc[] = {
	{ "vcpu_count", SD_U8, 0, NULL },
	{ "mem_size_mib", SD_USIZE, 0, NULL },
	{ "smt", SD_BOOL, SD_DEF, NULL },
	{ "cpu_template", SD_ENUM, SD_OPT, &en_cputmpl },
	{ "track_dirty_pages", SD_BOOL, SD_DEF, NULL },
	{ "huge_pages", SD_ENUM, SD_DEF, &en_huge },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_mc = { "MachineConfig", f_mc, 0 };
static const struct sd_field f_mcu[] = {
	{ "vcpu_count", SD_U8, SD_OPT, NULL },
	{ "mem_size_mib", SD_USIZE, SD_OPT, NULL },
	{ "smt", SD_BOOL, SD_OPT, NULL },
	{ "cpu_template", SD_ENUM, SD_OPT, &en_cputmpl },
	{ "track_dirty_pages", SD_BOOL, SD_OPT, NULL },
	{ "huge_pages", SD_ENUM, SD_OPT, &en_huge },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_mcu = { "MachineConfigUpdate", f_mcu, 0 };

static const struct sd_field f_boot[] = {
	{ "kernel_image_path", SD_STR, 0, NULL },
	{ "initrd_path", SD_STR, SD_OPT, NULL },
	{ "boot_args", SD_STR, SD_OPT, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_boot = { "BootSourceConfig", f_boot, 0 };

static const struct sd_field f_bucket[] = {
	{ "size", SD_U64, 0, NULL },
	{ "one_time_burst", SD_U64, SD_OPT, NULL },
	{ "refill_time", SD_U64, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_bucket = { "TokenBucketConfig", f_bucket, 1 };
static const struct sd_field f_rl[] = {
	{ "bandwidth", SD_STRUCT, SD_OPT, &st_bucket },
	{ "ops", SD_STRUCT, SD_OPT, &st_bucket },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_rl = { "RateLimiterConfig", f_rl, 0 };

static const char * const en_cache_v[] = { "Unsafe", "Writeback", NULL };
static const struct sd_enum en_cache = { en_cache_v, 0 };
static const char * const en_engine_v[] = { "Async", "Sync", NULL };
static const struct sd_enum en_engine = { en_engine_v, 0 };
static const struct sd_field f_drive[] = {
	{ "drive_id", SD_STR, 0, NULL },
	{ "partuuid", SD_STR, SD_OPT, NULL },
	{ "is_root_device", SD_BOOL, 0, NULL },
	{ "cache_type", SD_ENUM, SD_DEF, &en_cache },
	{ "is_read_only", SD_BOOL, SD_OPT, NULL },
	{ "path_on_host", SD_STR, SD_OPT, NULL },
	{ "rate_limiter", SD_STRUCT, SD_OPT, &st_rl },
	{ "io_engine", SD_ENUM, SD_OPT, &en_engine },
	{ "socket", SD_STR, SD_OPT, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_drive = { "BlockDeviceConfig", f_drive, 0 };
static const struct sd_field f_driveu[] = {
	{ "drive_id", SD_STR, 0, NULL },
	{ "path_on_host", SD_STR, SD_OPT, NULL },
	{ "rate_limiter", SD_STRUCT, SD_OPT, &st_rl },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_driveu = {
	"BlockDeviceUpdateConfig", f_driveu, 0 };

static const struct sd_field f_net[] = {
	{ "iface_id", SD_STR, 0, NULL },
	{ "host_dev_name", SD_STR, 0, NULL },
	{ "guest_mac", SD_MAC, SD_OPT, NULL },
	{ "rx_rate_limiter", SD_STRUCT, SD_OPT, &st_rl },
	{ "tx_rate_limiter", SD_STRUCT, SD_OPT, &st_rl },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_net = { "NetworkInterfaceConfig", f_net, 0 };
static const struct sd_field f_netu[] = {
	{ "iface_id", SD_STR, 0, NULL },
	{ "rx_rate_limiter", SD_STRUCT, SD_OPT, &st_rl },
	{ "tx_rate_limiter", SD_STRUCT, SD_OPT, &st_rl },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_netu = {
	"NetworkInterfaceUpdateConfig", f_netu, 0 };

static const char * const en_level_v[] = {
	"Off", "Trace", "Debug", "Info", "Warn", "Error", "Warning", NULL };
static const struct sd_enum en_level = { en_level_v, 1 };
static const struct sd_field f_logger[] = {
	{ "log_path", SD_PATH, SD_OPT, NULL },
	{ "level", SD_ENUM, SD_OPT, &en_level },
	{ "show_level", SD_BOOL, SD_OPT, NULL },
	{ "show_log_origin", SD_BOOL, SD_OPT, NULL },
	{ "module", SD_STR, SD_OPT, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_logger = { "LoggerConfig", f_logger, 0 };

static const struct sd_field f_metrics[] = {
	{ "metrics_path", SD_PATH, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_metrics = { "MetricsConfig", f_metrics, 1 };

static const struct sd_field f_vsock[] = {
	{ "vsock_id", SD_STR, SD_OPT, NULL },
	{ "guest_cid", SD_U32, 0, NULL },
	{ "uds_path", SD_STR, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_vsock = { "VsockDeviceConfig", f_vsock, 0 };

static const struct sd_field f_entropy[] = {
	{ "rate_limiter", SD_STRUCT, SD_OPT, &st_rl },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_entropy = {
	"EntropyDeviceConfig", f_entropy, 0 };

static const char * const en_mmdsv_v[] = { "V1", "V2", NULL };
static const struct sd_enum en_mmdsv = { en_mmdsv_v, 0 };
static const struct sd_field f_mmdscfg[] = {
	{ "version", SD_ENUM, SD_DEF, &en_mmdsv },
	{ "network_interfaces", SD_STRVEC, 0, NULL },
	{ "ipv4_address", SD_IPV4, SD_OPT, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_mmdscfg = { "MmdsConfig", f_mmdscfg, 0 };

static const char * const en_snaptype_v[] = { "Diff", "Full", NULL };
static const struct sd_enum en_snaptype = { en_snaptype_v, 0 };
static const struct sd_field f_snapcreate[] = {
	{ "snapshot_type", SD_ENUM, SD_DEF, &en_snaptype },
	{ "snapshot_path", SD_PATH, 0, NULL },
	{ "mem_file_path", SD_PATH, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_snapcreate = {
	"CreateSnapshotParams", f_snapcreate, 0 };

static const char * const en_membackend_v[] = { "File", "Uffd", NULL };
static const struct sd_enum en_membackend = { en_membackend_v, 0 };
static const struct sd_field f_membackend[] = {
	{ "backend_path", SD_PATH, 0, NULL },
	{ "backend_type", SD_ENUM, 0, &en_membackend },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_membackend = {
	"MemBackendConfig", f_membackend, 0 };
/* NetworkOverride has no deny_unknown_fields */
static const struct sd_field f_netover[] = {
	{ "iface_id", SD_STR, 0, NULL },
	{ "host_dev_name", SD_STR, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_netover = {
	"NetworkOverride", f_netover, 1 };
static const struct sd_field f_snapload[] = {
	{ "snapshot_path", SD_PATH, 0, NULL },
	{ "mem_file_path", SD_PATH, SD_OPT, NULL },
	{ "mem_backend", SD_STRUCT, SD_OPT, &st_membackend },
	{ "enable_diff_snapshots", SD_BOOL, SD_DEF, NULL },
	{ "resume_vm", SD_BOOL, SD_DEF, NULL },
	{ "network_overrides", SD_STRUCTVEC, SD_DEF, &st_netover },
	{ NULL, 0, 0, NULL }
};
static const struct sd_struct st_snapload = {
	"LoadSnapshotConfig", f_snapload, 0 };

static void	cleanup(void);
static void	die(int, const char *, ...)
    __attribute__((__format__ (printf, 2, 3), __noreturn__));
static void	fault(struct resp *, const char *, ...)
    __attribute__((__format__ (printf, 2, 3)));
static void	fclog(int, const char *, const char *, ...)
    __attribute__((__format__ (printf, 3, 4)));

/*
 * Small utilities.
 */

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		die(EXIT_GENERIC, "out of memory");
	return p;
}

static char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		die(EXIT_GENERIC, "out of memory");
	return p;
}

static void
xgrow(char **buf, size_t *cap, size_t need)
{
	size_t	 ncap;
	char	*nb;

	if (need <= *cap)
		return;
	ncap = *cap == 0 ? 4096 : *cap;
	while (ncap < need)
		ncap *= 2;
	if ((nb = realloc(*buf, ncap)) == NULL)
		die(EXIT_GENERIC, "out of memory");
	*buf = nb;
	*cap = ncap;
}

/* A string as JSON, or null when it is not UTF-8. */
static json_t *
jstr(const char *s)
{
	json_t	*v;

	if (s == NULL || (v = json_string(s)) == NULL)
		return json_null();
	return v;
}

static const char *
jget_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int
jget_bool(const json_t *o, const char *key, int def)
{
	json_t	*v = json_object_get(o, key);

	return v == NULL ? def : json_is_true(v);
}

static void
die(int code, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "fc-standin: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	cleanup();
	exit(code);
}

/* Rust's io::Error display: "No such file or directory (os error 2)". */
static const char *
oserr(int e)
{
	static char	buf[256];

	snprintf(buf, sizeof(buf), "%s (os error %d)", strerror(e), e);
	return buf;
}

/*
 * Logs.  The request log is ours (one JSON line per request, for
 * tests); the other imitates Firecracker's logger, and is written only
 * when --log-path or PUT /logger named a file.
 */

static void
reqlog(const char *method, const char *path, const char *body,
    size_t bodylen, int status)
{
	json_t		*o, *b = NULL;
	json_error_t	 jerr;
	char		*s;
	size_t		 n;

	if (g.reqlog_fd == -1)
		return;
	if (body != NULL && bodylen > 0)
		b = json_loadb(body, bodylen, JSON_DECODE_ANY, &jerr);
	o = json_object();
	json_object_set_new(o, "method", jstr(method));
	json_object_set_new(o, "path", jstr(path));
	json_object_set_new(o, "body", b != NULL ? b : json_null());
	json_object_set_new(o, "status", json_integer(status));
	if ((s = json_dumps(o, JSON_COMPACT)) != NULL) {
		n = strlen(s);
		s[n] = '\n';		/* over the NUL: one write per line */
		(void)write(g.reqlog_fd, s, n + 1);
		free(s);
	}
	json_decref(o);
}

static const char *
level_name(int lv)
{
	switch (lv) {
	case LV_ERROR:
		return "ERROR";
	case LV_WARN:
		return "WARN";
	case LV_INFO:
		return "INFO";
	case LV_DEBUG:
		return "DEBUG";
	default:
		return "TRACE";
	}
}

static int
level_parse(const char *s)
{
	if (strcasecmp(s, "off") == 0)
		return LV_OFF;
	if (strcasecmp(s, "trace") == 0)
		return LV_TRACE;
	if (strcasecmp(s, "debug") == 0)
		return LV_DEBUG;
	if (strcasecmp(s, "info") == 0)
		return LV_INFO;
	if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
		return LV_WARN;
	if (strcasecmp(s, "error") == 0)
		return LV_ERROR;
	return -1;
}

static void
fclog(int lv, const char *thread, const char *fmt, ...)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 stamp[64], msg[4096], line[4600], tag[160];
	va_list		 ap;
	int		 n;

	if (g.log_fd == -1 || lv > g.log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(tag, sizeof(tag), "%s:%s%s%s%s", vm.id, thread,
	    g.show_level ? ":" : "", g.show_level ? level_name(lv) : "",
	    g.show_origin ? ":fc-standin.c" : "");
	n = snprintf(line, sizeof(line), "%s.%09ld [%s] %s\n", stamp,
	    ts.tv_nsec, tag, msg);
	if (n > 0)
		(void)write(g.log_fd, line, (size_t)n < sizeof(line) ?
		    (size_t)n : sizeof(line) - 1);
}

/*
 * Firecracker opens its log and metrics files, never creates them, and
 * opens them read-write and non-blocking: a FIFO nobody reads yet does
 * not fail the open (ENXIO), and a full one drops lines, never blocks.
 */
static int
open_target(const char *path)
{
	return open(path, O_RDWR | O_APPEND | O_NONBLOCK | O_CLOEXEC);
}

/*
 * Responses.
 */

static void
respond_json(struct resp *rs, int status, json_t *body)
{
	free(rs->body);
	rs->status = status;
	rs->body = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(body);
}

static void
fault(struct resp *rs, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[4096];
	json_t	*o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_object();
	json_object_set_new(o, "fault_message", jstr(msg));
	respond_json(rs, 400, o);
}

static void
serde_fault(struct resp *rs, const char *err)
{
	fault(rs, "An error occurred when deserializing the json body of a "
	    "request: %s.", err);
}

static void
no_content(struct resp *rs)
{
	free(rs->body);
	rs->body = NULL;
	rs->status = 204;
}

static void
not_emulated(struct resp *rs, const struct req *rq)
{
	fault(rs, "fc-standin: %s %s is a Firecracker endpoint this "
	    "stand-in does not emulate.", rq->mname, rq->uri);
}

/* Decode a body; on failure answer with serde's message. */
static json_t *
decode(struct resp *rs, const struct req *rq, const struct sd_struct *st)
{
	json_t	*v;
	char	 err[2048];

	if ((v = sd_decode(rq->body, rq->bodylen, st, err,
	    sizeof(err))) == NULL)
		serde_fault(rs, err);
	return v;
}

/* parsed_request.rs: checked_id(). */
static int
checked_id(struct resp *rs, const char *id)
{
	const unsigned char	*p;

	if (id == NULL || *id == '\0') {
		fault(rs, "The ID cannot be empty.");
		return -1;
	}
	for (p = (const unsigned char *)id; *p != '\0'; p++) {
		if (*p != '_' && *p < 0x80 && !isalnum(*p)) {
			fault(rs, "API Resource IDs can only contain "
			    "alphanumeric characters and underscores.");
			return -1;
		}
	}
	return 0;
}

/*
 * VM resources.
 */

static const char *
state_name(void)
{
	switch (vm.state) {
	case VM_RUNNING:
		return "Running";
	case VM_PAUSED:
		return "Paused";
	default:
		return "Not started";
	}
}

static int
started(void)
{
	return vm.state != VM_NOT_STARTED;
}

/*
 * PrebootApiController: configuring a boot resource, even in vain,
 * rules out loading a snapshot afterwards.
 */
static int
boot_resource(void)
{
	vm.boot_path = 1;
	return started();
}

static json_t *
machine_config_json(void)
{
	json_t	*o = json_object();

	json_object_set_new(o, "vcpu_count", json_integer(vm.vcpus));
	json_object_set_new(o, "mem_size_mib",
	    json_integer((json_int_t)vm.mem_mib));
	json_object_set_new(o, "smt", json_boolean(vm.smt));
	if (vm.cpu_template != NULL)
		json_object_set_new(o, "cpu_template",
		    json_string(vm.cpu_template));
	json_object_set_new(o, "track_dirty_pages",
	    json_boolean(vm.track_dirty));
	json_object_set_new(o, "huge_pages", json_string(vm.huge_pages));
	return o;
}

static const char *
enum_const(const char * const *variants, const char *s)
{
	size_t	i;

	for (i = 0; variants[i] != NULL; i++)
		if (strcmp(variants[i], s) == 0)
			return variants[i];
	return variants[0];
}

/* VmConfig::update(): a PUT or PATCH of /machine-config. */
static void
machine_config_update(struct resp *rs, const json_t *u)
{
	json_t		*v;
	unsigned int	 vcpus = vm.vcpus;
	uint64_t	 mem = vm.mem_mib;
	int		 smt = vm.smt;
	const char	*huge = vm.huge_pages, *tmpl = vm.cpu_template;

	if ((v = json_object_get(u, "vcpu_count")) != NULL)
		vcpus = (unsigned int)json_integer_value(v);
	if ((v = json_object_get(u, "smt")) != NULL)
		smt = json_is_true(v);
	if (vcpus == 0 || vcpus > MAX_VCPUS ||
	    (smt && vcpus > 1 && vcpus % 2 == 1)) {
		fault(rs, ERR_VCPUS);
		return;
	}
	if ((v = json_object_get(u, "mem_size_mib")) != NULL)
		mem = (uint64_t)json_integer_value(v);
	if ((v = json_object_get(u, "huge_pages")) != NULL)
		huge = enum_const(en_huge_v, json_string_value(v));
	if (mem == 0 || (strcmp(huge, "2M") == 0 && mem % 2 != 0)) {
		fault(rs, ERR_MEMSIZE);
		return;
	}
	if ((v = json_object_get(u, "cpu_template")) != NULL) {
		tmpl = enum_const(en_cputmpl_v, json_string_value(v));
		if (strcmp(tmpl, "None") == 0)
			tmpl = NULL;
	}
	vm.vcpus = vcpus;
	vm.mem_mib = mem;
	vm.smt = smt;
	vm.huge_pages = huge;
	vm.cpu_template = tmpl;
	if ((v = json_object_get(u, "track_dirty_pages")) != NULL)
		vm.track_dirty = json_is_true(v);
	no_content(rs);
}

/* A rate limiter as Firecracker reports it back: null when empty. */
static json_t *
rate_limiter_json(const json_t *rl)
{
	static const char	*buckets[] = { "bandwidth", "ops" };
	json_t			*o, *b, *nb;
	size_t			 i;
	int			 any = 0;

	if (rl == NULL)
		return json_null();
	o = json_object();
	for (i = 0; i < 2; i++) {
		b = json_object_get(rl, buckets[i]);
		if (b == NULL ||
		    json_integer_value(json_object_get(b, "size")) == 0 ||
		    json_integer_value(json_object_get(b,
		    "refill_time")) == 0) {
			json_object_set_new(o, buckets[i], json_null());
			continue;
		}
		nb = json_object();
		json_object_set(nb, "size", json_object_get(b, "size"));
		json_object_set_new(nb, "one_time_burst",
		    json_object_get(b, "one_time_burst") != NULL ?
		    json_incref(json_object_get(b, "one_time_burst")) :
		    json_null());
		json_object_set(nb, "refill_time",
		    json_object_get(b, "refill_time"));
		json_object_set_new(o, buckets[i], nb);
		any = 1;
	}
	if (!any) {
		json_decref(o);
		return json_null();
	}
	return o;
}

static ssize_t
find_by(const json_t *arr, const char *key, const char *val)
{
	size_t	 i;
	json_t	*e;

	json_array_foreach(arr, i, e) {
		if (strcmp(jget_str(e, key), val) == 0)
			return (ssize_t)i;
	}
	return -1;
}

/* The kernel command line the guest gets: Firecracker adds root=. */
static char *
guest_cmdline(void)
{
	const char	*args, *part;
	json_t		*root;
	char		*s;

	args = jget_str(vm.boot_built, "boot_args");
	if (args == NULL)
		args = DEFAULT_CMDLINE;
	root = json_array_get(vm.drives, 0);
	if (root == NULL || !jget_bool(root, "is_root_device", 0))
		return xstrdup(args);
	part = jget_str(root, "partuuid");
	if (part != NULL) {
		if (asprintf(&s, "%s root=PARTUUID=%s %s", args, part,
		    jget_bool(root, "is_read_only", 0) ? "ro" : "rw") == -1)
			die(EXIT_GENERIC, "out of memory");
	} else if (asprintf(&s, "%s root=/dev/vda %s", args,
	    jget_bool(root, "is_read_only", 0) ? "ro" : "rw") == -1)
		die(EXIT_GENERIC, "out of memory");
	return s;
}

/*
 * The kernel, as build_microvm_for_boot() loads it with linux-loader
 * 0.13: an ELF vmlinux on x86_64 (loader/elf), an arm64 Image on
 * aarch64 (loader/pe), into guest memory of mem_size_mib.  Nothing is
 * loaded: each returns NULL if the kernel would load, else the
 * loader's words.
 */

#define ELF_ERR(s)	"failed to load ELF kernel image: Kernel Loader: " s
#define PE_ERR(s)	"failed to load PE kernel image: PE Kernel Loader: " s
#define LOADER_OVERFLOW	"memory to load kernel image is not enough"

/* Read::read_exact() at off: 0, or -1 if the file ends first. */
static int
read_at(int fd, void *buf, size_t n, uint64_t off)
{
	size_t	got = 0;
	ssize_t	r;

	if (off > (uint64_t)INT64_MAX - n)
		return -1;
	while (got < n) {
		r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* Does the file hold len bytes from off? */
static int
file_has(int fd, uint64_t off, uint64_t len)
{
	struct stat	st;

	if (fstat(fd, &st) == -1 || st.st_size < 0)
		return 0;
	return off <= (uint64_t)st.st_size &&
	    len <= (uint64_t)st.st_size - off;
}

static uint64_t
le(const unsigned char *p, int n)
{
	uint64_t	v = 0;

	while (n-- > 0)
		v = v << 8 | p[n];
	return v;
}

static int
in_region(uint64_t addr, uint64_t len, uint64_t start, uint64_t size)
{
	return addr >= start && addr - start <= size &&
	    len <= size - (addr - start);
}

/* arch_memory_regions(): does [addr, addr + len) lie in one region? */
static int
guest_mem_has(uint64_t addr, uint64_t len)
{
	uint64_t	mem = vm.mem_mib << 20, low;

	if (g.aarch64)
		return in_region(addr, len, ARM_DRAM_START, mem);
	low = mem < X86_MMIO_MEM_START ? mem : X86_MMIO_MEM_START;
	return in_region(addr, len, 0, low) ||
	    (mem > low && in_region(addr, len, 1ULL << 32, mem - low));
}

/* parse_elf_note(): a PT_NOTE segment, looking for the PVH entry. */
static const char *
kernel_pvh_note(int fd, uint64_t off, uint64_t filesz)
{
	unsigned char	nh[12], buf[4];
	uint64_t	rd = 0, pos = off, na, da;
	uint32_t	namesz = 0, descsz = 0;

	if (off > INT64_MAX)
		return ELF_ERR("Unable to seek to note header");
	while (rd < filesz) {
		if (read_at(fd, nh, sizeof(nh), pos) == -1)
			return ELF_ERR("Unable to read note header");
		pos += sizeof(nh);
		namesz = (uint32_t)le(nh, 4);
		descsz = (uint32_t)le(nh + 4, 4);
		/* XEN_ELFNOTE_PHYS32_ENTRY, named "Xen" */
		if (le(nh + 8, 4) == 18 && namesz == 4) {
			if (read_at(fd, buf, 4, pos) == -1)
				return ELF_ERR("Unable to read note header");
			pos += 4;
			if (memcmp(buf, "Xen", 4) == 0)
				break;
		}
		na = ((uint64_t)namesz + 3) & ~3ULL;
		da = ((uint64_t)descsz + 3) & ~3ULL;
		if (na > UINT32_MAX || da > UINT32_MAX)
			return ELF_ERR("Overflow occurred during an "
			    "arithmetic operation");
		rd += sizeof(nh) + na + da;
		if ((pos = off + rd) > INT64_MAX)
			return ELF_ERR("Unable to seek to note header");
	}
	if (rd >= filesz)
		return NULL;		/* no PVH entry: boots the other way */
	if (descsz < 4)
		return ELF_ERR("Invalid PVH note header");
	if (read_at(fd, buf, 4, pos) == -1)
		return ELF_ERR("Unable to read note header");
	return NULL;
}

/* Elf::load(guest_mem, None, kernel, Some(HIMEM_START)). */
static const char *
kernel_elf(int fd)
{
	unsigned char	 eh[64], ph[56];
	uint64_t	 phoff, off, paddr, filesz, memsz;
	uint32_t	 type;
	unsigned int	 i, phnum;
	const char	*e;

	if (read_at(fd, eh, sizeof(eh), 0) == -1)
		return ELF_ERR("Unable to read elf header");
	if (memcmp(eh, "\177ELF", 4) != 0)
		return ELF_ERR("Invalid Elf magic number");
	if (eh[5] != 1)		/* EI_DATA, ELFDATA2LSB */
		return ELF_ERR("Trying to load big-endian binary on "
		    "little-endian machine");
	if (le(eh + 54, 2) != sizeof(ph))	/* e_phentsize */
		return ELF_ERR("Invalid program header size");
	if ((phoff = le(eh + 32, 8)) < sizeof(eh))
		return ELF_ERR("Invalid program header offset");
	if (le(eh + 24, 8) < X86_HIMEM_START)	/* e_entry */
		return ELF_ERR("Invalid entry address");
	if (phoff > INT64_MAX)
		return ELF_ERR("Unable to seek to program header");
	phnum = (unsigned int)le(eh + 56, 2);
	/* all the program headers are read before any segment */
	for (i = 0; i < phnum; i++)
		if (read_at(fd, ph, sizeof(ph), phoff + (uint64_t)i *
		    sizeof(ph)) == -1)
			return ELF_ERR("Unable to read program header");
	for (i = 0; i < phnum; i++) {
		(void)read_at(fd, ph, sizeof(ph), phoff + (uint64_t)i *
		    sizeof(ph));
		type = (uint32_t)le(ph, 4);
		off = le(ph + 8, 8);
		paddr = le(ph + 24, 8);
		filesz = le(ph + 32, 8);
		memsz = le(ph + 40, 8);
		if (type != 1 || filesz == 0) {		/* PT_LOAD */
			if (type == 4 && (e = kernel_pvh_note(fd, off,
			    filesz)) != NULL)			/* PT_NOTE */
				return e;
			continue;
		}
		if (off > INT64_MAX)
			return ELF_ERR("Unable to seek to kernel start");
		if (!guest_mem_has(paddr, filesz) || !file_has(fd, off,
		    filesz))
			return ELF_ERR("Unable to read kernel image");
		if (memsz > UINT64_MAX - paddr)
			return LOADER_OVERFLOW;
	}
	return NULL;
}

/* PE::load(guest_mem, Some(get_kernel_start()), kernel, None). */
static const char *
kernel_pe(int fd)
{
	unsigned char	h[64];
	struct stat	st;
	uint64_t	text, load;

	if (fstat(fd, &st) == -1)
		return PE_ERR("unable to seek Image end");
	if (read_at(fd, h, sizeof(h), 0) == -1)
		return PE_ERR("unable to read Image header");
	if (le(h + 56, 4) != 0x644d5241)	/* "ARM\x64" */
		return PE_ERR("invalid Image magic number");
	/* text_offset, or 0x80000 for an image_size of 0 */
	text = le(h + 16, 8) == 0 ? 0x80000 : le(h + 8, 8);
	if (text > UINT64_MAX - ARM_KERNEL_START)
		return PE_ERR("invalid Image");
	load = ARM_KERNEL_START + text;
	if (!guest_mem_has(load, (uint64_t)st.st_size))
		return PE_ERR("unable to read kernel image");
	return NULL;
}

static const char *
kernel_load(void)
{
	return g.aarch64 ? kernel_pe(vm.kernel_fd) : kernel_elf(vm.kernel_fd);
}

/*
 * The guest, idle flavour: a banner, and nothing behind it.
 */

#ifndef STANDIN_MODE_QEMU

static void	console(const char *, ...)
    __attribute__((__format__ (printf, 1, 2)));

/* The guest's serial console: our stdout. */
static void
console(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void
console_stamp(char *buf, size_t bufsz)
{
	int64_t	ms = now_ms() - g.t0;

	snprintf(buf, bufsz, "[%5lld.%06lld]", (long long)(ms / 1000),
	    (long long)(ms % 1000) * 1000);
}

static void
guest_start(struct resp *rs)
{
	char		 t[32], *cmdline;
	size_t		 i;
	json_t		*d, *n;
	struct stat	 st;
	int		 root = 0;

	cmdline = guest_cmdline();
	console_stamp(t, sizeof(t));
	console("%s Linux version 6.1.0-fc-standin (fc-standin@banger) "
	    "(gcc) #1 SMP PREEMPT_DYNAMIC\n", t);
	console("%s Command line: %s\n", t, cmdline);
	console("%s Hypervisor detected: KVM\n", t);
	console("%s DMI: Firecracker microVM (fc-standin, id %s)\n", t,
	    vm.id);
	console("%s smpboot: Allowing %u CPUs, 0 hotplug CPUs\n", t,
	    vm.vcpus);
	console("%s Memory: %lluK/%lluK available\n", t,
	    (unsigned long long)vm.mem_mib * 1024 * 9 / 10,
	    (unsigned long long)vm.mem_mib * 1024);
	json_array_foreach(vm.drives, i, d) {
		if (stat(jget_str(d, "path_on_host"), &st) == -1)
			st.st_size = 0;
		console("%s virtio_blk virtio%zu: [vd%c] %lld 512-byte logical "
		    "blocks\n", t, i, (char)('a' + i),
		    (long long)st.st_size / 512);
		if (i == 0 && jget_bool(d, "is_root_device", 0))
			root = 1;
	}
	json_array_foreach(vm.nets, i, n) {
		console("%s virtio_net virtio%zu eth%zu: %s\n", t,
		    json_array_size(vm.drives) + i, i,
		    jget_str(n, "guest_mac") != NULL ?
		    jget_str(n, "guest_mac") : "random MAC");
	}
	if (root) {
		console("%s EXT4-fs (vda): mounted filesystem with ordered "
		    "data mode. Quota mode: none.\n", t);
		console("%s VFS: Mounted root (ext4 filesystem) on device "
		    "254:0.\n", t);
	}
	console("%s Run /sbin/init as init process\n", t);
	console("\nDebian GNU/Linux 12 fc-standin ttyS0\n\n");
	console("fc-standin login: \n");
	free(cmdline);
	vm.state = VM_RUNNING;
	no_content(rs);
}

/*
 * The running guest reads the i8042's buffer: Ctrl+Alt+Del reboots it,
 * and with reboot=k that ends the VMM.
 */
static int
guest_keys(char *err, size_t errsz)
{
	char	t[32];

	(void)err;
	(void)errsz;
	g.kbd_len = 0;
	console_stamp(t, sizeof(t));
	console("%s reboot: Restarting system\n", t);
	/* exit once the 204 is out, as Firecracker does on a reboot */
	g.exit_pending = 1;
	g.exit_code = 0;
	g.exit_at = now_ms() + 200;
	return 0;
}

static int
guest_pause(struct resp *rs, int pause)
{
	(void)rs;
	(void)pause;
	return 0;
}

static void
guest_signal(int sig)
{
	(void)sig;
	g.exit_pending = 1;
	g.exit_code = 0;
	g.exit_at = now_ms();
}

static void
guest_reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void
guest_timers(void)
{
}

/*
 * The guest's serial input: our stdin (the console pty).  A tiny getty
 * behind it: it echoes what is typed, answers each line with
 * "echo: LINE", prompts again on an empty line, and "poweroff" powers
 * the guest off (then the VMM exits, as Firecracker does).  A paused
 * guest reads nothing: its input waits in the pty.
 */
static struct {
	char	 line[256];
	size_t	 len;
	int	 cr;		/* the last byte was '\r' */
	int	 eof;
} tty;

static int
guest_console_fd(void)
{
	return vm.state == VM_RUNNING && !tty.eof && !g.exit_pending ?
	    STDIN_FILENO : -1;
}

/* What the guest says back, written once per read like a real UART. */
static void
tty_out(char *out, size_t *len, size_t max, const char *fmt, ...)
    __attribute__((__format__ (printf, 4, 5)));

static void
tty_out(char *out, size_t *len, size_t max, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(out + *len, max - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n < max - *len ? (size_t)n : max - *len - 1;
}

static void
guest_console_input(void)
{
	char	 buf[512], out[512 * 24], t[32], c;
	size_t	 olen = 0;
	ssize_t	 n, i;

	if ((n = read(STDIN_FILENO, buf, sizeof(buf))) <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			tty.eof = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		c = buf[i];
		if (c == '\n' && tty.cr) {
			tty.cr = 0;
			continue;
		}
		tty.cr = c == '\r';
		if (c != '\r' && c != '\n') {
			if (tty.len < sizeof(tty.line) - 1)
				tty.line[tty.len++] = c;
			if (olen < sizeof(out) - 1)
				out[olen++] = c;
			continue;
		}
		tty_out(out, &olen, sizeof(out), "\r\n");
		tty.line[tty.len] = '\0';
		tty.len = 0;
		if (tty.line[0] == '\0')
			tty_out(out, &olen, sizeof(out), "fc-standin login: ");
		else if (strcmp(tty.line, "poweroff") == 0) {
			console_stamp(t, sizeof(t));
			tty_out(out, &olen, sizeof(out),
			    "%s reboot: Power down\r\n", t);
			g.exit_pending = 1;
			g.exit_code = 0;
			g.exit_at = now_ms() + 200;
			break;
		} else
			tty_out(out, &olen, sizeof(out), "echo: %s\r\n",
			    tty.line);
	}
	out[olen] = '\0';
	console("%s", out);
}

#else /* STANDIN_MODE_QEMU */

static void
strv_add(struct strv *sv, const char *fmt, ...)
    __attribute__((__format__ (printf, 2, 3)));

static void
strv_add(struct strv *sv, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		die(EXIT_GENERIC, "out of memory");
	va_end(ap);
	if (sv->n + 2 > sv->cap) {
		sv->cap = sv->cap == 0 ? 32 : sv->cap * 2;
		if ((sv->v = reallocarray(sv->v, sv->cap,
		    sizeof(*sv->v))) == NULL)
			die(EXIT_GENERIC, "out of memory");
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

static void
strv_free(struct strv *sv)
{
	size_t	i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

/* A value for a qemu option list: a ',' is written ",,". */
static char *
qemu_escape(const char *s)
{
	char	*out, *p;

	out = p = xmalloc(strlen(s) * 2 + 1);
	for (; *s != '\0'; s++) {
		*p++ = *s;
		if (*s == ',')
			*p++ = ',';
	}
	*p = '\0';
	return out;
}


/*
 * The guest, qemu flavour: qemu-system-x86_64 as our child, its
 * console on our stdio, driven over QMP.
 */

static int
qmp_readline(char *buf, size_t bufsz, int64_t deadline)
{
	struct pollfd	pfd;
	size_t		n = 0;
	ssize_t		r;
	int		timeout;

	while (n + 1 < bufsz) {
		timeout = (int)(deadline - now_ms());
		if (timeout <= 0)
			return -1;
		pfd.fd = g.qmp_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout) <= 0)
			return -1;
		if ((r = read(g.qmp_fd, buf + n, 1)) <= 0)
			return -1;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		n++;
	}
	return -1;
}

static void
qmp_close(void)
{
	if (g.qmp_fd != -1)
		close(g.qmp_fd);
	g.qmp_fd = -1;
}

/*
 * One command (args: JSON or NULL; fd, unless -1, passed along, as
 * getfd wants); 0 if qemu returned (its "return" in *ret if ret is not
 * NULL), else -1, err.
 */
static int
qmp_exec(const char *cmd, const char *args, int fd, json_t **ret,
    char *err, size_t errsz)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct msghdr	 msg;
	struct iovec	 iov;
	char		 line[8192];
	json_t		*o, *e;
	json_error_t	 jerr;
	int64_t		 deadline;
	int		 rc = -1;

	if (args != NULL)
		snprintf(line, sizeof(line), "{\"execute\":\"%s\","
		    "\"arguments\":%s}\r\n", cmd, args);
	else
		snprintf(line, sizeof(line), "{\"execute\":\"%s\"}\r\n",
		    cmd);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = line;
	iov.iov_len = strlen(line);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd != -1) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		cm.hdr.cmsg_level = SOL_SOCKET;
		cm.hdr.cmsg_type = SCM_RIGHTS;
		cm.hdr.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.hdr), &fd, sizeof(int));
	}
	if (sendmsg(g.qmp_fd, &msg, MSG_NOSIGNAL) != (ssize_t)strlen(line)) {
		snprintf(err, errsz, "QMP write: %s", strerror(errno));
		qmp_close();
		return -1;
	}
	deadline = now_ms() + 5000;
	for (;;) {
		if (qmp_readline(line, sizeof(line), deadline) == -1) {
			snprintf(err, errsz, "no answer from QMP");
			qmp_close();
			return -1;
		}
		if ((o = json_loads(line, 0, &jerr)) == NULL)
			continue;
		if (json_object_get(o, "return") != NULL) {
			rc = 0;
			if (ret != NULL)
				*ret = json_incref(json_object_get(o,
				    "return"));
		} else if ((e = json_object_get(o, "error")) != NULL) {
			snprintf(err, errsz, "%s", jget_str(e, "desc") ?
			    jget_str(e, "desc") : "QMP error");
			rc = -2;
		}
		json_decref(o);
		if (rc != -1)
			return rc == 0 ? 0 : -1;
	}
}

static int
qmp_connect(char *err, size_t errsz)
{
	struct sockaddr_un	 sun;
	char			 line[8192];
	int64_t			 deadline;

	if (g.qmp_fd != -1)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, g.qmp_path, sizeof(sun.sun_path));
	deadline = now_ms() + 3000;
	for (;;) {
		g.qmp_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (g.qmp_fd == -1) {
			snprintf(err, errsz, "socket: %s", strerror(errno));
			return -1;
		}
		if (connect(g.qmp_fd, (struct sockaddr *)&sun,
		    sizeof(sun)) == 0)
			break;
		qmp_close();
		if (now_ms() >= deadline || g.qemu_pid == -1) {
			snprintf(err, errsz, "cannot connect to QMP at %s",
			    g.qmp_path);
			return -1;
		}
		usleep(50000);
	}
	if (qmp_readline(line, sizeof(line), now_ms() + 3000) == -1 ||
	    strstr(line, "\"QMP\"") == NULL) {
		snprintf(err, errsz, "no QMP greeting");
		qmp_close();
		return -1;
	}
	return qmp_exec("qmp_capabilities", NULL, -1, NULL, err, errsz);
}

static int
qmp(const char *cmd, const char *args, char *err, size_t errsz)
{
	if (qmp_connect(err, errsz) == -1)
		return -1;
	return qmp_exec(cmd, args, -1, NULL, err, errsz);
}

/*
 * Until the migration, out of or into this qemu, ends: 0 if it
 * completed, else -1 with err set.
 */
static int
qmp_migration_wait(char *err, size_t errsz)
{
	json_t		*ret = NULL;
	const char	*st;
	int64_t		 deadline = now_ms() + 120000;
	int		 rc = -1;

	for (;;) {
		if (qmp_connect(err, errsz) == -1 || qmp_exec("query-migrate",
		    NULL, -1, &ret, err, errsz) == -1)
			return -1;
		st = jget_str(ret, "status");
		if (st != NULL && strcmp(st, "completed") == 0)
			rc = 0;
		else if (st != NULL && (strcmp(st, "failed") == 0 ||
		    strcmp(st, "cancelled") == 0))
			snprintf(err, errsz, "migration %s: %s", st,
			    jget_str(ret, "error-desc") != NULL ?
			    jget_str(ret, "error-desc") : "no reason given");
		else if (now_ms() >= deadline)
			snprintf(err, errsz, "migration still %s after 120 s",
			    st != NULL ? st : "not started");
		else {
			json_decref(ret);
			ret = NULL;
			usleep(20000);
			continue;
		}
		json_decref(ret);
		return rc;
	}
}

static void
qemu_args(struct strv *av, const char *qemu, const char *incoming)
{
	const char	*s;
	char		*cmdline, *esc, id[256];
	json_t		*d, *n;
	size_t		 i;

	strv_add(av, "%s", qemu);
	strv_add(av, "-M");
	strv_add(av, "microvm,pit=on,pic=on,rtc=on");
	strv_add(av, "-accel");
	strv_add(av, "tcg");
	strv_add(av, "-nodefaults");
	strv_add(av, "-no-user-config");
	strv_add(av, "-nographic");
	strv_add(av, "-serial");
	strv_add(av, "stdio");
	/* Firecracker's i8042, so that reboot=k ends the VM as there */
	strv_add(av, "-device");
	strv_add(av, "i8042");
	strv_add(av, "-m");
	strv_add(av, "%llu", (unsigned long long)vm.mem_mib);
	strv_add(av, "-smp");
	strv_add(av, "%u", vm.vcpus);
	strv_add(av, "-kernel");
	strv_add(av, "%s", jget_str(vm.boot_built, "kernel_image_path"));
	if ((s = jget_str(vm.boot_built, "initrd_path")) != NULL) {
		strv_add(av, "-initrd");
		strv_add(av, "%s", s);
	}
	cmdline = guest_cmdline();
	strv_add(av, "-append");
	strv_add(av, "%s", cmdline);
	free(cmdline);
	json_array_foreach(vm.drives, i, d) {
		snprintf(id, sizeof(id), "blk_%s", jget_str(d, "drive_id"));
		esc = qemu_escape(jget_str(d, "path_on_host"));
		strv_add(av, "-drive");
		strv_add(av, "id=%s,file=%s,format=raw,if=none%s,cache=%s",
		    id, esc, jget_bool(d, "is_read_only", 0) ?
		    ",readonly=on" : "", strcmp(jget_str(d, "cache_type"),
		    "Writeback") == 0 ? "writeback" : "unsafe");
		free(esc);
		strv_add(av, "-device");
		strv_add(av, "virtio-blk-device,drive=%s", id);
	}
	/* the taps opened at PUT, inherited: qemu opens none itself */
	json_array_foreach(vm.nets, i, n) {
		strv_add(av, "-netdev");
		strv_add(av, "tap,id=n%zu,fd=%d", i, vm.tapfds[i]);
		strv_add(av, "-device");
		if ((s = jget_str(n, "guest_mac")) != NULL)
			strv_add(av, "virtio-net-device,netdev=n%zu,mac=%s",
			    i, s);
		else
			strv_add(av, "virtio-net-device,netdev=n%zu", i);
	}
	/* a guest reboot ends the VMM, as in Firecracker */
	strv_add(av, "-no-reboot");
	strv_add(av, "-qmp");
	strv_add(av, "unix:%s,server=on,wait=off", g.qmp_path);
	/* a restore: stopped until the load asks for more (-S) */
	if (incoming != NULL) {
		strv_add(av, "-S");
		strv_add(av, "-incoming");
		strv_add(av, "%s", incoming);
	}
}

static void
qmp_path_init(void)
{
	int	n;

	n = snprintf(g.qmp_path, sizeof(g.qmp_path), "%s.qmp", g.api_sock);
	if (n > 0 && (size_t)n < sizeof(g.qmp_path))
		return;
	snprintf(g.qmp_path, sizeof(g.qmp_path), "/tmp/fc-standin-qmp.%d",
	    (int)getpid());
}

/*
 * qemu as our child, with the VM's configuration (and, for a restore,
 * -incoming URI, keepfd inherited).  0, or -1 with err set.
 */
static int
qemu_spawn(const char *incoming, int keepfd, char *err, size_t errsz)
{
	struct strv	 av = { NULL, 0, 0 };
	const char	*qemu;
	sigset_t	 all;
	pid_t		 pid;
	size_t		 i;
	int		 pfd[2], e;
	ssize_t		 r;

	if ((qemu = getenv("FC_STANDIN_QEMU")) == NULL || *qemu == '\0')
		qemu = QEMU_PATH;
	qmp_path_init();
	unlink(g.qmp_path);
	qemu_args(&av, qemu, incoming);
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		snprintf(err, errsz, "%s", oserr(errno));
		strv_free(&av);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	switch (pid = fork()) {
	case -1:
		e = errno;
		close(pfd[0]);
		close(pfd[1]);
		snprintf(err, errsz, "%s", oserr(e));
		strv_free(&av);
		return -1;
	case 0:
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (i = 0; i < json_array_size(vm.nets); i++)
			(void)fcntl(vm.tapfds[i], F_SETFD, 0);
		if (keepfd != -1)
			(void)fcntl(keepfd, F_SETFD, 0);
		execv(qemu, av.v);
		e = errno;
		(void)write(pfd[1], &e, sizeof(e));
		_exit(127);
	default:
		break;
	}
	close(pfd[1]);
	while ((r = read(pfd[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	close(pfd[0]);
	strv_free(&av);
	if (r == (ssize_t)sizeof(e)) {
		waitpid(pid, NULL, 0);
		snprintf(err, errsz, "cannot execute %s: %s", qemu, oserr(e));
		return -1;
	}
	g.qemu_pid = pid;
	fclog(LV_INFO, "fc_vmm", "Started %s as pid %d", qemu, (int)pid);
	return 0;
}

static void
guest_start(struct resp *rs)
{
	char	err[1024];

	if (qemu_spawn(NULL, -1, err, sizeof(err)) == -1) {
		fault(rs, "Start microvm error: Internal error while starting "
		    "microVM: %s", err);
		return;
	}
	vm.state = VM_RUNNING;
	no_content(rs);
}

/*
 * The running guest reads the i8042's buffer: each Ctrl+Alt+Del in it
 * is a QMP send-key.  What the guest does about it is its business (a
 * reboot, with reboot=k, ends qemu and then us; a guest without an AT
 * keyboard driver does nothing).
 */
static int
guest_keys(char *err, size_t errsz)
{
	while (g.kbd_len >= I8042_CAD_LEN) {
		if (qmp("send-key", "{\"keys\":["
		    "{\"type\":\"qcode\",\"data\":\"ctrl\"},"
		    "{\"type\":\"qcode\",\"data\":\"alt\"},"
		    "{\"type\":\"qcode\",\"data\":\"delete\"}]}",
		    err, errsz) == -1) {
			g.kbd_len = 0;
			return -1;
		}
		g.kbd_len -= I8042_CAD_LEN;
	}
	return 0;
}

static int
guest_pause(struct resp *rs, int pause)
{
	char	err[512];

	if (qmp(pause ? "stop" : "cont", NULL, err, sizeof(err)) == -1) {
		fault(rs, "Internal VMM error: %s the guest: %s",
		    pause ? "cannot pause" : "cannot resume", err);
		return -1;
	}
	return 0;
}

static void
guest_signal(int sig)
{
	if (g.qemu_pid == -1) {
		g.exit_pending = 1;
		g.exit_code = 0;
		g.exit_at = now_ms();
		return;
	}
	kill(g.qemu_pid, SIGTERM);
	if (g.term_kill_at == 0)
		g.term_kill_at = now_ms() + 10000;
	(void)sig;
}

static void
guest_reap(void)
{
	pid_t	pid;
	int	st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid != g.qemu_pid)
			continue;
		g.qemu_pid = -1;
		qmp_close();
		if (WIFEXITED(st))
			g.exit_code = WEXITSTATUS(st);
		else if (WIFSIGNALED(st))
			g.exit_code = 128 + WTERMSIG(st);
		fclog(LV_INFO, "fc_vmm", "qemu exited, status %d",
		    g.exit_code);
		g.exit_pending = 1;
		g.exit_at = now_ms();
	}
}

static void
guest_timers(void)
{
	int64_t	t = now_ms();

	if (g.qemu_pid == -1)
		return;
	if (g.term_kill_at != 0 && t >= g.term_kill_at) {
		g.term_kill_at = 0;
		kill(g.qemu_pid, SIGKILL);
	}
}

#endif /* STANDIN_MODE_QEMU */

/*
 * API handlers, one per VmmAction.  Each parses as parsed_request.rs
 * does, then acts as rpc_interface.rs's controllers do before or after
 * InstanceStart.
 */

static void
api_instance_info(struct resp *rs)
{
	json_t	*o = json_object();

	json_object_set_new(o, "id", jstr(vm.id));
	json_object_set_new(o, "state", json_string(state_name()));
	json_object_set_new(o, "vmm_version", json_string(FC_VERSION));
	json_object_set_new(o, "app_name", json_string("Firecracker"));
	respond_json(rs, 200, o);
}

static void
api_version(struct resp *rs)
{
	json_t	*o = json_object();

	json_object_set_new(o, "firecracker_version",
	    json_string(FC_VERSION));
	respond_json(rs, 200, o);
}

static void
api_full_config(struct resp *rs)
{
	json_t	*o = json_object(), *b;

	json_object_set_new(o, "balloon", json_null());
	json_object_set(o, "drives", vm.drives);
	if (vm.boot != NULL)
		json_object_set(o, "boot-source", vm.boot);
	else {
		b = json_object();
		json_object_set_new(b, "kernel_image_path", json_string(""));
		json_object_set_new(b, "initrd_path", json_null());
		json_object_set_new(o, "boot-source", b);
	}
	json_object_set_new(o, "cpu-config", json_null());
	json_object_set_new(o, "logger", json_null());
	json_object_set_new(o, "machine-config", machine_config_json());
	json_object_set_new(o, "metrics", json_null());
	json_object_set_new(o, "mmds-config", vm.mmds_cfg != NULL ?
	    json_incref(vm.mmds_cfg) : json_null());
	json_object_set(o, "network-interfaces", vm.nets);
	json_object_set_new(o, "vsock", vm.vsock != NULL ?
	    json_incref(vm.vsock) : json_null());
	json_object_set_new(o, "entropy", vm.entropy != NULL ?
	    json_incref(vm.entropy) : json_null());
	respond_json(rs, 200, o);
}

static void
api_put_machine_config(struct resp *rs, const struct req *rq)
{
	json_t	*mc;

	if ((mc = decode(rs, rq, &st_mc)) == NULL)
		return;
	if (json_object_get(mc, "cpu_template") != NULL) {
		rs->deprecated = 1;
		fclog(LV_WARN, "fc_api", "PUT /machine-config: cpu_template "
		    "field is deprecated.");
	}
	/* a PUT is an update with every field given */
	if (json_object_get(mc, "smt") == NULL)
		json_object_set_new(mc, "smt", json_false());
	if (json_object_get(mc, "track_dirty_pages") == NULL)
		json_object_set_new(mc, "track_dirty_pages", json_false());
	if (json_object_get(mc, "huge_pages") == NULL)
		json_object_set_new(mc, "huge_pages", json_string("None"));
	if (boot_resource())
		fault(rs, ERR_POSTBOOT);
	else
		machine_config_update(rs, mc);
	json_decref(mc);
}

static void
api_patch_machine_config(struct resp *rs, const struct req *rq)
{
	json_t	*mc;

	if ((mc = decode(rs, rq, &st_mcu)) == NULL)
		return;
	if (json_object_size(mc) == 0) {
		fault(rs, "Empty PATCH request.");
		json_decref(mc);
		return;
	}
	if (json_object_get(mc, "cpu_template") != NULL) {
		rs->deprecated = 1;
		fclog(LV_WARN, "fc_api", "PATCH /machine-config: "
		    "cpu_template field is deprecated.");
	}
	if (boot_resource())
		fault(rs, ERR_POSTBOOT);
	else
		machine_config_update(rs, mc);
	json_decref(mc);
}

static int
cmdline_check(struct resp *rs, const char *args)
{
	const unsigned char	*p;

	if (strlen(args) + 1 > CMDLINE_MAX) {
		fault(rs, "Boot source error: The kernel command line is "
		    "invalid: Command line string is too large");
		return -1;
	}
	for (p = (const unsigned char *)args; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e) {
			fault(rs, "Boot source error: The kernel command line "
			    "is invalid: String contains a non-printable "
			    "ASCII character");
			return -1;
		}
	}
	return 0;
}

static void
api_put_boot_source(struct resp *rs, const struct req *rq)
{
	json_t		*b, *o;
	const char	*s;
	int		 fd, kfd;

	if ((b = decode(rs, rq, &st_boot)) == NULL)
		return;
	if (boot_resource()) {
		fault(rs, ERR_POSTBOOT);
		json_decref(b);
		return;
	}
	/*
	 * Firecracker shows the new config even if it cannot be used, and
	 * would boot the last one that could.
	 */
	o = json_object();
	json_object_set(o, "kernel_image_path",
	    json_object_get(b, "kernel_image_path"));
	json_object_set_new(o, "initrd_path",
	    json_object_get(b, "initrd_path") != NULL ?
	    json_incref(json_object_get(b, "initrd_path")) : json_null());
	if (json_object_get(b, "boot_args") != NULL)
		json_object_set(o, "boot_args",
		    json_object_get(b, "boot_args"));
	json_decref(vm.boot);
	vm.boot = o;
	json_decref(b);

	/* BootConfig keeps the kernel open: InstanceStart loads that */
	if ((kfd = open(jget_str(o, "kernel_image_path"),
	    O_RDONLY | O_CLOEXEC)) == -1) {
		fault(rs, "Boot source error: The kernel file cannot be "
		    "opened: %s", oserr(errno));
		return;
	}
	if ((s = jget_str(o, "initrd_path")) != NULL) {
		if ((fd = open(s, O_RDONLY | O_CLOEXEC)) == -1) {
			fault(rs, "Boot source error: The initrd file cannot "
			    "be opened due to invalid path or invalid "
			    "permissions. %s", oserr(errno));
			close(kfd);
			return;
		}
		close(fd);
	}
	if ((s = jget_str(o, "boot_args")) == NULL)
		s = DEFAULT_CMDLINE;
	if (cmdline_check(rs, s) == -1) {
		close(kfd);
		return;
	}
	json_decref(vm.boot_built);
	vm.boot_built = json_incref(o);
	if (vm.kernel_fd != -1)
		close(vm.kernel_fd);
	vm.kernel_fd = kfd;
	no_content(rs);
}

static void
api_put_drive(struct resp *rs, const struct req *rq, const char *id)
{
	json_t		*b, *d, *tmp;
	const char	*path;
	ssize_t		 pos;
	int		 root, ro, fd;

	if (checked_id(rs, id) == -1)
		return;
	if ((b = decode(rs, rq, &st_drive)) == NULL)
		return;
	if (strcmp(id, jget_str(b, "drive_id")) != 0) {
		fault(rs, ERR_IDMISMATCH);
		goto out;
	}
	if (boot_resource()) {
		fault(rs, ERR_POSTBOOT);
		goto out;
	}
	root = jget_bool(b, "is_root_device", 0);
	ro = jget_bool(b, "is_read_only", 0);
	pos = find_by(vm.drives, "drive_id", id);
	if (root && json_array_size(vm.drives) > 0 &&
	    jget_bool(json_array_get(vm.drives, 0), "is_root_device", 0) &&
	    pos != 0) {
		fault(rs, "Drive config error: A root block device already "
		    "exists!");
		goto out;
	}
	if (json_object_get(b, "socket") != NULL) {
		fault(rs, "fc-standin: vhost-user drives (\"socket\") are not "
		    "emulated.");
		goto out;
	}
	if ((path = jget_str(b, "path_on_host")) == NULL) {
		fault(rs, "Drive config error: Unable to create the virtio "
		    "block device: Virtio backend error: Cannot create "
		    "config");
		goto out;
	}
	if ((fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC)) == -1) {
		fault(rs, "Drive config error: Unable to create the virtio "
		    "block device: Virtio backend error: Error manipulating "
		    "the backing file: %s %s", oserr(errno), path);
		goto out;
	}
	close(fd);

	d = json_object();
	json_object_set_new(d, "drive_id", json_string(id));
	json_object_set_new(d, "partuuid",
	    json_object_get(b, "partuuid") != NULL ?
	    json_incref(json_object_get(b, "partuuid")) : json_null());
	json_object_set_new(d, "is_root_device", json_boolean(root));
	json_object_set_new(d, "cache_type", json_string(
	    jget_str(b, "cache_type") != NULL ? jget_str(b, "cache_type") :
	    "Unsafe"));
	json_object_set_new(d, "is_read_only", json_boolean(ro));
	json_object_set_new(d, "path_on_host", json_string(path));
	json_object_set_new(d, "rate_limiter",
	    rate_limiter_json(json_object_get(b, "rate_limiter")));
	json_object_set_new(d, "io_engine", json_string(
	    jget_str(b, "io_engine") != NULL ? jget_str(b, "io_engine") :
	    "Sync"));
	json_object_set_new(d, "socket", json_null());

	if (pos == -1) {
		if (root)
			json_array_insert_new(vm.drives, 0, d);
		else
			json_array_append_new(vm.drives, d);
	} else {
		json_array_set_new(vm.drives, (size_t)pos, d);
		if (pos != 0 && root) {
			tmp = json_incref(json_array_get(vm.drives, 0));
			json_array_set(vm.drives, 0,
			    json_array_get(vm.drives, (size_t)pos));
			json_array_set_new(vm.drives, (size_t)pos, tmp);
		}
	}
	no_content(rs);
out:
	json_decref(b);
}

static void
api_patch_drive(struct resp *rs, const struct req *rq, const char *id)
{
	json_t		*b, *d;
	const char	*path;
	ssize_t		 pos;
	int		 fd;

	if (checked_id(rs, id) == -1)
		return;
	if ((b = decode(rs, rq, &st_driveu)) == NULL)
		return;
	if (strcmp(id, jget_str(b, "drive_id")) != 0) {
		fault(rs, ERR_IDMISMATCH);
		goto out;
	}
	if (!started()) {
		fault(rs, ERR_PREBOOT);
		goto out;
	}
	if ((pos = find_by(vm.drives, "drive_id", id)) == -1) {
		fault(rs, "Drive config error: Unable to patch the block "
		    "device: Device manager error: Unknown device: %s. "
		    "Please verify the request arguments.", id);
		goto out;
	}
	d = json_array_get(vm.drives, (size_t)pos);
	if ((path = jget_str(b, "path_on_host")) != NULL) {
		if ((fd = open(path, (jget_bool(d, "is_read_only", 0) ?
		    O_RDONLY : O_RDWR) | O_CLOEXEC)) == -1) {
			fault(rs, "Drive config error: Unable to patch the "
			    "block device: Block: Virtio backend error: Error "
			    "manipulating the backing file: %s %s Please "
			    "verify the request arguments.", oserr(errno),
			    path);
			goto out;
		}
		close(fd);
		json_object_set_new(d, "path_on_host", json_string(path));
	}
	if (json_object_get(b, "rate_limiter") != NULL)
		json_object_set_new(d, "rate_limiter", rate_limiter_json(
		    json_object_get(b, "rate_limiter")));
	no_content(rs);
out:
	json_decref(b);
}

/*
 * Tap::open_named() and Net::new(): /dev/net/tun, the name, TUNSETIFF
 * (only root may make a tap that is not there: anyone else needs one
 * that is, and is theirs), the vnet header size.  The fd is held until
 * we exit.  -1 with err in NetError's words on failure.
 */
static int
tap_open(const char *name, char *err, size_t errsz)
{
	struct ifreq	ifr;
	int		fd, hdr = VNET_HDR_LEN, e;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errsz, "Open tap device failed: Couldn't open "
		    "/dev/net/tun: %s", oserr(errno));
		return -1;
	}
	if (strlen(name) >= IFNAMSIZ) {
		close(fd);
		snprintf(err, errsz, "Open tap device failed: Invalid "
		    "interface name");
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) == -1) {
		e = errno;
		close(fd);
		snprintf(err, errsz, "Open tap device failed: Error while "
		    "creating ifreq structure: %s. Invalid TUN/TAP Backend "
		    "provided by %s. Check our documentation on setting up "
		    "the network devices.", oserr(e), name);
		return -1;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) == -1) {
		e = errno;
		close(fd);
		snprintf(err, errsz, "Setting vnet header size failed: Error "
		    "while setting size of the vnet header: %s", oserr(e));
		return -1;
	}
	return fd;
}

/* NetBuilder's swap_remove(): the last one takes its place. */
static void
net_remove(size_t pos)
{
	size_t	last = json_array_size(vm.nets) - 1;

	close(vm.tapfds[pos]);
	if (pos != last) {
		json_array_set(vm.nets, pos, json_array_get(vm.nets, last));
		vm.tapfds[pos] = vm.tapfds[last];
	}
	json_array_remove(vm.nets, last);
}

static void
api_put_net(struct resp *rs, const struct req *rq, const char *id)
{
	json_t		*b, *n, *e;
	const char	*mac, *dev;
	char		 err[1024];
	ssize_t		 pos;
	size_t		 i, count;
	int		 fd;

	if (checked_id(rs, id) == -1)
		return;
	if ((b = decode(rs, rq, &st_net)) == NULL)
		return;
	if (strcmp(id, jget_str(b, "iface_id")) != 0) {
		fault(rs, "The id from the path [%s] does not match the id "
		    "from the body [%s]!", id, jget_str(b, "iface_id"));
		goto out;
	}
	if (boot_resource()) {
		fault(rs, ERR_POSTBOOT);
		goto out;
	}
	mac = jget_str(b, "guest_mac");
	dev = jget_str(b, "host_dev_name");
	json_array_foreach(vm.nets, i, e) {
		if (mac != NULL && jget_str(e, "guest_mac") != NULL &&
		    strcmp(jget_str(e, "guest_mac"), mac) == 0 &&
		    strcmp(jget_str(e, "iface_id"), id) != 0) {
			fault(rs, "Network config error: The MAC address is "
			    "already in use: %s", mac);
			goto out;
		}
	}
	/*
	 * NetBuilder::build() drops the interface it updates before it
	 * opens the new tap: a failed update loses the old one.
	 */
	if ((pos = find_by(vm.nets, "iface_id", id)) != -1)
		net_remove((size_t)pos);
	if ((fd = tap_open(dev, err, sizeof(err))) == -1) {
		fault(rs, ERR_NETDEV "%s", err);
		goto out;
	}
	count = json_array_size(vm.nets);
	if ((vm.tapfds = reallocarray(vm.tapfds, count + 1,
	    sizeof(*vm.tapfds))) == NULL)
		die(EXIT_GENERIC, "out of memory");
	vm.tapfds[count] = fd;
	n = json_object();
	json_object_set_new(n, "iface_id", json_string(id));
	json_object_set_new(n, "host_dev_name", json_string(dev));
	json_object_set_new(n, "guest_mac", jstr(mac));
	json_object_set_new(n, "rx_rate_limiter",
	    rate_limiter_json(json_object_get(b, "rx_rate_limiter")));
	json_object_set_new(n, "tx_rate_limiter",
	    rate_limiter_json(json_object_get(b, "tx_rate_limiter")));
	json_array_append_new(vm.nets, n);
	no_content(rs);
out:
	json_decref(b);
}

static void
api_patch_net(struct resp *rs, const struct req *rq, const char *id)
{
	json_t	*b, *n;
	ssize_t	 pos;

	if (checked_id(rs, id) == -1)
		return;
	if ((b = decode(rs, rq, &st_netu)) == NULL)
		return;
	if (strcmp(id, jget_str(b, "iface_id")) != 0) {
		fault(rs, "The id from the path [%s] does not match the id "
		    "from the body [%s]!", id, jget_str(b, "iface_id"));
		goto out;
	}
	if (!started()) {
		fault(rs, ERR_PREBOOT);
		goto out;
	}
	if ((pos = find_by(vm.nets, "iface_id", id)) == -1) {
		fault(rs, "Network config error: Unable to update the net "
		    "device: Device manager error: Unknown device: %s", id);
		goto out;
	}
	n = json_array_get(vm.nets, (size_t)pos);
	if (json_object_get(b, "rx_rate_limiter") != NULL)
		json_object_set_new(n, "rx_rate_limiter", rate_limiter_json(
		    json_object_get(b, "rx_rate_limiter")));
	if (json_object_get(b, "tx_rate_limiter") != NULL)
		json_object_set_new(n, "tx_rate_limiter", rate_limiter_json(
		    json_object_get(b, "tx_rate_limiter")));
	no_content(rs);
out:
	json_decref(b);
}

static void
api_put_logger(struct resp *rs, const struct req *rq)
{
	json_t		*b;
	const char	*s;
	int		 fd;

	if ((b = decode(rs, rq, &st_logger)) == NULL)
		return;
	if (started()) {
		fault(rs, ERR_POSTBOOT);
		goto out;
	}
	if ((s = jget_str(b, "log_path")) != NULL) {
		if ((fd = open_target(s)) == -1) {
			fault(rs, "Logger error: Failed to open target file: "
			    "%s", oserr(errno));
			goto out;
		}
		if (g.log_fd != -1)
			close(g.log_fd);
		g.log_fd = fd;
	}
	if ((s = jget_str(b, "level")) != NULL)
		g.log_level = level_parse(s);
	if (json_object_get(b, "show_level") != NULL)
		g.show_level = jget_bool(b, "show_level", 0);
	if (json_object_get(b, "show_log_origin") != NULL)
		g.show_origin = jget_bool(b, "show_log_origin", 0);
	fclog(LV_INFO, "fc_api", "Running Firecracker v%s", FC_VERSION);
	no_content(rs);
out:
	json_decref(b);
}

static int
metrics_init(const char *path, char *err, size_t errsz)
{
	int	fd;

	if (vm.metrics_fd != -1) {
		snprintf(err, errsz, "Reinitialization of metrics not "
		    "allowed.");
		return -1;
	}
	if ((fd = open_target(path)) == -1) {
		snprintf(err, errsz, "%s", oserr(errno));
		return -1;
	}
	vm.metrics_fd = fd;
	return 0;
}

static void
metrics_flush(void)
{
	char		buf[256];
	struct timespec	ts;
	int		n;

	if (vm.metrics_fd == -1)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(buf, sizeof(buf), "{\"utc_timestamp_ms\":%lld,"
	    "\"fc_standin\":{\"state\":\"%s\"}}\n",
	    (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, state_name());
	if (n > 0)
		(void)write(vm.metrics_fd, buf, (size_t)n);
}

static void
api_put_metrics(struct resp *rs, const struct req *rq)
{
	json_t	*b;
	char	 err[512];

	if ((b = decode(rs, rq, &st_metrics)) == NULL)
		return;
	if (started())
		fault(rs, ERR_POSTBOOT);
	else if (metrics_init(jget_str(b, "metrics_path"), err,
	    sizeof(err)) == -1)
		fault(rs, "Metrics error: Cannot initialize the metrics "
		    "system due to bad user input: %s", err);
	else
		no_content(rs);
	json_decref(b);
}

static void
api_put_vsock(struct resp *rs, const struct req *rq)
{
	json_t	*b, *o;

	if ((b = decode(rs, rq, &st_vsock)) == NULL)
		return;
	if (json_object_get(b, "vsock_id") != NULL)
		rs->deprecated = 1;
	if (boot_resource())
		fault(rs, ERR_POSTBOOT);
	else {
		o = json_object();
		json_object_set(o, "guest_cid", json_object_get(b,
		    "guest_cid"));
		json_object_set(o, "uds_path", json_object_get(b,
		    "uds_path"));
		json_decref(vm.vsock);
		vm.vsock = o;
		no_content(rs);
	}
	json_decref(b);
}

static void
api_put_entropy(struct resp *rs, const struct req *rq)
{
	json_t	*b, *o;

	if ((b = decode(rs, rq, &st_entropy)) == NULL)
		return;
	if (boot_resource())
		fault(rs, ERR_POSTBOOT);
	else {
		o = json_object();
		json_object_set_new(o, "rate_limiter",
		    rate_limiter_json(json_object_get(b, "rate_limiter")));
		json_decref(vm.entropy);
		vm.entropy = o;
		no_content(rs);
	}
	json_decref(b);
}

static void
api_get_mmds(struct resp *rs)
{
	if (vm.mmds == NULL || json_is_null(vm.mmds))
		respond_json(rs, 200, json_object());
	else
		respond_json(rs, 200, json_incref(vm.mmds));
}

/* RFC 7396, as the MMDS data store applies a PATCH. */
static json_t *
merge_patch(json_t *target, json_t *patch)
{
	const char	*k;
	json_t		*v, *cur;

	if (!json_is_object(patch)) {
		json_decref(target);
		return json_incref(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
	}
	json_object_foreach(patch, k, v) {
		if (json_is_null(v))
			json_object_del(target, k);
		else {
			cur = json_object_get(target, k);
			json_object_set_new(target, k, merge_patch(
			    cur != NULL ? json_incref(cur) : json_null(), v));
		}
	}
	return target;
}

static void
api_mmds(struct resp *rs, const struct req *rq, const char *sub)
{
	json_t		*b, *o, *e;
	size_t		 i;

	if (rq->method == M_PUT && sub != NULL) {
		if (strcmp(sub, "config") != 0) {
			fault(rs, "Unrecognized PUT request path `%s`.", sub);
			return;
		}
		if ((b = decode(rs, rq, &st_mmdscfg)) == NULL)
			return;
		if (boot_resource()) {
			fault(rs, ERR_POSTBOOT);
			json_decref(b);
			return;
		}
		if (json_array_size(json_object_get(b,
		    "network_interfaces")) == 0) {
			fault(rs, "MMDS config error: The list of network "
			    "interface IDs that allow forwarding MMDS requests "
			    "is empty.");
			json_decref(b);
			return;
		}
		json_array_foreach(json_object_get(b, "network_interfaces"),
		    i, e) {
			if (find_by(vm.nets, "iface_id",
			    json_string_value(e)) == -1) {
				fault(rs, "MMDS config error: The list of "
				    "network interface IDs provided contains "
				    "at least one ID that does not correspond "
				    "to any existing network interface.");
				json_decref(b);
				return;
			}
		}
		o = json_object();
		json_object_set_new(o, "version", json_string(
		    jget_str(b, "version") != NULL ? jget_str(b, "version") :
		    "V1"));
		json_object_set(o, "network_interfaces",
		    json_object_get(b, "network_interfaces"));
		json_object_set_new(o, "ipv4_address", json_string(
		    jget_str(b, "ipv4_address") != NULL ?
		    jget_str(b, "ipv4_address") : "169.254.169.254"));
		json_decref(vm.mmds_cfg);
		vm.mmds_cfg = o;
		if (vm.mmds == NULL)
			vm.mmds = json_null();
		json_decref(b);
		no_content(rs);
		return;
	}
	if ((b = decode(rs, rq, NULL)) == NULL)
		return;
	if (rq->method == M_PUT) {
		json_decref(vm.mmds);
		vm.mmds = b;
		no_content(rs);
		return;
	}
	if (vm.mmds == NULL) {
		fault(rs, "MMDS error: The MMDS data store is not "
		    "initialized.");
		json_decref(b);
		return;
	}
	vm.mmds = merge_patch(vm.mmds, b);
	json_decref(b);
	no_content(rs);
}

static void
api_actions(struct resp *rs, const struct req *rq)
{
	json_t		*b;
	const char	*act, *e;
	char		 err[512];

	if ((b = decode(rs, rq, &st_action)) == NULL)
		return;
	act = jget_str(b, "action_type");
	if (strcmp(act, "InstanceStart") == 0) {
		if (started())
			fault(rs, ERR_POSTBOOT);
		else if (vm.boot_built == NULL)
			fault(rs, ERR_NOKERNEL);
		else if ((e = kernel_load()) != NULL)
			fault(rs, ERR_KERNEL "%s", e);
		else {
			guest_start(rs);
			/*
			 * api_server_adapter.rs starts the periodic metrics
			 * once the microVM is built: a flush now, then
			 * every minute.
			 */
			if (started()) {
				metrics_flush();
				vm.metrics_next = now_ms() + METRICS_PERIOD_MS;
			}
		}
	} else if (strcmp(act, "SendCtrlAltDel") == 0) {
		/*
		 * Vmm::send_ctrl_alt_del(): the keys go into the i8042's
		 * buffer, and a paused guest reads them when it resumes.
		 * On aarch64 the request does not even parse.
		 */
		if (g.aarch64)
			fault(rs, ERR_CAD_AARCH64);
		else if (!started())
			fault(rs, ERR_PREBOOT);
		else if (I8042_BUF_SIZE - g.kbd_len < I8042_CAD_LEN)
			fault(rs, ERR_I8042_FULL);
		else {
			g.kbd_len += I8042_CAD_LEN;
			if (vm.state != VM_RUNNING ||
			    guest_keys(err, sizeof(err)) == 0)
				no_content(rs);
			else
				fault(rs, "Internal VMM error: fc-standin: %s",
				    err);
		}
	} else {
		if (!started())
			fault(rs, ERR_PREBOOT);
		else {
			metrics_flush();
			no_content(rs);
		}
	}
	json_decref(b);
}

static void
api_patch_vm(struct resp *rs, const struct req *rq)
{
	json_t	*b;
	char	 err[512];
	int	 pause;

	if ((b = decode(rs, rq, &st_vm)) == NULL)
		return;
	pause = strcmp(jget_str(b, "state"), "Paused") == 0;
	json_decref(b);
	if (!started()) {
		fault(rs, ERR_PREBOOT);
		return;
	}
	if (guest_pause(rs, pause) == -1)
		return;
	vm.state = pause ? VM_PAUSED : VM_RUNNING;
	fclog(LV_INFO, "fc_vmm", "'%s vm' VMM action took 0 us.",
	    pause ? "pause" : "resume");
	/* what was typed while it was paused, it reads now */
	if (!pause && g.kbd_len > 0 && guest_keys(err, sizeof(err)) == -1)
		fclog(LV_WARN, "fc_vmm", "fc-standin: %s", err);
	no_content(rs);
}

/*
 * Snapshots, as persist.rs makes and restores them.  The state file is
 * ours: the magic line SNAP_MAGIC, then one JSON object (machine
 * config, boot source, drives, network interfaces, vsock, entropy, MMDS
 * config, VM state), then, as Firecracker ends its own, the CRC64 of
 * all that (crc64 2.0, little-endian u64), so a file that is not a
 * snapshot is refused in Firecracker's words.  The memory file is, in
 * the idle mode, mem_size_mib MiB of zeros, sparse: there is no guest
 * memory; in the qemu mode, qemu's own migration stream of the paused
 * guest (devices and CPUs as well as RAM, zero pages elided), not a
 * raw memory image: only a qemu of the same build and command line
 * reads it back.  Disks are not copied: a restore needs the same files.
 */

/* The crc64 crate's: Jones polynomial, reflected, no final xor. */
#define CRC64_POLY	0x95ac9329ac4bc9b5ULL

static uint64_t
crc64(uint64_t crc, const unsigned char *p, size_t n)
{
	int	i;

	while (n-- > 0) {
		crc ^= *p++;
		for (i = 0; i < 8; i++)
			crc = (crc >> 1) ^ (crc & 1 ? CRC64_POLY : 0);
	}
	return crc;
}

static json_t *
snapshot_state(void)
{
	json_t	*o = json_object();

	json_object_set_new(o, "machine-config", machine_config_json());
	json_object_set_new(o, "boot-source", vm.boot_built != NULL ?
	    json_incref(vm.boot_built) : json_null());
	json_object_set(o, "drives", vm.drives);
	json_object_set(o, "network-interfaces", vm.nets);
	json_object_set_new(o, "vsock", vm.vsock != NULL ?
	    json_incref(vm.vsock) : json_null());
	json_object_set_new(o, "entropy", vm.entropy != NULL ?
	    json_incref(vm.entropy) : json_null());
	json_object_set_new(o, "mmds-config", vm.mmds_cfg != NULL ?
	    json_incref(vm.mmds_cfg) : json_null());
	json_object_set_new(o, "state", json_string(state_name()));
	return o;
}

static int
write_all(int fd, const void *buf, size_t n)
{
	const char	*p = buf;
	ssize_t		 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* snapshot_state_to_file(); a fault in CreateSnapshotError's words. */
static int
snapshot_write_state(struct resp *rs, const char *path)
{
	json_t		*o;
	char		*js, *buf;
	unsigned char	 le8[8];
	uint64_t	 crc;
	size_t		 n;
	int		 fd, i, rc = -1;

	o = snapshot_state();
	js = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (js == NULL)
		die(EXIT_GENERIC, "out of memory");
	if (asprintf(&buf, "%s%s\n", SNAP_MAGIC, js) == -1)
		die(EXIT_GENERIC, "out of memory");
	free(js);
	n = strlen(buf);
	crc = crc64(0, (unsigned char *)buf, n);
	for (i = 0; i < 8; i++)
		le8[i] = (unsigned char)(crc >> (8 * i));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0666)) == -1) {
		fault(rs, ERR_SNAP_CREATE "Cannot perform open on the snapshot "
		    "backing file: %s", oserr(errno));
		goto out;
	}
	if (write_all(fd, buf, n) == -1 || write_all(fd, le8, 8) == -1)
		fault(rs, ERR_SNAP_CREATE "Cannot serialize the microVM "
		    "state: An IO error occurred: %d", errno);
	else if (fsync(fd) == -1)
		fault(rs, ERR_SNAP_CREATE "Cannot perform sync_all on the "
		    "snapshot backing file: %s", oserr(errno));
	else
		rc = 0;
	close(fd);
out:
	free(buf);
	return rc;
}

#ifndef STANDIN_MODE_QEMU
/*
 * snapshot_memory_to_file(): the file is made mem_size_mib long.  A
 * full snapshot writes all of memory, which is zeros here; a diff one
 * writes the dirty pages over what is there, and none are dirty.
 */
static int
snapshot_write_mem(struct resp *rs, const char *path, int full)
{
	struct stat	 st;
	off_t		 size = (off_t)vm.mem_mib << 20;
	const char	*what;
	int		 fd, existed, rc = -1;

	existed = stat(path, &st) == 0;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666)) == -1) {
		fault(rs, ERR_SNAP_CREATE "Cannot perform open on the memory "
		    "backing file: %s", oserr(errno));
		return -1;
	}
	what = "get_metadata";
	if (existed && fstat(fd, &st) == -1)
		goto fail;
	what = "truncate";
	if (existed && (full || st.st_size != size) && ftruncate(fd, 0) == -1)
		goto fail;
	what = "set_length";
	if (ftruncate(fd, size) == -1)
		goto fail;
	what = "sync_all";
	if (fsync(fd) == -1)
		goto fail;
	rc = 0;
	goto out;
fail:
	fault(rs, ERR_SNAP_CREATE "Cannot perform %s on the memory backing "
	    "file: %s", what, oserr(errno));
out:
	close(fd);
	return rc;
}
#else
/*
 * The memory file: qemu migrates the paused guest into it, through an
 * fd of ours passed over QMP (qemu 7.2 has no file: URI; an exec: cat
 * would be killed on close, maybe before it wrote the last of it).
 * qemu is left stopped (postmigrate: cont resumes it).  A diff is a
 * full one: qemu keeps no dirty pages for us.
 */
static int
snapshot_write_mem(struct resp *rs, const char *path, int full)
{
	char	err[1024];
	int	fd, rc = -1;

	(void)full;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0666)) == -1) {
		fault(rs, ERR_SNAP_CREATE "Cannot perform open on the memory "
		    "backing file: %s", oserr(errno));
		return -1;
	}
	if (qmp_connect(err, sizeof(err)) == 0 &&
	    qmp_exec("getfd", "{\"fdname\":\"snapmem\"}", fd, NULL, err,
	    sizeof(err)) == 0 &&
	    qmp("migrate-set-parameters", "{\"max-bandwidth\":"
	    "1099511627776}", err, sizeof(err)) == 0 &&
	    qmp("migrate", "{\"uri\":\"fd:snapmem\"}", err,
	    sizeof(err)) == 0 && qmp_migration_wait(err, sizeof(err)) == 0)
		rc = 0;
	else
		fault(rs, ERR_SNAP_CREATE "Cannot write memory file: "
		    "fc-standin: qemu: %s", err);
	if (rc == 0 && fsync(fd) == -1) {
		fault(rs, ERR_SNAP_CREATE "Cannot perform sync_all on the "
		    "memory backing file: %s", oserr(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}

/*
 * The memory file is qemu's migration stream: qemu, with the restored
 * configuration, reads it (-incoming fd:N), and stays stopped.
 */
static int
guest_restore(int fd, char *err, size_t errsz)
{
	char	uri[64], qerr[1024];
	pid_t	pid;
	int	st;

	snprintf(uri, sizeof(uri), "fd:%d", fd);
	if (qemu_spawn(uri, fd, qerr, sizeof(qerr)) == -1) {
		snprintf(err, errsz, "Failed to load guest memory: fc-standin: "
		    "qemu: %s", qerr);
		return -1;
	}
	if (qmp_migration_wait(qerr, sizeof(qerr)) == 0)
		return 0;
	/* qemu ends when an incoming migration fails: say how */
	pid = g.qemu_pid;
	if (waitpid(pid, &st, WNOHANG) == pid)
		snprintf(qerr, sizeof(qerr), "qemu exited, status %d",
		    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	else {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	g.qemu_pid = -1;
	qmp_close();
	snprintf(err, errsz, "Failed to load guest memory: fc-standin: "
	    "qemu: %s", qerr);
	return -1;
}
#endif

/*
 * A hostile VMM, for the daemon's checks of what it writes:
 * fc_standin.snapshot_hostile=MODE in its boot args, once a snapshot's
 * files are written: "symlink" puts a symlink where the memory file
 * was, "link" makes the memory file a second link to the state file,
 * "short" cuts the memory file to half, "none" removes both.
 */
static void
snapshot_hostile(const char *state, const char *mem)
{
	const char	*a, *p, *key = "fc_standin.snapshot_hostile=";
	char		 mode[16];
	struct stat	 st;
	size_t		 n;

	if (vm.boot_built == NULL ||
	    (a = jget_str(vm.boot_built, "boot_args")) == NULL ||
	    (p = strstr(a, key)) == NULL)
		return;
	p += strlen(key);
	n = strcspn(p, " ");
	if (n >= sizeof(mode))
		return;
	memcpy(mode, p, n);
	mode[n] = '\0';
	if (strcmp(mode, "symlink") == 0) {
		(void)unlink(mem);
		(void)symlink("/etc/shadow", mem);
	} else if (strcmp(mode, "link") == 0) {
		(void)unlink(mem);
		(void)link(state, mem);
	} else if (strcmp(mode, "long") == 0 && stat(mem, &st) == 0)
		(void)truncate(mem, st.st_size * 2);
	else if (strcmp(mode, "none") == 0) {
		(void)unlink(state);
		(void)unlink(mem);
	}
}

static void
api_snapshot_create(struct resp *rs, const struct req *rq)
{
	json_t		*b;
	const char	*type;
	int		 full;

	if ((b = decode(rs, rq, &st_snapcreate)) == NULL)
		return;
	type = jget_str(b, "snapshot_type");
	full = type == NULL || strcmp(type, "Full") == 0;
	if (!started())
		fault(rs, ERR_PREBOOT);
	else if (!full && !vm.track_dirty)
		fault(rs, ERR_SNAP_DIFF);
	else if (vm.state != VM_PAUSED)
		fault(rs, ERR_SNAP_RUN);
	else if (snapshot_write_state(rs, jget_str(b,
	    "snapshot_path")) == 0 && snapshot_write_mem(rs, jget_str(b,
	    "mem_file_path"), full) == 0) {
		fclog(LV_INFO, "fc_vmm", "'create %s snapshot' VMM action "
		    "took 0 us.", full ? "full" : "diff");
		snapshot_hostile(jget_str(b, "snapshot_path"),
		    jget_str(b, "mem_file_path"));
		no_content(rs);
	}
	json_decref(b);
}

/*
 * snapshot_state_from_file(): the file's CRC64, then its header.  The
 * JSON object it holds, or NULL with err set to the rest of the fault.
 */
static json_t *
snapshot_read_state(const char *path, char *err, size_t errsz)
{
	struct stat	 st;
	unsigned char	*body = NULL, le8[8], chunk[65536];
	uint64_t	 crc = 0, stored = 0, magic = 0, len, off = 0;
	size_t		 keep, want;
	ssize_t		 r;
	json_t		*o = NULL;
	json_error_t	 jerr;
	int		 fd, i;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "Failed to open snapshot file: %s",
		    oserr(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errsz, "Failed to read snapshot file metadata: "
		    "%s", oserr(errno));
		goto out;
	}
	if (st.st_size < 8) {
		snprintf(err, errsz, "Failed to load snapshot state from "
		    "file: Snapshot file is smaller than CRC length.");
		goto out;
	}
	len = (uint64_t)st.st_size - 8;
	keep = len < SNAP_BODY_MAX ? (size_t)len : SNAP_BODY_MAX;
	body = xmalloc(keep + 1);
	while (off < len) {
		want = len - off < sizeof(chunk) ? (size_t)(len - off) :
		    sizeof(chunk);
		if ((r = read(fd, chunk, want)) <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			snprintf(err, errsz, "Failed to load snapshot state "
			    "from file: An IO error occurred: %d",
			    r == -1 ? errno : EINVAL);
			goto out;
		}
		crc = crc64(crc, chunk, (size_t)r);
		if (off < keep)
			memcpy(body + off, chunk, keep - off < (size_t)r ?
			    keep - off : (size_t)r);
		off += (uint64_t)r;
	}
	if (read_at(fd, le8, 8, len) == -1) {
		snprintf(err, errsz, "Failed to load snapshot state from "
		    "file: An IO error occurred: %d", EINVAL);
		goto out;
	}
	for (i = 7; i >= 0; i--)
		stored = stored << 8 | le8[i];
	if (crc != stored) {
		snprintf(err, errsz, "Failed to load snapshot state from "
		    "file: CRC64 validation failed: %llu",
		    (unsigned long long)crc);
		goto out;
	}
	body[keep] = '\0';
	if (len < 8) {
		snprintf(err, errsz, "Failed to load snapshot state from "
		    "file: An error occured with serialization/"
		    "deserialization: io error: failed to fill whole buffer");
		goto out;
	}
	if (strncmp((char *)body, SNAP_MAGIC, strlen(SNAP_MAGIC)) != 0) {
		for (i = 7; i >= 0; i--)
			magic = magic << 8 | body[i];
		if (magic != SNAP_MAGIC_FC)
			snprintf(err, errsz, "Failed to load snapshot state "
			    "from file: Magic value does not match arch: %llu",
			    (unsigned long long)magic);
		else
			snprintf(err, errsz, "fc-standin: %s is a Firecracker "
			    "snapshot; the stand-in restores only its own",
			    path);
		goto out;
	}
	if ((o = json_loadb((char *)body + strlen(SNAP_MAGIC),
	    keep - strlen(SNAP_MAGIC), 0, &jerr)) == NULL ||
	    !json_is_object(json_object_get(o, "machine-config")) ||
	    !json_is_array(json_object_get(o, "drives")) ||
	    !json_is_array(json_object_get(o, "network-interfaces"))) {
		snprintf(err, errsz, "Failed to load snapshot state from "
		    "file: An error occured with serialization/"
		    "deserialization: fc-standin: a damaged state file");
		json_decref(o);
		o = NULL;
	}
out:
	free(body);
	close(fd);
	return o;
}

/* A restored object member: a new reference, or NULL for null. */
static json_t *
restored(const json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return v == NULL || json_is_null(v) ? NULL : json_incref(v);
}

/*
 * restore_from_snapshot() and build_microvm_from_snapshot(): state,
 * memory, devices.  0, or -1 with err set to the rest of the fault.
 */
static int
snapshot_restore(const char *spath, const char *mpath, int diff,
    json_t *overrides, char *err, size_t errsz)
{
	json_t		*o, *mc, *d, *n, *ov;
	struct stat	 st;
	const char	*dev;
	char		 terr[1024];
	size_t		 i, nn;
	int		 fd, *taps = NULL;
#ifdef STANDIN_MODE_QEMU
	unsigned char	 magic[4];
	int		 memfd = -1;
#endif

	if ((o = snapshot_read_state(spath, terr, sizeof(terr))) == NULL) {
		snprintf(err, errsz, "%s%s", strncmp(terr, "fc-standin:",
		    11) == 0 ? "" : "Failed to get snapshot state from file: ",
		    terr);
		return -1;
	}
	/* each override names an interface of the snapshot, else none */
	json_array_foreach(overrides, i, ov) {
		json_t	*hit = NULL;

		json_array_foreach(json_object_get(o, "network-interfaces"),
		    nn, n)
			if (hit == NULL && strcmp(jget_str(n, "iface_id"),
			    jget_str(ov, "iface_id")) == 0)
				hit = n;
		if (hit == NULL) {
			snprintf(err, errsz, "Failed to get snapshot state "
			    "from file: Unknown Network Device.");
			goto fail;
		}
		json_object_set_new(hit, "host_dev_name",
		    json_string(jget_str(ov, "host_dev_name")));
	}
	if ((fd = open(mpath, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "Failed to load guest memory: Error "
		    "creating guest memory from file: Failed to load guest "
		    "memory: %s", oserr(errno));
		goto fail;
	}
	mc = json_object_get(o, "machine-config");
#ifndef STANDIN_MODE_QEMU
	/* vm-memory maps the regions from the file: it must reach that far */
	if (fstat(fd, &st) == -1 || (uint64_t)st.st_size <
	    (uint64_t)json_integer_value(json_object_get(mc,
	    "mem_size_mib")) << 20) {
		close(fd);
		snprintf(err, errsz, "Failed to load guest memory: Error "
		    "creating guest memory from file: Failed to restore guest "
		    "memory: Cannot create mmap region: The specified file "
		    "offset and length is greater then file length");
		goto fail;
	}
	close(fd);
#else
	(void)st;
	/* a migration stream begins "QEVM" (QEMU_VM_FILE_MAGIC) */
	if (read_at(fd, magic, 4, 0) == -1 || memcmp(magic, "QEVM", 4) != 0) {
		close(fd);
		snprintf(err, errsz, "fc-standin: %s is not a qemu migration "
		    "stream; the qemu stand-in restores only its own", mpath);
		goto fail;
	}
	memfd = fd;
#endif
	json_array_foreach(json_object_get(o, "drives"), i, d) {
		if ((fd = open(jget_str(d, "path_on_host"),
		    (jget_bool(d, "is_read_only", 0) ? O_RDONLY : O_RDWR) |
		    O_CLOEXEC)) == -1) {
			snprintf(err, errsz, "Failed to build microVM from "
			    "snapshot: Failed to restore MMIO device: Cannot "
			    "restore devices: Block: Virtio backend error: "
			    "Error manipulating the backing file: %s %s",
			    oserr(errno), jget_str(d, "path_on_host"));
			goto fail;
		}
		close(fd);
	}
	nn = json_array_size(json_object_get(o, "network-interfaces"));
	taps = reallocarray(NULL, nn + 1, sizeof(*taps));
	if (taps == NULL)
		die(EXIT_GENERIC, "out of memory");
	json_array_foreach(json_object_get(o, "network-interfaces"), i, n) {
		dev = jget_str(n, "host_dev_name");
		if ((taps[i] = tap_open(dev != NULL ? dev : "", terr,
		    sizeof(terr))) == -1) {
			snprintf(err, errsz, "Failed to build microVM from "
			    "snapshot: Failed to restore MMIO device: Cannot "
			    "restore devices: Net: %s", terr);
			while (i-- > 0)
				close(taps[i]);
			goto fail;
		}
	}

	/* the VM as it was, but for dirty page tracking: the load's */
	vm.vcpus = (unsigned int)json_integer_value(json_object_get(mc,
	    "vcpu_count"));
	vm.mem_mib = (uint64_t)json_integer_value(json_object_get(mc,
	    "mem_size_mib"));
	vm.smt = jget_bool(mc, "smt", 0);
	vm.cpu_template = jget_str(mc, "cpu_template") == NULL ? NULL :
	    enum_const(en_cputmpl_v, jget_str(mc, "cpu_template"));
	vm.huge_pages = enum_const(en_huge_v, jget_str(mc, "huge_pages") ?
	    jget_str(mc, "huge_pages") : "None");
	vm.track_dirty = diff;
	json_decref(vm.boot);
	vm.boot = restored(o, "boot-source");
	json_decref(vm.boot_built);
	vm.boot_built = restored(o, "boot-source");
	json_decref(vm.drives);
	vm.drives = json_incref(json_object_get(o, "drives"));
	json_decref(vm.nets);
	vm.nets = json_incref(json_object_get(o, "network-interfaces"));
	free(vm.tapfds);
	vm.tapfds = taps;
	json_decref(vm.vsock);
	vm.vsock = restored(o, "vsock");
	json_decref(vm.entropy);
	vm.entropy = restored(o, "entropy");
	json_decref(vm.mmds_cfg);
	vm.mmds_cfg = restored(o, "mmds-config");
	if (vm.mmds_cfg != NULL && vm.mmds == NULL)
		vm.mmds = json_null();
	json_decref(o);
#ifdef STANDIN_MODE_QEMU
	fd = guest_restore(memfd, err, errsz);
	close(memfd);
	return fd;
#else
	return 0;
#endif
fail:
#ifdef STANDIN_MODE_QEMU
	if (memfd != -1)
		close(memfd);
#endif
	free(taps);
	json_decref(o);
	return -1;
}

static int
present(const json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return v != NULL && !json_is_null(v);
}

static void
api_snapshot_load(struct resp *rs, const struct req *rq)
{
	json_t		*b, *mb;
	const char	*mpath;
	char		 err[2048];

	if ((b = decode(rs, rq, &st_snapload)) == NULL)
		return;
	mb = json_object_get(b, "mem_backend");
	if (present(b, "mem_backend") && present(b, "mem_file_path")) {
		serde_fault(rs, ERR_LOAD_BOTH);
		goto out;
	}
	if (!present(b, "mem_backend") && !present(b, "mem_file_path")) {
		serde_fault(rs, ERR_LOAD_NONE);
		goto out;
	}
	if (present(b, "mem_file_path")) {
		rs->deprecated = 1;
		fclog(LV_WARN, "fc_api", "PUT /snapshot/load: mem_file_path "
		    "field is deprecated.");
		mpath = jget_str(b, "mem_file_path");
	} else
		mpath = jget_str(mb, "backend_path");
	if (started()) {
		fault(rs, ERR_POSTBOOT);
		goto out;
	}
	if (vm.boot_path) {
		fault(rs, ERR_LOAD_NOTNOW);
		goto out;
	}
	if (mb != NULL && !json_is_null(mb) &&
	    strcmp(jget_str(mb, "backend_type"), "Uffd") == 0) {
		fault(rs, "fc-standin: Uffd memory backends are not emulated; "
		    "use \"backend_type\": \"File\".");
		goto out;
	}
	if (snapshot_restore(jget_str(b, "snapshot_path"), mpath,
	    jget_bool(b, "enable_diff_snapshots", 0),
	    json_object_get(b, "network_overrides"), err,
	    sizeof(err)) == -1) {
		if (strncmp(err, "fc-standin:", 11) == 0)
			fault(rs, "%s", err);
		else
			fault(rs, ERR_LOAD "%s", err);
		/* a failed restore leaves Firecracker too dirty to go on */
		fprintf(stderr, "Error: RunWithApi(BuildMicroVmError("
		    "Restore))\n");
		g.exit_pending = 1;
		g.exit_code = EXIT_GENERIC;
		g.exit_at = now_ms() + 200;
		goto out;
	}
	vm.state = VM_PAUSED;
	if (jget_bool(b, "resume_vm", 0)) {
		if (guest_pause(rs, 0) == -1)
			goto out;
		vm.state = VM_RUNNING;
	}
	fclog(LV_INFO, "fc_vmm", "'load snapshot' VMM action took 0 us.");
	/* the microVM is built: the periodic metrics start, as at boot */
	metrics_flush();
	vm.metrics_next = now_ms() + METRICS_PERIOD_MS;
	no_content(rs);
out:
	json_decref(b);
}

static void
api_snapshot(struct resp *rs, const struct req *rq, const char *op)
{
	if (op == NULL)
		fault(rs, "Missing snapshot operation type.");
	else if (strcmp(op, "create") == 0)
		api_snapshot_create(rs, rq);
	else if (strcmp(op, "load") == 0)
		api_snapshot_load(rs, rq);
	else
		fault(rs, "Invalid request method and/or path: PUT "
		    "/snapshot/%s.", op);
}


/*
 * The router: parsed_request.rs's match, arm for arm.
 */

/* micro_http's Uri::get_abs_path(). */
static const char *
abs_path(const char *uri)
{
	const char	*p;

	if (strncmp(uri, "http://", 7) == 0) {
		if ((p = strchr(uri + 7, '/')) == NULL)
			return "";
		return p;
	}
	return uri[0] == '/' ? uri : "";
}

/* trim_start_matches('/').split_terminator('/'). */
static size_t
path_tokens(const char *path, char **tok, size_t max, char **copy)
{
	char	*s, *p, *slash;
	size_t	 n = 0, len;

	while (*path == '/')
		path++;
	*copy = s = xstrdup(path);
	len = strlen(s);
	if (len > 0 && s[len - 1] == '/')
		s[len - 1] = '\0';
	else if (len == 0)
		return 0;
	for (p = s; n < max; p = slash + 1) {
		tok[n++] = p;
		if ((slash = strchr(p, '/')) == NULL)
			break;
		*slash = '\0';
	}
	return n;
}

static void
api_route(struct resp *rs, const struct req *rq)
{
	char		*tok[8], *copy;
	const char	*p0, *p1;
	size_t		 nt;
	int		 body = rq->body != NULL;

	nt = path_tokens(abs_path(rq->uri), tok, 8, &copy);
	p0 = nt > 0 ? tok[0] : "";
	p1 = nt > 1 ? tok[1] : NULL;

	switch (rq->method) {
	case M_GET:
		if (!body) {
			if (strcmp(p0, "") == 0) {
				api_instance_info(rs);
				goto done;
			}
			if (strcmp(p0, "balloon") == 0) {
				not_emulated(rs, rq);
				goto done;
			}
			if (strcmp(p0, "version") == 0) {
				api_version(rs);
				goto done;
			}
			if (strcmp(p0, "vm") == 0 && p1 != NULL &&
			    strcmp(p1, "config") == 0) {
				api_full_config(rs);
				goto done;
			}
			if (strcmp(p0, "machine-config") == 0) {
				respond_json(rs, 200, machine_config_json());
				goto done;
			}
			if (strcmp(p0, "mmds") == 0) {
				api_get_mmds(rs);
				goto done;
			}
			if (strcmp(p0, "hotplug") == 0 && p1 != NULL &&
			    strcmp(p1, "memory") == 0) {
				not_emulated(rs, rq);
				goto done;
			}
		} else {
			fault(rs, "GET request cannot have a body.");
			goto done;
		}
		break;
	case M_PUT:
		if (!body) {
			fault(rs, "Empty PUT request.");
			goto done;
		}
		if (strcmp(p0, "actions") == 0)
			api_actions(rs, rq);
		else if (strcmp(p0, "boot-source") == 0)
			api_put_boot_source(rs, rq);
		else if (strcmp(p0, "drives") == 0)
			api_put_drive(rs, rq, p1);
		else if (strcmp(p0, "logger") == 0)
			api_put_logger(rs, rq);
		else if (strcmp(p0, "machine-config") == 0)
			api_put_machine_config(rs, rq);
		else if (strcmp(p0, "metrics") == 0)
			api_put_metrics(rs, rq);
		else if (strcmp(p0, "mmds") == 0)
			api_mmds(rs, rq, p1);
		else if (strcmp(p0, "network-interfaces") == 0)
			api_put_net(rs, rq, p1);
		else if (strcmp(p0, "vsock") == 0)
			api_put_vsock(rs, rq);
		else if (strcmp(p0, "entropy") == 0)
			api_put_entropy(rs, rq);
		else if (strcmp(p0, "snapshot") == 0)
			api_snapshot(rs, rq, p1);
		else if (strcmp(p0, "balloon") == 0 ||
		    strcmp(p0, "cpu-config") == 0 ||
		    strcmp(p0, "pmem") == 0 || strcmp(p0, "serial") == 0 ||
		    (strcmp(p0, "hotplug") == 0 && p1 != NULL &&
		    strcmp(p1, "memory") == 0))
			not_emulated(rs, rq);
		else
			break;
		goto done;
	case M_PATCH:
		if (strcmp(p0, "balloon") == 0) {
			not_emulated(rs, rq);
			goto done;
		}
		if (!body) {
			fault(rs, "Empty PATCH request.");
			goto done;
		}
		if (strcmp(p0, "drives") == 0)
			api_patch_drive(rs, rq, p1);
		else if (strcmp(p0, "machine-config") == 0)
			api_patch_machine_config(rs, rq);
		else if (strcmp(p0, "mmds") == 0)
			api_mmds(rs, rq, NULL);
		else if (strcmp(p0, "network-interfaces") == 0)
			api_patch_net(rs, rq, p1);
		else if (strcmp(p0, "vm") == 0)
			api_patch_vm(rs, rq);
		else if (strcmp(p0, "hotplug") == 0 && p1 != NULL &&
		    strcmp(p1, "memory") == 0)
			not_emulated(rs, rq);
		else
			break;
		goto done;
	}
	fault(rs, "Invalid request method and/or path: %s %s.", rq->mname,
	    p0);
done:
	free(copy);
}

/* Rust's {:?} of the body, for Firecracker's request log line. */
static void
log_request(const struct req *rq)
{
	const char	*meth = rq->method == M_GET ? "Get" :
			    rq->method == M_PUT ? "Put" : "Patch";
	char		*b, dbg[2200];

	if (g.log_fd == -1 || g.log_level < LV_INFO)
		return;
	if (rq->body == NULL) {
		fclog(LV_INFO, "fc_api", "The API server received a %s request "
		    "on \"%s\".", meth, abs_path(rq->uri));
		return;
	}
	b = xmalloc(rq->bodylen + 1);
	memcpy(b, rq->body, rq->bodylen);
	b[rq->bodylen] = '\0';
	sd_debugstr(b, dbg, sizeof(dbg));
	free(b);
	fclog(LV_INFO, "fc_api", "The API server received a %s request on "
	    "\"%s\" with body %s.", meth, abs_path(rq->uri), dbg);
}

static int	canned_response(struct resp *, const struct req *);

/* A VMM that answers late: fc_standin.api_delay_ms=MS in its boot args. */
static void
api_delay(void)
{
	const char	*a, *p, *key = "fc_standin.api_delay_ms=";
	struct timespec	 ts;
	long		 ms;

	if (vm.boot_built == NULL ||
	    (a = jget_str(vm.boot_built, "boot_args")) == NULL ||
	    (p = strstr(a, key)) == NULL)
		return;
	ms = strtol(p + strlen(key), NULL, 10);
	if (ms <= 0 || ms > 60000)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = ms % 1000 * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
api_handle(const struct req *rq, struct resp *rs)
{
	json_t		*o;
	json_error_t	 jerr;

	log_request(rq);
	if (canned_response(rs, rq) == 0)
		api_route(rs, rq);
	api_delay();
	if (rs->status == 204)
		fclog(LV_INFO, "fc_api", "The request was executed "
		    "successfully. Status code: 204 No Content.");
	else if (rs->status == 200)
		fclog(LV_INFO, "fc_api", "The request was executed "
		    "successfully. Status code: 200 OK.");
	else if (rs->body != NULL &&
	    (o = json_loads(rs->body, 0, &jerr)) != NULL) {
		fclog(LV_ERROR, "fc_api", "Received Error. Status code: 400 "
		    "Bad Request. Message: %s", jget_str(o, "fault_message") ?
		    jget_str(o, "fault_message") : "");
		json_decref(o);
	}
	reqlog(rq->mname, abs_path(rq->uri), rq->body, rq->bodylen,
	    rs->status);
}

/*
 * HTTP/1.1 on the unix socket, as micro_http serves it: keep-alive,
 * pipelining, Content-Length bodies, Expect: 100-continue, a request
 * line and header lines of at most 1024 bytes, bodies up to the API
 * payload limit, ten connections.
 */

static void
conn_out(struct conn *c, const void *buf, size_t n)
{
	xgrow(&c->out, &c->outcap, c->outlen + n);
	memcpy(c->out + c->outlen, buf, n);
	c->outlen += n;
}

static void
conn_reply(struct conn *c, int status, const char *body, int deprecated)
{
	char	head[512];
	int	n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d \r\n"
	    "Server: Firecracker API\r\nConnection: keep-alive\r\n%s",
	    status, deprecated ? "Deprecation: true\r\n" : "");
	if (status != 204 && status != 100)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
		    "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\n", body != NULL ?
		    strlen(body) : 0);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	conn_out(c, head, (size_t)n);
	if (body != NULL && status != 204)
		conn_out(c, body, strlen(body));
}

/* A request micro_http cannot parse: an error, then we hang up. */
static void
conn_bad(struct conn *c, const char *msg, const char *method,
    const char *path)
{
	char	body[2048];

	snprintf(body, sizeof(body), "{ \"error\": \"%s\nAll previous "
	    "unanswered requests will be dropped.\" }", msg);
	conn_reply(c, 400, body, 0);
	reqlog(method, path, NULL, 0, 400);
	c->dead = 1;
	c->inlen = 0;
}

static const char *
memstr(const char *buf, size_t len, const char *pat)
{
	size_t	plen = strlen(pat);

	if (len < plen)
		return NULL;
	return memmem(buf, len, pat, plen);
}

static char *
trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/*
 * Parse one request from the front of c->in.  1: done (and answered),
 * 0: need more bytes, -1: the connection is done for.
 */
static int
conn_request(struct conn *c)
{
	struct req	 rq;
	struct resp	 rs;
	const char	*eol, *line, *sp1, *sp2;
	char		 mbuf[16], *uri, hline[HTTP_LINE_MAX + 1], *colon;
	char		 msg[256], *name, *val, *end;
	size_t		 llen, off, clen = 0, total;
	unsigned long	 ul;
	int		 expect = 0;

	if ((eol = memstr(c->in, c->inlen, "\r\n")) == NULL) {
		if (c->inlen >= HTTP_LINE_MAX) {
			conn_bad(c, "Invalid request.", NULL, NULL);
			return -1;
		}
		return 0;
	}
	line = c->in;
	llen = (size_t)(eol - line);
	if (llen + 2 > HTTP_LINE_MAX) {
		conn_bad(c, "Invalid request.", NULL, NULL);
		return -1;
	}
	/* method SP uri SP version */
	if ((sp1 = memchr(line, ' ', llen)) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', llen - (size_t)(sp1 + 1 - line))) ==
	    NULL) {
		conn_bad(c, "Invalid request.", NULL, NULL);
		return -1;
	}
	memset(&rq, 0, sizeof(rq));
	if ((size_t)(sp1 - line) == 3 && memcmp(line, "GET", 3) == 0)
		rq.method = M_GET, rq.mname = "GET";
	else if ((size_t)(sp1 - line) == 3 && memcmp(line, "PUT", 3) == 0)
		rq.method = M_PUT, rq.mname = "PUT";
	else if ((size_t)(sp1 - line) == 5 && memcmp(line, "PATCH", 5) == 0)
		rq.method = M_PATCH, rq.mname = "PATCH";
	else {
		snprintf(mbuf, sizeof(mbuf), "%.*s",
		    (int)(sp1 - line < 15 ? sp1 - line : 15), line);
		conn_bad(c, "Invalid HTTP Method: Unsupported HTTP method.",
		    mbuf, NULL);
		return -1;
	}
	if (sp2 == sp1 + 1) {
		conn_bad(c, "Invalid URI: Empty URI not allowed.", rq.mname,
		    NULL);
		return -1;
	}
	uri = xmalloc((size_t)(sp2 - sp1));
	memcpy(uri, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	uri[sp2 - sp1 - 1] = '\0';
	if (!((size_t)(eol - sp2 - 1) == 8 && (memcmp(sp2 + 1, "HTTP/1.1",
	    8) == 0 || memcmp(sp2 + 1, "HTTP/1.0", 8) == 0))) {
		conn_bad(c, "Invalid HTTP Version: Unsupported HTTP version.",
		    rq.mname, abs_path(uri));
		free(uri);
		return -1;
	}

	/* header lines, up to the empty one */
	off = llen + 2;
	for (;;) {
		if ((eol = memstr(c->in + off, c->inlen - off, "\r\n")) ==
		    NULL) {
			if (c->inlen - off >= HTTP_LINE_MAX ||
			    c->inlen >= HTTP_HEAD_MAX) {
				conn_bad(c, "Invalid header.", rq.mname,
				    abs_path(uri));
				free(uri);
				return -1;
			}
			free(uri);
			return 0;
		}
		llen = (size_t)(eol - (c->in + off));
		if (llen == 0) {
			off += 2;
			break;
		}
		if (llen + 2 > HTTP_LINE_MAX || off >= HTTP_HEAD_MAX) {
			conn_bad(c, "Invalid header.", rq.mname,
			    abs_path(uri));
			free(uri);
			return -1;
		}
		memcpy(hline, c->in + off, llen);
		hline[llen] = '\0';
		off += llen + 2;
		if ((colon = strchr(hline, ':')) == NULL) {
			conn_bad(c, "Invalid header.", rq.mname,
			    abs_path(uri));
			free(uri);
			return -1;
		}
		*colon = '\0';
		name = trim(hline);
		val = trim(colon + 1);
		if (strcasecmp(name, "Content-Length") == 0) {
			errno = 0;
			ul = strtoul(val, &end, 10);
			if (*val == '\0' || *val == '-' || *end != '\0' ||
			    errno != 0 || ul > UINT32_MAX) {
				conn_bad(c, "Invalid header.", rq.mname,
				    abs_path(uri));
				free(uri);
				return -1;
			}
			clen = ul;
		} else if (strcasecmp(name, "Expect") == 0 &&
		    strcmp(val, "100-continue") == 0)
			expect = 1;
		else if (strcasecmp(name, "Transfer-Encoding") == 0 &&
		    strcasecmp(val, "chunked") == 0) {
			conn_bad(c, "Invalid header.", rq.mname,
			    abs_path(uri));
			free(uri);
			return -1;
		}
	}
	if (clen > g.max_payload) {
		snprintf(msg, sizeof(msg), "Request payload with size %zu is "
		    "larger than the limit of %zu allowed by server.", clen,
		    g.max_payload);
		conn_bad(c, msg, rq.mname, abs_path(uri));
		free(uri);
		return -1;
	}
	/* micro_http answers an Expect at once, body or no body yet */
	if (expect && clen > 0 && !c->continued) {
		conn_reply(c, 100, NULL, 0);
		c->continued = 1;
	}
	total = off + clen;
	if (c->inlen < total) {
		free(uri);
		return 0;
	}

	rq.uri = uri;
	rq.body = clen > 0 ? c->in + off : NULL;
	rq.bodylen = clen;
	memset(&rs, 0, sizeof(rs));
	api_handle(&rq, &rs);
	conn_reply(c, rs.status, rs.body, rs.deprecated);
	free(rs.body);
	free(uri);

	memmove(c->in, c->in + total, c->inlen - total);
	c->inlen -= total;
	c->continued = 0;
	return 1;
}

static void
conn_flush(struct conn *c)
{
	ssize_t	n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			c->dead = 1;
			c->outoff = c->outlen = 0;
			return;
		}
		c->outoff += (size_t)n;
	}
	c->outoff = c->outlen = 0;
}

static void
conn_read(struct conn *c)
{
	ssize_t	n;

	xgrow(&c->in, &c->incap, c->inlen + 16384);
	n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, MSG_DONTWAIT);
	if (n == 0) {
		c->dead = 1;
		c->outoff = c->outlen = 0;
		return;
	}
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			c->dead = 1;
			c->outoff = c->outlen = 0;
		}
		return;
	}
	c->inlen += (size_t)n;
	while (!c->dead && c->inlen > 0 && conn_request(c) == 1)
		;
	conn_flush(c);
}

static void
conn_close(size_t i)
{
	struct conn	*c = &g.conns[i];

	close(c->fd);
	free(c->in);
	free(c->out);
	g.conns[i] = g.conns[--g.nconns];
	memset(&g.conns[g.nconns], 0, sizeof(g.conns[g.nconns]));
}

static void
conn_accept(void)
{
	static const char full[] = "HTTP/1.1 503\r\n"
	    "Server: Firecracker API\r\nConnection: close\r\n"
	    "Content-Length: 40\r\n\r\n"
	    "{ \"error\": \"Too many open connections\" }";
	struct conn	*c;
	int		 fd;

	fd = accept4(g.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd == -1)
		return;
	if (g.nconns == MAX_CONNECTIONS) {
		(void)send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL);
		close(fd);
		return;
	}
	c = &g.conns[g.nconns++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
}

/*
 * Process life: the command line, the socket, the loop, the end.
 */

static void
cleanup(void)
{
	if (g.sock_made && g.api_sock != NULL)
		unlink(g.api_sock);
	g.sock_made = 0;
#ifdef STANDIN_MODE_QEMU
	if (g.qmp_path[0] != '\0')
		unlink(g.qmp_path);
	if (g.qemu_pid > 0)
		kill(g.qemu_pid, SIGKILL);
#endif
}

static void
finish(int code)
{
	size_t	i;

	for (i = 0; i < g.nconns; i++)
		conn_flush(&g.conns[i]);
	/* Vmm::stop() writes the metrics before exiting. */
	if (started())
		metrics_flush();
	if (code == 0)
		fclog(LV_INFO, "main", "Firecracker exiting successfully. "
		    "exit_code=0");
	else
		fclog(LV_ERROR, "main", "Firecracker exiting with error. "
		    "exit_code=%d", code);
	cleanup();
	fflush(stdout);
	exit(code);
}

struct arg {
	const char	*name;
	int		 takes_value;
	const char	*value;		/* set when given */
	int		 given;
	const char	*help;
};

static struct arg args[] = {
	{ "api-sock", 1, NULL, 0,
	    "Path to unix domain socket used by the API." },
	{ "id", 1, NULL, 0, "MicroVM unique identifier." },
	{ "seccomp-filter", 1, NULL, 0, "Optional parameter which allows "
	    "specifying the path to a custom seccomp filter. For advanced "
	    "users." },
	{ "no-seccomp", 0, NULL, 0, "Optional parameter which allows "
	    "starting and using a microVM without seccomp filtering. Not "
	    "recommended." },
	{ "start-time-us", 1, NULL, 0, "Process start time (wall clock, "
	    "microseconds). This parameter is optional." },
	{ "start-time-cpu-us", 1, NULL, 0, "Process start CPU time (wall "
	    "clock, microseconds). This parameter is optional." },
	{ "parent-cpu-time-us", 1, NULL, 0, "Parent process CPU time (wall "
	    "clock, microseconds). This parameter is optional." },
	{ "config-file", 1, NULL, 0, "Path to a file that contains the "
	    "microVM configuration in JSON format. (Not supported by "
	    "fc-standin.)" },
	{ "metadata", 1, NULL, 0, "Path to a file that contains metadata in "
	    "JSON format to add to the mmds." },
	{ "no-api", 0, NULL, 0, "Optional parameter which allows starting "
	    "and using a microVM without an active API socket. (Not "
	    "supported by fc-standin.)" },
	{ "log-path", 1, NULL, 0, "Path to a fifo or a file used for "
	    "configuring the logger on startup." },
	{ "level", 1, NULL, 0, "Set the logger level." },
	{ "module", 1, NULL, 0, "Set the logger module filter." },
	{ "show-level", 0, NULL, 0, "Whether or not to output the level in "
	    "the logs." },
	{ "show-log-origin", 0, NULL, 0, "Whether or not to include the file "
	    "path and line number of the log's origin." },
	{ "metrics-path", 1, NULL, 0, "Path to a fifo or a file used for "
	    "configuring the metrics on startup." },
	{ "boot-timer", 0, NULL, 0, "Whether or not to load boot timer "
	    "device for logging elapsed time since InstanceStart command." },
	{ "version", 0, NULL, 0, "Print the binary version number." },
	{ "snapshot-version", 0, NULL, 0, "Print the supported data format "
	    "version." },
	{ "describe-snapshot", 1, NULL, 0, "Print the data format version of "
	    "the provided snapshot state file. (Not supported by "
	    "fc-standin.)" },
	{ "http-api-max-payload-size", 1, NULL, 0, "Http API request payload "
	    "max size, in bytes." },
	{ "mmds-size-limit", 1, NULL, 0, "Mmds data store limit, in bytes." },
	{ "enable-pci", 0, NULL, 0, "Enables PCIe support." },
	{ "standin-log", 1, NULL, 0, "fc-standin only: append one JSON line "
	    "per API request to this file." },
	{ "standin-arch", 1, NULL, 0, "fc-standin only: x86_64 or aarch64, "
	    "the host to answer as (aarch64: idle mode only)." },
	{ "standin-listen-delay", 1, NULL, 0, "fc-standin only: milliseconds "
	    "between binding the API socket and listening on it." },
	{ NULL, 0, NULL, 0, NULL }
};

static struct arg *
arg_find(const char *name)
{
	struct arg	*a;

	for (a = args; a->name != NULL; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

static const char *
arg_value(const char *name)
{
	return arg_find(name)->value;
}

static int
arg_given(const char *name)
{
	return arg_find(name)->given;
}

/*
 * ./fc-standin.args: options for a stand-in the jailer runs (which
 * passes it no environment and only Firecracker's options), put before
 * those of the command line.
 */
static void
args_from_file(int *argcp, char ***argvp)
{
	char	**av, *line = NULL, *tok, *save;
	size_t	  cap = 0, n = 0, size;
	FILE	 *f;
	int	  i;

	if ((f = fopen(ARGS_FILE, "re")) == NULL)
		return;
	size = (size_t)*argcp + 1;
	if ((av = reallocarray(NULL, size, sizeof(*av))) == NULL)
		die(EXIT_GENERIC, "out of memory");
	av[n++] = (*argvp)[0];
	while (getline(&line, &cap, f) != -1) {
		for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t\r\n", &save)) {
			if (n + *argcp >= size && (av = reallocarray(av,
			    size *= 2, sizeof(*av))) == NULL)
				die(EXIT_GENERIC, "out of memory");
			av[n++] = xstrdup(tok);
		}
	}
	free(line);
	fclose(f);
	for (i = 1; i < *argcp; i++)
		av[n++] = (*argvp)[i];
	av[n] = NULL;
	*argcp = (int)n;
	*argvp = av;
}

/* utils::arg_parser's errors, and main.rs's report of them. */
static void
arg_fail(const char *display, const char *debug)
{
	fprintf(stderr, "Arguments parsing error: %s \n\nFor more "
	    "information try --help.\n", display);
	fprintf(stderr, "Error: ParseArguments(%s)\n", debug);
	exit(EXIT_ARGPARSE);
}

static void
usage(void)
{
	struct arg	*a;

	printf("Firecracker v%s\n\n", FC_VERSION);
	for (a = args; a->name != NULL; a++)
		printf("--%s%s%s%s: %s\n", a->name, a->takes_value ? " <" : "",
		    a->takes_value ? a->name : "", a->takes_value ? ">" : "",
		    a->help);
	printf("\nThis is fc-standin, a test stand-in for Firecracker "
	    "(%s mode).\n",
#ifdef STANDIN_MODE_QEMU
	    "qemu"
#else
	    "idle"
#endif
	    );
}

static void
parse_args(int argc, char *argv[])
{
	struct arg	*a;
	char		 disp[1024], dbg[1024];
	int		 i, end = argc;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			end = i;
			break;
		}
	for (i = 1; i < end; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage();
			exit(0);
		}
	}
	for (i = 1; i < end; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("Firecracker v%s\n\n", FC_VERSION);
			exit(0);
		}
	}
	for (i = 1; i < end; i++) {
		if (strncmp(argv[i], "--", 2) != 0 ||
		    (a = arg_find(argv[i] + 2)) == NULL) {
			const char *n = strncmp(argv[i], "--", 2) == 0 ?
			    argv[i] + 2 : argv[i];

			snprintf(disp, sizeof(disp), "Found argument '%s' "
			    "which wasn't expected, or isn't valid in this "
			    "context.", n);
			snprintf(dbg, sizeof(dbg), "UnexpectedArgument(\"%s\")",
			    n);
			arg_fail(disp, dbg);
		}
		if (a->given) {
			snprintf(disp, sizeof(disp), "The argument '%s' was "
			    "provided more than once.", a->name);
			snprintf(dbg, sizeof(dbg), "DuplicateArgument(\"%s\")",
			    a->name);
			arg_fail(disp, dbg);
		}
		a->given = 1;
		if (!a->takes_value)
			continue;
		if (i + 1 >= end || strncmp(argv[i + 1], "--", 2) == 0) {
			snprintf(disp, sizeof(disp), "The argument '%s' "
			    "requires a value, but none was supplied.",
			    a->name);
			snprintf(dbg, sizeof(dbg), "MissingValue(\"%s\")",
			    a->name);
			arg_fail(disp, dbg);
		}
		a->value = argv[++i];
	}
	if (arg_given("seccomp-filter") && arg_given("no-seccomp")) {
		arg_fail("Argument 'no-seccomp' cannot be used together with "
		    "argument 'seccomp-filter'.",
		    "ForbiddenArgument(\"no-seccomp\", \"seccomp-filter\")");
	}
	if (arg_given("no-api") && !arg_given("config-file"))
		arg_fail("Argument 'config-file' required, but not found.",
		    "MissingArgument(\"config-file\")");
}

static uint64_t
num_arg(const char *name, const char *type)
{
	const char		*v = arg_value(name);
	char			*end;
	unsigned long long	 n;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (*v == '\0' || *v == '-' || *end != '\0' || errno != 0) {
		fprintf(stderr, "'%s' parameter expected to be of '%s' type.\n",
		    name, type);
		exit(EXIT_GENERIC);
	}
	return n;
}

/* utils::validators::validate_instance_id(). */
static void
check_instance_id(const char *id)
{
	size_t	i, len = strlen(id);

	if (len == 0 || len > 64) {
		fprintf(stderr, "Invalid instance ID: InvalidLen(%zu, 1, 64)\n",
		    len);
		exit(EXIT_GENERIC);
	}
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)id[i]) && id[i] != '-') {
			fprintf(stderr, "Invalid instance ID: "
			    "InvalidChar('%c', %zu)\n", id[i], i);
			exit(EXIT_GENERIC);
		}
	}
}

static void
setup_reqlog(void)
{
	const char	*path = arg_value("standin-log");
	char		 buf[PATH_MAX + 2];
	FILE		*f;
	size_t		 n;

	if (path == NULL && (path = getenv("FC_STANDIN_LOG")) != NULL &&
	    *path == '\0')
		path = NULL;
	if (path == NULL && (f = fopen(LOGPATH_FILE, "re")) != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL) {
			n = strcspn(buf, "\r\n");
			buf[n] = '\0';
			if (n > 0)
				path = buf;
		}
		fclose(f);
	}
	/*
	 * Otherwise beside the API socket, so that a test can read what a
	 * jailed stand-in (no environment, no options of ours) was sent.
	 */
	if (path == NULL && g.api_sock != NULL &&
	    strrchr(g.api_sock, '/') != NULL) {
		n = strrchr(g.api_sock, '/') - g.api_sock;
		if (n + sizeof("/fc-standin.requests") <= sizeof(buf)) {
			memcpy(buf, g.api_sock, n);
			strlcpy(buf + n, "/fc-standin.requests",
			    sizeof(buf) - n);
			path = buf;
		}
	}
	if (path == NULL)
		return;
	g.reqlog_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644);
	if (g.reqlog_fd == -1)
		die(EXIT_GENERIC, "cannot open the request log %s: %s", path,
		    strerror(errno));
}

/* ./fc-standin.responses: "METHOD PATH STATUS [JSON]" per line. */
static void
setup_canned(void)
{
	char		 line[8192], meth[16], path[512];
	json_error_t	 jerr;
	json_t		*body;
	FILE		*f;
	int		 status, off;

	if ((f = fopen(RESPONSES_FILE, "re")) == NULL)
		return;
	g.canned = json_array();
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		off = 0;
		if (sscanf(line, "%15s %511s %d %n", meth, path, &status,
		    &off) < 3)
			continue;
		body = NULL;
		if (line[off] != '\0' &&
		    (body = json_loads(line + off, 0, &jerr)) == NULL)
			die(EXIT_GENERIC, "%s: %s", RESPONSES_FILE, jerr.text);
		json_array_append_new(g.canned, json_pack("[s, s, i, o]",
		    meth, path, status, body != NULL ? body : json_null()));
	}
	fclose(f);
}

/* A canned line's PATH against a request: "/actions:TYPE", "/vm:STATE". */
static int
canned_path(const char *cpath, const struct req *rq)
{
	const char	*path = abs_path(rq->uri), *key, *val;
	size_t		 n = strlen(path);
	json_error_t	 jerr;
	json_t		*b;
	int		 match;

	if (strcmp(cpath, path) == 0)
		return 1;
	if (strcmp(path, "/actions") == 0)
		key = "action_type";
	else if (strcmp(path, "/vm") == 0)
		key = "state";
	else
		return 0;
	if (strncmp(cpath, path, n) != 0 || cpath[n] != ':' ||
	    rq->body == NULL ||
	    (b = json_loadb(rq->body, rq->bodylen, 0, &jerr)) == NULL)
		return 0;
	val = jget_str(b, key);
	match = val != NULL && strcmp(val, cpath + n + 1) == 0;
	json_decref(b);
	return match;
}

/* A canned answer for this request: 1 if there is one. */
static int
canned_response(struct resp *rs, const struct req *rq)
{
	json_t		*c, *b;
	size_t		 i;

	json_array_foreach(g.canned, i, c) {
		if (strcmp(json_string_value(json_array_get(c, 0)),
		    rq->mname) != 0 || !canned_path(json_string_value(
		    json_array_get(c, 1)), rq))
			continue;
		b = json_array_get(c, 3);
		if (json_is_null(b)) {
			no_content(rs);
			rs->status = json_integer_value(json_array_get(c, 2));
		} else
			respond_json(rs, json_integer_value(json_array_get(c,
			    2)), json_incref(b));
		return 1;
	}
	return 0;
}

static void
setup_logging(void)
{
	const char	*s;
	char		 err[512];

	g.log_level = LV_INFO;
	if ((s = arg_value("level")) != NULL) {
		if ((g.log_level = level_parse(s)) == -1) {
			fprintf(stderr, "Error: InvalidLogLevel(\"%s\")\n", s);
			fprintf(stderr, "Invalid value for logger level: %s."
			    "Possible values: [Error, Warning, Info, Debug]\n",
			    s);
			exit(EXIT_BADCONF);
		}
	}
	g.show_level = arg_given("show-level");
	g.show_origin = arg_given("show-log-origin");
	if ((s = arg_value("log-path")) != NULL) {
		if ((g.log_fd = open_target(s)) == -1) {
			fprintf(stderr, "Error: LoggerInitialization(...)\n"
			    "Could not initialize logger: Failed to open "
			    "target file: %s\n", oserr(errno));
			exit(EXIT_GENERIC);
		}
	}
	fclog(LV_INFO, "main", "Running Firecracker v%s", FC_VERSION);
	if ((s = arg_value("metrics-path")) != NULL &&
	    metrics_init(s, err, sizeof(err)) == -1) {
		fprintf(stderr, "Error: MetricsInitialization(...)\n"
		    "Could not initialize metrics: Cannot initialize the "
		    "metrics system due to bad user input: %s\n", err);
		exit(EXIT_GENERIC);
	}
}

static void
setup_metadata(void)
{
	const char	*path = arg_value("metadata");
	json_t		*v;
	json_error_t	 jerr;

	if (path == NULL)
		return;
	if ((v = json_load_file(path, JSON_DECODE_ANY, &jerr)) == NULL) {
		fprintf(stderr, "MMDS error: metadata provided not valid "
		    "json: %s\n", jerr.text);
		exit(EXIT_GENERIC);
	}
	vm.mmds = v;
}

/* The stand-in's own options: from the command line, else the env. */
static void
setup_standin(void)
{
	const char	*v;
	char		*end;

	if ((v = arg_value("standin-arch")) == NULL &&
	    (v = getenv("FC_STANDIN_ARCH")) != NULL && *v == '\0')
		v = NULL;
	if (v != NULL && strcmp(v, "aarch64") == 0)
		g.aarch64 = 1;
	else if (v != NULL && strcmp(v, "x86_64") != 0)
		die(EXIT_GENERIC, "--standin-arch %s: x86_64 or aarch64", v);
#ifdef STANDIN_MODE_QEMU
	if (g.aarch64)
		die(EXIT_GENERIC, "--standin-arch aarch64: qemu mode runs "
		    "x86_64 guests only");
#endif
	if ((v = arg_value("standin-listen-delay")) == NULL &&
	    (v = getenv("FC_STANDIN_LISTEN_DELAY_MS")) != NULL && *v == '\0')
		v = NULL;
	if (v != NULL) {
		errno = 0;
		g.listen_delay = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno != 0 ||
		    g.listen_delay < 0 || g.listen_delay > 600000)
			die(EXIT_GENERIC, "--standin-listen-delay %s: "
			    "milliseconds, 0 to 600000", v);
	}
}

static void
setup_socket(void)
{
	struct sockaddr_un	sun;
	struct timespec		ts;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, g.api_sock, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		die(EXIT_GENERIC, "the API socket path %s is too long",
		    g.api_sock);
	g.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (g.listen_fd == -1)
		die(EXIT_GENERIC, "socket: %s", strerror(errno));
	if (bind(g.listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "Failed to open the API socket at: %s. Check "
		    "that it is not already used.\n", g.api_sock);
		fprintf(stderr, "Error: RunWithApi(FailedToBindSocket(\"%s\"))"
		    "\n", g.api_sock);
		fclog(LV_ERROR, "main", "Failed to open the API socket at: "
		    "%s. Check that it is not already used.", g.api_sock);
		exit(EXIT_GENERIC);
	}
	g.sock_made = 1;
	/* the file is there; until listen() a connect is refused */
	ts.tv_sec = g.listen_delay / 1000;
	ts.tv_nsec = g.listen_delay % 1000 * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	if (listen(g.listen_fd, 128) == -1)
		die(EXIT_GENERIC, "listen: %s", strerror(errno));
	fclog(LV_INFO, "fc_api", "API server started.");
}

static void
setup_signals(void)
{
	sigset_t	set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		die(EXIT_GENERIC, "sigprocmask: %s", strerror(errno));
	g.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (g.sig_fd == -1)
		die(EXIT_GENERIC, "signalfd: %s", strerror(errno));
}

static void
handle_signals(void)
{
	struct signalfd_siginfo	si;

	while (read(g.sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			guest_reap();
			break;
		case SIGHUP:
			/* Firecracker's handler: exit 156 */
			finish(EXIT_SIGHUP);
			break;
		default:
			fclog(LV_INFO, "main", "Shutting down on signal %u.",
			    si.ssi_signo);
			guest_signal((int)si.ssi_signo);
			break;
		}
	}
}

static int
out_pending(void)
{
	size_t	i;

	for (i = 0; i < g.nconns; i++)
		if (g.conns[i].outlen > g.conns[i].outoff)
			return 1;
	return 0;
}

static int
poll_timeout(void)
{
	int64_t	t = now_ms(), next = -1;

	if (g.exit_pending)
		next = g.exit_at;
	if (vm.metrics_next != 0 && (next == -1 || vm.metrics_next < next))
		next = vm.metrics_next;
#ifdef STANDIN_MODE_QEMU
	if (g.term_kill_at != 0 && (next == -1 || g.term_kill_at < next))
		next = g.term_kill_at;
#endif
	if (next == -1)
		return -1;
	return next <= t ? 0 : (int)(next - t);
}

static void
serve(void)
{
	struct pollfd	pfd[MAX_CONNECTIONS + 3];
	size_t		i, n;
	ssize_t		tty_slot;	/* stdin's pfd, or -1 */

	for (;;) {
		if (g.exit_pending && (now_ms() >= g.exit_at ||
		    !out_pending()))
			finish(g.exit_code);
		n = 0;
		tty_slot = -1;
		(void)tty_slot;
		pfd[n].fd = g.sig_fd;
		pfd[n++].events = POLLIN;
		pfd[n].fd = g.listen_fd;
		pfd[n++].events = POLLIN;
		for (i = 0; i < g.nconns; i++) {
			pfd[n].fd = g.conns[i].fd;
			pfd[n++].events = g.conns[i].outlen >
			    g.conns[i].outoff ? POLLOUT : POLLIN;
		}
#ifndef STANDIN_MODE_QEMU
		if (guest_console_fd() != -1) {
			tty_slot = n;
			pfd[n].fd = guest_console_fd();
			pfd[n++].events = POLLIN;
		}
#endif
		if (poll(pfd, n, poll_timeout()) == -1 && errno != EINTR)
			die(EXIT_GENERIC, "poll: %s", strerror(errno));
		if (pfd[0].revents & POLLIN)
			handle_signals();
		guest_timers();
		if (vm.metrics_next != 0 && now_ms() >= vm.metrics_next) {
			metrics_flush();
			vm.metrics_next = now_ms() + METRICS_PERIOD_MS;
		}
		for (i = g.nconns; i-- > 0;) {
			struct conn	*c = &g.conns[i];
			short		 re = pfd[i + 2].revents;

			if (re & POLLOUT)
				conn_flush(c);
			else if (re & (POLLIN | POLLHUP | POLLERR))
				conn_read(c);
			if (c->dead && c->outlen <= c->outoff)
				conn_close(i);
		}
		if (pfd[1].revents & POLLIN)
			conn_accept();
#ifndef STANDIN_MODE_QEMU
		if (tty_slot != -1 &&
		    (pfd[tty_slot].revents & (POLLIN | POLLHUP | POLLERR)))
			guest_console_input();
#endif
	}
}

int
main(int argc, char *argv[])
{
	g.listen_fd = g.sig_fd = g.reqlog_fd = g.log_fd = g.qmp_fd = -1;
	g.qemu_pid = -1;
	g.t0 = now_ms();
	vm.metrics_fd = vm.kernel_fd = -1;

	args_from_file(&argc, &argv);
	parse_args(argc, argv);
	if (arg_given("snapshot-version")) {
		printf("v5.0.0\n");
		return 0;
	}
	if (arg_given("describe-snapshot") || arg_given("config-file")) {
		fprintf(stderr, "fc-standin: --%s is not supported by this "
		    "stand-in\n", arg_given("config-file") ? "config-file" :
		    "describe-snapshot");
		return EXIT_GENERIC;
	}

	g.api_sock = arg_value("api-sock") != NULL ? arg_value("api-sock") :
	    DEFAULT_API_SOCK;
	vm.id = arg_value("id") != NULL ? arg_value("id") : DEFAULT_ID;
	check_instance_id(vm.id);
	g.max_payload = HTTP_MAX_PAYLOAD;
	if (arg_given("http-api-max-payload-size"))
		g.max_payload = num_arg("http-api-max-payload-size", "usize");
	if (arg_given("mmds-size-limit"))
		(void)num_arg("mmds-size-limit", "usize");
	if (arg_given("start-time-us"))
		(void)num_arg("start-time-us", "u64");
	if (arg_given("start-time-cpu-us"))
		(void)num_arg("start-time-cpu-us", "u64");
	if (arg_given("parent-cpu-time-us"))
		(void)num_arg("parent-cpu-time-us", "u64");
	setup_standin();
	if (arg_given("seccomp-filter") &&
	    access(arg_value("seccomp-filter"), R_OK) == -1) {
		fprintf(stderr, "Error: SeccompFilter(FileOpen(...))\n"
		    "Seccomp error: Filter file open error: %s\n",
		    oserr(errno));
		return EXIT_GENERIC;
	}

	vm.state = VM_NOT_STARTED;
	vm.vcpus = 1;
	vm.mem_mib = 128;
	vm.huge_pages = "None";
	vm.drives = json_array();
	vm.nets = json_array();

	setup_reqlog();
	setup_canned();
	setup_logging();
	setup_metadata();
	setup_signals();
	setup_socket();
	setvbuf(stdout, NULL, _IOLBF, 0);
	serve();
	return 0;
}
