# A container image of a real Debian guest: the test guest's root file
# system as one tar layer of an OCI layout (tar --numeric-owner --xattrs
# of it, mounted read-only), imported with --oci-layout, and the same
# layout served by a registry in the test's namespace (fakereg.py) and
# fetched with `image pull`, so that the pull worker writes every file
# of it through libext2fs; then a VM of the pulled image boots under the
# qemu-mode Firecracker stand-in and answers `bangerctl vm ssh`.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

GUEST=${FC_STANDIN_GUEST:-/var/cache/banger-guest}

if [ "$(id -u)" -ne 0 ]; then
	skip "oci_guest" "needs root to start bangerd and mount the guest"
	t_done
fi
if [ ! -x /usr/bin/qemu-system-x86_64 ]; then
	skip "oci_guest" "/usr/bin/qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
	t_done
fi
need_guest "oci_guest"

daemon_setup
MNT=
REG=
og_cleanup() {
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null
	if [ -n "$REG" ]; then
		kill "$REG" 2>/dev/null
		wait "$REG" 2>/dev/null
	fi
	daemon_cleanup
}
trap og_cleanup EXIT
guest_env
echo 'registry "127.0.0.1:5000" { insecure }' >>"$CONF"
if ! daemon_start; then
	fail "oci_guest: daemon starts" "$(tail -5 "$DLOG")"
	t_done
fi

# The guest's files as one uncompressed layer (tar's own names: ./...).
MNT=$T/mnt
mkdir -p "$MNT" "$T/oci"
mount -o ro,loop,noload "$GUEST/rootfs.ext4" "$MNT"
tar --numeric-owner --xattrs --xattrs-include='*' -C "$MNT" -cf "$T/root.tar" .
umount "$MNT"
MNT=
printf '{"layers": [{"tarfile": "%s", "compress": "none"}]}' \
    "$T/root.tar" >"$T/spec.json"
python3 "$TOP/regress/pull/mkoci.py" "$T/oci/deb" "$T/spec.json"
rm -f "$T/root.tar"

out=$(ctl image import deb --kernel-from guest --oci-layout "$T/oci/deb" \
    --size 1G 2>&1)
expect_eq "oci_guest: the guest's layout imports" "$out" "image deb imported"
R=$STATE/images/deb/rootfs.ext4
check "oci_guest: e2fsck finds the imported file system clean" e2fsck -fn "$R"
expect_eq "oci_guest: sshd is in the image, mode 0755" \
    "$(debugfs -R 'stat /usr/sbin/sshd' "$R" 2>/dev/null | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p')" \
    "0755"

# The same image from a registry.
ip netns exec "$NS" python3 "$TOP/regress/pull/fakereg.py" --port 5000 \
    --repo debian/guest="$T/oci/deb" --ready "$T/ready" 2>"$T/fakereg.log" &
REG=$!
wait_for 10 test -e "$T/ready"
out=$(ctl image pull 127.0.0.1:5000/debian/guest --kernel-from guest \
    --size 1G 2>&1)
expect_eq "oci_guest: the guest's image pulls from a registry" "$out" \
    "image guest-latest imported"
P=$STATE/images/guest-latest/rootfs.ext4
check "oci_guest: e2fsck finds the pulled file system clean" e2fsck -fn "$P"
expect_eq "oci_guest: the pulled image's /usr/bin is the imported one's" \
    "$(debugfs -R 'ls -l /usr/bin' "$P" 2>/dev/null | awk '{ $1 = ""; print }' | md5sum)" \
    "$(debugfs -R 'ls -l /usr/bin' "$R" 2>/dev/null | awk '{ $1 = ""; print }' | md5sum)"
kill "$REG"
wait "$REG" 2>/dev/null
REG=

if ctl vm create pulled --image guest-latest --ssh-key "$T/key/id.pub" --start \
    >"$T/create.out" 2>&1; then
	pass "oci_guest: a VM of the pulled image starts"
else
	fail "oci_guest: a VM of the pulled image starts" "$(cat "$T/create.out")"
	t_done
fi
wait_for 120 vssh pulled -- true
expect_eq "oci_guest: vm ssh reaches the pulled image, with its own hostname" \
    "$(vssh pulled -- hostname 2>&1)" "pulled"
expect_eq "oci_guest: systemd runs the guest" \
    "$(vssh pulled -- cat /proc/1/comm 2>&1)" "systemd"
ctl vm rm -f pulled >/dev/null 2>&1
t_done
