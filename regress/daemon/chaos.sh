# Chaos: SIGKILL of the parent and of each worker at random points in
# concurrent VM lifecycles (create with a published port and start,
# snapshot, restore, a clone of the snapshot made, started and removed,
# stop, start, rm; a user's creations removed by vm
# prune; snapshots of a long-lived VM taken and removed; images imported
# from an OCI layout and pulled from a registry by the pull worker, and
# removed; all together),
# next to two long-lived running VMs, with copy and reflink
# storage.  After every kill, once bangerd has settled, what it
# records, what it shows and what the host holds must agree: leftovers
# are counted by kind (records, links and taps, disks, jails,
# Firecracker processes, cgroups, NAT rules, leases, loop devices,
# mounts, temporary files), and every VM's reported state is compared
# with the process table and with what its Firecracker says of itself.
# Any leftover or mismatch fails.  The long-lived VMs must keep running,
# the same processes, through every kill.
#
#	CHAOS_PARENT_KILLS	parent kills in all (default 40)
#	CHAOS_WORKER_KILLS	vm and net worker kills in all (default 20)
#	CHAOS_STORAGE		"copy reflink" (the kills are shared out)
#	CHAOS_SEED		for $RANDOM (default: the pid)
#
# make chaos N=500 runs the long form and prints the table.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "chaos" "needs root to start and kill bangerd"
	t_done
fi
PK=${CHAOS_PARENT_KILLS:-40}
WK=${CHAOS_WORKER_KILLS:-20}
STORAGES=${CHAOS_STORAGE:-copy reflink}
RANDOM=${CHAOS_SEED:-$$}
echo "chaos: seed ${CHAOS_SEED:-$$}, $PK parent and $WK worker kills," \
    "storage: $STORAGES"

CG2=$(awk '$0 ~ / - cgroup2 / && $4 == "/" { print $5; exit }' \
    /proc/self/mountinfo)
[ -n "$CG2" ] && [ ! -d "$CG2/banger" ] && CGMADE=1

declare -A LEFT		# leftovers by kind, over the whole run
KINDS="records taps disks jails processes cgroups nat leases loops mounts
    tmpfiles states lost snapshots"
for k in $KINDS; do LEFT[$k]=0; done
KILLS_PARENT=0 KILLS_VM=0 KILLS_NET=0 CHECKS=0

XFS=
chaos_cleanup() {
	touch "$T/stop" 2>/dev/null
	[ -n "${LOOPS:-}" ] && wait $LOOPS 2>/dev/null
	daemon_cleanup
	if [ -n "$XFS" ]; then
		umount "$XFS" 2>/dev/null
		rm -rf "$XFS"
	fi
	[ -n "${XFSIMG:-}" ] && rm -f "$XFSIMG"
	[ -n "${CGMADE:-}" ] && rmdir "$CG2/banger" 2>/dev/null
	[ -n "${IMPORTED:-}" ] && rm -f "$IMPORTED"
	if [ -n "${REGPID:-}" ]; then
		kill "$REGPID" 2>/dev/null
		wait "$REGPID" 2>/dev/null
	fi
	return 0
}
trap chaos_cleanup EXIT

# bangerd in the test's network namespace but the host's mount
# namespace, so that the cgroup2 mount (and VM cgroups) are there.
chaos_start() {
	nsenter --net="/run/netns/$NS" "$BANGERD" -d -f "$CONF" \
	    >>"$DLOG" 2>&1 &
	DPID=$!
	wait_for 15 daemon_workers_running && wait_for 15 ctl vm ls
}

# $1 leftovers of kind $2 (a list, one per line, or empty), at $3.
left() {
	local n
	n=$(printf '%s' "$1" | grep -c . || true)
	[ "$n" -eq 0 ] && return
	LEFT[$2]=$((LEFT[$2] + n))
	fail "chaos: $3: $2 left" "$(printf '%s' "$1" | tr '\n' ' ' |
	    cut -c1-300)"
}

# The net worker's leases against WANT ("ID ADDRESS" lines).
leases_diff() {
	comm -3 <(grep -v '^#' "$STATE/net/ipam.table" | sort) \
	    <(echo "$1" | grep .)
}

# What may exist: from vm ls.  Everything the host holds is compared.
chaos_check() {
	local at=$1 js ids running pub i p st want got cg
	js=$(ctl vm ls --json 2>/dev/null) || {
		fail "chaos: $at: vm ls answers" "$(tail -3 "$DLOG")"
		return
	}
	CHECKS=$((CHECKS + 1))
	ids=$(echo "$js" | jq -r '.[].id' | sort)
	running=$(echo "$js" | jq -r '.[] | select(.state == "running" or
	    .state == "paused") | .id' | sort)
	# Records: the parent's and the vm worker's, one per VM, no more
	# (the parent's run-time record, ID.run, beside its ID).
	left "$(comm -3 <(ls "$STATE/priv" | sed 's/\.run$//' | sort -u) <(echo "$ids" |
	    grep .))" records "$at"
	left "$(comm -3 <(ls "$STATE/vms" | sort) <(echo "$ids" |
	    grep .))" records "$at"
	# Taps: one per VM.
	left "$(comm -3 <(vm_taps | sed 's/^fc-tap-//' | sort) <(echo "$ids" |
	    grep .))" taps "$at"
	# Spare taps (vm_taps leaves out those root's and down): at most
	# 16 (tap.c); any past them is a leftover.
	left "$(spare_taps | tail -n +17)" "spare taps" "$at"
	# Disks: one file per VM.
	left "$(comm -3 <(ls "$STATE/disks" | sort) <(echo "$ids" |
	    grep . | sed 's/$/.ext4/'))" disks "$at"
	# Jails, cgroups and processes: those of running VMs only.
	left "$(comm -3 <(ls "$STATE/jail/firecracker" 2>/dev/null | sort) \
	    <(echo "$running" | grep .))" jails "$at"
	if [ -n "$CG2" ]; then
		cg=$(for d in "$CG2"/banger/*/; do
			[ -d "$d" ] || continue
			[ "$(getfattr --only-values -n trusted.banger \
			    "$d" 2>/dev/null)" = "$STATE" ] &&
			    basename "$d"
		done | sort)
		left "$(comm -3 <(echo "$cg" | grep .) <(echo "$running" |
		    grep .))" cgroups "$at"
	fi
	want=$(echo "$js" | jq -r '.[] | select(.state == "running" or
	    .state == "paused") | .pid' | sort)
	got=$(our_firecrackers | sort)
	left "$(comm -3 <(echo "$got" | grep .) <(echo "$want" | grep .))" \
	    processes "$at"
	# No import runs once the loops are done: no pull worker, and every
	# image in the store whole.
	left "$(pull_workers)" processes "$at"
	for p in "$STATE"/images/*/; do
		[ -d "$p" ] || continue
		[ -s "$p/rootfs.ext4" ] && [ -s "$p/vmlinux" ] ||
		    left "$p: not whole" tmpfiles "$at"
	done
	# Running means booted: Firecracker itself says so.
	for i in $running; do
		st=$(curl -s --max-time 5 --unix-socket \
		    "$STATE/jail/firecracker/$i/root/run/firecracker.socket" \
		    http://localhost/ | jq -r .state 2>/dev/null)
		case $st in
		Running|Paused)	;;
		*)	left "$i says \"$st\"" states "$at" ;;
		esac
	done
	# NAT: a DNAT rule per published port of a running VM.
	pub=$(echo "$js" | jq -r '.[] | select(.state == "running" or
	    .state == "paused") | .publish[]' | sed 's/:.*//' | sort)
	got=$(in_ns nft list table ip banger 2>/dev/null |
	    sed -n "s/.* dport \([0-9]*\) dnat to .*/\1/p" | sort)
	left "$(comm -3 <(echo "$got" | grep .) <(echo "$pub" | grep .))" \
	    nat "$at"
	# Leases: one per VM, its address.
	want=$(echo "$js" | jq -r '.[] | "\(.id) \(.address)"' | sort)
	# The net worker writes its table's changes a quarter second later.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ -z "$(leases_diff "$want")" ] && break
		sleep 0.2
	done
	left "$(leases_diff "$want")" leases "$at"
	left "$(losetup -a | grep -F "$T/" | grep -v "$XFSIMG" || true)" \
	    loops "$at"
	left "$(awk '{print $5}' /proc/self/mountinfo | grep -F "$STATE" ||
	    true)" mounts "$at"
	# A running VM's metrics flush writes .metrics.json.tmp and renames
	# it, a few milliseconds each second: a file seen in two looks half
	# a second apart is left, one seen once was in flight.
	tmpfiles() { find "$STATE" -name '*.tmp' -o -name '.reflink-probe.*' \
	    -o -path "$STATE/images/.*" -o -name '*.ext4.new' -o \
	    -name '*.cow' 2>/dev/null | sort; }
	got=$(tmpfiles)
	[ -n "$got" ] && sleep 0.5
	left "$(comm -12 <(echo "$got") <(tmpfiles) | grep . || true)" \
	    tmpfiles "$at"
	# Snapshots: on disk exactly those the records name ready, and
	# none cut short (creating, removing) once bangerd has settled.
	left "$(comm -3 <(cd "$STATE/snapshots" 2>/dev/null &&
	    find . -mindepth 2 -maxdepth 2 | sed 's,^\./,,' | sort) \
	    <(for f in "$STATE"/priv/*; do
		[ -f "$f" ] || continue
		case $f in *.run) continue ;; esac
		awk -v id="${f##*/}" '$1 == "snap" && $3 == 2 {
		    print id "/" $2 }' "$f"
	    done | sort))" snapshots "$at"
	left "$(grep -l '^snap [^ ]* [13] ' "$STATE"/priv/* 2>/dev/null)" \
	    snapshots "$at"
	# No VM lost: the long-lived ones run on, the same processes.
	for p in $KEEP; do
		st=$(echo "$js" | jq -r ".[] | select(.name == \"${p%:*}\") |
		    \"\(.state) \(.pid)\"")
		[ "$st" = "running ${p#*:}" ] ||
		    left "${p%:*}: $st, not running ${p#*:}" lost "$at"
	done
}

# One lifecycle after another, new names and ports each time, until
# $T/stop appears.
lifecycle() {
	local slot=$1 i=0 n
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		n=c$slot-$i-$RANDOM
		if ! ctl vm create "$n" --publish \
		    "$((20000 + slot * 2000 + i % 2000)):80" --start \
		    >/dev/null 2>&1; then
			sleep 0.05
			continue
		fi
		ctl vm snapshot "$n" s1 >/dev/null 2>&1
		ctl vm restore "$n" s1 >/dev/null 2>&1
		ctl vm create "$n-k" --from-snapshot "$n/s1" --start \
		    >/dev/null 2>&1
		ctl vm rm -f "$n-k" >/dev/null 2>&1
		ctl vm stop "$n" >/dev/null 2>&1
		ctl vm start "$n" >/dev/null 2>&1
		ctl vm rm -f "$n" >/dev/null 2>&1
	done
}

# A long-lived VM's snapshots taken and removed, until $T/stop: a kill
# in the middle of one must leave it running, not paused.
snapshots() {
	local i=0
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		ctl vm snapshot keep1 "k$i" >/dev/null 2>&1
		ctl vm snapshot rm keep1 "k$i" >/dev/null 2>&1
	done
}

# Images imported from an OCI layout (the pull worker unpacking it) and
# pulled from a registry in the namespace (fakereg.py serving the same
# layout), either at random, and removed, until $T/stop.
imports() {
	local i=0 n
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		# (a daemon down, as after a kill: wait for it, not spin)
		if [ $(((i + RANDOM) % 2)) -eq 1 ]; then
			ctl image import "oci-$i-$RANDOM" --kernel-from default \
			    --oci-layout "$T/oci" --size 16M >/dev/null 2>&1 &&
			    echo "import $i" >>"$IMPORTED" || sleep 0.2
		else
			ctl image pull 127.0.0.1:5000/chaos/app \
			    --name "oci-$i-$RANDOM" --kernel-from default \
			    --size 16M >/dev/null 2>&1 &&
			    echo "pull $i" >>"$IMPORTED" || sleep 0.2
		fi
		for n in $(ctl image ls --json 2>/dev/null |
		    jq -r '.[].name | select(startswith("oci-"))'); do
			ctl image rm "$n" >/dev/null 2>&1
		done
	done
}

# A user's few VMs at a time, each batch removed by one vm prune (the
# parent records their removals in one group commit), until $T/stop.
prunes() {
	local i=0 j
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		for j in 1 2 3; do
			user vm create "p-$i-$j-$RANDOM" >/dev/null 2>&1
		done
		user vm prune >/dev/null 2>&1
	done
}

# Wait for no VM to be in a passing state (creating, starting, ...),
# nor paused: only a snapshot pauses a VM here, and one cut short
# resumes it after the restart.
settle() {
	wait_for 20 sh -c "[ \"\$($BANGERCTL -s $SOCK vm ls --json 2>/dev/null |
	    jq '[.[] | select(.state == \"creating\" or .state == \"starting\"
	    or .state == \"stopping\" or .state == \"removing\" or
	    .state == \"paused\")] | length')\" = 0 ]"
}

# Remove every VM but the long-lived ones, then nothing else may exist.
sweep_transient() {
	local n
	for n in $(ctl vm ls --json | jq -r '.[].name'); do
		case " $KEEPNAMES " in *" $n "*) continue ;; esac
		ctl vm rm -f "$n" >/dev/null 2>&1 ||
		    fail "chaos: vm rm -f $n" "$(ctl vm show --json "$n" |
		    jq -c '{state, error}')"
	done
	for n in $(ctl image ls --json | jq -r '.[].name |
	    select(startswith("oci-"))'); do
		ctl image rm "$n" >/dev/null 2>&1 ||
		    fail "chaos: image rm $n" "refused"
	done
}

round() {
	local k=$1 kind=$2 j
	rm -f "$T/stop"
	LOOPS=
	for j in 1 2 3; do
		lifecycle "$j" &
		LOOPS="$LOOPS $!"
	done
	prunes &
	LOOPS="$LOOPS $!"
	snapshots &
	LOOPS="$LOOPS $!"
	imports &
	LOOPS="$LOOPS $!"
	sleep "0.$(printf '%03d' $((RANDOM % 300)))"
	case $kind in
	parent)
		daemon_kill
		KILLS_PARENT=$((KILLS_PARENT + 1))
		;;
	vm|net)
		kill -KILL "$(worker_pid "$kind" 2>/dev/null)" 2>/dev/null
		[ "$kind" = vm ] && KILLS_VM=$((KILLS_VM + 1)) ||
		    KILLS_NET=$((KILLS_NET + 1))
		;;
	esac
	touch "$T/stop"
	wait $LOOPS 2>/dev/null
	LOOPS=
	if [ "$kind" = parent ]; then
		if ! chaos_start; then
			fail "chaos: kill $k: bangerd starts again" \
			    "$(tail -5 "$DLOG")"
			return 1
		fi
	elif ! wait_for 15 daemon_workers_running; then
		fail "chaos: kill $k: the $kind worker is back" \
		    "$(tail -5 "$DLOG")"
		return 1
	fi
	settle
	chaos_check "$STORAGE kill $k ($kind)"
	sweep_transient
	settle
	chaos_check "$STORAGE kill $k ($kind), transient VMs removed"
}

run_storage() {
	local pk=$1 wk=$2 k=0 kinds="" i
	daemon_setup "storage $STORAGE
registry \"127.0.0.1:5000\" { insecure }"
	if [ "$STORAGE" = reflink ]; then
		XFSIMG=$T.xfs.img
		XFS=$T.xfs
		mkdir -p "$XFS"
		truncate -s 4G "$XFSIMG"
		if ! mkfs.xfs -q -m reflink=1 "$XFSIMG" ||
		    ! mount -o loop "$XFSIMG" "$XFS"; then
			fail "chaos: reflink: an xfs file system" "mkfs or mount"
			storage_done
			return
		fi
		STATE=$XFS/state
		sed -i "s,^state-dir .*,state-dir \"$STATE\"," "$CONF"
	fi
	vm_env
	# The layout the imports take: small files and 4 MiB of data.
	printf '%s' '{"layers": [[{"name": "etc/hostname", "data": "oci\n"},
	    {"name": "bin/tool", "data": "#!/bin/sh\n", "mode": 493}],
	    [{"name": "data", "size": 4194304}]]}' >"$T/oci.json"
	python3 "$TOP/regress/pull/mkoci.py" "$T/oci" "$T/oci.json"
	# The registry the pulls take it from, in the daemon's namespace.
	rm -f "$T/reg.ready"
	ip netns exec "$NS" python3 "$TOP/regress/pull/fakereg.py" \
	    --port 5000 --repo chaos/app="$T/oci" --ready "$T/reg.ready" \
	    2>/dev/null &
	REGPID=$!
	wait_for 10 test -e "$T/reg.ready"
	if [ -n "$XFS" ]; then
		# A reflink shares blocks within one file system only.
		cp -a "$T/img" "$XFS/img"
		VM_CONF=$(printf '%s\n' "$VM_CONF" | sed "s,$T/img,$XFS/img,")
	fi
	printf '%s\n' "$VM_CONF" >>"$CONF"
	if ! chaos_start; then
		fail "chaos: $STORAGE: daemon starts" "$(tail -5 "$DLOG")"
		storage_done
		return
	fi
	ctl vm create keep1 --publish 18001:80 --start >/dev/null
	ctl vm create keep2 --publish 18002:80 --start >/dev/null
	KEEPNAMES="keep1 keep2"
	KEEP="keep1:$(ctl vm show --json keep1 | jq -r .pid)
	    keep2:$(ctl vm show --json keep2 | jq -r .pid)"
	expect_eq "chaos: $STORAGE: the disks are $STORAGE" \
	    "$(ctl vm show --json keep1 | jq -r .disk_backend)" "$STORAGE"
	chaos_check "$STORAGE start"
	# Parent kills, and every third kill a worker's (vm, net in turn).
	for i in $(seq 1 $((pk + wk))); do
		if [ $((i % 3)) -eq 0 ] && [ "$wk" -gt 0 ] ||
		    [ "$pk" -eq 0 ]; then
			[ $(((i / 3) % 2)) -eq 0 ] && kinds="$kinds vm" ||
			    kinds="$kinds net"
			wk=$((wk - 1))
		else
			kinds="$kinds parent"
			pk=$((pk - 1))
		fi
	done
	for kind in $kinds; do
		k=$((k + 1))
		round "$k" "$kind" || break
	done
	ctl vm rm -f keep1 >/dev/null
	ctl vm rm -f keep2 >/dev/null
	KEEP=
	settle
	chaos_check "$STORAGE end"
	expect_eq "chaos: $STORAGE: nothing of any VM is left" \
	    "$(host_traces)" ""
	storage_done
}

# The daemon of one storage's run, its namespace, files and xfs go.
storage_done() {
	if [ -n "${REGPID:-}" ]; then
		kill "$REGPID" 2>/dev/null
		wait "$REGPID" 2>/dev/null
		REGPID=
	fi
	daemon_cleanup
	DPID=
	if [ -n "$XFS" ]; then
		umount "$XFS"
		rm -rf "$XFS" "$XFSIMG"
		XFS= XFSIMG=
	fi
}

nst=$(echo $STORAGES | wc -w)
IMPORTED=$(mktemp /tmp/banger-chaos-imports.XXXXXX)
for STORAGE in $STORAGES; do
	run_storage $((PK / nst)) $((WK / nst))
done

echo "chaos: $CHECKS checks after $KILLS_PARENT parent, $KILLS_VM vm worker" \
    "and $KILLS_NET net worker kills; $(grep -c '^import' "$IMPORTED") OCI" \
    "imports and $(grep -c '^pull' "$IMPORTED") image pulls finished among them"
rm -f "$IMPORTED"
printf 'chaos: %-10s %s\n' kind leftovers
for k in $KINDS; do
	printf 'chaos: %-10s %d\n' "$k" "${LEFT[$k]}"
done
total=0
for k in $KINDS; do total=$((total + LEFT[$k])); done
expect_eq "chaos: no leftover of any kind after every kill" "$total" 0
expect_eq "chaos: the kills asked for were made" \
    "$((KILLS_PARENT + KILLS_VM + KILLS_NET))" "$((PK / nst * nst + WK / nst * nst))"
t_done
