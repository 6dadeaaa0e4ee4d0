# bangerd's command line and life as a daemon: -n, -D, -f, bad options,
# daemonizing with a pid file, and make install/uninstall.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

# -n checks a file without root.
out=$("$BANGERD" -n -f "$TOP/etc/bangerd.conf" 2>&1); rc=$?
expect_eq "cli: bangerd -n accepts etc/bangerd.conf" "$rc" 0
expect_eq "cli: bangerd -n says the configuration is OK" "$out" \
    "configuration OK"
out=$("$BANGERD" -n -v -f "$TOP/etc/bangerd.conf" 2>/dev/null)
expect_match "cli: bangerd -nv prints the effective configuration" \
    "$out" '^	address 172\.16\.0\.1/24$'
out=$("$BANGERD" -n -v -D bridge_addr=10.9.0.1/16 \
    -f "$TOP/etc/bangerd.conf" 2>/dev/null)
expect_match "cli: -D overrides a macro of the file" "$out" \
    '^	address 10\.9\.0\.1/16$'

daemon_setup
trap daemon_cleanup EXIT
install -m 0644 "$TOP/etc/bangerd.conf" "$T/example.conf"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$UBANGERD" -n -f "$T/example.conf" 2>&1); rc=$?
expect_eq "cli: bangerd -n works without root" "$rc" 0
printf 'domain "bad domain"\n' >>"$CONF"
out=$("$BANGERD" -n -f "$CONF" 2>&1); rc=$?
expect_eq "cli: bangerd -n rejects a bad file (exit 1)" "$rc" 1
expect_match "cli: the rejection names file and line" "$out" "^$CONF:4: "
sed -i '$d' "$CONF"
# Boot args Firecracker would refuse at vm start are refused here.
printf 'image "u" { kernel "/k", rootfs "/r"\n\tboot-args "%s" }\n' \
    "$(printf 'quiet caf\303\251')" >>"$CONF"
out=$("$BANGERD" -n -f "$CONF" 2>&1); rc=$?
expect_eq "cli: bangerd -n rejects boot args that are not ASCII (exit 1)" \
    "$rc" 1
expect_eq "cli: ... naming file, line and byte" "$out" \
    "$CONF:5: boot-args \"quiet caf\\xc3\\xa9\": byte 0xc3 at offset 9 is not printable ASCII; Firecracker takes only 0x20 to 0x7e"
sed -i '$d' "$CONF"
sed -i '$d' "$CONF"

out=$("$BANGERD" -n -f "$T/missing.conf" 2>&1); rc=$?
expect_eq "cli: a missing file fails" "$rc" 1
expect_match "cli: a missing file is named" "$out" "$T/missing.conf"

out=$("$BANGERD" -x 2>&1); rc=$?
expect_eq "cli: an unknown option fails" "$rc" 1
expect_match "cli: an unknown option prints usage" "$out" \
    "usage: bangerd \[-dnv\] \[-D macro=value\] \[-f file\]"
out=$("$BANGERD" -D nonsense -n -f "$CONF" 2>&1); rc=$?
expect_eq "cli: -D without = fails" "$rc" 1
expect_match "cli: -D without = says what is expected" "$out" \
    "expected macro=value"

# The workers' programs are bangerd's to start: run by hand, each says
# what it is and stops, before touching anything.
for r in vm net update; do
	out=$("$(dirname "$BANGERD")/bangerd-$r" -P "$r" 2>&1 </dev/null 3</dev/null); rc=$?
	expect_eq "cli: bangerd-$r run by hand fails" "$rc" 1
	expect_match "cli: ... saying bangerd starts it" "$out" \
	    "bangerd-$r is the $r worker: bangerd starts it, with its channel on descriptor 3"
done
out=$("$(dirname "$BANGERD")/bangerd-net" -P vm 2>&1); rc=$?
expect_eq "cli: a worker program given another role fails" "$rc" 1
expect_match "cli: ... naming both" "$out" "-P vm: this program is the net worker"

if [ "$(id -u)" -ne 0 ]; then
	skip "cli: daemon mode" "needs root"
	skip "cli: make install" "needs root"
	t_done
fi

# bangerd refuses a worker program it would execute as root that
# another user could have replaced, and one that is missing.
mkdir -p "$T/wbin"
for p in bangerd bangerd-vm bangerd-net bangerd-update bangerd-pull; do
	install -m 0755 "$(dirname "$BANGERD")/$p" "$T/wbin/"
done
chmod 0775 "$T/wbin/bangerd-net"
out=$(in_ns "$T/wbin/bangerd" -d -f "$CONF" 2>&1); rc=$?
expect_eq "cli: bangerd refuses a group-writable worker program" "$rc" 1
expect_match "cli: ... naming it and what is right" "$out" \
    "$T/wbin/bangerd-net: owner uid 0, mode 0775: must be bangerd's owner's \\(uid 0\\) and writable by its owner alone"
rm "$T/wbin/bangerd-net"
out=$(in_ns "$T/wbin/bangerd" -d -f "$CONF" 2>&1); rc=$?
expect_eq "cli: bangerd refuses to start without a worker program" "$rc" 1
expect_match "cli: ... naming it" "$out" \
    "the net worker's program $T/wbin/bangerd-net \\(installed beside bangerd\\): No such file"
expect_eq "cli: ... and leaves no socket" "$(ls "$T/run" 2>/dev/null)" ""

out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$UBANGERD" -f "$CONF" 2>&1); rc=$?
expect_eq "cli: bangerd refuses to run without root" "$rc" 1
expect_match "cli: ... and says so" "$out" "need root privileges"

# Without -d it detaches, writes its pid file and serves the socket.
in_ns "$BANGERD" -f "$CONF"; rc=$?
expect_eq "cli: bangerd daemonizes with status 0" "$rc" 0
if wait_for 10 daemon_workers_running; then
	pass "cli: the daemonized bangerd serves status"
else
	fail "cli: the daemonized bangerd serves status" "no status"
fi
pidf=$(dirname "$SOCK")/bangerd.pid
DPID=$(cat "$pidf" 2>/dev/null)
expect_eq "cli: the pid file holds the parent's pid" \
    "$(ctl status --json | jq .pid)" "$DPID"
expect_eq "cli: the daemon is not a child of the shell" \
    "$(awk '{print $4}' /proc/$DPID/stat)" "1"
kill -TERM "$DPID"
wait_for 10 sh -c "! kill -0 $DPID 2>/dev/null"
if kill -0 "$DPID" 2>/dev/null; then
	fail "cli: the daemon ends on SIGTERM" "pid $DPID alive"
else
	pass "cli: the daemon ends on SIGTERM"
fi
DPID=
if [ -e "$pidf" ]; then
	fail "cli: pid file removed at shutdown" "$pidf exists"
else
	pass "cli: pid file removed at shutdown"
fi

# make install / uninstall with DESTDIR and PREFIX.
D=$T/destdir
make -s -C "$TOP" OBJDIR="${OBJDIR:-obj}" install DESTDIR="$D" PREFIX=/opt/banger \
    >/dev/null 2>&1; rc=$?
expect_eq "cli: make install succeeds" "$rc" 0
for f in /opt/banger/sbin/bangerd /opt/banger/sbin/bangerctl \
    /opt/banger/sbin/bangerd-vm /opt/banger/sbin/bangerd-net \
    /opt/banger/sbin/bangerd-update /opt/banger/sbin/bangerd-pull \
    /opt/banger/share/man/man5/bangerd.conf.5 \
    /etc/banger/bangerd.conf.example; do
	if [ -f "$D$f" ]; then pass "cli: make install puts $f"
	else fail "cli: make install puts $f" "missing"; fi
done
expect_eq "cli: installed bangerd is executable" \
    "$(stat -c %a "$D/opt/banger/sbin/bangerd")" "755"
make -s -C "$TOP" OBJDIR="${OBJDIR:-obj}" uninstall DESTDIR="$D" PREFIX=/opt/banger \
    >/dev/null 2>&1
expect_eq "cli: make uninstall leaves no file" \
    "$(find "$D" -type f | wc -l)" "0"

t_done
