# bangerctl vm, end to end through bangerd with the idle Firecracker
# stand-in: every command as the owner, as another user, and with bad
# input; what Firecracker is sent; and that nothing is left behind.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "vm" "needs root to start bangerd"
	t_done
fi

daemon_setup
trap daemon_cleanup EXIT
# "bare": an image without boot-args, which boots with bangerd's.
vm_daemon_start vm "image \"bare\" {
	kernel \"$T/img/vmlinux\"
	rootfs \"$T/img/rootfs.ext4\"
}"

bad() { fails_saying vm "$@"; }	# name want-regex command...

before=$(host_traces)
expect_eq "vm: nothing of any VM on the host at first" "$before" ""

# create, then start
expect_match "vm: create reports the VM and its id" \
    "$(ctl vm create web --cpus 2 --memory 256M --disk 128M)" \
    "^vm web created \(id [0-9a-f]{8}\)$"
id=$(vm_id web)
expect_eq "vm: a new VM is created, not running" \
    "$(ctl vm show --json web | jq -r .state)" "created"
js=$(ctl vm show --json web)
expect_eq "vm: show gives the cpus asked for" "$(echo "$js" | jq .cpus)" 2
expect_eq "vm: show gives the memory asked for" \
    "$(echo "$js" | jq .memory_mib)" 256
expect_eq "vm: the disk has the size asked for" \
    "$(stat -c %s "$STATE/disks/$id.ext4")" $((128 << 20))
expect_eq "vm: its tap exists on the bridge" \
    "$(in_ns ip -j link show "fc-tap-$id" | jq -r '.[0].master')" "br-fc"
expect_eq "vm: its tap belongs to the VM's own uid" \
    "$(in_ns cat /sys/class/net/fc-tap-$id/owner)" "$(echo "$js" | jq .owner | sed 's/.*/300000/')"

ctl vm create dflt >/dev/null
expect_eq "vm: without --disk a VM gets the default disk size" \
    "$(stat -c %s "$STATE/disks/$(vm_id dflt).ext4")" $((4 << 30))
ctl vm rm dflt >/dev/null

# A removed VM's tap is kept as a spare, root's and down, and the next
# creation takes it: the same link, given to the new VM's uid.
sp=$(spare_taps)
expect_match "vm: rm keeps the VM's tap as a spare" "$sp" \
    "^fc-spare-[0-9a-f]{6}$"
expect_eq "vm: ... root's, down, off the bridge's traffic" \
    "$(in_ns cat /sys/class/net/$sp/owner /sys/class/net/$sp/group | tr '\n' ' ')$(in_ns ip -j link show "$sp" | jq -r '.[0].operstate')" \
    "0 0 DOWN"
spidx=$(in_ns cat /sys/class/net/$sp/ifindex)
ctl vm create again >/dev/null
aid=$(vm_id again)
expect_match "vm: the next creation takes the spare" "$(cat "$DLOG")" \
    "tap fc-tap-$aid: made of spare $sp"
expect_eq "vm: ... the same link, the VM's uid's, on the bridge" \
    "$(in_ns cat /sys/class/net/fc-tap-$aid/ifindex /sys/class/net/fc-tap-$aid/owner | tr '\n' ' ')$(in_ns ip -j link show "fc-tap-$aid" | jq -r '.[0].master')" \
    "$spidx 300001 br-fc"
expect_eq "vm: ... and no spare is left" "$(spare_taps)" ""
ctl vm rm again >/dev/null

expect_eq "vm: start" "$(ctl vm start web)" "vm web started"
js=$(ctl vm show --json web)
expect_eq "vm: a started VM is running" "$(echo "$js" | jq -r .state)" \
    "running"
pid=$(echo "$js" | jq .pid)
expect_eq "vm: its firecracker runs as the VM's uid" \
    "$(awk '/^Uid:/ {print $2}' /proc/$pid/status)" "300000"
expect_eq "vm: its firecracker is jailed (its root is the jail)" \
    "$(stat -L -c %d:%i /proc/$pid/root/)" \
    "$(stat -c %d:%i "$STATE/jail/firecracker/$id/root")"
expect_eq "vm: its firecracker was started as Firecracker is" \
    "$(tr '\0' ' ' </proc/$pid/cmdline)" \
    "firecracker --api-sock /run/firecracker.socket --id $id "

# What Firecracker was told, field by field.
req=$STATE/jail/firecracker/$id/root/run/fc-standin.requests
body() { jq -c "select(.method == \"$1\" and .path == \"$2\") | .body" "$req"; }
expect_eq "vm: machine-config has the cpus and memory" \
    "$(body PUT /machine-config)" '{"vcpu_count":2,"mem_size_mib":256,"smt":false}'
addr=$(ctl vm show --json web | jq -r .address)
expect_eq "vm: the first VM has the first address of the subnet" \
    "$addr" "172.16.0.2"
expect_eq "vm: boot-source names the kernel, the boot args and the address" \
    "$(body PUT /boot-source)" \
    "{\"kernel_image_path\":\"/vmlinux\",\"boot_args\":\"console=ttyS0 reboot=k panic=1 ip=$addr::172.16.0.1:255.255.255.0:web:eth0:off\"}"
expect_eq "vm: the root drive is the VM's disk, read-write" \
    "$(body PUT /drives/rootfs)" \
    '{"drive_id":"rootfs","is_root_device":true,"path_on_host":"/rootfs","is_read_only":false}'
mac=$(ctl vm show --json web | jq -r .mac)
expect_eq "vm: the MAC is made from the address" "$mac" "02:fc:ac:10:00:02"
expect_eq "vm: show gives the DNS name" \
    "$(ctl vm show --json web | jq -r .fqdn)" "web.vm.internal"
expect_match "vm: the name resolves through the bridge's DNS" \
    "$(in_ns drill -Q @172.16.0.1 web.vm.internal A)" "^$addr$"
expect_eq "vm: eth0 is the VM's tap with its MAC" \
    "$(body PUT /network-interfaces/eth0)" \
    "{\"iface_id\":\"eth0\",\"host_dev_name\":\"fc-tap-$id\",\"guest_mac\":\"$mac\"}"
expect_eq "vm: the instance was started once" \
    "$(jq -c 'select(.path == "/actions") | [.body.action_type, .status]' "$req" | tr '\n' ' ')" \
    '["InstanceStart",204] '
expect_eq "vm: every request carried JSON and succeeded" \
    "$(jq -r 'select(.status >= 300) | .path' "$req")" ""
expect_eq "vm: the logger is the log FIFO in the jail, at Info" \
    "$(body PUT /logger)" \
    '{"log_path":"/run/firecracker.log","level":"Info","show_level":true,"show_log_origin":false}'
expect_eq "vm: the metrics go to the metrics FIFO in the jail" \
    "$(body PUT /metrics)" '{"metrics_path":"/run/firecracker.metrics"}'
expect_eq "vm: the logger comes first, InstanceStart last of the PUTs" \
    "$(jq -r 'select(.method == "PUT") | .path' "$req" | sed -n '1p;$p' | tr '\n' ' ')" \
    "/logger /actions "
# The configuration between them is sent at once, each request on a
# connection of its own; Firecracker answers each as it comes.
expect_eq "vm: ... the configuration between them, each once" \
    "$(jq -r 'select(.method == "PUT") | .path' "$req" | sed '1d;$d' | sort | tr '\n' ' ')" \
    "/boot-source /drives/identity /drives/rootfs /machine-config /metrics /network-interfaces/eth0 "
expect_eq "vm: after InstanceStart its state and configuration are read back" \
    "$(jq -c 'select(.method == "GET") | [.path, .status]' "$req" | tr '\n' ' ')" \
    '["/",200] ["/vm/config",200] '
run=$STATE/jail/firecracker/$id/root/run
for f in firecracker.log firecracker.metrics; do
	expect_eq "vm: run/$f is a FIFO of the VM's uid, group _banger, 0640" \
	    "$(stat -c '%F %u %G %a' "$run/$f")" "fifo 300000 _banger 640"
done
wait_for 5 grep -q "Running Firecracker" "$STATE/vms/$id/firecracker.log"
expect_match "vm: firecracker's log is kept in the state directory" \
    "$(cat "$STATE/vms/$id/firecracker.log" 2>&1)" \
    "\[$id:fc_api:INFO\] Running Firecracker v1\.12\.1"
expect_match "vm: ... with the requests it was sent" \
    "$(cat "$STATE/vms/$id/firecracker.log" 2>&1)" \
    'received a Put request on "/machine-config"'
# Firecracker's log is read after each answer while the boot's
# requests run: when start returns, the log holds every PUT it was sent
# after the one that set the log up, in order.
ctl vm create logq --disk 128M --start >/dev/null
qid=$(vm_id logq)
expect_eq "vm: when start returns, firecracker's log has each PUT, in order" \
    "$(grep -o 'received a Put request on "[^"]*"' "$STATE/vms/$qid/firecracker.log" |
	sed 's/.*on "\(.*\)"/\1/' | tr '\n' ' ')" \
    "$(jq -r 'select(.method == "PUT" and .path != "/logger") | .path' \
	"$STATE/jail/firecracker/$qid/root/run/fc-standin.requests" | tr '\n' ' ')"
ctl vm rm -f logq >/dev/null
# ... sent at once: after the logger's answer, the metrics go on the
# kept-alive connection and the machine, boot source, drives and
# network each on a connection of its own, so that none waits for
# another's answer.
if command -v strace >/dev/null 2>&1; then
	ctl vm create cfgq --disk 128M >/dev/null
	strace -qq -s 64 -e trace=connect,sendto,recvfrom -p "$(worker_pid vm)" \
	    -o "$T/cfgq.trace" &
	sp=$!
	wait_for 10 sh -c "! grep -q '^TracerPid:[[:space:]]*0$' /proc/$(worker_pid vm)/status"
	ctl vm start cfgq >/dev/null
	kill "$sp"; wait "$sp" 2>/dev/null
	expect_eq "vm: the configuration after the logger is sent at once, on connections of their own" \
	    "$(awk -F'[(,]' '
		/^connect\(.*firecracker\.socket/ { if (c++) apart[$2] = 1 }
		/^sendto\(.*"PUT / && ($2 in apart) {
			sub(/^[^"]*"PUT /, ""); sub(/ .*/, ""); print }' \
		"$T/cfgq.trace" | sort | tr '\n' ' ')" \
	    "/boot-source /drives/identity /drives/rootfs /machine-config /network-interfaces/eth0 "
	ctl vm rm -f cfgq >/dev/null
else
	skip "vm: the configuration after the logger is sent at once" "no strace"
fi
wait_for 5 test -s "$STATE/vms/$id/metrics.json"
expect_eq "vm: the metrics flushed at InstanceStart are kept" \
    "$(jq -c '.fc_standin' "$STATE/vms/$id/metrics.json" 2>&1)" \
    '{"state":"Running"}'
js=$(ctl vm show --json web)
expect_eq "vm: show --json gives firecracker's version and state" \
    "$(echo "$js" | jq -c '[.vmm_version, .vmm_state]')" '["1.12.1","Running"]'
expect_match "vm: show gives firecracker's version and state" \
    "$(ctl vm show web)" "firecracker +1\.12\.1, Running, pid $pid \(uid 300000\)"
wait_for 5 grep -q "fc-standin login" "$STATE/vms/$id/console.log"
expect_match "vm: the console is logged" \
    "$(cat "$STATE/vms/$id/console.log")" "fc-standin login"

# The longest boot args an image may have (1023 bytes), for a VM with the
# longest name: Firecracker gets all of them, and the address after them.
long=$(awk 'BEGIN { s = "console=ttyS0 reboot=k panic=1"
	for (i = 1; length(s) < 1023; i++) s = s sprintf(" w%d=abcdefghij", i)
	print substr(s, 1, 1022) "z" }')
expect_eq "vm: the long boot args are 1023 bytes" "${#long}" 1023
cat >>"$CONF" <<EOC
image "long" {
	kernel "$T/img/vmlinux"
	rootfs "$T/img/rootfs.ext4"
	boot-args "$long"
}
EOC
ctl reload >/dev/null
lname=l$(printf '%062d' 0)
expect_eq "vm: a VM from an image with 1023 bytes of boot args starts" \
    "$(ctl vm create "$lname" --image long --disk 128M --start 2>&1)" \
    "vm $lname started"
lid=$(vm_id "$lname")
laddr=$(ctl vm show --json "$lname" | jq -r .address)
lwant="$long ip=$laddr::172.16.0.1:255.255.255.0:$lname:eth0:off"
expect_eq "vm: firecracker gets the long boot args whole, then the address" \
    "$(jq -r 'select(.path == "/boot-source") | .body.boot_args' \
	"$STATE/jail/firecracker/$lid/root/run/fc-standin.requests")" "$lwant"
wait_for 5 grep -q "Command line:" "$STATE/vms/$lid/console.log"
expect_eq "vm: the guest's command line has them whole" \
    "$(sed -n 's/^.*Command line: //p' "$STATE/vms/$lid/console.log" |
	tr -d '\r')" "$lwant root=/dev/vda rw"
ctl vm rm -f "$lname" >/dev/null

# Provisioning: the guest's files are written into its disk at create.
ssh-keygen -q -t ed25519 -N '' -C tester@host -f "$T/userkey"
expect_match "vm: create with --ssh-key" \
    "$(ctl vm create prov --ssh-key "$T/userkey.pub")" "vm prov created"
pid_=$(vm_id prov)
pdisk=$STATE/disks/$pid_.ext4
dcat() { debugfs -R "cat $1" "$pdisk" 2>/dev/null; }
expect_eq "vm: /etc/hostname is the VM's name" "$(dcat /etc/hostname)" "prov"
expect_match "vm: /etc/hosts names the VM" "$(dcat /etc/hosts)" \
    "prov\.vm\.internal[[:space:]]+prov"
expect_match "vm: resolv.conf points at the bridge" \
    "$(dcat /etc/resolv.conf)" "nameserver 172\.16\.0\.1"
paddr=$(ctl vm show --json prov | jq -r .address)
expect_match "vm: networkd is configured by MAC with the address" \
    "$(dcat /etc/systemd/network/10-banger.network)" "Address=$paddr/24"
expect_eq "vm: authorized_keys holds the key given" \
    "$(dcat /root/.ssh/authorized_keys)" "$(cat "$T/userkey.pub")"
expect_match "vm: authorized_keys is 0600 root" \
    "$(debugfs -R 'stat /root/.ssh/authorized_keys' "$pdisk" 2>/dev/null | head -3 | tr '\n' ' ')" \
    "Mode: +0600.*User: +0 +Group: +0"
hk=$(ctl vm show --json prov | jq -r .host_key)
expect_eq "vm: the pinned host key is the one in the disk" \
    "$(dcat /etc/ssh/ssh_host_ed25519_key.pub | awk '{print $1, $2}')" \
    "$(echo "$hk" | awk '{print $1, $2}')"
if e2fsck -fn "$pdisk" >/dev/null 2>&1; then
	pass "vm: the provisioned disk is clean (e2fsck -fn)"
else
	fail "vm: the provisioned disk is clean (e2fsck -fn)" \
	    "$(e2fsck -fn "$pdisk" 2>&1 | tail -3 | tr '\n' ' ')"
fi
printf 'ssh-rsa not!base64 x\n' >"$T/badkey"
bad "a bad --ssh-key" '--ssh-key: ' ctl vm create badkey --ssh-key "$T/badkey"
bad "a missing --ssh-key file" "--ssh-key $T/nosuch" \
    ctl vm create badkey --ssh-key "$T/nosuch"
ctl vm rm prov >/dev/null

# Another user neither sees nor touches it.
expect_eq "vm: another user's ls does not show it" \
    "$(user vm ls --json | jq length)" 0
out=$(user vm stop web 2>&1); rc=$?
expect_eq "vm: another user's stop fails" "$rc" 1
expect_eq "vm: another user is told there is no such VM" "$out" \
    "bangerctl: no VM named web"
out=$(user vm rm -f web 2>&1); rc=$?
expect_eq "vm: another user's rm -f fails" "$rc" 1
expect_eq "vm: ... and the VM still runs" \
    "$(ctl vm show --json web | jq -r .state)" "running"

out=$(user vm create low --publish 22:22 2>&1); rc=$?
expect_eq "vm: a user may not publish a host port below 1024 (exit 1)" "$rc" 1
expect_eq "vm: ... and is told so" "$out" \
    "bangerctl: host port 22: only root may publish ports below 1024"

# Host addresses NAT cannot forward from are refused at create, so that
# no VM's rule can break the NAT table for the others.
for a in 127.0.0.1 0.1.2.3 224.0.0.5 255.255.255.255; do
	out=$(ctl vm create badaddr --publish "$a:2222:22" 2>&1); rc=$?
	expect_eq "vm: --publish $a:...: refused (exit 1)" "$rc" 1
	expect_match "vm: ... saying why" "$out" \
	    "invalid --publish \"$a:2222:22\": host address $a: .*NAT cannot forward from it"
done
expect_match "vm: ... and no such VM was made" \
    "$(ctl vm show badaddr 2>&1)" "no VM named badaddr"
out=$(ctl vm create faraway --publish 192.0.2.77:2222:22 --start 2>&1); rc=$?
expect_eq "vm: an address the host does not have fails the start (exit 1)" \
    "$rc" 1
expect_match "vm: ... saying so" "$out" \
    "192.0.2.77 is not an address of this host"
ctl vm rm faraway >/dev/null 2>&1

# The user's own VM.
expect_match "vm: a group member creates a VM" \
    "$(user vm create mine --start)" "vm mine started"
expect_eq "vm: the member's ls shows only theirs" \
    "$(user vm ls --json | jq -r '.[].name' | tr '\n' ' ')" "mine "
expect_eq "vm: root's ls shows both" \
    "$(ctl vm ls --json | jq -r '.[].name' | sort | tr '\n' ' ')" "mine web "
expect_eq "vm: the member owns it" \
    "$(ctl vm show --json mine | jq .owner)" 65534

# --count N: NAME-1 to NAME-N on the same terms, a line each; the first
# failure ends it, naming the VM, and what was made before it stays.
out=$(ctl vm create fleet --count 3 --memory 256M --disk 128M --start 2>&1)
expect_eq "vm: --count 3 --start makes fleet-1 to fleet-3" "$out" \
    "$(printf 'vm fleet-%s started\n' 1 2 3)"
expect_eq "vm: ...each running, with the options given" \
    "$(ctl vm ls --json | jq -r '.[] | select(.name | startswith("fleet-")) | "\(.name) \(.state) \(.memory_mib)"' | sort | tr '\n' ' ')" \
    "fleet-1 running 256 fleet-2 running 256 fleet-3 running 256 "
expect_eq "vm: ...each with its own address" \
    "$(ctl vm ls --json | jq -r '.[] | select(.name | startswith("fleet-")) | .address' | sort -u | wc -l)" 3
f2disk=$STATE/disks/$(vm_id fleet-2).ext4
expect_eq "vm: ...and its own name in its disk" \
    "$(debugfs -R 'cat /etc/hostname' "$f2disk" 2>/dev/null)" "fleet-2"
for i in 1 2 3; do ctl vm rm -f "fleet-$i" >/dev/null; done
ctl vm create few-2 >/dev/null
out=$(ctl vm create few --count 3 2>&1); rc=$?
expect_eq "vm: --count stops at the first failure (exit 1)" "$rc" 1
expect_eq "vm: ...saying which, after the VMs made before it" \
    "$(printf '%s\n' "$out" | sed 's/ (id [0-9a-f]*)$//')" \
    "$(printf '%s\n' "vm few-1 created" "bangerctl: a VM named few-2 already exists")"
expect_eq "vm: ...which stay; none is made after it" \
    "$(ctl vm ls --json | jq -r '.[] | select(.name | startswith("few-")) | .name' | sort | tr '\n' ' ')" \
    "few-1 few-2 "
ctl vm rm few-1 >/dev/null; ctl vm rm few-2 >/dev/null
bad "a --count of 0" 'invalid --count "0": 1 to 1000' ctl vm create x --count 0
bad "a --count over 1000" 'invalid --count "1001": 1 to 1000' \
    ctl vm create x --count 1001
bad "a --count whose last name is too long" 'NAME-1000 must be a name too' \
    ctl vm create "$(printf 'a%.0s' $(seq 60))" --count 1000

# Bad input: the message, the status, and nothing made.
bad "bad name" 'invalid VM name "Web_1"' ctl vm create Web_1
bad "name too long" 'invalid VM name' ctl vm create "$(printf 'a%.0s' $(seq 64))"
bad "name starting with -" 'invalid VM name' ctl vm create -- -web
bad "bad memory size" 'invalid memory size "lots": use a number' \
    ctl vm create x --memory lots
bad "bad disk size" 'invalid disk size "1.5G"' ctl vm create x --disk 1.5G
bad "too many cpus" 'invalid cpu count "33": a VM has 1 to 32' \
    ctl vm create x --cpus 33
bad "too little memory" 'memory 64 MiB: a VM has 128 MiB' \
    ctl vm create x --memory 64M
bad "disk smaller than the image" 'disk size 1048576 is smaller than image default' \
    ctl vm create x --disk 1M
bad "missing image" 'image nosuch not found' ctl vm create x --image nosuch
bad "duplicate name" 'a VM named web already exists' ctl vm create web
bad "start of a running VM" 'vm web is already running' ctl vm start web
bad "rm of a running VM" 'vm web is running; stop it first, or rm -f' ctl vm rm web
bad "unknown VM" 'no VM named ghost' ctl vm stop ghost
bad "unknown vm command" 'unknown command "vm frob"' ctl vm frob
expect_eq "vm: failed creates left no VM" \
    "$(ctl vm ls --json | jq -r '.[].name' | sort | tr '\n' ' ')" "mine web "

# stop (graceful), stop of a stopped VM, kill, restart, pause/resume
expect_eq "vm: stop" "$(ctl vm stop web)" "vm web stopped"
expect_match "vm: the stand-in got Ctrl-Alt-Del" "$(cat "$STATE/vms/$id/console.log")" \
    "reboot: Restarting system"
expect_eq "vm: a stopped VM shows stopped" \
    "$(ctl vm show --json web | jq -r .state)" "stopped"
if kill -0 "$pid" 2>/dev/null; then
	fail "vm: stop ends its firecracker" "pid $pid alive"
else
	pass "vm: stop ends its firecracker"
fi
if [ -e "$STATE/jail/firecracker/$id" ]; then
	fail "vm: stop removes its jail" "$STATE/jail/firecracker/$id exists"
else
	pass "vm: stop removes its jail"
fi
expect_match "vm: firecracker's log outlives it, to its last line" \
    "$(tail -1 "$STATE/vms/$id/firecracker.log" 2>&1)" \
    "Firecracker exiting successfully"
expect_match "vm: the metrics it wrote as it stopped are kept" \
    "$(jq -c . "$STATE/vms/$id/metrics.json" 2>&1)" \
    '^\{"utc_timestamp_ms":[0-9]+,"fc_standin":\{"state":"Running"\}\}$'
expect_eq "vm: a stopped VM shows no firecracker state" \
    "$(ctl vm show --json web | jq -c '[.vmm_version, .vmm_state]')" '[null,null]'
bad "stop of a stopped VM" 'vm web is not running \(stopped\)' ctl vm stop web
bad "pause of a stopped VM" '^bangerctl: vm web is stopped, not running$' \
    ctl vm pause web
expect_eq "vm: restart of a stopped VM starts it, saying so" \
    "$(ctl vm restart web)" "vm web was not running (stopped); started"
bad "resume of a running VM" '^bangerctl: vm web is already running$' \
    ctl vm resume web
expect_eq "vm: pause" "$(ctl vm pause web)" "vm web paused"
expect_eq "vm: paused shows paused" "$(ctl vm show --json web | jq -r .state)" \
    "paused"
expect_eq "vm: ... and firecracker's state is Paused" \
    "$(ctl vm show --json web | jq -r .vmm_state)" "Paused"
bad "pause of a paused VM" '^bangerctl: vm web is already paused$' \
    ctl vm pause web
bad "start of a paused VM" \
    '^bangerctl: vm web is paused: resume it \(bangerctl vm resume web\)$' \
    ctl vm start web
bad "rm of a paused VM" '^bangerctl: vm web is paused; stop it first, or rm -f$' \
    ctl vm rm web
expect_eq "vm: resume" "$(ctl vm resume web)" "vm web resumed"

# A stop or restart shuts the guest down with Ctrl-Alt-Del; a paused
# guest cannot take it, so it is resumed first.
cads() { grep -c "reboot: Restarting system" "$STATE/vms/$id/console.log"; }
# The last two requests firecracker's log shows, as "Method /path body".
last_reqs() {
	sed -n 's/.*received a \([A-Za-z]*\) request on "\([^"]*\)" with body \(.*\)\.$/\1 \2 \3/p' \
	    "$STATE/vms/$id/firecracker.log" | tail -2 | tr -d '\\' | tr '\n' ' '
}
n=$(cads)
expect_eq "vm: restart of a running VM shuts it down and starts it, saying so" \
    "$(ctl vm restart web)" "vm web restarted"
expect_eq "vm: ... with Ctrl-Alt-Del" "$(cads)" $((n + 1))
expect_eq "vm: restart -f of a running VM kills it, saying so" \
    "$(ctl vm restart -f web)" "vm web killed and started again"
expect_eq "vm: ... without Ctrl-Alt-Del" "$(cads)" $((n + 1))
ctl vm pause web >/dev/null
out=$(ctl vm stop web 2>&1); rc=$?
expect_eq "vm: stop of a paused VM shuts it down" "$rc $out" "0 vm web stopped"
expect_eq "vm: ... resuming it before Ctrl-Alt-Del" "$(last_reqs)" \
    'Patch /vm "{"state":"Resumed"}" Put /actions "{"action_type":"SendCtrlAltDel"}" '
expect_eq "vm: ... which the guest took" "$(cads)" $((n + 2))
ctl vm start web >/dev/null
ctl vm pause web >/dev/null
expect_eq "vm: restart of a paused VM" "$(ctl vm restart web 2>&1)" \
    "vm web restarted"
expect_eq "vm: ... resuming it before Ctrl-Alt-Del" "$(cads)" $((n + 3))
expect_eq "vm: kill" "$(ctl vm kill web)" "vm web stopped"
expect_eq "vm: wait for a state it is in" \
    "$(ctl vm wait web --state stopped)" "vm web is stopped"
( sleep 1; ctl vm start web >/dev/null ) &
starter=$!
expect_eq "vm: wait until it runs" "$(ctl vm wait web --timeout 10)" \
    "vm web is running"
wait "$starter"
bad "wait that times out" 'still running, not paused' \
    ctl vm wait web --state paused --timeout 1

# Firecracker's answers that stop a start: the message, and nothing left.
# A stand-in in the jail answers as fc-standin.responses there says.
canned() {	# vm-name response-line
	ctl vm create "$1" >/dev/null
	mkdir -p "$STATE/jail/firecracker/$(vm_id "$1")/root"
	printf '%s\n' "$2" \
	    >"$STATE/jail/firecracker/$(vm_id "$1")/root/fc-standin.responses"
}
canned lg 'PUT /logger 400 {"fault_message":"Logger error: Failed to open target file: Permission denied (os error 13)"}'
bad "start when firecracker's logger fails" \
    '^bangerctl: vm lg: firecracker refused: Logger error: Failed to open target file: Permission denied \(os error 13\)$' \
    ctl vm start lg
expect_eq "vm: ... leaves it in error, with firecracker's message" \
    "$(ctl vm show --json lg | jq -r '[.state, .error] | join(": ")')" \
    "error: Logger error: Failed to open target file: Permission denied (os error 13)"
canned ns 'GET / 200 {"id":"x","state":"Not started","vmm_version":"1.12.1","app_name":"Firecracker"}'
bad "start when firecracker does not run the guest" \
    '^bangerctl: vm ns: firecracker.s state is "Not started" after InstanceStart, not "Running"$' \
    ctl vm start ns
canned cfg 'GET /vm/config 200 {"machine-config":{"vcpu_count":4,"mem_size_mib":512}}'
bad "start when firecracker's configuration is not what was sent" \
    '^bangerctl: vm cfg: firecracker.s configuration is not what was sent: vcpu_count is 4, not 1$' \
    ctl vm start cfg
expect_match "vm: ... and the difference is logged" "$(cat "$DLOG")" \
    "vm cfg: firecracker.s configuration is not what was sent: vcpu_count is 4"

# Firecracker makes its API socket before it listens on it: a start that
# finds its connections refused tries again for 5 s, then says so.
standin_args() {	# vm-name stand-in-options
	ctl vm create "$1" >/dev/null
	mkdir -p "$STATE/jail/firecracker/$(vm_id "$1")/root"
	printf '%s\n' "$2" \
	    >"$STATE/jail/firecracker/$(vm_id "$1")/root/fc-standin.args"
}
standin_args late '--standin-listen-delay 1500'
expect_eq "vm: start waits for a firecracker that listens late" \
    "$(ctl vm start late 2>&1)" "vm late started"
expect_eq "vm: ... which then runs" \
    "$(ctl vm show --json late | jq -r .state)" "running"
expect_eq "vm: a VM started late stops" "$(ctl vm rm -f late)" \
    "vm late removed"
standin_args deaf '--standin-listen-delay 60000'
bad "start when firecracker never listens" \
    '^bangerctl: vm deaf: firecracker did not accept connections on its API socket within 5 s \(PUT /logger: Couldn.t connect to server\)$' \
    ctl vm start deaf
for n in lg ns cfg deaf; do
	nid=$(vm_id $n)
	wait_for 5 sh -c "! test -e $STATE/jail/firecracker/$nid"
	expect_eq "vm: $n: its firecracker and jail are gone" \
	    "$(ctl vm show --json $n | jq .pid) $(test -e "$STATE/jail/firecracker/$nid" && echo jail)" "0 "
	expect_eq "vm: $n: removed" "$(ctl vm rm $n)" "vm $n removed"
	expect_eq "vm: $n: nothing of it is left in the state directory" \
	    "$(ls -A "$STATE/vms/$nid" 2>&1)" \
	    "ls: cannot access '$STATE/vms/$nid': No such file or directory"
done

# A stop that has to kill: Firecracker refuses Ctrl-Alt-Del (as it does
# on aarch64), or the guest ignores it (no i8042 driver, no init that
# acts on it).  The user is told, with exit status 2.
arm_refuses() {
	mkdir -p "$STATE/jail/firecracker/$(vm_id arm)/root"
	printf '%s\n' 'PUT /actions:SendCtrlAltDel 400 {"fault_message":"SendCtrlAltDel does not supported on aarch64."}' \
	    >"$STATE/jail/firecracker/$(vm_id arm)/root/fc-standin.responses"
}
ctl vm create arm >/dev/null
arm_refuses
ctl vm start arm >/dev/null
out=$(ctl vm stop arm 2>&1); rc=$?
expect_eq "vm: stop when firecracker refuses Ctrl-Alt-Del exits 2" "$rc" 2
expect_eq "vm: ... saying it killed the VM, and why" "$out" \
    "bangerctl: vm arm: firecracker refused Ctrl-Alt-Del (SendCtrlAltDel does not supported on aarch64.); killed"
expect_eq "vm: ... and the VM is stopped" \
    "$(ctl vm show --json arm | jq -r '"\(.state) \(.pid)"')" "stopped 0"
arm_refuses
ctl vm start arm >/dev/null
out=$(ctl vm restart arm 2>&1); rc=$?
expect_eq "vm: restart when firecracker refuses Ctrl-Alt-Del exits 2" \
    "$rc" 2
expect_eq "vm: ... saying it killed the VM before starting it" "$out" \
    "bangerctl: vm arm: firecracker refused Ctrl-Alt-Del (SendCtrlAltDel does not supported on aarch64.); killed and started again"
expect_eq "vm: ... and the VM runs" "$(ctl vm show --json arm | jq -r .state)" \
    "running"
ctl vm rm -f arm >/dev/null
canned deaf 'PUT /actions:SendCtrlAltDel 204'
ctl vm start deaf >/dev/null
t0=$(date +%s%N)
out=$(ctl vm stop --timeout 1 deaf 2>&1); rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "vm: stop of a guest that ignores Ctrl-Alt-Del exits 2" "$rc" 2
expect_eq "vm: ... saying it did not shut down and was killed" "$out" \
    "bangerctl: vm deaf did not shut down within 1 s; killed"
if [ "$ms" -ge 1000 ] && [ "$ms" -lt 5000 ]; then
	pass "vm: ... after the --timeout (${ms} ms)"
else
	fail "vm: ... after the --timeout" "${ms} ms"
fi
expect_match "vm: ... and its console log says so" \
    "$(tail -1 "$STATE/vms/$(vm_id deaf)/console.log")" \
    "vm deaf stopped \(on request: did not shut down within 1 s; killed\)$"
ctl vm rm deaf >/dev/null
# A paused VM that Firecracker will not resume: the stop is refused.
canned stuck 'PATCH /vm:Resumed 400 {"fault_message":"Internal VMM error: cannot resume the guest"}'
ctl vm start stuck >/dev/null
ctl vm pause stuck >/dev/null
bad "stop of a paused VM that cannot be resumed" \
    '^bangerctl: vm stuck is paused and could not be resumed to shut it down \(Internal VMM error: cannot resume the guest\): resume it first \(bangerctl vm resume stuck\), or stop -f to kill it$' \
    ctl vm stop stuck
expect_eq "vm: ... and it is left paused" \
    "$(ctl vm show --json stuck | jq -r .state)" "paused"
expect_eq "vm: ... stop -f kills it" "$(ctl vm stop -f stuck 2>&1)" \
    "vm stuck stopped"
ctl vm rm stuck >/dev/null

# An image without boot-args: bangerd's, with which an x86 guest's i8042
# driver finds Firecracker's keyboard controller (Ctrl-Alt-Del).
ctl vm create bare --image bare --start >/dev/null
baddr=$(ctl vm show --json bare | jq -r .address)
expect_eq "vm: an image without boot-args boots with bangerd's" \
    "$(jq -r 'select(.path == "/boot-source") | .body.boot_args' \
    "$STATE/jail/firecracker/$(vm_id bare)/root/run/fc-standin.requests")" \
    "console=ttyS0 reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd ip=$baddr::172.16.0.1:255.255.255.0:bare:eth0:off"
ctl vm rm -f bare >/dev/null

# e2fsck -p runs before each boot, as the VM's uid, not root.
expect_match "vm: e2fsck checked the disk before the boot" "$(cat "$DLOG")" \
    "vm $id: e2fsck -p: clean"

# The daemon restarts; running VMs keep running and are adopted again.
pid=$(ctl vm show --json web | jq .pid)
expect_match "vm: removals left spare taps" "$(spare_taps | head -1)" \
    "^fc-spare-"
daemon_stop
expect_eq "vm: bangerd's stop deletes its spare taps" "$(spare_taps)" ""
if kill -0 "$pid" 2>/dev/null; then
	pass "vm: a VM keeps running when bangerd stops"
else
	fail "vm: a VM keeps running when bangerd stops" "pid $pid gone"
fi
daemon_start
expect_eq "vm: after a restart the VM is still running" \
    "$(ctl vm show --json web | jq -r .state)" "running"
expect_eq "vm: ... with the same firecracker" \
    "$(ctl vm show --json web | jq .pid)" "$pid"
expect_match "vm: the re-adoption is logged" "$(cat "$DLOG")" \
    "re-adopted firecracker pid $pid"
expect_eq "vm: the adopted VM stops" "$(ctl vm stop web)" "vm web stopped"

# e2fsck -p checks a disk at every start but the first: until a guest
# has booted it, a disk is as provisioning left it (and only root can
# write it).  Broken behind banger's back, the first start does not see
# it; the next does.
ctl vm create broken >/dev/null
bid=$(vm_id broken)
dd if=/dev/zero of="$STATE/disks/$bid.ext4" bs=1024 seek=1 count=4 \
    conv=notrunc status=none
expect_eq "vm: a new VM's record says no guest has booted its disk" \
    "$(jq -r .fresh "$STATE/vms/$bid/vm.json")" "true"
expect_eq "vm: the first start of a new VM runs no e2fsck" \
    "$(ctl vm start broken 2>&1)" "vm broken started"
expect_eq "vm: ... and it records that a guest has booted the disk" \
    "$(jq -r '.fresh // false' "$STATE/vms/$bid/vm.json")" "false"
ctl vm kill broken >/dev/null
bad "start of a VM whose file system is broken" \
    'vm broken: e2fsck -p failed' ctl vm start broken
expect_eq "vm: ... leaves it in error" \
    "$(ctl vm show --json broken | jq -r .state)" "error"
expect_eq "vm: ... and starts no firecracker" \
    "$(ctl vm show --json broken | jq .pid)" 0
expect_eq "vm: a VM in error can be removed" "$(ctl vm rm broken)" \
    "vm broken removed"

# rm -f of a running VM, rm, prune
expect_eq "vm: rm -f of a running VM" "$(user vm rm -f mine)" "vm mine removed"
ctl vm create spare >/dev/null
expect_eq "vm: prune removes the stopped VMs" "$(ctl vm prune)" "removed 2 VMs"
expect_eq "vm: no VM is left" "$(ctl vm ls --json | jq length)" 0
expect_eq "vm: nothing of any VM is left on the host" "$(host_traces)" ""

t_done
