# Self-update through bangerd: `bangerctl update check|apply|rollback`
# against python3's HTTP server on 127.0.0.1 in the daemon's network
# namespace, with releases published by scripts/publish-release.sh and
# signed by signify-openbsd with keys made here.  The daemon runs from a
# copy of a build with the test key in a temporary "installed"
# directory, with an idle Firecracker stand-in VM running; an update
# installs, the daemon re-executes in place and the VM keeps running;
# a rollback restores the old programs; each refusal says why and
# installs nothing.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "update_daemon" "needs root to start bangerd"
	t_done
fi
for t in signify-openbsd python3 jq tar; do
	if ! command -v "$t" >/dev/null 2>&1; then
		skip "update_daemon" "$t is missing (make deps installs it)"
		t_done
	fi
done

SRV_PID=
daemon_setup
cleanup() {
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null
	daemon_cleanup
}
trap cleanup EXIT
vm_env

# The versions: the Makefile's, and one newer.
OLDV=$(sed -n 's/^VERSION[	 ]*=[	 ]*//p' "$TOP/Makefile")
NEWV=$((${OLDV%%.*} + 1)).0.0

# Keys: the release key, and another.
signify-openbsd -G -n -p "$T/k.pub" -s "$T/k.sec" -c "test release key"
signify-openbsd -G -n -p "$T/k2.pub" -s "$T/k2.sec" -c "another key"

# Builds with the test key: the running version and a newer one.
build() {	# OBJDIR VERSION
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -j2 -C "$TOP" \
	    OBJDIR="$1" VERSION="$2" \
	    RELEASE_PUBKEY="$T/k.pub" "$1/bangerd" "$1/bangerctl" \
	    "$1/bangerd-vm" "$1/bangerd-net" "$1/bangerd-update" \
	    "$1/bangerd-pull" \
	    >"$T/build.log" 2>&1
}
if ! build "$T/objold" "$OLDV" || ! build "$T/objnew" "$NEWV"; then
	fail "update_daemon: builds with the test key" "$(tail -5 "$T/build.log")"
	t_done
fi
pass "update_daemon: bangerd builds with the test key at $OLDV and $NEWV"

# Publish NEWV with the release script, from a copy of the tree's
# scripts and pages whose Makefile says NEWV.
PORT=8080
BASE=http://127.0.0.1:$PORT
W=$T/www
mkdir -p "$T/top/scripts" "$W"
cp -r "$TOP/man" "$T/top/"
cp "$TOP/scripts/publish-release.sh" "$TOP/scripts/embed-pubkey.sh" \
    "$T/top/scripts/"
sed "s/^VERSION[	 ]*=.*/VERSION =	$NEWV/" "$TOP/Makefile" >"$T/top/Makefile"
if ! out=$(OBJDIR=$T/objnew sh "$T/top/scripts/publish-release.sh" -n \
    -k "$T/k.sec" -o "$W" -u "$BASE" "$NEWV" 2>&1); then
	fail "update_daemon: publish-release.sh publishes $NEWV" "$out"
	t_done
fi
pass "update_daemon: publish-release.sh publishes $NEWV"
ART=$(jq -r '.releases[0].artifacts.x86_64.url' "$W/manifest.json")
ART=$W/${ART##*/}
cp "$W/manifest.json" "$W/manifest.json.sig" "$ART" "$T/"

ip netns exec "$NS" python3 -m http.server --bind 127.0.0.1 --directory "$W" "$PORT" \
    >"$T/http.log" 2>&1 &
SRV_PID=$!
if ! wait_for 10 in_ns curl -sf "$BASE/manifest.json"; then
	fail "update_daemon: the HTTP server answers" "$(cat "$T/http.log")"
	t_done
fi

# The installed programs: copies of the old build.
PROGS="bangerd bangerctl bangerd-vm bangerd-net bangerd-update bangerd-pull"
INST=$T/inst
mkdir -p "$INST"
inst() {	# DIR: install its programs
	for p in $PROGS; do
		install -m 0755 "$1/$p" "$INST/" || return 1
	done
}
sums() { (cd "$INST" && cat $PROGS) | sha256sum; }
inst "$T/objold"
OLDSUM=$(sums)

printf '%s\nupdate url "%s/manifest.json" allow-http\n' "$VM_CONF" \
    "$BASE" >>"$CONF"
BANGERD=$INST/bangerd
BANGERCTL=$INST/bangerctl
if ! daemon_start; then
	fail "update_daemon: daemon starts" "$(tail -5 "$DLOG")"
	t_done
fi

ctl vm create web >/dev/null && ctl vm start web >/dev/null
FCPID=$(ctl vm show --json web | jq .pid)
expect_eq "update_daemon: a VM runs before the update" \
    "$(ctl vm show --json web | jq -r .state)" running
ctl vm snapshot web before-update >/dev/null
expect_eq "update_daemon: a snapshot of it is taken before the update" \
    "$(ctl vm snapshot ls --json web | jq -r '.[] | "\(.name) \(.state)"')" \
    "before-update ready"

# refused NAME REGEX ACTION: the update is refused with the message,
# exit 1, and the installed programs are unchanged.
refused() {
	local out rc
	out=$(ctl update "$3" 2>&1); rc=$?
	expect_eq "update_daemon: $1: refused (exit 1)" "$rc" 1
	expect_match "update_daemon: $1: says why" "$out" "$2"
	expect_eq "update_daemon: $1: nothing installed" "$(sums)" "$OLDSUM"
}

# --- non-root
ctlgid=$(getent group banger | cut -d: -f3)
out=$(setpriv --reuid=65534 --regid=65534 --groups="$ctlgid" \
    "$UBANGERCTL" -s "$SOCK" update check 2>&1); rc=$?
expect_eq "update_daemon: a non-root user may not check (exit 1)" "$rc" 1
expect_match "update_daemon: ... and is told why" "$out" \
    "update: permission denied: only root"

# --- the update worker runs only for an update
uw() { ctl status --json | jq -r '.workers[] | select(.role == "update") | "\(.state) \(.pid)"'; }
uw_idle() { [ "$(uw)" = "idle 0" ]; }
# woken NAME: a check starts the update worker, which stays for what
# follows: its pid in $woken, or NAME's failure.
woken() {
	ctl update check >/dev/null 2>&1
	woken=$(worker_pid update)
	[ -n "$woken" ] && return 0
	fail "update_daemon: forged $1" "no update worker ran after a check"
	return 1
}
expect_eq "update_daemon: no update worker runs before an update is asked for" \
    "$(uw)" "idle 0"

# --- check
out=$(ctl update check 2>&1)
expect_match "update_daemon: check names the new release" "$out" \
    "^update available: bangerd $NEWV \(running $OLDV\)"
expect_match "update_daemon: the check started the update worker" \
    "$(uw)" "^running [1-9][0-9]*$"
expect_match "update_daemon: ... and says so in the log" "$(cat "$DLOG")" \
    "update worker started for a request \(pid [0-9]+\)"
worker_sandbox_check update_daemon update
js=$(ctl update check --json)
expect_eq "update_daemon: check --json gives the release" \
    "$(echo "$js" | jq -r '[.available, .running, .version, .length, .sha256] | join(" ")')" \
    "true $OLDV $NEWV $(wc -c <"$ART" | tr -d ' ') $(sha256sum "$ART" | cut -d' ' -f1)"
expect_eq "update_daemon: check installs nothing" "$(sums)" "$OLDSUM"

# --- a compromised update worker, with a check in flight: the worker is
# stopped, so that the parent's request waits on its channel, and an
# answer under the request's own id comes in its place, out of turn or
# malformed.  Each is a protocol violation: the worker is killed (and
# started again by the next request), the check fails, and nothing is
# installed.  (Forged answers for no request in flight: below.)
INJECT=$HELPERS/imsg-inject
forged() {	# NAME WANT CASE ARGS...
	local name=$1 want=$2 old cpid sent rc
	shift 2
	woken "$name" || return
	old=$woken
	kill -STOP "$old"
	ctl update check >"$T/forged.out" 2>&1 &
	cpid=$!
	if ! sent=$("$INJECT" "$old" 3 "$@" 2>&1); then
		kill -CONT "$old"
		wait "$cpid"
		fail "update_daemon: forged $name" "imsg-inject: $sent"
		return
	fi
	wait "$cpid"; rc=$?
	expect_eq "update_daemon: forged $name: the check fails (exit 1)" \
	    "$rc" 1
	expect_match "update_daemon: forged $name: ... as the worker ended" \
	    "$(cat "$T/forged.out")" \
	    "update: the update worker ended; nothing was installed"
	expect_match "update_daemon: forged $name: refused and logged" \
	    "$(cat "$DLOG")" \
	    "update worker \(pid $old\): protocol violation: $want; killing it"
	expect_eq "update_daemon: forged $name: nothing installed" "$(sums)" \
	    "$OLDSUM"
	# Killed, it is not started again until the next request.
	if wait_for 10 uw_idle; then
		pass "update_daemon: forged $name: the update worker is gone, idle"
	else
		fail "update_daemon: forged $name: the update worker is gone, idle" \
		    "$(uw); $(tail -3 "$DLOG")"
	fi
}
forged "a checked manifest without an fd" \
    "checked manifest out of turn or without an fd" \
    upd-checked fetch no-fd 100
forged "a checked manifest of no length" "malformed checked manifest" \
    upd-checked fetch fd 0
forged "progress during a check" "bad progress" upd-progress fetch 0 100
forged "an artifact during a check" \
    "artifact out of turn or without an fd" upd-artifact fetch fd
forged "a failure that is none (UPD_OK)" "malformed failure" \
    upd-failed fetch 0
# ... and answers with no request in flight, from an update worker that
# stays after a check (these are why regress/parent/compromised.sh, whose
# bangerd cannot start one, leaves the update worker's types to here).
declare -A upd_types=()
idle_forged() {	# NAME WANT ARGS...
	local name=$1 want=$2 old sent
	shift 2
	woken "$name" || return
	old=$woken
	if ! sent=$("$INJECT" "$old" 3 "$@" 2>&1); then
		fail "update_daemon: forged $name" "imsg-inject: $sent"
		return
	fi
	want=${want//\{type\}/${sent#* }}
	if wait_for 10 sh -c "! kill -0 $old 2>/dev/null" &&
	    grep -Eq -- "update worker \(pid $old\): protocol violation: $want" \
	    "$DLOG"; then
		pass "update_daemon: forged $name: the worker is killed, the violation logged"
		upd_types[${sent% *}]=1
	else
		fail "update_daemon: forged $name: the worker is killed, the violation logged" \
		    "$(tail -3 "$DLOG")"
	fi
	expect_eq "update_daemon: forged $name: nothing installed" "$(sums)" \
	    "$OLDSUM"
}
idle_forged "a checked manifest for no request" \
    'update message type {type} for no request' upd-checked 1 fd 100
idle_forged "progress for no request" \
    'update message type {type} for no request' upd-progress 1 0 100
idle_forged "an artifact for no request" \
    'update message type {type} for no request' upd-artifact 1 fd
idle_forged "a failure for no request" \
    'update message type {type} for no request' upd-failed 1 21
idle_forged "a ready from the running update worker" \
    'unexpected message type {type}' ready-again update
# It may pass fds (the manifest, the artifact), but only with its own
# messages.
idle_forged "an fd with a message not its own" \
    'unexpected message type {type}' with-fd
# Every type the parent reads from the update worker (priv.c).
types=$(awk '/^priv_dispatch_update\(/ { on = 1 } on && /^}/ { on = 0 } on' \
    "$TOP/bangerd/parent/priv.c" |
    sed -n 's/^[	 ]*case \(IMSG_[A-Z_]*\):.*/\1/p' | sort -u)
missing=$(for t in $types; do [ -n "${upd_types[$t]:-}" ] || echo "$t"; done |
    tr '\n' ' ' | sed 's/ $//')
if [ -n "$types" ] && [ -z "$missing" ]; then
	pass "update_daemon: each of the $(echo "$types" | wc -l) types the update worker may send is forged and refused"
else
	fail "update_daemon: each type the update worker may send is forged and refused" \
	    "none refused: ${missing:-no types read from priv.c}"
fi

out=$(ctl update check 2>&1)
expect_match "update_daemon: check works again after the forged answers" \
    "$out" "^update available: bangerd $NEWV \(running $OLDV\)"
# Left alone, the update worker stops (30 s after its last request).
if wait_for 45 uw_idle; then
	pass "update_daemon: an update worker with nothing to do stops"
else
	fail "update_daemon: an update worker with nothing to do stops" "$(uw)"
fi
expect_match "update_daemon: ... saying so" "$(cat "$DLOG")" \
    "update worker idle; stopping it"
expect_eq "update_daemon: ... quietly (no death is logged)" \
    "$(grep -c 'update worker (pid [0-9]*) killed by signal 15' "$DLOG")" 0

# --- refusals, each served from the same directory and then restored.
restore() { cp "$T/manifest.json" "$T/manifest.json.sig" "$W/"; cp "$T/${ART##*/}" "$ART"; }

printf ' ' >>"$W/manifest.json"
refused "a manifest altered after signing" "signature" apply
restore

signify-openbsd -S -s "$T/k2.sec" -m "$W/manifest.json" -x "$W/manifest.json.sig"
refused "a manifest signed by another key" \
    "signed with key [0-9a-f]+, not with this bangerd's release key" apply
restore

# resign FILTER: rewrite the manifest with jq and sign it with the key.
resign() {
	jq "$1" "$T/manifest.json" >"$W/manifest.json"
	signify-openbsd -S -s "$T/k.sec" -m "$W/manifest.json" \
	    -x "$W/manifest.json.sig"
}
resign ".releases[0].version = \"$OLDV\""
refused "the running version" "no newer release" apply
out=$(ctl update check 2>&1); rc=$?
expect_eq "update_daemon: check with nothing newer succeeds" "$rc" 0
expect_match "update_daemon: ... and says it is up to date" "$out" \
    "^up to date: no newer release"
restore

resign '.releases[0].version = "0.0.1"'
refused "an older version" "no newer release: the newest in the manifest is 0.0.1" apply
restore

resign '.releases[0].released = "2000-01-01T00:00:00Z" |
    .releases[0].expires = "2001-01-01T00:00:00Z"'
refused "an expired manifest" "the manifest has expired" apply
restore

resign '.releases[0].artifacts.x86_64.sha256 = "'"$(printf '0%.0s' $(seq 64))"'"'
refused "an artifact with another SHA-256" "SHA-256" apply
restore

sed -i "s|127.0.0.1:$PORT|127.0.0.1:$((PORT + 1))|" "$W/manifest.json"
signify-openbsd -S -s "$T/k.sec" -m "$W/manifest.json" -x "$W/manifest.json.sig"
refused "an artifact on a port nobody listens on" "refused" apply
restore

# check refuses what apply would refuse: the same checks of the URL
resign ".releases[0].artifacts.x86_64.url = \"http://example.org/banger-$NEWV-x86_64.tar\""
refused "check: an artifact URL apply could not fetch" \
    "update check: the artifact of release $NEWV cannot be fetched: refusing plain http to example\.org" \
    check
refused "apply: the same artifact URL" \
    "update refused: the artifact of release $NEWV cannot be fetched: refusing plain http to example\.org" \
    apply
restore

# --- apply
PID0=$(ctl status --json | jq .pid)
# Standard output a pipe, standard error a file: each line once.
stdout=$(ctl update apply 2>"$T/apply.err"); rc=$?
out=$(printf '%s\n' "$stdout"; cat "$T/apply.err")
expect_eq "update_daemon: apply succeeds" "$rc" 0
expect_eq "update_daemon: apply's output to a pipe has each result once" \
    "$stdout" "installed bangerd $NEWV; restarting
bangerd restarted: version $NEWV, pid $PID0"
expect_eq "update_daemon: ... and no stray \"not running\" while it waits" \
    "$(grep -c 'not running' "$T/apply.err")" 0
expect_match "update_daemon: apply reports the install" "$out" \
    "installed bangerd $NEWV; restarting"
expect_match "update_daemon: apply shows the download's progress" "$out" \
    "downloaded 100%"
expect_match "update_daemon: apply reports the restarted daemon's version" \
    "$out" "bangerd restarted: version $NEWV"
expect_eq "update_daemon: status reports the new version" \
    "$(ctl status --json | jq -r .version)" "$NEWV"
expect_eq "update_daemon: the daemon re-executed in place (same pid)" \
    "$(ctl status --json | jq .pid)" "$PID0"
check "update_daemon: the new bangerd is installed" \
    cmp "$INST/bangerd" "$T/objnew/bangerd"
check "update_daemon: the new bangerctl is installed" \
    cmp "$INST/bangerctl" "$T/objnew/bangerctl"
check "update_daemon: the old bangerd is kept as bangerd.prev" \
    cmp "$INST/bangerd.prev" "$T/objold/bangerd"
check "update_daemon: the old bangerctl is kept as bangerctl.prev" \
    cmp "$INST/bangerctl.prev" "$T/objold/bangerctl"
for p in bangerd-vm bangerd-net bangerd-update bangerd-pull; do
	check "update_daemon: the new $p is installed, the old kept as $p.prev" \
	    sh -c "cmp '$INST/$p' '$T/objnew/$p' && cmp '$INST/$p.prev' '$T/objold/$p'"
done
expect_eq "update_daemon: no temporary directory is left" \
    "$(find "$INST" -name '.bangerd-update.*' | wc -l)" 0
expect_eq "update_daemon: the highest installed version is recorded" \
    "$(cat "$STATE/priv/highest-version")" "$NEWV"
wait_for 10 daemon_workers_running
expect_eq "update_daemon: the VM still runs" \
    "$(ctl vm show --json web | jq -r .state)" running
expect_eq "update_daemon: ... with the same Firecracker" \
    "$(ctl vm show --json web | jq .pid)" "$FCPID"
check "update_daemon: ... which is alive" kill -0 "$FCPID"
expect_match "update_daemon: the daemon logs the re-adoption" \
    "$(cat "$DLOG")" "re-adopted firecracker pid $FCPID"
expect_match "update_daemon: the console is kept across the re-exec" \
    "$(cat "$DLOG")" "vm [0-9a-f]{8}: console kept across the re-exec"
out=$(printf 'after update\r' | ctl vm console web 2>&1)
expect_match "update_daemon: the VM's console answers after the re-exec" \
    "$out" "echo: after update"
expect_eq "update_daemon: its snapshot survives the update" \
    "$(ctl vm snapshot ls --json web | jq -r '.[] | "\(.name) \(.state)"')" \
    "before-update ready"

out=$(ctl update apply 2>&1); rc=$?
expect_eq "update_daemon: applying the same release again is refused" \
    "$rc" 1
expect_match "update_daemon: ... as not newer" "$out" "no newer release"

# --- rollback
stdout=$(ctl update rollback 2>"$T/rollback.err"); rc=$?
out=$(printf '%s\n' "$stdout"; cat "$T/rollback.err")
expect_eq "update_daemon: rollback succeeds" "$rc" 0
expect_eq "update_daemon: rollback's output to a pipe has each result once" \
    "$stdout" "rolled back to the previous bangerd; restarting
bangerd restarted: version $OLDV, pid $PID0"
expect_eq "update_daemon: ... and nothing on standard error" \
    "$(cat "$T/rollback.err")" ""
expect_match "update_daemon: rollback reports the restarted daemon" "$out" \
    "bangerd restarted: version $OLDV"
check "update_daemon: rollback restores the old bangerd" \
    cmp "$INST/bangerd" "$T/objold/bangerd"
check "update_daemon: rollback restores the old bangerctl" \
    cmp "$INST/bangerctl" "$T/objold/bangerctl"
for p in bangerd-vm bangerd-net bangerd-update bangerd-pull; do
	check "update_daemon: rollback restores the old $p" \
	    cmp "$INST/$p" "$T/objold/$p"
done
wait_for 10 daemon_workers_running
expect_eq "update_daemon: the VM still runs after the rollback" \
    "$(ctl vm show --json web | jq .pid)" "$FCPID"
refused "release $NEWV again after the rollback" \
    "version $NEWV has been installed before" apply
out=$(ctl update check 2>&1)
expect_match "update_daemon: check after the rollback says nothing newer" \
    "$out" "^up to date: refusing release $NEWV"

# --- a placeholder-key build (the default make) and a refused server
ctl vm rm -f web >/dev/null
daemon_stop
inst "$(dirname "$UBANGERD")"
install -m 0755 "$UBANGERCTL" "$INST/bangerctl"
OLDSUM=$(sums)
: >"$T/http.log"
if daemon_start; then
	refused "a placeholder-key build" \
	    "built with the placeholder release key" apply
	expect_eq "update_daemon: ... without fetching anything" \
	    "$(grep -c 'GET' "$T/http.log")" 0
	kill "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=
else
	fail "update_daemon: the placeholder build starts" "$(tail -5 "$DLOG")"
fi
daemon_stop

# A worker program of another release than bangerd's: it refuses, saying
# both versions, and no worker runs.
inst "$T/objold"
install -m 0755 "$T/objnew/bangerd-net" "$INST/bangerd-net"
: >"$DLOG"
if daemon_start 2>/dev/null; then
	fail "update_daemon: a worker of another release is refused" \
	    "the daemon started all its workers"
else
	expect_match "update_daemon: a worker of another release refuses to run, naming both versions" \
	    "$(cat "$DLOG")" "bangerd-net is version $NEWV, bangerd $OLDV: install both from one release"
fi
daemon_stop
inst "$T/objold"
rm -f "$STATE/priv/highest-version"
OLDSUM=$(sums)
if daemon_start; then
	refused "a server that refuses connections" "connection refused|refused" \
	    apply
else
	fail "update_daemon: the daemon starts again" "$(tail -5 "$DLOG")"
fi

t_done
