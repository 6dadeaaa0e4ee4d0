# Start and stop a bangerd on a private state directory and socket, for
# root tests.  Source after lib.sh.  Sets: T (temp dir), CONF, SOCK,
# STATE, DLOG (daemon's stderr), DPID.

: "${BANGERD:?BANGERD must name the bangerd binary}"
: "${BANGERCTL:?BANGERCTL must name the bangerctl binary}"

# Sanitizer builds: no leak check in the sandboxed workers (LeakSanitizer
# needs ptrace, which seccomp forbids).
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0"

daemon_setup() {
	T=$(mktemp -d /tmp/banger-regress.XXXXXX)
	chmod 0755 "$T"
	STATE=$T/state
	SOCK=$T/run/bangerd.sock
	CONF=$T/bangerd.conf
	DLOG=$T/bangerd.log
	cat >"$CONF" <<EOC
state-dir "$STATE"
socket "$SOCK"
${1:-}
EOC
}

daemon_start() {
	"$BANGERD" -d -f "$CONF" "$@" >"$DLOG" 2>&1 &
	DPID=$!
	wait_for 10 daemon_workers_running
}

ctl() { "$BANGERCTL" -s "$SOCK" "$@"; }

# All three workers report running.
daemon_workers_running() {
	[ "$(ctl status --json 2>/dev/null |
	    jq '[.workers[] | select(.state == "running" and .pid > 0)] | length')" = 3 ]
}

worker_pid() {
	ctl status --json | jq -r ".workers[] | select(.role == \"$1\") | .pid"
}

daemon_stop() {
	if [ -n "${DPID:-}" ] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID"
		wait "$DPID" 2>/dev/null
	fi
	DPID=
}

daemon_cleanup() {
	daemon_stop
	[ -n "${T:-}" ] && rm -rf "$T"
}
