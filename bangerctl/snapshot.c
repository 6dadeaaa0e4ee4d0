/*
 * bangerctl vm snapshot: take a snapshot of a running VM, list a VM's
 * snapshots, remove one.
 *
 *	vm snapshot NAME [SNAP]
 *	vm snapshot ls [--json] NAME
 *	vm snapshot rm NAME SNAP
 *	vm restore NAME SNAP
 */
#include <sys/types.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bangerctl.h"
#include "validate.h"
#include "wire.h"

static int
snap_name_check(const char *name)
{
	const char	*why;

	if (valid_name(name, strlen(name), &why) == -1) {
		warnx("invalid snapshot name \"%s\": %s; names are 1 to 63 "
		    "of a-z, 0-9 and '-', starting with a letter or digit",
		    name, why);
		return -1;
	}
	return 0;
}

static json_t *
snap_json(const struct snap_info *si)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I}",
	    "vm", si->si_vm, "name", si->si_snap, "state", si->si_state,
	    "created", (json_int_t)si->si_created,
	    "memory", (json_int_t)si->si_memory,
	    "vmstate", (json_int_t)si->si_vmstate,
	    "disk", (json_int_t)si->si_disk,
	    "disk_allocated", (json_int_t)si->si_disk_alloc,
	    "disk_copy", si->si_disk_how,
	    "paused_ms", (json_int_t)si->si_ms);
}

/*
 * One request; its snapshots printed, or as JSON (want: only the one
 * of that name, as an object), then its result (quiet: not printed if
 * it is a success).
 */
static int
snap_request(const struct ctl_snap *cs, int json, const char *want,
    int quiet)
{
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	struct snap_info	 si;
	struct image_progress	 ip;
	json_t			*all = NULL, *one = NULL;
	char			 b1[32], b2[32], b3[32];
	char			 what[PROTO_VMNAME_MAX + 32];
	size_t			 len, n = 0;
	int			 rv, drawn = 0;

	if (json)
		all = json_array();
	ctl_connect(&ibuf);
	ctl_send(&ibuf, IMSG_CTL_VM_SNAP, cs, sizeof(*cs));
	for (;;) {
		ctl_recv(&ibuf, &imsg);
		if (imsg_get_type(&imsg) == IMSG_CTL_SNAP_PROGRESS) {
			/* A disk copied (not reflinked): on a terminal, a bar. */
			if (imsg_get_data(&imsg, &ip, sizeof(ip)) == 0 &&
			    isatty(STDERR_FILENO)) {
				snprintf(what, sizeof(what), "vm %s: %s disk",
				    cs->cs_vm, cs->cs_action == CTL_SNAP_RESTORE ?
				    "restoring its" : "copying its");
				progress_bar(what, ip.ip_done, ip.ip_total);
				drawn = 1;
			}
			imsg_free(&imsg);
			continue;
		}
		if (imsg_get_type(&imsg) != IMSG_CTL_SNAP_INFO)
			break;
		if (imsg_get_data(&imsg, &si, sizeof(si)) == -1 ||
		    wire_string(si.si_vm, sizeof(si.si_vm), &len) == -1 ||
		    wire_string(si.si_snap, sizeof(si.si_snap), &len) == -1 ||
		    wire_string(si.si_state, sizeof(si.si_state), &len) ==
		    -1 || wire_string(si.si_disk_how, sizeof(si.si_disk_how),
		    &len) == -1)
			errx(1, "bad snapshot from bangerd");
		imsg_free(&imsg);
		if (json && want != NULL) {
			if (one == NULL && strcmp(si.si_snap, want) == 0)
				one = snap_json(&si);
			continue;
		}
		if (json) {
			json_array_append_new(all, snap_json(&si));
			continue;
		}
		if (n++ == 0)
			printf("%-24s %-9s %-8s %-10s %-10s %-10s %s\n",
			    "SNAPSHOT", "STATE", "AGE", "MEMORY", "DISK",
			    "ON DISK", "DISK COPY");
		printf("%-24s %-9s %-8s %-10s %-10s %-10s %s\n", si.si_snap,
		    si.si_state, fmt_duration(time(NULL) - si.si_created,
		    b1, sizeof(b1)), fmt_size(si.si_memory, b2, sizeof(b2)),
		    fmt_size(si.si_disk, b3, sizeof(b3)),
		    fmt_size(si.si_disk_alloc, b1, sizeof(b1)),
		    si.si_disk_how);
	}
	if (drawn)
		fputc('\n', stderr);
	rv = ctl_result(&imsg, quiet);
	imsg_free(&imsg);
	if (json && rv == 0 && want != NULL && one == NULL) {
		warnx("vm %s: snapshot %s is not listed", cs->cs_vm, want);
		rv = 1;
	}
	/* json_print() takes the reference it prints. */
	if (json && rv == 0 && want != NULL) {
		json_print(one);
		one = NULL;
	} else if (json && rv == 0) {
		json_print(all);
		all = NULL;
	}
	json_decref(all);
	json_decref(one);
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	return rv;
}

/*
 * vm snapshot [--json] NAME [SNAP], vm snapshot ls [--json] NAME,
 * vm snapshot rm [--json] NAME SNAP.  --json: the snapshot taken (as ls
 * lists it), the list, or what was removed.
 */
int
vm_snapshot(int argc, char **argv)
{
	struct ctl_snap	 cs, ls;
	int		 json = 0, i, rv;

	memset(&cs, 0, sizeof(cs));
	cs.cs_action = CTL_SNAP_CREATE;
	argc--;
	argv++;
	if (argc > 0 && strcmp(argv[0], "ls") == 0)
		cs.cs_action = CTL_SNAP_LS;
	else if (argc > 0 && strcmp(argv[0], "rm") == 0)
		cs.cs_action = CTL_SNAP_RM;
	if (cs.cs_action != CTL_SNAP_CREATE) {
		argc--;
		argv++;
	}
	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") != 0 && strcmp(argv[i], "-j") != 0)
			vm_usage();
		json = 1;
	}
	argc -= i;
	argv += i;
	if ((cs.cs_action == CTL_SNAP_LS && argc != 1) ||
	    (cs.cs_action == CTL_SNAP_RM && argc != 2) ||
	    (cs.cs_action == CTL_SNAP_CREATE && (argc < 1 || argc > 2)))
		vm_usage();
	if (check_name(argv[0]) == -1 ||
	    (argc == 2 && snap_name_check(argv[1]) == -1))
		return 1;
	strlcpy(cs.cs_vm, argv[0], sizeof(cs.cs_vm));
	if (argc == 2)
		strlcpy(cs.cs_snap, argv[1], sizeof(cs.cs_snap));
	if (cs.cs_action == CTL_SNAP_LS)
		return snap_request(&cs, json, NULL, 0);
	if (cs.cs_action == CTL_SNAP_RM) {
		if ((rv = snap_request(&cs, 0, NULL, json)) == 0 && json)
			json_print(json_pack("{s:s, s:s, s:b}", "vm", cs.cs_vm,
			    "name", cs.cs_snap, "removed", 1));
		return rv;
	}
	if (!json)
		return snap_request(&cs, 0, NULL, 0);
	/* A name of the moment, as the daemon would give: we must know it. */
	if (argc == 1)
		valid_name_now(cs.cs_snap, sizeof(cs.cs_snap));
	if ((rv = snap_request(&cs, 0, NULL, 1)) != 0)
		return rv;
	ls = cs;
	ls.cs_action = CTL_SNAP_LS;
	memset(ls.cs_snap, 0, sizeof(ls.cs_snap));
	return snap_request(&ls, 1, cs.cs_snap, 0);
}

int
vm_restore(int argc, char **argv)
{
	struct ctl_snap	 cs;

	if (argc != 3 || argv[1][0] == '-')
		vm_usage();
	if (check_name(argv[1]) == -1 || snap_name_check(argv[2]) == -1)
		return 1;
	memset(&cs, 0, sizeof(cs));
	cs.cs_action = CTL_SNAP_RESTORE;
	strlcpy(cs.cs_vm, argv[1], sizeof(cs.cs_vm));
	strlcpy(cs.cs_snap, argv[2], sizeof(cs.cs_snap));
	return snap_request(&cs, 0, NULL, 0);
}
