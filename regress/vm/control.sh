# The control socket's limits (bangerd(8)): one user may hold at most
# so many connections, users together all but root's reserve, and root
# can always get in for status.  A client over a limit is told which and
# exits 1; the clients that were let in carry on and end cleanly.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "control" "needs root to start bangerd"
	t_done
fi
if [ ! -x /usr/bin/python3 ]; then
	skip "control" "needs /usr/bin/python3 to hold connections"
	t_done
fi

BGPIDS=()
cleanup() {
	local p
	for p in "${BGPIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	daemon_cleanup
}
daemon_setup
trap cleanup EXIT
vm_daemon_start control

# The limits as the code has them (regress/docs/drift.sh holds the pages
# to the same numbers).
climit() { sed -n "s/^#define[	 ]*$1[	 ]*\([0-9][0-9]*\).*/\1/p" \
    "$TOP/bangerd/vm/vm.h"; }
MAX=$(climit CONTROL_MAX_CLIENTS)
ROOT=$(climit CONTROL_ROOT_SLOTS)
PER=$(climit CONTROL_MAX_PER_UID)
USERS=$((MAX - ROOT))
if [ -z "$MAX" ] || [ -z "$ROOT" ] || [ -z "$PER" ]; then
	fail "control: limits read from control.c" \
	    "max '$MAX', root '$ROOT', per uid '$PER'"
	t_done
fi

# as UID CMD...: CMD as UID in group banger.
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" \
    --groups="$ctlgid" "$@"; }

# hold UID N OUT: in the background, N connections as UID that send
# nothing; on SIGUSR1, "held K" in OUT, K of them not turned away.
cat >"$T/hold.py" <<'EOP'
import select, signal, socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
socks = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
def report(sig, frame):
    r, _, _ = select.select(socks, [], [], 0)
    print("held %d" % (n - len(r)), flush=True)
signal.signal(signal.SIGUSR1, report)
print("connected", flush=True)
while True:
    time.sleep(60)
EOP
chmod 0644 "$T/hold.py"
# The system's python, which other users can run.
PY=/usr/bin/python3
hold() {
	# setpriv executes python: $! is the holder itself.
	setpriv --reuid="$1" --regid="$1" --groups="$ctlgid" \
	    "$PY" "$T/hold.py" "$SOCK" "$2" >"$3" 2>&1 &
	BGPIDS+=($!)
	HPID=$!
	wait_for 20 grep -q connected "$3"
}
# held PID OUT: what the holder PID holds, once the daemon has dealt
# with every connection before now (root's status comes after them).
held() {
	ctl status >/dev/null 2>&1
	kill -USR1 "$1"
	wait_for 5 grep -q held "$2"
	sed -n 's/^held //p' "$2"
}

expect_match "control: a VM for the user to wait on" \
    "$(user vm create w --disk 64M)" "^vm w created"

# One user, PER + 4 clients waiting for w to run: PER of them wait, the
# others are refused at once with the limit named.
N=$((PER + 4))
waits=()
for i in $(seq "$N"); do
	user vm wait w --timeout 60 >"$T/wait.$i" 2>&1 &
	waits+=($!)
	BGPIDS+=($!)
done
gone() {
	local p n=0
	for p in "${waits[@]}"; do
		kill -0 "$p" 2>/dev/null || n=$((n + 1))
	done
	[ "$n" -ge 4 ]
}
wait_for 20 gone
sleep 0.5
per_msg="bangerctl: too many connections: uid 65534 has $PER open and may"
per_msg="$per_msg have at most $PER; close one and try again"
held_w=0 refused_w=0 other_w=
for i in $(seq "$N"); do
	p=${waits[$((i - 1))]}
	if kill -0 "$p" 2>/dev/null; then
		held_w=$((held_w + 1))
		continue
	fi
	wait "$p"; rc=$?
	if [ "$rc" = 1 ] && grep -qxF -- "$per_msg" "$T/wait.$i"; then
		refused_w=$((refused_w + 1))
	else
		other_w="$other_w [$rc: $(cat "$T/wait.$i")]"
	fi
done
expect_eq "control: one user's first $PER clients are served" "$held_w" "$PER"
expect_eq "control: the user's clients past $PER are refused, limit named" \
    "$refused_w" 4
expect_eq "control: no client ends any other way" "$other_w" ""
expect_match "control: the refusal is logged" "$(cat "$DLOG")" \
    "control: refused uid 65534 \(pid [0-9]+\): too many connections"
out=$(user status 2>&1); rc=$?
expect_eq "control: the user's status is refused too (exit 1)" "$rc" 1
expect_match "control: ... and says why" "$out" \
    "may have at most $PER"
out=$(as 65533 "$UBANGERCTL" -s "$SOCK" status 2>&1); rc=$?
expect_eq "control: another user still gets status" "$rc" 0
out=$(ctl status 2>&1); rc=$?
expect_eq "control: root still gets status" "$rc" 0
expect_match "control: root's status answers" "$out" "^bangerd .*pid $DPID"

# Users together: more uids hold all they may, the last one more than
# the users' share leaves; root's reserve stays free.
u=60001
left=$((USERS - PER))
while [ "$left" -gt 0 ]; do
	hold "$u" "$PER" "$T/hold.$u"
	h=$(held "$HPID" "$T/hold.$u")
	want=$PER
	[ "$left" -lt "$PER" ] && want=$left
	expect_eq "control: uid $u holds $want connections" "$h" "$want"
	left=$((left - PER))
	u=$((u + 1))
done
out=$(as "$u" "$UBANGERCTL" -s "$SOCK" status 2>&1); rc=$?
expect_eq "control: a new user is refused when users hold $USERS (exit 1)" \
    "$rc" 1
expect_eq "control: ... told all the users' slots are in use" "$out" \
    "bangerctl: too many connections: all $USERS that users other than root\
 may have are in use; try again later"
out=$(ctl status 2>&1); rc=$?
expect_eq "control: root gets status while users hold all theirs" "$rc" 0
expect_match "control: ... and it answers" "$out" "^bangerd .*pid $DPID"

# Root may take the rest, but no more than the whole.
hold 0 "$ROOT" "$T/hold.root"
rootpid=$HPID
expect_eq "control: root holds the $ROOT slots kept for it" \
    "$(held "$rootpid" "$T/hold.root" 2>/dev/null)" "$ROOT"
out=$(ctl status 2>&1); rc=$?
expect_eq "control: past $MAX connections even root is refused (exit 1)" \
    "$rc" 1
expect_eq "control: ... told all are in use" "$out" \
    "bangerctl: too many connections: all $MAX the daemon serves at once\
 are in use; try again later"
kill -TERM "$rootpid"
check "control: root's status answers once it lets go of some" \
    wait_for 10 ctl status

# The clients that were let in carry on: w starts, every wait ends 0.
check "control: root starts the user's VM" ctl vm start w
ok=0 bad= n=0
for i in $(seq "$N"); do
	p=${waits[$((i - 1))]}
	grep -q "too many connections" "$T/wait.$i" && continue
	n=$((n + 1))
	if wait_for 20 sh -c "! kill -0 $p 2>/dev/null" && wait "$p" &&
	    grep -qx "vm w is running" "$T/wait.$i"; then
		ok=$((ok + 1))
	else
		bad="$bad [$(cat "$T/wait.$i")]"
	fi
done
expect_eq "control: each waiting client ends with success" "$ok/$n" \
    "$PER/$PER"
expect_eq "control: ... saying the VM runs" "$bad" ""

# Slots come back when clients go.
for p in "${BGPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
check "control: the user gets status once the others let go" \
    wait_for 10 user status
check "control: the VM goes" ctl vm rm -f w

t_done
