#!/bin/bash
# make bench: banger against the getting-started shell recipe, in the
# same run, on the same bridge, storage and stand-in; one table.
#
# A bangerd runs in a network namespace of its own with reflink storage
# on a loop-mounted xfs, the idle Firecracker stand-in and a 1 GiB
# image.  Figures are medians of BENCH_RUNS lifecycles (create, start,
# stop, rm); a ratio above 1 means banger is faster than the recipe.
#
#	BENCH_RUNS	lifecycles for each median (40)
#	BENCH_CLIENTS	concurrent clients (16)
#	BENCH_PER	lifecycles each concurrent client runs (8)
#	BENCH_VMS	VMs for vm ls, memory, restart and prune (1000)
#	BENCH_ONLY	space-separated parts to run (all): recipe life
#			conc slow ls mem restart prune sock snap clone
#			pull imsg guest (a real guest under qemu:
#			bench/guest_clone.sh)
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

RUNS=${BENCH_RUNS:-40}
CLIENTS=${BENCH_CLIENTS:-16}
PER=${BENCH_PER:-8}
NVMS=${BENCH_VMS:-1000}
ONLY=${BENCH_ONLY:-recipe life conc slow ls mem restart prune sock snap clone pull guest imsg}

want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

# Rows of the table: "what|figure|goal|ratio".
ROWS=()
row() { ROWS+=("$1|$2|$3|$4"); printf '  %s: %s\n' "$1" "$2" >&2; }

# Microseconds are read as ${EPOCHREALTIME/./} in place: a $(...)
# around the clock would fork bash, and each figure would carry that
# fork (about 4 ms here) as if the command had spent it.

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print 0;
    else if (NR % 2) print a[(NR + 1) / 2];
    else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b;
    else print "-" }'; }

cleanup() {
	[ -n "${XFS:-}" ] && mountpoint -q "$XFS" && {
		daemon_cleanup
		umount "$XFS"
	}
	[ -n "${XFS:-}" ] && rm -rf "$XFS" "$XFS.img"
	daemon_cleanup 2>/dev/null
}
trap cleanup EXIT

ulimit -n 65536 2>/dev/null
daemon_setup "storage reflink
bridge \"br-fc\" {
	address 10.79.0.1/20
}
max-vms $((NVMS + 64))
registry \"127.0.0.1:5005\" { insecure }"
XFS=$T.xfs
mkdir -p "$XFS"
truncate -s 8G "$XFS.img"
mkfs.xfs -q -m reflink=1 "$XFS.img" && mount -o loop "$XFS.img" "$XFS" ||
    { echo "bench: cannot mount an xfs with reflink" >&2; exit 1; }
STATE=$XFS/state
sed -i "s,^state-dir .*,state-dir \"$STATE\"," "$CONF"
vm_env
mkdir -p "$XFS/img"
chmod 0755 "$XFS/img"
truncate -s 1G "$XFS/img/rootfs.ext4"
mkfs.ext4 -q -F "$XFS/img/rootfs.ext4"
cp "$T/img/vmlinux" "$XFS/img/vmlinux"
chmod 0644 "$XFS/img/rootfs.ext4" "$XFS/img/vmlinux"
VM_CONF=$(printf '%s\n' "$VM_CONF" | sed "s,$T/img,$XFS/img,")
# A second image whose stand-in answers every API call late: one slow
# VM among fast ones.
printf '%s\n' "$VM_CONF" >>"$CONF"
printf '%s\n' "$VM_CONF" | sed -e '/^firecracker /d' -e 's/image "default"/image "slow"/' \
    -e 's/boot-args "/boot-args "fc_standin.api_delay_ms=300 /' >>"$CONF"
daemon_start || { echo "bench: bangerd does not start" >&2;
    tail -5 "$DLOG" >&2; exit 1; }

# The recipe: what Firecracker's getting-started guide has a user type,
# per VM, as root, in the daemon's namespace (so on its bridge).
recipe() {
	local n=$1 dir=$XFS/recipe
	mkdir -p "$dir"
	in_ns env FC="$T/bin/firecracker" IMG="$XFS/img" D="$dir" N="$n" \
	    bash -c '
for i in $(seq 1 $N); do
	t0=${EPOCHREALTIME/./}
	ip tuntap add dev rtap0 mode tap
	ip link set rtap0 master br-fc up
	cp --reflink=always "$IMG/rootfs.ext4" "$D/rootfs.ext4"
	rm -f "$D/fc.sock"
	"$FC" --api-sock "$D/fc.sock" >/dev/null 2>&1 &
	pid=$!
	while [ ! -S "$D/fc.sock" ]; do sleep 0.001; done
	put() { curl -fsS --unix-socket "$D/fc.sock" -X PUT \
	    -H "Content-Type: application/json" -d "$2" \
	    "http://localhost/$1" >/dev/null; }
	put boot-source "{\"kernel_image_path\": \"$IMG/vmlinux\",
	    \"boot_args\": \"console=ttyS0 reboot=k panic=1\"}"
	put drives/rootfs "{\"drive_id\": \"rootfs\",
	    \"path_on_host\": \"$D/rootfs.ext4\",
	    \"is_root_device\": true, \"is_read_only\": false}"
	put network-interfaces/eth0 "{\"iface_id\": \"eth0\",
	    \"guest_mac\": \"06:00:AC:10:00:02\", \"host_dev_name\": \"rtap0\"}"
	put machine-config "{\"vcpu_count\": 1, \"mem_size_mib\": 128}"
	put actions "{\"action_type\": \"InstanceStart\"}"
	kill $pid
	wait $pid 2>/dev/null
	ip link del rtap0
	rm -f "$D/rootfs.ext4" "$D/fc.sock"
	echo $(( ${EPOCHREALTIME/./} - t0 ))
done'
}

# One lifecycle through bangerctl; prints the four steps and the total.
life() {
	local n=$1 t0 t1 t2 t3 t4
	t0=${EPOCHREALTIME/./}
	ctl vm create "$n" >/dev/null || return 1
	t1=${EPOCHREALTIME/./}
	ctl vm start "$n" >/dev/null || return 1
	t2=${EPOCHREALTIME/./}
	ctl vm stop "$n" >/dev/null || return 1
	t3=${EPOCHREALTIME/./}
	ctl vm rm "$n" >/dev/null || return 1
	t4=${EPOCHREALTIME/./}
	echo "$((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t4 - t3)) $((t4 - t0))"
}

echo "bench: $(nproc) cores, $(uname -r), $RUNS runs per median" >&2

RECIPE=0
LB="$TOP/$OBJDIR/bench/life_bench"
# The recipe and banger's lifecycles through the control socket are
# run in turns of ROUND each, not one after the other: this machine's
# speed changes by the minute, and a ratio of two medians taken minutes
# apart would carry that change.
ROUND=5
if want recipe || want life; then
	recipe 3 >/dev/null		# warm the caches
	want life && "$LB" "$SOCK" warm 3 >/dev/null
	: >"$T/recipe"
	: >"$T/life"
	for r in $(seq 1 $(( (RUNS + ROUND - 1) / ROUND ))); do
		recipe "$ROUND" >>"$T/recipe"
		want life || continue
		"$LB" "$SOCK" "l$r" "$ROUND" >>"$T/life" ||
		    { echo "bench: a lifecycle failed" >&2; exit 1; }
	done
	RECIPE=$(median <"$T/recipe")
	row "recipe: one VM (ip, cp --reflink, 5 curl PUTs, kill)" \
	    "$(ms "$RECIPE") ms" "" "1.00x"
fi

# life_bench's lifecycle lines: the medians of each step and of the
# total, as "create start stop rm total" in microseconds.
medians() {
	local c out=
	for c in 1 2 3 4 5; do
		out="$out $(grep -v '^wall' "$@" | cut -d' ' -f$c | median)"
	done
	echo $out
}
wall() { awk '$1 == "wall" { print $2 }' "$@"; }
steps() { echo "create $(ms $1), start $(ms $2), stop $(ms $3), rm $(ms $4)"; }

if want life; then
	set -- $(medians "$T/life")
	row "banger: one lifecycle, through the control socket" \
	    "$(ms "$5") ms ($(steps "$@"))" "<= 20 ms, >= 5x" \
	    "$(ratio "$RECIPE" "$5")"
	: >"$T/lifectl"
	for i in $(seq 1 "$RUNS"); do life "c$i" >>"$T/lifectl" ||
	    { echo "bench: lifecycle $i failed" >&2; exit 1; }; done
	set -- $(medians "$T/lifectl")
	t0=${EPOCHREALTIME/./}; for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done
	exe=$(( (${EPOCHREALTIME/./} - t0) / 10 ))
	row "banger: one lifecycle, by 4 bangerctl commands" \
	    "$(ms "$5") ms ($(steps "$@"); an exec of /bin/true: $(ms "$exe") ms)" \
	    "" "$(ratio "$RECIPE" "$5")"
fi

if want conc || want slow; then
	"$LB" "$SOCK" c "$PER" "$CLIENTS" >"$T/conc" ||
	    { echo "bench: a concurrent lifecycle failed" >&2; exit 1; }
	n=$((CLIENTS * PER))
	rate=$(awk -v n=$n -v u="$(wall "$T/conc")" \
	    'BEGIN { printf "%.1f", n / (u / 1e6) }')
	rrate=$(awk -v u="$RECIPE" 'BEGIN { if (u > 0) printf "%.1f", 1e6 / u }')
	set -- $(medians "$T/conc")
	row "banger: $CLIENTS clients, $n lifecycles" \
	    "$rate a second (median lifecycle $(ms "$5") ms)" ">= 100/s" \
	    "$(ratio "$rate" "${rrate:-0}")"
fi

# Slow VMs (their stand-in answers each API call 300 ms late) in
# lifecycles of their own while the clients run: the clients' median
# lifecycle, against theirs without.
if want slow; then
	"$LB" "$SOCK" slow 2 2 slow >"$T/slowvm" &
	sp=$!
	sleep 0.2
	"$LB" "$SOCK" s "$PER" "$CLIENTS" >"$T/beside" ||
	    { echo "bench: a lifecycle beside the slow VMs failed" >&2; exit 1; }
	wait $sp
	set -- $(medians "$T/conc"); fast=$5
	set -- $(medians "$T/slowvm"); slowvm=$5
	set -- $(medians "$T/beside")
	row "banger: $CLIENTS clients beside 2 slow VMs (each API answer 300 ms late)" \
	    "median lifecycle $(ms "$5") ms (without: $(ms "$fast") ms; the slow VMs': $(ms "$slowvm") ms)" \
	    "unaffected" "$(ratio "$fast" "$5")"
fi

# BENCH_VMS VMs created and started by 16 clients, for the rest: each
# client one bangerctl, `vm create mC --count N --start` (mC-1 to mC-N),
# as a user makes many VMs.  share C: client C's count.
share() { echo $(( (NVMS - $1 + 15) / 16 )); }
many() {
	local pids= c t0
	t0=${EPOCHREALTIME/./}
	for c in $(seq 0 15); do
		[ "$(share "$c")" -gt 0 ] || continue
		( ctl vm create "m$c" --count "$(share "$c")" --start >/dev/null ||
		    echo "m$c: a creation failed" >&2 ) &
		pids="$pids $!"
	done
	wait $pids
	echo $(( ${EPOCHREALTIME/./} - t0 ))
}

# The sum of the PSS of bangerd's processes, KiB; pss_each: each one's.
# The vm worker's provisioner (provision.c) counts as its own, and so
# does its standby disk child, or any disk child it has.
provisioner() {
	local w p
	w=$(ctl status --json | jq -r '.workers[] | select(.role == "vm" and .pid > 0) | .pid')
	[ -n "$w" ] || return 0
	p=$(pgrep -P "$w" -f '^bangerd: vm provisioner') || return 0
	echo "$p"
	pgrep -P "$p" | sed 's/^/disk:/'
}
pss() {
	local p sum=0 k
	for p in $DPID $(ctl status --json | jq -r '.workers[] | select(.pid > 0) | .pid') $(provisioner | sed 's/^disk://'); do
		k=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup")
		sum=$((sum + k))
	done
	echo "$sum"
}
pss_each() {
	local p sum=0 k out=
	for p in $DPID $(ctl status --json | jq -r '.workers[] | select(.pid > 0) | "\(.role):\(.pid)"') $(provisioner | sed 's/^\([0-9]\)/provisioner:\1/'); do
		case $p in *:*) ;; *) p=parent:$p ;; esac
		k=$(awk '/^Pss:/ { print $2 }' "/proc/${p#*:}/smaps_rollup")
		out="$out${out:+, }${p%%:*} $((k / 1024)).$(( (k % 1024) * 10 / 1024 ))"
	done
	echo "$out"
}

# One bangerctl command's whole life, from its spawn to its exit
# (proc_bench.c), without the fork of this shell: the median of 21.
PB="$TOP/$OBJDIR/bench/proc_bench"
best_of() { "$PB" 21 "$BANGERCTL" -s "$SOCK" "$@"; }

if want ls || want mem || want restart || want prune; then
	pss0=$(pss)
	each0=$(pss_each)
	show1=$(ctl vm create one --start >/dev/null; best_of vm show one)
	stat1=$(best_of status)
	ctl vm rm -f one >/dev/null
	# Again once one VM has lived: what a first start touches once
	# (libcurl's code and the like) is not memory a VM holds.
	sleep 3
	pss0w=$(pss)
	wall=$(many)
	row "banger: $NVMS VMs created and started by 16 bangerctl processes (vm create --count --start)" \
	    "$(ms "$wall") ms" "4000 in <= 60 s" ""
	got=$(ctl vm ls --json | jq '[.[] | select(.state == "running")] | length')
	[ "$got" = "$NVMS" ] || echo "bench: only $got of $NVMS running" >&2
fi

if want ls; then
	row "vm ls, $NVMS VMs" "$(ms "$(best_of vm ls)") ms (a spawn of /bin/true: $(ms "$("$PB" 101 /bin/true)") ms)" \
	    "<= 10 ms" ""
	row "vm ls --json, $NVMS VMs" "$(ms "$(best_of vm ls --json)") ms" \
	    "<= 10 ms" ""
	showN=$(best_of vm show m7-1)
	row "vm show, 1 VM vs $NVMS VMs" "$(ms "$show1") ms vs $(ms "$showN") ms" \
	    "the same" "$(ratio "$show1" "$showN")"
	statN=$(best_of status)
	row "status, 1 VM vs $NVMS VMs" "$(ms "$stat1") ms vs $(ms "$statN") ms" \
	    "the same" "$(ratio "$stat1" "$statN")"
fi

if want mem; then
	# bangerd gives freed heap back every 2 s (proc.c, proc_trim).
	sleep 3
	pssN=$(pss)
	per=$(( (pssN - pss0w) * 1024 / NVMS ))
	# The update worker runs only for an update: not counted here.
	row "PSS of bangerd's running processes (parent, vm, net, provisioner, disk child), 0 and $NVMS VMs" \
	    "$((pss0 / 1024)).$(( (pss0 % 1024) * 10 / 1024 )) MiB, $((pssN / 1024)).$(( (pssN % 1024) * 10 / 1024 )) MiB ($per bytes a VM, counted from $((pss0w / 1024)).$(( (pss0w % 1024) * 10 / 1024 )) MiB at 0 after one VM's life; MiB at 0: $each0; at $NVMS: $(pss_each))" \
	    "<= 16 MiB, <= 4 KiB a VM" ""
fi

if want restart; then
	daemon_stop
	t0=${EPOCHREALTIME/./}
	daemon_start
	wait_for 60 sh -c "[ \$($BANGERCTL -s $SOCK vm ls --json | jq '[.[] | select(.state == \"running\")] | length') = $NVMS ]"
	row "restart adopting $NVMS running VMs" "$(ms $(( ${EPOCHREALTIME/./} - t0 ))) ms" \
	    "4000 in <= 3 s" ""
fi

if want prune; then
	ctl vm ls --json | jq -r '.[].name' | head -n "$NVMS" | while read -r n; do
		echo "$n"; done >/dev/null
	pids=
	for c in $(seq 0 15); do
		( i=1; while [ "$i" -le "$(share "$c")" ]; do
			ctl vm kill "m$c-$i" >/dev/null 2>&1
			i=$((i + 1)); done ) &
		pids="$pids $!"
	done
	# Not a bare wait: bangerd is a child of this shell too.
	wait $pids
	t0=${EPOCHREALTIME/./}
	ctl vm prune >/dev/null
	row "vm prune of $NVMS stopped VMs" "$(ms $(( ${EPOCHREALTIME/./} - t0 ))) ms" \
	    "4000 in <= 10 s" ""
fi

# BENCH_VMS VMs created and started again, through the control socket
# by 16 clients (life_bench -s): the daemon's own figure, without the
# bangerctl of each client in many().  Then
# killed and pruned.  Needs no VM left from the parts before it.
if want sock; then
	left=$(ctl vm ls --json | jq length)
	if [ "$left" != 0 ]; then
		echo "bench: sock: $left VMs are left from the parts before" \
		    "it (run it with prune): skipped" >&2
	else
		per=$(( (NVMS + 15) / 16 ))
		"$LB" -s "$SOCK" s "$per" 16 >"$T/sock" ||
		    echo "bench: sock: a creation failed" >&2
		got=$(ctl vm ls --json | jq '[.[] | select(.state == "running")] | length')
		[ "$got" = $((per * 16)) ] ||
		    echo "bench: sock: only $got of $((per * 16)) running" >&2
		row "banger: $((per * 16)) VMs created and started through the control socket (16 clients)" \
		    "$(ms "$(wall "$T/sock")") ms" "4000 in <= 60 s" ""
		pids=
		for c in $(seq 0 15); do
			( for i in $(seq 0 $((per - 1))); do
				ctl vm kill "s-$c-$i" >/dev/null 2>&1
			done ) &
			pids="$pids $!"
		done
		wait $pids
		ctl vm prune >/dev/null
	fi
fi

# Snapshots of one running VM (512 MiB, its disk reflinked), and
# restores of it, each against a cold restart of the same VM (kill and
# boot: with the idle stand-in a boot is its API calls).
if want snap; then
	n=$(( RUNS / 4 > 5 ? RUNS / 4 : 5 ))
	ctl vm create snap0 --memory 512M --start >/dev/null
	: >"$T/snap" ; : >"$T/paused"; : >"$T/restore"; : >"$T/cold"
	for i in $(seq 1 "$n"); do
		t0=${EPOCHREALTIME/./}
		ctl vm snapshot snap0 "s$i" >/dev/null ||
		    { echo "bench: vm snapshot failed" >&2; exit 1; }
		t1=${EPOCHREALTIME/./}
		echo $((t1 - t0)) >>"$T/snap"
		ctl vm snapshot ls --json snap0 |
		    jq ".[] | select(.name == \"s$i\") | .paused_ms * 1000" >>"$T/paused"
		[ "$i" -gt 1 ] && ctl vm snapshot rm snap0 "s$i" >/dev/null
	done
	for i in $(seq 1 "$n"); do
		t0=${EPOCHREALTIME/./}
		ctl vm restore snap0 s1 >/dev/null ||
		    { echo "bench: vm restore failed" >&2; exit 1; }
		t1=${EPOCHREALTIME/./}
		ctl vm restart -f snap0 >/dev/null ||
		    { echo "bench: vm restart -f failed" >&2; exit 1; }
		t2=${EPOCHREALTIME/./}
		echo $((t1 - t0)) >>"$T/restore"
		echo $((t2 - t1)) >>"$T/cold"
	done
	ctl vm rm -f snap0 >/dev/null
	snap=$(median <"$T/snap")
	row "vm snapshot of a running VM (512 MiB, reflink), median of $n" \
	    "$(ms "$snap") ms (the parent's part, disk copied to files taken: $(ms "$(median <"$T/paused")") ms)" "" ""
	rest=$(median <"$T/restore")
	cold=$(median <"$T/cold")
	row "vm restore of a running VM, against vm restart -f (a boot)" \
	    "$(ms "$rest") ms (restart -f: $(ms "$cold") ms)" "" \
	    "$(ratio "$cold" "$rest")"
fi

# Clones of one snapshot (512 MiB, reflink), created and started
# (restored on their own taps): one after another, then from
# $CLIENTS clients at once; clones a second against the issue's 50.
if want clone; then
	n=$(( RUNS / 2 > 10 ? RUNS / 2 : 10 ))
	ctl vm create orig --memory 512M --start >/dev/null &&
	    ctl vm snapshot orig s1 >/dev/null ||
	    { echo "bench: the clones' snapshot failed" >&2; exit 1; }
	: >"$T/clone"; : >"$T/clonefail"
	for i in $(seq 1 "$n"); do
		t0=${EPOCHREALTIME/./}
		ctl vm create "k$i" --from-snapshot orig/s1 --start >/dev/null ||
		    { echo "bench: a clone failed" >&2; exit 1; }
		echo $(( ${EPOCHREALTIME/./} - t0 )) >>"$T/clone"
	done
	one=$(median <"$T/clone")
	for i in $(seq 1 "$n"); do ctl vm rm -f "k$i" >/dev/null; done
	t0=${EPOCHREALTIME/./}
	pids=()
	for c in $(seq 1 "$CLIENTS"); do
		(
			for i in $(seq 1 "$PER"); do
				ctl vm create "p$c-$i" --from-snapshot orig/s1 \
				    --start >/dev/null || echo fail
			done
		) >>"$T/clonefail" &
		pids+=($!)
	done
	# the clients only: a bare wait would wait for bangerd too
	wait "${pids[@]}"
	t1=${EPOCHREALTIME/./}
	[ -s "$T/clonefail" ] && { echo "bench: a clone failed" >&2; exit 1; }
	total=$((CLIENTS * PER))
	rate=$(awk -v n="$total" -v u="$((t1 - t0))" 'BEGIN { printf "%.1f", n / (u / 1e6) }')
	for c in $(seq 1 "$CLIENTS"); do
		for i in $(seq 1 "$PER"); do
			ctl vm rm -f "p$c-$i" >/dev/null
		done
	done
	# The same through the control socket, as the lifecycles a
	# second are measured: no bash and bangerctl forked per clone.
	"$LB" -c orig/s1 "$SOCK" q "$PER" "$CLIENTS" >"$T/cclone" ||
	    { echo "bench: a clone through the socket failed" >&2; exit 1; }
	srate=$(awk -v n="$total" -v u="$(wall "$T/cclone")" \
	    'BEGIN { printf "%.1f", n / (u / 1e6) }')
	row "vm create --from-snapshot --start (512 MiB, reflink), median of $n" \
	    "$(ms "$one") ms" "" ""
	row "clones a second, $total from $CLIENTS clients through the control socket" \
	    "$srate/s" ">= 50/s" ""
	row "clones a second, $total by bangerctl from $CLIENTS bash clients" \
	    "$rate/s" "" ""
	for c in $(seq 0 $((CLIENTS - 1))); do
		for i in $(seq 0 $((PER - 1))); do
			ctl vm rm -f "q-$c-$i" >/dev/null
		done
	done
	ctl vm rm -f orig >/dev/null
fi

if want guest; then
	while IFS='|' read -r a b c d; do
		row "$a" "$b" "$c" "$d"
	done < <(bash "$TOP/bench/guest_clone.sh")
fi

# An OCI layout imported (the pull worker writing one gzip layer of
# 4000 files, 200 MiB, into a 1 GiB ext4 through libext2fs) against
# what a user would run as root to make the same file system: tar -x of
# the layer into a directory, then mke2fs -d (skopeo's copy of the
# layout, a local blob copy here, is left out of both).
if want pull; then
	P=$XFS/pull
	mkdir -p "$P/tree"
	python3 - "$P/tree.tar" <<'EOP'
import io, os, random, sys, tarfile
random.seed(7)
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    total = 0
    for i in range(4000):
        d = "usr/share/d%02d" % (i % 40)
        if i < 40:
            ti = tarfile.TarInfo(d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            t.addfile(ti)
        n = random.randint(1024, 100 << 10)
        data = os.urandom(n // 2) + bytes(n - n // 2)
        ti = tarfile.TarInfo("%s/f%05d" % (d, i))
        ti.size = n
        ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))
EOP
	gzip -1 -c "$P/tree.tar" >"$P/tree.tar.gz"
	printf '{"layers": [{"tarfile": "%s", "compress": "gzip"}]}' \
	    "$P/tree.tar" >"$P/spec.json"
	python3 "$TOP/regress/pull/mkoci.py" "$P/oci" "$P/spec.json"
	bytes=$(stat -c %s "$P/tree.tar")
	pb=() pr=()
	for i in 1 2 3; do
		t0=${EPOCHREALTIME/./}
		ctl image import "p$i" --kernel-from default \
		    --oci-layout "$P/oci" --size 1G >/dev/null ||
		    echo "bench: image import --oci-layout failed" >&2
		pb+=($(( ${EPOCHREALTIME/./} - t0 )))
		ctl image rm "p$i" >/dev/null
		rm -rf "$P/tree" "$P/base.ext4"
		mkdir -p "$P/tree"
		t0=${EPOCHREALTIME/./}
		tar -xzpf "$P/tree.tar.gz" -C "$P/tree" &&
		    mke2fs -q -F -t ext4 -d "$P/tree" "$P/base.ext4" 1G 2>/dev/null
		pr+=($(( ${EPOCHREALTIME/./} - t0 )))
	done
	bm=$(printf '%s\n' "${pb[@]}" | median)
	rm_=$(printf '%s\n' "${pr[@]}" | median)
	row "image import --oci-layout: 4000 files, $((bytes >> 20)) MiB in one gzip layer, median of 3 (BENCH_ONLY=pull)" \
	    "$(ms "$bm") ms, $(awk -v b="$bytes" -v u="$bm" 'BEGIN { printf "%.0f", b / u }') MB/s (tar -xzpf then mke2fs -d as root: $(ms "$rm_") ms)" \
	    "" "$(ratio "$rm_" "$bm")"
	# The same image from Debian's docker-registry in the namespace:
	# image pull against skopeo copy to a layout, then tar -x of its
	# layer and mke2fs -d, as root.
	. "$TOP/regress/lib/registry.sh"
	if reg_start 5005 "$P/registry" >/dev/null &&
	    reg_push "$P/oci" app:v1 5005 >/dev/null; then
		pb=() pr=()
		for i in 1 2 3; do
			t0=${EPOCHREALTIME/./}
			ctl image pull 127.0.0.1:5005/app:v1 --name "q$i" \
			    --kernel-from default --size 1G >/dev/null ||
			    echo "bench: image pull failed" >&2
			pb+=($(( ${EPOCHREALTIME/./} - t0 )))
			ctl image rm "q$i" >/dev/null
			rm -rf "$P/tree" "$P/base.ext4" "$P/sk"
			mkdir -p "$P/tree"
			t0=${EPOCHREALTIME/./}
			reg_fetch app:v1 5005 "$P/sk" &&
			    layer=$(ls -S "$P"/sk/blobs/sha256/* | head -1) &&
			    tar -xzpf "$layer" -C "$P/tree" &&
			    mke2fs -q -F -t ext4 -d "$P/tree" "$P/base.ext4" 1G \
			    2>/dev/null ||
			    echo "bench: skopeo copy, tar, mke2fs failed" >&2
			pr+=($(( ${EPOCHREALTIME/./} - t0 )))
		done
		bm=$(printf '%s\n' "${pb[@]}" | median)
		rm_=$(printf '%s\n' "${pr[@]}" | median)
		row "image pull from docker-registry in the namespace: the same image, median of 3 (BENCH_ONLY=pull)" \
		    "$(ms "$bm") ms, $(awk -v b="$bytes" -v u="$bm" 'BEGIN { printf "%.0f", b / u }') MB/s (skopeo copy to a layout, tar -xzpf, mke2fs -d as root: $(ms "$rm_") ms)" \
		    "" "$(ratio "$rm_" "$bm")"
	else
		echo "bench: docker-registry does not start or take the image" >&2
	fi
	reg_stop
	rm -rf "$P"
fi

if want imsg; then
	"$TOP/$OBJDIR/bench/imsg_bench" | tee "$T/imsg" >&2
	# imsg_bench prints time ratios (imsg time / raw time).
	r=$(awk '$1 == 16000 { printf "%.2fx the speed of write() (time ratio %s)", 1 / $NF, $NF }' "$T/imsg")
	row "imsg, 16000-byte payloads" "$r" ">= 0.8x" ""
fi

echo
echo "| What | Figure | Goal | Against the recipe |"
echo "|---|---|---|---|"
for r in "${ROWS[@]}"; do
	IFS='|' read -r a b c d <<<"$r"
	echo "| $a | $b | $c | $d |"
done
echo
echo "Machine: $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(free -g | awk '/Mem:/ { print $2 }') GiB, Linux $(uname -r); $(date -u +%Y-%m-%d)"
