#!/bin/sh
# tcb.sh [-o] [OBJDIR]: what runs as root in bangerd, by file, with its
# lines (make tcb); -o: the objects of bangerd's own files that do, one
# a line (regress/docs/layout.sh checks what they call).  Root runs:
#   bangerd/parent/   the parent, all of it
#   bangerd/shared/   every process's start, until sandbox_enter()
#   bangerd/roles.c   the parent's table of the workers' limits
#   bangerd/*/main.c, bangerd/*/preinit.c, bangerd/vm/curlload.c
#                     a worker program's start, and what it does
#                     before its sandbox (the vm worker loads libcurl)
#   common/           the files of it that those link (found with nm
#                     in OBJDIR's objects), with their headers, and
#                     proto.h, the messages the parent reads
# The workers' other files run as _banger, chrooted, with no capability;
# regress/docs/layout.sh checks that root code calls none of their
# functions but the roles' event loops and the vm worker's provisioner's
# (vm_provisioner), each entered after sandbox_enter().
set -eu
objsonly=
if [ "${1:-}" = -o ]; then
	objsonly=1
	shift
fi
OBJDIR=${1:-obj}
B=$OBJDIR/build
cd "$(dirname "$0")/.."

srcs=$(ls bangerd/parent/*.[chy] bangerd/shared/*.[ch] bangerd/roles.c \
    bangerd/*/main.c bangerd/*/preinit.c bangerd/vm/curlload.c)
# The objects of those sources (a stale object of a removed file is not).
objs=
for f in $srcs; do
	case $f in
	*.c)	objs="$objs $B/${f%.c}.o" ;;
	*.y)	objs="$objs $B/${f%.y}.o" ;;
	esac
done
for o in $objs; do
	[ -f "$o" ] || { echo "tcb: $o missing: run make first" >&2; exit 1; }
done
if [ -n "$objsonly" ]; then
	printf '%s\n' $objs
	exit 0
fi

# The common objects root code needs, and what they need in turn.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# shellcheck disable=SC2086
nm -u --format=posix $objs | awk '{ print $1 }' | sort -u >"$T/need"
common=
while :; do
	added=
	for o in "$B"/common/*.o; do
		c=common/$(basename "$o" .o).c
		case " $common " in *" $c "*) continue ;; esac
		nm -g --defined-only --format=posix "$o" | awk '{ print $1 }' |
		    sort -u >"$T/defs"
		if grep -qFx -f "$T/need" "$T/defs"; then
			common="$common $c"
			nm -u --format=posix "$o" | awk '{ print $1 }' |
			    sort -u - "$T/need" >"$T/need2"
			mv "$T/need2" "$T/need"
			added=1
		fi
	done
	[ -n "$added" ] || break
done
for c in $common; do
	srcs="$srcs $c"
	[ -f "${c%.c}.h" ] && srcs="$srcs ${c%.c}.h"
done
srcs="$srcs common/proto.h"

echo "What runs as root in bangerd (make tcb):"
# shellcheck disable=SC2086
wc -l $(printf '%s\n' $srcs | sort -u) | awk '
    $2 == "total" { total = $1; next }
    { n++; printf "%7d  %s\n", $1, $2
      split($2, p, "/")
      room = p[1] == "common" ? "common" : \
	  ($2 ~ /(preinit|main|curlload)\.c$/ ? "preinit" : \
	  ($2 == "bangerd/roles.c" ? "shared" : p[2]))
      by[room] += $1 }
    END {
	printf "%d files, %d lines: parent %d, shared %d, workers'"'"' " \
	    "start %d, common %d\n", n, total, by["parent"], \
	    by["shared"], by["preinit"], by["common"] }'
