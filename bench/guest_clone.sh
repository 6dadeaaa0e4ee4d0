#!/bin/bash
# Part "guest" of make bench: a real Debian guest under the qemu-mode
# Firecracker stand-in (as regress/daemon/e2e.sh runs it), cold boots
# against clones of a snapshot of it, each timed from the command to the
# `vm ssh NAME --wait 120 -- hostname` that answers with NAME (the clone's
# own name: its guest agent has taken on its identity).  Prints table
# rows "what|figure|goal|ratio" on stdout, progress on stderr.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

GUEST=${FC_STANDIN_GUEST:-/var/cache/banger-guest}
N=${BENCH_GUEST_RUNS:-3}

if [ ! -r "$GUEST/rootfs.ext4" ] || [ ! -x /usr/bin/qemu-system-x86_64 ]; then
	echo "clone-to-SSH against a cold boot|not run: no guest in $GUEST (make guest) or no qemu||"
	exit 0
fi

# On reflink storage (xfs on a loop device), as the other parts run:
# the state and the guest's files there, so that a VM's disk and a
# clone's copy of the snapshot are reflinks, not copies.
daemon_setup 'storage reflink
bridge "br-fc" {
	address 10.79.0.1/24
}'
XFS=$T.xfs
cleanup() {
	daemon_cleanup
	mountpoint -q "$XFS" && umount "$XFS"
	rm -rf "$XFS" "$XFS.img"
}
trap cleanup EXIT
mkdir -p "$XFS"
truncate -s 8G "$XFS.img"
mkfs.xfs -q -m reflink=1 "$XFS.img" && mount -o loop "$XFS.img" "$XFS" ||
    { echo "bench: cannot mount an xfs with reflink" >&2; exit 1; }
sed -i "s,^state-dir .*,state-dir \"$XFS/state\"," "$CONF"
mkdir -p "$XFS/guest"
chmod 0755 "$XFS" "$XFS/guest"
for f in vmlinux initrd.img rootfs.ext4 id_ed25519 id_ed25519.pub; do
	cp "$GUEST/$f" "$XFS/guest/$f" ||
	    { echo "bench: cannot copy $GUEST/$f" >&2; exit 1; }
done
GUEST=$XFS/guest
guest_env
daemon_start || { echo "bench: bangerd does not start" >&2; exit 1; }

# vm ssh NAME --wait 120 -- hostname (at most 120 s): 0 if it says NAME.
# One command: --wait tries port 22 every tenth of a second, and ssh
# runs once it answers.
ssh_up() {
	[ "$(VSSH_TIMEOUT=130 vssh "$1" --wait 120 -- hostname 2>/dev/null)" = "$1" ]
}
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print 0;
    else if (NR % 2) print a[(NR + 1) / 2];
    else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

: >"$T/cold"; : >"$T/clone"
for i in $(seq 1 "$N"); do
	t0=${EPOCHREALTIME/./}
	ctl vm create "b$i" --image guest --cpus 1 --memory 384M \
	    --ssh-key "$T/key/id.pub" --start >/dev/null &&
	    ssh_up "b$i" || { echo "bench: cold boot b$i failed" >&2; exit 1; }
	echo $(( ${EPOCHREALTIME/./} - t0 )) | tee -a "$T/cold" |
	    awk -v n="b$i" '{ printf "  cold boot to SSH, %s: %.1f s\n", n, $1 / 1e6 }' >&2
	[ "$i" -gt 1 ] && ctl vm rm -f "b$i" >/dev/null
done
ctl vm snapshot b1 s1 >/dev/null || { echo "bench: snapshot failed" >&2; exit 1; }
for i in $(seq 1 "$N"); do
	t0=${EPOCHREALTIME/./}
	ctl vm create "k$i" --from-snapshot b1/s1 --start >/dev/null &&
	    ssh_up "k$i" || { echo "bench: clone k$i failed" >&2; exit 1; }
	echo $(( ${EPOCHREALTIME/./} - t0 )) | tee -a "$T/clone" |
	    awk -v n="k$i" '{ printf "  clone to SSH, %s: %.1f s\n", n, $1 / 1e6 }' >&2
	ctl vm rm -f "k$i" >/dev/null
done
ctl vm rm -f b1 >/dev/null
cold=$(median <"$T/cold")
clone=$(median <"$T/clone")
awk -v c="$cold" -v k="$clone" -v n="$N" 'BEGIN {
	printf "clone to SSH against a cold boot to SSH (Debian guest, qemu TCG, 384 MiB, reflink storage), medians of %d|%.2f s (cold boot: %.2f s)|<= 1/4 of the cold boot|%.2fx\n", n, k / 1e6, c / 1e6, c / k }'
