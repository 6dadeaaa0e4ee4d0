#!/bin/bash
# dnsload.sh: the net worker's DNS responder under TCP load, in a real
# bangerd.  60 TCP clients each pipeline 32 queries for names it must
# forward, to an upstream that takes its time: DNS_PENDING_MAX (1024)
# are in flight at once, each on a TCP connection of its own to the
# upstream, the most the responder holds, and the rest wait their turn
# (a TCP client whose query finds every forwarding slot taken is not
# read until one comes free).  Its descriptor limit (proc_nofile())
# must hold them all: at 256 the worker ran out ("Too many open files")
# and answered SERVFAIL; with 1024 slots for 1920 queries it answered
# the overflow SERVFAIL at once.
#
# DNSLOAD_CONNS and DNSLOAD_QUERIES change the load (at most 64 clients,
# DNS_TCP_INFLIGHT (32) queries each).
#
# Root only.  The daemon runs in a network namespace made here, with a
# resolv.conf of the test's (DAEMON_RESOLV); the upstream, dns-drive's
# stand-in resolver, in a second namespace behind a veth.  Both are
# deleted at the end; the host's interfaces are never touched.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "dnsload" "needs root to start bangerd"
	t_done
fi
if ! command -v drill >/dev/null; then
	skip "dnsload" "drill is not installed"
	t_done
fi
DRIVE=$HELPERS/dns-drive
if [ ! -x "$DRIVE" ]; then
	fail "dnsload: binary" "$DRIVE is not built"
	t_done
fi

BR=10.84.0.1
UPADDR=10.85.0.2
CONNS=${DNSLOAD_CONNS:-60}	# TCP clients (DNS_TCP_MAX is 64)
QUERIES=${DNSLOAD_QUERIES:-32}	# pipelined on each: 1920 in all
N=$((CONNS * QUERIES))
DELAY=800		# ms the upstream holds each answer: less than the
			# responder waits (DNS_FWD_TIMEOUT_MS, 2000)
UPID=

daemon_setup "bridge \"br-fc\" {
	address $BR/24
}"
UPNS=banger-up-$$
trap 'kill -TERM $UPID 2>/dev/null; wait $UPID 2>/dev/null;
    daemon_cleanup; ip netns delete "$UPNS" 2>/dev/null' EXIT

# The upstream, behind up0; the daemon's resolv.conf names it alone.
upstream_ns "$UPNS" 10.85.0.1/24
ip -n "$UPNS" link set lo up
ip -n "$UPNS" addr add $UPADDR/24 dev up1
ip -n "$UPNS" link set up1 up
ip netns exec "$UPNS" "$DRIVE" upstream -l $UPADDR -D $DELAY \
    >"$T/up.log" 2>&1 &
UPID=$!
if ! wait_for 10 grep -q '^ready' "$T/up.log"; then
	fail "dnsload: the stand-in upstream starts" "$(cat "$T/up.log")"
	t_done
fi
echo "nameserver $UPADDR" >"$T/resolv.conf"
chmod 0644 "$T/resolv.conf"
DAEMON_RESOLV=$T/resolv.conf
if ! daemon_start; then
	fail "dnsload: daemon starts" "$(tail -5 "$DLOG")"
	t_done
fi

# Clients from 8 addresses: DNS_TCP_PER_ADDR (8) connections each.
SRC=
for i in 1 2 3 4 5 6 7 8; do
	in_ns ip addr add 10.86.0.$i/32 dev lo
	SRC="$SRC -B 10.86.0.$i"
done

# The responder answers on the bridge and forwards to our upstream.
wait_for 10 sh -c "ip netns exec $NS drill -Q @$BR up.example.com A |
    grep -q '^198\.18\.'"
W='[[:space:]]+'
expect_match "dnsload: a name outside the domain is forwarded upstream" \
    "$(in_ns drill -t @$BR warm.example.com A 2>&1)" \
    "warm\.example\.com\.${W}60${W}IN${W}A${W}198\.18\."

NPID=$(worker_pid net)
limit=$(awk '/^Max open files/ { print $4 }' "/proc/$NPID/limits")
hard=$(awk '/^Max open files/ { print $5 }' "/proc/$NPID/limits")
page=$(tr '\n' ' ' <"$TOP/man/banger-privileges.7" |
    sed -n 's/.* \([0-9][0-9]*\) for net .*/\1/p')
expect_eq "dnsload: the net worker's RLIMIT_NOFILE is the page's" \
    "$limit $hard" "$page $page"

# The load: every query forwarded, all at once; the worker's descriptors
# counted meanwhile.
t0=$(date +%s%N)
# shellcheck disable=SC2086
out=$(in_ns "$DRIVE" pipeline -s $BR -n $CONNS -c $QUERIES $SRC \
    -p "$NPID" -w 15 2>&1)
t1=$(date +%s%N)
echo "# $out (limit $limit, $(( (t1 - t0) / 1000000 )) ms)"
expect_match \
    "dnsload: $CONNS TCP clients x $QUERIES pipelined: all NOERROR" \
    "$out" "^pipeline conns=$CONNS sent=$N answered=$N noerror=$N \
servfail=0 other=0 wrong=0 closed=0 "
peak=$(printf '%s\n' "$out" | sed -n 's/.* fds_peak=\([0-9]*\).*/\1/p')
if [ -n "$peak" ] && [ "$peak" -lt "$limit" ]; then
	pass "dnsload: the net worker's descriptors stayed under its" \
	    "limit ($peak < $limit)"
else
	fail "dnsload: the net worker's descriptors stayed under its limit" \
	    "peak '$peak', limit $limit"
fi
# Else the load proves nothing: 256 was the limit that ran out.
if [ -n "$peak" ] && [ "$peak" -gt 256 ]; then
	pass "dnsload: the load needed more than the old 256" \
	    "descriptors ($peak)"
else
	fail "dnsload: the load needed more than the old 256 descriptors" \
	    "peak '$peak'"
fi
out=$(grep -c 'Too many open files' "$DLOG")
expect_eq "dnsload: no \"Too many open files\" in the daemon's log" "$out" 0
expect_eq "dnsload: the net worker is the one that took the load" \
    "$(worker_pid net)" "$NPID"
if grep -Eq 'Sanitizer|runtime error:' "$DLOG"; then
	fail "dnsload: no sanitizer report" "$(grep -E \
	    'Sanitizer|runtime error:' "$DLOG" | head -2 | tr '\n' ' ')"
else
	pass "dnsload: no sanitizer report"
fi

kill -TERM "$UPID"
wait "$UPID"
UPID=
tcp=$(sed -n 's/^upstream .* tcp=\([0-9]*\)$/\1/p' "$T/up.log" | tail -1)
if [ -n "$tcp" ] && [ "$tcp" -ge "$N" ]; then
	pass "dnsload: each query went upstream over TCP ($tcp)"
else
	fail "dnsload: each query went upstream over TCP" \
	    "the upstream had '$tcp' TCP queries, $N sent"
fi
daemon_cleanup
ip netns delete "$UPNS"
expect_eq "dnsload: no namespace left" \
    "$(ip netns list | grep -cE "^($NS|$UPNS)( |$)")" "0"
t_done
