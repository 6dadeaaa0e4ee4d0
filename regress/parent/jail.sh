#!/bin/bash
# jail.sh: the jail Firecracker runs in and its process (bangerd/parent/
# jail.c, jailpath.c, jailspawn.c, fcproc.c and jailclean.c through
# $HELPERS/jail-drive): the binary check and exec through its fd, the
# jail's layout, the spawned process's identity, namespaces, root, fds,
# environment, privileges, cgroup and console, signals, adoption after
# a restart, the API socket grant, and cleanup.
#
# The Firecracker is a static stand-in built here: it prints its argv,
# fds and ids on its console, creates the API socket and waits for
# SIGTERM (no handler if /noterm exists in its root).
#
# Runs in a private mount namespace of its own: the jail's mounts are
# made and removed there.  Root only.  JAIL_KEEP=1 keeps the temporary
# directory.  HELPERS unset: jail-drive is built here with cc.

TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/regress/lib/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "jail" "needs root (mknod, mounts, namespaces, setuid)"
	t_done
fi
if [ -z "${JAIL_SH_UNSHARED:-}" ]; then
	if ! unshare -m --propagation private true 2>/dev/null; then
		skip "jail" "cannot make a private mount namespace here"
		t_done
	fi
	exec unshare -m --propagation private env JAIL_SH_UNSHARED=1 \
	    bash "$0" "$@"
fi
if ! command -v cc >/dev/null || [ ! -e /usr/lib/x86_64-linux-gnu/libc.a ] &&
    [ ! -e /usr/lib/libc.a ]; then
	skip "jail" "needs cc and a static libc for the stand-in"
	t_done
fi

T=$(mktemp -d /tmp/banger-jail.XXXXXX) || exit 1
chmod 0755 "$T"
PIDS=()
LOOP=
CG2=
CGMADE=
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	PIDS=()
	grep -o " $T/[^ ]*" /proc/self/mountinfo | sort -r |
	    while read -r m; do umount -l "$m" 2>/dev/null; done
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	LOOP=
	if [ -n "$CG2" ]; then
		for p in "$CG2"/banger/*/; do
			case $p in
			*/0123abcd/|*/4567cdef/|*/fedcba98/) rmdir "$p" ;;
			esac
		done 2>/dev/null
		[ -n "$CGMADE" ] && rmdir "$CG2/banger" 2>/dev/null
	fi
	if [ -n "${JAIL_KEEP:-}" ]; then
		echo "jail: kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

# --- the binaries -----------------------------------------------------

mkdir -m 0755 "$T/bin"
if [ -n "${HELPERS:-}" ]; then
	D=$HELPERS/jail-drive
else
	# Run by hand: the helper built as make check builds it.
	D=$TOP/obj/regress/helpers/jail-drive
	if ! make -s -C "$TOP" "obj/regress/helpers/jail-drive" \
	    >"$T/cc.log" 2>&1; then
		fail "jail: jail-drive builds" "$(tr '\n' ' ' <"$T/cc.log" | cut -c1-300)"
		t_done
	fi
fi
if [ ! -x "$D" ]; then
	fail "jail: jail-drive exists" "$D missing"
	t_done
fi

cat >"$T/standin.c" <<'EOF'
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t done;

static void
onterm(int sig)
{
	(void)sig;
	done = 1;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_un	 sun;
	const char		*sock = NULL, *base;
	int			 i, s, jailer;

	base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	jailer = strcmp(base, "jailer") == 0;
	printf("%s:", jailer ? "jailer argv" : "argv");
	for (i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	if (jailer)
		return 0;
	printf("fds:");
	for (i = 0; i < 1024; i++)
		if (fcntl(i, F_GETFD) != -1)
			printf(" %d", i);
	printf("\nids: pid %d uid %d gid %d\n", (int)getpid(), (int)getuid(),
	    (int)getgid());
	{
		struct sigaction	 sa;
		sigset_t		 set;
		int			 blocked = 0, ignored = 0;

		sigprocmask(SIG_BLOCK, NULL, &set);
		for (i = 1; i < NSIG; i++) {
			if (sigismember(&set, i) == 1)
				blocked++;
			if (sigaction(i, NULL, &sa) == 0 &&
			    sa.sa_handler == SIG_IGN)
				ignored++;
		}
		printf("signals: blocked %d ignored %d\n", blocked, ignored);
	}
	fflush(stdout);
	if (access("/noterm", F_OK) != 0)
		signal(SIGTERM, onterm);
	for (i = 1; i < argc - 1; i++)
		if (strcmp(argv[i], "--api-sock") == 0)
			sock = argv[i + 1];
	if (sock == NULL || (s = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return 1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, sock, sizeof(sun.sun_path) - 1);
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(s, 1) == -1) {
		perror("api socket");
		return 1;
	}
	printf("listening on %s\n", sock);
	fflush(stdout);
	while (!done)
		pause();
	unlink(sock);
	printf("bye\n");
	fflush(stdout);
	return 0;
}
EOF
if ! out=$(cc -static -O2 -o "$T/bin/firecracker" "$T/standin.c" 2>&1); then
	fail "jail: static stand-in builds" "$out"
	t_done
fi
chmod 0755 "$T/bin/firecracker"
FC=$T/bin/firecracker

STATE=$T/state
VUID=300123
VGID=300124
VMA=0123abcd		# kernel bind-mounted, disk and initrd hard-linked
VMB=4567cdef		# disk a loop device
VMC=89abcdef		# its jail directory a planted symlink
VMD=0badc0de		# disk on another fs, read-only
VMJ=fedcba98		# Firecracker's jailer (a stand-in)
JA=$STATE/jail/firecracker/$VMA
JB=$STATE/jail/firecracker/$VMB
JD=$STATE/jail/firecracker/$VMD
JJ=$STATE/jail/firecracker/$VMJ
mkdir -m 0711 "$STATE" "$STATE/vms"
mkdir -m 0755 "$T/images" "$T/otherfs" "$STATE/vmsfs"
mount -t tmpfs -o mode=0755 tmpfs "$T/otherfs"
mount -t tmpfs -o mode=0755 tmpfs "$STATE/vmsfs"
head -c 65536 /dev/urandom >"$T/otherfs/vmlinux"
head -c 65536 /dev/urandom >"$T/images/vmlinux"
head -c 8192 /dev/urandom >"$T/images/initrd"
chmod 0644 "$T/otherfs/vmlinux" "$T/images/vmlinux" "$T/images/initrd"
truncate -s 15M "$STATE/vms/a.img"
truncate -s 8M "$STATE/vms/b.img"
truncate -s 15M "$STATE/vms/j.img"
truncate -s 4M "$STATE/vmsfs/d.img"
echo "host file" >"$T/hostfile"
chmod 0644 "$T/hostfile"
mkdir "$T/hostdir" "$T/elsewhere"
echo keep >"$T/hostdir/keep"

spec() {	# spec VMID KERNEL DISK [more]
	local id=$1 k=$2 d=$3
	shift 3
	echo -s "$STATE" -i "$id" -u $VUID -g $VGID -k "$k" -d "$d" "$@"
}
SPECA=$(spec $VMA "$T/otherfs/vmlinux" "$STATE/vms/a.img" \
    -r "$T/images/initrd" -C 2 -m 256)

ino() { stat -L -c %d:%i "$1" 2>&1; }
starttime() { sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20; }
mounted() { grep -c " $1 " /proc/self/mountinfo; }

# --- fc_exec_check ----------------------------------------------------

check "exec check: accepts a root-owned 0755 binary" "$D" check "$FC"

refused() {	# refused NAME REGEX CMD...
	local name=$1 re=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		fail "$name" "accepted: $out"
	else
		expect_match "$name" "$out" "$re"
	fi
}

cp "$FC" "$T/bin/gw"
chmod 0775 "$T/bin/gw"
refused "exec check: refuses a group-writable file" \
    "$T/bin/gw: writable by its group" "$D" check "$T/bin/gw"
cp "$FC" "$T/bin/ow"
chmod 0757 "$T/bin/ow"
refused "exec check: refuses an other-writable file" \
    "$T/bin/ow: writable by others" "$D" check "$T/bin/ow"
mkdir -m 0757 "$T/owdir"
cp "$FC" "$T/owdir/firecracker"
refused "exec check: refuses an other-writable directory on the path" \
    "$T/owdir: writable by others" "$D" check "$T/owdir/firecracker"
mkdir -m 0755 "$T/userdir"
cp "$FC" "$T/userdir/firecracker"
chown 1000 "$T/userdir"
refused "exec check: refuses a directory not owned by root" \
    "$T/userdir: not owned by root" "$D" check "$T/userdir/firecracker"
cp "$FC" "$T/bin/notroot"
chown 1000:1000 "$T/bin/notroot"
refused "exec check: refuses a file not owned by root" \
    "$T/bin/notroot: not owned by root" "$D" check "$T/bin/notroot"
ln -s firecracker "$T/bin/link"
refused "exec check: refuses a symlink as the file" \
    "$T/bin/link: is a symlink" "$D" check "$T/bin/link"
ln -s bin "$T/binlink"
refused "exec check: refuses a symlink as a component" \
    "$T/binlink: is a symlink" "$D" check "$T/binlink/firecracker"
refused "exec check: refuses a directory" \
    "$T/bin: not a regular file" "$D" check "$T/bin"
refused "exec check: refuses a relative path" \
    "not absolute" "$D" check "bin/firecracker"
refused "exec check: refuses a .. component" \
    "component" "$D" check "$T/bin/../bin/firecracker"

# The fd is what runs: the file replaced after the check changes nothing.
cp /bin/echo "$T/bin/swap"
chmod 0755 "$T/bin/swap"
"$D" exec "$T/bin/swap" "$T/go" original >"$T/exec.out" 2>&1 &
xp=$!
PIDS+=($xp)
if wait_for 10 grep -q checked "$T/exec.out"; then
	printf '#!/bin/sh\necho replaced\n' >"$T/bin/swap.new"
	chmod 0755 "$T/bin/swap.new"
	mv -f "$T/bin/swap.new" "$T/bin/swap"
	touch "$T/go"
	wait $xp
	expect_eq "exec check: the checked file runs, not its replacement" \
	    "$(tail -1 "$T/exec.out")" "original"
else
	fail "exec check: the checked file runs, not its replacement" \
	    "$(cat "$T/exec.out")"
fi

# --- jail_prepare -----------------------------------------------------

layout() {	# layout NAME JAILDIR
	local n=$1 j=$2
	expect_eq "$n: jail dirs root-owned 0711" \
	    "$(stat -c '%u %a' "$STATE/jail" "$STATE/jail/firecracker" "$j" \
	    "$j/root" "$j/root/dev" "$j/root/dev/net" | sort -u)" "0 711"
	expect_eq "$n: run/ is the vm's, 0711" \
	    "$(stat -c '%u:%g %a' "$j/root/run")" "$VUID:$VGID 711"
	expect_eq "$n: dev/kvm is 10,232, the vm's, 0600" \
	    "$(stat -c '%F %Hr,%Lr %u:%g %a' "$j/root/dev/kvm")" \
	    "character special file 10,232 $VUID:$VGID 600"
	expect_eq "$n: dev/net/tun is 10,200, the vm's, 0600" \
	    "$(stat -c '%F %Hr,%Lr %u:%g %a' "$j/root/dev/net/tun")" \
	    "character special file 10,200 $VUID:$VGID 600"
	expect_eq "$n: dev/urandom is 1,9, the vm's, 0600" \
	    "$(stat -c '%F %Hr,%Lr %u:%g %a' "$j/root/dev/urandom")" \
	    "character special file 1,9 $VUID:$VGID 600"
}

prep_a() {	# prep_a NAME
	local n=$1
	if ! out=$("$D" prepare $SPECA 2>&1); then
		fail "$n: jail_prepare succeeds" "$out"
		return
	fi
	pass "$n: jail_prepare succeeds"
	layout "$n" "$JA"
	expect_eq "$n: kernel from another fs is one read-only bind mount" \
	    "$(grep " $JA/root/vmlinux " /proc/self/mountinfo |
	    awk '{split($6, o, ","); print o[1]}')" "ro"
	expect_eq "$n: the bind mount is the kernel itself" \
	    "$(ino "$JA/root/vmlinux")" "$(ino "$T/otherfs/vmlinux")"
	expect_eq "$n: initrd on the same fs is hard-linked" \
	    "$(stat -c '%d:%i %h' "$JA/root/initrd")" \
	    "$(ino "$T/images/initrd") 2"
	expect_eq "$n: disk file is hard-linked, the vm's, 0600" \
	    "$(stat -c '%d:%i %u:%g %a' "$JA/root/rootfs")" \
	    "$(ino "$STATE/vms/a.img") $VUID:$VGID 600"
}
prep_a "prepare"
prep_a "prepare again"

# jail_fifos: Firecracker's log and metrics FIFOs in run/
for f in firecracker.log firecracker.metrics; do
	ln -s /etc/passwd "$JA/root/run/$f"
done
check "fifos: made (what had the names is replaced)" \
    "$D" fifos "$STATE" $VMA $VUID 4242
for f in firecracker.log firecracker.metrics; do
	expect_eq "fifos: run/$f is a FIFO of the vm's uid, group 4242, 0640" \
	    "$(stat -c '%F %u:%g %a %h' "$JA/root/run/$f")" \
	    "fifo $VUID:4242 640 1"
done
expect_eq "fifos: the symlinks' targets are untouched" \
    "$(stat -c '%u:%g %a' /etc/passwd)" "0:0 644"
check "fifos: made again" "$D" fifos "$STATE" $VMA $VUID 4242
refused "fifos: refuses uid 0" "bad owner" "$D" fifos "$STATE" $VMA 0 4242
refused "fifos: refuses gid 0" "bad owner" "$D" fifos "$STATE" $VMA $VUID 0
refused "fifos: refuses a bad vm id" "vm id" "$D" fifos "$STATE" ../x $VUID 4242

if ! LOOP=$(losetup -f --show "$STATE/vms/b.img" 2>&1); then
	skip "prepare: block device disk" "losetup: $LOOP"
	LOOP=
else
	SPECB=$(spec $VMB "$T/images/vmlinux" "$LOOP")
	if out=$("$D" prepare $SPECB 2>&1); then
		pass "prepare: loop device disk"
		layout "prepare loop" "$JB"
		want="$(stat -c '%Hr,%Lr' "$LOOP") $VUID:$VGID 600"
		expect_eq "prepare: block disk is mknod'ed with its number" \
		    "$(stat -c '%F %Hr,%Lr %u:%g %a' "$JB/root/rootfs")" \
		    "block special file $want"
		expect_eq "prepare: kernel on the same fs is hard-linked" \
		    "$(ino "$JB/root/vmlinux")" "$(ino "$T/images/vmlinux")"
		expect_eq "prepare: hard-linked kernel is no mount" \
		    "$(mounted "$JB/root/vmlinux")" 0
	else
		fail "prepare: loop device disk" "$out"
	fi
	refused "prepare: refuses a loop device on a file outside STATE" \
	    "backing file" sh -c "l=\$(losetup -f --show $T/hostfile) &&
	    trap 'losetup -d \$l' EXIT &&
	    $D prepare $(spec $VMB "$T/images/vmlinux" "\$l")"
fi

SPECD=$(spec $VMD "$T/images/vmlinux" "$STATE/vmsfs/d.img" -R)
if out=$("$D" prepare $SPECD 2>&1); then
	pass "prepare: disk on another fs"
	expect_eq "prepare: read-only disk from another fs: ro bind mount" \
	    "$(grep " $JD/root/rootfs " /proc/self/mountinfo |
	    awk '{split($6, o, ","); print o[1]}')" "ro"
	expect_eq "prepare: read-only disk is the vm's, 0400" \
	    "$(stat -c '%d:%i %u:%g %a' "$JD/root/rootfs")" \
	    "$(ino "$STATE/vmsfs/d.img") $VUID:$VGID 400"
else
	fail "prepare: disk on another fs" "$out"
fi

ln -s "$T/elsewhere" "$STATE/jail/firecracker/$VMC"
refused "prepare: refuses a symlink as the jail directory" \
    "$STATE/jail/firecracker/$VMC: is a symlink" \
    "$D" prepare $(spec $VMC "$T/images/vmlinux" "$STATE/vms/a.img")
expect_eq "prepare: nothing made through the symlink" \
    "$(ls -A "$T/elsewhere")" ""
ln -s a.img "$STATE/vms/link.img"
refused "prepare: refuses a symlinked disk" "symlink" \
    "$D" prepare $(spec $VMA "$T/images/vmlinux" "$STATE/vms/link.img")
ln -s images "$T/imglink"
refused "prepare: refuses a kernel path through a symlink" \
    "$T/imglink: is a symlink" \
    "$D" prepare $(spec $VMA "$T/imglink/vmlinux" "$STATE/vms/a.img")
refused "prepare: refuses a disk outside the state dir" \
    "not under|not a banger" \
    "$D" prepare $(spec $VMA "$T/images/vmlinux" "$T/hostfile")
refused "prepare: refuses a uid outside the vm range" \
    "not in the vm range" \
    "$D" prepare -s "$STATE" -i $VMA -u 1000 -g $VGID \
    -k "$T/images/vmlinux" -d "$STATE/vms/a.img"
refused "prepare: refuses a bad vm id" "vm id" \
    "$D" prepare $(spec ../../x "$T/images/vmlinux" "$STATE/vms/a.img")

# --- fc_spawn ---------------------------------------------------------

# spawn_start NAME SPEC...: the drive in the background; DPID, CTL, FCPID
# and FCSTART set once the stand-in listens (0 returned), or 1.
spawn_start() {
	local n=$1
	shift
	rm -f "$T/$n.ctl" "$T/$n.pid" "$T/$n.console"
	mkfifo "$T/$n.ctl"
	"$D" spawn "$@" -x "$FC" -o "$T/$n.console" -p "$T/$n.pid" \
	    <"$T/$n.ctl" >"$T/$n.out" 2>"$T/$n.err" &
	DPID=$!
	PIDS+=($DPID)
	exec {CTL}>"$T/$n.ctl"
	if ! wait_for 10 test -s "$T/$n.pid"; then
		exec {CTL}>&-
		wait $DPID
		return 1
	fi
	read -r FCPID FCSTART <"$T/$n.pid"
	PIDS+=($FCPID)
	wait_for 10 grep -q listening "$T/$n.console"
}

spawn_end() {	# spawn_end: close its stdin, wait for the drive
	exec {CTL}>&-
	wait $DPID
}

CG2=$(sed -n 's/^[^ ]* [^ ]* [^ ]* [^ ]* \([^ ]*\) .* - cgroup2 .*/\1/p' \
    /proc/self/mountinfo | head -1)
CGOPT=
if [ -z "$CG2" ]; then
	skip "spawn: cgroup" "no cgroup2 mount here"
else
	[ -d "$CG2/banger" ] || CGMADE=1
	missing=
	for c in cpu memory pids; do
		grep -qw $c "$CG2/cgroup.controllers" || missing="$missing $c"
	done
	if [ -z "$missing" ]; then
		CGOPT="-c $CG2"
	else
		refused "spawn: refuses a cgroup2 without the controllers" \
		    "cgroup2 at $CG2 has no (cpu|memory|pids) controller" \
		    "$D" spawn $SPECA -c "$CG2" -x "$FC" -o "$T/x.console" \
		    -p "$T/x.pid"
		expect_eq "spawn: refused spawn leaves no cgroup" \
		    "$(ls -d "$CG2/banger/$VMA" 2>/dev/null)" ""
		skip "spawn: cgroup limits (cpu.max, memory.max, pids.max)" \
		    "cgroup2 at $CG2 lacks:$missing (bound to cgroup v1 here)"
		CGOPT="-c $CG2 -P"
	fi
fi
refused "spawn: refuses a cgroup root that is not cgroup2" \
    "not a cgroup2 mount" "$D" spawn $SPECA -c "$T/images" -x "$FC" \
    -o "$T/x.console" -p "$T/x.pid"

# A step of the child's that fails is named, with its errno: here the
# exec, of a script whose interpreter is missing.
printf '#!/nonexistent/sh\n' >"$T/bin/noexec"
chmod 0755 "$T/bin/noexec"
refused "spawn: a failed exec is reported, named and with its errno" \
    "spawn: exec: No such file or directory" \
    "$D" spawn $SPECA -x "$T/bin/noexec" -o "$T/x.console" -p "$T/x.pid"

# A socket left by a crash would keep Firecracker from starting.
touch "$JA/root/run/firecracker.socket"
# 900 more descriptors open in the drive, as bangerd holds two a VM.
if ! spawn_start a $SPECA $CGOPT -F 900; then
	fail "spawn: the stand-in starts and listens" \
	    "$(cat "$T/a.err" "$T/a.console" 2>/dev/null)"
else
	pass "spawn: the stand-in starts and listens (stale socket removed)"
	st=/proc/$FCPID/status
	expect_eq "spawn: runs as the vm's uid" \
	    "$(awk '/^Uid:/ {print $2,$3,$4,$5}' $st)" \
	    "$VUID $VUID $VUID $VUID"
	expect_eq "spawn: runs as the vm's gid" \
	    "$(awk '/^Gid:/ {print $2,$3,$4,$5}' $st)" \
	    "$VGID $VGID $VGID $VGID"
	expect_eq "spawn: no supplementary groups" \
	    "$(awk '/^Groups:/ {print $2}' $st)" ""
	expect_eq "spawn: no capabilities, none in the bounding set" \
	    "$(awk '/^Cap(Prm|Eff|Bnd|Amb):/ {print $2}' $st | sort -u)" \
	    "0000000000000000"
	expect_eq "spawn: no_new_privs" \
	    "$(awk '/^NoNewPrivs:/ {print $2}' $st)" 1
	expect_eq "spawn: pid 1 of its own pid namespace" \
	    "$(awk '/^NSpid:/ {print $2,$3}' $st)" "$FCPID 1"
	for ns in mnt pid ipc; do
		if [ "$(readlink /proc/$FCPID/ns/$ns)" != \
		    "$(readlink /proc/self/ns/$ns)" ]; then
			pass "spawn: own $ns namespace"
		else
			fail "spawn: own $ns namespace" \
			    "$(readlink /proc/$FCPID/ns/$ns)"
		fi
	done
	expect_eq "spawn: its root is the jail root" \
	    "$(ino /proc/$FCPID/root/)" "$(ino "$JA/root")"
	expect_eq "spawn: the old root is gone from its mounts" \
	    "$(awk '$5 == "/"' /proc/$FCPID/mountinfo | wc -l)" 1
	# The drive runs in the background (INT and QUIT ignored) and
	# blocks every signal around clone3().
	expect_match "spawn: no signal ignored or blocked at exec" \
	    "$(cat "$T/a.console")" "^signals: blocked 0 ignored 0$"
	expect_match "spawn: only 0-2 open at exec" \
	    "$(cat "$T/a.console")" "^fds: 0 1 2$"
	# Its table is not a copy of the drive's (jailspawn.c): at
	# thousands of VMs that copy, and closing it all at exec, was
	# most of what a spawn cost more than at one.
	expect_eq "spawn: none of the drive's 900 other descriptors copied (table size)" \
	    "$(awk '/^FDSize:/ {print $2}' $st)" 64
	expect_eq "spawn: now 0-2 and its api socket" \
	    "$(ls /proc/$FCPID/fd | tr '\n' ' ')" "0 1 2 3 "
	expect_match "spawn: stdin/out/err are a pty" \
	    "$(readlink /proc/$FCPID/fd/0 /proc/$FCPID/fd/1 \
	    /proc/$FCPID/fd/2 | sort -u)" '^/dev/pts/[0-9]+$'
	expect_eq "spawn: empty environment" \
	    "$(wc -c </proc/$FCPID/environ)" 0
	expect_eq "spawn: nofile 2048, core 0, fsize the disk's size" \
	    "$(awk '/^Max (open files|core file size|file size)/ \
	    {print $(NF-2)}' /proc/$FCPID/limits | tr '\n' ' ')" \
	    "15728640 0 2048 "
	expect_match "spawn: console shows Firecracker's argv" \
	    "$(cat "$T/a.console")" \
	    "^argv: firecracker --api-sock /run/firecracker.socket --id $VMA$"
	expect_match "spawn: console shows pid 1 and the vm's ids" \
	    "$(cat "$T/a.console")" "^ids: pid 1 uid $VUID gid $VGID$"
	if [ -S "$JA/root/run/firecracker.socket" ]; then
		pass "spawn: api socket in the jail's run/"
	else
		fail "spawn: api socket in the jail's run/" \
		    "$(ls -la "$JA/root/run")"
	fi
	if [ -n "$CG2" ]; then
		expect_eq "spawn: in its cgroup banger/$VMA" \
		    "$(grep '^0::' /proc/$FCPID/cgroup)" "0::/banger/$VMA"
		expect_eq "spawn: the cgroup holds only it" \
		    "$(cat "$CG2/banger/$VMA/cgroup.procs")" "$FCPID"
	fi
	if [ -n "$CG2" ] && [ -z "$missing" ]; then
		expect_eq "spawn: cpu.max from 2 vcpus" \
		    "$(cat "$CG2/banger/$VMA/cpu.max")" "200000 100000"
		expect_eq "spawn: memory.max from 256 MiB and overhead" \
		    "$(cat "$CG2/banger/$VMA/memory.max")" \
		    "$(( (256 + 64) * 1048576 ))"
		expect_eq "spawn: pids.max" \
		    "$(cat "$CG2/banger/$VMA/pids.max")" 34
	fi

	# fc_adopt
	check "adopt: accepts the running firecracker" \
	    "$D" adopt "$FC" $VMA $FCPID $FCSTART
	refused "adopt: refuses a wrong start time" "start time mismatch" \
	    "$D" adopt "$FC" $VMA $FCPID $((FCSTART + 1))
	refused "adopt: refuses another vm's id" "--id does not match" \
	    "$D" adopt "$FC" $VMB $FCPID $FCSTART
	refused "adopt: refuses pid 1" "pid 1" \
	    "$D" adopt "$FC" $VMA 1 "$(starttime 1)"
	refused "adopt: refuses its own pid" "own pid" \
	    "$D" adopt "$FC" $VMA self 0
	refused "adopt: refuses its parent" "parent pid" \
	    "$D" adopt "$FC" $VMA parent 0
	bash -c 'exec -a firecracker sleep 60' &
	op=$!
	PIDS+=($op)
	wait_for 5 grep -q firecracker /proc/$op/cmdline
	refused "adopt: refuses a process only named firecracker" \
	    "no --id" "$D" adopt "$FC" $VMA $op "$(starttime $op)"
	"$FC" --api-sock "$T/other.sock" --id $VMB >/dev/null 2>&1 &
	op2=$!
	PIDS+=($op2)
	wait_for 5 test -S "$T/other.sock"
	refused "adopt: refuses another firecracker" "--id does not match" \
	    "$D" adopt "$FC" $VMA $op2 "$(starttime $op2)"
	kill $op $op2 2>/dev/null
	wait $op $op2 2>/dev/null

	# fc_socket_grant
	if out=$("$D" grant "$STATE" $VMA 4242 2>&1); then
		expect_eq "grant: socket keeps its owner, gets group, 0660" \
		    "$(stat -c '%u:%g %a' "$JA/root/run/firecracker.socket")" \
		    "$VUID:4242 660"
	else
		fail "grant: socket keeps its owner, gets group, 0660" "$out"
	fi
	refused "grant: refuses gid 0" "bad gid" "$D" grant "$STATE" $VMA 0

	# fc_signal
	echo term >&$CTL
	if wait_for 5 sh -c "! kill -0 $FCPID 2>/dev/null"; then
		pass "signal: SIGTERM through the pidfd ends it"
	else
		fail "signal: SIGTERM through the pidfd ends it" "still running"
	fi
	spawn_end
	expect_eq "signal: reaped with its exit status; gone is fine after" \
	    "$(tail -3 "$T/a.out" | tr '\n' ' ')" \
	    "signal term ok exited 0 resignal ok "
	expect_match "signal: the console saw it end" \
	    "$(cat "$T/a.console")" "^bye$"
	if [ -n "$CG2" ]; then
		check "cgroup: removed after exit" "$D" cgremove "$CG2" $VMA
		expect_eq "cgroup: directory gone" \
		    "$(ls -d "$CG2/banger/$VMA" 2>/dev/null)" ""
		check "cgroup: removing it again is fine" \
		    "$D" cgremove "$CG2" $VMA
	fi
fi

# pid 1 of a namespace drops signals it has no handler for, even from
# the parent's namespace: SIGTERM does nothing, fc_stop's SIGKILL does.
touch "$JA/root/noterm"
if ! spawn_start a2 $SPECA; then
	fail "stop: a stand-in ignoring SIGTERM starts" "$(cat "$T/a2.err")"
else
	echo term >&$CTL
	sleep 1
	n="stop: unhandled SIGTERM to a pid namespace's init is dropped"
	if kill -0 $FCPID 2>/dev/null; then
		pass "$n"
	else
		fail "$n" "it exited"
	fi
	echo stop >&$CTL
	spawn_end
	expect_eq "stop: fc_stop ends it with SIGKILL" \
	    "$(tail -1 "$T/a2.out")" "killed 9"
	expect_match "stop: fc_stop says why" "$(cat "$T/a2.err")" \
	    "still running 1000 ms after SIGTERM; killing it"
fi
rm -f "$JA/root/noterm"
refused "spawn: refuses a stale record of a gone process" \
    "no such process|start time mismatch" \
    "$D" adopt "$FC" $VMA $FCPID $FCSTART

# Firecracker's jailer (a stand-in that prints its argv): no device
# nodes made (the jailer makes them and fails if they exist), and the
# arguments it gets.
cp "$FC" "$T/bin/jailer"
chmod 0755 "$T/bin/jailer"
SPECJ=$(spec $VMJ "$T/images/vmlinux" "$STATE/vms/j.img" -j "$T/bin/jailer" \
    -f "$FC")
if out=$("$D" prepare $SPECJ 2>&1); then
	pass "jailer: prepare"
	expect_eq "jailer: no device nodes made for it" \
	    "$(find "$JJ/root/dev" ! -type d)" ""
	rm -f "$T/j.console"
	# What a crashed jailer run leaves: removed before the next.
	mknod "$JJ/root/dev/kvm" c 10 232
	mknod "$JJ/root/dev/net/tun" c 10 200
	touch "$JJ/root/firecracker.pid" "$JJ/root/firecracker"
	# The jailer is cloned into the VM's cgroup, which banger makes
	# (the jailer finds it there); it writes only the limits whose
	# controllers are on (the real one fails on any other).
	if out=$("$D" spawn $SPECJ $CGOPT -x "$T/bin/jailer" \
	    -o "$T/j.console" -p "$T/j.pid" </dev/null 2>&1); then
		want="jailer argv: jailer --id $VMJ --exec-file $FC"
		want="$want --uid $VUID --gid $VGID"
		want="$want --chroot-base-dir $STATE/jail --cgroup-version 2"
		[ -n "$CG2" ] && want="$want --parent-cgroup banger"
		if [ -n "$CG2" ] && [ -z "$missing" ]; then
			want="$want --cgroup cpu.max=100000 100000"
			want="$want --cgroup memory.max=201326592"
			want="$want --cgroup pids.max=33"
		fi
		want="$want --resource-limit no-file=2048"
		want="$want --resource-limit fsize=15728640"
		want="$want -- --api-sock /run/firecracker.socket"
		expect_eq "jailer: gets banger's layout, uid, gid, limits" \
		    "$(cat "$T/j.console")" "$want"
		expect_match "jailer: reaped" "$out" "exited 0"
		if [ -n "$CG2" ]; then
			expect_eq "jailer: banger made the VM's cgroup for it" \
			    "$(ls -d "$CG2/banger/$VMJ" 2>/dev/null)" \
			    "$CG2/banger/$VMJ"
			check "jailer: its cgroup removed after exit" \
			    "$D" cgremove "$CG2" $VMJ
		fi
		expect_eq "jailer: what a previous run left is gone" \
		    "$(cd "$JJ/root" && ls -d dev/kvm dev/net/tun \
		    firecracker.pid firecracker 2>/dev/null)" ""
	else
		fail "jailer: spawn" "$out"
	fi
	refused "jailer: refuses a firecracker not named firecracker" \
	    "named \"firecracker\"" "$D" prepare $(spec $VMJ \
	    "$T/images/vmlinux" "$STATE/vms/a.img" -j "$T/bin/jailer" \
	    -f "$T/bin/swap")
else
	fail "jailer: prepare" "$out"
fi

if [ -n "$LOOP" ]; then
	ln -s "$T/hostfile" "$JB/root/run/firecracker.socket"
	refused "grant: refuses a symlinked socket" "is a symlink" \
	    "$D" grant "$STATE" $VMB 4242
	expect_eq "grant: the symlink's target is untouched" \
	    "$(stat -c '%u:%g %a' "$T/hostfile")" "0:0 644"
	rm -f "$JB/root/run/firecracker.socket"
	touch "$JB/root/run/firecracker.socket"
	refused "grant: refuses a socket that is a file" "not a socket" \
	    "$D" grant "$STATE" $VMB 4242
fi

# --- jail_cleanup -----------------------------------------------------

ln -s "$T/hostfile" "$JA/root/evil"
ln -s "$T/hostdir" "$JA/root/evildir"
mkdir "$JA/root/mnt" "$JA/root/nest"
mount --bind "$T/hostdir" "$JA/root/mnt"
mount -t tmpfs tmpfs "$JA/root/nest"
mkdir "$JA/root/nest/sub"
mount --bind "$T/hostdir" "$JA/root/nest/sub"
if out=$("$D" cleanup "$STATE" $VMA 2>&1); then
	pass "cleanup: succeeds with mounts and planted symlinks"
else
	fail "cleanup: succeeds with mounts and planted symlinks" "$out"
fi
expect_eq "cleanup: the jail is gone" "$(ls -d "$JA" 2>/dev/null)" ""
expect_eq "cleanup: nothing mounted below it any more" \
    "$(grep -c " $JA" /proc/self/mountinfo)" 0
expect_eq "cleanup: a symlink's target is untouched" \
    "$(cat "$T/hostfile")" "host file"
expect_eq "cleanup: a symlinked or bind-mounted directory's files stay" \
    "$(cat "$T/hostdir/keep")" "keep"
expect_eq "cleanup: the kernel it had bind-mounted stays" \
    "$(stat -c %s "$T/otherfs/vmlinux")" 65536
expect_eq "cleanup: the disk it had linked stays" \
    "$(stat -c '%s %h' "$STATE/vms/a.img")" "15728640 1"
check "cleanup: again is fine (missing is success)" \
    "$D" cleanup "$STATE" $VMA
check "cleanup: a vm never prepared is fine" "$D" cleanup "$STATE" 0badbeef
refused "cleanup: refuses a symlink as the jail directory" "is a symlink" \
    "$D" cleanup "$STATE" $VMC
if [ -L "$STATE/jail/firecracker/$VMC" ] && [ -d "$T/elsewhere" ]; then
	pass "cleanup: the symlink and its target are left alone"
else
	fail "cleanup: the symlink and its target are left alone" \
	    "$(ls -la "$STATE/jail/firecracker")"
fi
rm -f "$STATE/jail/firecracker/$VMC"
for v in $VMB $VMD $VMJ; do
	check "cleanup: $v" "$D" cleanup "$STATE" $v
done
expect_eq "cleanup: every jail gone" "$(ls -A "$STATE/jail/firecracker")" ""
expect_eq "cleanup: no mount left in the jails" \
    "$(grep -c " $STATE/jail" /proc/self/mountinfo)" 0

# --- nothing left -----------------------------------------------------

left=
for p in "${PIDS[@]}"; do
	kill -0 "$p" 2>/dev/null && left="$left $p"
done
expect_eq "after: no process left" "$left" ""
if [ -n "$CG2" ]; then
	expect_eq "after: no cgroup left" \
	    "$(ls -d "$CG2/banger/$VMA" "$CG2/banger/$VMJ" 2>/dev/null)" ""
fi
tmpT=$T
cleanup
trap - EXIT
expect_eq "after: no mount left" "$(grep -c " $tmpT" /proc/self/mountinfo)" 0
expect_eq "after: temp dir removed" "$(ls -d "$tmpT" 2>/dev/null)" ""
if [ -n "$CG2" ] && [ -n "$CGMADE" ]; then
	expect_eq "after: no banger cgroup left" \
	    "$(ls -d "$CG2/banger" 2>/dev/null)" ""
fi
t_done
